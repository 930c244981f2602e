//! `mfa-session doctor [PROFILE]`: one line per check, in order, each with a
//! mark and, where something is wrong, a hint. Exit 0 only when nothing
//! failed. No check sends an MFA code; the network checks send
//! GetCallerIdentity and ListMFADevices, signed with the long-term key,
//! which the Force-MFA policies allow without MFA.

use anyhow::Result;
use jiff::Timestamp;
use serde::Serialize;

use crate::aws::Aws;
use crate::cache::SessionCache;
use crate::cli::DoctorArgs;
use crate::error::{Exit, Failure, Report};
use crate::profile::{ProfileFiles, ProfileSet};
use crate::session::describe_left;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Mark {
    Ok,
    Warn,
    Fail,
    /// Not run: an earlier check it needs failed.
    Skip,
}

#[derive(Debug, Serialize)]
pub struct Check {
    pub name: &'static str,
    pub mark: Mark,
    pub detail: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
}

impl Check {
    fn new(name: &'static str, mark: Mark, detail: impl Into<String>) -> Check {
        Check {
            name,
            mark,
            detail: detail.into(),
            hint: None,
        }
    }

    fn hint(mut self, hint: impl Into<String>) -> Check {
        self.hint = Some(hint.into());
        self
    }

    fn failed(name: &'static str, err: &anyhow::Error) -> Check {
        let report = Report::new(err);
        Check {
            name,
            mark: Mark::Fail,
            detail: report.line,
            hint: report.hint,
        }
    }
}

pub fn run(args: &DoctorArgs) -> Result<String> {
    let checks = checks(args);
    let failed = checks.iter().filter(|c| c.mark == Mark::Fail).count();
    let out = if args.json {
        serde_json::to_string_pretty(&checks)? + "\n"
    } else {
        render(&checks)
    };
    if failed > 0 {
        // The report is the output; the exit status says it failed.
        return Err(Failure::with_exit(
            format!(
                "{failed} check{} failed",
                if failed == 1 { "" } else { "s" }
            ),
            Exit::Failure,
        )
        .output(out)
        .into());
    }
    Ok(out)
}

fn render(checks: &[Check]) -> String {
    let mut out = String::new();
    for check in checks {
        let mark = match check.mark {
            Mark::Ok => "ok  ",
            Mark::Warn => "warn",
            Mark::Fail => "FAIL",
            Mark::Skip => "skip",
        };
        out.push_str(&format!("[{mark}] {}: {}\n", check.name, check.detail));
        if let Some(hint) = &check.hint {
            out.push_str(&format!("       hint: {hint}\n"));
        }
    }
    out
}

fn checks(args: &DoctorArgs) -> Vec<Check> {
    let mut checks = Vec::new();
    let request = match crate::request::Request::for_profile(args.profile.as_deref()) {
        Ok(request) => request,
        Err(err) => {
            checks.push(Check::failed("profile", &err));
            return checks;
        }
    };
    let name = request.profile.clone();

    // The files, and the profile's long-term key.
    let set = ProfileFiles::locate().and_then(|files| {
        let set = ProfileSet::load(&files)?;
        Ok((files, set))
    });
    let (files, set) = match set {
        Ok(found) => found,
        Err(err) => {
            checks.push(Check::failed("profile files", &err));
            return checks;
        }
    };
    checks.push(Check::new(
        "profile files",
        Mark::Ok,
        format!(
            "{} and {} read as the AWS CLI reads them",
            files.credentials.display(),
            files.config.display()
        ),
    ));
    // Planned as a run plans it: the same chain, key, device, connection.
    let plan = match crate::plan::plan(&set, request) {
        Ok(plan) => plan,
        Err(err) => {
            checks.push(Check::failed("long-term key", &err));
            checks.push(environment());
            return checks;
        }
    };
    let chain = &plan.chain;
    let through = if chain.roles.is_empty() {
        String::new()
    } else {
        let roles: Vec<&str> = chain.roles.iter().map(|r| r.role_arn.as_str()).collect();
        format!(" (root of role chain {})", roles.join(" -> "))
    };
    let key = Check::new(
        "long-term key",
        Mark::Ok,
        format!(
            "profile '{name}' signs with the key of profile '{}' from {}{through}",
            chain.root.name, chain.key.origin
        ),
    );
    // The keyring's key wins over one in the files, which other tools use.
    let key = match chain.root.key_place() {
        Ok(crate::profile::KeyPlace::Keyring {
            overridden: Some(file_key),
            ..
        }) => Check {
            mark: Mark::Warn,
            ..key
        }
        .hint(format!(
            "the key at {} is not used, though other tools use it: remove it, or remove the {} line",
            file_key.place(),
            crate::key_store::MARKER
        )),
        _ => key,
    };
    checks.push(key);
    checks.push(environment());

    // AWS: the clock and whose key it is, then the devices.
    let connection = &plan.mfa.connection;
    let aws = Aws::connect(&chain.root.name, (&chain.key).into(), connection);
    let identity = aws.and_then(|aws| aws.caller_identity().map(|id| (aws, id)));
    let (aws, (arn, server)) = match identity {
        Ok(found) => found,
        Err(err) => {
            checks.push(Check::failed("key", &err));
            checks.push(Check::new(
                "clock",
                Mark::Skip,
                "no answer from AWS to measure it by",
            ));
            checks.push(Check::new(
                "MFA devices",
                Mark::Skip,
                "the key did not work",
            ));
            checks.push(cached(&chain.root.name));
            return checks;
        }
    };
    checks.push(clock(server));
    checks.push(Check::new(
        "key",
        Mark::Ok,
        format!("it belongs to {}", arn.escape_debug()),
    ));
    checks.push(key_age(&plan));
    checks.push(match aws.mfa_devices() {
        Err(err) => Check::failed("MFA devices", &err),
        Ok(devices) if devices.usable.is_empty() => Check::new(
            "MFA devices",
            Mark::Fail,
            if devices.security_keys > 0 {
                crate::obtain::ONLY_SECURITY_KEYS
            } else {
                "the user has no MFA device that works from the command line"
            },
        )
        .hint(format!(
            "enroll one from the terminal: mfa-session enroll {}",
            chain.root.name
        )),
        Ok(devices) => {
            let devices = devices.usable;
            let serials: Vec<&str> = devices.iter().map(|d| d.serial.as_str()).collect();
            match plan.mfa.serial() {
                Some(serial) if !serials.contains(&serial.as_str()) => Check::new(
                    "MFA devices",
                    Mark::Fail,
                    format!(
                        "mfa_serial {serial} is not one of the user's devices ({})",
                        serials.join(", ")
                    ),
                )
                .hint("correct mfa_serial in the profile, or remove it to use the listed device"),
                _ => Check::new("MFA devices", Mark::Ok, serials.join(", ")),
            }
        }
    });
    checks.push(cached(&chain.root.name));
    checks
}

/// How old the key is, asked with the cached MFA session (if any).
fn key_age(plan: &crate::plan::Plan) -> Check {
    let chain = &plan.chain;
    match crate::key_age::of(
        &chain.root.name,
        &chain.key,
        &plan.mfa.owner,
        plan.mfa.serial().map(String::as_str),
        &plan.mfa.connection,
    ) {
        Err(err) => Check::new("key age", Mark::Skip, crate::error::Report::new(&err).line),
        Ok(age @ crate::key_age::KeyAge::Unknown) => {
            Check::new("key age", Mark::Skip, age.describe())
        }
        Ok(age) if age.old() => Check::new("key age", Mark::Warn, age.describe()).hint(format!(
            "rotate it: mfa-session rotate {}",
            crate::shell::command_word(&chain.root.name)
        )),
        Ok(age) => Check::new("key age", Mark::Ok, age.describe()),
    }
}

/// Variables in this environment that would shadow a profile: named, never
/// shown.
fn environment() -> Check {
    let set = |name: &str| std::env::var_os(name).is_some_and(|v| !v.is_empty());
    let keys: Vec<&str> = [
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_SECURITY_TOKEN",
    ]
    .into_iter()
    .filter(|n| set(n))
    .collect();
    if keys.is_empty() {
        return Check::new("environment", Mark::Ok, "no AWS keys in this environment");
    }
    let expiration = std::env::var("AWS_CREDENTIAL_EXPIRATION")
        .ok()
        .and_then(|e| e.trim().parse::<Timestamp>().ok());
    let now = Timestamp::now();
    let names = keys.join(", ");
    match expiration {
        Some(end) if end <= now => Check::new(
            "environment",
            Mark::Fail,
            format!(
                "{names} hold a session that expired at {} (AWS_CREDENTIAL_EXPIRATION); AWS tools use them before any profile",
                crate::session::describe_time(end, now)
            ),
        )
        .hint("clear them: eval \"$(mfa-session --clear)\""),
        Some(end) => Check::new(
            "environment",
            Mark::Warn,
            format!(
                "{names} hold a session with {} left; AWS tools use it before any profile",
                describe_left(end, now)
            ),
        ),
        None => Check::new(
            "environment",
            Mark::Warn,
            format!("{names} are set; AWS tools use them before any profile"),
        )
        .hint("if they are left over, clear them: eval \"$(mfa-session --clear)\""),
    }
}

/// This computer's clock against AWS's.
fn clock(server: Option<i64>) -> Check {
    let Some(server) = server else {
        return Check::new(
            "clock",
            Mark::Warn,
            "AWS's answer had no Date header to compare with",
        );
    };
    let local = Timestamp::now().as_second();
    let skew = local - server;
    let detail = match skew {
        0 => "the same as AWS's".to_owned(),
        s if s > 0 => format!("{s} s ahead of AWS"),
        s => format!("{} s behind AWS", -s),
    };
    match skew.unsigned_abs() {
        0..=30 => Check::new("clock", Mark::Ok, detail),
        31..=299 => Check::new("clock", Mark::Warn, detail).hint(
            "AWS refuses requests signed more than 5 minutes off: keep the clock synchronised",
        ),
        _ => Check::new("clock", Mark::Fail, detail).hint(crate::aws::clock_hint_for(skew)),
    }
}

fn cached(profile: &str) -> Check {
    let now = Timestamp::now();
    let Ok(cache) = SessionCache::locate() else {
        return Check::new("cached sessions", Mark::Ok, "no cache directory");
    };
    let mut parts: Vec<String> = cache
        .sessions()
        .into_iter()
        .filter(|c| c.owner.profile == profile && c.session.expiration > now)
        .map(|c| {
            format!(
                "MFA session {} left",
                describe_left(c.session.expiration, now)
            )
        })
        .collect();
    parts.extend(
        cache
            .roles()
            .into_iter()
            .filter(|r| r.owner.root.profile == profile && r.session.expiration > now)
            .map(|r| {
                format!(
                    "role '{}' {} left",
                    r.owner.profile,
                    describe_left(r.session.expiration, now)
                )
            }),
    );
    if parts.is_empty() {
        return Check::new(
            "cached sessions",
            Mark::Ok,
            "none; the next run asks for a code",
        );
    }
    Check::new("cached sessions", Mark::Ok, parts.join(", "))
}
