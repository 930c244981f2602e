//! The plan of a run: everything that will be resolved, built from the
//! [`Request`] and the profile files before any AWS request. The executor
//! ([`crate::obtain`]) walks it, taking each layer from the cache or AWS.
//!
//! What the user typed is checked by [`Request::read`] before the first file
//! is read, and every file here before the first request, so that mistakes
//! cost no MFA attempt.

use std::time::Duration;

use anyhow::{Context, Result};

use crate::cache::Owner;
use crate::chain::{Chain, RoleHop};
use crate::connection::Connection;
use crate::error::Failure;
use crate::input::{self, MfaCode};
use crate::limits::{self, CHAINING_HINT};
use crate::origin::{Origin, Sourced};
use crate::profile::{Key, Profile, ProfileFiles, ProfileSet};
pub use crate::request::{CacheUse, Request};
use crate::session::{PROFILE_VARIABLES, REGION_VARIABLES, Surroundings};

#[derive(Debug)]
pub struct Plan {
    /// The requested profile.
    pub profile: String,
    pub chain: Chain,
    pub mfa: MfaStep,
    /// The roles on top of the MFA session, from the root up.
    pub roles: Vec<RoleStep>,
    pub code: CodeSource,
    pub cache: CacheUse,
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
    /// The device when it is named (flag, or `mfa_serial` in the chain),
    /// and where.
    pub serial: Option<Sourced<String>>,
    pub duration: Duration,
    /// Where the duration came from.
    pub duration_from: Origin,
    /// Whether `--duration` chose it: then only a session asked for with
    /// the same duration is reused.
    pub explicit_duration: bool,
}

impl MfaStep {
    /// The named device's serial, without where it was named.
    pub fn serial(&self) -> Option<&String> {
        self.serial.as_ref().map(|s| &s.value)
    }
}

#[derive(Debug)]
pub struct RoleStep {
    pub hop: RoleHop,
    /// `role_session_name`, else `mfa-session-<unix time>` at request time.
    pub session_name: Option<String>,
    pub duration: Duration,
    /// Where the duration came from.
    pub duration_from: Origin,
    pub explicit_duration: bool,
    pub connection: Connection,
}

/// Where the MFA code comes from, if one is needed.
#[derive(Debug)]
pub enum CodeSource {
    Given(MfaCode),
    /// A command's output: `--code-command`, or `mfa_process` (with where it
    /// was set).
    Command(Sourced<String>),
    /// Asked for on the terminal.
    Prompt,
}

/// The plan for `request`, from the profile files; no request is made.
pub fn build(request: Request) -> Result<Plan> {
    let files = ProfileFiles::locate()?;
    let set = ProfileSet::load(&files)?;
    plan(&set, request)
}

/// The plan for `request` from a set of profiles.
pub fn plan(set: &ProfileSet, request: Request) -> Result<Plan> {
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
        Some(d) if !is_role => Sourced::new(d, Origin::Flag("--duration")),
        _ => profile_duration(&chain.root)?,
    };
    let serial = match &request.serial {
        Some(serial) => Some(Sourced::new(
            serial.clone(),
            Origin::Flag("--serial-number"),
        )),
        None => match profile_serial(&chain.root)? {
            Some(serial) => Some(serial),
            None => chain.roles.iter().rev().find_map(|r| r.mfa_serial.clone()),
        },
    };
    let count = chain.roles.len();
    let mut roles = Vec::with_capacity(count);
    for (index, hop) in chain.roles.iter().enumerate() {
        let top = index + 1 == count;
        let explicit = top && request.duration.is_some();
        let (duration, from) = match (&hop.duration, request.duration) {
            (_, Some(d)) if top => (d, Origin::Flag("--duration")),
            (Some(d), _) => (d.value, d.origin.clone()),
            (None, _) => (
                limits::ROLE_CHAINING,
                Origin::DefaultBecause("default for a role"),
            ),
        };
        let said = match &from {
            Origin::File { .. } => format!("duration_seconds at {from}"),
            Origin::Flag(flag) => (*flag).to_owned(),
            _ => "the default".to_owned(),
        };
        // With --direct the first role is assumed from the long-term key;
        // every other role is chained from temporary credentials.
        let chained = !(request.direct && index == 0);
        if let Some(why) = limits::role_duration_refusal(duration, chained) {
            let failure = Failure::new(format!(
                "role profile '{}' asks for a {} session ({said}), but {why}",
                hop.profile,
                input::format_duration(duration)
            ));
            let failure = if chained && duration > limits::ROLE_CHAINING {
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
            duration_from: from,
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
        (None, Some(command)) => {
            CodeSource::Command(Sourced::new(command, Origin::Flag("--code-command")))
        }
        (None, None) => {
            let from_roles = chain.roles.iter().rev().find_map(|r| r.mfa_process.clone());
            let from_root = chain.root.sourced(Key::MfaProcess);
            match from_roles.or(from_root) {
                Some(command) => CodeSource::Command(command),
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
            duration: mfa_duration.value,
            duration_from: mfa_duration.origin,
            explicit_duration: !is_role && request.duration.is_some(),
        },
        roles,
        chain,
        code,
        cache: request.cache,
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
    let region = if top.value(Key::Region).is_some() || env_region {
        Some(connection.region.clone())
    } else if root.value(Key::Region).is_some() {
        Some(root_connection.region.clone())
    } else {
        None
    };
    Surroundings {
        unset_profile: PROFILE_VARIABLES.iter().any(set),
        region,
        before: crate::session::Before::from_env(),
    }
}

/// The profile's `duration_seconds`, checked, else 12 hours.
pub fn profile_duration(profile: &Profile) -> Result<Sourced<Duration>> {
    let Some(setting) = profile.get(Key::DurationSeconds) else {
        return Ok(Sourced::new(limits::DEFAULT_SESSION, Origin::Default));
    };
    let seconds: u64 = setting.value.trim().parse().map_err(|_| {
        Failure::new(format!(
            "duration_seconds of profile '{}' is not a number of seconds ({})",
            profile.name,
            setting.place()
        ))
    })?;
    let duration =
        limits::check_session_duration(Duration::from_secs(seconds)).with_context(|| {
            format!(
                "duration_seconds of profile '{}' ({})",
                profile.name,
                setting.place()
            )
        })?;
    Ok(Sourced::new(duration, setting.origin()))
}

/// The profile's `mfa_serial`, checked.
pub fn profile_serial(profile: &Profile) -> Result<Option<Sourced<String>>> {
    let Some(setting) = profile.get(Key::MfaSerial) else {
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
    Ok(Some(Sourced::new(serial.to_owned(), setting.origin())))
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
            cache: CacheUse::Reuse {
                min_remaining: crate::limits::DEFAULT_MIN_REMAINING,
                explicit: false,
            },
            direct,
            prompt: crate::dialog::PromptMode::Auto,
        };
        plan(&set, request)
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
            plan.mfa.serial().map(String::as_str),
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
