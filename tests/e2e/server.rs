//! The credentials endpoint, end to end against moto, with real clients:
//! boto3 and the AWS CLI inside `exec --server`; and what another local user
//! can do to it.

use std::os::unix::fs::MetadataExt;
use std::process::Command;
use std::time::{Duration, Instant};

use crate::need;
use crate::support::*;

/// What the child does: asks the endpoint without the token and with a
/// wrong one, signs with boto3 and the AWS CLI, waits until the role
/// session needs renewing, then asks from eight clients at once.
const CHILD: &str = r#"
import json, os, subprocess, sys, threading, time, urllib.request, urllib.error
import boto3
url = os.environ["AWS_CONTAINER_CREDENTIALS_FULL_URI"]
out = {"url": url, "keys_in_env": [k for k in os.environ if k in (
    "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE")]}
def status(token):
    request = urllib.request.Request(url, headers={"Authorization": token} if token else {})
    try:
        with urllib.request.urlopen(request) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())
out["no_token"] = status(None)
out["wrong_token"] = status("x" * 64)
code, body = status(os.environ["AWS_CONTAINER_AUTHORIZATION_TOKEN"])
out["right"] = [code, sorted(body)]
session = boto3.Session()
out["method"] = session.get_credentials().method
out["first"] = session.client("sts").get_caller_identity()["Arn"]
out["cli"] = subprocess.run([sys.argv[1], "sts", "get-caller-identity", "--query", "Arn",
    "--output", "text"], capture_output=True, text=True).stdout.strip()
time.sleep(4)
arns = []
def call():
    arns.append(boto3.Session().client("sts").get_caller_identity()["Arn"])
threads = [threading.Thread(target=call) for _ in range(8)]
[t.start() for t in threads]
[t.join() for t in threads]
out["after"] = arns
json.dump(out, open(sys.argv[2], "w"))
sys.exit(7)
"#;

#[test]
fn exec_server_renews_the_role_for_real_clients() {
    let moto = need!(moto());
    let aws = need!(aws_cli());
    let user = moto.user(1);
    let ops = moto.role("ops");
    let mut sandbox = Sandbox::with_user(moto, &user, "identity");
    // boto3 needs a region; the endpoint does not give one.
    sandbox.set("AWS_DEFAULT_REGION", "us-east-1");
    sandbox.write(
        ".aws/config",
        &format!(
            "[profile identity]\nmfa_serial = {}\n\
             [profile ops]\nrole_arn = {ops}\nsource_profile = identity\nduration_seconds = 900\n",
            user.serials[0]
        ),
    );
    // A [default] key in the credentials file: botocore would take it
    // before the endpoint, were the child given that file.
    let mut credentials = std::fs::read_to_string(sandbox.path(".aws/credentials")).unwrap();
    credentials.push_str(
        "[default]\naws_access_key_id = AKIADEFAULTDEFAULT01\naws_secret_access_key = d\n",
    );
    sandbox.write(".aws/credentials", &credentials);
    sandbox.write("child.py", CHILD);
    let report = sandbox.path("report.json");
    let assumed = || {
        moto.requests()
            .iter()
            .filter(|r| r.action() == "AssumeRole" && r.params.get("RoleArn") == Some(&ops))
            .count()
    };
    let sessions = || {
        moto.requests_signed_by(&user.access_key_id)
            .iter()
            .filter(|r| r.action() == "GetSessionToken")
            .count()
    };
    let python = venv().join("bin/python");
    let run = sandbox.run(&[
        "exec",
        "--server",
        "864209",
        "ops",
        // A role session with less than this left is renewed: 3 s after
        // its start a 900 s session is.
        "--min-remaining",
        "897s",
        "--",
        python.to_str().unwrap(),
        sandbox.path("child.py").to_str().unwrap(),
        aws.to_str().unwrap(),
        report.to_str().unwrap(),
    ]);
    assert_eq!(run.code, Some(7), "the child's exit status: {run:#?}");
    run.keeps_secret(&[&user.secret_access_key]);
    let out: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    assert_eq!(out["keys_in_env"], serde_json::json!([]));
    assert_eq!(out["no_token"][0], 403);
    assert_eq!(out["no_token"][1]["code"], "AccessDenied");
    assert_eq!(out["wrong_token"][0], 403);
    assert_eq!(
        out["right"],
        serde_json::json!([
            200,
            [
                "AccessKeyId",
                "AccountId",
                "Expiration",
                "SecretAccessKey",
                "Token"
            ]
        ])
    );
    assert_eq!(out["method"], "container-role");
    let first = out["first"].as_str().unwrap();
    assert!(first.contains(":assumed-role/"), "{first}");
    assert_eq!(
        out["cli"], first,
        "the AWS CLI signs with the same role session"
    );
    // After the wait: all eight on one new role session, one AssumeRole.
    let after: Vec<&str> = out["after"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap())
        .collect();
    assert_eq!(after.len(), 8);
    assert!(after.iter().all(|a| *a == after[0]), "{after:?}");
    assert_ne!(after[0], first, "renewed");
    assert_eq!(
        assumed(),
        2,
        "one AssumeRole at the start, one for the eight"
    );
    assert_eq!(sessions(), 1, "no new MFA session, no code");
    // Nothing listens once the child is gone.
    let url = out["url"].as_str().unwrap();
    let address = url.trim_start_matches("http://").split('/').next().unwrap();
    assert!(std::net::TcpStream::connect(address).is_err(), "{address}");
}

#[test]
fn serve_prints_the_variables_and_never_a_key() {
    let moto = need!(moto());
    let user = moto.user(1);
    let sandbox = Sandbox::with_device(moto, &user, "work");
    let mut child = sandbox.spawn(&["serve", "864209", "work"]);
    let mut stdout = child.stdout.take().unwrap();
    let mut text = String::new();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while !text.contains("AWS_CONTAINER_AUTHORIZATION_TOKEN=") {
        assert!(std::time::Instant::now() < deadline, "{text}");
        let mut buf = [0u8; 4096];
        let n = std::io::Read::read(&mut stdout, &mut buf).unwrap();
        assert!(n > 0, "serve ended: {text}");
        text.push_str(&String::from_utf8_lossy(&buf[..n]));
    }
    assert!(text.contains("unset AWS_ACCESS_KEY_ID"), "{text}");
    assert!(
        text.contains("export AWS_CONTAINER_CREDENTIALS_FULL_URI='http://127.0.0.1:"),
        "{text}"
    );
    assert!(
        !text.contains("ASIA") && !text.contains(&user.secret_access_key),
        "{text}"
    );
    // The AWS CLI with just those two variables.
    let value = |name: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(&format!("export {name}='")))
            .map(|v| v.trim_end_matches('\'').to_owned())
            .unwrap()
    };
    if let Some(aws) = aws_cli() {
        let output = aws_cli_command(
            &aws,
            &sandbox,
            &[
                (
                    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
                    &value("AWS_CONTAINER_CREDENTIALS_FULL_URI"),
                ),
                (
                    "AWS_CONTAINER_AUTHORIZATION_TOKEN",
                    &value("AWS_CONTAINER_AUTHORIZATION_TOKEN"),
                ),
            ],
        )
        .args([
            "sts",
            "get-caller-identity",
            "--query",
            "Arn",
            "--output",
            "text",
        ])
        .output()
        .unwrap();
        assert!(output.status.success(), "{output:?}");
        let arn = String::from_utf8_lossy(&output.stdout);
        assert!(arn.starts_with("arn:aws:"), "{arn}");
    }
    child.kill().unwrap();
    let _ = child.wait();
}

#[test]
fn sigterm_reaches_the_command_and_its_status_comes_back() {
    let moto = need!(moto());
    let user = moto.user(1);
    let sandbox = Sandbox::with_device(moto, &user, "work");
    let seen = sandbox.path("got-term");
    let script = format!(
        "trap 'echo term > {}; exit 3' TERM; echo ready; while :; do sleep 0.1; done",
        seen.display()
    );
    let mut child = sandbox.spawn(&[
        "exec", "--server", "864209", "work", "--", "sh", "-c", &script,
    ]);
    let mut stdout = child.stdout.take().unwrap();
    let mut buf = [0u8; 6];
    std::io::Read::read_exact(&mut stdout, &mut buf).unwrap();
    assert_eq!(&buf, b"ready\n");
    // SAFETY: signals our own child.
    unsafe {
        libc::kill(child.id() as i32, libc::SIGTERM);
    }
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(3), "the command's own status");
    assert_eq!(std::fs::read_to_string(&seen).unwrap(), "term\n");
}

/// `serve` started in the background with its stdout piped: the endpoint's
/// URL and token, read from the variables it prints.
fn serving(sandbox: &Sandbox, limit_files: Option<u64>) -> (std::process::Child, String, String) {
    let mut command = sandbox.command(&["serve", "864209", "work", "--quiet"]);
    command
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    if let Some(limit) = limit_files {
        use std::os::unix::process::CommandExt;
        // SAFETY: setrlimit is async-signal-safe.
        unsafe {
            command.pre_exec(move || {
                let rlimit = libc::rlimit {
                    rlim_cur: limit,
                    rlim_max: limit,
                };
                libc::setrlimit(libc::RLIMIT_NOFILE, &rlimit);
                Ok(())
            });
        }
    }
    let mut child = command.spawn().unwrap();
    let mut lines = std::io::BufRead::lines(std::io::BufReader::new(child.stdout.take().unwrap()));
    let (mut url, mut token) = (String::new(), String::new());
    while url.is_empty() || token.is_empty() {
        let line = lines.next().expect("serve prints its variables").unwrap();
        let value = |name: &str| {
            line.strip_prefix(&format!("export {name}="))
                .map(|v| v.trim_matches('\'').to_owned())
        };
        if let Some(v) = value("AWS_CONTAINER_CREDENTIALS_FULL_URI") {
            url = v;
        }
        if let Some(v) = value("AWS_CONTAINER_AUTHORIZATION_TOKEN") {
            token = v;
        }
    }
    (child, url, token)
}

/// One GET of the endpoint with `token`, within `limit`: the status line.
fn ask_endpoint(url: &str, token: &str, limit: Duration) -> std::io::Result<String> {
    use std::io::{Read, Write};
    let rest = url.trim_start_matches("http://");
    let (address, path) = rest.split_at(rest.find('/').unwrap());
    let mut stream = std::net::TcpStream::connect(address)?;
    stream.set_read_timeout(Some(limit))?;
    stream.set_write_timeout(Some(limit))?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {address}\r\nAuthorization: {token}\r\n\r\n"
    )?;
    let mut answer = String::new();
    stream.read_to_string(&mut answer)?;
    Ok(answer.lines().next().unwrap_or_default().to_owned())
}

/// Issue 31, item 3: any local user could hold the server with idle or
/// slow connections until it ran out of descriptors (and threads, which
/// aborted it). Here 600 idle connections against a limit of 256
/// descriptors, and one that sends a byte every 200 ms: the owner is still
/// served at once, and the slow one is cut off at the request deadline.
#[test]
fn idle_and_slow_clients_cannot_hold_the_server() {
    let moto = need!(moto());
    let user = moto.user(1);
    let sandbox = Sandbox::with_device(moto, &user, "work");
    let (mut server, url, token) = serving(&sandbox, Some(256));
    let address = url
        .trim_start_matches("http://")
        .split('/')
        .next()
        .unwrap()
        .to_owned();
    assert_eq!(
        ask_endpoint(&url, &token, Duration::from_secs(5)).unwrap(),
        "HTTP/1.1 200 OK"
    );
    let idle: Vec<_> = (0..600)
        .filter_map(|_| std::net::TcpStream::connect(&address).ok())
        .collect();
    assert!(idle.len() >= 300, "{} connections made", idle.len());
    let slow = std::thread::spawn({
        let address = address.clone();
        move || {
            use std::io::{Read, Write};
            let mut stream = std::net::TcpStream::connect(address).unwrap();
            stream
                .set_read_timeout(Some(Duration::from_millis(200)))
                .unwrap();
            let started = Instant::now();
            let mut byte = [0u8; 1];
            // A byte now and then, never the end of the request.
            while started.elapsed() < Duration::from_secs(30) {
                if stream.write_all(b"G").is_err() {
                    break;
                }
                match stream.read(&mut byte) {
                    Ok(0) => break,
                    Err(e)
                        if e.kind() != std::io::ErrorKind::WouldBlock
                            && e.kind() != std::io::ErrorKind::TimedOut =>
                    {
                        break;
                    }
                    _ => {}
                }
            }
            started.elapsed()
        }
    });
    std::thread::sleep(Duration::from_millis(300));
    let started = Instant::now();
    let answer = ask_endpoint(&url, &token, Duration::from_secs(3));
    assert_eq!(
        answer.as_deref().ok(),
        Some("HTTP/1.1 200 OK"),
        "the owner's request among {} idle connections: {answer:?} after {:?}",
        idle.len(),
        started.elapsed()
    );
    let held = slow.join().unwrap();
    assert!(
        held < Duration::from_secs(15),
        "a client that never finishes its request is cut off: held {held:?}"
    );
    assert!(
        server.try_wait().unwrap().is_none(),
        "the server still runs"
    );
    drop(idle);
    server.kill().unwrap();
    server.wait().unwrap();
}

/// Issue 31, item 3: when the endpoint dies (here: SIGKILL, as an abort or
/// the OOM killer would), the command under `exec --server` must not run
/// on against a port another user could then take.
#[test]
fn the_command_does_not_outlive_its_endpoint() {
    let moto = need!(moto());
    let user = moto.user(1);
    let sandbox = Sandbox::with_device(moto, &user, "work");
    let mut server = sandbox.spawn(&["exec", "--server", "864209", "work", "--", "sleep", "60"]);
    let deadline = Instant::now() + Duration::from_secs(30);
    let command = loop {
        if let Some(&pid) = children_of(server.id()).first() {
            break pid;
        }
        assert!(Instant::now() < deadline, "the command never started");
        std::thread::sleep(Duration::from_millis(10));
    };
    server.kill().unwrap();
    server.wait().unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    while !process_gone(command) {
        assert!(
            Instant::now() < deadline,
            "the command {command} still runs after its endpoint died"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Issue 31, item 8: a SIGTERM that comes the moment the command exists
/// (before, the handlers came after the spawn: such a signal ended
/// mfa-session and orphaned the command). Tried a number of times.
#[test]
fn a_sigterm_right_after_the_spawn_reaches_the_command() {
    let moto = need!(moto());
    let user = moto.user(1);
    let sandbox = Sandbox::with_device(moto, &user, "work");
    sandbox.run(&["864209", "work"]).success();
    for _ in 0..10 {
        let mut server = sandbox.spawn(&["exec", "--server", "work", "--", "sleep", "60"]);
        let deadline = Instant::now() + Duration::from_secs(30);
        let command = loop {
            if let Some(&pid) = children_of(server.id()).first() {
                break pid;
            }
            assert!(Instant::now() < deadline, "the command never started");
            std::thread::yield_now();
        };
        // SAFETY: signals our own child.
        unsafe {
            libc::kill(server.id() as i32, libc::SIGTERM);
        }
        let status = server.wait().unwrap();
        assert_eq!(
            status.code(),
            Some(128 + libc::SIGTERM),
            "mfa-session passes the command's end on: {status:?}"
        );
        assert!(process_gone(command), "the command got the signal");
    }
}

/// Issue 31, item 2: the token lets any local user take the role, so
/// `serve > FILE` makes the file private, and a terminal gets it only with
/// --print (before any code is spent).
#[test]
fn the_endpoint_token_is_kept_from_other_users() {
    let moto = need!(moto());
    let user = moto.user(1);
    let sandbox = Sandbox::with_device(moto, &user, "work");
    let env_file = sandbox.path("prod.env");
    std::fs::write(&env_file, "").unwrap();
    std::fs::set_permissions(
        &env_file,
        std::os::unix::fs::PermissionsExt::from_mode(0o644),
    )
    .unwrap();
    let mut server = sandbox
        .command(&["serve", "864209", "work"])
        .stdout(std::fs::File::create(&env_file).unwrap())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while !std::fs::read_to_string(&env_file)
        .unwrap()
        .contains("AWS_CONTAINER_AUTHORIZATION_TOKEN")
    {
        assert!(Instant::now() < deadline, "serve wrote nothing");
        std::thread::sleep(Duration::from_millis(20));
    }
    let mode = std::fs::metadata(&env_file).unwrap().mode() & 0o777;
    assert_eq!(mode, 0o600, "the file with the token is private");
    // Another local user cannot read it.
    let mut cat = Command::new("cat");
    cat.arg(&env_file);
    if as_other_user(&mut cat).is_some() {
        std::fs::set_permissions(
            sandbox.dir.path(),
            std::os::unix::fs::PermissionsExt::from_mode(0o755),
        )
        .unwrap();
        let read = cat.output().unwrap();
        assert!(!read.status.success(), "another user read the token");
    }
    server.kill().unwrap();
    server.wait().unwrap();

    // On a terminal: refused without --print, before any request.
    let before = moto.requests_signed_by(&user.access_key_id).len();
    let terminal = crate::prompt::Terminal::start_on_screen(&sandbox, &["serve", "135791", "work"]);
    let (code, _, stderr, _) = terminal.finish();
    assert_eq!(code, 1, "{stderr}");
    assert!(
        stderr.contains("not serving: stdout is a terminal"),
        "{stderr}"
    );
    assert!(
        !terminal.history().contains("AWS_CONTAINER"),
        "nothing shown"
    );
    assert_eq!(moto.requests_signed_by(&user.access_key_id).len(), before);
}

/// The signals this tool blocks in its own threads (see src/signals.rs)
/// are not blocked in the commands it runs, nor ignored there (beyond what
/// the tests themselves were started with).
#[test]
fn commands_start_with_no_signal_blocked() {
    let moto = need!(moto());
    let user = moto.user(1);
    let sandbox = Sandbox::with_device(moto, &user, "work");
    let status = |args: &[&str]| {
        let mut all = args.to_vec();
        all.extend(["--", "grep", "-E", "^Sig(Blk|Ign)", "/proc/self/status"]);
        let run = sandbox.run(&all);
        assert_eq!(run.code, Some(0), "{run:#?}");
        run.stdout
    };
    // The tests' own, less SIGPIPE (which Rust ignores and resets for
    // children).
    let ignored = std::fs::read_to_string("/proc/self/status")
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("SigIgn:\t"))
        .map(|hex| u64::from_str_radix(hex, 16).unwrap())
        .unwrap()
        & !(1 << (libc::SIGPIPE - 1));
    let expected = format!("SigBlk:\t0000000000000000\nSigIgn:\t{ignored:016x}\n");
    assert_eq!(status(&["exec", "864209", "work"]), expected);
    assert_eq!(status(&["exec", "--server", "work"]), expected);
}
