//! The main command: arguments and profile files -> a request plan -> AWS ->
//! a session -> shell code.
//!
//! Everything the user typed is checked before the first file is read, and
//! every file before the first request, so that mistakes cost no MFA attempt.
//! The shell code is returned to `main`, which prints it once: on any failure
//! stdout stays empty and `eval` runs nothing.

use std::time::Duration;

use anyhow::{Context, Result};
use jiff::Timestamp;

use crate::aws::{Aws, Connection, MfaDevice};
use crate::cli::GetArgs;
use crate::error::Failure;
use crate::input::{self, MfaCode};
use crate::profile::{Profile, ProfileFiles};
use crate::prompt;
use crate::session::{self, Session};
use crate::shell::Shell;

/// What the user asked for, checked, before any file is read.
#[derive(Debug)]
struct Request {
    profile: String,
    code: Option<MfaCode>,
    duration: Option<Duration>,
    serial: Option<String>,
}

pub fn run(args: &GetArgs) -> Result<String> {
    let shell = args.shell.unwrap_or_else(Shell::detect);
    if args.clear {
        return session::clear_script().render(shell);
    }
    let request = request(args)?;
    let files = ProfileFiles::locate()?;
    let profile = crate::profile::load_profile(&files, &request.profile)?;
    let key = profile.long_term_key()?;
    let duration = match request.duration {
        Some(d) => d,
        None => profile_duration(&profile)?,
    };
    let serial = match request.serial {
        Some(serial) => Some(serial),
        None => profile_serial(&profile)?,
    };
    let connection = Connection::resolve(&profile)?;
    let aws = Aws::connect(&profile.name, &key, &connection)?;

    let (serial, user) = match serial {
        Some(serial) => (serial, None),
        None => {
            let device = discover_device(&aws, &profile.name)?;
            (device.serial, Some(device.user_name))
        }
    };
    let code = match request.code {
        Some(code) => code,
        None => prompt::read_code(&serial)?,
    };
    let session = aws.session_token(&serial, &code, duration)?;
    // Rendered before anything is said: cmd may refuse a value.
    let output = session.script().render(shell)?;
    if !args.quiet {
        announce(&profile.name, user.as_deref(), &serial, &session);
    }
    Ok(output)
}

fn request(args: &GetArgs) -> Result<Request> {
    let positionals: Vec<String> = [&args.first, &args.second]
        .into_iter()
        .flatten()
        .cloned()
        .collect();
    let sorted = input::sort_positionals(&positionals)?;
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
    let serial = args
        .serial_number
        .as_deref()
        .map(str::trim)
        .map(str::to_owned);
    if let Some(serial) = &serial {
        input::check_serial(serial).map_err(|e| Failure::usage(format!("--serial-number: {e}")))?;
    }
    Ok(Request {
        profile,
        code,
        duration,
        serial,
    })
}

/// `AWS_PROFILE`, else "default".
fn default_profile() -> Result<String> {
    match std::env::var_os("AWS_PROFILE") {
        None => Ok("default".to_owned()),
        Some(value) if value.is_empty() => Ok("default".to_owned()),
        Some(value) => value.into_string().map_err(|_| {
            Failure::usage("AWS_PROFILE is not valid UTF-8")
                .hint("set AWS_PROFILE to a profile name, or name the profile: mfa-session CODE PROFILE")
                .into()
        }),
    }
}

fn profile_duration(profile: &Profile) -> Result<Duration> {
    let Some(setting) = profile.get("duration_seconds") else {
        return Ok(input::DEFAULT_DURATION);
    };
    let seconds: u64 = setting.value.trim().parse().map_err(|_| {
        Failure::new(format!(
            "duration_seconds of profile '{}' is not a number of seconds ({}:{})",
            profile.name,
            setting.file.display(),
            setting.line
        ))
    })?;
    input::check_session_duration(Duration::from_secs(seconds)).with_context(|| {
        format!(
            "duration_seconds of profile '{}' ({}:{})",
            profile.name,
            setting.file.display(),
            setting.line
        )
    })
}

fn profile_serial(profile: &Profile) -> Result<Option<String>> {
    let Some(setting) = profile.get("mfa_serial") else {
        return Ok(None);
    };
    let serial = setting.value.trim();
    input::check_serial(serial).with_context(|| {
        format!(
            "mfa_serial of profile '{}' ({}:{})",
            profile.name,
            setting.file.display(),
            setting.line
        )
    })?;
    Ok(Some(serial.to_owned()))
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

fn announce(profile: &str, user: Option<&str>, serial: &str, session: &Session) {
    let who = match user {
        Some(user) => format!("user {user} ({serial})"),
        None => serial.to_owned(),
    };
    let end = session::describe_end(session.expiration, Timestamp::now());
    crate::say(&format!("session for profile '{profile}' as {who} {end}"));
}
