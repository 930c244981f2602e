//! The plan of a run: everything that will be resolved, built from the
//! arguments and the profile files before any request. The executor
//! ([`crate::obtain`]) walks it, taking each layer from the cache or AWS.
//!
//! Everything the user typed is checked before the first file is read, and
//! every file before the first request, so that mistakes cost no MFA attempt.

use std::time::Duration;

use anyhow::{Context, Result};

use crate::aws::{CHAINING_HINT, Connection, ROLE_CHAINING_LIMIT};
use crate::cache::Owner;
use crate::chain::{Chain, RoleHop};
use crate::cli::SessionArgs;
use crate::error::Failure;
use crate::input::{self, MfaCode};
use crate::profile::{Profile, ProfileFiles, ProfileSet};
use crate::session::{PROFILE_VARIABLES, REGION_VARIABLES, Surroundings};

/// A cached session is reused while it has more than this left, unless
/// `--min-remaining` says otherwise.
pub const DEFAULT_MIN_REMAINING: Duration = Duration::from_secs(15 * 60);

/// The longest role session AWS grants at all.
const ROLE_MAX: Duration = Duration::from_secs(12 * 3600);

/// What the user asked for, checked, before any file is read.
#[derive(Debug)]
pub struct Request {
    pub profile: String,
    pub code: Option<MfaCode>,
    /// `--code-command`.
    pub code_command: Option<String>,
    pub duration: Option<Duration>,
    pub serial: Option<String>,
    pub min_remaining: Duration,
    pub direct: bool,
    /// Where a code is asked for, when one is needed and none is given.
    pub prompt: crate::dialog::PromptMode,
}

#[derive(Debug)]
pub struct Plan {
    /// The requested profile.
    pub profile: String,
    pub chain: Chain,
    pub mfa: MfaStep,
    /// The roles on top of the MFA session, from the root up.
    pub roles: Vec<RoleStep>,
    pub code: CodeSource,
    pub cache: CachePolicy,
    /// `--direct`: the first role is assumed from the long-term key with an
    /// MFA code, and no MFA session is made.
    pub direct: bool,
    pub prompt: crate::dialog::PromptMode,
    pub surroundings: Surroundings,
}

/// The MFA session at the root of the chain.
#[derive(Debug)]
pub struct MfaStep {
    pub owner: Owner,
    pub connection: Connection,
    /// The device when it is named (flag, or `mfa_serial` in the chain).
    pub serial: Option<String>,
    pub duration: Duration,
    /// Whether `--duration` chose it: then only a session asked for with
    /// the same duration is reused.
    pub explicit_duration: bool,
}

#[derive(Debug)]
pub struct RoleStep {
    pub hop: RoleHop,
    /// `role_session_name`, else `mfa-session-<unix time>` at request time.
    pub session_name: Option<String>,
    pub duration: Duration,
    pub explicit_duration: bool,
    pub connection: Connection,
}

/// Where the MFA code comes from, if one is needed.
#[derive(Debug)]
pub enum CodeSource {
    Given(MfaCode),
    /// A command's output: `--code-command`, or `mfa_process` (with where it
    /// was set).
    Command {
        command: String,
        from: String,
    },
    /// Asked for on the terminal.
    Prompt,
}

#[derive(Debug, Clone, Copy)]
pub struct CachePolicy {
    pub enabled: bool,
    pub force: bool,
    pub min_remaining: Duration,
    /// Whether `--min-remaining` (or its variable) chose it: the default
    /// gives way for sessions too short to ever meet it.
    pub min_remaining_explicit: bool,
}

/// The arguments, checked.
pub fn request(positionals: &[String], args: &SessionArgs) -> Result<Request> {
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
        .map(|text| input::parse_duration(text).and_then(input::check_session_duration))
        .transpose()
        .map_err(|e| {
            Failure::usage(format!("--duration: {e}"))
                .hint("for example --duration 12h, 90m or 3600")
        })?;
    let min_remaining = match args.min_remaining.as_deref() {
        None => DEFAULT_MIN_REMAINING,
        Some(text) => input::parse_duration(text)
            .and_then(|d| {
                if d > input::MAX_DURATION {
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
        input::check_serial(serial).map_err(|e| Failure::usage(format!("--serial-number: {e}")))?;
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
    Ok(Request {
        profile,
        code,
        code_command,
        duration,
        serial,
        min_remaining,
        direct: args.direct,
        prompt: args.prompt.unwrap_or_default(),
    })
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

/// The plan for `request`, from the profile files; no request is made.
pub fn build(request: Request, args: &SessionArgs) -> Result<Plan> {
    let files = ProfileFiles::locate()?;
    let set = ProfileSet::load(&files)?;
    let cache = CachePolicy {
        enabled: !args.no_cache,
        force: args.force,
        min_remaining: request.min_remaining,
        min_remaining_explicit: args.min_remaining.is_some(),
    };
    plan(&set, request, cache)
}

/// The plan for `request` from a set of profiles.
pub fn plan(set: &ProfileSet, request: Request, cache: CachePolicy) -> Result<Plan> {
    let chain = crate::chain::resolve(set, &request.profile)?;
    let top = set.profile(&request.profile)?;
    let root_connection = Connection::resolve(&chain.root)?;
    // Roles are assumed where the requested profile says (region, endpoint).
    let role_connection = Connection::resolve(&top)?;
    if request.direct && chain.roles.is_empty() {
        return Err(Failure::usage(format!(
            "--direct assumes a role with MFA, and profile '{}' has no role_arn",
            request.profile
        ))
        .into());
    }

    let is_role = !chain.roles.is_empty();
    let mfa_duration = match request.duration {
        Some(d) if !is_role => d,
        _ => profile_duration(&chain.root)?,
    };
    let serial = match &request.serial {
        Some(serial) => Some(serial.clone()),
        None => match profile_serial(&chain.root)? {
            Some(serial) => Some(serial),
            None => chain
                .roles
                .iter()
                .rev()
                .find_map(|r| r.mfa_serial.as_ref().map(|(s, _)| s.clone())),
        },
    };
    let count = chain.roles.len();
    let mut roles = Vec::with_capacity(count);
    for (index, hop) in chain.roles.iter().enumerate() {
        let top = index + 1 == count;
        let explicit = top && request.duration.is_some();
        let (duration, said) = match (&hop.duration, request.duration) {
            (_, Some(d)) if top => (d, "--duration".to_owned()),
            (Some((d, at)), _) => (*d, format!("duration_seconds at {at}")),
            (None, _) => (ROLE_CHAINING_LIMIT, "the default".to_owned()),
        };
        // With --direct the first role is assumed from the long-term key;
        // every other role is chained from temporary credentials.
        let chained = !(request.direct && index == 0);
        let limit = if chained {
            ROLE_CHAINING_LIMIT
        } else {
            ROLE_MAX
        };
        if duration > limit || duration < input::MIN_DURATION {
            let why = if duration < input::MIN_DURATION {
                "AWS grants a role session of 15 minutes at least".to_owned()
            } else if chained {
                "AWS allows at most 1 hour for a role assumed with temporary credentials (role chaining)".to_owned()
            } else {
                "AWS allows a role session of 12 hours at most".to_owned()
            };
            let failure = Failure::new(format!(
                "role profile '{}' asks for a {} session ({said}), but {why}",
                hop.profile,
                input::format_duration(duration)
            ));
            let failure = if chained && duration > limit {
                failure.hint(CHAINING_HINT)
            } else {
                failure
            };
            return Err(failure.into());
        }
        roles.push(RoleStep {
            hop: hop.clone(),
            session_name: hop.session_name.clone(),
            duration,
            explicit_duration: explicit,
            connection: role_connection.clone(),
        });
    }
    let owner = Owner {
        profile: chain.root.name.clone(),
        access_key_id: chain.key.access_key_id.clone(),
        endpoint: root_connection.sts_endpoint.clone().unwrap_or_default(),
    };
    let surroundings = surroundings(&top, &role_connection, &chain.root, &root_connection);
    // The code: given, else a command (flag, then mfa_process from the
    // requested profile down to the root), else the terminal.
    let code = match (request.code, request.code_command) {
        (Some(code), _) => CodeSource::Given(code),
        (None, Some(command)) => CodeSource::Command {
            command,
            from: "--code-command".to_owned(),
        },
        (None, None) => {
            let from_roles = chain.roles.iter().rev().find_map(|r| r.mfa_process.clone());
            let from_root = chain
                .root
                .get("mfa_process")
                .filter(|s| !s.value.trim().is_empty())
                .map(|s| (s.value.trim().to_owned(), s.place()));
            match from_roles.or(from_root) {
                Some((command, at)) => CodeSource::Command {
                    command,
                    from: format!("mfa_process at {at}"),
                },
                None => CodeSource::Prompt,
            }
        }
    };
    Ok(Plan {
        profile: request.profile,
        mfa: MfaStep {
            owner,
            connection: root_connection,
            serial,
            duration: mfa_duration,
            explicit_duration: !is_role && request.duration.is_some(),
        },
        roles,
        chain,
        code,
        cache,
        direct: request.direct,
        prompt: request.prompt,
        surroundings,
    })
}

/// `AWS_PROFILE` goes when it is set (it would compete with the session's
/// keys); the region is kept in `AWS_REGION` when it came from the profile,
/// which leaves with `AWS_PROFILE`, or from the environment.
fn surroundings(
    top: &Profile,
    connection: &Connection,
    root: &Profile,
    root_connection: &Connection,
) -> Surroundings {
    let set = |name: &&str| std::env::var_os(name).is_some_and(|v| !v.is_empty());
    let env_region = REGION_VARIABLES.iter().any(set);
    let region = if top.value("region").is_some() || env_region {
        Some(connection.region.clone())
    } else if root.value("region").is_some() {
        Some(root_connection.region.clone())
    } else {
        None
    };
    Surroundings {
        unset_profile: PROFILE_VARIABLES.iter().any(set),
        region,
    }
}

/// The profile's `duration_seconds`, checked, else 12 hours.
pub fn profile_duration(profile: &Profile) -> Result<Duration> {
    let Some(setting) = profile.get("duration_seconds") else {
        return Ok(input::DEFAULT_DURATION);
    };
    let seconds: u64 = setting.value.trim().parse().map_err(|_| {
        Failure::new(format!(
            "duration_seconds of profile '{}' is not a number of seconds ({})",
            profile.name,
            setting.place()
        ))
    })?;
    input::check_session_duration(Duration::from_secs(seconds)).with_context(|| {
        format!(
            "duration_seconds of profile '{}' ({})",
            profile.name,
            setting.place()
        )
    })
}

/// The profile's `mfa_serial`, checked.
pub fn profile_serial(profile: &Profile) -> Result<Option<String>> {
    let Some(setting) = profile.get("mfa_serial") else {
        return Ok(None);
    };
    let serial = setting.value.trim();
    if serial.is_empty() {
        return Ok(None);
    }
    input::check_serial(serial).with_context(|| {
        format!(
            "mfa_serial of profile '{}' ({})",
            profile.name,
            setting.place()
        )
    })?;
    Ok(Some(serial.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEYS: &str = "[identity]\naws_access_key_id = AKIAIDENTITY\naws_secret_access_key = s\n";
    const CONFIG: &str = "[profile identity]\nduration_seconds = 28800\n\
        [profile ops]\nrole_arn = arn:aws:iam::2:role/ops\nsource_profile = identity\n\
        mfa_serial = arn:aws:iam::1:mfa/from-ops\n\
        [profile prod]\nrole_arn = arn:aws:iam::3:role/admin\nsource_profile = ops\nduration_seconds = 1800\n\
        [profile long]\nrole_arn = arn:aws:iam::3:role/admin\nsource_profile = identity\nduration_seconds = 7200\n";

    fn planned(name: &str, duration: Option<u64>, direct: bool) -> Result<Plan> {
        let (_dir, files) = crate::profile::fixture(CONFIG, KEYS);
        let set = ProfileSet::load(&files).unwrap();
        let request = Request {
            profile: name.to_owned(),
            code: None,
            code_command: None,
            duration: duration.map(Duration::from_secs),
            serial: None,
            min_remaining: DEFAULT_MIN_REMAINING,
            direct,
            prompt: crate::dialog::PromptMode::Auto,
        };
        let cache = CachePolicy {
            enabled: true,
            force: false,
            min_remaining: DEFAULT_MIN_REMAINING,
            min_remaining_explicit: false,
        };
        plan(&set, request, cache)
    }

    fn seconds(plan: &Plan) -> (u64, Vec<u64>) {
        (
            plan.mfa.duration.as_secs(),
            plan.roles.iter().map(|r| r.duration.as_secs()).collect(),
        )
    }

    #[test]
    fn a_user_profile_plans_one_mfa_session() {
        let plan = planned("identity", None, false).unwrap();
        assert_eq!(seconds(&plan), (28800, vec![]));
        assert_eq!(plan.mfa.owner.profile, "identity");
        assert!(!plan.mfa.explicit_duration);
        let plan = planned("identity", Some(3600), false).unwrap();
        assert_eq!(seconds(&plan), (3600, vec![]));
        assert!(plan.mfa.explicit_duration);
    }

    #[test]
    fn roles_default_to_an_hour_and_take_their_own_duration() {
        let plan = planned("prod", None, false).unwrap();
        // The MFA session keeps the root's duration; ops 1h; prod its own.
        assert_eq!(seconds(&plan), (28800, vec![3600, 1800]));
        assert_eq!(
            plan.mfa.serial.as_deref(),
            Some("arn:aws:iam::1:mfa/from-ops")
        );
        // --duration is for the requested role only.
        let plan = planned("prod", Some(900), false).unwrap();
        assert_eq!(seconds(&plan), (28800, vec![3600, 900]));
        assert!(plan.roles[1].explicit_duration && !plan.roles[0].explicit_duration);
    }

    #[test]
    fn the_chaining_limit_is_checked_before_any_request() {
        let err = planned("long", None, false).unwrap_err().to_string();
        assert!(
            err.starts_with("role profile 'long' asks for a 2h session (duration_seconds at "),
            "{err}"
        );
        assert!(err.ends_with("but AWS allows at most 1 hour for a role assumed with temporary credentials (role chaining)"), "{err}");
        let err = planned("prod", Some(7200), false).unwrap_err().to_string();
        assert!(err.contains("asks for a 2h session (--duration)"), "{err}");
        // --direct: the first role from the long-term key, up to 12h...
        let plan = planned("long", None, true).unwrap();
        assert_eq!(seconds(&plan).1, vec![7200]);
        assert!(plan.direct);
        // ...but a role above it is chained again.
        let err = planned("prod", Some(7200), true).unwrap_err().to_string();
        assert!(err.contains("role chaining"), "{err}");
        let err = planned("long", Some(13 * 3600), true)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("AWS allows a role session of 12 hours at most"),
            "{err}"
        );
        let err = planned("identity", None, true).unwrap_err().to_string();
        assert!(err.starts_with("--direct assumes a role with MFA"), "{err}");
    }
}
