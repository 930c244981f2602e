//! The role session shared with the AWS CLI, through its own cache.
//!
//! For a role profile (`role_arn` with `source_profile`) the AWS CLI calls
//! AssumeRole itself, asking for an MFA code when the profile names
//! `mfa_serial`, and keeps the answer in `~/.aws/cli/cache/KEY.json`. So
//! after `mfa-session 123456 prod`, `aws --profile prod ...` would ask for a
//! code again. Writing the role session where the AWS CLI looks first spares
//! it that: KEY is what botocore's `AssumeRoleCredentialFetcher` computes
//! (the SHA-1, in hex, of the AssumeRole arguments the profile gives, as
//! JSON with sorted keys and Python's separators), and the file holds an
//! AssumeRole answer as botocore stores one, mode 0600.
//!
//! Only the AWS CLI reads that folder (boto3 and the SDKs keep no such
//! cache; they use `credential_process` instead). Each file written names
//! the profile in `MfaSession`, a key botocore ignores, so that `forget`
//! removes what this tool wrote and nothing else.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha1::{Digest, Sha1};

use crate::chain::RoleHop;
use crate::session::Session;

/// The key botocore gives the cache entry of this role profile.
pub fn key(hop: &RoleHop) -> String {
    // json.dumps(args, sort_keys=True): the keys in this order, ", " and
    // ": " between them, strings escaped as Python escapes them.
    let mut fields: Vec<(&str, String)> = Vec::new();
    if let Some(seconds) = &hop.duration {
        fields.push(("DurationSeconds", seconds.value.as_secs().to_string()));
    }
    if let Some(id) = &hop.external_id {
        fields.push(("ExternalId", python_string(id)));
    }
    fields.push(("RoleArn", python_string(&hop.role_arn)));
    if let Some(name) = &hop.session_name {
        fields.push(("RoleSessionName", python_string(name)));
    }
    if let Some(serial) = &hop.mfa_serial {
        fields.push(("SerialNumber", python_string(serial.value.trim())));
    }
    let body = fields
        .iter()
        .map(|(k, v)| format!("\"{k}\": {v}"))
        .collect::<Vec<_>>()
        .join(", ");
    let digest = Sha1::digest(format!("{{{body}}}").as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// A string as Python's json.dumps writes it (ensure_ascii): `"`, `\` and
/// control characters escaped, everything beyond ASCII as \uXXXX.
fn python_string(text: &str) -> String {
    let mut out = String::from('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c if c.is_ascii() && !c.is_ascii_control() => out.push(c),
            c => {
                let mut units = [0u16; 2];
                for unit in c.encode_utf16(&mut units) {
                    out.push_str(&format!("\\u{unit:04x}"));
                }
            }
        }
    }
    out.push('"');
    out
}

/// The AWS CLI's cache folder: `~/.aws/cli/cache` (botocore takes it from
/// the home folder, whatever AWS_CONFIG_FILE says).
fn folder() -> Option<PathBuf> {
    dirs::home_dir().map(|home| home.join(".aws").join("cli").join("cache"))
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Entry {
    credentials: Credentials,
    assumed_role_user: AssumedRoleUser,
    mfa_session: Written,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Credentials {
    access_key_id: String,
    secret_access_key: String,
    session_token: String,
    expiration: String,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct AssumedRoleUser {
    arn: String,
    assumed_role_id: String,
}

/// What marks a file as this tool's.
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Written {
    profile: String,
    root_profile: String,
}

/// Writes the role session of `profile` into the AWS CLI's cache; a
/// failure is said as a warning (the session itself is fine).
pub fn share(hop: &RoleHop, root_profile: &str, session: &Session, assumed_role_arn: &str) {
    let Some(folder) = folder() else {
        return;
    };
    let entry = Entry {
        credentials: Credentials {
            access_key_id: session.access_key_id.clone(),
            secret_access_key: session.secret_access_key.clone(),
            session_token: session.session_token.clone(),
            expiration: session.expiration_rfc3339(),
        },
        assumed_role_user: AssumedRoleUser {
            arn: assumed_role_arn.to_owned(),
            assumed_role_id: assumed_role_arn
                .rsplit('/')
                .next()
                .unwrap_or_default()
                .to_owned(),
        },
        mfa_session: Written {
            profile: hop.profile.clone(),
            root_profile: root_profile.to_owned(),
        },
    };
    let path = folder.join(format!("{}.json", key(hop)));
    let written = make_private_folder(&folder).and_then(|()| {
        let text =
            zeroize::Zeroizing::new(serde_json::to_vec(&entry).map_err(std::io::Error::other)?);
        crate::secret_file::replace(&path, &text)
    });
    if let Err(e) = written {
        crate::say(&format!(
            "warning: the AWS CLI's cache ({}) was not written: {}",
            path.display(),
            crate::error::io_reason(&e)
        ));
    }
}

fn make_private_folder(folder: &Path) -> std::io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder.create(folder)
}

/// Removes the entries this tool wrote for `profile` (as the role profile
/// or its root), or all of them; returns how many went.
pub fn forget(profile: Option<&str>) -> usize {
    let Some(folder) = folder() else {
        return 0;
    };
    let Ok(entries) = std::fs::read_dir(&folder) else {
        return 0;
    };
    let mut removed = 0;
    for entry in entries.filter_map(|e| e.ok()) {
        let path = entry.path();
        if path.extension().is_none_or(|e| e != "json") {
            continue;
        }
        let Ok((bytes, _)) = crate::secret_file::read_private_dated(&path, 64 * 1024) else {
            continue;
        };
        let Ok(mine) = serde_json::from_slice::<Entry>(&bytes) else {
            continue;
        };
        let ours = profile
            .is_none_or(|p| mine.mfa_session.profile == p || mine.mfa_session.root_profile == p);
        if ours && std::fs::remove_file(&path).is_ok() {
            removed += 1;
        }
    }
    removed
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::origin::{Origin, Sourced};

    fn hop() -> RoleHop {
        RoleHop {
            profile: "prod".into(),
            role_arn: "arn:aws:iam::123456789012:role/ops".into(),
            session_name: None,
            external_id: None,
            duration: None,
            mfa_serial: None,
            mfa_process: None,
        }
    }

    /// The keys botocore computes, from Python:
    /// hashlib.sha1(json.dumps(args, sort_keys=True).encode()).hexdigest()
    #[test]
    fn keys_are_botocores() {
        assert_eq!(key(&hop()), "22683b67d5bd46b0335d9327094666b8be5b5cd5");
        let every = RoleHop {
            session_name: Some("me".into()),
            external_id: Some("ext-\u{e9}\"x".into()),
            duration: Some(Sourced::new(
                std::time::Duration::from_secs(900),
                Origin::Default,
            )),
            mfa_serial: Some(Sourced::new(
                "arn:aws:iam::123456789012:mfa/alice".into(),
                Origin::Default,
            )),
            ..hop()
        };
        assert_eq!(key(&every), "33d3aa574ca931f05089d4fe615f4066043e842f");
    }

    #[test]
    fn python_escapes() {
        assert_eq!(python_string("a\"b\\c"), "\"a\\\"b\\\\c\"");
        assert_eq!(python_string("é"), "\"\\u00e9\"");
        assert_eq!(python_string("😀"), "\"\\ud83d\\ude00\"");
    }
}
