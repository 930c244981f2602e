//! mfa-session: turn a long-term AWS access key and an MFA code into a
//! temporary session, printed as shell code for `eval`.
//!
//! stdout carries shell code and nothing else, written once at the very end;
//! everything meant for a person goes to stderr.

mod aws;
mod cli;
mod error;
mod get;
mod input;
mod profile;
mod prompt;
mod session;
mod shell;

use std::io::{self, Write};
use std::process::ExitCode;

use clap::Parser;

use crate::cli::Cli;
use crate::error::{Exit, Report};

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(err) => {
            // --help and --version are "errors" to clap; they go to stdout.
            let _ = err.print();
            return ExitCode::from(err.exit_code().clamp(0, 255) as u8);
        }
    };
    match get::run(&cli.get) {
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

/// One line for the user on stderr, prefixed with the tool's name.
pub fn say(line: &str) {
    let _ = writeln!(io::stderr(), "mfa-session: {line}");
}
