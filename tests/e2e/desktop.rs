//! The code asked for in a dialog where there is no terminal, for real:
//! zenity on a virtual X server (Xvfb), driven by xdotool as a person
//! would drive it (no window manager: the window is focused first, then
//! keys are typed without --window, which GTK would ignore).

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::need;
use crate::support::*;

/// A virtual X server, ended when dropped.
struct Display {
    name: String,
    server: Child,
}

impl Display {
    fn start() -> Option<Display> {
        let xvfb = tool("Xvfb")?;
        for number in 90..140 {
            let socket = format!("/tmp/.X11-unix/X{number}");
            if std::path::Path::new(&socket).exists() {
                continue;
            }
            let server = Command::new(&xvfb)
                .args([
                    &format!(":{number}"),
                    "-screen",
                    "0",
                    "800x600x24",
                    "-nolisten",
                    "tcp",
                ])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .ok()?;
            let deadline = std::time::Instant::now() + Duration::from_secs(10);
            while !std::path::Path::new(&socket).exists() {
                assert!(std::time::Instant::now() < deadline, "Xvfb did not start");
                std::thread::sleep(Duration::from_millis(20));
            }
            return Some(Display {
                name: format!(":{number}"),
                server,
            });
        }
        None
    }

    fn xdotool(&self, args: &[&str]) -> String {
        let output = Command::new("xdotool")
            .args(args)
            .env("DISPLAY", &self.name)
            .output()
            .expect("xdotool");
        String::from_utf8_lossy(&output.stdout).trim().to_owned()
    }

    /// Waits for the dialog, focuses it, types `keys` and presses `last`.
    fn answer(&self, keys: &str, last: &str) {
        // Polled rather than `search --sync`: on a loaded machine xdotool
        // can meet a window being mapped and give up with nothing.
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        let window = loop {
            let found = self.xdotool(&["search", "--name", "^mfa-session$"]);
            if let Some(window) = found.lines().next() {
                break window.to_owned();
            }
            assert!(std::time::Instant::now() < deadline, "the dialog");
            std::thread::sleep(Duration::from_millis(50));
        };
        self.xdotool(&["windowfocus", "--sync", &window]);
        if !keys.is_empty() {
            self.xdotool(&["type", "--delay", "20", keys]);
        }
        self.xdotool(&["key", last]);
        // Until the window is gone: the next dialog is another window.
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while self
            .xdotool(&["search", "--name", "^mfa-session$"])
            .lines()
            .any(|w| w == window)
        {
            assert!(std::time::Instant::now() < deadline, "the dialog stayed");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Display {
    fn drop(&mut self) {
        let _ = self.server.kill();
        let _ = self.server.wait();
    }
}

fn dialog_sandbox(moto: &Moto, user: &User, display: &Display) -> Sandbox {
    let mut sandbox = Sandbox::with_user(moto, user, "work");
    sandbox.set("DISPLAY", &display.name);
    sandbox.write(
        ".aws/config",
        &format!("[profile work]\nmfa_serial = {}\n", user.serials[0]),
    );
    sandbox
}

#[test]
fn credential_process_with_no_terminal_asks_in_a_dialog() {
    let moto = need!(moto());
    need!(tool("zenity"));
    need!(tool("xdotool"));
    let display = need!(Display::start());
    let user = moto.user(1);
    let sandbox = dialog_sandbox(moto, &user, &display);
    // No terminal: the sandbox's runs are in a session of their own.
    let child = sandbox.spawn(&["credential-process", "--profile", "work"]);
    // Not a code: asked again. Then the code.
    display.answer("12ab", "Return");
    display.answer("864209", "Return");
    let run = Run::from(child.wait_with_output().unwrap());
    run.success();
    assert!(run.stdout.contains("\"SessionToken\""), "{run:#?}");
    assert!(!run.stderr.contains("864209"), "the code is echoed nowhere");
    let sent: Vec<String> = moto
        .requests_signed_by(&user.access_key_id)
        .iter()
        .filter_map(|r| r.params.get("TokenCode").cloned())
        .collect();
    assert_eq!(sent, ["864209"], "the typed code was sent, once");

    // Cancel: exit 130, nothing on stdout, no request.
    let child = sandbox.spawn(&["credential-process", "--profile", "work", "--force"]);
    display.answer("", "Escape");
    let run = Run::from(child.wait_with_output().unwrap());
    assert_eq!(run.code, Some(130), "{run:#?}");
    assert_eq!(run.stdout, "");
    run.stderr_has("interrupted");

    // A display that is not there: said as such, not taken for a cancel.
    let mut gone = dialog_sandbox(moto, &user, &display);
    gone.set("DISPLAY", ":199");
    gone.run(&[
        "credential-process",
        "--profile",
        "work",
        "--force",
        "--prompt",
        "dialog",
    ])
    .failure(1)
    .stderr_has("the dialog for the MFA code could not be shown (zenity cannot open the display)");

    // --prompt none asks nowhere; --prompt terminal insists on a terminal.
    sandbox
        .run(&[
            "credential-process",
            "--profile",
            "work",
            "--force",
            "--prompt",
            "none",
        ])
        .failure(1)
        .stderr_has("--prompt none asks for none");
    sandbox
        .run(&[
            "credential-process",
            "--profile",
            "work",
            "--force",
            "--prompt",
            "terminal",
        ])
        .failure(1)
        .stderr_has("there is no terminal to ask on");
}

#[test]
fn a_code_command_that_keeps_the_user_waiting_is_said_on_the_desktop() {
    let moto = need!(moto());
    let display = need!(Display::start());
    let user = moto.user(1);
    let mut sandbox = dialog_sandbox(moto, &user, &display);
    // notify-send needs a notification daemon to show anything; a stand-in
    // records what mfa-session asks it to say.
    let bin = sandbox.path("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let log = sandbox.path("notified");
    sandbox.write(
        "bin/notify-send",
        &format!("#!/bin/sh\nprintf '%s\\n' \"$@\" >> '{}'\n", log.display()),
    );
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(
            bin.join("notify-send"),
            std::fs::Permissions::from_mode(0o755),
        )
        .unwrap();
    }
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    sandbox.set("PATH", &path);
    // A quick command: no notification.
    sandbox
        .run(&["work", "--code-command", "echo 864209"])
        .success();
    std::thread::sleep(Duration::from_millis(1800));
    assert!(!log.exists());
    // One that waits for a touch: one.
    sandbox
        .run(&[
            "work",
            "--force",
            "--code-command",
            "sleep 2.5; echo 975310",
        ])
        .success();
    let said = std::fs::read_to_string(&log).unwrap();
    assert!(said.contains("--app-name=mfa-session"), "{said}");
    assert!(
        said.contains("waiting for the MFA code for profile 'work'")
            && said.contains("touch your security key"),
        "{said}"
    );
    assert!(!said.contains("975310"));
}
