//! `mfa-session status` and `mfa-session forget`: what sessions exist, and
//! getting rid of them. Never prints a secret, not even an access key id.

use anyhow::Result;
use jiff::Timestamp;
use serde::Serialize;

use crate::cache::{CachedSession, SessionCache};
use crate::cli::{ForgetArgs, StatusArgs};
use crate::session::{describe_end, rfc3339};

#[derive(Serialize)]
struct Report {
    environment: Option<EnvironmentSession>,
    cached: Vec<CachedReport>,
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

pub fn status(args: &StatusArgs) -> Result<String> {
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
    let report = Report {
        environment,
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

pub fn forget(args: &ForgetArgs) -> Result<String> {
    let cache = SessionCache::locate()?;
    let profile = if args.all {
        None
    } else {
        args.profile.as_deref()
    };
    // Sections `--write-profile` filled. One that cannot be edited does not
    // stop the rest: its record stays, so that the next `forget` tries again,
    // and the failure is reported once everything else is gone.
    let mut sections = Vec::new();
    let mut failed = None;
    for written in cache.written(profile) {
        match crate::credentials_file::remove_session(
            &written.path,
            &written.section,
            &written.access_key_id,
        ) {
            Ok(removed) => {
                if removed {
                    sections.push(format!(
                        "[{}] in {}",
                        written.section,
                        written.path.display()
                    ));
                }
                cache.forget_written(&written)?;
            }
            Err(err) => {
                failed.get_or_insert(err.context(format!(
                    "could not remove the session from [{}] in {}",
                    written.section,
                    written.path.display()
                )));
            }
        }
    }
    let removed = cache.forget(profile)?;
    let what = match profile {
        None => "every profile".to_owned(),
        Some(p) => format!("profile '{p}'"),
    };
    crate::say(&format!(
        "forgot {removed} cached file{} for {what} in {}",
        if removed == 1 { "" } else { "s" },
        cache.dir().display()
    ));
    if !sections.is_empty() {
        crate::say(&format!("removed the session from {}", sections.join(", ")));
    }
    match failed {
        None => Ok(String::new()),
        Some(err) => Err(err),
    }
}
