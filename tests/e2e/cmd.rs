//! cmd.exe code run by a cmd nobody here wrote: Wine's. The `init cmd`
//! batch file is run with a stand-in `mfa-session.cmd` that prints what the
//! real binary printed (a session from moto, `--clear`) or fails, and the
//! variables are read back with `set`.
//!
//! Known differences between Wine's cmd and Windows': Wine reads a batch file
//! in its own code page whatever `chcp` says (non-ASCII values are not
//! compared byte for byte). And these shaped the batch file: Wine ends the whole batch file on `for ... do if COND (... & exit
//! /b)` when COND is false (so `goto` is used), and runs the text of a
//! `for /f` line as one command name (so the line is split and given to
//! `set`).

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::need;
use crate::support::*;

/// Runs `script` (lines joined with CRLF) with `wine cmd /c` in `dir`.
fn wine_cmd(wine: &Path, dir: &Path, script: &[&str]) -> String {
    let mut text = script.join("\r\n");
    text.push_str("\r\n");
    std::fs::write(dir.join("t.cmd"), text).unwrap();
    // One prefix for every run: creating it takes seconds.
    let prefix = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/wine-prefix");
    let out = Command::new(wine)
        .args(["cmd", "/c", "t.cmd"])
        .current_dir(dir)
        .env_clear()
        .env("HOME", std::env::var("HOME").unwrap_or_default())
        .env("PATH", "/usr/bin:/bin")
        .env("WINEPREFIX", prefix)
        .env("WINEDEBUG", "-all")
        .output()
        .expect("run wine");
    String::from_utf8_lossy(&out.stdout).replace('\r', "")
}

fn wine() -> Option<PathBuf> {
    tool("wine")
}

/// Issue 8.5 and 8.15: the cmd function applies only what mfa-session
/// printed as code and only on success, exits non-zero on failure, and keeps
/// no temporary file (it has none).
#[test]
fn the_cmd_function_applies_only_a_successful_session() {
    let wine = need!(wine());
    let moto = need!(moto());
    let user = moto.user(1);
    let sandbox = Sandbox::with_user(moto, &user, "work");
    let session = sandbox.run(&["123456", "work", "--shell", "cmd", "--wrapped", "-q"]);
    session.success();
    let clear = sandbox.run(&["--clear", "--shell", "cmd", "--wrapped"]);
    clear.success();
    let dir = tempfile::tempdir().unwrap();
    let crlf = |text: &str| text.replace('\n', "\r\n");
    std::fs::write(dir.path().join("out.txt"), crlf(&session.stdout)).unwrap();
    std::fs::write(dir.path().join("clear.txt"), crlf(&clear.stdout)).unwrap();
    std::fs::write(
        dir.path().join("mfa-session.cmd"),
        crlf(
            "@echo off\n\
             if \"%MFA_STANDIN%\"==\"fail\" (echo mfa-session: refused 1>&2 & exit /b 2)\n\
             if \"%MFA_STANDIN%\"==\"help\" (echo Usage: mfa-session & echo set \"AWS_ACCESS_KEY_ID=from-help\" & exit /b 0)\n\
             if \"%MFA_STANDIN%\"==\"clear\" (type \"%~dp0clear.txt\" & exit /b 0)\n\
             type \"%~dp0out.txt\"\n",
        ),
    )
    .unwrap();
    let wrapper = Command::new(&*BIN)
        .args(["init", "cmd"])
        .output()
        .unwrap()
        .stdout;
    std::fs::write(dir.path().join("mfa.cmd"), wrapper).unwrap();

    let out = wine_cmd(
        &wine,
        dir.path(),
        &[
            "@echo off",
            "set \"AWS_ACCESS_KEY_ID=before\"",
            "set \"MFA_STANDIN=fail\"",
            "call mfa.cmd 123456 work",
            "echo fail: status=%ERRORLEVEL% key=%AWS_ACCESS_KEY_ID%",
            "set \"MFA_STANDIN=help\"",
            "call mfa.cmd -qh",
            "echo help: status=%ERRORLEVEL% key=%AWS_ACCESS_KEY_ID%",
            "set \"MFA_STANDIN=\"",
            "call mfa.cmd 123456 work",
            "echo ok: status=%ERRORLEVEL%",
            "set AWS_",
            "if defined MFA_SESSION_OK (echo marker: left) else (echo marker: gone)",
            "set \"MFA_STANDIN=clear\"",
            "call mfa.cmd --clear",
            "echo clear: status=%ERRORLEVEL%",
            "set AWS_",
        ],
    );
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "fail: status=1 key=before", "{out}");
    // Text that is not code (help, as the binary printed it before
    // --wrapped) is never run, even on stdout: it set a variable, and the
    // batch file reports that nothing was applied.
    assert_eq!(lines[1], "help: status=1 key=before", "{out}");
    assert_eq!(lines[2], "ok: status=0", "{out}");
    // What the POSIX code of the same session sets, value for value.
    let mut expected: Vec<String> = session
        .stdout
        .lines()
        .filter_map(|l| l.strip_prefix("@set \""))
        .map(|l| l.trim_end_matches('"').to_owned())
        .filter(|l| l.starts_with("AWS_"))
        .collect();
    expected.sort();
    assert_eq!(expected.len(), VARS.len());
    assert_eq!(lines[3..3 + expected.len()], expected, "{out}");
    let after = &lines[3 + expected.len()..];
    // Nothing is left of the session after --clear (`set` prints nothing).
    assert_eq!(after, ["marker: gone", "clear: status=0"], "{out}");
}

/// Issue 12.1: the hostile table through the cmd renderer and Wine's cmd.
/// What the renderer prints, cmd sets, byte for byte, read back with `set`;
/// what cmd cannot carry, the renderer refuses (it never prints a line that
/// would set something else).
#[test]
fn hostile_values_through_wines_cmd() {
    let wine = need!(wine());
    let dir = tempfile::tempdir().unwrap();
    let mut script = vec!["@echo off".to_owned(), "chcp 65001 >nul".to_owned()];
    let mut expected = Vec::new();
    let mut refused = Vec::new();
    for (i, value) in crate::shells::HOSTILE.iter().enumerate() {
        let name: &'static str = Box::leak(format!("MFA_H{i:02}").into_boxed_str());
        let mut one = mfa_session::shell::Script::new();
        one.set(name, *value);
        match one.render(mfa_session::shell::Shell::Cmd) {
            Ok(line) => {
                script.push(line.trim_end_matches('\n').to_owned());
                script.push(format!("set {name}"));
                expected.push(format!("{name}={value}"));
            }
            Err(_) => refused.push(*value),
        }
    }
    // Refused: exactly the values with a character cmd would act on inside
    // a quoted `set` (%, !, "), or that ends a line (CR, LF), or a control
    // character.
    for value in crate::shells::HOSTILE {
        let dangerous = value
            .chars()
            .any(|c| matches!(c, '%' | '!' | '"') || c.is_control());
        assert_eq!(refused.contains(value), dangerous, "{value:?}");
    }
    let lines: Vec<&str> = script.iter().map(String::as_str).collect();
    let out = wine_cmd(&wine, dir.path(), &lines);
    let got: Vec<&str> = out.lines().filter(|l| l.starts_with("MFA_H")).collect();
    // An empty value unsets the variable in cmd (as on Windows): `set`
    // then prints nothing for it. Session values are never empty.
    expected.retain(|line| !line.ends_with('='));
    // Wine's cmd reads the batch file in its own code page whatever `chcp`
    // says, so non-ASCII values come back changed; Windows' cmd after
    // `chcp 65001` reads UTF-8. Session values are ASCII; these are only
    // checked to set the variable and nothing else.
    assert_eq!(got.len(), expected.len(), "{out}");
    let mut compared = 0;
    for (got, want) in got.iter().zip(&expected) {
        let name = want.split('=').next().unwrap();
        assert!(got.starts_with(&format!("{name}=")), "{got:?} for {want:?}");
        if want.is_ascii() {
            assert_eq!(got, want);
            compared += 1;
        }
    }
    assert!(
        compared >= 18,
        "most values compared byte for byte: {compared}"
    );
}
