//! `mfa-session status [PROFILE]`: what sessions exist, and with a profile,
//! what a run for it would use and where each part comes from. Never prints
//! a secret, not even an access key id.

use anyhow::Result;
use jiff::Timestamp;
use serde::Serialize;

use crate::cache::{CachedRole, CachedSession, SessionCache};
use crate::cli::StatusArgs;
use crate::session::{describe_end, rfc3339};

#[derive(Serialize)]
struct Report {
    environment: Option<EnvironmentSession>,
    /// With `status PROFILE`: what a run for it would use, and where each
    /// part comes from.
    #[serde(skip_serializing_if = "Option::is_none")]
    profile: Option<ProfileReport>,
    cached: Vec<CachedReport>,
    /// Role sessions, each on top of a root profile's MFA session.
    roles: Vec<CachedRoleReport>,
}

#[derive(Serialize)]
struct CachedRoleReport {
    profile: String,
    root_profile: String,
    role_arn: String,
    assumed_role_arn: String,
    expiration: String,
    seconds_left: i64,
    expired: bool,
}

#[derive(Serialize)]
struct ProfileReport {
    name: String,
    /// The profile with the long-term key (the name itself, unless a role).
    root: String,
    /// Where the long-term key is (never the key itself).
    key_from: String,
    /// How old it is, when the cached MFA session could ask IAM.
    key_age: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    key_age_days: Option<i64>,
    key_old: bool,
    /// The roles assumed on top of the root's MFA session, from the root up.
    roles: Vec<RoleReport>,
    region: Sourced,
    sts_endpoint: Sourced,
    iam_endpoint: Sourced,
    mfa_serial: Sourced,
    duration_seconds: Sourced,
}

#[derive(Serialize)]
struct RoleReport {
    profile: String,
    role_arn: String,
}

/// A value and where it comes from: `FILE:LINE`, a variable, or a default.
#[derive(Serialize)]
struct Sourced {
    value: Option<String>,
    from: String,
}

#[derive(Serialize)]
struct EnvironmentSession {
    /// The profile whose cached session the environment holds, when known.
    profile: Option<String>,
    expiration: Option<String>,
    seconds_left: Option<i64>,
    expired: Option<bool>,
}

#[derive(Serialize)]
struct CachedReport {
    profile: String,
    serial: String,
    user_name: Option<String>,
    endpoint: Option<String>,
    expiration: String,
    seconds_left: i64,
    expired: bool,
}

pub fn run(args: &StatusArgs) -> Result<String> {
    let now = Timestamp::now();
    if args.short {
        return Ok(short(now));
    }
    let cached: Vec<CachedSession> = match SessionCache::locate() {
        Ok(cache) => cache
            .sessions()
            .into_iter()
            .filter(|c| args.profile.as_deref().is_none_or(|p| c.owner.profile == p))
            .collect(),
        Err(_) => Vec::new(),
    };
    let roles: Vec<CachedRole> = match SessionCache::locate() {
        Ok(cache) => cache
            .roles()
            .into_iter()
            .filter(|r| {
                args.profile
                    .as_deref()
                    .is_none_or(|p| r.owner.profile == p || r.owner.root.profile == p)
            })
            .collect(),
        Err(_) => Vec::new(),
    };
    let environment = environment_session(&cached, &roles, now);
    let profile = match &args.profile {
        Some(name) => Some(profile_report(name)?),
        None => None,
    };
    let report = Report {
        environment,
        profile,
        cached: cached
            .iter()
            .map(|c| {
                let left = c.session.expiration.as_second() - now.as_second();
                CachedReport {
                    profile: c.owner.profile.clone(),
                    serial: c.serial.clone(),
                    user_name: c.user_name.clone(),
                    endpoint: Some(c.owner.endpoint.clone()).filter(|e| !e.is_empty()),
                    expiration: rfc3339(c.session.expiration),
                    seconds_left: left.max(0),
                    expired: left <= 0,
                }
            })
            .collect(),
        roles: roles
            .iter()
            .map(|r| {
                let left = r.session.expiration.as_second() - now.as_second();
                CachedRoleReport {
                    profile: r.owner.profile.clone(),
                    root_profile: r.owner.root.profile.clone(),
                    role_arn: r
                        .owner
                        .hops
                        .last()
                        .map(|h| h.role_arn.clone())
                        .unwrap_or_default(),
                    assumed_role_arn: r.assumed_role_arn.clone(),
                    expiration: rfc3339(r.session.expiration),
                    seconds_left: left.max(0),
                    expired: left <= 0,
                }
            })
            .collect(),
    };
    if args.json {
        return Ok(serde_json::to_string_pretty(&report)? + "\n");
    }
    Ok(human(&report, &cached, now))
}

/// What `mfa-session CODE PROFILE` would use, planned exactly as a run
/// plans it, without a request.
fn profile_report(name: &str) -> Result<ProfileReport> {
    let request = crate::request::Request {
        profile: name.to_owned(),
        code: None,
        code_command: None,
        duration: None,
        serial: None,
        cache: crate::request::CacheUse::Reuse {
            min_remaining: crate::limits::DEFAULT_MIN_REMAINING,
            explicit: false,
        },
        direct: false,
        prompt: crate::dialog::PromptMode::Auto,
    };
    let plan = crate::plan::build(request)?;
    let root = &plan.chain.root;
    let serial = match &plan.mfa.serial {
        Some(serial) => Sourced {
            value: Some(serial.value.clone()),
            from: serial.origin.to_string(),
        },
        None => {
            let remembered = SessionCache::locate()
                .ok()
                .and_then(|c| c.device(&plan.mfa.owner));
            match remembered {
                Some(device) => Sourced {
                    value: Some(device.serial),
                    from: "remembered from an earlier run".to_owned(),
                },
                None => Sourced {
                    value: None,
                    from: "listed through IAM at the next run".to_owned(),
                },
            }
        }
    };
    let endpoint = |url: &Option<String>, from: &crate::origin::Origin| Sourced {
        value: url.clone(),
        from: from.to_string(),
    };
    // Region and STS endpoint of the requested profile; IAM (for listing
    // devices) is the root's.
    let connection = plan
        .roles
        .last()
        .map_or(&plan.mfa.connection, |r| &r.connection);
    let (duration, duration_from) = match plan.roles.last() {
        Some(role) => (role.duration, &role.duration_from),
        None => (plan.mfa.duration, &plan.mfa.duration_from),
    };
    let duration = Sourced {
        value: Some(duration.as_secs().to_string()),
        from: duration_from.to_string(),
    };
    let age = crate::key_age::of(
        &root.name,
        &plan.chain.key,
        &plan.mfa.owner,
        serial.value.as_deref(),
        &plan.mfa.connection,
    );
    let (key_age, key_age_days, key_old) = match &age {
        Ok(age @ crate::key_age::KeyAge::Known { days, .. }) => {
            (age.describe(), Some(*days), age.old())
        }
        Ok(age) => (age.describe(), None, false),
        Err(err) => (crate::error::Report::new(err).line, None, false),
    };
    Ok(ProfileReport {
        name: name.to_owned(),
        root: root.name.clone(),
        key_from: plan.chain.key.origin.to_string(),
        key_age,
        key_age_days,
        key_old,
        roles: plan
            .roles
            .iter()
            .map(|r| RoleReport {
                profile: r.hop.profile.clone(),
                role_arn: r.hop.role_arn.clone(),
            })
            .collect(),
        region: Sourced {
            value: Some(connection.region.clone()),
            from: connection.region_from.to_string(),
        },
        sts_endpoint: endpoint(&connection.sts_endpoint, &connection.sts_endpoint_from),
        iam_endpoint: endpoint(
            &plan.mfa.connection.iam_endpoint,
            &plan.mfa.connection.iam_endpoint_from,
        ),
        mfa_serial: serial,
        duration_seconds: duration,
    })
}

/// The session in this process's environment, if it holds one.
fn environment_session(
    cached: &[CachedSession],
    roles: &[CachedRole],
    now: Timestamp,
) -> Option<EnvironmentSession> {
    let key = std::env::var("AWS_ACCESS_KEY_ID")
        .ok()
        .filter(|k| !k.is_empty());
    let expiration = std::env::var("AWS_CREDENTIAL_EXPIRATION")
        .ok()
        .and_then(|e| e.trim().parse::<Timestamp>().ok());
    if key.is_none() && expiration.is_none() {
        return None;
    }
    let profile = key.as_ref().and_then(|key| {
        cached
            .iter()
            .find(|c| &c.session.access_key_id == key)
            .map(|c| c.owner.profile.clone())
            .or_else(|| {
                roles
                    .iter()
                    .find(|r| &r.session.access_key_id == key)
                    .map(|r| r.owner.profile.clone())
            })
    });
    let left = expiration.map(|e| e.as_second() - now.as_second());
    Some(EnvironmentSession {
        profile,
        expiration: expiration.map(rfc3339),
        seconds_left: left.map(|l| l.max(0)),
        expired: left.map(|l| l <= 0),
    })
}

/// `status --short`, for a prompt: "work 11h20m", "work expired", or
/// nothing without a session in this shell. The cache is read only when
/// the shell holds keys (to name their profile); a shell without any costs
/// nothing but the start of the process.
fn short(now: Timestamp) -> String {
    let holds_keys = std::env::var_os("AWS_ACCESS_KEY_ID").is_some_and(|k| !k.is_empty());
    let ends = std::env::var_os("AWS_CREDENTIAL_EXPIRATION").is_some_and(|e| !e.is_empty());
    if !holds_keys && !ends {
        return String::new();
    }
    let (cached, roles) = match SessionCache::locate() {
        Ok(cache) => (cache.sessions(), cache.roles()),
        Err(_) => (Vec::new(), Vec::new()),
    };
    let Some(env) = environment_session(&cached, &roles, now) else {
        return String::new();
    };
    let name = env.profile.unwrap_or_else(|| "aws".to_owned());
    let name: String = if name.chars().count() > 24 {
        name.chars().take(23).chain(['…']).collect()
    } else {
        name
    };
    match (env.expired, env.seconds_left) {
        (Some(true), _) => format!("{name} expired\n"),
        (_, Some(left)) => format!(
            "{name} {}\n",
            crate::session::describe_left(
                Timestamp::from_second(now.as_second() + left).unwrap_or(now),
                now
            )
        ),
        _ => format!("{name}\n"),
    }
}

fn human(report: &Report, cached: &[CachedSession], now: Timestamp) -> String {
    let mut out = String::new();
    match &report.environment {
        None => out.push_str("this shell: no AWS session\n"),
        Some(env) => {
            let whose = env
                .profile
                .as_ref()
                .map_or(String::new(), |p| format!(" for profile '{p}'"));
            let when = match (&env.expiration, env.expired) {
                (Some(_), Some(true)) => "has expired".to_owned(),
                (Some(e), _) => e
                    .parse::<Timestamp>()
                    .map_or_else(|_| e.clone(), |t| describe_end(t, now)),
                (None, _) => "with no AWS_CREDENTIAL_EXPIRATION (not from mfa-session?)".to_owned(),
            };
            out.push_str(&format!("this shell: a session{whose} {when}\n"));
        }
    }
    if let Some(p) = &report.profile {
        let line = |what: &str, s: &Sourced, unset: &str| {
            let value = s.value.as_deref().unwrap_or(unset);
            format!("  {what:<14}{value} ({})\n", s.from)
        };
        out.push_str(&format!("profile '{}':\n", p.name));
        out.push_str(&format!("  {:<14}{}\n", "key:", p.key_from));
        let old = if p.key_old {
            format!(
                " (old: rotate it with mfa-session rotate {})",
                crate::shell::command_word(&p.root)
            )
        } else {
            String::new()
        };
        out.push_str(&format!("  {:<14}{}{old}\n", "key age:", p.key_age));
        for role in &p.roles {
            out.push_str(&format!(
                "  {:<14}{} (profile '{}')\n",
                "role:", role.role_arn, role.profile
            ));
        }
        out.push_str(&line("region:", &p.region, ""));
        out.push_str(&line("sts endpoint:", &p.sts_endpoint, "AWS's own"));
        out.push_str(&line("iam endpoint:", &p.iam_endpoint, "AWS's own"));
        out.push_str(&line("mfa device:", &p.mfa_serial, "not known yet"));
        out.push_str(&line("duration (s):", &p.duration_seconds, ""));
    }
    if cached.is_empty() && report.roles.is_empty() {
        out.push_str("cached: none\n");
    }
    for c in cached {
        let when = if c.session.expiration <= now {
            format!("expired at {}", rfc3339(c.session.expiration))
        } else {
            describe_end(c.session.expiration, now)
        };
        let endpoint = if c.owner.endpoint.is_empty() {
            String::new()
        } else {
            format!(" at {}", c.owner.endpoint)
        };
        out.push_str(&format!(
            "cached: profile '{}' ({}){endpoint} {when}\n",
            c.owner.profile, c.serial
        ));
    }
    for r in &report.roles {
        let when = if r.expired {
            format!("expired at {}", r.expiration)
        } else {
            r.expiration
                .parse::<Timestamp>()
                .map_or_else(|_| r.expiration.clone(), |t| describe_end(t, now))
        };
        out.push_str(&format!(
            "cached: role profile '{}' ({}) on the MFA session of '{}' {when}\n",
            r.profile, r.assumed_role_arn, r.root_profile
        ));
    }
    out
}
