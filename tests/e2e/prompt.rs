//! Prompts on a real terminal: tmux gives the binary a pseudo-terminal, types
//! into it with send-keys and reads the screen with capture-pane.

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use crate::need;
use crate::support::*;

/// A tmux server of its own, running one command in a detached session.
pub struct Terminal {
    socket: String,
    dir: PathBuf,
}

fn quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', r"'\''"))
}

impl Terminal {
    /// Runs the binary in a pseudo-terminal; stdout and stderr go to files and
    /// the exit code, then `stty -a` (to see the terminal was restored), after it.
    pub fn start(sandbox: &Sandbox, args: &[&str]) -> Terminal {
        Terminal::start_sized(sandbox, args, 40)
    }

    /// The same, in a terminal `rows` lines high.
    pub fn start_sized(sandbox: &Sandbox, args: &[&str], rows: u32) -> Terminal {
        Terminal::start_with(sandbox, args, (160, rows), false)
    }

    /// In a terminal of `cols` by `rows` (80x24: the classic size).
    pub fn start_in(sandbox: &Sandbox, args: &[&str], cols: u32, rows: u32) -> Terminal {
        Terminal::start_with(sandbox, args, (cols, rows), false)
    }

    /// [`Terminal::start`] with stdout left on the terminal (stderr still
    /// goes to its file).
    pub fn start_on_screen(sandbox: &Sandbox, args: &[&str]) -> Terminal {
        Terminal::start_with(sandbox, args, (160, 40), true)
    }

    fn start_with(
        sandbox: &Sandbox,
        args: &[&str],
        (cols, rows): (u32, u32),
        on_screen: bool,
    ) -> Terminal {
        let dir = sandbox.path("tty");
        std::fs::create_dir_all(&dir).unwrap();
        // A run before in the same sandbox left its exit code here.
        let _ = std::fs::remove_file(dir.join("rc"));
        let mut line = String::from("env -i");
        for (k, v) in &sandbox.env {
            line.push_str(&format!(" {k}={}", quote(v)));
        }
        line.push(' ');
        line.push_str(&quote(&BIN));
        for arg in args {
            line.push(' ');
            line.push_str(&quote(arg));
        }
        let d = dir.display();
        if !on_screen {
            line.push_str(&format!(" > {d}/out"));
        }
        let script = format!(
            "{line} 2> {d}/err; echo $? > {d}/rc.tmp; stty -a > {d}/stty; mv {d}/rc.tmp {d}/rc; sleep 30"
        );
        let socket = unique("mfa-session-test-");
        let status = Command::new("tmux")
            .args([
                "-L",
                &socket,
                "-f",
                "/dev/null",
                "new-session",
                "-d",
                "-x",
                &cols.to_string(),
                "-y",
                &rows.to_string(),
            ])
            .arg(script)
            .env_remove("TMUX")
            .status()
            .expect("start tmux");
        assert!(status.success());
        Terminal { socket, dir }
    }

    /// The screen and all of its scrollback.
    pub fn history(&self) -> String {
        let out = Command::new("tmux")
            .args(["-L", &self.socket, "capture-pane", "-p", "-S", "-"])
            .output()
            .expect("capture-pane");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    pub fn screen(&self) -> String {
        let out = Command::new("tmux")
            .args(["-L", &self.socket, "capture-pane", "-p"])
            .output()
            .expect("capture-pane");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    pub fn wait_for_screen(&self, text: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let screen = self.screen();
            if screen.contains(text.trim_end()) {
                return screen;
            }
            assert!(
                Instant::now() < deadline,
                "screen never showed {text:?}:\n{screen}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn keys(&self, keys: &[&str]) {
        let status = Command::new("tmux")
            .args(["-L", &self.socket, "send-keys"])
            .args(keys)
            .status()
            .expect("send-keys");
        assert!(status.success());
    }

    /// Waits for the binary to end: (exit code, stdout, stderr, stty -a).
    pub fn finish(&self) -> (i32, String, String, String) {
        let rc = self.dir.join("rc");
        let deadline = Instant::now() + Duration::from_secs(30);
        while !rc.exists() {
            assert!(
                Instant::now() < deadline,
                "the binary did not end:\n{}",
                self.screen()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        let read = |name: &str| std::fs::read_to_string(self.dir.join(name)).unwrap_or_default();
        (
            read("rc").trim().parse().unwrap(),
            read("out"),
            read("err"),
            read("stty"),
        )
    }
}

impl Drop for Terminal {
    fn drop(&mut self) {
        let _ = Command::new("tmux")
            .args(["-L", &self.socket, "kill-server"])
            .status();
    }
}

fn echo_is_on(stty: &str) -> bool {
    stty.split_whitespace().any(|w| w == "echo") && stty.split_whitespace().any(|w| w == "icanon")
}

fn requests_for(moto: &Moto, user: &User) -> Vec<Request> {
    moto.requests_signed_by(&user.access_key_id)
}

#[test]
fn code_is_asked_on_the_terminal_with_hidden_input() {
    let moto = need!(moto());
    need!(tool("tmux"));
    let user = moto.user(1);
    let sandbox = Sandbox::with_user(moto, &user, "work");
    let term = Terminal::start(&sandbox, &["work"]);
    term.wait_for_screen(&format!("MFA code for {}: ", user.serials[0]));
    // A mistyped code is asked again, without a request.
    term.keys(&["12a45", "Enter"]);
    term.wait_for_screen("try again");
    term.keys(&["135790", "Enter"]);
    let (code, out, err, stty) = term.finish();
    assert_eq!(code, 0, "{err}");
    assert_eq!(out.lines().count(), 5, "{out}");
    assert!(out.starts_with("export AWS_ACCESS_KEY_ID="), "{out}");
    let screen = term.screen();
    assert!(!screen.contains("135790"), "the code was echoed:\n{screen}");
    assert!(!out.contains("MFA code"), "the prompt went to stdout");
    assert!(echo_is_on(&stty), "terminal left without echo: {stty}");
    let requests = requests_for(moto, &user);
    let session = requests
        .iter()
        .find(|r| r.action() == "GetSessionToken")
        .unwrap();
    assert_eq!(session.params["TokenCode"], "135790");
}

#[test]
fn ctrl_c_at_the_code_prompt_exits_130_with_nothing_printed() {
    let moto = need!(moto());
    need!(tool("tmux"));
    let user = moto.user(1);
    let sandbox = Sandbox::with_device(moto, &user, "work");
    let term = Terminal::start(&sandbox, &["work"]);
    term.wait_for_screen("MFA code for");
    term.keys(&["123", "C-c"]);
    let (code, out, err, stty) = term.finish();
    assert_eq!(code, 130, "{err}");
    assert_eq!(out, "");
    assert_eq!(err, "mfa-session: interrupted\n");
    assert!(echo_is_on(&stty), "terminal left without echo: {stty}");
    // Only the warm-up that ran while the prompt waited, no code.
    let sent: Vec<String> = requests_for(moto, &user)
        .iter()
        .map(|r| r.action().to_owned())
        .collect();
    assert!(sent.iter().all(|a| a == "GetCallerIdentity"), "{sent:?}");
}

#[test]
fn several_devices_are_offered_as_a_numbered_choice() {
    let moto = need!(moto());
    need!(tool("tmux"));
    let user = moto.user(2);
    let sandbox = Sandbox::with_user(moto, &user, "work");
    let term = Terminal::start(&sandbox, &["246801", "work"]);
    let screen = term.wait_for_screen("Use which one? [1-2]: ");
    assert!(
        screen.contains(&format!("1) {}", user.serials[0])),
        "{screen}"
    );
    assert!(
        screen.contains(&format!("2) {}", user.serials[1])),
        "{screen}"
    );
    term.keys(&["7", "Enter"]);
    term.wait_for_screen("type a number from 1 to 2");
    term.keys(&["2", "Enter"]);
    let (code, out, err, _) = term.finish();
    assert_eq!(code, 0, "{err}");
    assert_eq!(out.lines().count(), 5);
    let requests = requests_for(moto, &user);
    let session = requests
        .iter()
        .find(|r| r.action() == "GetSessionToken")
        .unwrap();
    assert_eq!(session.params["SerialNumber"], user.serials[1]);
}

#[test]
fn ctrl_c_at_the_device_choice_exits_130() {
    let moto = need!(moto());
    need!(tool("tmux"));
    let user = moto.user(2);
    let sandbox = Sandbox::with_user(moto, &user, "work");
    let term = Terminal::start(&sandbox, &["246801", "work"]);
    term.wait_for_screen("Use which one?");
    term.keys(&["C-c"]);
    let (code, out, err, stty) = term.finish();
    assert_eq!(code, 130, "{err}");
    assert_eq!(out, "");
    assert!(echo_is_on(&stty), "{stty}");
}

/// Issue 31, item 10: with no code, no terminal, no dialog and no code
/// command, the run fails before any request (before, the warm-up
/// GetCallerIdentity, and the device's lookup, went out for nothing).
#[test]
fn no_request_when_no_code_can_be_had() {
    let moto = need!(moto());
    let user = moto.user(1);
    for sandbox in [
        Sandbox::with_device(moto, &user, "work"),
        Sandbox::with_user(moto, &user, "work"),
    ] {
        sandbox
            .run(&["work"])
            .failure(1)
            .stderr_has("no MFA code given, and there is no terminal to ask on");
    }
    assert_eq!(moto.requests_signed_by(&user.access_key_id).len(), 0);
}
