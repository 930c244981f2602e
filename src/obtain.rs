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

use crate::aws::{Aws, AwsError, MfaDevice, RoleRequest, RoleSession, Signer};
use crate::cache::{
    CachedRole, CachedSession, Owner, RememberedDevice, RoleLink, RoleOwner, SessionCache, Stamp,
};
use crate::error::{Failure, Tag};
use crate::input::MfaCode;
use crate::origin::Origin;
use crate::plan::{CodeSource, Plan, RoleStep};
use crate::prompt;
use crate::request::CacheUse;
use crate::session::{self, Session, Surroundings};
use crate::spent::SpentCode;

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
    /// Whether the session is in the cache now (a later run finds it).
    pub cached: bool,
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
    let cache = open_cache(plan.cache.enabled());
    let now = Timestamp::now();
    let policy = plan.cache;
    let wait = crate::lock::timeout()?;

    // The requested role, cached: no request at all.
    if let (Some(top), Some(cache)) = (plan.roles.last(), &cache) {
        let owner = role_owner(&plan, plan.roles.len() - 1);
        if let Some(hit) = usable_role(
            cache,
            &owner,
            top.explicit_duration.then_some(top.duration.as_secs()),
            policy,
            now,
            None,
        ) {
            return Ok(cached_top_role(&plan, cache, hit));
        }
    }
    // What each role layer's cache file is before this run waits for anyone:
    // one that differs after the wait was stored by the run waited for.
    let seen_roles: Vec<Option<Stamp>> = (0..plan.roles.len())
        .map(|index| {
            cache
                .as_ref()
                .and_then(|c| c.role_stamp(&role_owner(&plan, index)))
        })
        .collect();
    let run = Run {
        plan: &plan,
        cache: &cache,
        codes: std::sync::OnceLock::new(),
        wait,
        seen_roles,
        unstored: std::sync::atomic::AtomicBool::new(cache.is_none()),
    };

    // The bottom layer: the MFA session, or with --direct the first role
    // assumed from the long-term key with a code.
    let (mut below, first_role, mfa, mut last_role) = if plan.direct {
        let (layer, role) = direct_role(&run)?;
        (role.session.clone(), 1, layer, Some(role))
    } else {
        let layer = mfa_session(&run)?;
        (layer.session.clone(), 0, layer, None)
    };
    if plan.roles.is_empty() {
        return Ok(Obtained {
            profile: plan.profile.clone(),
            serial: Some(mfa.serial),
            user_name: mfa.user_name,
            session: mfa.session,
            reused: mfa.reused,
            cached: run.cached(),
            surroundings: plan.surroundings.clone(),
            role: None,
        });
    }

    let mut reused = false;
    for index in first_role..plan.roles.len() {
        let (role, from_cache) = role_layer(&run, index, Signer::from(&below))?;
        reused = from_cache;
        below = role.session.clone();
        last_role = Some(role);
    }
    let role = last_role.expect("a role profile has a role");
    Ok(Obtained {
        profile: plan.profile.clone(),
        serial: Some(mfa.serial),
        user_name: mfa.user_name,
        session: role.session,
        reused,
        cached: run.cached(),
        surroundings: plan.surroundings.clone(),
        role: Some(RoleInfo {
            assumed_role_arn: role.assumed_role_arn,
            root_profile: plan.chain.root.name.clone(),
            mfa_expiration: (!plan.direct).then_some(mfa.session.expiration),
        }),
    })
}

/// One run of the executor: the plan and what it shares between layers.
struct Run<'a> {
    plan: &'a Plan,
    cache: &'a Option<SessionCache>,
    /// Where spent codes are recorded: the cache directory, even under
    /// `--no-cache` (the record holds no secret). Found when a code is.
    codes: std::sync::OnceLock<Option<SessionCache>>,
    /// How long to wait for another mfa-session that holds a lock.
    wait: std::time::Duration,
    seen_roles: Vec<Option<Stamp>>,
    /// Set when a layer could not be cached (or there is no cache).
    unstored: std::sync::atomic::AtomicBool,
}

impl Run<'_> {
    fn cached(&self) -> bool {
        !self.unstored.load(std::sync::atomic::Ordering::Relaxed)
    }

    fn not_cached(&self) {
        self.unstored
            .store(true, std::sync::atomic::Ordering::Relaxed);
    }

    fn codes(&self) -> Option<&SessionCache> {
        self.codes.get_or_init(code_records).as_ref()
    }
}

/// A cached session is "fresh" for a caller that waited for its lock when it
/// was stored while it waited; it is used then whatever `--force` or
/// `--min-remaining` say (waiting never costs a second code), if it has at
/// least this much left.
const FRESH_MIN_SECONDS: i64 = 60;

fn cached_top_role(plan: &Plan, cache: &SessionCache, hit: CachedRole) -> Obtained {
    let mfa_expiration = (!plan.direct)
        .then_some(plan.mfa.serial())
        .flatten()
        .and_then(|serial| cache.session(&plan.mfa.owner, serial))
        .map(|c| c.session.expiration);
    Obtained {
        profile: plan.profile.clone(),
        serial: plan.mfa.serial().cloned(),
        user_name: None,
        session: hit.session,
        reused: true,
        cached: true,
        surroundings: plan.surroundings.clone(),
        role: Some(RoleInfo {
            assumed_role_arn: hit.assumed_role_arn,
            root_profile: plan.chain.root.name.clone(),
            mfa_expiration,
        }),
    }
}

/// Role `index` of the plan: from the cache, else (holding the layer's
/// lock, and looking again once it is held) assumed with `signer`.
/// Also says whether it came from the cache.
fn role_layer(run: &Run, index: usize, signer: Signer) -> Result<(RoleSession, bool)> {
    let plan = run.plan;
    let step = &plan.roles[index];
    let owner = role_owner(plan, index);
    let explicit = step.explicit_duration.then_some(step.duration.as_secs());
    let look = |seen: Option<Option<Stamp>>| {
        run.cache
            .as_ref()
            .and_then(|c| usable_role(c, &owner, explicit, plan.cache, Timestamp::now(), seen))
    };
    if let Some(hit) = look(None) {
        return Ok((hit.into(), true));
    }
    let _held = hold(run.cache.as_ref().map(|c| c.lock_role(&owner, run.wait)))?;
    if let Some(hit) = look(Some(run.seen_roles[index])) {
        return Ok((hit.into(), true));
    }
    let role = assume(step, signer, None)?;
    store_role(run, owner, &role, step.duration.as_secs());
    Ok((role, false))
}

impl From<CachedRole> for RoleSession {
    fn from(hit: CachedRole) -> RoleSession {
        RoleSession {
            session: hit.session,
            assumed_role_arn: hit.assumed_role_arn,
        }
    }
}

/// A lock taken, or none when the cache is off or the lock file cannot be
/// made (a warning: the run goes on as it did before locks). Only a wait
/// that runs out fails the run.
fn hold(lock: Option<Result<crate::lock::Held>>) -> Result<Option<crate::lock::Held>> {
    match lock {
        None => Ok(None),
        Some(Ok(held)) => Ok(Some(held)),
        Some(Err(err)) if Failure::is(&err, Tag::Busy) => Err(err),
        Some(Err(err)) => {
            crate::say(&format!(
                "warning: {err:#}; going on without waiting for other runs"
            ));
            Ok(None)
        }
    }
}

/// The cache directory for spent-code records.
fn code_records() -> Option<SessionCache> {
    SessionCache::locate().ok()
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
/// explicit duration (if any) and with enough time left. With `seen` (what
/// the file was before this run waited), one stored since is used whatever
/// `--force` and `--min-remaining` say.
fn usable_role(
    cache: &SessionCache,
    owner: &RoleOwner,
    explicit_seconds: Option<u64>,
    policy: CacheUse,
    now: Timestamp,
    seen: Option<Option<Stamp>>,
) -> Option<CachedRole> {
    let fresh = seen.is_some_and(|seen| cache.role_stamp(owner) != seen);
    if policy.refresh() && !fresh {
        return None;
    }
    cache
        .role(owner)
        .filter(|hit| explicit_seconds.is_none_or(|s| hit.requested_seconds == Some(s)))
        .filter(|hit| {
            let least = if fresh {
                FRESH_MIN_SECONDS
            } else {
                least_left(policy, hit.requested_seconds)
            };
            left(hit.session.expiration, now) > least
        })
}

/// How much a cached session must have left to be used: `--min-remaining`,
/// or by default 15 minutes, but at most half of what the session was asked
/// for: a 15-minute role session would otherwise never be reused, and a
/// credentials server would assume the role for every request.
fn least_left(policy: CacheUse, requested_seconds: Option<u64>) -> i64 {
    let (least, explicit) = policy.min_remaining();
    let least = least.as_secs() as i64;
    match requested_seconds {
        Some(asked) if !explicit => least.min(asked as i64 / 2),
        _ => least,
    }
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
        device: plan.mfa.serial().cloned(),
    }
}

fn store_role(run: &Run, owner: RoleOwner, role: &RoleSession, seconds: u64) {
    if let Some(cache) = run.cache {
        let entry = CachedRole {
            owner,
            assumed_role_arn: role.assumed_role_arn.clone(),
            session: role.session.clone(),
            requested_seconds: Some(seconds),
        };
        if let Err(err) = cache.store_role(&entry) {
            run.not_cached();
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

/// What one look in the cache found for the MFA layer.
struct MfaLook {
    hit: Option<MfaLayer>,
    remembered: Option<RememberedDevice>,
    serial: Option<String>,
    stamp: Option<Stamp>,
}

/// Looks for the MFA session in the cache: the named device, else the
/// remembered one. With `seen`, as in [`usable_role`].
fn look_mfa(run: &Run, seen: Option<Option<Stamp>>) -> MfaLook {
    let plan = run.plan;
    let step = &plan.mfa;
    let owner = &step.owner;
    let remembered = match (step.serial(), run.cache) {
        (None, Some(cache)) => cache.device(owner),
        _ => None,
    };
    let serial = step
        .serial()
        .cloned()
        .or_else(|| remembered.as_ref().map(|d| d.serial.clone()));
    let (Some(cache), Some(known)) = (run.cache, &serial) else {
        return MfaLook {
            hit: None,
            remembered,
            serial,
            stamp: None,
        };
    };
    // The stamp is for a later look, needed only when this one misses (or
    // is that later look): a hit costs no extra system call.
    let stamp_now = || cache.session_stamp(owner, known);
    let (fresh, mut stamp) = match seen {
        Some(seen) => {
            let now = stamp_now();
            (seen != now, now)
        }
        None => (false, None),
    };
    let hit = (fresh || !plan.cache.refresh())
        .then(|| cache.session(owner, known))
        .flatten()
        // An explicit --duration is a request for that session, not for any.
        .filter(|hit| {
            !step.explicit_duration || hit.requested_seconds == Some(step.duration.as_secs())
        })
        .filter(|hit| {
            let least = if fresh {
                FRESH_MIN_SECONDS
            } else {
                least_left(plan.cache, hit.requested_seconds)
            };
            left(hit.session.expiration, Timestamp::now()) > least
        })
        .map(|hit| MfaLayer {
            serial: hit.serial,
            user_name: hit.user_name,
            session: hit.session,
            reused: true,
        });
    if seen.is_none() && hit.is_none() {
        stamp = stamp_now();
    }
    MfaLook {
        hit,
        remembered,
        serial,
        stamp,
    }
}

/// The MFA session: from the cache when a good one is there (no request, no
/// code), else from GetSessionToken, remembering the device. Everything
/// after the first look happens under the lock of the owner's MFA session,
/// so that many callers at once send one request and spend one code.
fn mfa_session(run: &Run) -> Result<MfaLayer> {
    let plan = run.plan;
    let step = &plan.mfa;
    let owner = &step.owner;
    let first = look_mfa(run, None);
    if let Some(hit) = first.hit {
        return Ok(hit);
    }
    let held = hold(run.cache.as_ref().map(|c| c.lock_mfa(owner, run.wait)))?;
    let look = match held {
        Some(_) => look_mfa(run, Some(first.stamp)),
        None => first,
    };
    if let Some(hit) = look.hit {
        return Ok(hit);
    }
    // Before any request: a run that cannot get a code sends none.
    can_get_code(run)?;
    let remembered = look.remembered;
    let known_user = remembered.as_ref().and_then(|d| d.user_name.clone());

    let root = &plan.chain.root.name;
    let aws = Aws::connect(root, (&plan.chain.key).into(), &step.connection)?;
    let (mut serial, mut user_name) = match look.serial {
        Some(serial) => (serial, known_user),
        None => {
            let device = discover_device(&aws, root)?;
            remember(run.cache, owner, &device);
            (device.serial, Some(device.user_name))
        }
    };
    let code = code_while_warming(run, &serial, &aws)?;
    let sent = spend(run, &serial, &code, || {
        aws.session_token(&serial, &code, step.duration)
    });
    let session = match sent {
        Ok(session) => session,
        // A remembered device that AWS no longer accepts (removed, replaced):
        // forget it, look again, and try the same code with the new one.
        Err(err)
            if remembered.is_some()
                && Failure::kind::<AwsError>(&err) == Some(AwsError::UnknownDevice) =>
        {
            if let Some(cache) = run.cache {
                cache.forget_device(owner);
            }
            let device = discover_device(&aws, root)?;
            if device.serial == serial {
                return Err(err);
            }
            remember(run.cache, owner, &device);
            serial = device.serial;
            user_name = Some(device.user_name);
            spend(run, &serial, &code, || {
                aws.session_token(&serial, &code, step.duration)
            })?
        }
        Err(err) => return Err(err),
    };
    if let Some(cache) = run.cache {
        let entry = CachedSession {
            owner: owner.clone(),
            serial: serial.clone(),
            user_name: user_name.clone(),
            session: session.clone(),
            requested_seconds: Some(step.duration.as_secs()),
        };
        if let Err(err) = cache.store_session(&entry) {
            run.not_cached();
            crate::say(&format!("warning: {err:#}; the session was not cached"));
        }
    }
    drop(held);
    Ok(MfaLayer {
        serial,
        user_name,
        session,
        reused: false,
    })
}

/// `--direct`: the first role assumed from the long-term key, with the
/// device's serial and a code, as the AWS CLI does it; under the lock of
/// that role layer.
fn direct_role(run: &Run) -> Result<(MfaLayer, RoleSession)> {
    let plan = run.plan;
    let step = &plan.roles[0];
    let owner = &plan.mfa.owner;
    let root = &plan.chain.root.name;
    let remembered = || match (plan.mfa.serial(), run.cache) {
        (None, Some(cache)) => cache.device(owner),
        _ => None,
    };
    let layer_of =
        |role: &RoleSession, serial: String, user_name: Option<String>, reused| MfaLayer {
            serial,
            user_name,
            session: role.session.clone(),
            reused,
        };
    let role_owner0 = role_owner(plan, 0);
    let explicit = step.explicit_duration.then_some(step.duration.as_secs());
    let look = |seen: Option<Option<Stamp>>| {
        run.cache.as_ref().and_then(|c| {
            usable_role(
                c,
                &role_owner0,
                explicit,
                plan.cache,
                Timestamp::now(),
                seen,
            )
        })
    };
    let cached = |hit: CachedRole| {
        let role: RoleSession = hit.into();
        let device = remembered();
        let serial = plan
            .mfa
            .serial()
            .cloned()
            .or_else(|| device.as_ref().map(|d| d.serial.clone()))
            .unwrap_or_default();
        let user = device.and_then(|d| d.user_name);
        (layer_of(&role, serial, user, true), role)
    };
    if let Some(hit) = look(None) {
        return Ok(cached(hit));
    }
    let _held = hold(
        run.cache
            .as_ref()
            .map(|c| c.lock_role(&role_owner0, run.wait)),
    )?;
    if let Some(hit) = look(Some(run.seen_roles[0])) {
        return Ok(cached(hit));
    }
    can_get_code(run)?;
    let (serial, user_name) = match (plan.mfa.serial(), remembered()) {
        (Some(serial), _) => (serial.clone(), None),
        (None, Some(device)) => (device.serial, device.user_name),
        (None, None) => {
            let aws = Aws::connect(root, (&plan.chain.key).into(), &plan.mfa.connection)?;
            let device = discover_device(&aws, root)?;
            remember(run.cache, owner, &device);
            (device.serial, Some(device.user_name))
        }
    };
    let warm = Aws::connect(root, (&plan.chain.key).into(), &step.connection)?;
    let code = code_while_warming(run, &serial, &warm)?;
    let role = spend(run, &serial, &code, || {
        assume(step, (&plan.chain.key).into(), Some((&serial, &code)))
    })?;
    store_role(run, role_owner0.clone(), &role, step.duration.as_secs());
    Ok((layer_of(&role, serial, user_name, false), role))
}

/// The code, from where the plan says. A code typed at the prompt that was
/// already sent is refused there and asked for again.
fn code(run: &Run, serial: &str) -> Result<MfaCode> {
    match &run.plan.code {
        CodeSource::Given(code) => Ok(code.clone()),
        CodeSource::Command(command) => {
            let from = match &command.origin {
                Origin::Flag(flag) => (*flag).to_owned(),
                origin => format!("mfa_process at {origin}"),
            };
            let command = &command.value;
            // A key to touch, perhaps: said on the desktop too, if the
            // command keeps the user waiting.
            let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
            let waiting = done.clone();
            let text = format!(
                "waiting for the MFA code for profile '{}' ({serial}) from {from}: touch your security key if it asks",
                run.plan.profile
            );
            std::thread::spawn(move || {
                std::thread::sleep(NOTIFY_AFTER);
                if !waiting.load(std::sync::atomic::Ordering::Relaxed) {
                    crate::dialog::notify(&text);
                }
            });
            let code =
                crate::code_command::code_from(command, &from, crate::code_command::timeout()?);
            done.store(true, std::sync::atomic::Ordering::Relaxed);
            code
        }
        CodeSource::Prompt => {
            for _ in 1..PROMPT_ATTEMPTS {
                let code = ask(run, serial)?;
                match refusal(run, serial, &code) {
                    Some(refusal) => crate::say(&refusal.describe()),
                    None => return Ok(code),
                }
            }
            ask(run, serial)
        }
    }
}

/// The code; while the user types it (or a code command runs), `aws`
/// connects and checks its key with GetCallerIdentity.
fn code_while_warming(run: &Run, serial: &str, aws: &Aws) -> Result<MfaCode> {
    match &run.plan.code {
        CodeSource::Given(code) => Ok(code.clone()),
        _ => aws.warm_while(|| code(run, serial))?,
    }
}

/// A code command that takes longer than this gets a desktop notification.
const NOTIFY_AFTER: std::time::Duration = std::time::Duration::from_millis(1500);

/// Fails, as asking would, when the plan's code is to be asked for and
/// there is nowhere to ask: checked before the first request of a run that
/// needs a code, so that none is sent in vain.
fn can_get_code(run: &Run) -> Result<()> {
    use crate::dialog::{Dialog, PromptMode};
    if !matches!(run.plan.code, CodeSource::Prompt) {
        return Ok(());
    }
    match run.plan.prompt {
        PromptMode::Terminal => prompt::check_code_terminal(),
        PromptMode::Dialog => dialog().map(|_| ()),
        PromptMode::None => Err(no_prompt()),
        PromptMode::Auto if prompt::has_terminal() || Dialog::find().is_some() => Ok(()),
        PromptMode::Auto => prompt::check_code_terminal(),
    }
}

fn dialog() -> Result<crate::dialog::Dialog> {
    crate::dialog::Dialog::find().ok_or_else(|| {
        anyhow::Error::from(
            Failure::new("no MFA code given, and no dialog can be shown here")
                .tag(Tag::NoTerminal)
                .hint("a dialog needs DISPLAY or WAYLAND_DISPLAY and zenity or kdialog; or pass the code, or set mfa_process"),
        )
    })
}

fn no_prompt() -> anyhow::Error {
    Failure::new("no MFA code given, and --prompt none asks for none")
        .tag(Tag::NoTerminal)
        .hint("pass the code, or set --code-command or mfa_process")
        .into()
}

/// The code asked for where `--prompt` says: the terminal, else a dialog.
fn ask(run: &Run, serial: &str) -> Result<MfaCode> {
    use crate::dialog::{Dialog, PromptMode};
    let profile = &run.plan.profile;
    match run.plan.prompt {
        PromptMode::Terminal => prompt::read_code(serial),
        PromptMode::Dialog => crate::dialog::read_code(&dialog()?, serial, profile),
        PromptMode::None => Err(no_prompt()),
        PromptMode::Auto if prompt::has_terminal() => prompt::read_code(serial),
        PromptMode::Auto => match Dialog::find() {
            Some(found) => crate::dialog::read_code(&found, serial, profile),
            None => prompt::read_code(serial),
        },
    }
}

/// How many codes the prompt takes before the last one goes through.
const PROMPT_ATTEMPTS: usize = 3;

/// Why `code` is not sent for `serial` now, if it was sent already.
fn refusal(run: &Run, serial: &str, code: &MfaCode) -> Option<crate::spent::Refusal> {
    let now = Timestamp::now();
    run.codes()?
        .spent_codes(serial)
        .iter()
        .find_map(|spent| spent.refuses(serial, code.as_str(), now))
}

/// Sends a request that spends `code`: refused before anything is sent when
/// the code was sent already in its window, recorded as sent otherwise (and
/// the record dropped again when the request never reached AWS).
fn spend<T>(
    run: &Run,
    serial: &str,
    code: &MfaCode,
    send: impl FnOnce() -> Result<T>,
) -> Result<T> {
    let record = match run.codes() {
        None => None,
        Some(codes) => {
            let _held = hold(Some(codes.lock_spent(serial, run.wait)))?;
            if let Some(refusal) = refusal(run, serial, code) {
                return Err(Failure::new(format!(
                    "not sending the MFA code for {serial}: {}",
                    refusal.describe()
                ))
                .hint("AWS accepts each code once: a code sent again fails as a wrong one would")
                .into());
            }
            let record = SpentCode::new(serial, code.as_str(), Timestamp::now());
            codes.store_spent_code(&record).ok().map(|()| record)
        }
    };
    let result = send();
    if let (Err(err), Some(codes), Some(record)) = (&result, run.codes(), &record)
        && Failure::kind::<AwsError>(err)
            .is_some_and(|kind| kind == AwsError::Unreachable || kind.code_unused())
    {
        codes.forget_spent_code(record);
    }
    result
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

/// What doctor says of a user whose only MFA devices are security keys.
pub const ONLY_SECURITY_KEYS: &str = "the user's only MFA devices are FIDO security keys or passkeys, which GetSessionToken cannot use (aws login can; or add a virtual device)";

/// The one MFA device to use: the user's only one, or the one chosen on the
/// terminal when there are several.
fn discover_device(aws: &Aws, profile: &str) -> Result<MfaDevice> {
    let found = aws.mfa_devices()?;
    let mut devices = found.usable;
    if devices.is_empty() && found.security_keys > 0 {
        return Err(Failure::new(format!(
            "the user of profile '{profile}' has only FIDO security keys or passkeys as MFA devices, and GetSessionToken cannot use them (AWS said in 2026 that it will not add them)"
        ))
        .hint(format!(
            "sign in with the browser instead: aws login --profile {p}; or add a virtual MFA device: mfa-session enroll {p}",
            p = crate::shell::command_word(profile)
        ))
        .into());
    }
    match devices.len() {
        0 => Err(Failure::new(format!(
            "MFA is not set up for the user of profile '{profile}': the user has no virtual or hardware MFA device"
        ))
        .hint(format!(
            "set up a virtual one with: mfa-session enroll {}; security keys (FIDO) cannot be used from the command line",
            crate::shell::command_word(profile)
        ))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_reuse_limit_gives_way_for_short_sessions() {
        let policy = |explicit| CacheUse::Reuse {
            min_remaining: crate::limits::DEFAULT_MIN_REMAINING,
            explicit,
        };
        // A 15-minute role session is reused while half of it is left...
        assert_eq!(least_left(policy(false), Some(900)), 450);
        // ...an hour's by the 15 minutes, as before...
        assert_eq!(least_left(policy(false), Some(3600)), 900);
        assert_eq!(least_left(policy(false), None), 900);
        // ...and an explicit --min-remaining is kept as it is.
        assert_eq!(least_left(policy(true), Some(900)), 900);
    }
}
