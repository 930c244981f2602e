//! Questions asked on the controlling terminal.
//!
//! stdout is captured by `eval "$(...)"`, so a prompt written there would be
//! swallowed and then executed; stdin may be a pipe. Prompts therefore go
//! straight to the terminal (`/dev/tty`, or the console on Windows), and
//! without one the tool fails at once instead of waiting for input that
//! cannot come.
//!
//! Ctrl-C at a prompt ends the tool with exit code 130 and nothing on stdout.
//! The terminal must be left as it was found: rpassword turns echo off and
//! reads Ctrl-C as a key, then raises SIGINT before it restores the terminal,
//! so while a prompt is open SIGINT only sets a flag (see [`InterruptGuard`]).

use std::fs::File;
use std::io::{self, Read, Write};

use anyhow::Result;

use crate::aws::MfaDevice;
use crate::error::Failure;
use crate::input::MfaCode;

/// How many times a mistyped answer is asked again before giving up.
const ATTEMPTS: usize = 3;

/// The devices answers are read from and questions written to: on Unix the
/// one controlling terminal; on Windows the console, whose input (`CONIN$`)
/// and output (`CONOUT$`) are two devices, neither of them stdin or stdout.
pub const fn terminal_devices(windows: bool) -> (&'static str, &'static str) {
    if windows {
        ("CONIN$", "CONOUT$")
    } else {
        ("/dev/tty", "/dev/tty")
    }
}

/// The terminal: where answers come from and questions go.
struct Terminal {
    input: File,
    output: File,
}

/// The terminal, or a failure that says there is none and what to do instead.
fn open_terminal(missing: &str, instead: &str) -> Result<Terminal> {
    let (input, output) = terminal_devices(cfg!(windows));
    let open = |path: &str, read: bool| {
        std::fs::OpenOptions::new()
            .read(read)
            .write(true)
            .open(path)
    };
    let opened = open(input, true).and_then(|input| Ok((input, open(output, false)?)));
    match opened {
        Ok((input, output)) => Ok(Terminal { input, output }),
        Err(_) => Err(
            Failure::new(format!("{missing}, and there is no terminal to ask on"))
                .tag(crate::error::Tag::NoTerminal)
                .hint(instead)
                .into(),
        ),
    }
}

const NO_CODE: &str = "no MFA code given";
const PASS_THE_CODE: &str =
    "pass the code as an argument: mfa-session 123456 [PROFILE], or --code 123456";

/// Asks for the MFA code with hidden input.
pub fn read_code(serial: &str) -> Result<MfaCode> {
    ask_code(&format!("MFA code for {serial}: "), NO_CODE, PASS_THE_CODE)
}

/// Fails as [`read_code`] would when there is no terminal to ask on.
pub fn check_code_terminal() -> Result<()> {
    open_terminal(NO_CODE, PASS_THE_CODE).map(|_| ())
}

/// The terminal's size in character cells (columns, rows), when there is
/// one and it says.
pub fn terminal_size() -> Option<(u16, u16)> {
    let Terminal { output, .. } = open_terminal("", "").ok()?;
    let (width, height) = terminal_size::terminal_size_of(&output)?;
    Some((width.0, height.0))
}

/// Whether there is a terminal to show things on and ask questions.
pub fn has_terminal() -> bool {
    open_terminal("", "").is_ok()
}

/// Writes `text` to the terminal (never to stdout or stderr, which may be
/// files or pipes): what only the person at the terminal may see.
pub fn show(text: &str) -> Result<()> {
    let Terminal { mut output, .. } =
        open_terminal("nothing can be shown", "run this in a terminal")?;
    output
        .write_all(text.as_bytes())
        .and_then(|()| output.flush())
        .map_err(|e| {
            Failure::new(format!(
                "cannot write to the terminal: {}",
                crate::error::io_reason(&e)
            ))
            .into()
        })
}

/// Asks for a 6-digit code with hidden input, with this prompt.
pub fn ask_code(prompt: &str, missing: &str, instead: &str) -> Result<MfaCode> {
    let Terminal {
        output: mut tty, ..
    } = open_terminal(missing, instead)?;
    let _guard = InterruptGuard::install();
    for attempt in 1..=ATTEMPTS {
        let answer = match rpassword::prompt_password(prompt) {
            Ok(answer) => answer,
            Err(e) if e.kind() == io::ErrorKind::Interrupted || interrupted() => {
                let _ = writeln!(tty);
                return Err(Failure::interrupted().into());
            }
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => {
                let _ = writeln!(tty);
                return Err(Failure::new("no MFA code entered").into());
            }
            Err(e) => {
                return Err(Failure::new(format!(
                    "cannot read the MFA code from the terminal: {}",
                    crate::error::io_reason(&e)
                ))
                .hint("pass the code as an argument: mfa-session 123456 [PROFILE]")
                .into());
            }
        };
        if interrupted() {
            return Err(Failure::interrupted().into());
        }
        match MfaCode::parse(&answer) {
            Ok(code) => return Ok(code),
            Err(e) if attempt < ATTEMPTS => {
                let _ = writeln!(tty, "{e}; try again");
            }
            Err(e) => return Err(e),
        }
    }
    unreachable!("the loop returns on its last attempt")
}

/// Asks which of several devices to use.
pub fn choose_device(devices: &[MfaDevice]) -> Result<&MfaDevice> {
    let serials: Vec<&str> = devices.iter().map(|d| d.serial.as_str()).collect();
    let Terminal {
        input: mut answers,
        output: mut tty,
    } = open_terminal(
        &format!(
            "{} MFA devices found ({})",
            devices.len(),
            serials.join(", ")
        ),
        "choose one with --serial-number ARN, or set mfa_serial = ARN in the profile",
    )?;
    let _guard = InterruptGuard::install();
    let _ = writeln!(tty, "This user has {} MFA devices:", devices.len());
    for (i, serial) in serials.iter().enumerate() {
        let _ = writeln!(tty, "  {}) {serial}", i + 1);
    }
    for _ in 0..ATTEMPTS {
        let _ = write!(tty, "Use which one? [1-{}]: ", devices.len());
        let _ = tty.flush();
        let answer = read_line(&mut answers, &mut tty)?;
        match answer.trim().parse::<usize>() {
            Ok(n) if (1..=devices.len()).contains(&n) => return Ok(&devices[n - 1]),
            _ => {
                let _ = writeln!(tty, "type a number from 1 to {}", devices.len());
            }
        }
    }
    Err(Failure::new("no MFA device chosen")
        .hint("choose one with --serial-number ARN, or set mfa_serial = ARN in the profile")
        .into())
}

/// Reads one line from the terminal. Not `BufRead::read_line`: that retries
/// after EINTR, and Ctrl-C must end the prompt.
fn read_line(input: &mut File, tty: &mut File) -> Result<String> {
    let mut line = Vec::new();
    let mut byte = [0u8; 1];
    loop {
        match input.read(&mut byte) {
            Ok(0) => break,
            Ok(_) if byte[0] == b'\n' => break,
            Ok(_) => line.push(byte[0]),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {
                if interrupted() {
                    let _ = writeln!(tty);
                    return Err(Failure::interrupted().into());
                }
            }
            Err(e) => {
                return Err(Failure::new(format!(
                    "cannot read from the terminal: {}",
                    crate::error::io_reason(&e)
                ))
                .into());
            }
        }
        if interrupted() {
            return Err(Failure::interrupted().into());
        }
    }
    Ok(String::from_utf8_lossy(&line).into_owned())
}

#[cfg(unix)]
mod interrupt {
    use std::sync::atomic::{AtomicBool, Ordering};

    static INTERRUPTED: AtomicBool = AtomicBool::new(false);

    extern "C" fn on_signal(_: libc::c_int) {
        INTERRUPTED.store(true, Ordering::SeqCst);
    }

    pub fn interrupted() -> bool {
        INTERRUPTED.load(Ordering::SeqCst)
    }

    /// While alive, SIGINT sets a flag and interrupts a blocking read (no
    /// SA_RESTART) instead of killing the process; dropping it puts the
    /// previous disposition back.
    pub struct InterruptGuard {
        previous: libc::sigaction,
        /// SIGINT unblocked in this thread and sent here by the signal
        /// thread (every thread blocks it otherwise, see crate::signals).
        unblocked: Option<crate::signals::PromptGuard>,
    }

    impl InterruptGuard {
        pub fn install() -> Option<InterruptGuard> {
            // SAFETY: the handler only stores to an atomic, which is
            // async-signal-safe; both sigaction structs are fully initialised.
            unsafe {
                let mut action: libc::sigaction = std::mem::zeroed();
                action.sa_sigaction = on_signal as extern "C" fn(libc::c_int) as libc::sighandler_t;
                action.sa_flags = 0;
                libc::sigemptyset(&mut action.sa_mask);
                let mut previous: libc::sigaction = std::mem::zeroed();
                if libc::sigaction(libc::SIGINT, &action, &mut previous) != 0 {
                    return None;
                }
                let unblocked = Some(crate::signals::PromptGuard::open());
                Some(InterruptGuard {
                    previous,
                    unblocked,
                })
            }
        }
    }

    impl Drop for InterruptGuard {
        fn drop(&mut self) {
            // SIGINT blocked again before the handler goes: a late one
            // cannot end the process with the terminal half restored.
            drop(self.unblocked.take());
            // SAFETY: restores the disposition saved by `install`.
            unsafe {
                libc::sigaction(libc::SIGINT, &self.previous, std::ptr::null_mut());
            }
        }
    }
}

#[cfg(not(unix))]
mod interrupt {
    pub fn interrupted() -> bool {
        false
    }

    pub struct InterruptGuard;

    impl InterruptGuard {
        pub fn install() -> Option<InterruptGuard> {
            Some(InterruptGuard)
        }
    }
}

use interrupt::{InterruptGuard, interrupted};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_come_from_the_console_input_on_windows() {
        assert_eq!(terminal_devices(true), ("CONIN$", "CONOUT$"));
        assert_eq!(terminal_devices(false), ("/dev/tty", "/dev/tty"));
    }
}
