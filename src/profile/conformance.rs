//! The AWS SDKs' shared conformance suites for the profile files
//! (`tests/data/aws-sdk/`), run against this module. Every case runs; the
//! ones where mfa-session deliberately reads a file otherwise are listed in
//! [`DIFFERENCES`] with the reason, and must really differ.

use std::collections::BTreeMap;
use std::path::Path;

use super::location::{self, Platform};
use super::syntax::{self, FileKind, Header};
use super::{ProfileFiles, load_profile};

type Profiles = BTreeMap<String, BTreeMap<String, String>>;

/// Cases where mfa-session and the SDK suite disagree, and why.
const DIFFERENCES: [(&str, &str); 12] = [
    (
        "Profile names support alphanumeric characters and - / . % @ _ : +",
        "the AWS CLI reads [profile foo!bar] as profile 'foo!bar', and so does mfa-session",
    ),
    (
        "Invalid profile names are ignored.",
        "the AWS CLI reads [in valid 2] in the credentials file as profile 'in valid 2', and so does mfa-session",
    ),
    (
        "Invalid property names are ignored.",
        "the AWS CLI keeps 'in valid'; no key mfa-session reads has a space, so keeping it changes nothing",
    ),
    (
        "Credentials profiles with prefix are ignored.",
        "the AWS CLI reads [profile foo] in the credentials file as profile 'profile foo', and so does mfa-session",
    ),
    (
        "Duplicate profiles in the same file merge properties.",
        "the AWS CLI refuses a duplicate section; mfa-session refuses it too, naming both lines",
    ),
    (
        "Duplicate properties in a profile use the last one defined.",
        "the AWS CLI refuses a duplicate key; mfa-session refuses it too, naming both lines",
    ),
    (
        "Duplicate properties in duplicate profiles use the last one defined.",
        "a duplicate section: refused, as the AWS CLI refuses it",
    ),
    (
        "Duplicate properties in duplicate profiles use the last one defined (case insensitive).",
        "a duplicate section: refused, as the AWS CLI refuses it",
    ),
    (
        "profile name with extra whitespace",
        "the AWS CLI ignores [   profile foo    ]; it is not a profile, and a request for 'foo' is refused with the fix",
    ),
    (
        "profile name with extra whitespace in credentials",
        "the AWS CLI reads [   foo    ] as a profile named with the spaces; a request for 'foo' is refused with the fix",
    ),
    (
        "Default profiles with mixed prefixes in the config file ignore the one without prefix when merging.",
        "[profile default] twice in one file is a duplicate section, which the AWS CLI refuses",
    ),
    (
        "Default profiles with mixed prefixes merge with credentials",
        "[profile default] twice in one file is a duplicate section, which the AWS CLI refuses",
    ),
];

fn data(name: &str) -> serde_json::Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/aws-sdk")
        .join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap()
}

/// What mfa-session makes of the two files: every profile and its settings,
/// or the first refusal.
fn outcome(config: Option<&str>, credentials: Option<&str>) -> Result<Profiles, String> {
    let dir = tempfile::tempdir().unwrap();
    let files = ProfileFiles {
        config: dir.path().join("config"),
        credentials: dir.path().join("credentials"),
    };
    let mut names = Vec::new();
    for (text, path, kind) in [
        (config, &files.config, FileKind::Config),
        (credentials, &files.credentials, FileKind::Credentials),
    ] {
        let Some(text) = text else { continue };
        std::fs::write(path, text).unwrap();
        let document = syntax::parse(text, kind).map_err(|e| e.reason)?;
        for section in &document.sections {
            if let Header::Profile { name, .. } = &section.header {
                names.push(name.clone());
            }
        }
    }
    let mut profiles = Profiles::new();
    for name in names {
        let profile = load_profile(&files, &name).map_err(|e| e.to_string())?;
        let settings = profile
            .settings()
            .map(|(k, s)| (k.to_owned(), s.value.clone()))
            .collect();
        profiles.insert(name, settings);
    }
    Ok(profiles)
}

fn expected(output: &serde_json::Value) -> Result<Profiles, String> {
    if let Some(error) = output["errorContaining"].as_str() {
        return Err(error.to_owned());
    }
    let profiles = output["config"]["profiles"].as_object().unwrap();
    Ok(profiles
        .iter()
        .map(|(name, settings)| {
            let settings = settings
                .as_object()
                .unwrap()
                .iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_owned()))
                .collect();
            (name.clone(), settings)
        })
        .collect())
}

#[test]
fn profile_parser_suite() {
    let suite = data("profile-parser-tests.json");
    let cases = suite["tests"].as_array().unwrap();
    assert_eq!(cases.len(), 65, "the suite is whole");
    let differences: Vec<&str> = DIFFERENCES.iter().map(|(name, _)| *name).collect();
    let mut failures = Vec::new();
    let mut differed = Vec::new();
    for case in cases {
        let name = case["name"].as_str().unwrap();
        let input = &case["input"];
        let ours = outcome(
            input["configFile"].as_str(),
            input["credentialsFile"].as_str(),
        );
        let theirs = expected(&case["output"]);
        // Error texts are our own: an error matches an error.
        let same = match (&ours, &theirs) {
            (Ok(a), Ok(b)) => a == b,
            (Err(_), Err(_)) => true,
            _ => false,
        };
        match (same, differences.contains(&name)) {
            (true, false) => {}
            (false, true) => differed.push(name),
            (false, false) => {
                failures.push(format!("{name}: ours {ours:?}, the suite's {theirs:?}"))
            }
            (true, true) => failures.push(format!("{name}: listed as a difference, but agrees")),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    differed.sort_unstable();
    differed.dedup();
    assert_eq!(
        differed.len(),
        differences.len(),
        "every listed difference is a case"
    );
}

#[test]
fn file_location_suite() {
    let suite = data("file-location-tests.json");
    let cases = suite["tests"].as_array().unwrap();
    assert_eq!(cases.len(), 9, "the suite is whole");
    for case in cases {
        let name = case["name"].as_str().unwrap();
        let environment = case["environment"].as_object().unwrap().clone();
        let env = move |key: &str| {
            environment
                .get(key)
                .and_then(|v| v.as_str())
                .map(str::to_owned)
        };
        let platform = match case["platform"].as_str().unwrap() {
            "windows" => Platform::Windows,
            "linux" => Platform::Unix,
            other => panic!("{name}: platform {other}"),
        };
        let (config, credentials) = location::files(&env, platform).unwrap();
        assert_eq!(config, case["configLocation"].as_str().unwrap(), "{name}");
        assert_eq!(
            credentials,
            case["credentialsLocation"].as_str().unwrap(),
            "{name}"
        );
        if let Some(profile) = case["profile"].as_str() {
            assert_eq!(location::profile_name(&env).unwrap(), profile, "{name}");
        }
    }
}
