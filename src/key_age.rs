//! How old the long-term key is, for `doctor` and `status PROFILE`.
//!
//! IAM's ListAccessKeys gives each key's creation date; under a Force-MFA
//! policy only an MFA session may call it, so it is asked with the cached
//! MFA session when there is one, and not at all otherwise (no code is ever
//! asked for to learn a key's age). From 90 days (`MFA_SESSION_KEY_MAX_AGE`,
//! in days) the key is called old, with the command that rotates it.

use anyhow::Result;
use jiff::Timestamp;

use crate::aws::{Aws, Connection, Signer, user_name_from_arn};
use crate::cache::{Owner, SessionCache};
use crate::error::Failure;

/// The age from which a key is old, unless `MFA_SESSION_KEY_MAX_AGE` says.
pub const DEFAULT_MAX_DAYS: i64 = 90;

/// What is known of the key's age.
#[derive(Debug)]
pub enum KeyAge {
    /// No cached MFA session to ask with.
    Unknown,
    Known {
        created: Timestamp,
        days: i64,
        max_days: i64,
    },
}

impl KeyAge {
    pub fn old(&self) -> bool {
        matches!(self, KeyAge::Known { days, max_days, .. } if days >= max_days)
    }

    /// "created 2026-01-02, 30 days ago".
    pub fn describe(&self) -> String {
        match self {
            KeyAge::Unknown => {
                "unknown: no cached MFA session to ask IAM with (a Force-MFA policy allows none without)"
                    .to_owned()
            }
            KeyAge::Known { created, days, .. } => format!(
                "created {}, {days} day{} ago",
                created.strftime("%Y-%m-%d"),
                if *days == 1 { "" } else { "s" }
            ),
        }
    }
}

/// `MFA_SESSION_KEY_MAX_AGE` (days), else 90.
pub fn max_days() -> Result<i64> {
    match std::env::var("MFA_SESSION_KEY_MAX_AGE") {
        Ok(text) if !text.trim().is_empty() => text.trim().parse::<i64>().map_err(|_| {
            Failure::usage("MFA_SESSION_KEY_MAX_AGE is not a number of days")
                .hint("set it to a number of days, such as 90")
                .into()
        }),
        _ => Ok(DEFAULT_MAX_DAYS),
    }
}

/// The age of `key_id`, asked with the cached MFA session of `owner` for
/// `serial` (or the remembered device), if there is one.
pub fn of(
    profile: &str,
    key: &crate::profile::LongTermKey,
    owner: &Owner,
    serial: Option<&str>,
    connection: &Connection,
) -> Result<KeyAge> {
    let max_days = max_days()?;
    let key_id = key.access_key_id.as_str();
    let Ok(cache) = SessionCache::locate() else {
        return Ok(KeyAge::Unknown);
    };
    let serial = match serial {
        Some(serial) => Some(serial.to_owned()),
        None => cache.device(owner).map(|d| d.serial),
    };
    let now = Timestamp::now();
    let Some(cached) = serial
        .and_then(|s| cache.session(owner, &s))
        .filter(|c| c.session.expiration.as_second() - now.as_second() > 60)
    else {
        return Ok(KeyAge::Unknown);
    };
    let aws = Aws::connect(profile, Signer::from(&cached.session), connection)?;
    let user = match cached.user_name {
        Some(user) => user,
        None => {
            // Whose key it is: GetCallerIdentity, which no policy denies.
            let (arn, _) = Aws::connect(profile, key.into(), connection)?.caller_identity()?;
            user_name_from_arn(&arn).map(str::to_owned).ok_or_else(|| {
                Failure::new(format!("the MFA session is not an IAM user's ({arn})"))
            })?
        }
    };
    let keys = aws.access_keys(&user)?;
    let Some(created) = keys.iter().find(|k| k.id == key_id).and_then(|k| k.created) else {
        return Err(Failure::new(format!(
            "IAM does not list the key {key_id} among the keys of user {user}"
        ))
        .into());
    };
    let days = (now.as_second() - created.as_second()).div_euclid(86_400);
    Ok(KeyAge::Known {
        created,
        days,
        max_days,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn old_from_the_maximum_on() {
        let created: Timestamp = "2026-01-02T10:00:00Z".parse().unwrap();
        let age = |days| KeyAge::Known {
            created,
            days,
            max_days: 90,
        };
        assert!(!age(89).old());
        assert!(age(90).old());
        assert_eq!(age(1).describe(), "created 2026-01-02, 1 day ago");
        assert_eq!(age(30).describe(), "created 2026-01-02, 30 days ago");
        assert!(!KeyAge::Unknown.old());
    }
}
