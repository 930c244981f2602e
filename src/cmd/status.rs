//! `mfa-session status [PROFILE]`: what sessions exist, and with a profile,
//! what a run for it would use and where each part comes from. Never prints
//! a secret, not even an access key id.

use anyhow::Result;
use jiff::Timestamp;
use serde::Serialize;

use crate::cache::{CachedSession, SessionCache};
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
}

#[derive(Serialize)]
struct ProfileReport {
    name: String,
    /// Where the long-term key is (never the key itself).
    key_from: String,
    region: Sourced,
    sts_endpoint: Sourced,
    iam_endpoint: Sourced,
    mfa_serial: Sourced,
    duration_seconds: Sourced,
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
    let cached: Vec<CachedSession> = match SessionCache::locate() {
        Ok(cache) => cache
            .sessions()
            .into_iter()
            .filter(|c| args.profile.as_deref().is_none_or(|p| c.owner.profile == p))
            .collect(),
        Err(_) => Vec::new(),
    };
    let environment = environment_session(&cached, now);
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
    };
    if args.json {
        return Ok(serde_json::to_string_pretty(&report)? + "\n");
    }
    Ok(human(&report, &cached, now))
}

/// What `mfa-session CODE PROFILE` would use, resolved exactly as it would
/// be, without a request.
fn profile_report(name: &str) -> Result<ProfileReport> {
    let files = crate::profile::ProfileFiles::locate()?;
    let profile = crate::profile::load_profile(&files, name)?;
    let key = profile.long_term_key()?;
    let connection = crate::aws::Connection::resolve(&profile)?;
    let duration = crate::plan::profile_duration(&profile)?;
    let serial = match crate::plan::profile_serial(&profile)? {
        Some(serial) => Sourced {
            value: Some(serial),
            from: profile
                .get("mfa_serial")
                .map(|s| s.place())
                .unwrap_or_default(),
        },
        None => {
            let owner = crate::cache::Owner {
                profile: name.to_owned(),
                access_key_id: key.access_key_id.clone(),
                endpoint: connection.sts_endpoint.clone().unwrap_or_default(),
            };
            let remembered = SessionCache::locate().ok().and_then(|c| c.device(&owner));
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
    let endpoint = |url: &Option<String>, from: &str| Sourced {
        value: url.clone(),
        from: from.to_owned(),
    };
    Ok(ProfileReport {
        name: name.to_owned(),
        key_from: key.origin.clone(),
        region: Sourced {
            value: Some(connection.region.clone()),
            from: connection.region_from.clone(),
        },
        sts_endpoint: endpoint(&connection.sts_endpoint, &connection.sts_endpoint_from),
        iam_endpoint: endpoint(&connection.iam_endpoint, &connection.iam_endpoint_from),
        mfa_serial: serial,
        duration_seconds: Sourced {
            value: Some(duration.as_secs().to_string()),
            from: profile
                .get("duration_seconds")
                .map_or_else(|| "default".to_owned(), |s| s.place()),
        },
    })
}

/// The session in this process's environment, if it holds one.
fn environment_session(cached: &[CachedSession], now: Timestamp) -> Option<EnvironmentSession> {
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
    });
    let left = expiration.map(|e| e.as_second() - now.as_second());
    Some(EnvironmentSession {
        profile,
        expiration: expiration.map(rfc3339),
        seconds_left: left.map(|l| l.max(0)),
        expired: left.map(|l| l <= 0),
    })
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
        out.push_str(&line("region:", &p.region, ""));
        out.push_str(&line("sts endpoint:", &p.sts_endpoint, "AWS's own"));
        out.push_str(&line("iam endpoint:", &p.iam_endpoint, "AWS's own"));
        out.push_str(&line("mfa device:", &p.mfa_serial, "not known yet"));
        out.push_str(&line("duration (s):", &p.duration_seconds, ""));
    }
    if cached.is_empty() {
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
    out
}
