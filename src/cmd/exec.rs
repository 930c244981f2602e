//! `mfa-session exec [PROFILE] -- COMMAND`: run one command with a session.
//!
//! The command gets the session's variables and none of the stale ones that
//! would compete with them (an earlier session, `AWS_PROFILE`).
//!
//! The command is found and run as execvp would:
//! on Unix the process is replaced, so signals and the exit status are the
//! command's own.

use std::ffi::OsString;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::Result;

use crate::cli::ExecArgs;
use crate::error::{Exit, Failure};
use crate::obtain::announce;
use crate::request::Request;
use crate::shell::Op;

pub fn run(args: &ExecArgs) -> Result<String> {
    let (program, rest) = args
        .command
        .split_first()
        .ok_or_else(|| Failure::usage("exec needs a command after --"))?;
    // Before any code is asked for: a typo in the command, or a file that
    // cannot be run, should not cost an MFA code.
    let path = find_program(program).map_err(|e| cannot_run(program, &e))?;
    if args.server {
        return super::serve::exec(args, &path);
    }
    let obtained = super::obtain(Request::read(&args.target.positionals(), &args.session)?)?;
    if !args.session.quiet {
        announce(&obtained);
    }
    let mut command = Command::new(&path);
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

/// Where `program` would be found, searched as execvp searches: a name with
/// a `/` is taken as it is; otherwise each directory of `PATH` (or, with
/// `PATH` unset, the default `/bin:/usr/bin`) in turn, skipping files that
/// cannot be run. The error is NotFound, or PermissionDenied when only files
/// that cannot be run were found.
pub fn find_program(program: &OsString) -> std::io::Result<PathBuf> {
    let path = Path::new(program);
    if path.components().count() > 1 {
        return runnable(path).map(|()| path.to_path_buf());
    }
    let dirs = std::env::var_os("PATH").unwrap_or_else(|| DEFAULT_PATH.into());
    let mut denied = None;
    for dir in std::env::split_paths(&dirs) {
        for candidate in with_extensions(dir.join(program)) {
            match runnable(&candidate) {
                Ok(()) => return Ok(candidate),
                Err(e) if e.kind() == ErrorKind::PermissionDenied => denied = Some(e),
                Err(_) => {}
            }
        }
    }
    Err(denied.unwrap_or_else(|| ErrorKind::NotFound.into()))
}

/// The names a command may have on disk: on Windows `aws` is `aws.exe`.
fn with_extensions(path: PathBuf) -> Vec<PathBuf> {
    if cfg!(windows) && path.extension().is_none() {
        let exts = std::env::var("PATHEXT").unwrap_or_else(|_| ".COM;.EXE;.BAT;.CMD".to_owned());
        return exts
            .split(';')
            .filter(|e| !e.is_empty())
            .map(|e| path.with_extension(e.trim_start_matches('.')))
            .collect();
    }
    vec![path]
}

/// The search path execvp uses when `PATH` is unset (glibc's `_CS_PATH`).
const DEFAULT_PATH: &str = "/bin:/usr/bin";

/// Whether `path` is a file this process may execute.
fn runnable(path: &Path) -> std::io::Result<()> {
    let meta = std::fs::metadata(path)?;
    if !meta.is_file() {
        return Err(ErrorKind::PermissionDenied.into());
    }
    #[cfg(unix)]
    {
        use std::os::unix::ffi::OsStrExt;
        let c_path = std::ffi::CString::new(path.as_os_str().as_bytes())
            .map_err(|_| std::io::Error::from(ErrorKind::NotFound))?;
        // SAFETY: c_path is a valid NUL-terminated string.
        if unsafe { libc::access(c_path.as_ptr(), libc::X_OK) } != 0 {
            return Err(ErrorKind::PermissionDenied.into());
        }
    }
    Ok(())
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
