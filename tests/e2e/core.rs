//! The core promise, end to end: `eval "$(mfa-session 123456 PROFILE)"`
//! against a real local endpoint, evaluated by real shells, and used by a
//! real AWS client afterwards.

use std::net::TcpListener;
use std::time::{Duration, Instant};

use crate::need;
use crate::support::*;

/// The success case in full: discovery, session, bash and dash, then the AWS
/// CLI signs with the exported session.
#[test]
fn code_and_profile_give_a_session_that_a_real_client_uses() {
    let moto = need!(moto());
    let aws = need!(aws_cli());
    let user = moto.user(1);
    let sandbox = Sandbox::with_user(moto, &user, "work");

    let run = sandbox.run(&["024680", "work"]);
    run.success()
        .keeps_secret(&[&user.secret_access_key, "024680"])
        .stderr_has(&format!("session for profile 'work' as user {}", user.name));
    assert_eq!(run.stderr.lines().count(), 1, "{run:#?}");
    let names: Vec<&str> = run
        .stdout
        .lines()
        .map(|l| l.trim_start_matches("export ").split('=').next().unwrap())
        .collect();
    assert_eq!(names, VARS, "names and order");

    // The requests: listing (with the user name moto needs) and the session,
    // every one signed with the profile's long-term key.
    let requests = moto.requests_signed_by(&user.access_key_id);
    let session_request = requests
        .iter()
        .find(|r| r.action() == "GetSessionToken")
        .expect("GetSessionToken made");
    assert_eq!(session_request.params["SerialNumber"], user.serials[0]);
    assert_eq!(session_request.params["TokenCode"], "024680");
    assert_eq!(session_request.params["DurationSeconds"], "43200");
    assert!(requests.iter().all(|r| r.security_token.is_none()));

    let mut seen = Vec::new();
    for shell in [&["bash"][..], &["dash"], &["bash", "--posix"]] {
        need!(tool(shell[0]));
        let values = source_posix(shell, "", &run.stdout, &VARS);
        let values: Vec<String> = values
            .into_iter()
            .map(|v| v.expect("variable set"))
            .collect();
        assert!(values[0].len() >= 16, "access key id: {values:?}");
        assert_eq!(values[2], values[3], "AWS_SECURITY_TOKEN repeats the token");
        let expiration: jiff::Timestamp = values[4].parse().expect("RFC 3339 expiration");
        let left = expiration.as_second() - jiff::Timestamp::now().as_second();
        assert!(
            (11 * 3600..=12 * 3600 + 60).contains(&left),
            "about 12 hours left: {left}"
        );
        assert!(values[4].ends_with('Z'), "UTC: {}", values[4]);
        seen.push(values);
    }
    assert!(
        seen.windows(2).all(|w| w[0] == w[1]),
        "every shell reads the same values"
    );

    // A real client with the exported variables: the AWS CLI signs with the
    // session key and sends the session token.
    let values = &seen[0];
    // moto answers NoSuchEntity for the made-up user; the request is what counts.
    let env = [
        ("AWS_ACCESS_KEY_ID", values[0].as_str()),
        ("AWS_SECRET_ACCESS_KEY", values[1].as_str()),
        ("AWS_SESSION_TOKEN", values[2].as_str()),
    ];
    let (_, cli_request) = aws_cli_request(moto, &aws, &sandbox, &env, &[]);
    let cli_request = cli_request.expect("the AWS CLI reached the endpoint");
    assert_eq!(
        cli_request.access_key_id.as_deref(),
        Some(values[0].as_str())
    );
    assert_eq!(
        cli_request.security_token.as_deref(),
        Some(values[2].as_str())
    );
}

/// The most common bug of the tools in this field: a session from an earlier
/// run, still in the shell, signs the next GetSessionToken and AWS refuses.
#[test]
fn stale_session_variables_are_ignored() {
    let moto = need!(moto());
    let user = moto.user(1);
    let mut sandbox = Sandbox::with_user(moto, &user, "work");
    let stale_key = format!("ASIA{}", unique("STALE").to_uppercase());
    sandbox.set("AWS_ACCESS_KEY_ID", &stale_key);
    sandbox.set("AWS_SECRET_ACCESS_KEY", "stale-secret");
    sandbox.set("AWS_SESSION_TOKEN", "stale-token");
    sandbox.set("AWS_SECURITY_TOKEN", "stale-token");
    sandbox.set("AWS_PROFILE", "work");

    sandbox.run(&["123456"]).success();

    assert!(
        moto.requests_signed_by(&stale_key).is_empty(),
        "the stale key signed a request"
    );
    let requests = moto.requests_signed_by(&user.access_key_id);
    assert!(requests.iter().any(|r| r.action() == "GetSessionToken"));
    assert!(
        requests.iter().all(|r| r.security_token.is_none()),
        "a stale token was sent"
    );
}

#[test]
fn profile_comes_from_aws_profile_else_default() {
    let moto = need!(moto());
    let user = moto.user(1);
    let mut sandbox = Sandbox::with_user(moto, &user, "default");
    sandbox
        .run(&["123456"])
        .success()
        .stderr_has("profile 'default'");

    sandbox.write(
        ".aws/credentials",
        &format!(
            "[team]\naws_access_key_id = {}\naws_secret_access_key = {}\n",
            user.access_key_id, user.secret_access_key
        ),
    );
    sandbox.set("AWS_PROFILE", "team");
    sandbox
        .run(&["222222"])
        .success()
        .stderr_has("profile 'team'");
    // --profile and the positional agree with each other and beat AWS_PROFILE.
    sandbox.set("AWS_PROFILE", "nonexistent");
    sandbox
        .run(&["--profile", "team", "--code", "233333"])
        .success();
    sandbox.run(&["team", "244444"]).success();
}

/// Issue 9.1: `AWS_DEFAULT_PROFILE` names the profile as the AWS CLI reads
/// it; both variables set to different profiles is refused, naming both.
#[test]
fn aws_default_profile_is_read_and_a_conflict_refused() {
    let moto = need!(moto());
    let user = moto.user(1);
    let mut sandbox = Sandbox::with_user(moto, &user, "team");
    sandbox.set("AWS_DEFAULT_PROFILE", "team");
    sandbox
        .run(&["123456"])
        .success()
        .stderr_has("profile 'team'");
    sandbox.set("AWS_PROFILE", "team");
    sandbox.run(&["123456"]).success();
    sandbox.set("AWS_PROFILE", "other");
    sandbox.run(&["123456"]).failure(2).stderr_has(
        "AWS_DEFAULT_PROFILE ('team') and AWS_PROFILE ('other') name different profiles",
    );
    // Naming the profile settles it.
    sandbox.run(&["123456", "team"]).success();
}

/// A known device costs exactly one request: GetSessionToken.
#[test]
fn mfa_serial_in_the_config_skips_discovery() {
    let moto = need!(moto());
    let user = moto.user(2);
    let sandbox = Sandbox::with_user(moto, &user, "work");
    sandbox.write(
        ".aws/config",
        &format!(
            "[profile work]\nmfa_serial = {}\nduration_seconds = 3600\nregion = eu-west-1\n",
            user.serials[1]
        ),
    );
    sandbox.run(&["123456", "work"]).success();
    let requests = moto.requests_signed_by(&user.access_key_id);
    assert_eq!(requests.len(), 1, "{requests:#?}");
    assert_eq!(requests[0].action(), "GetSessionToken");
    assert_eq!(requests[0].params["SerialNumber"], user.serials[1]);
    assert_eq!(requests[0].params["DurationSeconds"], "3600");
}

#[test]
fn serial_number_flag_and_duration_flag() {
    let moto = need!(moto());
    let user = moto.user(2);
    let sandbox = Sandbox::with_user(moto, &user, "work");
    sandbox
        .run(&[
            "work",
            "-c",
            "123456",
            "--serial-number",
            &user.serials[0],
            "--duration",
            "90m",
        ])
        .success();
    let requests = moto.requests_signed_by(&user.access_key_id);
    assert_eq!(requests.len(), 1, "{requests:#?}");
    assert_eq!(requests[0].params["SerialNumber"], user.serials[0]);
    assert_eq!(requests[0].params["DurationSeconds"], "5400");
}

#[test]
fn two_devices_and_no_terminal_is_an_error_that_lists_them() {
    let moto = need!(moto());
    let user = moto.user(2);
    let sandbox = Sandbox::with_user(moto, &user, "work");
    let run = sandbox.run(&["123456", "work"]);
    run.failure(1)
        .stderr_has(&user.serials[0])
        .stderr_has(&user.serials[1])
        .stderr_has("--serial-number")
        .stderr_has("mfa_serial");
    let requests = moto.requests_signed_by(&user.access_key_id);
    assert!(
        requests.iter().all(|r| r.action() != "GetSessionToken"),
        "{requests:#?}"
    );
}

#[test]
fn no_device_says_mfa_is_not_set_up() {
    let moto = need!(moto());
    let user = moto.user(0);
    let sandbox = Sandbox::with_user(moto, &user, "work");
    sandbox
        .run(&["123456", "work"])
        .failure(1)
        .stderr_has("MFA is not set up for the user of profile 'work'")
        .stderr_has("hint: set up a virtual one with: mfa-session enroll work;");
    // doctor names the same command (the first-hour issue: hints agreed not).
    let doctor = sandbox.run(&["doctor", "work"]);
    assert!(
        doctor.stdout.contains("mfa-session enroll work"),
        "{doctor:#?}"
    );
}

#[test]
fn clear_unsets_everything_without_profile_or_request() {
    // No profile files and an endpoint that does not exist: --clear needs neither.
    let mut sandbox = Sandbox::new(None);
    sandbox.set("AWS_ENDPOINT_URL", "http://127.0.0.1:1");
    let run = sandbox.run(&["--clear"]);
    run.success();
    assert_eq!(run.stderr, "");
    let lines: Vec<&str> = run.stdout.lines().collect();
    // The session's variables, and those that compete with it (issue 8.7).
    let expected: Vec<String> = VARS
        .iter()
        .chain(&[
            "AWS_PROFILE",
            "AWS_DEFAULT_PROFILE",
            "AWS_REGION",
            "AWS_DEFAULT_REGION",
        ])
        .map(|v| format!("unset {v}"))
        .collect();
    assert_eq!(lines, expected);

    let prelude: String = VARS.iter().map(|v| format!("export {v}=stale\n")).collect();
    for shell in [&["bash"][..], &["dash"]] {
        need!(tool(shell[0]));
        let mut names = VARS.to_vec();
        names.push("HOME");
        let values = source_posix(
            shell,
            &format!("{prelude}export HOME=/kept"),
            &run.stdout,
            &names,
        );
        assert_eq!(&values[..5], &[None, None, None, None, None]);
        assert_eq!(
            values[5].as_deref(),
            Some("/kept"),
            "other variables are left alone"
        );
    }
}

#[test]
fn bad_codes_are_refused_before_any_request() {
    let moto = need!(moto());
    let user = moto.user(1);
    let sandbox = Sandbox::with_user(moto, &user, "work");
    for args in [
        &["12345", "work"][..],
        &["1234567", "work"],
        &["--code", "abcdef", "work"],
        &["--code", "12 345", "work"],
        &["١٢٣٤٥٦", "work"],
        &["123456", "654321"],
        &["123456", "work", "--code", "123456"],
    ] {
        sandbox.run(args).failure(2);
    }
    sandbox
        .run(&["12345", "work"])
        .stderr_has("the MFA code must be 6 digits, not 5");
    assert!(moto.requests_signed_by(&user.access_key_id).is_empty());
}

#[test]
fn bad_durations_are_refused_before_any_request() {
    let moto = need!(moto());
    let user = moto.user(1);
    let sandbox = Sandbox::with_user(moto, &user, "work");
    for duration in ["10m", "37h", "xyz", "0", "12x", "899"] {
        sandbox
            .run(&["123456", "work", "--duration", duration])
            .failure(2)
            .stderr_has("--duration");
    }
    sandbox.write(".aws/config", "[profile work]\nduration_seconds = 200000\n");
    sandbox
        .run(&["123456", "work"])
        .failure(1)
        .stderr_has("duration_seconds of profile 'work'");
    assert!(moto.requests_signed_by(&user.access_key_id).is_empty());
}

#[test]
fn no_code_and_no_terminal_fails_at_once() {
    let moto = need!(moto());
    let user = moto.user(1);
    let sandbox = Sandbox::with_user(moto, &user, "work");
    let started = Instant::now();
    sandbox
        .run(&["work"])
        .failure(1)
        .stderr_has("no MFA code given, and there is no terminal to ask on")
        .stderr_has("hint: pass the code");
    assert!(started.elapsed() < Duration::from_secs(10));
}

#[test]
fn quiet_says_nothing_on_success() {
    let moto = need!(moto());
    let user = moto.user(1);
    let sandbox = Sandbox::with_user(moto, &user, "work");
    let run = sandbox.run(&["123456", "work", "--quiet"]);
    run.success();
    assert_eq!(run.stderr, "");
    assert_eq!(run.stdout.lines().count(), 5);
}

#[test]
fn profile_problems_name_the_profile_and_file() {
    let moto = need!(moto());
    let user = moto.user(1);
    let sandbox = Sandbox::with_user(moto, &user, "work");
    let credentials = sandbox.path(".aws/credentials").display().to_string();
    sandbox
        .run(&["123456", "missing"])
        .failure(1)
        .stderr_has(&format!("profile 'missing' not found in {credentials}"))
        .stderr_has("hint: profiles found: work");

    sandbox.write(
        ".aws/credentials",
        "[sess]\naws_access_key_id = ASIAEXAMPLE\naws_secret_access_key = s\naws_session_token = t\n\
         [half]\naws_access_key_id = AKIAEXAMPLE\n[broken\n",
    );
    sandbox
        .run(&["123456", "sess"])
        .failure(1)
        .stderr_has(&format!("malformed {credentials}:7"));
    sandbox.write(
        ".aws/credentials",
        "[sess]\naws_access_key_id = AKIAEXAMPLE\naws_secret_access_key = s\naws_session_token = t\n\
         [half]\naws_access_key_id = AKIAEXAMPLE\n",
    );
    sandbox
        .run(&["123456", "sess"])
        .failure(1)
        .stderr_has("profile 'sess' holds session credentials");
    sandbox
        .run(&["123456", "half"])
        .failure(1)
        .stderr_has("partial credentials: profile 'half' has aws_access_key_id (");

    let empty = Sandbox::new(Some(moto));
    empty
        .run(&["123456", "work"])
        .failure(1)
        .stderr_has("no AWS profile files");
}

#[test]
fn unreachable_endpoint_is_reported_in_bounded_time() {
    let moto = need!(moto());
    let user = moto.user(1);
    let mut sandbox = Sandbox::with_user(moto, &user, "work");
    // A port with nothing listening.
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    sandbox.set("AWS_ENDPOINT_URL", &format!("http://127.0.0.1:{port}"));
    sandbox
        .run(&["024680", "work", "--serial-number", &user.serials[0]])
        .failure(1)
        .keeps_secret(&[&user.secret_access_key, "024680"])
        .stderr_has(&format!("cannot reach STS at http://127.0.0.1:{port}"))
        .stderr_has("hint: check the network");
}

#[test]
fn silent_endpoint_times_out_in_seconds() {
    let moto = need!(moto());
    let user = moto.user(1);
    let mut sandbox = Sandbox::with_user(moto, &user, "work");
    // Accepts connections and never answers.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let holder = std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in listener.incoming().take(8) {
            held.push(stream);
        }
        std::thread::sleep(Duration::from_secs(30));
    });
    sandbox.set("AWS_ENDPOINT_URL", &format!("http://127.0.0.1:{port}"));
    sandbox.set("MFA_SESSION_TIMEOUT", "2");
    let started = Instant::now();
    sandbox
        .run(&["024680", "work", "--serial-number", &user.serials[0]])
        .failure(1)
        .keeps_secret(&[&user.secret_access_key, "024680"])
        .stderr_has("did not answer within 2s");
    assert!(
        started.elapsed() < Duration::from_secs(8),
        "took {:?}",
        started.elapsed()
    );
    drop(holder);
}

/// `AWS_ENDPOINT_URL_STS` and `_IAM` win over `AWS_ENDPOINT_URL`.
#[test]
fn service_specific_endpoints_win() {
    let moto = need!(moto());
    let user = moto.user(1);
    let mut sandbox = Sandbox::with_user(moto, &user, "work");
    // The general endpoint leads nowhere; only the service ones reach moto.
    sandbox.set("AWS_ENDPOINT_URL", "http://127.0.0.1:1");
    sandbox.set("AWS_ENDPOINT_URL_STS", &moto.url);
    sandbox.set("AWS_ENDPOINT_URL_IAM", &moto.url);
    sandbox.run(&["123456", "work", "--no-cache"]).success();
    let requests = moto.requests_signed_by(&user.access_key_id);
    assert!(requests.iter().any(|r| r.action() == "ListMFADevices"));
    assert!(requests.iter().any(|r| r.action() == "GetSessionToken"));

    // Without the IAM one, listing goes to the dead general endpoint.
    sandbox.set("AWS_ENDPOINT_URL_IAM", "");
    sandbox
        .run(&["123456", "work", "--no-cache"])
        .failure(1)
        .stderr_has("could not list the MFA devices of profile 'work': cannot reach IAM at http://127.0.0.1:1");
}

/// The first-hour issue, item 10: a mistyped subcommand is read as a
/// profile name; the hint asks whether the subcommand was meant.
#[test]
fn a_mistyped_subcommand_gets_a_did_you_mean() {
    let moto = need!(moto());
    let user = moto.user(1);
    let sandbox = Sandbox::with_device(moto, &user, "work");
    sandbox
        .run(&["staus"])
        .failure(1)
        .stderr_has("profile 'staus' not found")
        .stderr_has(
            "hint: did you mean `mfa-session status`? ('staus' was read as a profile name)",
        );
    sandbox
        .run(&["123456", "dcotor"])
        .failure(1)
        .stderr_has("did you mean `mfa-session doctor`?");
    // A profile name that is no command's keeps the list of profiles.
    sandbox
        .run(&["123456", "wrok"])
        .failure(1)
        .stderr_has("hint: profiles found: work");
    assert!(moto.requests_signed_by(&user.access_key_id).is_empty());
}

/// The first-hour issue, the smaller frictions: clap's sentences kept
/// apart, help texts that name only what the command has, and no pointer to
/// a README a binary user does not have.
#[test]
fn help_and_usage_errors_say_only_what_is_there() {
    let sandbox = Sandbox::new(None);
    sandbox.run(&["--forse"]).failure(2).stderr_has(
        "unexpected argument '--forse' found; tip: a similar argument exists: '--force'",
    );
    let help = |args: &[&str]| {
        let run = sandbox.run(args);
        run.success();
        run.stdout.clone()
    };
    let credential_process = help(&["help", "credential-process"]);
    assert!(
        !credential_process.contains("positional"),
        "{credential_process}"
    );
    let exec = help(&["help", "exec"]);
    assert!(!exec.contains("rotate"), "{exec}");
    let top = help(&["--help"]);
    assert!(!top.contains("README"), "{top}");
    assert!(top.contains("man mfa-session"), "{top}");
}

/// The workplace issue, item 5: a user whose only MFA device is a security
/// key is told that GetSessionToken cannot use it and what works instead,
/// with no request that spends anything; doctor says the same.
#[test]
fn a_user_with_only_a_security_key_is_told_what_works() {
    let endpoint = FakeEndpoint::start(|request, _| {
        match request.action() {
        "GetCallerIdentity" => Reply::Answer(
            200,
            "<GetCallerIdentityResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\"><GetCallerIdentityResult>\
             <Arn>arn:aws:iam::123456789012:user/alice</Arn><UserId>AIDAEXAMPLE</UserId><Account>123456789012</Account>\
             </GetCallerIdentityResult><ResponseMetadata><RequestId>r</RequestId></ResponseMetadata></GetCallerIdentityResponse>"
                .to_owned(),
        ),
        "ListMFADevices" => Reply::Answer(
            200,
            "<ListMFADevicesResponse xmlns=\"https://iam.amazonaws.com/doc/2010-05-08/\"><ListMFADevicesResult>\
             <IsTruncated>false</IsTruncated><MFADevices><member><UserName>alice</UserName>\
             <SerialNumber>arn:aws:iam::123456789012:u2f/user/alice/yubikey-ABCDEFGHIJKLMNOPQRSTUVWXYZ</SerialNumber>\
             <EnableDate>2024-01-01T00:00:00Z</EnableDate></member></MFADevices></ListMFADevicesResult>\
             <ResponseMetadata><RequestId>r</RequestId></ResponseMetadata></ListMFADevicesResponse>"
                .to_owned(),
        ),
        _ => Reply::Answer(500, String::new()),
    }
    });
    let sandbox = fake_sandbox(&endpoint.url);
    sandbox
        .run(&["123456", "work"])
        .failure(1)
        .stderr_has("has only FIDO security keys or passkeys as MFA devices, and GetSessionToken cannot use them")
        .stderr_has("hint: sign in with the browser instead: aws login --profile work; or add a virtual MFA device: mfa-session enroll work")
        .keeps_secret(&FAKE_SECRETS);
    let doctor = sandbox.run(&["doctor", "work"]);
    assert!(
        doctor
            .stdout
            .contains("FIDO security keys or passkeys, which GetSessionToken cannot use"),
        "{doctor:#?}"
    );
    let requests = endpoint.requests.lock().unwrap();
    assert!(
        requests.iter().all(|r| r.action() != "GetSessionToken"),
        "{requests:#?}"
    );
}
