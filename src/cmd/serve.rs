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
    // Before any code is spent: the token lets any local user take the
    // role, so it goes only to a pipe or a file of this user's alone.
    let stdout = crate::hardening::private_stdout("the endpoint's token")?;
    if stdout == crate::hardening::Stdout::Terminal && !args.print {
        return Err(Failure::new(
            "not serving: stdout is a terminal, where the endpoint's token would stay on screen",
        )
        .hint("write the variables to a file, e.g. mfa-session serve PROFILE > serve.env (made private), then source it where they are needed; --print prints them anyway")
        .into());
    }
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
            "serving profile '{}' at {} until interrupted; set the variables printed on stdout where they are needed",
            obtained.profile, endpoint.url
        ));
    }
    endpoint.serve(|| source.next())
}

/// `exec --server`: the command gets the endpoint, never the keys; this
/// process serves until the command ends and exits with its status.
pub fn exec(
    args: &ExecArgs,
    positionals: &[String],
    words: &[std::ffi::OsString],
    path: &Path,
) -> Result<String> {
    let program = &words[0];
    let (source, obtained) = Source::start(positionals, &args.session)?;
    if !args.session.quiet {
        announce(&obtained);
    }
    let endpoint = Endpoint::open()?;
    let mut command = crate::signals::command(path);
    command.args(&words[1..]);
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
    end_with_this_process(&mut command);
    // Ctrl-C is the command's to handle: it may still need credentials to
    // clean up; SIGTERM and SIGHUP are passed on to it, from before it
    // starts (crate::signals). This process ends when the command does.
    let mut child = crate::signals::forward_to_child(|| {
        let child = command.spawn()?;
        let pid = child.id();
        Ok((child, pid))
    })
    .map_err(|e| crate::cmd::exec::cannot_run(program, &e))?;
    end_with_this_process_too(&child);
    let waiter = std::thread::Builder::new().spawn(move || {
        let code = match child.wait() {
            Ok(status) => exit_code(status),
            Err(_) => 1,
        };
        std::process::exit(code)
    });
    if let Err(e) = waiter {
        return Err(Failure::new(format!(
            "cannot wait for the command: {}",
            crate::error::io_reason(&e)
        ))
        .into());
    }
    endpoint.serve(|| source.next())
}

/// The command must never outlive the endpoint it was pointed at: another
/// local user could then listen on that port and hand it their own
/// credentials. On Linux the kernel kills it when this process dies however
/// it dies (SIGKILL included); the main thread, which starts it, serves
/// until the process ends.
#[cfg(target_os = "linux")]
fn end_with_this_process(command: &mut Command) {
    use std::os::unix::process::CommandExt;
    // SAFETY: getpid before the fork; prctl, getppid and _exit are
    // async-signal-safe.
    let parent = unsafe { libc::getpid() };
    unsafe {
        command.pre_exec(move || {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL, 0, 0, 0) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            // Dead already, between the fork and the prctl.
            if libc::getppid() != parent {
                libc::_exit(1);
            }
            Ok(())
        });
    }
}

#[cfg(not(target_os = "linux"))]
fn end_with_this_process(_command: &mut Command) {}

/// Windows: the command in a job object that ends it (and what it started)
/// when the job's last handle closes, which is when this process ends: the
/// handle is never closed before. Nothing to do elsewhere.
#[cfg(windows)]
fn end_with_this_process_too(child: &std::process::Child) {
    use std::os::windows::io::AsRawHandle;
    use windows_sys::Win32::System::JobObjects::{
        AssignProcessToJobObject, CreateJobObjectW, JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE,
        JOBOBJECT_EXTENDED_LIMIT_INFORMATION, JobObjectExtendedLimitInformation,
        SetInformationJobObject,
    };
    // SAFETY: a new unnamed job, a zeroed plain struct with one flag set,
    // and the child's own process handle.
    unsafe {
        let job = CreateJobObjectW(std::ptr::null(), std::ptr::null());
        if job.is_null() {
            return;
        }
        let mut limits: JOBOBJECT_EXTENDED_LIMIT_INFORMATION = std::mem::zeroed();
        limits.BasicLimitInformation.LimitFlags = JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE;
        let set = SetInformationJobObject(
            job,
            JobObjectExtendedLimitInformation,
            (&raw const limits).cast(),
            std::mem::size_of::<JOBOBJECT_EXTENDED_LIMIT_INFORMATION>() as u32,
        );
        if set != 0 {
            AssignProcessToJobObject(job, child.as_raw_handle());
        }
    }
}

#[cfg(not(windows))]
fn end_with_this_process_too(_child: &std::process::Child) {}

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
