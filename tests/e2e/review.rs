//! What the second review found (issue 18), each reproduced as a user would
//! meet it: against moto, or a scripted endpoint where moto cannot send the
//! answer.

use std::process::Stdio;

use crate::need;
use crate::support::*;

const IAM: &str = "xmlns=\"https://iam.amazonaws.com/doc/2010-05-08/\"";
const STS: &str = "xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\"";

fn caller_identity() -> String {
    format!(
        "<GetCallerIdentityResponse {STS}><GetCallerIdentityResult>\
         <Arn>arn:aws:iam::123456789012:user/alice</Arn><UserId>AIDAEXAMPLE</UserId><Account>123456789012</Account>\
         </GetCallerIdentityResult><ResponseMetadata><RequestId>r</RequestId></ResponseMetadata></GetCallerIdentityResponse>"
    )
}

fn new_device(serial: &str) -> String {
    format!(
        "<CreateVirtualMFADeviceResponse {IAM}><CreateVirtualMFADeviceResult><VirtualMFADevice>\
         <SerialNumber>{serial}</SerialNumber>\
         <Base32StringSeed>SkJTV1kzRFBFSFBLM1BYUA==</Base32StringSeed><QRCodePNG>iVBORw==</QRCodePNG>\
         </VirtualMFADevice></CreateVirtualMFADeviceResult><ResponseMetadata><RequestId>r</RequestId></ResponseMetadata>\
         </CreateVirtualMFADeviceResponse>"
    )
}

fn ok(action: &str) -> String {
    format!(
        "<{action}Response {IAM}><ResponseMetadata><RequestId>r</RequestId></ResponseMetadata></{action}Response>"
    )
}

/// 18.1: a name that is another profile is refused before any request.
#[test]
fn write_profile_never_takes_over_another_profile() {
    let endpoint = FakeEndpoint::start(|_, _| Reply::Answer(200, session_answer()));
    let sandbox = fake_sandbox(&endpoint.url);
    sandbox.write(
        ".aws/config",
        "[profile work]\nmfa_serial = arn:aws:iam::123456789012:mfa/alice\n\
         [profile ci]\naws_access_key_id = AKIABOBBOBBOBBOB0001\naws_secret_access_key = bob\n\
         [profile ops]\nrole_arn = arn:aws:iam::1:role/ops\nsource_profile = work\n\
         [profile sso]\nsso_session = corp\n",
    );
    for (name, key) in [
        ("ci", "aws_access_key_id"),
        ("ops", "role_arn"),
        ("sso", "sso_session"),
    ] {
        sandbox
            .run(&["864209", "work", "--write-profile", name])
            .failure(1)
            .stderr_has(&format!(
                "will not write [{name}]: profile '{name}' is defined in "
            ))
            .stderr_has(&format!("({key})"));
    }
    let mut credentials = std::fs::read_to_string(sandbox.path(".aws/credentials")).unwrap();
    credentials.push_str("[proc]\ncredential_process = pass aws\n");
    sandbox.write(".aws/credentials", &credentials);
    sandbox
        .run(&["864209", "work", "--write-profile", "proc"])
        .failure(1)
        .stderr_has("(credential_process)");
    assert!(endpoint.actions().is_empty(), "{:?}", endpoint.actions());
    // A section that holds only a session is written again.
    sandbox
        .run(&["864209", "work", "--write-profile", "work-mfa"])
        .success();
    sandbox
        .run(&["975310", "work", "--force", "--write-profile", "work-mfa"])
        .success();
    assert_eq!(endpoint.actions(), ["GetSessionToken", "GetSessionToken"]);
}

/// 18.10: a credentials folder that takes no new file is found out before
/// the code is spent (root writes anything: a read-only mount stops it).
#[test]
fn write_profile_checks_that_the_file_can_be_written_first() {
    need!(tool("unshare"));
    let endpoint = FakeEndpoint::start(|_, _| Reply::Answer(200, session_answer()));
    let sandbox = fake_sandbox(&endpoint.url);
    let script = format!(
        "mount --bind -o ro '{aws}' '{aws}' && exec mfa-session 864209 work --write-profile out",
        aws = sandbox.path(".aws").display()
    );
    let output = sandbox
        .shell_command(&["unshare", "-m", "sh", "-c", &script])
        .output()
        .unwrap();
    let run = Run::from(output);
    run.failure(1)
        .stderr_has("cannot write ")
        .stderr_has("read-only file system");
    assert!(endpoint.actions().is_empty(), "{:?}", endpoint.actions());
}

/// 18.2: values in AWS's answers that AWS never sends are neither written
/// nor shown.
#[test]
fn answers_are_checked_before_they_are_written_or_shown() {
    // A session token with a profile of its own in it.
    let endpoint = FakeEndpoint::start(|_, _| {
        Reply::Answer(
            200,
            session_answer().replace(
                FAKE_SESSION_TOKEN,
                "tok&#10;[profile evil]&#10;credential_process = touch /tmp/pwned",
            ),
        )
    });
    let sandbox = fake_sandbox(&endpoint.url);
    sandbox.write(
        ".aws/config",
        "[profile work]\nmfa_serial = arn:aws:iam::123456789012:mfa/alice\n",
    );
    sandbox
        .run(&["864209", "work", "--write-profile", "out"])
        .failure(1)
        .stderr_has(
            "sent an answer that cannot be used: its SessionToken holds characters AWS never sends",
        );
    let credentials = std::fs::read_to_string(sandbox.path(".aws/credentials")).unwrap();
    assert!(!credentials.contains("evil"), "{credentials}");

    // An assumed role's ARN with escape sequences.
    let endpoint = FakeEndpoint::start(|request, _| match request.action() {
        "AssumeRole" => Reply::Answer(
            200,
            format!(
                "<AssumeRoleResponse {STS}><AssumeRoleResult><Credentials>\
                 <SessionToken>RoleToken</SessionToken><SecretAccessKey>RoleSecret</SecretAccessKey>\
                 <Expiration>{}</Expiration><AccessKeyId>ASIAROLEROLEROLE0001</AccessKeyId></Credentials>\
                 <AssumedRoleUser><Arn>arn:aws:sts::1:assumed-role/x&#27;]0;pwned&#7;&#27;[2J</Arn>\
                 <AssumedRoleId>AROA:x</AssumedRoleId></AssumedRoleUser></AssumeRoleResult></AssumeRoleResponse>",
                (jiff::Timestamp::now() + jiff::SignedDuration::from_hours(1))
                    .strftime("%Y-%m-%dT%H:%M:%SZ")
            ),
        ),
        _ => Reply::Answer(200, session_answer()),
    });
    let sandbox = fake_sandbox(&endpoint.url);
    sandbox.write(
        ".aws/config",
        "[profile work]\nmfa_serial = arn:aws:iam::123456789012:mfa/alice\n\
         [profile ops]\nrole_arn = arn:aws:iam::1:role/ops\nsource_profile = work\n",
    );
    let run = sandbox.run(&["864209", "ops"]);
    run.failure(1)
        .stderr_has("its AssumedRoleUser Arn holds characters AWS never sends");
    assert!(!run.stderr.contains('\u{1b}') && !run.stderr.contains("pwned"));

    // A new device's serial that would write a profile into ~/.aws/config.
    let endpoint = FakeEndpoint::start(|request, _| match request.action() {
        "GetCallerIdentity" => Reply::Answer(200, caller_identity()),
        "CreateVirtualMFADevice" => Reply::Answer(
            200,
            new_device(
                "arn:aws:iam::123456789012:mfa/alice&#10;[profile evil]&#10;credential_process = touch /tmp/pwned",
            ),
        ),
        action => Reply::Answer(200, ok(action)),
    });
    let sandbox = fake_sandbox(&endpoint.url);
    let qr = sandbox.path("qr.png");
    sandbox
        .run(&[
            "enroll",
            "work",
            "--qr-png",
            qr.to_str().unwrap(),
            "--codes",
            "111111",
            "222222",
        ])
        .failure(1)
        .stderr_has("its SerialNumber holds characters AWS never sends");
    let config = std::fs::read_to_string(sandbox.path(".aws/config")).unwrap_or_default();
    assert!(!config.contains("evil"), "{config}");
    assert!(!endpoint.actions().contains(&"EnableMFADevice".to_owned()));
}

/// 18.3: enroll checks what it can before the device exists.
#[test]
fn enroll_checks_codes_and_the_picture_folder_before_creating_anything() {
    let endpoint = FakeEndpoint::start(|request, _| match request.action() {
        "GetCallerIdentity" => Reply::Answer(200, caller_identity()),
        "CreateVirtualMFADevice" => {
            Reply::Answer(200, new_device("arn:aws:iam::123456789012:mfa/alice"))
        }
        action => Reply::Answer(200, ok(action)),
    });
    let sandbox = fake_sandbox(&endpoint.url);
    let qr = sandbox.path("qr.png");
    let qr = qr.to_str().unwrap();
    sandbox
        .run(&[
            "enroll", "work", "--qr-png", qr, "--codes", "111111", "111111",
        ])
        .failure(2)
        .stderr_has("the two codes are the same");
    sandbox
        .run(&[
            "enroll",
            "work",
            "--qr-png",
            "/nonexistent/folder/qr.png",
            "--codes",
            "111111",
            "222222",
        ])
        .failure(2)
        .stderr_has("--qr-png: cannot write into /nonexistent/folder");
    assert!(endpoint.actions().is_empty(), "{:?}", endpoint.actions());

    // 18.7: an mfa_serial in the credentials file wins over the config's.
    let mut credentials = std::fs::read_to_string(sandbox.path(".aws/credentials")).unwrap();
    credentials.push_str("mfa_serial = arn:aws:iam::123456789012:mfa/old-phone\n");
    sandbox.write(".aws/credentials", &credentials);
    sandbox
        .run(&["enroll", "work", "--qr-png", qr, "--codes", "111111", "222222"])
        .success()
        .stderr_has(
            "warning: mfa_serial = arn:aws:iam::123456789012:mfa/old-phone at ",
        )
        .stderr_has("still wins over the config file: change it there to arn:aws:iam::123456789012:mfa/alice");
}

/// 18.5: doctor fails like every command when stdout cannot be written.
#[test]
fn doctor_does_not_panic_on_a_full_or_closed_stdout() {
    let sandbox = Sandbox::new(None);
    let full = std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/full")
        .unwrap();
    let output = sandbox
        .command(&["doctor"])
        .stdout(Stdio::from(full))
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    let run = Run::from(output);
    assert_eq!(run.code, Some(1), "{run:#?}");
    run.stderr_has("mfa-session: cannot write to stdout: no space left on device");
    assert!(!run.stderr.contains("panicked"), "{run:#?}");
    // A reader that went away: no panic, no message about it.
    let mut child = sandbox.spawn(&["doctor"]);
    drop(child.stdout.take());
    let run = Run::from(child.wait_with_output().unwrap());
    assert_ne!(run.code, Some(134), "{run:#?}");
    assert!(!run.stderr.contains("panicked"), "{run:#?}");
}

#[test]
fn help_into_a_full_disk_fails_and_into_a_pipe_is_plain() {
    let sandbox = Sandbox::new(None);
    for args in [&["--help"][..], &["--version"], &["keys", "--help"]] {
        let full = std::fs::OpenOptions::new()
            .write(true)
            .open("/dev/full")
            .unwrap();
        let output = sandbox
            .command(args)
            .stdout(Stdio::from(full))
            .stderr(Stdio::piped())
            .output()
            .unwrap();
        let run = Run::from(output);
        run.failure(1)
            .stderr_has("cannot write to stdout: no space left on device");
        // Into a pipe: the text, with no terminal colours in it.
        let run = sandbox.run(args);
        run.success();
        assert!(run.stdout.contains("mfa-session"), "{run:#?}");
        assert!(!run.stdout.contains('\u{1b}'), "{run:#?}");
    }
}

/// 18.6: an explicit device is served only by a role session obtained with it.
#[test]
fn an_explicit_device_is_not_served_by_a_role_session_of_another() {
    let moto = need!(moto());
    let user = moto.user(2);
    let ops = moto.role("ops");
    let sandbox = Sandbox::with_user(moto, &user, "identity");
    sandbox.write(
        ".aws/config",
        &format!("[profile ops]\nrole_arn = {ops}\nsource_profile = identity\n"),
    );
    sandbox
        .run(&["864209", "ops", "-s", &user.serials[0]])
        .success();
    sandbox
        .run(&["ops", "-s", &user.serials[0]])
        .success()
        .stderr_has("reusing");
    sandbox
        .run(&["ops", "-s", &user.serials[1]])
        .failure(1)
        .stderr_has("no MFA code given");
}

/// 18.8: `forget ROOT` takes out the role sessions written for it too.
#[test]
fn forget_root_removes_the_written_role_sections_on_its_session() {
    let moto = need!(moto());
    let user = moto.user(1);
    let ops = moto.role("ops");
    let sandbox = Sandbox::with_user(moto, &user, "identity");
    sandbox.write(
        ".aws/config",
        &format!(
            "[profile identity]\nmfa_serial = {}\n[profile ops]\nrole_arn = {ops}\nsource_profile = identity\n",
            user.serials[0]
        ),
    );
    sandbox
        .run(&["864209", "ops", "--write-profile", "ops-session"])
        .success();
    let credentials = || std::fs::read_to_string(sandbox.path(".aws/credentials")).unwrap();
    assert!(credentials().contains("[ops-session]"));
    sandbox
        .run(&["forget", "identity"])
        .success()
        .stderr_has("removed the session from [ops-session]");
    assert!(
        !credentials().contains("[ops-session]"),
        "{}",
        credentials()
    );
}

/// 18.11: the cache creates no HOME.
#[test]
fn a_home_that_does_not_exist_is_not_created() {
    let moto = need!(moto());
    let user = moto.user(1);
    let mut sandbox = Sandbox::with_user(moto, &user, "work");
    let home = sandbox.path("gone/home");
    sandbox.set("HOME", home.to_str().unwrap());
    sandbox.set(
        "AWS_SHARED_CREDENTIALS_FILE",
        sandbox.path(".aws/credentials").to_str().unwrap(),
    );
    sandbox.set(
        "AWS_CONFIG_FILE",
        sandbox.path(".aws/config").to_str().unwrap(),
    );
    sandbox
        .run(&["864209", "work", "-s", &user.serials[0]])
        .success()
        .stderr_has("does not exist");
    assert!(!sandbox.path("gone").exists());
}

/// 18.12: the hint fits a credential_process line.
#[test]
fn credential_process_without_a_code_says_what_fits_its_line() {
    let sandbox = fake_sandbox("http://127.0.0.1:9");
    sandbox.write(
        ".aws/config",
        "[profile work]\nmfa_serial = arn:aws:iam::123456789012:mfa/alice\n",
    );
    sandbox
        .run(&["credential-process", "--profile", "work"])
        .failure(1)
        .stderr_has("no MFA code given, and there is no terminal to ask on")
        .stderr_has(
            "hint: run `mfa-session login work` once in a terminal: credential_process then uses the cached session; or set mfa_process",
        );
}

/// A code typed as authenticator apps show it, `123 456`, is the code.
#[test]
fn a_code_with_the_space_apps_show_is_taken() {
    let moto = need!(moto());
    let user = moto.user(1);
    let sandbox = Sandbox::with_device(moto, &user, "work");
    let run = sandbox.run(&["123 456", "work"]);
    run.success();
    assert!(run.stdout.contains("AWS_SESSION_TOKEN"), "{run:#?}");
    // The same code without the space is the same code: refused as spent.
    sandbox
        .run(&["123456", "work", "--force"])
        .failure(1)
        .stderr_has("that code was used");
}

/// A profile file that never ends (/dev/zero) is refused at a cap, not read
/// into memory (the test runs under a memory limit, so that without the cap
/// it ends with an allocation failure rather than the host's).
#[test]
fn a_profile_file_that_never_ends_is_refused_at_a_cap() {
    let mut sandbox = Sandbox::new(None);
    sandbox.write(".aws/config", "[profile p]\nregion = eu-west-1\n");
    sandbox.set("AWS_SHARED_CREDENTIALS_FILE", "/dev/zero");
    let output = sandbox
        .shell_command(&[
            "sh",
            "-c",
            "ulimit -v 2000000; exec \"$0\" \"$@\"",
            &*BIN,
            "123456",
            "p",
        ])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    Run::from(output)
        .failure(1)
        .stderr_has("cannot read /dev/zero: it is larger than 8 MiB");
}
