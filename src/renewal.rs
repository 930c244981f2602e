//! What the `init` functions' prompt hook needs to renew a session in the
//! shell, with no code, before it ends.
//!
//! A role session on an MFA session lasts an hour at most; the MFA session
//! under it lasts 12. The hook compares the time with these variables in
//! the shell itself (no process while nothing is due), and when the role
//! session has less than `MFA_SESSION_RENEW_BEFORE` left, runs
//! `mfa-session --wrapped --renew PROFILE`, which assumes the role again
//! from the cached MFA session. When the MFA session itself is that close
//! to its end, the hook says so once (renewing it takes a code).
//!
//! Set only by runs under an `init` function (`--wrapped`):
//! - `MFA_SESSION_PROFILE`: the profile to renew;
//! - `MFA_SESSION_ENDS`, `MFA_SESSION_MFA_ENDS`: when the session and the MFA
//!   session under it end, in Unix seconds (the same for a profile with no
//!   role);
//! - `MFA_SESSION_RENEW_WINDOW`: the threshold, in seconds.
//!
//! `MFA_SESSION_RENEW_BEFORE=off` (or 0) turns renewal and the warning off.

use std::time::Duration;

use anyhow::Result;

use crate::error::Failure;
use crate::obtain::Obtained;
use crate::shell::Script;

/// The threshold when none is set.
pub const DEFAULT_WINDOW: Duration = Duration::from_secs(5 * 60);

const PROFILE: &str = "MFA_SESSION_PROFILE";
const ENDS: &str = "MFA_SESSION_ENDS";
const MFA_ENDS: &str = "MFA_SESSION_MFA_ENDS";
const WINDOW: &str = "MFA_SESSION_RENEW_WINDOW";

/// The renewal settings of this run.
pub struct Renewal {
    window: Option<Duration>,
}

impl Renewal {
    /// `MFA_SESSION_RENEW_BEFORE`: a duration, or `off`.
    pub fn from_env() -> Result<Renewal> {
        let window = match std::env::var("MFA_SESSION_RENEW_BEFORE") {
            Ok(text) if text.trim().eq_ignore_ascii_case("off") => None,
            Ok(text) if !text.trim().is_empty() => {
                let window = crate::input::parse_duration(&text).map_err(|e| {
                    Failure::usage(format!("MFA_SESSION_RENEW_BEFORE: {e}"))
                        .hint("set it to a duration, such as 5m or 300, or to off")
                })?;
                (!window.is_zero()).then_some(window)
            }
            _ => Some(DEFAULT_WINDOW),
        };
        Ok(Renewal { window })
    }

    pub fn window(&self) -> Option<Duration> {
        self.window
    }

    /// The variables the hook reads, for the session just obtained.
    pub fn record(&self, obtained: &Obtained, script: &mut Script) {
        let Some(window) = self.window else {
            forget(script);
            return;
        };
        let ends = obtained.session.expiration.as_second();
        let mfa_ends = obtained
            .role
            .as_ref()
            .and_then(|r| r.mfa_expiration)
            .map_or(ends, |t| t.as_second());
        script
            .set(PROFILE, obtained.profile.clone())
            .set(ENDS, ends.to_string())
            .set(MFA_ENDS, mfa_ends.to_string())
            .set(WINDOW, window.as_secs().to_string());
    }
}

/// Takes the hook's variables away (`--clear`, or renewal turned off).
pub fn forget(script: &mut Script) {
    for name in [PROFILE, ENDS, MFA_ENDS, WINDOW] {
        script.unset(name);
    }
}
