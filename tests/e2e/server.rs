//! The credentials endpoint, end to end against moto, with real clients:
//! boto3 and the AWS CLI inside `exec --server`.

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
