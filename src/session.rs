//! Temporary credentials, and the environment variables that carry them.

use std::fmt;

use jiff::{Timestamp, tz::TimeZone};

use crate::shell::Script;

/// Every variable mfa-session sets, in the order it prints them. `--clear`
/// removes exactly these.
pub const VARIABLES: [&str; 5] = [
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    // The same token again, for boto 2 and other tools that predate the name
    // AWS_SESSION_TOKEN.
    "AWS_SECURITY_TOKEN",
    // When the session ends, read by botocore and the JS SDK v3 to refresh in
    // time, and by `mfa-session status`.
    "AWS_CREDENTIAL_EXPIRATION",
];

/// Variables that make an SDK pick a profile over the session's keys: the JS
/// SDK v3 (CDK, Serverless) prefers `AWS_PROFILE` to the environment keys,
/// and would sign with the long-term key that a Force-MFA policy denies.
pub const PROFILE_VARIABLES: [&str; 2] = ["AWS_PROFILE", "AWS_DEFAULT_PROFILE"];

/// The region, set when it would otherwise be lost with `AWS_PROFILE`.
pub const REGION_VARIABLES: [&str; 2] = ["AWS_REGION", "AWS_DEFAULT_REGION"];

/// What else changes in the environment with a session.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Surroundings {
    /// `AWS_PROFILE` or `AWS_DEFAULT_PROFILE` is set and must go.
    pub unset_profile: bool,
    /// The region the session was obtained in, for `AWS_REGION` and
    /// `AWS_DEFAULT_REGION`, when it came from the profile or the environment.
    pub region: Option<String>,
    /// What the profile and region variables were before, for `--clear`.
    pub before: Before,
}

/// Names the profile and region variables a session changed, so that
/// `--clear` gives back what the user had (an `AWS_REGION` they set
/// themselves, say) instead of removing it.
pub const CHANGED: &str = "MFA_SESSION_CHANGED";

/// Where the value a variable had before the session is kept.
const SAVED: [(&str, &str); 4] = [
    ("AWS_PROFILE", "MFA_SESSION_BEFORE_AWS_PROFILE"),
    (
        "AWS_DEFAULT_PROFILE",
        "MFA_SESSION_BEFORE_AWS_DEFAULT_PROFILE",
    ),
    ("AWS_REGION", "MFA_SESSION_BEFORE_AWS_REGION"),
    (
        "AWS_DEFAULT_REGION",
        "MFA_SESSION_BEFORE_AWS_DEFAULT_REGION",
    ),
];

/// The profile and region variables as the environment has them now, and
/// the record an earlier session left (`MFA_SESSION_CHANGED` and the saved
/// values).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Before {
    /// Each of the four variables with a non-empty value now.
    pub values: Vec<(&'static str, String)>,
    /// The names an earlier session in this environment changed.
    pub changed: Vec<&'static str>,
    /// The values saved by that session.
    pub saved: Vec<(&'static str, String)>,
}

impl Before {
    /// Read from the environment (`--clear`, and the plan of a session).
    pub fn from_env() -> Before {
        let get = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        let known = |word: &str| SAVED.iter().map(|(n, _)| *n).find(|n| *n == word);
        Before {
            values: SAVED
                .iter()
                .filter_map(|(name, _)| Some((*name, get(name)?)))
                .collect(),
            changed: get(CHANGED)
                .map(|list| list.split_whitespace().filter_map(known).collect())
                .unwrap_or_default(),
            saved: SAVED
                .iter()
                .filter_map(|(name, saved)| Some((*name, get(saved)?)))
                .collect(),
        }
    }

    fn saved_name(name: &str) -> Option<&'static str> {
        SAVED.iter().find(|(n, _)| *n == name).map(|(_, s)| *s)
    }

    /// The record of a session that changes `names`: what each had before
    /// (kept from an earlier session's record when there is one: the values
    /// before that session are the user's), and the list of names.
    fn record(&self, names: &[&'static str], script: &mut Script) {
        if names.is_empty() {
            return;
        }
        let mut all = self.changed.clone();
        for name in names {
            if all.contains(name) {
                continue;
            }
            all.push(name);
            if let (Some(saved), Some((_, value))) = (
                Before::saved_name(name),
                self.values.iter().find(|(n, _)| n == name),
            ) {
                script.set(saved, value.clone());
            }
        }
        script.set(CHANGED, all.join(" "));
    }
}

/// Temporary credentials from GetSessionToken. Debug never shows the secrets.
#[derive(Clone, PartialEq, Eq)]
pub struct Session {
    pub access_key_id: String,
    pub secret_access_key: String,
    pub session_token: String,
    pub expiration: Timestamp,
}

impl fmt::Debug for Session {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Session({}, ****, ****, {})",
            self.access_key_id, self.expiration
        )
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        use zeroize::Zeroize;
        self.secret_access_key.zeroize();
        self.session_token.zeroize();
    }
}

impl Session {
    /// The expiration as RFC 3339 in UTC, whole seconds: `2026-11-23T21:34:05Z`.
    pub fn expiration_rfc3339(&self) -> String {
        rfc3339(self.expiration)
    }

    /// The script that puts this session into a shell (or, for `exec`, into
    /// a command's environment). Removals come first, so that the last line
    /// is a plain assignment whatever the shell's status rules.
    pub fn script(&self, around: &Surroundings) -> Script {
        let [id, secret, token, legacy, expiration] = VARIABLES;
        let mut script = Script::new();
        let mut changed = Vec::new();
        if around.unset_profile {
            for name in PROFILE_VARIABLES {
                script.unset(name);
                changed.push(name);
            }
        }
        script
            .set(id, &self.access_key_id)
            .set(secret, &self.secret_access_key)
            .set(token, &self.session_token)
            .set(legacy, &self.session_token)
            .set(expiration, self.expiration_rfc3339());
        if let Some(region) = &around.region {
            for name in REGION_VARIABLES {
                script.set(name, region);
                changed.push(name);
            }
        }
        around.before.record(&changed, &mut script);
        script
    }
}

/// The script that removes every variable a session script may set or that
/// competes with one: the session's, the profile's and the region's.
pub fn clear_script() -> Script {
    clear_script_after(&Before::default())
}

/// [`clear_script`] in an environment where a session left its record: the
/// profile and region variables it changed get their values back (or go,
/// when they had none), and the others stay as the user has them. With no
/// record, all of them go, as before records were kept.
pub fn clear_script_after(before: &Before) -> Script {
    let mut script = Script::new();
    for name in VARIABLES {
        script.unset(name);
    }
    if before.changed.is_empty() {
        for name in PROFILE_VARIABLES.into_iter().chain(REGION_VARIABLES) {
            script.unset(name);
        }
        return script;
    }
    for name in PROFILE_VARIABLES.into_iter().chain(REGION_VARIABLES) {
        if !before.changed.contains(&name) {
            continue;
        }
        match before.saved.iter().find(|(n, _)| *n == name) {
            Some((_, value)) => script.set(name, value.clone()),
            None => script.unset(name),
        };
    }
    for (_, saved) in SAVED {
        script.unset(saved);
    }
    script.unset(CHANGED);
    script
}

pub fn rfc3339(t: Timestamp) -> String {
    // Whole seconds, rounded down: never claim a session lasts longer than it does.
    Timestamp::from_second(t.as_second())
        .unwrap_or(t)
        .strftime("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

/// "until 21:34 CET (11h59m left)", in the user's time zone; the date is
/// added when the session ends on another day.
pub fn describe_end(end: Timestamp, now: Timestamp) -> String {
    format!(
        "until {} ({} left)",
        describe_time(end, now),
        describe_left(end, now)
    )
}

/// A moment as every message says one: "21:34 CET" in the user's time
/// zone, with the date ("2026-11-24 21:34 CET") when it is not today.
pub fn describe_time(at: Timestamp, now: Timestamp) -> String {
    let tz = TimeZone::system();
    let local = at.to_zoned(tz.clone());
    if local.date() == now.to_zoned(tz).date() {
        local.strftime("%H:%M %Z").to_string()
    } else {
        local.strftime("%Y-%m-%d %H:%M %Z").to_string()
    }
}

/// Time left, rounded down to minutes: `11h59m`, `45m`, `0m`.
pub fn describe_left(end: Timestamp, now: Timestamp) -> String {
    let secs = end.as_second().saturating_sub(now.as_second()).max(0);
    let (h, m) = (secs / 3600, secs % 3600 / 60);
    if h > 0 {
        format!("{h}h{m:02}m")
    } else {
        format!("{m}m")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::shell::Shell;

    fn session() -> Session {
        Session {
            access_key_id: "ASIAEXAMPLE".into(),
            secret_access_key: "secret/key+".into(),
            session_token: "tok=en".into(),
            expiration: "2026-11-23T21:34:05.250Z".parse().unwrap(),
        }
    }

    #[test]
    fn script_order_and_values() {
        assert_eq!(
            session()
                .script(&Surroundings::default())
                .render(Shell::Sh)
                .unwrap(),
            "export AWS_ACCESS_KEY_ID='ASIAEXAMPLE'\n\
             export AWS_SECRET_ACCESS_KEY='secret/key+'\n\
             export AWS_SESSION_TOKEN='tok=en'\n\
             export AWS_SECURITY_TOKEN='tok=en'\n\
             export AWS_CREDENTIAL_EXPIRATION='2026-11-23T21:34:05Z'\n"
        );
    }

    #[test]
    fn profile_variables_go_first_and_the_region_comes_last() {
        let around = Surroundings {
            unset_profile: true,
            region: Some("eu-west-1".into()),
            before: Before::default(),
        };
        let out = session().script(&around).render(Shell::Sh).unwrap();
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(
            lines[..2],
            ["unset AWS_PROFILE", "unset AWS_DEFAULT_PROFILE"]
        );
        assert_eq!(
            lines[7..],
            [
                "export AWS_REGION='eu-west-1'",
                "export AWS_DEFAULT_REGION='eu-west-1'",
                "export MFA_SESSION_CHANGED='AWS_PROFILE AWS_DEFAULT_PROFILE AWS_REGION AWS_DEFAULT_REGION'"
            ]
        );
    }

    #[test]
    fn clear_unsets_every_variable() {
        assert_eq!(
            clear_script().render(Shell::Bash).unwrap(),
            "unset AWS_ACCESS_KEY_ID\nunset AWS_SECRET_ACCESS_KEY\nunset AWS_SESSION_TOKEN\n\
             unset AWS_SECURITY_TOKEN\nunset AWS_CREDENTIAL_EXPIRATION\nunset AWS_PROFILE\n\
             unset AWS_DEFAULT_PROFILE\nunset AWS_REGION\nunset AWS_DEFAULT_REGION\n"
        );
    }

    #[test]
    fn clear_gives_back_what_the_session_changed() {
        // Before: AWS_PROFILE=work, AWS_REGION=eu-central-1, no default region.
        let before = Before {
            values: vec![
                ("AWS_PROFILE", "work".into()),
                ("AWS_REGION", "eu-central-1".into()),
            ],
            changed: vec![],
            saved: vec![],
        };
        let around = Surroundings {
            unset_profile: true,
            region: Some("eu-central-1".into()),
            before,
        };
        let applied = session().script(&around).render(Shell::Sh).unwrap();
        assert!(
            applied.ends_with(
                "export MFA_SESSION_BEFORE_AWS_PROFILE='work'\n\
                 export MFA_SESSION_BEFORE_AWS_REGION='eu-central-1'\n\
                 export MFA_SESSION_CHANGED='AWS_PROFILE AWS_DEFAULT_PROFILE AWS_REGION AWS_DEFAULT_REGION'\n"
            ),
            "{applied}"
        );
        // The environment after it, as --clear reads it.
        let after = Before {
            values: vec![("AWS_REGION", "eu-central-1".into())],
            changed: vec![
                "AWS_PROFILE",
                "AWS_DEFAULT_PROFILE",
                "AWS_REGION",
                "AWS_DEFAULT_REGION",
            ],
            saved: vec![
                ("AWS_PROFILE", "work".into()),
                ("AWS_REGION", "eu-central-1".into()),
            ],
        };
        assert_eq!(
            clear_script_after(&after).render(Shell::Sh).unwrap(),
            "unset AWS_ACCESS_KEY_ID\nunset AWS_SECRET_ACCESS_KEY\nunset AWS_SESSION_TOKEN\n\
             unset AWS_SECURITY_TOKEN\nunset AWS_CREDENTIAL_EXPIRATION\n\
             export AWS_PROFILE='work'\nunset AWS_DEFAULT_PROFILE\n\
             export AWS_REGION='eu-central-1'\nunset AWS_DEFAULT_REGION\n\
             unset MFA_SESSION_BEFORE_AWS_PROFILE\nunset MFA_SESSION_BEFORE_AWS_DEFAULT_PROFILE\n\
             unset MFA_SESSION_BEFORE_AWS_REGION\nunset MFA_SESSION_BEFORE_AWS_DEFAULT_REGION\n\
             unset MFA_SESSION_CHANGED\n"
        );
        // A second session on top keeps the first one's record.
        let again = session()
            .script(&Surroundings {
                unset_profile: false,
                region: Some("eu-central-1".into()),
                before: after,
            })
            .render(Shell::Sh)
            .unwrap();
        assert!(!again.contains("MFA_SESSION_BEFORE_"), "{again}");
    }

    #[test]
    fn debug_hides_secrets() {
        let text = format!("{:?}", session());
        assert!(
            !text.contains("secret/key+") && !text.contains("tok=en"),
            "{text}"
        );
    }

    #[test]
    fn time_left() {
        let now: Timestamp = "2026-11-23T09:00:00Z".parse().unwrap();
        let end: Timestamp = "2026-11-23T20:59:30Z".parse().unwrap();
        assert_eq!(describe_left(end, now), "11h59m");
        assert_eq!(describe_left(now, end), "0m");
        let soon: Timestamp = "2026-11-23T09:45:00Z".parse().unwrap();
        assert_eq!(describe_left(soon, now), "45m");
    }
}
