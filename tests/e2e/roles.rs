//! Roles on top of one MFA session, against moto's AssumeRole: the chain,
//! who signs what, request counts with and without the caches, refusals
//! before any request, `--direct`, and the session used by the AWS CLI.

use crate::need;
use crate::support::*;

/// A user with one device, and roles `ops` (from the user) and `prod` (from
/// `ops`), configured the AWS CLI way.
struct Setup {
    user: User,
    sandbox: Sandbox,
    ops: String,
    admin: String,
}

fn setup(moto: &Moto) -> Setup {
    let user = moto.user(1);
    let ops = moto.role("ops");
    let admin = moto.role("admin");
    let sandbox = Sandbox::with_user(moto, &user, "identity");
    sandbox.write(
        ".aws/config",
        &format!(
            "[profile identity]\nmfa_serial = {serial}\n\
             [profile ops]\nrole_arn = {ops}\nsource_profile = identity\n\
             [profile prod]\nrole_arn = {admin}\nsource_profile = ops\nrole_session_name = alice\n\
             [profile other]\nrole_arn = {admin}\nsource_profile = identity\nrole_session_name = bob\n",
            serial = user.serials[0],
        ),
    );
    Setup {
        user,
        sandbox,
        ops,
        admin,
    }
}

/// The requests moto saw since `before` that this setup's chain made (tests
/// run at once): GetSessionToken signed by the user's key, and AssumeRole of
/// this setup's roles.
fn chain_requests(moto: &Moto, s: &Setup, before: usize) -> (Vec<Request>, Vec<Request>) {
    let seen: Vec<Request> = moto.requests().into_iter().skip(before).collect();
    let gst = seen
        .iter()
        .filter(|r| r.action() == "GetSessionToken")
        .filter(|r| r.access_key_id.as_deref() == Some(s.user.access_key_id.as_str()))
        .cloned()
        .collect();
    let ar = seen
        .iter()
        .filter(|r| r.action() == "AssumeRole")
        .filter(|r| {
            r.params
                .get("RoleArn")
                .is_some_and(|a| *a == s.ops || *a == s.admin)
        })
        .cloned()
        .collect();
    (gst, ar)
}

fn role_name(arn: &str) -> &str {
    arn.rsplit('/').next().unwrap()
}

/// The caller's ARN in a session of profile `prod`.
fn prod_arn(s: &Setup) -> String {
    format!(
        "arn:aws:sts::123456789012:assumed-role/{}/alice",
        role_name(&s.admin)
    )
}

/// The exported variables of a run, read back through bash.
fn exported(run: &Run) -> Vec<String> {
    source_posix(
        &["bash"],
        "",
        &run.stdout,
        &[
            "AWS_ACCESS_KEY_ID",
            "AWS_SECRET_ACCESS_KEY",
            "AWS_SESSION_TOKEN",
        ],
    )
    .into_iter()
    .map(|v| v.expect("exported"))
    .collect()
}

/// `aws sts get-caller-identity` with these credentials: the caller's ARN.
fn caller_arn(sandbox: &Sandbox, env: &[(&str, &str)]) -> String {
    let aws = aws_cli().expect("the AWS CLI");
    let mut cmd = aws_cli_command(&aws, sandbox, env);
    cmd.args([
        "sts",
        "get-caller-identity",
        "--query",
        "Arn",
        "--output",
        "text",
    ]);
    let output = cmd.output().expect("run the AWS CLI");
    assert!(
        output.status.success(),
        "aws: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap().trim().to_owned()
}

#[test]
fn a_two_hop_chain_signs_each_role_with_the_layer_below() {
    let moto = need!(moto());
    need!(aws_cli());
    let s = setup(moto);
    let before = moto.requests().len();
    let run = s.sandbox.run(&["123456", "prod"]);
    run.success()
        .stderr_has("session for profile 'prod' as arn:aws:sts::123456789012:assumed-role/")
        .stderr_has("; the MFA session of profile 'identity' has 1")
        .keeps_secret(&[&s.user.secret_access_key]);
    let (gst, ar) = chain_requests(moto, &s, before);
    assert_eq!(gst.len(), 1, "one MFA session");
    assert_eq!(
        gst[0].access_key_id.as_deref(),
        Some(s.user.access_key_id.as_str())
    );
    assert_eq!(ar.len(), 2, "one AssumeRole per hop");
    // From the root up: ops with the MFA session, then admin with ops's.
    assert_eq!(ar[0].params.get("RoleArn"), Some(&s.ops));
    assert_eq!(ar[1].params.get("RoleArn"), Some(&s.admin));
    assert_eq!(
        ar[1].params.get("RoleSessionName").map(String::as_str),
        Some("alice")
    );
    // Each signed by the layer below: what `mfa-session identity` and
    // `mfa-session ops` now print from the cache, without a request.
    let key_of = |profile: &str| {
        let run = s.sandbox.run(&[profile]);
        run.success();
        exported(&run)[0].clone()
    };
    assert_eq!(ar[0].access_key_id, Some(key_of("identity")));
    assert_eq!(ar[1].access_key_id, Some(key_of("ops")));
    for r in &ar {
        assert_ne!(
            r.access_key_id.as_deref(),
            Some(s.user.access_key_id.as_str())
        );
        assert!(
            !r.params.contains_key("TokenCode"),
            "no code with AssumeRole"
        );
        assert!(!r.params.contains_key("SerialNumber"));
        assert_eq!(
            r.params.get("DurationSeconds").map(String::as_str),
            Some("3600")
        );
    }
    // The AWS CLI accepts the role's credentials, as the assumed role.
    let values = exported(&run);
    let arn = caller_arn(
        &s.sandbox,
        &[
            ("AWS_ACCESS_KEY_ID", &values[0]),
            ("AWS_SECRET_ACCESS_KEY", &values[1]),
            ("AWS_SESSION_TOKEN", &values[2]),
        ],
    );
    assert_eq!(arn, prod_arn(&s));
}

#[test]
fn request_counts_with_each_layer_cached() {
    let moto = need!(moto());
    let s = setup(moto);
    let counts = |before: usize| {
        let (gst, ar) = chain_requests(moto, &s, before);
        (gst.len(), ar.len())
    };
    // Cold: the MFA session and one AssumeRole per hop.
    let before = moto.requests().len();
    s.sandbox.run(&["123456", "prod"]).success();
    assert_eq!(counts(before), (1, 2));
    // The role cached: nothing at all, and no code needed.
    let before = moto.requests().len();
    s.sandbox
        .run(&["prod"])
        .success()
        .stderr_has("reusing the cached session for profile 'prod'");
    assert_eq!(counts(before), (0, 0), "no request");
    // Another role on the same MFA session: one AssumeRole, no code.
    let before = moto.requests().len();
    s.sandbox.run(&["other"]).success();
    assert_eq!(counts(before), (0, 1));
    // The role sessions too short, the MFA session good: one per hop.
    let before = moto.requests().len();
    s.sandbox.run(&["prod", "--min-remaining", "61m"]).success();
    assert_eq!(counts(before), (0, 2));
    // status shows both layers; forget prod takes only its role sessions.
    let status = s.sandbox.run(&["status", "--json"]);
    let report: serde_json::Value = serde_json::from_str(&status.success().stdout).unwrap();
    let roles: Vec<&str> = report["roles"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["profile"].as_str().unwrap())
        .collect();
    assert_eq!(roles, ["ops", "other", "prod"]);
    assert_eq!(report["cached"][0]["profile"], "identity");
    s.sandbox.run(&["forget", "prod"]).success();
    let before = moto.requests().len();
    s.sandbox.run(&["prod"]).success();
    assert_eq!(counts(before), (0, 1), "ops is still cached");
    // forget identity takes its MFA session and every role on it.
    s.sandbox.run(&["forget", "identity"]).success();
    assert!(s.sandbox.cache_files("role-").is_empty());
    assert!(s.sandbox.cache_files("session-").is_empty());
    s.sandbox
        .run(&["prod"])
        .failure(1)
        .stderr_has("no MFA code given, and there is no terminal to ask on");
}

#[test]
fn refusals_come_before_any_request() {
    let moto = need!(moto());
    let sandbox = Sandbox::new(Some(moto));
    let key = unique("AKIAREFUSE").replace('x', "X");
    sandbox.write(
        ".aws/credentials",
        &format!(
            "[identity]\naws_access_key_id = {key}\naws_secret_access_key = s\n\
             [session]\naws_access_key_id = ASIASESSION\naws_secret_access_key = s\naws_session_token = t\n"
        ),
    );
    let role = "arn:aws:iam::123456789012:role/r";
    sandbox.write(
        ".aws/config",
        &format!(
            "[profile identity]\nmfa_serial = arn:aws:iam::123456789012:mfa/x\n\
             [profile a]\nrole_arn = {role}\nsource_profile = b\n\
             [profile b]\nrole_arn = {role}\nsource_profile = a\n\
             [profile lost]\nrole_arn = {role}\nsource_profile = nowhere\n\
             [profile ec2]\nrole_arn = {role}\ncredential_source = Ec2InstanceMetadata\n\
             [profile long]\nrole_arn = {role}\nsource_profile = identity\nduration_seconds = 7200\n\
             [profile on-session]\nrole_arn = {role}\nsource_profile = session\n"
        ),
    );
    for (args, said) in [
        (
            vec!["a"],
            "the source_profile links go round in a circle: a -> b -> a",
        ),
        (vec!["lost"], "profile 'nowhere' not found in "),
        (
            vec!["ec2"],
            "profile 'ec2' takes its role's source from credential_source (",
        ),
        (
            vec!["long"],
            "role profile 'long' asks for a 2h session (duration_seconds at ",
        ),
        (
            vec!["identity", "--direct"],
            "--direct assumes a role with MFA, and profile 'identity' has no role_arn",
        ),
        (
            vec!["on-session"],
            "profile 'session' holds session credentials",
        ),
    ] {
        let mut full = vec!["123456"];
        full.extend(args);
        let run = sandbox.run(&full);
        assert_ne!(run.code, Some(0), "{full:?}");
        run.stderr_has(said);
        assert_eq!(run.stdout, "");
    }
    let run = sandbox.run(&["123456", "identity", "--direct"]);
    run.failure(2);
    let run = sandbox.run(&["123456", "long"]);
    run.stderr_has("role chaining")
        .stderr_has("hint: ask for 1 hour or less");
    // --duration overrides the profile, within the limit.
    sandbox.run(&["123456", "long", "-d", "45m"]).success();
    assert_eq!(
        moto.requests_signed_by(&key).len(),
        1,
        "only the last run reached moto"
    );
}

#[test]
fn direct_assumes_the_role_with_mfa_from_the_long_term_key() {
    let moto = need!(moto());
    let s = setup(moto);
    let before = moto.requests().len();
    s.sandbox
        .run(&["123456", "other", "--direct", "-d", "2h"])
        .success();
    let (gst, ar) = chain_requests(moto, &s, before);
    assert!(gst.is_empty(), "no MFA session");
    assert_eq!(ar.len(), 1);
    assert_eq!(
        ar[0].access_key_id.as_deref(),
        Some(s.user.access_key_id.as_str())
    );
    assert_eq!(
        ar[0].params.get("TokenCode").map(String::as_str),
        Some("123456")
    );
    assert_eq!(ar[0].params.get("SerialNumber"), Some(&s.user.serials[0]));
    assert_eq!(
        ar[0].params.get("DurationSeconds").map(String::as_str),
        Some("7200")
    );
    // Without --direct, 2 hours is refused before any request.
    s.sandbox
        .run(&["123456", "other", "-d", "2h", "--force"])
        .failure(1)
        .stderr_has("AWS allows at most 1 hour for a role assumed with temporary credentials");
}

#[test]
fn credential_process_and_exec_serve_a_role() {
    let moto = need!(moto());
    need!(aws_cli());
    let mut s = setup(moto);
    s.sandbox.set("AWS_DEFAULT_REGION", "us-east-1");
    s.sandbox.run(&["123456", "prod"]).success();
    let bin = env!("CARGO_BIN_EXE_mfa-session");
    let mut config = std::fs::read_to_string(s.sandbox.path(".aws/config")).unwrap();
    config.push_str(&format!(
        "[profile via-process]\ncredential_process = {bin} credential-process --profile prod\n"
    ));
    s.sandbox.write(".aws/config", &config);
    let expected = prod_arn(&s);
    assert_eq!(
        caller_arn(&s.sandbox, &[("AWS_PROFILE", "via-process")]),
        expected
    );
    let aws = aws_cli().unwrap();
    let aws = aws.to_str().unwrap();
    let run = s.sandbox.run(&[
        "exec",
        "prod",
        "--",
        aws,
        "sts",
        "get-caller-identity",
        "--query",
        "Arn",
        "--output",
        "text",
    ]);
    assert_eq!(run.success().stdout.trim(), expected);
}

#[test]
fn write_profile_and_status_for_a_role() {
    let moto = need!(moto());
    need!(aws_cli());
    let mut s = setup(moto);
    s.sandbox.set("AWS_DEFAULT_REGION", "us-east-1");
    s.sandbox
        .run(&["123456", "prod", "--write-profile", "prod-mfa"])
        .success()
        .stderr_has("wrote it to [prod-mfa] in ");
    let expected = prod_arn(&s);
    assert_eq!(
        caller_arn(&s.sandbox, &[("AWS_PROFILE", "prod-mfa")]),
        expected
    );

    // status PROFILE: the chain, and where each part comes from.
    let run = s.sandbox.run(&["status", "prod", "--json"]);
    let report: serde_json::Value = serde_json::from_str(&run.success().stdout).unwrap();
    let p = &report["profile"];
    assert_eq!(p["root"], "identity");
    let credentials = s.sandbox.path(".aws/credentials").display().to_string();
    assert_eq!(p["key_from"], format!("{credentials}:2"));
    let roles: Vec<&str> = p["roles"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["profile"].as_str().unwrap())
        .collect();
    assert_eq!(roles, ["ops", "prod"]);
    assert_eq!(p["duration_seconds"]["value"], "3600");
    assert_eq!(p["duration_seconds"]["from"], "default for a role");
    assert_eq!(p["mfa_serial"]["value"], s.user.serials[0].as_str());
    let human = s.sandbox.run(&["status", "prod"]);
    assert!(
        human
            .success()
            .stdout
            .contains(&format!("  role:         {} (profile 'prod')\n", s.admin)),
        "{}",
        human.stdout
    );
    assert!(
        human.stdout.contains("cached: role profile 'prod' ("),
        "{}",
        human.stdout
    );
}

/// The workplace issue, item 3: after `mfa-session CODE prod` for a role
/// profile with `mfa_serial`, the AWS CLI uses the same role session from
/// its own cache with no prompt (its stdin is closed: a prompt would fail),
/// and `forget` takes it out again.
#[test]
fn the_aws_cli_shares_the_role_session() {
    let moto = need!(moto());
    let aws = need!(aws_cli());
    let user = moto.user(1);
    let ops = moto.role("ops");
    let sandbox = Sandbox::with_user(moto, &user, "identity");
    sandbox.write(
        ".aws/config",
        &format!(
            "[profile identity]\n[profile prod]\nrole_arn = {ops}\nsource_profile = identity\nmfa_serial = {}\n",
            user.serials[0]
        ),
    );
    let cli = |args: &[&str]| {
        aws_cli_command(&aws, &sandbox, &[])
            .args(["--profile", "prod"])
            .args(args)
            .stdin(std::process::Stdio::null())
            .output()
            .unwrap()
    };
    let assumed = || {
        moto.requests()
            .iter()
            .filter(|r| r.action() == "AssumeRole" && r.params.get("RoleArn") == Some(&ops))
            .count()
    };
    // Before: the AWS CLI would need a code, and has no terminal to ask.
    let before = cli(&["sts", "get-caller-identity"]);
    assert!(!before.status.success(), "the CLI asked for no code?");
    assert_eq!(assumed(), 0);

    sandbox.run(&["864209", "prod"]).success();
    assert_eq!(assumed(), 1);
    let identity = cli(&[
        "sts",
        "get-caller-identity",
        "--query",
        "Arn",
        "--output",
        "text",
    ]);
    assert!(
        identity.status.success(),
        "{}",
        String::from_utf8_lossy(&identity.stderr)
    );
    let arn = String::from_utf8_lossy(&identity.stdout);
    assert!(arn.contains(":assumed-role/"), "{arn}");
    assert_eq!(assumed(), 1, "the AWS CLI assumed no role of its own");
    let cached: Vec<_> = std::fs::read_dir(sandbox.path(".aws/cli/cache"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(cached.len(), 1, "{cached:?}");
    let mode = std::os::unix::fs::PermissionsExt::mode(
        &std::fs::metadata(&cached[0]).unwrap().permissions(),
    );
    assert_eq!(mode & 0o777, 0o600);

    sandbox
        .run(&["forget", "prod"])
        .success()
        .stderr_has("removed 1 role session from the AWS CLI's cache");
    assert!(!cached[0].exists());
    assert!(!cli(&["sts", "get-caller-identity"]).status.success());
}
