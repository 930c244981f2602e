//! `mfa-session serve PROFILE` and `mfa-session exec --server PROFILE --
//! CMD`: the session on a loopback credentials endpoint
//! ([`crate::server`]) instead of fixed keys, for jobs longer than a role
//! session lasts.
//!
//! The first session is got before anything is served or started (with the
//! code given, or asked for then); every request after it goes through the
//! same executor with the cache, so a role layer with less than
//! `--min-remaining` left is assumed again from the cached MFA session
//! (serialized by the cache's locks: one AssumeRole for many clients), and
//! only an MFA session that runs out needs a new code.

use std::path::Path;
use std::process::Command;

use anyhow::Result;

use crate::cli::{ExecArgs, ServeArgs, SessionArgs};
use crate::error::Failure;
use crate::obtain::{Obtained, announce};
use crate::request::Request;
use crate::server::{Endpoint, Served};
use crate::shell::{Op, Script, Shell};

/// The variables that would compete with the endpoint: SDKs take keys from
/// the environment, or a profile, before a container endpoint.
const COMPETING: [&str; 9] = [
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_SECURITY_TOKEN",
    "AWS_CREDENTIAL_EXPIRATION",
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE",
];

/// The shared credentials file, pointed at an empty one: botocore reads it
/// (the `default` profile's static keys, the long-term key among them)
/// before it asks a container endpoint.
const CREDENTIALS_FILE: &str = "AWS_SHARED_CREDENTIALS_FILE";
const NO_FILE: &str = if cfg!(windows) { "NUL" } else { "/dev/null" };

const FULL_URI: &str = "AWS_CONTAINER_CREDENTIALS_FULL_URI";
const TOKEN: &str = "AWS_CONTAINER_AUTHORIZATION_TOKEN";

/// Where each answer comes from after the first.
struct Source {
    request: Request,
}

impl Source {
    /// The first session (with the code given, if any), and how to get the
    /// next ones: the same profile and options, no code (it was spent).
    fn start(positionals: &[String], args: &SessionArgs) -> Result<(Source, Obtained)> {
        let request = Request::read(positionals, args)?;
        if !request.cache.enabled() {
            return Err(Failure::usage(
                "--no-cache cannot serve: the endpoint renews role sessions from the cached MFA session",
            )
            .into());
        }
        let obtained = super::obtain(request)?;
        // The same profile and options; no code (it was spent), no --force.
        let mut later = args.clone();
        later.code = None;
        later.force = false;
        later.profile = Some(obtained.profile.clone());
        let later = Request::read(&[], &later)?;
        Ok((Source { request: later }, obtained))
    }

    fn next(&self) -> Result<Served> {
        Ok(served(super::obtain(self.request.clone())?))
    }
}

fn served(obtained: Obtained) -> Served {
    let account_id = obtained
        .role
        .as_ref()
        .and_then(|r| crate::server::account_of(&r.assumed_role_arn));
    Served {
        session: obtained.session,
        account_id,
    }
}

/// `serve`: prints the two variables for the shell, then serves until
/// interrupted.
pub fn run(args: &ServeArgs) -> Result<String> {
    let shell = match args.shell {
        Some(shell) => shell,
        None => Shell::default_for_platform()?,
    };
    let (source, obtained) = Source::start(&args.target.positionals(), &args.session)?;
    let endpoint = Endpoint::open()?;
    let mut script = Script::new();
    for name in COMPETING {
        script.unset(name);
    }
    for op in obtained.session.script(&obtained.surroundings).ops() {
        if let Op::Set(name, value) = op
            && crate::session::REGION_VARIABLES.contains(name)
        {
            script.set(name, value.clone());
        }
    }
    script.set(CREDENTIALS_FILE, NO_FILE);
    script.set(FULL_URI, endpoint.url.clone());
    script.set(TOKEN, endpoint.token.clone());
    let text = script.render(shell)?;
    // This command never returns: its output is written here, once, before
    // it serves.
    {
        use std::io::Write;
        let mut stdout = std::io::stdout().lock();
        stdout
            .write_all(text.as_bytes())
            .and_then(|()| stdout.flush())
            .map_err(|e| {
                Failure::new(format!(
                    "cannot write to stdout: {}",
                    crate::error::io_reason(&e)
                ))
            })?;
    }
    if !args.session.quiet {
        announce(&obtained);
        crate::say(&format!(
            "serving profile '{}' at {} until interrupted; set the two variables above where it is needed",
            obtained.profile, endpoint.url
        ));
    }
    endpoint.serve(|| source.next())
}

/// `exec --server`: the command gets the endpoint, never the keys; this
/// process serves until the command ends and exits with its status.
pub fn exec(args: &ExecArgs, path: &Path) -> Result<String> {
    let program = &args.command[0];
    let (source, obtained) = Source::start(&args.target.positionals(), &args.session)?;
    if !args.session.quiet {
        announce(&obtained);
    }
    let endpoint = Endpoint::open()?;
    let mut command = Command::new(path);
    command.args(&args.command[1..]);
    #[cfg(unix)]
    {
        use std::os::unix::process::CommandExt;
        command.arg0(program);
    }
    for name in COMPETING {
        command.env_remove(name);
    }
    // The region, as the session would set it.
    for op in obtained.session.script(&obtained.surroundings).ops() {
        if let Op::Set(name, value) = op
            && crate::session::REGION_VARIABLES.contains(name)
        {
            command.env(name, value);
        }
    }
    command.env(CREDENTIALS_FILE, NO_FILE);
    command.env(FULL_URI, &endpoint.url);
    command.env(TOKEN, &endpoint.token);
    let mut child = command
        .spawn()
        .map_err(|e| crate::cmd::exec::cannot_run(program, &e))?;
    // Ctrl-C is the command's to handle: it may still need credentials to
    // clean up; SIGTERM and SIGHUP are passed on to it. This process ends
    // when the command does.
    ignore_interrupts();
    forward_terminations(child.id());
    std::thread::spawn(move || {
        let code = match child.wait() {
            Ok(status) => exit_code(status),
            Err(_) => 1,
        };
        std::process::exit(code)
    });
    endpoint.serve(|| source.next())
}

fn exit_code(status: std::process::ExitStatus) -> i32 {
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        if let Some(signal) = status.signal() {
            return 128 + signal;
        }
    }
    status.code().unwrap_or(1)
}

#[cfg(unix)]
fn ignore_interrupts() {
    // SAFETY: setting a signal's disposition to SIG_IGN touches no memory.
    unsafe {
        libc::signal(libc::SIGINT, libc::SIG_IGN);
        libc::signal(libc::SIGQUIT, libc::SIG_IGN);
    }
}

#[cfg(not(unix))]
fn ignore_interrupts() {}

/// The command's pid, for the signal handler.
#[cfg(unix)]
static CHILD: std::sync::atomic::AtomicI32 = std::sync::atomic::AtomicI32::new(0);

#[cfg(unix)]
fn forward_terminations(pid: u32) {
    extern "C" fn forward(signal: libc::c_int) {
        let pid = CHILD.load(std::sync::atomic::Ordering::Relaxed);
        if pid > 0 {
            // SAFETY: kill is async-signal-safe.
            unsafe {
                libc::kill(pid, signal);
            }
        }
    }
    CHILD.store(
        i32::try_from(pid).unwrap_or(0),
        std::sync::atomic::Ordering::Relaxed,
    );
    // SAFETY: the handler only reads an atomic and calls kill.
    unsafe {
        libc::signal(libc::SIGTERM, forward as *const () as libc::sighandler_t);
        libc::signal(libc::SIGHUP, forward as *const () as libc::sighandler_t);
    }
}

#[cfg(not(unix))]
fn forward_terminations(_pid: u32) {}
