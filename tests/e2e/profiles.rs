//! Profiles mean what they mean to the AWS CLI: a differential test of
//! mfa-session against botocore, the AWS CLI's own profile reader.
//!
//! For every file in the table, `botocore_resolve.py` asks botocore which
//! access key, region, STS endpoint and MFA serial `aws --profile` would
//! use; mfa-session then gets a session with the same files, and what it
//! really sent is read back from the server that received it (moto's
//! recording, or the decoy endpoint's): the signing key, the signing region,
//! the server, and the `SerialNumber` parameter. A case either agrees, or is
//! a refusal mfa-session makes on purpose (one line on stderr, no request),
//! or is a listed difference with its reason, which must really differ.

use std::process::{Command, Stdio};

use crate::need;
use crate::support::*;

#[derive(Clone, Copy, Debug)]
enum Expect {
    Agree,
    /// mfa-session refuses, saying this, and sends nothing.
    Refuse(&'static str),
    /// botocore assumes the role; so does mfa-session, with an MFA session
    /// of the source profile's key (K2), never the role profile's own (K1).
    Role,
    /// mfa-session deliberately resolves something else (`why`), saying
    /// `stderr` (may be empty).
    Differ {
        why: &'static str,
        stderr: &'static str,
    },
}
use Expect::*;

struct Case {
    name: &'static str,
    config: &'static str,
    credentials: &'static str,
    profile: Option<&'static str>,
    env: &'static [(&'static str, &'static str)],
    /// Where the files go under HOME, when not `.aws/`.
    at: Option<(&'static str, &'static str)>,
    expect: Expect,
}

const fn case(
    name: &'static str,
    config: &'static str,
    credentials: &'static str,
    expect: Expect,
) -> Case {
    Case {
        name,
        config,
        credentials,
        profile: Some("w"),
        env: &[],
        at: None,
        expect,
    }
}

impl Case {
    const fn env(mut self, env: &'static [(&'static str, &'static str)]) -> Case {
        self.env = env;
        self
    }
    const fn profile(mut self, profile: Option<&'static str>) -> Case {
        self.profile = profile;
        self
    }
    const fn at(mut self, config: &'static str, credentials: &'static str) -> Case {
        self.at = Some((config, credentials));
        self
    }
}

/// Profile `w`: an endpoint (moto) and a serial, in the config file.
const W: &str =
    "[profile w]\nendpoint_url = {MOTO}\nmfa_serial = arn:aws:iam::123456789012:mfa/w\n";
/// Profile `w`'s key pair in the credentials file.
const KEYS: &str = "[w]\naws_access_key_id = {K1}\naws_secret_access_key = {S1}\n";
const AB: &str = "[profile a]\nendpoint_url = {MOTO}\nmfa_serial = arn:aws:iam::123456789012:mfa/a\n\
                  [profile b]\nendpoint_url = {MOTO}\nmfa_serial = arn:aws:iam::123456789012:mfa/b\n";
const AB_KEYS: &str = "[a]\naws_access_key_id = {K1}\naws_secret_access_key = {S1}\n\
                       [b]\naws_access_key_id = {K2}\naws_secret_access_key = {S2}\n";

fn cases() -> Vec<Case> {
    vec![
        // 1. Which profile.
        case("AWS_DEFAULT_PROFILE names it", AB, AB_KEYS, Agree)
            .profile(None)
            .env(&[("AWS_DEFAULT_PROFILE", "b")]),
        case("AWS_PROFILE names it", AB, AB_KEYS, Agree)
            .profile(None)
            .env(&[("AWS_PROFILE", "b")]),
        case("both name the same profile", AB, AB_KEYS, Agree)
            .profile(None)
            .env(&[("AWS_PROFILE", "b"), ("AWS_DEFAULT_PROFILE", "b")]),
        case(
            "both name different profiles",
            AB,
            AB_KEYS,
            Refuse("AWS_DEFAULT_PROFILE ('a') and AWS_PROFILE ('b') name different profiles"),
        )
        .profile(None)
        .env(&[("AWS_DEFAULT_PROFILE", "a"), ("AWS_PROFILE", "b")]),
        // 2. Credentials from elsewhere, with old static keys left behind.
        case(
            "role_arn and static keys: the role, from the source profile's key",
            "[profile w]\nendpoint_url = {MOTO}\nmfa_serial = arn:aws:iam::123456789012:mfa/w\n\
             role_arn = arn:aws:iam::123456789012:role/diff-{K1}\nsource_profile = src\n\
             [profile src]\nendpoint_url = {MOTO}\n",
            "[w]\naws_access_key_id = {K1}\naws_secret_access_key = {S1}\n\
             [src]\naws_access_key_id = {K2}\naws_secret_access_key = {S2}\n",
            Role,
        ),
        case(
            "sso_session and static keys",
            "[profile w]\nendpoint_url = {MOTO}\nmfa_serial = arn:aws:iam::123456789012:mfa/w\n\
             sso_session = corp\nsso_account_id = 123456789012\nsso_role_name = Admin\n\
             [sso-session corp]\nsso_region = us-east-1\nsso_start_url = https://corp.awsapps.com/start\n",
            KEYS,
            Refuse("signs in through IAM Identity Center: sso_session at "),
        ),
        case(
            "legacy sso_start_url and static keys",
            "[profile w]\nendpoint_url = {MOTO}\nmfa_serial = arn:aws:iam::123456789012:mfa/w\n\
             sso_start_url = https://corp.awsapps.com/start\nsso_region = us-east-1\n\
             sso_account_id = 123456789012\nsso_role_name = Admin\n",
            KEYS,
            Refuse("signs in through IAM Identity Center: sso_start_url at "),
        ),
        case(
            "credential_process and static keys",
            "[profile w]\nendpoint_url = {MOTO}\nmfa_serial = arn:aws:iam::123456789012:mfa/w\n\
             credential_process = /bin/false\n",
            KEYS,
            // The credentials file's key comes before the process, for
            // botocore as for the SDKs.
            Agree,
        ),
        case(
            "credential_process and static keys in the config file",
            "[profile w]\nendpoint_url = {MOTO}\nmfa_serial = arn:aws:iam::123456789012:mfa/w\n\
             credential_process = /bin/false\naws_access_key_id = {K1}\naws_secret_access_key = {S1}\n",
            "",
            Refuse("(the AWS CLI runs it before it looks at the static key in the config file)"),
        ),
        case(
            "credential_source and static keys",
            "[profile w]\nendpoint_url = {MOTO}\nmfa_serial = arn:aws:iam::123456789012:mfa/w\n\
             credential_source = Environment\n",
            KEYS,
            Refuse("gets credentials from its environment: credential_source at "),
        ),
        case(
            "web_identity_token_file and static keys",
            "[profile w]\nendpoint_url = {MOTO}\nmfa_serial = arn:aws:iam::123456789012:mfa/w\n\
             web_identity_token_file = /nonexistent/token\n",
            KEYS,
            Refuse("gets credentials from a web identity token"),
        ),
        // 3. The key pair comes from one file.
        case(
            "both files hold a pair: the credentials file's",
            "[profile w]\nendpoint_url = {MOTO}\nmfa_serial = arn:aws:iam::123456789012:mfa/w\n\
             aws_access_key_id = {K2}\naws_secret_access_key = {S2}\n",
            KEYS,
            Agree,
        ),
        case(
            "a pair in the config file only",
            "[profile w]\nendpoint_url = {MOTO}\nmfa_serial = arn:aws:iam::123456789012:mfa/w\n\
             aws_access_key_id = {K2}\naws_secret_access_key = {S2}\n",
            "",
            Agree,
        ),
        case(
            "an id in the credentials file, a pair in the config file",
            "[profile w]\nendpoint_url = {MOTO}\nmfa_serial = arn:aws:iam::123456789012:mfa/w\n\
             aws_access_key_id = {K2}\naws_secret_access_key = {S2}\n",
            "[w]\naws_access_key_id = {K1}\n",
            Refuse("partial credentials: profile 'w' has aws_access_key_id ("),
        ),
        case(
            "the id in the config file, the secret in the credentials file",
            "[profile w]\nendpoint_url = {MOTO}\nmfa_serial = arn:aws:iam::123456789012:mfa/w\n\
             aws_access_key_id = {K2}\n",
            "[w]\naws_secret_access_key = {S2}\n",
            Refuse("partial credentials"),
        ),
        case(
            "a lone secret in the credentials file, a pair in the config file",
            "[profile w]\nendpoint_url = {MOTO}\nmfa_serial = arn:aws:iam::123456789012:mfa/w\n\
             aws_access_key_id = {K2}\naws_secret_access_key = {S2}\n",
            "[w]\naws_secret_access_key = {S1}\n",
            Agree,
        ),
        case(
            "a session token in the other file",
            "[profile w]\nendpoint_url = {MOTO}\nmfa_serial = arn:aws:iam::123456789012:mfa/w\n\
             aws_session_token = leftover\n",
            KEYS,
            Agree,
        ),
        // 4. Profile names.
        case(
            "a single-quoted name",
            "[profile 'my work']\nendpoint_url = {MOTO}\nmfa_serial = arn:aws:iam::123456789012:mfa/q\n",
            "[my work]\naws_access_key_id = {K1}\naws_secret_access_key = {S1}\n",
            Agree,
        )
        .profile(Some("my work")),
        case(
            "a double-quoted name",
            "[profile \"my work\"]\nendpoint_url = {MOTO}\nmfa_serial = arn:aws:iam::123456789012:mfa/q\n",
            "[my work]\naws_access_key_id = {K1}\naws_secret_access_key = {S1}\n",
            Agree,
        )
        .profile(Some("my work")),
        case(
            "an unquoted name with a space",
            "[profile my work]\nendpoint_url = {MOTO}\nmfa_serial = arn:aws:iam::123456789012:mfa/q\n",
            "",
            Refuse("write [profile 'my work']"),
        )
        .profile(Some("my work")),
        case(
            "a header with spaces inside the brackets",
            "[ profile w ]\nendpoint_url = {DECOY}\nmfa_serial = arn:aws:iam::123456789012:mfa/w\n",
            "[w]\naws_access_key_id = {K1}\naws_secret_access_key = {S1}\nendpoint_url = {MOTO}\n",
            Refuse("the header [ profile w ] ("),
        ),
        case(
            "[default ] with a trailing space",
            "[default ]\nendpoint_url = {DECOY}\nmfa_serial = arn:aws:iam::123456789012:mfa/d\n",
            "[default]\naws_access_key_id = {K1}\naws_secret_access_key = {S1}\nendpoint_url = {MOTO}\n",
            Refuse("names profile 'default' to only one of the AWS CLI and the AWS SDKs"),
        )
        .profile(Some("default")),
        case(
            "a credentials header with spaces",
            W,
            "[ w ]\naws_access_key_id = {K1}\naws_secret_access_key = {S1}\n",
            Refuse("the header [ w ] ("),
        ),
        case(
            "[profiles w]",
            "[profiles w]\nendpoint_url = {DECOY}\nmfa_serial = arn:aws:iam::123456789012:mfa/w\n",
            "[w]\naws_access_key_id = {K1}\naws_secret_access_key = {S1}\nendpoint_url = {MOTO}\n",
            Refuse("the header [profiles w] ("),
        ),
        case(
            "[DEFAULT]",
            "[DEFAULT]\nregion = eu-west-1\n[profile w]\nendpoint_url = {MOTO}\nmfa_serial = arn:aws:iam::123456789012:mfa/w\n",
            KEYS,
            Refuse("[DEFAULT]: the AWS CLI copies its keys into every profile"),
        ),
        case(
            "[default] then [profile default]",
            "[default]\nendpoint_url = {MOTO}\nregion = eu-west-1\nmfa_serial = arn:aws:iam::123456789012:mfa/plain\n\
             [profile default]\nendpoint_url = {MOTO}\nregion = eu-west-2\nmfa_serial = arn:aws:iam::123456789012:mfa/prefixed\n",
            "[default]\naws_access_key_id = {K1}\naws_secret_access_key = {S1}\n",
            Agree,
        )
        .profile(Some("default")),
        case(
            "[profile default] then [default]",
            "[profile default]\nendpoint_url = {MOTO}\nregion = eu-west-2\nmfa_serial = arn:aws:iam::123456789012:mfa/prefixed\n\
             [default]\nendpoint_url = {MOTO}\nregion = eu-west-1\nmfa_serial = arn:aws:iam::123456789012:mfa/plain\n",
            "[default]\naws_access_key_id = {K1}\naws_secret_access_key = {S1}\n",
            // The CLI merges the two (the later wins), the SDKs take
            // [profile default] whole: a value they disagree on is refused.
            Refuse("and they disagree on mfa_serial: the AWS CLI merges them and reads the mfa_serial at line 8"),
        )
        .profile(Some("default")),
        // 5. File syntax.
        case(
            "keys indented under the header",
            "[profile w]\n  endpoint_url = {MOTO}\n  mfa_serial = arn:aws:iam::123456789012:mfa/w\n  region = eu-north-1\n",
            "[w]\n\taws_access_key_id = {K1}\n\taws_secret_access_key = {S1}\n",
            Agree,
        ),
        case(
            "a tab before a header, after a property",
            "[profile x]\nregion = eu-west-1\n\t[profile w]\nendpoint_url = {MOTO}\nmfa_serial = arn:aws:iam::123456789012:mfa/w\n",
            KEYS,
            Refuse("an indented section header"),
        ),
        case(
            "a tab before a header, after a header",
            "[profile x]\n\t[profile w]\nendpoint_url = {MOTO}\nmfa_serial = arn:aws:iam::123456789012:mfa/w\n",
            KEYS,
            Refuse("an indented section header"),
        ),
        case(
            "key: value",
            "[profile w]\nendpoint_url = {MOTO}\nmfa_serial = arn:aws:iam::123456789012:mfa/w\nregion: eu-west-3\n",
            KEYS,
            Refuse("'region:' sets a value with ':', which the AWS CLI reads and the SDKs do not"),
        ),
        case(
            "text after a header",
            "[profile w] main account\nendpoint_url = {MOTO}\nmfa_serial = arn:aws:iam::123456789012:mfa/w\n",
            KEYS,
            Refuse("text after the section header [profile w]"),
        ),
        case(
            "CR-only line endings",
            "[profile w]\rendpoint_url = {MOTO}\rmfa_serial = arn:aws:iam::123456789012:mfa/w\rregion = sa-east-1\r",
            "[w]\raws_access_key_id = {K1}\raws_secret_access_key = {S1}\r",
            Agree,
        ),
        case(
            "CRLF line endings",
            "[profile w]\r\nendpoint_url = {MOTO}\r\nmfa_serial = arn:aws:iam::123456789012:mfa/w\r\nregion = sa-east-1\r\n",
            "[w]\r\naws_access_key_id = {K1}\r\naws_secret_access_key = {S1}\r\n",
            Agree,
        ),
        // 6. Duplicates.
        case(
            "a key twice",
            "[profile w]\nendpoint_url = {MOTO}\nmfa_serial = arn:aws:iam::123456789012:mfa/w\nregion = eu-west-1\nregion = eu-west-2\n",
            KEYS,
            Refuse("'region' is set twice in [profile w], on lines 4 and 5"),
        ),
        case(
            "a key twice, differing in case",
            "[profile w]\nendpoint_url = {MOTO}\nmfa_serial = arn:aws:iam::123456789012:mfa/w\nRegion = eu-west-1\nregion = eu-west-2\n",
            KEYS,
            Refuse("'region' is set twice in [profile w], on lines 4 and 5 (keys ignore case)"),
        ),
        case(
            "a section twice",
            "[profile w]\nendpoint_url = {MOTO}\nmfa_serial = arn:aws:iam::123456789012:mfa/w\n[profile w]\nregion = eu-west-2\n",
            KEYS,
            Refuse("[profile w] on line 4 names the same section as [profile w] on line 1"),
        ),
        case(
            "a profile under two spellings",
            "[profile w]\nendpoint_url = {MOTO}\nmfa_serial = arn:aws:iam::123456789012:mfa/w\n[profile  w]\nregion = eu-west-2\n",
            KEYS,
            Refuse("names the same section as [profile w] on line 1"),
        ),
        case(
            "a duplicate key in another profile",
            "[profile w]\nendpoint_url = {MOTO}\nmfa_serial = arn:aws:iam::123456789012:mfa/w\n[profile x]\nregion = a\nregion = b\n",
            KEYS,
            Refuse("'region' is set twice in [profile x]"),
        ),
        // 7. Endpoints.
        case(
            "a services section over the profile's endpoint_url",
            "[profile w]\nservices = dev\nendpoint_url = {DECOY}\nmfa_serial = arn:aws:iam::123456789012:mfa/w\n\
             [services dev]\nsts =\n  endpoint_url = {MOTO}\n",
            KEYS,
            Agree,
        ),
        case(
            "a services section for another service",
            "[profile w]\nservices = dev\nendpoint_url = {DECOY}\nmfa_serial = arn:aws:iam::123456789012:mfa/w\n\
             [services dev]\nec2 =\n  endpoint_url = {MOTO}\n",
            KEYS,
            Agree,
        ),
        case(
            "the profile's endpoint_url",
            "[profile w]\nendpoint_url = {DECOY}\nmfa_serial = arn:aws:iam::123456789012:mfa/w\n",
            KEYS,
            Agree,
        ),
        case(
            "AWS_ENDPOINT_URL_STS over a services section",
            "[profile w]\nservices = dev\nmfa_serial = arn:aws:iam::123456789012:mfa/w\n\
             [services dev]\nsts =\n  endpoint_url = {DECOY}\n",
            KEYS,
            Agree,
        )
        .env(&[("AWS_ENDPOINT_URL_STS", "{MOTO}")]),
        case(
            "AWS_ENDPOINT_URL over the profile's endpoint_url",
            "[profile w]\nendpoint_url = {DECOY}\nmfa_serial = arn:aws:iam::123456789012:mfa/w\n",
            KEYS,
            Agree,
        )
        .env(&[("AWS_ENDPOINT_URL", "{MOTO}")]),
        case(
            "a services section that is not there",
            "[profile w]\nservices = nope\nendpoint_url = {MOTO}\nmfa_serial = arn:aws:iam::123456789012:mfa/w\n",
            KEYS,
            Refuse("but the config file has no [services nope] section"),
        ),
        case(
            "ignore_configured_endpoint_urls in the profile",
            "[profile w]\nignore_configured_endpoint_urls = true\nendpoint_url = {DECOY}\n\
             mfa_serial = arn:aws:iam::123456789012:mfa/w\n",
            KEYS,
            Agree,
        ),
        case(
            "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS",
            "[profile w]\nendpoint_url = {DECOY}\nmfa_serial = arn:aws:iam::123456789012:mfa/w\n",
            KEYS,
            Agree,
        )
        .env(&[
            ("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "true"),
            ("AWS_ENDPOINT_URL", "{DECOY}"),
        ]),
        // 8. Region.
        case(
            "the profile's region",
            "[profile w]\nendpoint_url = {MOTO}\nmfa_serial = arn:aws:iam::123456789012:mfa/w\nregion = eu-west-2\n",
            KEYS,
            Agree,
        ),
        case(
            "AWS_DEFAULT_REGION over the profile",
            "[profile w]\nendpoint_url = {MOTO}\nmfa_serial = arn:aws:iam::123456789012:mfa/w\nregion = eu-west-2\n",
            KEYS,
            Agree,
        )
        .env(&[("AWS_DEFAULT_REGION", "ap-south-1")]),
        case(
            "the credentials file's region and serial over the config file's",
            "[profile w]\nendpoint_url = {MOTO}\nmfa_serial = arn:aws:iam::123456789012:mfa/config\nregion = eu-west-2\n",
            "[w]\naws_access_key_id = {K1}\naws_secret_access_key = {S1}\nregion = us-west-2\n\
             mfa_serial = arn:aws:iam::123456789012:mfa/credentials\n",
            Agree,
        ),
        case(
            "no region anywhere",
            W,
            KEYS,
            Agree,
        ),
        case(
            "AWS_REGION",
            "[profile w]\nendpoint_url = {MOTO}\nmfa_serial = arn:aws:iam::123456789012:mfa/w\nregion = eu-west-2\n",
            KEYS,
            Differ {
                why: "AWS_REGION is the SDKs' variable; botocore reads only AWS_DEFAULT_REGION",
                stderr: "",
            },
        )
        .env(&[("AWS_REGION", "ca-central-1")]),
        case(
            "an inline comment after a value",
            "[profile w]\nendpoint_url = {MOTO}\nmfa_serial = arn:aws:iam::123456789012:mfa/w\nregion = eu-west-2 # London\n",
            KEYS,
            Differ {
                why: "the SDK spec cuts a ' #' comment; botocore keeps it in the value",
                stderr: "",
            },
        ),
        // 9. File locations.
        case("~ in AWS_CONFIG_FILE and AWS_SHARED_CREDENTIALS_FILE", W, KEYS, Agree)
            .env(&[
                ("AWS_CONFIG_FILE", "~/elsewhere/config"),
                ("AWS_SHARED_CREDENTIALS_FILE", "~/elsewhere/credentials"),
            ])
            .at("elsewhere/config", "elsewhere/credentials"),
        case("$VAR in AWS_CONFIG_FILE", W, KEYS, Agree)
            .env(&[
                ("AWS_CONFIG_FILE", "$HOME/x/config"),
                ("AWS_SHARED_CREDENTIALS_FILE", "$HOME/x/credentials"),
            ])
            .at("x/config", "x/credentials"),
        case("${VAR} in AWS_CONFIG_FILE", W, KEYS, Agree)
            .env(&[
                ("MFA_TEST_FILES", "{HOME}/y"),
                ("AWS_CONFIG_FILE", "${MFA_TEST_FILES}/config"),
                ("AWS_SHARED_CREDENTIALS_FILE", "${MFA_TEST_FILES}/credentials"),
            ])
            .at("y/config", "y/credentials"),
    ]
}

/// What a client resolved: key, region, server, serial.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Resolved {
    key: String,
    region: String,
    server: String,
    serial: Option<String>,
}

#[test]
fn botocore_and_mfa_session_resolve_the_same() {
    let moto = need!(moto());
    let python = venv().join("bin/python");
    if !python.is_file() {
        need!(missing("the test venv's python (botocore)"));
    }
    let decoy = FakeEndpoint::start(|_, _| Reply::Answer(200, session_answer()));
    let cases = cases();
    let pid = std::process::id() % 10_000_000;
    let keys = |i: usize| -> [String; 2] {
        [1, 2].map(|n| format!("AKIAD{pid:07}{:06}{n}", i % 1_000_000))
    };

    // The files, the environment and what botocore makes of them.
    let mut sandboxes = Vec::new();
    let mut inputs = Vec::new();
    for (i, case) in cases.iter().enumerate() {
        let mut sandbox = Sandbox::new(None);
        let home = sandbox.dir.path().display().to_string();
        let [k1, k2] = keys(i);
        let fill = |text: &str| {
            text.replace("{MOTO}", &moto.url)
                .replace("{DECOY}", &decoy.url)
                .replace("{HOME}", &home)
                .replace("{K1}", &k1)
                .replace("{K2}", &k2)
                .replace("{S1}", "secretOne/Differential")
                .replace("{S2}", "secretTwo/Differential")
        };
        let (config_at, credentials_at) = case.at.unwrap_or((".aws/config", ".aws/credentials"));
        sandbox.write(config_at, &fill(case.config));
        sandbox.write(credentials_at, &fill(case.credentials));
        let mut env = serde_json::Map::new();
        for (name, value) in case.env {
            sandbox.set(name, &fill(value));
            env.insert(name.to_string(), fill(value).into());
        }
        sandbox.set("MFA_SESSION_TIMEOUT", "3");
        inputs.push(serde_json::json!({"home": home, "profile": case.profile, "env": env}));
        sandboxes.push(sandbox);
    }
    let mut child = Command::new(&python)
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/e2e/botocore_resolve.py"
        ))
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("run botocore");
    serde_json::to_writer(child.stdin.take().unwrap(), &inputs).unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success(), "botocore_resolve.py failed");
    let botocore: Vec<serde_json::Value> = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(botocore.len(), cases.len());

    // What mfa-session does with them.
    let runs: Vec<Run> = cases
        .iter()
        .zip(&sandboxes)
        .map(|(case, sandbox)| {
            let mut args = vec!["123456"];
            args.extend(case.profile);
            args.push("--no-cache");
            sandbox.run(&args)
        })
        .collect();
    let recorded = moto.requests();
    let decoyed = decoy.requests.lock().unwrap().clone();

    let server_of = |url: &str| {
        let url = url.trim_end_matches('/');
        if url == moto.url {
            "moto".to_owned()
        } else if url == decoy.url {
            "decoy".to_owned()
        } else {
            format!("elsewhere ({url})")
        }
    };
    let mut table = vec![format!(
        "{:<62} {:<8} {}",
        "case", "verdict", "botocore / mfa-session"
    )];
    let mut failures = Vec::new();
    for (i, ((case, run), theirs)) in cases.iter().zip(&runs).zip(&botocore).enumerate() {
        let case_keys = keys(i);
        let mine = |key: &Option<String>| key.as_ref().is_some_and(|k| case_keys.contains(k));
        let mut sent: Vec<Resolved> = recorded
            .iter()
            .filter(|r| mine(&r.access_key_id) && r.action() == "GetSessionToken")
            .map(|r| Resolved {
                key: r.access_key_id.clone().unwrap_or_default(),
                region: r.signing_region.clone().unwrap_or_default(),
                server: "moto".to_owned(),
                serial: r.params.get("SerialNumber").cloned(),
            })
            .collect();
        sent.extend(
            decoyed
                .iter()
                .filter(|r| mine(&r.access_key_id))
                .map(|r| Resolved {
                    key: r.access_key_id.clone().unwrap_or_default(),
                    region: r.signing_region.clone().unwrap_or_default(),
                    server: "decoy".to_owned(),
                    serial: r.params.get("SerialNumber").cloned(),
                }),
        );
        let expected = match theirs["error"].as_str() {
            Some(error) => Err(error.to_owned()),
            None => match theirs["key"].as_str() {
                Some(key) => Ok(Resolved {
                    key: key.to_owned(),
                    region: theirs["region"].as_str().unwrap_or("us-east-1").to_owned(),
                    server: server_of(theirs["endpoint"].as_str().unwrap_or_default()),
                    serial: theirs["serial"].as_str().map(str::to_owned),
                }),
                None => Err(format!("credentials from {}", theirs["method"])),
            },
        };
        let got = if run.code == Some(0) {
            sent.first()
                .cloned()
                .ok_or_else(|| "succeeded without a request".to_owned())
        } else {
            Err(run.stderr.lines().next().unwrap_or_default().to_owned())
        };
        let verdict: Result<&str, String> = match case.expect {
            Agree => match (&expected, &got) {
                (Ok(e), _) if e.server.starts_with("elsewhere") => {
                    // AWS itself: mfa-session must not have sent to a local server.
                    if sent.is_empty() {
                        Ok("agree")
                    } else {
                        Err(format!(
                            "botocore uses {}, mfa-session sent {sent:?}",
                            e.server
                        ))
                    }
                }
                (Ok(e), Ok(g)) if e == g && sent.len() == 1 => Ok("agree"),
                _ => Err(format!("botocore {expected:?}, mfa-session {got:?}")),
            },
            Role => {
                let assumed = recorded.iter().any(|r| {
                    r.action() == "AssumeRole"
                        && r.params
                            .get("RoleArn")
                            .is_some_and(|a| a.ends_with(&case_keys[0]))
                });
                if theirs["method"] != "assume-role" {
                    Err(format!("botocore does not assume the role: {theirs}"))
                } else if run.code != Some(0) || !assumed {
                    Err(format!("no role session: {run:?}"))
                } else if sent.is_empty() || sent.iter().any(|s| s.key != case_keys[1]) {
                    Err(format!(
                        "the MFA session was not the source profile's: {sent:?}"
                    ))
                } else {
                    Ok("role")
                }
            }
            Refuse(said) => {
                if run.code == Some(0) || !run.stderr.contains(said) || !run.stdout.is_empty() {
                    Err(format!("expected a refusal saying {said:?}: {run:?}"))
                } else if !sent.is_empty() {
                    Err(format!("refused but sent {sent:?}"))
                } else {
                    Ok("refuse")
                }
            }
            // botocore may resolve something else, or refuse what mfa-session reads.
            Differ { why, stderr } => match (&expected, &got) {
                (e, Ok(g)) if e.as_ref() != Ok(g) && run.stderr.contains(stderr) => Ok("differ"),
                _ => Err(format!(
                    "listed as a difference ({why}) but botocore {expected:?}, mfa-session {got:?}, stderr {:?}",
                    run.stderr
                )),
            },
        };
        let shown = |r: &Result<Resolved, String>| match r {
            Ok(r) => format!(
                "{} {} {} {}",
                if case_keys[0] == r.key { "K1" } else { "K2" },
                r.region,
                r.server,
                r.serial.as_deref().unwrap_or("-")
            ),
            Err(e) => format!("refused ({})", e.chars().take(60).collect::<String>()),
        };
        let mark = match &verdict {
            Ok(v) => v.to_string(),
            Err(_) => "FAIL".to_owned(),
        };
        table.push(format!(
            "{:<62} {:<8} {} / {}",
            case.name,
            mark,
            shown(&expected),
            shown(&got)
        ));
        if let Err(why) = verdict {
            failures.push(format!("{}: {why}", case.name));
        }
    }
    println!("{}", table.join("\n"));
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

#[test]
fn status_names_where_each_setting_comes_from() {
    let mut sandbox = Sandbox::new(None);
    sandbox.write(
        ".aws/config",
        "[profile w]\nregion = eu-west-1\nservices = dev\nmfa_serial = arn:aws:iam::123456789012:mfa/w\n\
         duration_seconds = 3600\n[services dev]\nsts =\n  endpoint_url = http://127.0.0.1:9\n",
    );
    sandbox.write(
        ".aws/credentials",
        "# keys\n[w]\naws_access_key_id = AKIASTATUSEXAMPLE01\naws_secret_access_key = statusSecret\n",
    );
    let config = sandbox.path(".aws/config").display().to_string();
    let credentials = sandbox.path(".aws/credentials").display().to_string();
    let run = sandbox.run(&["status", "w", "--json"]);
    run.success()
        .keeps_secret(&["statusSecret", "AKIASTATUSEXAMPLE01"]);
    let report: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    let p = &report["profile"];
    assert_eq!(p["key_from"], format!("{credentials}:3"));
    assert_eq!(p["region"]["value"], "eu-west-1");
    assert_eq!(p["region"]["from"], format!("{config}:2"));
    assert_eq!(p["sts_endpoint"]["value"], "http://127.0.0.1:9");
    assert_eq!(p["sts_endpoint"]["from"], format!("{config}:8"));
    assert_eq!(p["iam_endpoint"]["from"], "default");
    assert_eq!(p["mfa_serial"]["from"], format!("{config}:4"));
    assert_eq!(p["duration_seconds"]["value"], "3600");
    assert_eq!(p["duration_seconds"]["from"], format!("{config}:5"));

    // The environment wins, and says so.
    sandbox.set("AWS_REGION", "ap-south-1");
    sandbox.set("AWS_ENDPOINT_URL_STS", "http://127.0.0.1:8");
    let run = sandbox.run(&["status", "w"]);
    run.success();
    assert!(
        run.stdout
            .contains("  region:       ap-south-1 (AWS_REGION)\n"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout
            .contains("  sts endpoint: http://127.0.0.1:8 (AWS_ENDPOINT_URL_STS)\n"),
        "{}",
        run.stdout
    );

    // A profile that cannot be used is an error naming the line.
    sandbox.write(".aws/config", "[profile w]\nregion = a\nRegion = b\n");
    sandbox
        .run(&["status", "w"])
        .failure(1)
        .stderr_has(&format!(
            "malformed {config}:3: 'region' is set twice in [profile w]"
        ));
}
