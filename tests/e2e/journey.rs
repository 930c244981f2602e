//! The seeds' whole journey: codes from a command, `doctor`, `enroll`,
//! `policy`.

use crate::need;
use crate::support::*;

#[test]
fn codes_come_from_mfa_process_or_code_command() {
    let moto = need!(moto());
    let user = moto.user(1);
    let sandbox = Sandbox::with_user(moto, &user, "work");
    let script = sandbox.path("otp.sh");
    sandbox.write(
        "otp.sh",
        "#!/bin/sh\necho 'touch your key' >&2\necho \"Code: 135790\"\n",
    );
    sandbox.write(
        ".aws/config",
        &format!(
            "[profile work]\nmfa_serial = {}\nmfa_process = sh {}\n",
            user.serials[0],
            script.display()
        ),
    );
    let run = sandbox.run(&["work", "--no-cache"]);
    run.success().stderr_has("touch your key");
    let sent = moto.requests_signed_by(&user.access_key_id);
    let codes: Vec<&str> = sent
        .iter()
        .filter_map(|r| r.params.get("TokenCode").map(String::as_str))
        .collect();
    assert_eq!(codes, ["135790"]);

    // --code-command wins over mfa_process; a given code over both.
    sandbox
        .run(&["work", "--no-cache", "--code-command", "echo 246801"])
        .success();
    sandbox.run(&["111111", "work", "--no-cache"]).success();
    let codes: Vec<String> = moto
        .requests_signed_by(&user.access_key_id)
        .iter()
        .filter_map(|r| r.params.get("TokenCode").cloned())
        .collect();
    assert_eq!(codes, ["135790", "246801", "111111"]);

    // A command that prints no code, or fails: one line, no code sent (only
    // the warm-up that ran beside the command).
    let spending = || {
        moto.requests_signed_by(&user.access_key_id)
            .iter()
            .filter(|r| r.action() != "GetCallerIdentity")
            .count()
    };
    let before = spending();
    sandbox
        .run(&["work", "--no-cache", "--code-command", "echo 12345"])
        .failure(1)
        .stderr_has("the code command (--code-command) printed no 6-digit code");
    sandbox
        .run(&["work", "--no-cache", "--code-command", "exit 4"])
        .failure(1)
        .stderr_has("failed (exit status 4)");
    sandbox
        .run(&["123456", "work", "--code-command", "echo 123456"])
        .failure(2);
    assert_eq!(spending(), before);
}

#[test]
fn a_role_takes_mfa_process_from_its_source_profile() {
    let moto = need!(moto());
    let user = moto.user(1);
    let role = moto.role("journey");
    let sandbox = Sandbox::with_user(moto, &user, "identity");
    sandbox.write(
        ".aws/config",
        &format!(
            "[profile identity]\nmfa_serial = {}\nmfa_process = echo 975310\n\
             [profile admin]\nrole_arn = {role}\nsource_profile = identity\n",
            user.serials[0]
        ),
    );
    sandbox.run(&["admin"]).success();
    let codes: Vec<String> = moto
        .requests_signed_by(&user.access_key_id)
        .iter()
        .filter_map(|r| r.params.get("TokenCode").cloned())
        .collect();
    assert_eq!(codes, ["975310"]);
}

fn doctor(sandbox: &Sandbox, args: &[&str]) -> (Run, Vec<serde_json::Value>) {
    let mut full = vec!["doctor", "--json"];
    full.extend(args);
    let run = sandbox.run(&full);
    let checks: serde_json::Value =
        serde_json::from_str(&run.stdout).unwrap_or_else(|e| panic!("doctor JSON: {e}: {run:?}"));
    (run, checks.as_array().unwrap().clone())
}

fn marks(checks: &[serde_json::Value]) -> Vec<(String, String)> {
    checks
        .iter()
        .map(|c| {
            (
                c["name"].as_str().unwrap().to_owned(),
                c["mark"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

#[test]
fn doctor_checks_everything_but_sends_no_code() {
    let moto = need!(moto());
    let user = moto.user(1);
    let mut sandbox = Sandbox::with_device(moto, &user, "work");
    let (run, checks) = doctor(&sandbox, &["work"]);
    assert_eq!(run.code, Some(0), "{run:?}");
    let expected: Vec<(String, String)> = [
        ("profile files", "ok"),
        ("long-term key", "ok"),
        ("environment", "ok"),
        ("clock", "ok"),
        ("key", "ok"),
        // No MFA session yet to ask IAM with: no code is spent to learn it.
        ("key age", "skip"),
        ("MFA devices", "ok"),
        ("cached sessions", "ok"),
    ]
    .iter()
    .map(|(a, b)| (a.to_string(), b.to_string()))
    .collect();
    assert_eq!(marks(&checks), expected);
    assert!(
        checks[4]["detail"]
            .as_str()
            .unwrap()
            .ends_with(&format!("user/{}", user.name))
    );
    assert_eq!(checks[6]["detail"], user.serials[0].as_str());
    let sent = moto.requests_signed_by(&user.access_key_id);
    assert!(sent.iter().all(|r| !r.params.contains_key("TokenCode")));
    assert!(sent.iter().all(|r| r.action() != "GetSessionToken"));

    // An expired session left in the environment: named, never shown.
    sandbox.set("AWS_ACCESS_KEY_ID", "ASIASTALEEXAMPLE0001");
    sandbox.set("AWS_SECRET_ACCESS_KEY", "staleSecretNeverShown");
    sandbox.set("AWS_CREDENTIAL_EXPIRATION", "2020-01-01T00:00:00Z");
    let (run, checks) = doctor(&sandbox, &["work"]);
    assert_eq!(run.code, Some(1));
    run.keeps_secret(&["staleSecretNeverShown", "ASIASTALEEXAMPLE0001"]);
    assert!(!run.stdout.contains("staleSecretNeverShown"));
    assert_eq!(checks[2]["mark"], "fail");
    assert!(checks[2]["detail"]
        .as_str()
        .unwrap()
        .starts_with("AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY hold a session that expired at 2020-01-01 00:00 UTC"));
    assert!(
        run.stderr.contains("mfa-session: 1 check failed"),
        "{run:?}"
    );

    // The human form: one line per check.
    let human = sandbox.run(&["doctor", "work"]);
    assert!(
        human.stdout.contains("[FAIL] environment: "),
        "{}",
        human.stdout
    );
    assert!(
        human
            .stdout
            .contains("       hint: clear them: eval \"$(mfa-session --clear)\"\n")
    );
}

#[test]
fn doctor_sends_a_user_without_a_device_to_enroll() {
    let moto = need!(moto());
    let user = moto.user(0);
    let sandbox = Sandbox::with_user(moto, &user, "new");
    let (run, checks) = doctor(&sandbox, &["new"]);
    assert_eq!(run.code, Some(1));
    let devices = checks.iter().find(|c| c["name"] == "MFA devices").unwrap();
    assert_eq!(devices["mark"], "fail");
    assert_eq!(
        devices["hint"],
        "enroll one from the terminal: mfa-session enroll new"
    );
}

#[test]
fn doctor_measures_the_clock_against_aws() {
    // AWS's clock 40 minutes behind ours: the Date header says so.
    let aws_time = jiff::Timestamp::now() - jiff::SignedDuration::from_mins(40);
    let date = aws_time.strftime("%a, %d %b %Y %H:%M:%S GMT").to_string();
    let endpoint = FakeEndpoint::start(move |request, _| {
        match request.action() {
        "GetCallerIdentity" => Reply::Dated(
            200,
            "<GetCallerIdentityResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\"><GetCallerIdentityResult>\
             <Arn>arn:aws:iam::123456789012:user/alice</Arn><UserId>AIDAEXAMPLE</UserId><Account>123456789012</Account>\
             </GetCallerIdentityResult><ResponseMetadata><RequestId>r</RequestId></ResponseMetadata></GetCallerIdentityResponse>"
                .to_owned(),
            date.clone(),
        ),
        _ => Reply::Answer(200, devices_answer(&["arn:aws:iam::123456789012:mfa/alice"])),
    }
    });
    let sandbox = fake_sandbox(&endpoint.url);
    let (run, checks) = doctor(&sandbox, &["work"]);
    assert_eq!(run.code, Some(1));
    run.keeps_secret(&FAKE_SECRETS);
    let clock = checks.iter().find(|c| c["name"] == "clock").unwrap();
    assert_eq!(clock["mark"], "fail");
    let detail = clock["detail"].as_str().unwrap();
    let ahead: i64 = detail.split(' ').next().unwrap().parse().unwrap();
    assert!((2390..=2410).contains(&ahead), "{detail}");
    assert!(detail.ends_with(" s ahead of AWS"));
    assert!(
        clock["hint"]
            .as_str()
            .unwrap()
            .starts_with("this computer's clock is about 40 min ahead of AWS")
    );
    assert!(!endpoint.actions().contains(&"GetSessionToken".to_owned()));
}

mod qr {
    include!(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/common/qr.rs"));
}

#[test]
fn enroll_from_the_terminal_then_a_session_with_one_request() {
    let moto = need!(moto());
    need!(tool("tmux"));
    let user = moto.user(0);
    let sandbox = Sandbox::with_user(moto, &user, "new");
    sandbox.write(".aws/config", "# mine\n[profile new]\nregion = us-east-1\n");
    let terminal = crate::prompt::Terminal::start_sized(&sandbox, &["enroll", "new"], 60);
    let screen = terminal.wait_for_screen("first code from the app: ");
    // The drawn code scans, and holds the secret shown beside it.
    let uri = qr::decode(&screen).unwrap_or_else(|| panic!("no QR code on the screen:\n{screen}"));
    let label = format!("{}@123456789012", user.name);
    assert!(
        uri.starts_with(&format!(
            "otpauth://totp/Amazon%20Web%20Services:{label}?secret="
        )),
        "{uri}"
    );
    assert!(uri.ends_with("&issuer=Amazon%20Web%20Services"), "{uri}");
    let secret = uri
        .split("secret=")
        .nth(1)
        .unwrap()
        .split('&')
        .next()
        .unwrap();
    assert!(
        secret.len() >= 16
            && secret
                .chars()
                .all(|c| c.is_ascii_uppercase() || ('2'..='7').contains(&c))
    );
    let shown: String = screen
        .lines()
        .find_map(|l| l.trim().strip_prefix("secret:"))
        .unwrap()
        .split_whitespace()
        .collect();
    assert_eq!(shown, secret);
    assert!(screen.contains(&format!("account: Amazon Web Services:{label}")));

    terminal.keys(&["123456", "Enter"]);
    terminal.wait_for_screen("next code, once the app shows a new one: ");
    terminal.keys(&["123456", "Enter"]);
    terminal.wait_for_screen("that is the same code");
    terminal.keys(&["654321", "Enter"]);
    let (code, stdout, stderr, _) = terminal.finish();
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(stdout, "", "nothing on stdout");
    assert!(!stderr.contains(secret), "the secret stays on the terminal");
    let serial = format!("arn:aws:iam::123456789012:mfa/{}", user.name);
    assert!(
        stderr.contains(&format!("enabled {serial} for user {}", user.name)),
        "{stderr}"
    );
    let config = std::fs::read_to_string(sandbox.path(".aws/config")).unwrap();
    assert_eq!(
        config,
        format!("# mine\n[profile new]\nmfa_serial = {serial}\nregion = us-east-1\n")
    );
    let enable: Vec<Request> = moto
        .requests_signed_by(&user.access_key_id)
        .into_iter()
        .filter(|r| r.action() == "EnableMFADevice")
        .collect();
    assert_eq!(enable.len(), 1);
    assert_eq!(
        enable[0]
            .params
            .get("AuthenticationCode1")
            .map(String::as_str),
        Some("123456")
    );
    assert_eq!(
        enable[0]
            .params
            .get("AuthenticationCode2")
            .map(String::as_str),
        Some("654321")
    );

    // The first session: one request, with the new device.
    let before = moto.requests_signed_by(&user.access_key_id).len();
    sandbox.run(&["111111", "new"]).success();
    let after = moto.requests_signed_by(&user.access_key_id);
    assert_eq!(after.len() - before, 1, "one request");
    assert_eq!(
        after.last().unwrap().params.get("SerialNumber"),
        Some(&serial)
    );
}

#[test]
fn enroll_without_a_terminal() {
    let moto = need!(moto());
    let user = moto.user(0);
    let sandbox = Sandbox::with_user(moto, &user, "new");
    // Refused before any request: the secret would have nowhere to go.
    sandbox
        .run(&["enroll", "new"])
        .failure(1)
        .stderr_has("enroll shows the new device's secret and asks for codes on the terminal, and there is none");
    sandbox.run(&["enroll", "new", "--name", "a b"]).failure(2);
    assert!(moto.requests_signed_by(&user.access_key_id).is_empty());

    // With --qr-png and --codes it needs none.
    let png = sandbox.path("qr.png");
    let enroll_laptop = || {
        sandbox.run(&[
            "enroll",
            "new",
            "--name",
            "laptop",
            "--qr-png",
            png.to_str().unwrap(),
            "--codes",
            "123456",
            "654321",
        ])
    };
    let run = enroll_laptop();
    run.success()
        .stderr_has("wrote the QR code of arn:aws:iam::123456789012:mfa/laptop to ");
    assert_eq!(run.stdout, "");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&png).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let config = std::fs::read_to_string(sandbox.path(".aws/config")).unwrap();
    assert_eq!(
        config,
        "[profile new]\nmfa_serial = arn:aws:iam::123456789012:mfa/laptop\n"
    );

    // The same name again: AWS says it exists; the hint says why and what to do.
    let run = enroll_laptop();
    run.failure(1)
        .stderr_has("could not create the virtual MFA device 'laptop': EntityAlreadyExists")
        .stderr_has("perhaps left unassigned by an earlier try");
}

/// The drawn QR code holds exactly the seed AWS sent: a scripted endpoint
/// sends a known one (moto's is random and cannot be read back).
#[test]
fn the_drawn_code_holds_the_seed_aws_sent() {
    use base64::Engine;
    need!(tool("tmux"));
    const SEED: &str = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP";
    let endpoint = FakeEndpoint::start(|request, _| {
        let iam = "xmlns=\"https://iam.amazonaws.com/doc/2010-05-08/\"";
        let body = match request.action() {
            "GetCallerIdentity" => "<GetCallerIdentityResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\"><GetCallerIdentityResult>\
                 <Arn>arn:aws:iam::123456789012:user/alice</Arn><UserId>AIDAEXAMPLE</UserId><Account>123456789012</Account>\
                 </GetCallerIdentityResult><ResponseMetadata><RequestId>r</RequestId></ResponseMetadata></GetCallerIdentityResponse>"
                .to_owned(),
            "CreateVirtualMFADevice" => format!(
                "<CreateVirtualMFADeviceResponse {iam}><CreateVirtualMFADeviceResult><VirtualMFADevice>\
                 <SerialNumber>arn:aws:iam::123456789012:mfa/alice</SerialNumber>\
                 <Base32StringSeed>{}</Base32StringSeed><QRCodePNG>{}</QRCodePNG>\
                 </VirtualMFADevice></CreateVirtualMFADeviceResult><ResponseMetadata><RequestId>r</RequestId></ResponseMetadata>\
                 </CreateVirtualMFADeviceResponse>",
                base64::engine::general_purpose::STANDARD.encode(SEED),
                base64::engine::general_purpose::STANDARD.encode(b"\x89PNG"),
            ),
            _ => format!(
                "<EnableMFADeviceResponse {iam}><ResponseMetadata><RequestId>r</RequestId></ResponseMetadata></EnableMFADeviceResponse>"
            ),
        };
        Reply::Answer(200, body)
    });
    let sandbox = fake_sandbox(&endpoint.url);
    let terminal = crate::prompt::Terminal::start_sized(&sandbox, &["enroll", "work"], 60);
    let screen = terminal.wait_for_screen("first code from the app: ");
    let uri = qr::decode(&screen).unwrap_or_else(|| panic!("no QR code on the screen:\n{screen}"));
    assert_eq!(
        uri,
        format!(
            "otpauth://totp/Amazon%20Web%20Services:alice@123456789012?secret={SEED}&issuer=Amazon%20Web%20Services"
        )
    );
    terminal.keys(&["135790", "Enter"]);
    terminal.wait_for_screen("next code, once the app shows a new one: ");
    terminal.keys(&["246801", "Enter"]);
    let (code, stdout, stderr, _) = terminal.finish();
    assert_eq!((code, stdout.as_str()), (0, ""), "{stderr}");
    assert!(!stderr.contains(SEED), "the secret stays on the terminal");
    assert!(
        stderr.contains("the secret and the QR code were removed from the screen"),
        "{stderr}"
    );
    // Drawn on the alternate screen: neither the secret nor the picture is
    // left on the terminal or in its scrollback.
    let left = terminal.history();
    assert!(!left.contains("secret:  JBSW Y3DP"), "{left}");
    assert!(
        !left.contains("Add this device to your authenticator app"),
        "{left}"
    );
    assert_eq!(
        endpoint.actions(),
        [
            "GetCallerIdentity",
            "CreateVirtualMFADevice",
            "EnableMFADevice"
        ]
    );
}

/// Issue 31, item 12: the two codes `enroll` sent are spent; a session
/// asked for with one of them right after is refused before any request
/// (AWS would refuse it as a wrong code).
#[test]
fn the_codes_enroll_sent_are_not_sent_again() {
    let moto = need!(moto());
    let user = moto.user(0);
    let sandbox = Sandbox::with_user(moto, &user, "new");
    let name = unique("laptop");
    let png = sandbox.path("qr.png");
    sandbox
        .run(&[
            "enroll",
            "new",
            "--name",
            &name,
            "--qr-png",
            png.to_str().unwrap(),
            "--codes",
            "112233",
            "445566",
        ])
        .success();
    let sessions = || {
        moto.requests_signed_by(&user.access_key_id)
            .iter()
            .filter(|r| r.action() == "GetSessionToken")
            .count()
    };
    for code in ["112233", "445566"] {
        sandbox
            .run(&[code, "new"])
            .failure(1)
            .stderr_has("not sending the MFA code")
            .stderr_has("that code was used at");
    }
    assert_eq!(sessions(), 0);
    sandbox.run(&["778899", "new"]).success();
    assert_eq!(sessions(), 1);
}

/// The first-hour issue, item 4: at 80x24 the QR code does not fit (its top
/// scrolled off the alternate screen, which keeps no scrollback). enroll
/// says so before it creates anything, and `--no-qr` shows the secret to
/// type instead.
#[test]
fn enroll_in_a_small_terminal_offers_the_typed_secret() {
    let moto = need!(moto());
    need!(tool("tmux"));
    let user = moto.user(0);
    let sandbox = Sandbox::with_user(moto, &user, "new");
    let terminal = crate::prompt::Terminal::start_in(&sandbox, &["enroll", "new"], 80, 24);
    let (code, _, stderr, _) = terminal.finish();
    assert_eq!(code, 1, "{stderr}");
    assert!(
        stderr.contains(
            "the terminal is 80x24, too small for the QR code of the new device (it needs "
        ),
        "{stderr}"
    );
    assert!(
        stderr.contains("--no-qr") && stderr.contains("--qr-png FILE"),
        "{stderr}"
    );
    let created = || {
        moto.requests_signed_by(&user.access_key_id)
            .iter()
            .filter(|r| r.action() == "CreateVirtualMFADevice")
            .count()
    };
    assert_eq!(created(), 0, "nothing was created");

    let terminal =
        crate::prompt::Terminal::start_in(&sandbox, &["enroll", "new", "--no-qr"], 80, 24);
    let screen = terminal.wait_for_screen("first code from the app: ");
    assert!(qr::decode(&screen).is_none(), "no QR code:\n{screen}");
    let secret: String = screen
        .lines()
        .find_map(|l| l.trim().strip_prefix("secret:"))
        .unwrap_or_else(|| panic!("the secret is on the screen:\n{screen}"))
        .split_whitespace()
        .collect();
    assert!(secret.len() >= 16, "{secret}");
    // The whole screen is there: its first line too.
    assert!(
        screen.contains("Add this device to your authenticator app"),
        "{screen}"
    );
    terminal.keys(&["123456", "Enter"]);
    terminal.wait_for_screen("next code, once the app shows a new one: ");
    terminal.keys(&["654321", "Enter"]);
    let (code, _, stderr, _) = terminal.finish();
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(created(), 1);
}

/// The first-hour issue, item 5: `tests/demo` runs with an installed binary
/// (no cargo, no clone: here a copy of the script alone in a folder) and
/// leaves nothing behind where it ran.
#[test]
fn the_demo_runs_with_an_installed_binary_and_leaves_nothing() {
    need!(moto());
    let dir = tempfile::tempdir().unwrap();
    let demo = dir.path().join("demo");
    std::fs::copy(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/demo"),
        &demo,
    )
    .unwrap();
    let output = std::process::Command::new("bash")
        .arg(&demo)
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .env("MFA_SESSION_BIN", &*BIN)
        .env("MFA_SESSION_TEST_VENV", venv())
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{text}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        text.contains("arn:aws:iam::123456789012:user/alice"),
        "{text}"
    );
    assert!(text.contains("status 2"), "the typo fails: {text}");
    let left: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(left, [std::ffi::OsString::from("demo")]);
}
