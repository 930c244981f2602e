//! Issue 12.4: the system's trust store is read only when a TLS connection
//! is made, and at most once per run. Seen with strace: which files the
//! binary opens.

use std::process::Command;

use crate::need;
use crate::support::*;

/// The files a run opens, from strace, with a trust store of our own.
fn opened(sandbox: &Sandbox, certs: &std::path::Path, args: &[&str]) -> Vec<String> {
    let strace = tool("strace").expect("strace");
    let trace = sandbox.path("trace.txt");
    let mut cmd = Command::new(strace);
    cmd.args(["-f", "-e", "trace=openat,open", "-o"])
        .arg(&trace)
        .arg(&*BIN)
        .args(args)
        .env_clear()
        .env("SSL_CERT_FILE", certs.join("bundle.pem"))
        .env("SSL_CERT_DIR", certs);
    for (k, v) in &sandbox.env {
        cmd.env(k, v);
    }
    cmd.stdin(std::process::Stdio::null());
    let _ = cmd.output().expect("run strace");
    std::fs::read_to_string(trace)
        .unwrap()
        .lines()
        .filter(|l| !l.contains("ENOENT"))
        .map(str::to_owned)
        .collect()
}

#[test]
fn the_trust_store_is_read_only_for_tls_and_once() {
    let moto = need!(moto());
    need!(tool("strace"));
    let user = moto.user(1);
    let mut sandbox = Sandbox::with_device(moto, &user, "work");
    // A trust store the test can recognise: a bundle and a directory.
    let certs = sandbox.path("certs");
    std::fs::create_dir_all(&certs).unwrap();
    let system = std::fs::read("/etc/ssl/certs/ca-certificates.crt").unwrap_or_default();
    std::fs::write(certs.join("bundle.pem"), &system).unwrap();
    std::fs::write(certs.join("extra.pem"), &system).unwrap();
    let touched = |lines: &[String]| {
        lines
            .iter()
            .filter(|l| l.contains(certs.to_str().unwrap()))
            .count()
    };

    // A local http:// endpoint: no TLS, so the trust store is not read.
    let lines = opened(&sandbox, &certs, &["123456", "work", "--no-cache"]);
    assert!(
        moto.requests_signed_by(&user.access_key_id).len() == 1,
        "the run reached moto"
    );
    assert_eq!(touched(&lines), 0, "{lines:#?}");

    // https://: the TLS handshake fails (moto speaks plain HTTP) and the SDK
    // tries three times, but the store is read once: the bundle and the one
    // other file of the directory, each opened once.
    let https = moto.url.replace("http://", "https://");
    sandbox.set("AWS_ENDPOINT_URL", &https);
    sandbox.set("MFA_SESSION_TIMEOUT", "5");
    let lines = opened(&sandbox, &certs, &["123456", "work", "--no-cache"]);
    let bundle = lines.iter().filter(|l| l.contains("bundle.pem")).count();
    let extra = lines.iter().filter(|l| l.contains("extra.pem")).count();
    assert_eq!((bundle, extra), (1, 1), "{lines:#?}");
}
