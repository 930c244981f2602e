//! Getting a session: arguments and profile files -> a request plan -> the
//! cache or AWS -> a session. The main command renders it as shell code;
//! `credential-process`, `exec` and `--write-profile` use it their own way.
//!
//! Everything the user typed is checked before the first file is read, and
//! every file before the first request, so that mistakes cost no MFA attempt.
//! Output is returned to `main`, which prints it once: on any failure stdout
//! stays empty and `eval` runs nothing.

use std::io::IsTerminal;
use std::time::Duration;

use anyhow::{Context, Result};
use jiff::Timestamp;
use serde::Serialize;

use crate::aws::{Aws, Connection, MfaDevice};
use crate::cache::{CachedSession, Owner, RememberedDevice, SessionCache, WrittenSection};
use crate::cli::{GetArgs, SessionArgs};
use crate::error::{Failure, Tag};
use crate::input::{self, MfaCode};
use crate::profile::{Profile, ProfileFiles};
use crate::prompt;
use crate::session::{self, PROFILE_VARIABLES, REGION_VARIABLES, Session, Surroundings};
use crate::shell::Shell;

/// A cached session is reused while it has more than this left, unless
/// `--min-remaining` says otherwise.
const DEFAULT_MIN_REMAINING: Duration = Duration::from_secs(15 * 60);

/// What the user asked for, checked, before any file is read.
#[derive(Debug)]
struct Request {
    profile: String,
    code: Option<MfaCode>,
    duration: Option<Duration>,
    serial: Option<String>,
    min_remaining: Duration,
}

/// A session and where it came from.
#[derive(Debug)]
pub struct Obtained {
    pub profile: String,
    pub serial: String,
    pub user_name: Option<String>,
    pub session: Session,
    pub reused: bool,
    /// What changes in the environment besides the session's own variables.
    pub surroundings: Surroundings,
}

/// The main command: shell code that sets (or with `--clear`, unsets) the
/// session's variables.
pub fn run(args: &GetArgs) -> Result<String> {
    let shell = match args.shell {
        Some(shell) => shell,
        None => Shell::default_for_platform()?,
    };
    // The cmd function cannot see the exit status: success is this line.
    let marked = |mut script: crate::shell::Script| {
        if args.wrapped && shell == Shell::Cmd {
            script.set(crate::init::CMD_SUCCESS_MARKER, "1");
        }
        script
    };
    if args.clear {
        return marked(session::clear_script()).render(shell);
    }
    let mut positionals = positionals(&args.first, &args.second);
    positionals.extend(args.extra.iter().cloned());
    if let Some(section) = &args.write_profile {
        // Checked before the first request: a refusal costs no code.
        let profile = request(&positionals, &args.session)?.profile;
        crate::credentials_file::check_target(section, &profile)?;
        let obtained = obtain(&positionals, &args.session)?;
        let path =
            crate::credentials_file::write_session(section, &obtained.profile, &obtained.session)?;
        if !args.session.no_cache {
            // So that `forget` can take it out again.
            let written = WrittenSection {
                profile: obtained.profile.clone(),
                path: path.clone(),
                section: section.clone(),
                access_key_id: obtained.session.access_key_id.clone(),
            };
            if let Err(err) = SessionCache::locate().and_then(|c| c.remember_written(&written)) {
                crate::say(&format!(
                    "warning: {err:#}; `forget` will not remove [{section}]"
                ));
            }
        }
        if !args.session.quiet {
            announce(&obtained);
            crate::say(&format!(
                "wrote it to [{section}] in {}; use it with AWS_PROFILE={section}",
                path.display()
            ));
        }
        return Ok(String::new());
    }
    let on_terminal = !args.print && std::io::stdout().is_terminal();
    if on_terminal && args.session.no_cache {
        // The session could be neither shown nor kept: spend no code on it.
        let profile = request(&positionals, &args.session)?.profile;
        return Err(Failure::new(format!(
            "not asking for a session for profile '{profile}': stdout is a terminal, where the secret key would stay on screen, and --no-cache keeps it nowhere"
        ))
        .hint(format!(
            "apply it with: {}; --print prints it anyway",
            reapply(args, shell, &profile, true)
        ))
        .into());
    }
    let obtained = obtain(&positionals, &args.session)?;
    if on_terminal {
        return Err(Failure::new(format!(
            "the session for profile '{}' is cached, but not printed: stdout is a terminal, where the secret key would stay on screen",
            obtained.profile
        ))
        .hint(format!(
            "apply it with: {} (no new code needed); --print prints it anyway",
            reapply(args, shell, &obtained.profile, false)
        ))
        .into());
    }
    // Rendered before anything is said: cmd may refuse a value.
    let output = marked(obtained.session.script(&obtained.surroundings)).render(shell)?;
    if !args.session.quiet {
        announce(&obtained);
    }
    Ok(output)
}

/// The command that applies a session in `shell`, asking for what the user
/// asked for (profile, device, duration, reuse limit), so that it finds the
/// session just cached. stdout was a terminal: the commonest first mistake
/// is to leave out the `eval`.
fn reapply(args: &GetArgs, shell: Shell, profile: &str, with_code: bool) -> String {
    let s = &args.session;
    let mut words = vec!["mfa-session".to_owned()];
    if with_code {
        words.push("CODE".to_owned());
    }
    words.push(crate::shell::command_word(profile));
    for (flag, value) in [
        ("-s", &s.serial_number),
        ("-d", &s.duration),
        ("--min-remaining", &s.min_remaining),
    ] {
        if let Some(value) = value {
            words.push(flag.to_owned());
            words.push(crate::shell::command_word(value));
        }
    }
    if s.no_cache {
        words.push("--no-cache".to_owned());
    }
    let command = words.join(" ");
    match shell {
        Shell::Bash | Shell::Zsh | Shell::Sh => format!("eval \"$({command})\""),
        Shell::Fish => format!("{command} --shell fish | source"),
        Shell::Powershell => {
            format!("{command} --shell powershell | Out-String | Invoke-Expression")
        }
        Shell::Cmd => "the batch file from: mfa-session init cmd".to_owned(),
    }
}

/// `credential-process`: the JSON the AWS SDKs and CLI read from a
/// `credential_process` command.
pub fn credential_process(args: &SessionArgs, print: bool) -> Result<String> {
    #[derive(Serialize)]
    #[serde(rename_all = "PascalCase")]
    struct Output<'a> {
        version: u32,
        access_key_id: &'a str,
        secret_access_key: &'a str,
        session_token: &'a str,
        expiration: String,
    }
    if !print && std::io::stdout().is_terminal() {
        return Err(Failure::new(
            "not printing credential_process JSON to a terminal, where the secret key would stay on screen",
        )
        .hint("this command is for credential_process in ~/.aws/config; --print prints it anyway")
        .into());
    }
    let obtained = obtain(&[], args)?;
    let s = &obtained.session;
    let json = serde_json::to_string(&Output {
        version: 1,
        access_key_id: &s.access_key_id,
        secret_access_key: &s.secret_access_key,
        session_token: &s.session_token,
        expiration: s.expiration_rfc3339(),
    })?;
    Ok(json + "\n")
}

pub fn positionals(first: &Option<String>, second: &Option<String>) -> Vec<String> {
    [first, second].into_iter().flatten().cloned().collect()
}

/// Gets a session: from the cache when a good one is there (no request, no
/// code), else from AWS, remembering the device and caching the result.
pub fn obtain(positionals: &[String], args: &SessionArgs) -> Result<Obtained> {
    let request = request(positionals, args)?;
    let files = ProfileFiles::locate()?;
    let profile = crate::profile::load_profile(&files, &request.profile)?;
    let key = profile.long_term_key()?;
    let duration = match request.duration {
        Some(d) => d,
        None => profile_duration(&profile)?,
    };
    let configured_serial = match request.serial {
        Some(serial) => Some(serial),
        None => profile_serial(&profile)?,
    };
    let connection = Connection::resolve(&profile)?;
    let cache = if args.no_cache {
        None
    } else {
        match SessionCache::locate() {
            Ok(cache) => Some(cache),
            Err(err) => {
                crate::say(&format!("warning: {err:#}; sessions will not be cached"));
                None
            }
        }
    };
    let owner = Owner {
        profile: profile.name.clone(),
        access_key_id: key.access_key_id.clone(),
        endpoint: connection.sts_endpoint.clone().unwrap_or_default(),
    };

    // The device: named, else remembered, else (below) discovered.
    let remembered = match (&configured_serial, &cache) {
        (None, Some(cache)) => cache.device(&owner),
        _ => None,
    };
    let known_serial = configured_serial
        .clone()
        .or_else(|| remembered.as_ref().map(|d| d.serial.clone()));
    let known_user = remembered.as_ref().and_then(|d| d.user_name.clone());

    let hit = match (&cache, &known_serial, args.force) {
        (Some(cache), Some(serial), false) => cache.session(&owner, serial),
        _ => None,
    };
    // An explicit --duration is a request for that session, not for any.
    let hit = hit.filter(|hit| {
        request
            .duration
            .is_none_or(|d| hit.requested_seconds == Some(d.as_secs()))
    });
    let surroundings = surroundings(&profile, &connection);
    if let Some(hit) = hit {
        let left = hit.session.expiration.as_second() - Timestamp::now().as_second();
        if left > request.min_remaining.as_secs() as i64 {
            return Ok(Obtained {
                profile: profile.name.clone(),
                serial: hit.serial,
                user_name: hit.user_name,
                session: hit.session,
                reused: true,
                surroundings,
            });
        }
    }

    let aws = Aws::connect(&profile.name, &key, &connection)?;
    let (mut serial, mut user_name) = match known_serial {
        Some(serial) => (serial, known_user),
        None => {
            let device = discover_device(&aws, &profile.name)?;
            remember(&cache, &owner, &device);
            (device.serial, Some(device.user_name))
        }
    };
    let code = match request.code {
        Some(code) => code,
        None => prompt::read_code(&serial)?,
    };
    let session = match aws.session_token(&serial, &code, duration) {
        Ok(session) => session,
        // A remembered device that AWS no longer accepts (removed, replaced):
        // forget it, look again, and try the same code with the new one.
        Err(err) if remembered.is_some() && Failure::is(&err, Tag::UnknownDevice) => {
            if let Some(cache) = &cache {
                cache.forget_device(&owner);
            }
            let device = discover_device(&aws, &profile.name)?;
            if device.serial == serial {
                return Err(err);
            }
            remember(&cache, &owner, &device);
            serial = device.serial;
            user_name = Some(device.user_name);
            aws.session_token(&serial, &code, duration)?
        }
        Err(err) => return Err(err),
    };
    if let Some(cache) = &cache {
        let entry = CachedSession {
            owner,
            serial: serial.clone(),
            user_name: user_name.clone(),
            session: session.clone(),
            requested_seconds: Some(duration.as_secs()),
        };
        if let Err(err) = cache.store_session(&entry) {
            crate::say(&format!("warning: {err:#}; the session was not cached"));
        }
    }
    Ok(Obtained {
        profile: profile.name,
        serial,
        user_name,
        session,
        reused: false,
        surroundings,
    })
}

/// `AWS_PROFILE` goes when it is set (it would compete with the session's
/// keys); the region is kept in `AWS_REGION` when it came from the profile,
/// which leaves with `AWS_PROFILE`, or from the environment.
fn surroundings(profile: &Profile, connection: &Connection) -> Surroundings {
    let set = |name: &&str| std::env::var_os(name).is_some_and(|v| !v.is_empty());
    let region_known = profile.value("region").is_some() || REGION_VARIABLES.iter().any(set);
    Surroundings {
        unset_profile: PROFILE_VARIABLES.iter().any(set),
        region: region_known.then(|| connection.region.clone()),
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

fn request(positionals: &[String], args: &SessionArgs) -> Result<Request> {
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
    Ok(Request {
        profile,
        code,
        duration,
        serial,
        min_remaining,
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

pub fn profile_duration(profile: &Profile) -> Result<Duration> {
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

pub fn profile_serial(profile: &Profile) -> Result<Option<String>> {
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

/// One line on stderr: whose session, and until when.
pub fn announce(obtained: &Obtained) {
    let who = match &obtained.user_name {
        Some(user) => format!("user {user} ({})", obtained.serial),
        None => obtained.serial.clone(),
    };
    let end = session::describe_end(obtained.session.expiration, Timestamp::now());
    let verb = if obtained.reused {
        "reusing the cached session"
    } else {
        "session"
    };
    crate::say(&format!(
        "{verb} for profile '{}' as {who} {end}",
        obtained.profile
    ));
}
