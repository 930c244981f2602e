//! What the user asked for: the command line read once, checked, into one
//! typed [`Request`], before any file is read. Everything below works from
//! the request, never from the arguments.

use std::time::Duration;

use anyhow::Result;

use crate::cli::SessionArgs;
use crate::error::Failure;
use crate::input::{self, MfaCode};
use crate::limits::{self, DEFAULT_MIN_REMAINING};

/// What the user asked for, checked, before any file is read.
#[derive(Clone, Debug)]
pub struct Request {
    pub profile: String,
    pub code: Option<MfaCode>,
    /// `--code-command`.
    pub code_command: Option<String>,
    pub duration: Option<Duration>,
    pub serial: Option<String>,
    pub cache: CacheUse,
    pub direct: bool,
    /// Where a code is asked for, when one is needed and none is given.
    pub prompt: crate::dialog::PromptMode,
}

/// How the cache is used.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CacheUse {
    /// `--no-cache`: sessions and devices are neither read nor written.
    Off,
    /// `--force`: a new session, stored; only one another caller stored
    /// while this one waited is taken instead.
    Refresh,
    /// A cached session is reused while it has more than `min_remaining`
    /// left; `explicit` when `--min-remaining` (or its variable) chose it,
    /// else the default gives way for sessions too short to ever meet it.
    Reuse {
        min_remaining: Duration,
        explicit: bool,
    },
}

impl CacheUse {
    pub fn enabled(self) -> bool {
        self != CacheUse::Off
    }

    pub fn refresh(self) -> bool {
        self == CacheUse::Refresh
    }

    /// The least a cached session must have left, and whether it was asked
    /// for; the default when the cache is not reused.
    pub fn min_remaining(self) -> (Duration, bool) {
        match self {
            CacheUse::Reuse {
                min_remaining,
                explicit,
            } => (min_remaining, explicit),
            _ => (DEFAULT_MIN_REMAINING, false),
        }
    }
}

impl Request {
    /// The request of a command that names only a profile (`doctor`,
    /// `enroll`, `keys`): that profile, else the environment's, checked as
    /// every command checks it; everything else as by default.
    pub fn for_profile(profile: Option<&str>) -> Result<Request> {
        let args = SessionArgs {
            profile: profile.map(str::to_owned),
            ..Default::default()
        };
        Request::read(&[], &args)
    }

    /// The arguments, checked: the one reader of the session's arguments
    /// (the commands keep only how they show things: `--quiet`, and the
    /// flags as typed for the command line a hint repeats).
    pub fn read(positionals: &[String], args: &SessionArgs) -> Result<Request> {
        let sorted = input::sort_positionals(positionals)?;
        let code = match (sorted.code.as_deref(), args.code.as_deref()) {
            (Some(_), Some(_)) => {
                return Err(Failure::usage(
                    "the MFA code is given twice (as an argument and with --code)",
                )
                .into());
            }
            (Some(code), None) | (None, Some(code)) => Some(MfaCode::parse(code)?),
            (None, None) => None,
        };
        let profile = match (sorted.profile.as_deref(), args.profile.as_deref()) {
            (Some(a), Some(b)) if a != b => {
                return Err(Failure::usage(format!(
                    "two profiles given: '{a}' as an argument and '{b}' with --profile"
                ))
                .into());
            }
            (Some(name), _) | (None, Some(name)) => name.to_owned(),
            (None, None) => default_profile()?,
        };
        if profile.trim().is_empty() {
            return Err(Failure::usage("the profile name is empty").into());
        }
        let duration = args
            .duration
            .as_deref()
            .map(|text| input::parse_duration(text).and_then(limits::check_session_duration))
            .transpose()
            .map_err(|e| {
                Failure::usage(format!("--duration: {e}"))
                    .hint("for example --duration 12h, 90m or 3600")
            })?;
        let min_remaining = match args.min_remaining.as_deref() {
            None => DEFAULT_MIN_REMAINING,
            Some(text) => input::parse_duration(text)
                .and_then(|d| {
                    if d > limits::MAX_SESSION {
                        anyhow::bail!("'{}' is longer than any session (36h at most)", text.trim());
                    }
                    Ok(d)
                })
                .map_err(|e| {
                    Failure::usage(format!("--min-remaining: {e}"))
                        .hint("for example --min-remaining 30m")
                })?,
        };
        let serial = args
            .serial_number
            .as_deref()
            .map(str::trim)
            .map(str::to_owned);
        if let Some(serial) = &serial {
            input::check_serial(serial)
                .map_err(|e| Failure::usage(format!("--serial-number: {e}")))?;
        }
        if code.is_some() && args.code_command.is_some() {
            return Err(Failure::usage("the MFA code is given, and --code-command too").into());
        }
        let code_command = args
            .code_command
            .as_deref()
            .map(str::trim)
            .filter(|c| !c.is_empty())
            .map(str::to_owned);
        let cache = if args.no_cache {
            CacheUse::Off
        } else if args.force {
            CacheUse::Refresh
        } else {
            CacheUse::Reuse {
                min_remaining,
                explicit: args.min_remaining.is_some(),
            }
        };
        Ok(Request {
            profile,
            code,
            code_command,
            duration,
            serial,
            cache,
            direct: args.direct,
            prompt: args.prompt.unwrap_or_default(),
        })
    }
}

/// The profile named by the environment, as the AWS CLI reads it:
/// `AWS_DEFAULT_PROFILE` or `AWS_PROFILE`, else "default". When both are set
/// and differ, the CLI quietly prefers the first and other SDKs the second:
/// refused, naming both, rather than guessed.
fn default_profile() -> Result<String> {
    let read = |name: &str| -> Result<Option<String>> {
        match std::env::var_os(name) {
            None => Ok(None),
            Some(value) if value.is_empty() => Ok(None),
            Some(value) => value.into_string().map(Some).map_err(|_| {
                Failure::usage(format!("{name} is not valid UTF-8"))
                    .hint(format!("set {name} to a profile name, or name the profile: mfa-session CODE PROFILE"))
                    .into()
            }),
        }
    };
    let (default_profile, profile) = (read("AWS_DEFAULT_PROFILE")?, read("AWS_PROFILE")?);
    let env = |name: &str| match name {
        "AWS_DEFAULT_PROFILE" => default_profile.clone(),
        "AWS_PROFILE" => profile.clone(),
        _ => None,
    };
    crate::profile::location::profile_name(&env).map_err(|(a, b)| {
        Failure::usage(format!(
            "AWS_DEFAULT_PROFILE ('{a}') and AWS_PROFILE ('{b}') name different profiles"
        ))
        .hint("unset one of them, or name the profile: mfa-session CODE PROFILE")
        .into()
    })
}
