//! The code asked for in a dialog, where there is no terminal: IDEs (the
//! AWS Toolkits), CDK and GUI tools run `credential_process` with none.
//!
//! The dialog is a program the desktop already has: zenity or kdialog under
//! X11 or Wayland (`DISPLAY` / `WAYLAND_DISPLAY`), osascript on macOS, a
//! PowerShell credential dialog on Windows. It names the profile and the
//! device; what is typed is read from its stdout (a pipe), checked as the
//! terminal prompt checks it, and never written anywhere. Cancel ends the
//! run as Ctrl-C does: exit 130, nothing on stdout.
//!
//! Also here: a desktop notification when a code command keeps the user
//! waiting (a security key to touch).

use std::io::Read;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::Result;

use crate::error::Failure;
use crate::input::MfaCode;

/// How long a dialog stays open.
const DIALOG_TIMEOUT: Duration = Duration::from_secs(120);

/// How many answers are checked before giving up.
const ATTEMPTS: usize = 3;

/// Where the code is asked for: `--prompt` / `MFA_SESSION_PROMPT`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum PromptMode {
    /// The terminal if there is one, else a dialog if one can be shown.
    #[default]
    Auto,
    Terminal,
    Dialog,
    /// Never ask: a code must be given or come from a command.
    None,
}

/// A program that can show a dialog here.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Dialog {
    Zenity(PathBuf),
    Kdialog(PathBuf),
    Osascript,
    PowerShell,
}

impl Dialog {
    /// The dialog this desktop can show, if any.
    pub fn find() -> Option<Dialog> {
        if cfg!(target_os = "macos") {
            return Some(Dialog::Osascript);
        }
        if cfg!(windows) {
            return Some(Dialog::PowerShell);
        }
        let desktop = ["DISPLAY", "WAYLAND_DISPLAY"]
            .iter()
            .any(|v| std::env::var_os(v).is_some_and(|v| !v.is_empty()));
        if !desktop {
            return None;
        }
        on_path("zenity")
            .map(Dialog::Zenity)
            .or_else(|| on_path("kdialog").map(Dialog::Kdialog))
    }

    fn command(&self, text: &str) -> Command {
        match self {
            Dialog::Zenity(path) => {
                let mut cmd = crate::signals::command(path);
                cmd.args(["--entry", "--hide-text", "--title", "mfa-session"])
                    .arg(format!("--text={text}"))
                    .arg(format!("--timeout={}", DIALOG_TIMEOUT.as_secs()));
                cmd
            }
            Dialog::Kdialog(path) => {
                let mut cmd = crate::signals::command(path);
                cmd.args(["--title", "mfa-session", "--password"]).arg(text);
                cmd
            }
            Dialog::Osascript => {
                let quoted = text.replace('\\', "\\\\").replace('"', "\\\"");
                let mut cmd = crate::signals::command("osascript");
                cmd.arg("-e")
                    .arg(format!(
                        "display dialog \"{quoted}\" default answer \"\" with hidden answer with title \"mfa-session\""
                    ))
                    .arg("-e")
                    .arg("text returned of result");
                cmd
            }
            Dialog::PowerShell => {
                let mut cmd = crate::signals::command("powershell");
                cmd.args(["-NoProfile", "-NonInteractive", "-Command"])
                    .arg(powershell_dialog(text));
                cmd
            }
        }
    }

    fn name(&self) -> &'static str {
        match self {
            Dialog::Zenity(_) => "zenity",
            Dialog::Kdialog(_) => "kdialog",
            Dialog::Osascript => "osascript",
            Dialog::PowerShell => "powershell",
        }
    }

    /// One answer, or None when the user cancelled.
    fn ask_once(&self, text: &str) -> Result<Option<String>> {
        let mut child = self
            .command(text)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            // Read only to tell a display that cannot be opened from a
            // cancel (both exit 1); never shown, and the answer is never
            // on it.
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| {
                Failure::new(format!(
                    "cannot show a dialog for the MFA code: {}",
                    crate::error::io_reason(&e)
                ))
            })?;
        let mut stdout = child.stdout.take().expect("piped");
        let reader = std::thread::spawn(move || {
            let mut answer = Vec::new();
            let _ = (&mut stdout).take(4096).read_to_end(&mut answer);
            answer
        });
        let mut stderr = child.stderr.take().expect("piped");
        let complaints = std::thread::spawn(move || {
            let mut text = Vec::new();
            let _ = (&mut stderr).take(64 * 1024).read_to_end(&mut text);
            String::from_utf8_lossy(&text).to_lowercase()
        });
        let deadline = Instant::now() + DIALOG_TIMEOUT + Duration::from_secs(5);
        let status = loop {
            match child.try_wait() {
                Ok(Some(status)) => break status,
                Ok(None) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(20))
                }
                _ => {
                    let _ = child.kill();
                    let _ = child.wait();
                    return Err(Failure::new("the dialog for the MFA code was not answered").into());
                }
            }
        };
        let mut answer = reader.join().unwrap_or_default();
        let text = String::from_utf8_lossy(&answer).trim().to_owned();
        zeroize::Zeroize::zeroize(&mut answer);
        let complaints = complaints.join().unwrap_or_default();
        let no_display = complaints.contains("cannot open display")
            || complaints.contains("failed to open display")
            || complaints.contains("could not connect to display");
        match status.code() {
            Some(0) => Ok(Some(text)),
            Some(1) if no_display => Err(Failure::new(format!(
                "the dialog for the MFA code could not be shown ({} cannot open the display)",
                self.name()
            ))
            .hint("check DISPLAY (or WAYLAND_DISPLAY); or pass the code, or set mfa_process")
            .into()),
            // Cancel (or Escape, or the window closed) in every dialog here.
            Some(1) => Ok(None),
            // zenity's --timeout.
            Some(5) if matches!(self, Dialog::Zenity(_)) => Err(Failure::new(format!(
                "the dialog for the MFA code was not answered within {}",
                crate::input::format_duration(DIALOG_TIMEOUT)
            ))
            .into()),
            other => Err(Failure::new(format!(
                "the dialog for the MFA code could not be shown ({} {})",
                self.name(),
                match other {
                    Some(code) => format!("exited with {code}"),
                    None => "was ended by a signal".to_owned(),
                }
            ))
            .hint("check DISPLAY (or WAYLAND_DISPLAY); or pass the code, or set mfa_process")
            .into()),
        }
    }
}

/// Asks for the code of `serial` for `profile` in `dialog`, again while the
/// answer is not a code.
pub fn read_code(dialog: &Dialog, serial: &str, profile: &str) -> Result<MfaCode> {
    let question = format!("MFA code for profile '{profile}'\n({serial})");
    let mut text = question.clone();
    for attempt in 1..=ATTEMPTS {
        let Some(mut answer) = dialog.ask_once(&text)? else {
            return Err(Failure::interrupted().into());
        };
        let parsed = MfaCode::parse(&answer);
        zeroize::Zeroize::zeroize(&mut answer);
        match parsed {
            Ok(code) => return Ok(code),
            Err(e) if attempt < ATTEMPTS => text = format!("{e}; try again.\n\n{question}"),
            Err(e) => return Err(e),
        }
    }
    unreachable!("the loop returns on its last attempt")
}

/// The PowerShell that asks for the code, `text` in it as one verbatim
/// string however it is quoted (a profile name may hold any quote).
fn powershell_dialog(text: &str) -> String {
    format!(
        "$c = Get-Credential -UserName 'MFA code' -Message {}; if ($c) {{ $c.GetNetworkCredential().Password }} else {{ exit 1 }}",
        crate::shell::powershell_quote(text)
    )
}

/// A notification on the desktop, where one can be shown; quietly nothing
/// where not.
pub fn notify(text: &str) {
    let mut command = if cfg!(target_os = "macos") {
        let quoted = text.replace('\\', "\\\\").replace('"', "\\\"");
        let mut cmd = crate::signals::command("osascript");
        cmd.arg("-e").arg(format!(
            "display notification \"{quoted}\" with title \"mfa-session\""
        ));
        cmd
    } else {
        let desktop = ["DISPLAY", "WAYLAND_DISPLAY", "DBUS_SESSION_BUS_ADDRESS"]
            .iter()
            .any(|v| std::env::var_os(v).is_some_and(|v| !v.is_empty()));
        let Some(path) = on_path("notify-send").filter(|_| desktop) else {
            return;
        };
        let mut cmd = crate::signals::command(path);
        cmd.args(["--app-name=mfa-session", "mfa-session"])
            .arg(text);
        cmd
    };
    let _ = command
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .and_then(|mut child| child.wait());
}

fn on_path(name: &str) -> Option<PathBuf> {
    let dirs = std::env::var_os("PATH")?;
    std::env::split_paths(&dirs)
        .map(|d| d.join(name))
        .find(|p| crate::program::find_program(&p.clone().into_os_string()).is_ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_powershell_dialog_keeps_any_quote_in_the_message() {
        for profile in [
            "plain",
            "o'brien",
            "it\u{2019}s; exit 0 #",
            "\u{2018}x\u{201B}'\u{201A}",
        ] {
            let text = format!("MFA code for profile '{profile}'");
            let script = powershell_dialog(&text);
            let message = script
                .strip_prefix("$c = Get-Credential -UserName 'MFA code' -Message ")
                .and_then(|rest| {
                    rest.strip_suffix(
                        "; if ($c) { $c.GetNetworkCredential().Password } else { exit 1 }",
                    )
                })
                .unwrap();
            assert_eq!(
                crate::shell::powershell_unquote(message),
                Some(text),
                "{script}"
            );
        }
    }
}
