//! Faults and bad input. Every case checks the exit code, a one-line error
//! (plus at most a hint) that names what went wrong, an empty stdout, and that
//! no secret key, session token or code reaches stderr.

use std::os::unix::ffi::OsStrExt;
use std::time::{Duration, Instant};

use crate::support::*;

const SERIAL: &str = "arn:aws:iam::123456789012:mfa/alice";
const CODE: &str = "864209";

fn run_against(endpoint: &FakeEndpoint, extra: &[&str]) -> Run {
    let sandbox = fake_sandbox(&endpoint.url);
    let mut args = vec![CODE, "work", "--serial-number", SERIAL];
    args.extend_from_slice(extra);
    sandbox.run(&args)
}

#[test]
fn server_errors_then_success_are_retried() {
    let endpoint = FakeEndpoint::start(|_, n| match n {
        0 => Reply::Answer(
            500,
            aws_error("InternalFailure", "An internal error occurred"),
        ),
        1 => Reply::Answer(
            503,
            aws_error("ServiceUnavailable", "Service is unavailable"),
        ),
        _ => Reply::Answer(200, session_answer()),
    });
    let run = run_against(&endpoint, &[]);
    run.success().keeps_secret(&FAKE_SECRETS);
    assert!(run.stdout.contains(FAKE_SESSION_KEY));
    assert_eq!(endpoint.actions(), ["GetSessionToken"; 3]);
}

#[test]
fn throttling_that_persists_fails_with_a_hint() {
    let endpoint =
        FakeEndpoint::start(|_, _| Reply::Answer(400, aws_error("Throttling", "Rate exceeded")));
    run_against(&endpoint, &[])
        .failure(1)
        .keeps_secret(&FAKE_SECRETS)
        .stderr_has(&format!(
            "could not get a session token for {SERIAL}: Throttling: Rate exceeded"
        ))
        .stderr_has("hint: AWS is limiting the rate of requests");
    assert_eq!(endpoint.actions().len(), 3, "three attempts");
}

#[test]
fn a_truncated_answer_is_an_error_not_a_half_session() {
    let endpoint = FakeEndpoint::start(|_, _| {
        let full = session_answer();
        Reply::Truncated(full[..full.len() / 2].to_owned())
    });
    run_against(&endpoint, &[])
        .failure(1)
        .keeps_secret(&FAKE_SECRETS)
        .stderr_has(&format!("could not get a session token for {SERIAL}"));
}

#[test]
fn a_short_but_complete_answer_is_refused() {
    // Complete HTTP, but the XML stops halfway: the SDK would fill the
    // missing fields with empty strings.
    let endpoint = FakeEndpoint::start(|_, _| {
        let full = session_answer();
        Reply::Answer(
            200,
            full[..full.find("<SecretAccessKey>").unwrap()].to_owned(),
        )
    });
    run_against(&endpoint, &[])
        .failure(1)
        .keeps_secret(&FAKE_SECRETS)
        .stderr_has("sent an answer that cannot be read");
}

#[test]
fn a_malformed_answer_is_refused() {
    for body in [
        "this is not XML",
        "<html><body>Proxy error</body></html>",
        "",
    ] {
        let body = body.to_owned();
        let endpoint = FakeEndpoint::start(move |_, _| Reply::Answer(200, body.clone()));
        run_against(&endpoint, &[])
            .failure(1)
            .keeps_secret(&FAKE_SECRETS)
            .stderr_has("could not get a session token");
    }
    let endpoint =
        FakeEndpoint::start(|_, _| Reply::Answer(502, "<html>Bad Gateway</html>".to_owned()));
    run_against(&endpoint, &[])
        .failure(1)
        .stderr_has("could not get a session token");
}

#[test]
fn an_endpoint_that_never_answers_is_given_up_on_in_seconds() {
    let endpoint = FakeEndpoint::start(|_, _| Reply::Hang);
    let mut sandbox = fake_sandbox(&endpoint.url);
    sandbox.set("MFA_SESSION_TIMEOUT", "3");
    let started = Instant::now();
    sandbox
        .run(&[CODE, "work", "--serial-number", SERIAL])
        .failure(1)
        .keeps_secret(&FAKE_SECRETS)
        .stderr_has("did not answer within 3s");
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
}

#[test]
fn aws_refusals_are_explained() {
    let cases = [
        (
            "AccessDenied",
            "MultiFactorAuthentication failed with invalid MFA one time pass code. ",
            "wait for the next code",
        ),
        (
            "AccessDenied",
            "MultiFactorAuthentication failed, unable to validate MFA code. Please verify your MFA serial number is valid and associated with this user.",
            "is not an MFA device of the user behind profile 'work'",
        ),
        (
            "InvalidClientTokenId",
            "The security token included in the request is invalid.",
            "deactivated or deleted",
        ),
        (
            "SignatureDoesNotMatch",
            "Signature expired: 20261123T094000Z is now earlier than 20261123T100500Z (20261123T102000Z - 15 min.)",
            "clock",
        ),
    ];
    for (code, message, hint) in cases {
        let body = aws_error(code, message);
        let endpoint = FakeEndpoint::start(move |_, _| Reply::Answer(403, body.clone()));
        run_against(&endpoint, &[])
            .failure(1)
            .keeps_secret(&FAKE_SECRETS)
            .stderr_has(&format!(
                "could not get a session token for {SERIAL}: {code}: "
            ))
            .stderr_has(hint);
    }
}

/// A remembered device that AWS stops accepting is forgotten, the devices
/// are listed again, and the same code is tried with the new one.
#[test]
fn a_remembered_device_that_stopped_working_is_replaced() {
    const OLD: &str = "arn:aws:iam::123456789012:mfa/old-phone";
    const NEW: &str = "arn:aws:iam::123456789012:mfa/new-phone";
    let endpoint = FakeEndpoint::start(|request, n| match request.action() {
        "ListMFADevices" if n == 0 => Reply::Answer(200, devices_answer(&[OLD])),
        "ListMFADevices" => Reply::Answer(200, devices_answer(&[NEW])),
        "GetSessionToken"
            if request.params.get("SerialNumber").map(String::as_str) == Some(NEW) =>
        {
            Reply::Answer(200, session_answer())
        }
        "GetSessionToken" if n == 0 => Reply::Answer(200, session_answer()),
        _ => Reply::Answer(
            403,
            aws_error(
                "AccessDenied",
                "MultiFactorAuthentication failed, unable to validate MFA code. Please verify your MFA serial number is valid and associated with this user.",
            ),
        ),
    });
    let sandbox = fake_sandbox(&endpoint.url);
    sandbox.run(&[CODE, "work"]).success().stderr_has(OLD);
    // The old device is remembered: one request, then it fails, then the
    // new device is found and used.
    let run = sandbox.run(&["975310", "work", "--force"]);
    run.success().stderr_has(NEW);
    assert_eq!(
        endpoint.actions(),
        [
            "ListMFADevices",
            "GetSessionToken",
            "GetSessionToken",
            "ListMFADevices",
            "GetSessionToken"
        ]
    );
    // And the new one is remembered.
    sandbox
        .run(&["246813", "work", "--force"])
        .success()
        .stderr_has(NEW);
    assert_eq!(endpoint.actions().len(), 6);
}

#[test]
fn profile_file_faults() {
    let sandbox = Sandbox::new(None);
    let credentials = sandbox.path(".aws/credentials");
    let config = sandbox.path(".aws/config");

    // Empty files.
    sandbox.write(".aws/credentials", "");
    sandbox.write(".aws/config", "");
    sandbox
        .run(&[CODE, "work"])
        .failure(1)
        .stderr_has("profile 'work' not found")
        .stderr_has("hint: the files define no profiles");

    // Unreadable: a directory where the file should be (root reads any file).
    std::fs::remove_file(&credentials).unwrap();
    std::fs::create_dir(&credentials).unwrap();
    sandbox
        .run(&[CODE, "work"])
        .failure(1)
        .stderr_has(&format!("cannot read {}", credentials.display()));
    std::fs::remove_dir(&credentials).unwrap();

    // Not UTF-8.
    std::fs::write(&config, b"[profile work]\nregion = \xff\xfe\n").unwrap();
    sandbox.run(&[CODE, "work"]).failure(1).stderr_has(&format!(
        "cannot read {}: it is not UTF-8 text",
        config.display()
    ));

    // A profile with no keys at all.
    sandbox.write(".aws/config", "[profile work]\nregion = eu-west-1\n");
    sandbox
        .run(&[CODE, "work"])
        .failure(1)
        .stderr_has("profile 'work' has no aws_access_key_id and aws_secret_access_key");
    // One that gets its credentials another way.
    sandbox.write(
        ".aws/config",
        "[profile work]\nsso_session = corp\n[sso-session corp]\nsso_region = us-east-1\n",
    );
    sandbox
        .run(&[CODE, "work"])
        .failure(1)
        .stderr_has("signs in through IAM Identity Center: sso_session at ");
    // A role whose source profile is not there.
    sandbox.write(
        ".aws/config",
        "[profile work]\nrole_arn = arn:aws:iam::1:role/r\nsource_profile = base\n",
    );
    sandbox
        .run(&[CODE, "work"])
        .failure(1)
        .stderr_has("profile 'base' not found in ");
    // Only the secret half.
    sandbox.write(".aws/config", "");
    sandbox.write(
        ".aws/credentials",
        "[work]\naws_secret_access_key = LongTermSecretThatMustNeverLeak\n",
    );
    sandbox
        .run(&[CODE, "work"])
        .failure(1)
        .keeps_secret(&FAKE_SECRETS)
        .stderr_has("has aws_secret_access_key but no aws_access_key_id");
    // A malformed mfa_serial and duration_seconds, named with file and line.
    sandbox.write(
        ".aws/credentials",
        "[work]\naws_access_key_id = AKIAX\naws_secret_access_key = y\n",
    );
    sandbox.write(".aws/config", "[profile work]\nmfa_serial = not a serial\n");
    sandbox.run(&[CODE, "work"]).failure(1).stderr_has(&format!(
        "mfa_serial of profile 'work' ({}:2)",
        config.display()
    ));
    sandbox.write(".aws/config", "[profile work]\nduration_seconds = soon\n");
    sandbox
        .run(&[CODE, "work"])
        .failure(1)
        .stderr_has("duration_seconds of profile 'work' is not a number of seconds");
}

#[test]
fn argument_faults() {
    let sandbox = fake_sandbox("http://127.0.0.1:1");
    for (args, message) in [
        (&["123", "work"][..], "must be 6 digits, not 3"),
        (&["1234567890", "work"], "must be 6 digits, not 10"),
        (&["--code", "12345x", "work"], "must contain only digits"),
        (&["١٢٣٤٥٦", "work"], "must be written with the digits 0-9"),
        (
            &[CODE, "work", "--duration", "14m"],
            "--duration: a session lasts from 15m to 36h",
        ),
        (
            &[CODE, "work", "--duration", "37h"],
            "--duration: a session lasts from 15m to 36h",
        ),
        (
            &[CODE, "work", "--duration", "soon"],
            "--duration: 'soon' is not a duration",
        ),
        (&[CODE, "work", "extra"], "too many arguments"),
        (
            &[CODE, "work", "--serial-number", "x"],
            "--serial-number: 'x' is not an MFA serial number",
        ),
        (&[CODE, "work", "--bogus"], "unexpected argument '--bogus'"),
        (&[CODE, "work", "--shell", "tcsh"], "invalid value 'tcsh'"),
    ] {
        sandbox
            .run(args)
            .failure(2)
            .keeps_secret(&FAKE_SECRETS)
            .stderr_has(message);
    }
}

#[test]
fn environment_values_that_are_not_utf8() {
    use std::ffi::OsStr;
    let endpoint = FakeEndpoint::start(|_, _| Reply::Answer(200, session_answer()));
    let sandbox = fake_sandbox(&endpoint.url);
    let bad = OsStr::from_bytes(b"w\xffrk");

    let run = Run::from(
        sandbox
            .command(&[CODE])
            .env("AWS_PROFILE", bad)
            .output()
            .unwrap(),
    );
    run.failure(2).stderr_has("AWS_PROFILE is not valid UTF-8");

    let run = Run::from(
        sandbox
            .command(&[CODE, "work", "--serial-number", SERIAL])
            .env("AWS_ENDPOINT_URL", bad)
            .output()
            .unwrap(),
    );
    run.failure(1)
        .stderr_has("AWS_ENDPOINT_URL is not valid UTF-8");

    // A non-UTF-8 path to the files is still a path.
    let dir = sandbox.path("d\u{e9}");
    std::fs::create_dir_all(&dir).unwrap();
    let odd = sandbox.dir.path().join(OsStr::from_bytes(b"cred\xff"));
    std::fs::copy(sandbox.path(".aws/credentials"), &odd).unwrap();
    let run = Run::from(
        sandbox
            .command(&[CODE, "work", "--serial-number", SERIAL, "--no-cache"])
            .env("AWS_SHARED_CREDENTIALS_FILE", &odd)
            .output()
            .unwrap(),
    );
    run.success();

    // A login shell that is not UTF-8 falls back to POSIX output.
    let run = Run::from(
        sandbox
            .command(&["--clear"])
            .env("SHELL", bad)
            .output()
            .unwrap(),
    );
    run.success();
    assert!(run.stdout.starts_with("unset "));
}

#[test]
fn a_closed_stdout_is_a_quiet_exit() {
    let endpoint = FakeEndpoint::start(|_, _| Reply::Answer(200, session_answer()));
    let sandbox = fake_sandbox(&endpoint.url);
    let mut fds = [0; 2];
    // SAFETY: pipe fills two descriptors we own from here on.
    assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0);
    // SAFETY: closing the read end, which nothing else uses.
    unsafe { libc::close(fds[0]) };
    // SAFETY: the write end is ours and handed to the child once.
    let write_end =
        unsafe { <std::os::fd::OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(fds[1]) };
    let out = sandbox
        .command(&[CODE, "work", "--serial-number", SERIAL, "-q"])
        .stdout(std::process::Stdio::from(write_end))
        .stderr(std::process::Stdio::piped())
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "",
        "no panic, no message"
    );
}

#[test]
fn listing_denied_names_the_way_around_it() {
    let endpoint = FakeEndpoint::start(|_, _| {
        Reply::Answer(
            403,
            aws_error(
                "AccessDenied",
                "User: arn:aws:iam::123456789012:user/alice is not authorized to perform: iam:ListMFADevices",
            ),
        )
    });
    let sandbox = fake_sandbox(&endpoint.url);
    sandbox
        .run(&[CODE, "work"])
        .failure(1)
        .keeps_secret(&FAKE_SECRETS)
        .stderr_has("could not list the MFA devices of profile 'work': AccessDenied")
        .stderr_has("hint: name the device instead: --serial-number ARN, or mfa_serial = ARN in profile 'work'");
}

#[test]
fn the_fake_endpoint_is_really_used() {
    // Guards the tests above: a success through the fake endpoint prints
    // the fake session, so they exercise the paths they claim to.
    let endpoint = FakeEndpoint::start(|_, _| Reply::Answer(200, session_answer()));
    let run = run_against(&endpoint, &["--no-cache"]);
    run.success();
    assert!(run.stdout.contains(FAKE_SESSION_TOKEN));
}
