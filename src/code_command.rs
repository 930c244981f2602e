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
use std::sync::{Arc, Mutex, mpsc};
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
        Ok(text) if !text.trim().is_empty() => match crate::input::parse_duration(&text) {
            Ok(d) if d.is_zero() => Err(Failure::usage(
                "MFA_SESSION_CODE_COMMAND_TIMEOUT must be more than 0",
            )
            .hint("set it to a duration, such as 60 or 2m")
            .into()),
            Ok(d) => Ok(d),
            Err(e) => Err(
                Failure::usage(format!("MFA_SESSION_CODE_COMMAND_TIMEOUT: {e}"))
                    .hint("set it to a duration, such as 60 or 2m")
                    .into(),
            ),
        },
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
    let mut shell = shell(command);
    shell
        .stdin(Stdio::inherit())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    let foreground = own_group(&mut shell);
    let mut child = shell
        .spawn()
        .map_err(|e| failure(format!("could not start: {}", crate::error::io_reason(&e))))?;
    let group = Group {
        pid: child.id(),
        foreground,
    };
    let mut stdout = child.stdout.take().expect("piped");
    let output = Arc::new(Mutex::new(Vec::new()));
    let (done, finished) = mpsc::channel();
    let read = output.clone();
    std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        loop {
            match stdout.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    let mut out = read.lock().unwrap_or_else(|e| e.into_inner());
                    if out.len() as u64 + n as u64 > MAX_OUTPUT {
                        break;
                    }
                    out.extend_from_slice(&buf[..n]);
                }
            }
        }
        let _ = done.send(());
    });
    let deadline = Instant::now() + timeout;
    let too_late = || -> anyhow::Error {
        failure(format!(
            "did not finish within {}",
            crate::input::format_duration(timeout)
        ))
    };
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if Instant::now() >= deadline => {
                group.end();
                let _ = child.wait();
                return Err(too_late());
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(10)),
            Err(e) => {
                group.end();
                return Err(failure(format!("failed: {}", crate::error::io_reason(&e))));
            }
        }
    };
    // The command is done; what it started in the background may still hold
    // its stdout (`echo 123456; sleep 90 &`). Its output is complete once the
    // pipe closes, or after a moment: then the rest of the group goes, so
    // that nothing of it is left holding the terminal.
    let grace = Duration::from_millis(250).min(deadline.saturating_duration_since(Instant::now()));
    if finished.recv_timeout(grace).is_err() {
        group.end();
    }
    group.restore_terminal();
    let mut output = std::mem::take(&mut *output.lock().unwrap_or_else(|e| e.into_inner()));
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        // Ctrl-C at the terminal reached the command's group, not this one.
        if status.signal() == Some(libc::SIGINT) {
            zeroize::Zeroize::zeroize(&mut output);
            return Err(Failure::interrupted().into());
        }
    }
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

/// The command's process group, ended whole on a timeout.
struct Group {
    pid: u32,
    /// The terminal it was made the foreground group of, to be given back.
    #[cfg_attr(not(unix), allow(dead_code))]
    foreground: Option<i32>,
}

impl Group {
    #[cfg(unix)]
    fn end(&self) {
        if let Ok(pid) = libc::pid_t::try_from(self.pid) {
            // SAFETY: signals the group the child leads; no memory is touched.
            unsafe {
                libc::kill(-pid, libc::SIGKILL);
            }
        }
    }

    /// Windows: the process and every process it started, by `taskkill`.
    #[cfg(not(unix))]
    fn end(&self) {
        let _ = crate::signals::command("taskkill")
            .args(["/T", "/F", "/PID", &self.pid.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }

    /// Gives the terminal back to this process's group.
    #[cfg(unix)]
    fn restore_terminal(&self) {
        if let Some(fd) = self.foreground {
            // SAFETY: SIGTTOU is held back while a background group takes
            // the terminal back, as shells do; the fd is ours.
            unsafe {
                let mut set: libc::sigset_t = std::mem::zeroed();
                let mut old: libc::sigset_t = std::mem::zeroed();
                libc::sigemptyset(&mut set);
                libc::sigaddset(&mut set, libc::SIGTTOU);
                libc::pthread_sigmask(libc::SIG_BLOCK, &set, &mut old);
                libc::tcsetpgrp(fd, libc::getpgrp());
                libc::pthread_sigmask(libc::SIG_SETMASK, &old, std::ptr::null_mut());
                libc::close(fd);
            }
        }
    }

    #[cfg(not(unix))]
    fn restore_terminal(&self) {}
}

impl Drop for Group {
    fn drop(&mut self) {
        self.restore_terminal();
        self.foreground = None;
    }
}

/// Starts the command in a process group of its own, so that a timeout ends
/// everything it started. When this process runs in the foreground of a
/// terminal, the new group is made the foreground one (the command may ask
/// for a PIN there); returns the terminal's descriptor to give it back.
#[cfg(unix)]
fn own_group(command: &mut Command) -> Option<i32> {
    use std::os::unix::process::CommandExt;
    // SAFETY: a path string; the descriptor is closed by Group.
    let tty = unsafe { libc::open(c"/dev/tty".as_ptr(), libc::O_RDWR | libc::O_CLOEXEC) };
    // SAFETY: plain queries of our own process and descriptor.
    let foreground = tty >= 0 && unsafe { libc::tcgetpgrp(tty) == libc::getpgrp() };
    if tty >= 0 && !foreground {
        // SAFETY: our descriptor.
        unsafe { libc::close(tty) };
    }
    let fd = foreground.then_some(tty);
    // SAFETY: only async-signal-safe calls between fork and exec.
    unsafe {
        command.pre_exec(move || {
            libc::setpgid(0, 0);
            if let Some(fd) = fd {
                let mut set: libc::sigset_t = std::mem::zeroed();
                let mut old: libc::sigset_t = std::mem::zeroed();
                libc::sigemptyset(&mut set);
                libc::sigaddset(&mut set, libc::SIGTTOU);
                libc::sigprocmask(libc::SIG_BLOCK, &set, &mut old);
                libc::tcsetpgrp(fd, libc::getpid());
                libc::sigprocmask(libc::SIG_SETMASK, &old, std::ptr::null_mut());
            }
            Ok(())
        });
    }
    fd
}

#[cfg(not(unix))]
fn own_group(_command: &mut Command) -> Option<i32> {
    None
}

#[cfg(unix)]
fn shell(command: &str) -> Command {
    let mut cmd = crate::signals::command("/bin/sh");
    cmd.arg("-c").arg(command);
    cmd
}

#[cfg(not(unix))]
fn shell(command: &str) -> Command {
    let mut cmd = crate::signals::command("cmd");
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
    fn a_background_job_holding_the_output_does_not_hold_the_run() {
        let started = Instant::now();
        assert_eq!(code("echo 123456; sleep 90 &").unwrap(), "123456");
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "{:?}",
            started.elapsed()
        );
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn at_the_deadline_the_whole_group_ends() {
        let dir = tempfile::tempdir().unwrap();
        let pid_file = dir.path().join("pid");
        let command = format!("sleep 60 & echo $! > '{}'; wait", pid_file.display());
        let started = Instant::now();
        let err = code_from(&command, "--code-command", Duration::from_secs(1)).unwrap_err();
        assert!(
            err.to_string().ends_with("did not finish within 1s"),
            "{err}"
        );
        assert!(started.elapsed() < Duration::from_secs(4));
        let pid = std::fs::read_to_string(&pid_file).unwrap();
        let gone = || {
            std::fs::read_to_string(format!("/proc/{}/stat", pid.trim()))
                .map(|stat| stat.rsplit(") ").next().is_some_and(|s| s.starts_with('Z')))
                .unwrap_or(true)
        };
        let deadline = Instant::now() + Duration::from_secs(3);
        while !gone() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        assert!(gone(), "the background sleep was ended with its group");
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
