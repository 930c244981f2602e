//! `mfa-session exec [PROFILE] -- COMMAND`: run one command with a session.
//!
//! The command gets the session's variables and none of the stale ones that
//! would compete with them (an earlier session, `AWS_PROFILE`).
//!
//! The command is found and run as execvp would:
//! on Unix the process is replaced, so signals and the exit status are the
//! command's own.

use std::ffi::OsString;

use std::process::Command;

use anyhow::Result;

use crate::cli::ExecArgs;
use crate::error::{Exit, Failure};
use crate::obtain::announce;
pub use crate::program::find_program;
use crate::request::Request;
use crate::shell::Op;

pub fn run(args: &ExecArgs) -> Result<String> {
    let (positionals, words) = args.split()?;
    let (program, rest) = words
        .split_first()
        .ok_or_else(|| Failure::usage("exec needs a command after --"))?;
    // Before any code is asked for: a typo in the command, or a file that
    // cannot be run, should not cost an MFA code.
    let path = find_program(program).map_err(|e| {
        let failure = cannot_run(program, &e);
        // `exec aws s3 ls` with no profile: the command was read as one.
        match (args.command.is_empty(), positionals.last()) {
            (true, Some(profile)) if e.kind() == std::io::ErrorKind::NotFound => {
                failure.hint(format!(
                    "'{profile}' was read as the profile; if it is the command, name the profile first: mfa-session exec PROFILE -- {profile} ..."
                ))
            }
            _ => failure,
        }
    })?;
    if args.server {
        return super::serve::exec(args, &positionals, &words, &path);
    }
    let obtained = super::obtain(Request::read(&positionals, &args.session)?)?;
    if !args.session.quiet {
        announce(&obtained);
    }
    let mut command = crate::signals::command(&path);
    command.args(rest);
    #[cfg(unix)]
    {
        use std::os::unix::process::CommandExt;
        // The command sees the name it was given, not the path found.
        command.arg0(program);
    }
    // The same environment `eval "$(mfa-session ...)"` gives a shell.
    for op in obtained.session.script(&obtained.surroundings).ops() {
        match op {
            Op::Set(name, value) => command.env(name, value),
            Op::Unset(name) => command.env_remove(name),
        };
    }
    Err(run_command(command, program))
}

/// Runs the command; returns only on failure.
#[cfg(unix)]
pub fn run_command(mut command: Command, program: &OsString) -> anyhow::Error {
    use std::os::unix::process::CommandExt;
    crate::hardening::restore_core_limit();
    // exec only returns on failure.
    let err = command.exec();
    cannot_run(program, &err).into()
}

#[cfg(not(unix))]
pub fn run_command(mut command: Command, program: &OsString) -> anyhow::Error {
    match command.status() {
        Ok(status) => std::process::exit(status.code().unwrap_or(1)),
        Err(err) => cannot_run(program, &err).into(),
    }
}

pub fn cannot_run(program: &OsString, err: &std::io::Error) -> Failure {
    let name = program.to_string_lossy();
    match err.kind() {
        std::io::ErrorKind::NotFound => Failure::with_exit(
            format!("cannot run '{name}': command not found"),
            Exit::NotFound,
        ),
        _ => Failure::with_exit(
            format!("cannot run '{name}': {}", crate::error::io_reason(err)),
            Exit::CannotRun,
        ),
    }
}
