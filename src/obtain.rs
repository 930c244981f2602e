//! The executor: walks a [`Plan`], taking each layer (the MFA session at the
//! root, then each role on top of it) from the cache when a good one is
//! there, else from AWS, and caching what it gets.
//!
//! A role is assumed with the credentials of the layer below it, never with
//! the long-term key (except the first role under `--direct`), and without
//! an MFA code: credentials from an MFA GetSessionToken carry the MFA context
//! into the role's trust policy.

use std::time::SystemTime;

use anyhow::Result;
use jiff::Timestamp;

use crate::aws::{Aws, MfaDevice, RoleRequest, RoleSession, Signer};
use crate::cache::{
    CachedRole, CachedSession, Owner, RememberedDevice, RoleLink, RoleOwner, SessionCache,
};
use crate::error::{Failure, Tag};
use crate::input::MfaCode;
use crate::plan::{CachePolicy, CodeSource, Plan, RoleStep};
use crate::prompt;
use crate::session::{self, Session, Surroundings};

/// A session and where it came from.
#[derive(Debug)]
pub struct Obtained {
    /// The requested profile.
    pub profile: String,
    /// The MFA device, when this run learned it.
    pub serial: Option<String>,
    pub user_name: Option<String>,
    pub session: Session,
    pub reused: bool,
    /// What changes in the environment besides the session's own variables.
    pub surroundings: Surroundings,
    /// For a role profile: the assumed role, and the MFA session below it.
    pub role: Option<RoleInfo>,
}

#[derive(Debug)]
pub struct RoleInfo {
    pub assumed_role_arn: String,
    pub root_profile: String,
    /// When the MFA session below ends (None under `--direct`).
    pub mfa_expiration: Option<Timestamp>,
}

/// The MFA session layer.
struct MfaLayer {
    serial: String,
    user_name: Option<String>,
    session: Session,
    reused: bool,
}

pub fn obtain(plan: Plan) -> Result<Obtained> {
    let cache = open_cache(plan.cache.enabled);
    let now = Timestamp::now();
    let policy = plan.cache;

    // The requested role, cached: no request at all.
    if let (Some(top), Some(cache)) = (plan.roles.last(), &cache) {
        let owner = role_owner(&plan, plan.roles.len() - 1);
        if let Some(hit) = usable_role(
            cache,
            &owner,
            top.explicit_duration.then_some(top.duration.as_secs()),
            policy,
            now,
        ) {
            let mfa_expiration = (!plan.direct)
                .then_some(plan.mfa.serial.as_ref())
                .flatten()
                .and_then(|serial| cache.session(&plan.mfa.owner, serial))
                .map(|c| c.session.expiration);
            return Ok(Obtained {
                profile: plan.profile.clone(),
                serial: plan.mfa.serial.clone(),
                user_name: None,
                session: hit.session,
                reused: true,
                surroundings: plan.surroundings,
                role: Some(RoleInfo {
                    assumed_role_arn: hit.assumed_role_arn,
                    root_profile: plan.chain.root.name.clone(),
                    mfa_expiration,
                }),
            });
        }
    }

    // The bottom layer: the MFA session, or with --direct the first role
    // assumed from the long-term key with a code.
    let (mut below, first_role, mfa, mut last_role) = if plan.direct {
        let (layer, role) = direct_role(&plan, &cache)?;
        (role.session.clone(), 1, layer, Some(role))
    } else {
        let layer = mfa_session(&plan, &cache, now)?;
        (layer.session.clone(), 0, layer, None)
    };
    if plan.roles.is_empty() {
        return Ok(Obtained {
            profile: plan.profile,
            serial: Some(mfa.serial),
            user_name: mfa.user_name,
            session: mfa.session,
            reused: mfa.reused,
            surroundings: plan.surroundings,
            role: None,
        });
    }

    for index in first_role..plan.roles.len() {
        let step = &plan.roles[index];
        let owner = role_owner(&plan, index);
        let explicit = step.explicit_duration.then_some(step.duration.as_secs());
        let hit = cache
            .as_ref()
            .and_then(|c| usable_role(c, &owner, explicit, policy, now));
        let role = match hit {
            Some(hit) => RoleSession {
                session: hit.session,
                assumed_role_arn: hit.assumed_role_arn,
            },
            None => {
                let role = assume(step, Signer::from(&below), None)?;
                store_role(&cache, owner, &role, step.duration.as_secs());
                role
            }
        };
        below = role.session.clone();
        last_role = Some(role);
    }
    let role = last_role.expect("a role profile has a role");
    Ok(Obtained {
        profile: plan.profile,
        serial: Some(mfa.serial),
        user_name: mfa.user_name,
        session: role.session,
        reused: false,
        surroundings: plan.surroundings,
        role: Some(RoleInfo {
            assumed_role_arn: role.assumed_role_arn,
            root_profile: plan.chain.root.name.clone(),
            mfa_expiration: (!plan.direct).then_some(mfa.session.expiration),
        }),
    })
}

fn open_cache(enabled: bool) -> Option<SessionCache> {
    if !enabled {
        return None;
    }
    match SessionCache::locate() {
        Ok(cache) => Some(cache),
        Err(err) => {
            crate::say(&format!("warning: {err:#}; sessions will not be cached"));
            None
        }
    }
}

/// A role session from the cache that may be used: asked for with the same
/// explicit duration (if any) and with enough time left.
fn usable_role(
    cache: &SessionCache,
    owner: &RoleOwner,
    explicit_seconds: Option<u64>,
    policy: CachePolicy,
    now: Timestamp,
) -> Option<CachedRole> {
    if policy.force {
        return None;
    }
    cache
        .role(owner)
        .filter(|hit| explicit_seconds.is_none_or(|s| hit.requested_seconds == Some(s)))
        .filter(|hit| left(hit.session.expiration, now) > policy.min_remaining.as_secs() as i64)
}

fn left(end: Timestamp, now: Timestamp) -> i64 {
    end.as_second() - now.as_second()
}

/// What a role session in the cache belongs to: the chain up to `index`.
fn role_owner(plan: &Plan, index: usize) -> RoleOwner {
    RoleOwner {
        root: plan.mfa.owner.clone(),
        profile: plan.roles[index].hop.profile.clone(),
        hops: plan.roles[..=index]
            .iter()
            .map(|step| RoleLink {
                role_arn: step.hop.role_arn.clone(),
                session_name: step.session_name.clone().unwrap_or_default(),
                external_id: step.hop.external_id.clone().unwrap_or_default(),
                endpoint: step.connection.sts_endpoint.clone().unwrap_or_default(),
            })
            .collect(),
        direct: plan.direct,
    }
}

fn store_role(cache: &Option<SessionCache>, owner: RoleOwner, role: &RoleSession, seconds: u64) {
    if let Some(cache) = cache {
        let entry = CachedRole {
            owner,
            assumed_role_arn: role.assumed_role_arn.clone(),
            session: role.session.clone(),
            requested_seconds: Some(seconds),
        };
        if let Err(err) = cache.store_role(&entry) {
            crate::say(&format!(
                "warning: {err:#}; the role session was not cached"
            ));
        }
    }
}

/// AssumeRole for one step of the plan, signed by `signer`.
fn assume(step: &RoleStep, signer: Signer, mfa: Option<(&str, &MfaCode)>) -> Result<RoleSession> {
    let aws = Aws::connect(&step.hop.profile, signer, &step.connection)?;
    let name = step
        .session_name
        .clone()
        .unwrap_or_else(default_session_name);
    aws.assume_role(&RoleRequest {
        role_arn: &step.hop.role_arn,
        session_name: &name,
        external_id: step.hop.external_id.as_deref(),
        duration: step.duration,
        mfa,
    })
}

/// `mfa-session-<unix time>`, as the AWS CLI names its role sessions
/// `botocore-session-<unix time>`.
fn default_session_name() -> String {
    let secs = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default();
    format!("mfa-session-{secs}")
}

/// The MFA session: from the cache when a good one is there (no request, no
/// code), else from GetSessionToken, remembering the device.
fn mfa_session(plan: &Plan, cache: &Option<SessionCache>, now: Timestamp) -> Result<MfaLayer> {
    let step = &plan.mfa;
    let owner = &step.owner;
    let remembered = match (&step.serial, cache) {
        (None, Some(cache)) => cache.device(owner),
        _ => None,
    };
    let known_serial = step
        .serial
        .clone()
        .or_else(|| remembered.as_ref().map(|d| d.serial.clone()));
    let known_user = remembered.as_ref().and_then(|d| d.user_name.clone());

    let hit = match (cache, &known_serial, plan.cache.force) {
        (Some(cache), Some(serial), false) => cache.session(owner, serial),
        _ => None,
    };
    // An explicit --duration is a request for that session, not for any.
    let hit = hit.filter(|hit| {
        !step.explicit_duration || hit.requested_seconds == Some(step.duration.as_secs())
    });
    if let Some(hit) = hit
        && left(hit.session.expiration, now) > plan.cache.min_remaining.as_secs() as i64
    {
        return Ok(MfaLayer {
            serial: hit.serial,
            user_name: hit.user_name,
            session: hit.session,
            reused: true,
        });
    }

    let root = &plan.chain.root.name;
    let aws = Aws::connect(root, (&plan.chain.key).into(), &step.connection)?;
    let (mut serial, mut user_name) = match known_serial {
        Some(serial) => (serial, known_user),
        None => {
            let device = discover_device(&aws, root)?;
            remember(cache, owner, &device);
            (device.serial, Some(device.user_name))
        }
    };
    let code = code(plan, &serial)?;
    let session = match aws.session_token(&serial, &code, step.duration) {
        Ok(session) => session,
        // A remembered device that AWS no longer accepts (removed, replaced):
        // forget it, look again, and try the same code with the new one.
        Err(err) if remembered.is_some() && Failure::is(&err, Tag::UnknownDevice) => {
            if let Some(cache) = cache {
                cache.forget_device(owner);
            }
            let device = discover_device(&aws, root)?;
            if device.serial == serial {
                return Err(err);
            }
            remember(cache, owner, &device);
            serial = device.serial;
            user_name = Some(device.user_name);
            aws.session_token(&serial, &code, step.duration)?
        }
        Err(err) => return Err(err),
    };
    if let Some(cache) = cache {
        let entry = CachedSession {
            owner: owner.clone(),
            serial: serial.clone(),
            user_name: user_name.clone(),
            session: session.clone(),
            requested_seconds: Some(step.duration.as_secs()),
        };
        if let Err(err) = cache.store_session(&entry) {
            crate::say(&format!("warning: {err:#}; the session was not cached"));
        }
    }
    Ok(MfaLayer {
        serial,
        user_name,
        session,
        reused: false,
    })
}

/// `--direct`: the first role assumed from the long-term key, with the
/// device's serial and a code, as the AWS CLI does it.
fn direct_role(plan: &Plan, cache: &Option<SessionCache>) -> Result<(MfaLayer, RoleSession)> {
    let step = &plan.roles[0];
    let owner = &plan.mfa.owner;
    let root = &plan.chain.root.name;
    let remembered = match (&plan.mfa.serial, cache) {
        (None, Some(cache)) => cache.device(owner),
        _ => None,
    };
    let (serial, user_name) = match (&plan.mfa.serial, remembered) {
        (Some(serial), _) => (serial.clone(), None),
        (None, Some(device)) => (device.serial, device.user_name),
        (None, None) => {
            let aws = Aws::connect(root, (&plan.chain.key).into(), &plan.mfa.connection)?;
            let device = discover_device(&aws, root)?;
            remember(cache, owner, &device);
            (device.serial, Some(device.user_name))
        }
    };
    let code = code(plan, &serial)?;
    let role = assume(step, (&plan.chain.key).into(), Some((&serial, &code)))?;
    store_role(cache, role_owner(plan, 0), &role, step.duration.as_secs());
    let layer = MfaLayer {
        serial,
        user_name,
        session: role.session.clone(),
        reused: false,
    };
    Ok((layer, role))
}

fn code(plan: &Plan, serial: &str) -> Result<MfaCode> {
    match &plan.code {
        CodeSource::Given(code) => Ok(code.clone()),
        CodeSource::Command { command, from } => {
            crate::code_command::code_from(command, from, crate::code_command::TIMEOUT)
        }
        CodeSource::Prompt => prompt::read_code(serial),
    }
}

fn remember(cache: &Option<SessionCache>, owner: &Owner, device: &MfaDevice) {
    if let Some(cache) = cache {
        let remembered = RememberedDevice {
            serial: device.serial.clone(),
            user_name: Some(device.user_name.clone()),
        };
        if let Err(err) = cache.remember_device(owner, &remembered) {
            crate::say(&format!(
                "warning: {err:#}; the MFA device was not remembered"
            ));
        }
    }
}

/// The one MFA device to use: the user's only one, or the one chosen on the
/// terminal when there are several.
fn discover_device(aws: &Aws, profile: &str) -> Result<MfaDevice> {
    let mut devices = aws.mfa_devices()?;
    match devices.len() {
        0 => Err(Failure::new(format!(
            "MFA is not set up for the user of profile '{profile}': the user has no virtual or hardware MFA device"
        ))
        .hint("assign one in the IAM console (Users > Security credentials > Assign MFA device); security keys (FIDO) cannot be used from the command line")
        .into()),
        1 => Ok(devices.remove(0)),
        _ => prompt::choose_device(&devices).cloned(),
    }
}

/// One line on stderr: whose session, and until when.
pub fn announce(obtained: &Obtained) {
    let now = Timestamp::now();
    let end = session::describe_end(obtained.session.expiration, now);
    let verb = if obtained.reused {
        "reusing the cached session"
    } else {
        "session"
    };
    let line = match &obtained.role {
        Some(role) => {
            let below = match role.mfa_expiration {
                Some(mfa_end) => format!(
                    "; the MFA session of profile '{}' has {} left",
                    role.root_profile,
                    session::describe_left(mfa_end, now)
                ),
                None => String::new(),
            };
            format!(
                "{verb} for profile '{}' as {} {end}{below}",
                obtained.profile, role.assumed_role_arn
            )
        }
        None => {
            let serial = obtained.serial.as_deref().unwrap_or_default();
            let who = match &obtained.user_name {
                Some(user) => format!("user {user} ({serial})"),
                None => serial.to_owned(),
            };
            format!("{verb} for profile '{}' as {who} {end}", obtained.profile)
        }
    };
    crate::say(&line);
}
