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
use mfa_session::{cmd, say};

fn main() -> ExitCode {
    // Before any thread starts: every thread inherits the blocked signals.
    mfa_session::signals::init();
    // TAB in a shell whose completion script calls back: answered here,
    // and the process ends (nothing else runs, nothing else is printed).
    clap_complete::CompleteEnv::with_factory(<Cli as clap::CommandFactory>::command)
        .var(cmd::completions::VAR)
        .complete();
    mfa_session::hardening::no_core_dumps();
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(err) if !err.use_stderr() => {
            // --help and --version are "errors" to clap; they go to stdout,
            // except under an `init` function, which evaluates stdout.
            if called_by_init_function() {
                let _ = write!(io::stderr(), "{}", err.render());
                return Exit::Success.into();
            }
            if io::IsTerminal::is_terminal(&io::stdout()) {
                let _ = err.print();
                return Exit::Success.into();
            }
            // Into a file or pipe, plain and written as any output is: a
            // full disk fails, a closed pipe (`--help | head`) does not.
            return print_output(&err.render().to_string());
        }
        Err(err) => {
            let (line, hint) = usage_error(&err);
            let mut stderr = io::stderr().lock();
            let _ = writeln!(stderr, "mfa-session: {line}");
            let _ = writeln!(stderr, "hint: {hint}");
            return Exit::Usage.into();
        }
    };
    let result = match &cli.command {
        None => cmd::get::run(&cli.get),
        Some(Command::Init(args)) => cmd::init::run(args),
        Some(Command::Completions(args)) => cmd::completions::run(args),
        Some(Command::Login(args)) => cmd::login::run(args),
        Some(Command::Status(args)) => cmd::status::run(args),
        Some(Command::Forget(args)) => cmd::forget::run(args),
        Some(Command::CredentialProcess(args)) => cmd::credential_process::run(args),
        Some(Command::Exec(args)) => cmd::exec::run(args),
        Some(Command::Serve(args)) => cmd::serve::run(args),
        Some(Command::Rotate(args)) => cmd::rotate::run(args),
        Some(Command::Keys(args)) => cmd::keys::run(args),
        Some(Command::Policy(args)) => cmd::policy::run(args),
        Some(Command::Doctor(args)) => cmd::doctor::run(args),
        Some(Command::Enroll(args)) => cmd::enroll::run(args),
    };
    match result {
        Ok(output) => print_output(&output),
        Err(err) => {
            let report = Report::new(&err);
            if let Some(output) = &report.output
                && print_output(output) != ExitCode::from(Exit::Success)
            {
                return Exit::Failure.into();
            }
            let mut stderr = io::stderr().lock();
            let _ = writeln!(stderr, "mfa-session: {}", report.line);
            if let Some(hint) = report.hint {
                let _ = writeln!(stderr, "hint: {hint}");
            }
            report.exit.into()
        }
    }
}

/// Whether the hidden `--wrapped` flag is on the command line. clap stops at
/// `-h` wherever it stands (`-qh` too) and returns no parsed flags, so the
/// raw arguments are read; everything after `--` belongs to another command.
fn called_by_init_function() -> bool {
    std::env::args_os()
        .skip(1)
        .take_while(|a| a != "--")
        .any(|a| a == "--wrapped")
}

/// clap's usage error as one line and a hint: its own text is several lines
/// (message, usage, "for more information"), and every failure of this tool
/// is one line.
fn usage_error(err: &clap::Error) -> (String, String) {
    let text = err.render().to_string();
    let mut message = Vec::new();
    let mut usage: Option<String> = None;
    let mut in_usage = false;
    for raw in text.lines().filter(|l| !l.trim().is_empty()) {
        let line = raw.trim();
        if let Some(u) = line.strip_prefix("Usage: ") {
            usage = Some(u.to_owned());
            in_usage = true;
        } else if in_usage && raw.starts_with(' ') {
            // A second usage form, such as "mfa-session <COMMAND>".
        } else if !line.starts_with("For more information") {
            in_usage = false;
            message.push(line.strip_prefix("error: ").unwrap_or(line));
        }
    }
    // clap's lines are sentences of their own ("... found", "tip: ..."),
    // but a line that ends with a colon introduces the next.
    let mut line = String::new();
    for part in message {
        if !line.is_empty() {
            line.push_str(if line.ends_with(':') { " " } else { "; " });
        }
        line.push_str(part);
    }
    let hint = match usage {
        Some(usage) => format!("usage: {usage} (see --help)"),
        None => "see mfa-session --help".to_owned(),
    };
    (line, hint)
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
                mfa_session::error::io_reason(&e)
            ));
            Exit::Failure.into()
        }
    }
}
