//! `mfa-session exec [PROFILE] -- COMMAND`: run one command with a session.
//!
//! The command gets the session's variables and none of the stale ones that
//! would compete with them (an earlier session, `AWS_PROFILE`).

use std::process::Command;

use anyhow::Result;

use crate::cli::ExecArgs;
use crate::error::Failure;
use crate::exec::{cannot_run, find_program, run_command};
use crate::obtain::announce;
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
    let obtained = super::obtain(
        &super::positionals(&args.first, &args.second),
        &args.session,
    )?;
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
