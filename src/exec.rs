//! `mfa-session exec [PROFILE] -- COMMAND`: run one command with a session.
//!
//! The command gets the session's variables and none of the stale ones that
//! would compete with them (an earlier session, `AWS_PROFILE`). On Unix the
//! process is replaced, so signals and the exit status are the command's own.

use std::ffi::OsString;
use std::process::Command;

use anyhow::Result;

use crate::cli::ExecArgs;
use crate::error::{Exit, Failure};
use crate::get::{announce, obtain, positionals};
use crate::session::VARIABLES;
use crate::shell::Op;

/// Variables removed before the session's are set: anything that could make
/// an SDK pick other credentials than the session.
const REMOVED: [&str; 2] = ["AWS_PROFILE", "AWS_DEFAULT_PROFILE"];

pub fn run(args: &ExecArgs) -> Result<String> {
    let (program, rest) = args
        .command
        .split_first()
        .ok_or_else(|| Failure::usage("exec needs a command after --"))?;
    // Before any code is asked for: a typo in the command should not cost
    // an MFA code.
    if find_program(program).is_none() {
        return Err(cannot_run(program, &std::io::ErrorKind::NotFound.into()).into());
    }
    let obtained = obtain(&positionals(&args.first, &args.second), &args.session)?;
    if !args.session.quiet {
        announce(&obtained);
    }
    let mut command = Command::new(program);
    command.args(rest);
    for name in VARIABLES.iter().chain(REMOVED.iter()) {
        command.env_remove(name);
    }
    for op in obtained.session.script().ops() {
        if let Op::Set(name, value) = op {
            command.env(name, value);
        }
    }
    // Without AWS_PROFILE the command would lose the profile's region.
    if std::env::var_os("AWS_REGION").is_none() && std::env::var_os("AWS_DEFAULT_REGION").is_none()
    {
        command.env("AWS_REGION", &obtained.region);
        command.env("AWS_DEFAULT_REGION", &obtained.region);
    }
    Err(run_command(command, program))
}

#[cfg(unix)]
fn run_command(mut command: Command, program: &OsString) -> anyhow::Error {
    use std::os::unix::process::CommandExt;
    // exec only returns on failure.
    let err = command.exec();
    cannot_run(program, &err).into()
}

#[cfg(not(unix))]
fn run_command(mut command: Command, program: &OsString) -> anyhow::Error {
    match command.status() {
        Ok(status) => std::process::exit(status.code().unwrap_or(1)),
        Err(err) => cannot_run(program, &err).into(),
    }
}

/// Where `program` would be found, as execvp looks for it.
fn find_program(program: &OsString) -> Option<std::path::PathBuf> {
    let path = std::path::Path::new(program);
    if path.components().count() > 1 {
        return path.is_file().then(|| path.to_path_buf());
    }
    let dirs = std::env::var_os("PATH")?;
    std::env::split_paths(&dirs)
        .map(|dir| dir.join(program))
        .find(|candidate| candidate.is_file())
}

fn cannot_run(program: &OsString, err: &std::io::Error) -> Failure {
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
