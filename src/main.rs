//! mfa-session: turn a long-term AWS access key and an MFA code into a
//! temporary session, printed as shell code for `eval`.
//!
//! stdout carries shell code and nothing else, written once at the very end;
//! everything meant for a person goes to stderr.

use std::io::{self, Write};
use std::process::ExitCode;

use clap::Parser;

use mfa_session::cli::{Cli, Command};
use mfa_session::error::{Exit, Report};
use mfa_session::{exec, get, init, profile, say, status};

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(err) => {
            // --help and --version are "errors" to clap; they go to stdout.
            let _ = err.print();
            return ExitCode::from(err.exit_code().clamp(0, 255) as u8);
        }
    };
    let result = match &cli.command {
        None => get::run(&cli.get),
        Some(Command::Init(args)) => init::run(args),
        Some(Command::Completions(args)) => Ok(init::completions(args.shell)),
        Some(Command::Status(args)) => status::status(args),
        Some(Command::Forget(args)) => status::forget(args),
        Some(Command::CredentialProcess(args)) => get::credential_process(&args.session),
        Some(Command::Exec(args)) => exec::run(args),
    };
    match result {
        Ok(output) => print_output(&output),
        Err(err) => {
            let report = Report::new(&err);
            let mut stderr = io::stderr().lock();
            let _ = writeln!(stderr, "mfa-session: {}", report.line);
            if let Some(hint) = report.hint {
                let _ = writeln!(stderr, "hint: {hint}");
            }
            report.exit.into()
        }
    }
}

/// Writes the shell code in one go. A reader that went away (`| head -0`) is
/// not an error worth a message: nothing was going to read the rest.
fn print_output(output: &str) -> ExitCode {
    let mut stdout = io::stdout().lock();
    match stdout
        .write_all(output.as_bytes())
        .and_then(|()| stdout.flush())
    {
        Ok(()) => Exit::Success.into(),
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Exit::Success.into(),
        Err(e) => {
            say(&format!(
                "cannot write to stdout: {}",
                profile::io_reason(&e)
            ));
            Exit::Failure.into()
        }
    }
}
