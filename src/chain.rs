//! The profile chain: from the requested profile down `source_profile`
//! links to the profile that holds the IAM user's long-term key, as the AWS
//! SDKs resolve it.
//!
//! - In the requested profile, `role_arn` wins over static keys; in a
//!   source profile, static keys win over `role_arn` (and a profile may name
//!   itself as its source to use its own keys under its own role).
//! - `credential_source` and `web_identity_token_file` are refused by name:
//!   the MFA session this tool makes is the only source it uses.
//! - A cycle is an error that names the profiles in it.
//!
//! Over a [`ProfileSet`]: no request and no cache; only a key marked
//! `mfa_session_key = keyring` is read from the keyring on the way.

use std::time::Duration;

use anyhow::Result;

use crate::error::Failure;
use crate::origin::Sourced;
use crate::profile::{Key, LongTermKey, Profile, ProfileSet};

/// A resolved chain: the root profile with its key, and the roles on top of
/// it, from the first assumed with the root's session to the requested one.
#[derive(Debug)]
pub struct Chain {
    pub root: Profile,
    pub key: LongTermKey,
    pub roles: Vec<RoleHop>,
}

/// One `role_arn` profile.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RoleHop {
    pub profile: String,
    pub role_arn: String,
    pub session_name: Option<String>,
    pub external_id: Option<String>,
    /// `duration_seconds`, and where it was set.
    pub duration: Option<Sourced<Duration>>,
    /// The role profile's `mfa_serial`, used for the MFA session when the
    /// root profile names none.
    pub mfa_serial: Option<Sourced<String>>,
    /// The role profile's `mfa_process` and where it was set.
    pub mfa_process: Option<Sourced<String>>,
}

impl Chain {
    /// The requested profile's name.
    #[cfg(test)]
    pub fn requested(&self) -> &str {
        self.roles
            .last()
            .map_or(self.root.name.as_str(), |r| r.profile.as_str())
    }
}

pub fn resolve(set: &ProfileSet, requested: &str) -> Result<Chain> {
    let mut roles = Vec::new();
    let mut visited: Vec<String> = Vec::new();
    let mut name = requested.to_owned();
    loop {
        let profile = set.profile(&name)?;
        let is_requested = visited.is_empty();
        visited.push(name.clone());
        let role_arn = profile.value(Key::RoleArn).map(str::to_owned);
        // A source profile with static keys is a root, role or not.
        if !is_requested && profile.has_static_key() {
            let key = profile.static_key()?;
            return Ok(finish(profile, key, roles));
        }
        let Some(role_arn) = role_arn else {
            let key = profile.long_term_key()?;
            return Ok(finish(profile, key, roles));
        };
        if let Some((key, setting)) = [Key::CredentialSource, Key::WebIdentityTokenFile]
            .into_iter()
            .find_map(|k| profile.get(k).map(|s| (k.name(), s)))
        {
            return Err(Failure::new(format!(
                "profile '{name}' takes its role's source from {key} ({}), which mfa-session does not use",
                setting.place()
            ))
            .hint(format!(
                "name the profile with the IAM user's key instead: source_profile = NAME in profile '{name}'"
            ))
            .into());
        }
        if let Some((key, how, setting)) = profile.other_source() {
            return Err(Failure::new(format!(
                "profile '{name}' {how}: {key} at {}",
                setting.place()
            ))
            .hint("mfa-session needs an IAM user's long-term access key (AKIA...) at the root of the chain")
            .into());
        }
        let Some(source) = profile.value(Key::SourceProfile).map(str::to_owned) else {
            let at = profile
                .get(Key::RoleArn)
                .map(|s| s.place())
                .unwrap_or_default();
            return Err(Failure::new(format!(
                "profile '{name}' has role_arn ({at}) but no source_profile"
            ))
            .hint(format!(
                "add source_profile = NAME to profile '{name}', naming the profile with the IAM user's key"
            ))
            .into());
        };
        roles.push(hop(&profile, role_arn)?);
        if source == name {
            // A profile that is its own source uses its own static keys.
            if profile.has_static_key() {
                let key = profile.static_key()?;
                return Ok(finish(profile, key, roles));
            }
        }
        if visited.contains(&source) {
            visited.push(source);
            return Err(Failure::new(format!(
                "the source_profile links go round in a circle: {}",
                visited.join(" -> ")
            ))
            .hint("one profile in the chain must hold the IAM user's long-term key")
            .into());
        }
        name = source;
    }
}

fn finish(root: Profile, key: LongTermKey, mut roles: Vec<RoleHop>) -> Chain {
    // Collected from the requested profile down; used from the root up.
    roles.reverse();
    Chain { root, key, roles }
}

fn hop(profile: &Profile, role_arn: String) -> Result<RoleHop> {
    let name = &profile.name;
    let duration = match profile.get(Key::DurationSeconds) {
        None => None,
        Some(setting) => {
            let seconds: u64 = setting.value.trim().parse().map_err(|_| {
                Failure::new(format!(
                    "duration_seconds of profile '{name}' is not a number of seconds ({})",
                    setting.place()
                ))
            })?;
            Some(Sourced::new(Duration::from_secs(seconds), setting.origin()))
        }
    };
    let mfa_serial = profile.sourced(Key::MfaSerial);
    if let Some(serial) = &mfa_serial {
        crate::input::check_serial(&serial.value).map_err(|e| {
            e.context(format!(
                "mfa_serial of profile '{name}' ({})",
                serial.origin
            ))
        })?;
    }
    if !role_arn.starts_with("arn:") || !role_arn.contains(":role/") {
        let at = profile
            .get(Key::RoleArn)
            .map(|s| s.place())
            .unwrap_or_default();
        return Err(Failure::new(format!(
            "role_arn of profile '{name}' ({at}) is not a role ARN"
        ))
        .hint("it looks like arn:aws:iam::123456789012:role/NAME")
        .into());
    }
    if let Some(session_name) = profile.value(Key::RoleSessionName) {
        let good = crate::input::iam_name(session_name, crate::input::ROLE_SESSION_NAME);
        if !good {
            let at = profile
                .get(Key::RoleSessionName)
                .map(|s| s.place())
                .unwrap_or_default();
            return Err(Failure::new(format!(
                "role_session_name of profile '{name}' ({at}) is not one AWS accepts"
            ))
            .hint("use 2 to 64 letters, digits and _+=,.@-")
            .into());
        }
    }
    Ok(RoleHop {
        profile: name.clone(),
        role_arn,
        session_name: profile.value(Key::RoleSessionName).map(str::to_owned),
        external_id: profile.value(Key::ExternalId).map(str::to_owned),
        duration,
        mfa_serial,
        mfa_process: profile.sourced(Key::MfaProcess),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Set {
        _dir: tempfile::TempDir,
        set: ProfileSet,
    }

    fn set(config: &str, credentials: &str) -> Set {
        let (dir, files) = crate::profile::fixture(config, credentials);
        Set {
            set: ProfileSet::load(&files).unwrap(),
            _dir: dir,
        }
    }

    const KEYS: &str = "[identity]\naws_access_key_id = AKIAIDENTITY\naws_secret_access_key = s\n";

    fn refusal(config: &str, credentials: &str, name: &str) -> String {
        resolve(&set(config, credentials).set, name)
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn a_user_profile_is_a_chain_of_its_own() {
        let s = set(
            "[profile identity]\nmfa_serial = arn:aws:iam::1:mfa/a\n",
            KEYS,
        );
        let chain = resolve(&s.set, "identity").unwrap();
        assert_eq!(chain.root.name, "identity");
        assert_eq!(chain.key.access_key_id, "AKIAIDENTITY");
        assert!(chain.roles.is_empty());
        assert_eq!(chain.requested(), "identity");
    }

    #[test]
    fn two_hops_from_the_root_up() {
        let s = set(
            "[profile ops]\nrole_arn = arn:aws:iam::2:role/ops\nsource_profile = identity\n\
             [profile prod]\nrole_arn = arn:aws:iam::3:role/admin\nsource_profile = ops\n\
             role_session_name = alice\nexternal_id = x-1\nduration_seconds = 900\n\
             mfa_serial = arn:aws:iam::1:mfa/a\n",
            KEYS,
        );
        let chain = resolve(&s.set, "prod").unwrap();
        assert_eq!(chain.root.name, "identity");
        let arns: Vec<_> = chain.roles.iter().map(|r| r.role_arn.as_str()).collect();
        assert_eq!(
            arns,
            ["arn:aws:iam::2:role/ops", "arn:aws:iam::3:role/admin"]
        );
        let prod = &chain.roles[1];
        assert_eq!(prod.session_name.as_deref(), Some("alice"));
        assert_eq!(prod.external_id.as_deref(), Some("x-1"));
        assert_eq!(
            prod.duration.as_ref().unwrap().value,
            Duration::from_secs(900)
        );
        assert_eq!(
            prod.mfa_serial.as_ref().unwrap().value,
            "arn:aws:iam::1:mfa/a"
        );
        assert_eq!(chain.requested(), "prod");
    }

    #[test]
    fn role_arn_wins_in_the_requested_profile_static_keys_in_a_source() {
        // `both` has a role and keys: asked for, it is a role on top of `identity`...
        let config = "[profile both]\nrole_arn = arn:aws:iam::2:role/r\nsource_profile = identity\n\
                      [profile top]\nrole_arn = arn:aws:iam::3:role/t\nsource_profile = both\n";
        let credentials =
            format!("{KEYS}[both]\naws_access_key_id = AKIABOTH\naws_secret_access_key = s\n");
        let s = set(config, &credentials);
        let chain = resolve(&s.set, "both").unwrap();
        assert_eq!(chain.key.access_key_id, "AKIAIDENTITY");
        assert_eq!(chain.roles.len(), 1);
        // ...as a source, its keys are the root.
        let chain = resolve(&s.set, "top").unwrap();
        assert_eq!(chain.key.access_key_id, "AKIABOTH");
        assert_eq!(chain.roles.len(), 1);
        assert_eq!(chain.roles[0].role_arn, "arn:aws:iam::3:role/t");
    }

    #[test]
    fn a_profile_may_be_its_own_source() {
        let s = set(
            "[profile self]\nrole_arn = arn:aws:iam::2:role/r\nsource_profile = self\n",
            "[self]\naws_access_key_id = AKIASELF\naws_secret_access_key = s\n",
        );
        let chain = resolve(&s.set, "self").unwrap();
        assert_eq!(chain.root.name, "self");
        assert_eq!(chain.key.access_key_id, "AKIASELF");
        assert_eq!(chain.roles.len(), 1);
    }

    #[test]
    fn refusals() {
        let err = refusal(
            "[profile a]\nrole_arn = arn:aws:iam::2:role/r\nsource_profile = b\n\
             [profile b]\nrole_arn = arn:aws:iam::2:role/r\nsource_profile = a\n",
            "",
            "a",
        );
        assert_eq!(
            err,
            "the source_profile links go round in a circle: a -> b -> a"
        );
        let err = refusal(
            "[profile a]\nrole_arn = arn:aws:iam::2:role/r\nsource_profile = a\n",
            "",
            "a",
        );
        assert_eq!(err, "the source_profile links go round in a circle: a -> a");
        let err = refusal(
            "[profile a]\nrole_arn = arn:aws:iam::2:role/r\nsource_profile = nope\n",
            KEYS,
            "a",
        );
        assert!(err.starts_with("profile 'nope' not found"), "{err}");
        let err = refusal(
            "[profile a]\nrole_arn = arn:aws:iam::2:role/r\ncredential_source = Ec2InstanceMetadata\n",
            "",
            "a",
        );
        assert!(
            err.starts_with("profile 'a' takes its role's source from credential_source ("),
            "{err}"
        );
        let err = refusal(
            "[profile a]\nrole_arn = arn:aws:iam::2:role/r\nweb_identity_token_file = /t\n",
            "",
            "a",
        );
        assert!(err.contains("from web_identity_token_file ("), "{err}");
        let err = refusal("[profile a]\nrole_arn = arn:aws:iam::2:role/r\n", "", "a");
        assert!(err.starts_with("profile 'a' has role_arn ("), "{err}");
        assert!(err.ends_with(") but no source_profile"), "{err}");
        let err = refusal(
            "[profile a]\nrole_arn = admin\nsource_profile = identity\n",
            KEYS,
            "a",
        );
        assert!(err.contains("is not a role ARN"), "{err}");
        let err = refusal(
            "[profile a]\nrole_arn = arn:aws:iam::2:role/r\nsource_profile = identity\nrole_session_name = a b\n",
            KEYS,
            "a",
        );
        assert!(err.contains("role_session_name of profile 'a'"), "{err}");
        // A root that holds a session is refused.
        let err = refusal(
            "[profile a]\nrole_arn = arn:aws:iam::2:role/r\nsource_profile = s\n",
            "[s]\naws_access_key_id = ASIASESSION\naws_secret_access_key = x\naws_session_token = t\n",
            "a",
        );
        assert!(err.contains("holds session credentials"), "{err}");
        // A source that gets credentials through SSO.
        let err = refusal(
            "[profile a]\nrole_arn = arn:aws:iam::2:role/r\nsource_profile = s\n[profile s]\nsso_session = x\n",
            "",
            "a",
        );
        assert!(
            err.starts_with("profile 's' signs in through IAM Identity Center"),
            "{err}"
        );
        // The requested profile with a role and SSO: refused by name.
        let err = refusal(
            "[profile a]\nrole_arn = arn:aws:iam::2:role/r\nsource_profile = identity\ncredential_process = x\n",
            KEYS,
            "a",
        );
        assert!(
            err.starts_with("profile 'a' gets credentials from a process"),
            "{err}"
        );
    }
}
