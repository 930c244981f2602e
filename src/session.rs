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

impl Session {
    /// The expiration as RFC 3339 in UTC, whole seconds: `2026-11-23T21:34:05Z`.
    pub fn expiration_rfc3339(&self) -> String {
        rfc3339(self.expiration)
    }

    /// The script that puts this session into a shell.
    pub fn script(&self) -> Script {
        let [id, secret, token, legacy, expiration] = VARIABLES;
        let mut script = Script::new();
        script
            .set(id, &self.access_key_id)
            .set(secret, &self.secret_access_key)
            .set(token, &self.session_token)
            .set(legacy, &self.session_token)
            .set(expiration, self.expiration_rfc3339());
        script
    }
}

/// The script that removes every variable this tool sets.
pub fn clear_script() -> Script {
    let mut script = Script::new();
    for name in VARIABLES {
        script.unset(name);
    }
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
    let tz = TimeZone::system();
    let local_end = end.to_zoned(tz.clone());
    let local_now = now.to_zoned(tz);
    let when = if local_end.date() == local_now.date() {
        local_end.strftime("%H:%M %Z").to_string()
    } else {
        local_end.strftime("%Y-%m-%d %H:%M %Z").to_string()
    };
    format!("until {when} ({} left)", describe_left(end, now))
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
            session().script().render(Shell::Sh).unwrap(),
            "export AWS_ACCESS_KEY_ID='ASIAEXAMPLE'\n\
             export AWS_SECRET_ACCESS_KEY='secret/key+'\n\
             export AWS_SESSION_TOKEN='tok=en'\n\
             export AWS_SECURITY_TOKEN='tok=en'\n\
             export AWS_CREDENTIAL_EXPIRATION='2026-11-23T21:34:05Z'\n"
        );
    }

    #[test]
    fn clear_unsets_every_variable() {
        assert_eq!(
            clear_script().render(Shell::Bash).unwrap(),
            "unset AWS_ACCESS_KEY_ID\nunset AWS_SECRET_ACCESS_KEY\nunset AWS_SESSION_TOKEN\n\
             unset AWS_SECURITY_TOKEN\nunset AWS_CREDENTIAL_EXPIRATION\n"
        );
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
