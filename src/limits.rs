//! AWS's limits on session lengths, and this tool's defaults beside them:
//! the one place they are written down.

use std::time::Duration;

use anyhow::{Result, bail};

/// The shortest session GetSessionToken or AssumeRole grants.
pub const MIN_SESSION: Duration = Duration::from_secs(15 * 60);
/// The longest session GetSessionToken grants an IAM user.
pub const MAX_SESSION: Duration = Duration::from_secs(36 * 60 * 60);
/// GetSessionToken's own default, which mfa-session asks for too.
pub const DEFAULT_SESSION: Duration = Duration::from_secs(12 * 60 * 60);
/// A role session obtained with temporary credentials (role chaining).
pub const ROLE_CHAINING: Duration = Duration::from_secs(60 * 60);
/// The longest role session AWS grants at all (a role's maximum session
/// duration may be set up to this).
pub const ROLE_MAX: Duration = Duration::from_secs(12 * 60 * 60);
/// A cached session is reused while it has more than this left, unless
/// `--min-remaining` says otherwise.
pub const DEFAULT_MIN_REMAINING: Duration = Duration::from_secs(15 * 60);

/// What to do about the 1-hour limit on role chaining.
pub const CHAINING_HINT: &str = "ask for 1 hour or less (-d 1h, or duration_seconds = 3600 in the profile), or use --direct to assume the role with an MFA code from the long-term key, where the role's own maximum applies";

/// Checks that a session duration is one GetSessionToken accepts.
pub fn check_session_duration(duration: Duration) -> Result<Duration> {
    if duration < MIN_SESSION || duration > MAX_SESSION {
        bail!(
            "a session lasts from 15m to 36h (900 to 129600 seconds), not {}",
            crate::input::format_duration(duration)
        );
    }
    Ok(duration)
}

/// Why a role session of `duration` cannot be had, if it cannot: `chained`
/// when it is assumed with temporary credentials.
pub fn role_duration_refusal(duration: Duration, chained: bool) -> Option<&'static str> {
    let limit = if chained { ROLE_CHAINING } else { ROLE_MAX };
    if duration < MIN_SESSION {
        Some("AWS grants a role session of 15 minutes at least")
    } else if duration > limit && chained {
        Some(
            "AWS allows at most 1 hour for a role assumed with temporary credentials (role chaining)",
        )
    } else if duration > limit {
        Some("AWS allows a role session of 12 hours at most")
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_limits_agree_with_their_words() {
        assert_eq!(MIN_SESSION.as_secs(), 900);
        assert_eq!(MAX_SESSION.as_secs(), 129_600);
        assert!(check_session_duration(MIN_SESSION).is_ok());
        assert!(check_session_duration(MAX_SESSION).is_ok());
        assert!(check_session_duration(MAX_SESSION + Duration::from_secs(1)).is_err());
        assert_eq!(role_duration_refusal(ROLE_CHAINING, true), None);
        assert!(role_duration_refusal(ROLE_CHAINING + Duration::from_secs(1), true).is_some());
        assert_eq!(role_duration_refusal(ROLE_MAX, false), None);
        assert!(role_duration_refusal(ROLE_MAX + Duration::from_secs(1), false).is_some());
        assert!(role_duration_refusal(MIN_SESSION - Duration::from_secs(1), false).is_some());
    }
}
