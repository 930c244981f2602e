//! Codes from a command: `--code-command CMD` or `mfa_process` in the
//! profile (aws-vault's key), such as `ykman oath accounts code --single
//! alice` or a password manager's OTP command.
//!
//! The command runs through the shell (`sh -c`, or `cmd /C` on Windows) with
//! the terminal as its stdin and stderr, so that it can ask for a touch or a
//! password. Its stdout must hold exactly one 6-digit code. The output is
//! never shown: it may hold other secrets.

use std::io::Read;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::Result;

use crate::error::Failure;
use crate::input::MfaCode;

/// How long the command may take: long enough to find and touch a key.
pub const TIMEOUT: Duration = Duration::from_secs(60);

/// [`TIMEOUT`], or `MFA_SESSION_CODE_COMMAND_TIMEOUT` (for tests, and for
/// keys that take longer).
pub fn timeout() -> Result<Duration> {
    match std::env::var("MFA_SESSION_CODE_COMMAND_TIMEOUT") {
        Ok(text) if !text.trim().is_empty() => crate::input::parse_duration(&text)
            .ok()
            .filter(|d| !d.is_zero())
            .ok_or_else(|| {
                Failure::usage("MFA_SESSION_CODE_COMMAND_TIMEOUT is not a duration")
                    .hint("set it to a duration, such as 60 or 2m")
                    .into()
            }),
        _ => Ok(TIMEOUT),
    }
}

/// The most of its output that is read.
const MAX_OUTPUT: u64 = 64 * 1024;

/// Runs `command` (named in messages as coming from `from`) and returns the
/// code it printed.
pub fn code_from(command: &str, from: &str, timeout: Duration) -> Result<MfaCode> {
    let failure = |what: String| -> anyhow::Error {
        Failure::new(format!("the code command ({from}) {what}"))
            .hint("check the command by running it yourself; it must print one 6-digit code")
            .into()
    };
    let mut child = shell(command)
        .stdin(Stdio::inherit())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(|e| failure(format!("could not start: {}", crate::error::io_reason(&e))))?;
    let mut stdout = child.stdout.take().expect("piped");
    let reader = std::thread::spawn(move || {
        let mut output = Vec::new();
        let _ = (&mut stdout).take(MAX_OUTPUT).read_to_end(&mut output);
        output
    });
    let deadline = Instant::now() + timeout;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if Instant::now() >= deadline => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(failure(format!(
                    "did not finish within {}",
                    crate::input::format_duration(timeout)
                )));
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(10)),
            Err(e) => return Err(failure(format!("failed: {}", crate::error::io_reason(&e)))),
        }
    };
    let mut output = reader.join().unwrap_or_default();
    if !status.success() {
        zeroize::Zeroize::zeroize(&mut output);
        let how = match status.code() {
            Some(code) => format!("exit status {code}"),
            None => "a signal".to_owned(),
        };
        return Err(failure(format!("failed ({how})")));
    }
    let codes = six_digit_runs(&output);
    zeroize::Zeroize::zeroize(&mut output);
    match codes.as_slice() {
        [code] => MfaCode::parse(code),
        [] => Err(failure("printed no 6-digit code".to_owned())),
        _ => Err(failure(format!(
            "printed {} different 6-digit numbers, so which is the code is not clear",
            codes.len()
        ))),
    }
}

#[cfg(unix)]
fn shell(command: &str) -> Command {
    let mut cmd = Command::new("/bin/sh");
    cmd.arg("-c").arg(command);
    cmd
}

#[cfg(not(unix))]
fn shell(command: &str) -> Command {
    let mut cmd = Command::new("cmd");
    cmd.arg("/C").arg(command);
    cmd
}

/// The distinct runs of exactly six ASCII digits, in order.
fn six_digit_runs(output: &[u8]) -> Vec<String> {
    let mut codes: Vec<String> = Vec::new();
    for run in output.split(|b| !b.is_ascii_digit()) {
        if run.len() == 6 {
            let code = String::from_utf8_lossy(run).into_owned();
            if !codes.contains(&code) {
                codes.push(code);
            }
        }
    }
    codes
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code(command: &str) -> Result<String> {
        code_from(command, "--code-command", TIMEOUT).map(|c| c.as_str().to_owned())
    }

    fn error(command: &str) -> String {
        code(command).unwrap_err().to_string()
    }

    #[test]
    fn the_one_code_is_taken() {
        assert_eq!(code("echo 123456").unwrap(), "123456");
        assert_eq!(code("printf 'Code: 024680\\n'").unwrap(), "024680");
        // The same code twice is still one code; longer numbers are not codes.
        assert_eq!(code("echo 111111 111111 1234567").unwrap(), "111111");
    }

    #[test]
    fn unclear_or_failed_commands_are_errors_without_the_output() {
        assert_eq!(
            error("echo no code here"),
            "the code command (--code-command) printed no 6-digit code"
        );
        let err = error("echo 123456 654321");
        assert_eq!(
            err,
            "the code command (--code-command) printed 2 different 6-digit numbers, so which is the code is not clear"
        );
        assert!(!err.contains("123456"));
        assert_eq!(
            error("echo 123456; exit 3"),
            "the code command (--code-command) failed (exit status 3)"
        );
        let started = Instant::now();
        let err = code_from("sleep 5", "mfa_process", Duration::from_secs(1))
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            "the code command (mfa_process) did not finish within 1s"
        );
        assert!(
            started.elapsed() < Duration::from_secs(4),
            "killed at the deadline"
        );
    }
}
