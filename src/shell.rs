//! Shell code that sets or removes environment variables, rendered for one shell.
//!
//! Everything the tool prints on stdout is a [`Script`]: an ordered list of
//! `Set(name, value)` and `Unset(name)` operations. Each shell has one renderer
//! below, and each states the quoting rule it relies on and why. Rendering is
//! pure: no I/O, no environment, so every byte of output is pinned by unit tests.
//!
//! Names are always the fixed `AWS_*` names this tool owns, so only values need
//! quoting. Values come from AWS (base64 tokens, RFC 3339 dates), but every
//! renderer is written for arbitrary text anyway: a quoting rule that is only
//! right for "nice" values is a bug waiting for the next AWS format change.

use anyhow::{Result, bail};
use clap::ValueEnum;

/// The shells mfa-session can print code for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Shell {
    Bash,
    Zsh,
    /// Any POSIX shell: dash, ash, ksh, `bash --posix`.
    Sh,
    Fish,
    #[value(alias = "pwsh")]
    Powershell,
    /// Windows cmd.exe, through a batch file or `for /f`.
    Cmd,
}

impl Shell {
    /// The shell to print code for when `--shell` and `MFA_SESSION_SHELL` are
    /// not given: POSIX sh, which bash, zsh, dash and ksh all read.
    ///
    /// `$SHELL` is not consulted: it names the login shell, not the shell
    /// that evaluates the output. A fish user's bash script would get fish
    /// code, and zsh reads fish's `set -gx` as `set -g -x`, which turns on
    /// tracing and prints every secret to stderr. zoxide and direnv let the
    /// user (or the `init` function) name the shell for the same reason.
    ///
    /// On Windows there is no shell both cmd and PowerShell can read, and no
    /// reliable way to tell which one is running, so the shell must be named.
    pub fn default_for_platform() -> Result<Shell> {
        if cfg!(windows) {
            bail!(
                crate::error::Failure::usage("name the shell to print code for")
                    .hint("add --shell powershell or --shell cmd (or set MFA_SESSION_SHELL), or use the function from: mfa-session init powershell")
            );
        }
        Ok(Shell::Sh)
    }
}

/// One step of a script.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Op {
    Set(&'static str, String),
    Unset(&'static str),
}

/// An ordered list of environment changes, rendered once for one shell.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Script {
    ops: Vec<Op>,
}

impl Script {
    pub fn new() -> Script {
        Script::default()
    }

    pub fn set(&mut self, name: &'static str, value: impl Into<String>) -> &mut Script {
        self.ops.push(Op::Set(name, value.into()));
        self
    }

    pub fn unset(&mut self, name: &'static str) -> &mut Script {
        self.ops.push(Op::Unset(name));
        self
    }

    pub fn ops(&self) -> &[Op] {
        &self.ops
    }

    /// The script as code for `shell`. Fails only for cmd, which cannot carry
    /// every value (see [`cmd_line`]).
    pub fn render(&self, shell: Shell) -> Result<String> {
        let mut out = String::new();
        for op in &self.ops {
            let line = match (shell, op) {
                (Shell::Bash | Shell::Zsh | Shell::Sh, op) => posix_line(op),
                (Shell::Fish, op) => fish_line(op),
                (Shell::Powershell, op) => powershell_line(op),
                (Shell::Cmd, op) => cmd_line(op)?,
            };
            out.push_str(&line);
            out.push('\n');
        }
        Ok(out)
    }
}

// POSIX sh, bash, zsh
// ===================
// 1. A single-quoted string is literal in every POSIX shell: no `$`, backtick,
//    backslash, `!` or glob is special inside it, and newlines are kept.
// 2. The only character that cannot appear inside is `'` itself, so it is
//    written as `'\''`: close the quote, an escaped quote, reopen.
// 3. `$'...'` is not used: it is not POSIX (dash prints it literally), and a
//    backslash-escaping scheme is what leaves the stray backslashes users of
//    other tools complain about.
// 4. History expansion (`!`) in interactive bash does not apply to text that
//    comes from `eval` or from a sourced file.
// 5. `export NAME='v'` on one line, not `NAME=v; export NAME`: one statement
//    per variable keeps a partial paste harmless and the output greppable.
fn posix_line(op: &Op) -> String {
    match op {
        Op::Set(name, value) => format!("export {name}={}", posix_quote(value)),
        Op::Unset(name) => format!("unset {name}"),
    }
}

/// A word as it can be typed into any of the shells: left bare when it is
/// made only of characters no shell treats specially, quoted for POSIX sh
/// otherwise (for the commands that hints suggest).
pub fn command_word(word: &str) -> String {
    let plain = !word.is_empty()
        && word
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./:=+,@".contains(c));
    if plain {
        word.to_owned()
    } else {
        posix_quote(word)
    }
}

fn posix_quote(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('\'');
    for c in value.chars() {
        if c == '\'' {
            out.push_str("'\\''");
        } else {
            out.push(c);
        }
    }
    out.push('\'');
    out
}

// fish
// ====
// 1. Inside fish single quotes only two escapes exist: `\\` and `\'`. Every
//    other character, newlines included, is literal, so those two are all
//    that must be escaped. A lone backslash that is not followed by `\` or `'`
//    would survive too, but escaping every backslash keeps the rule simple and
//    makes a trailing backslash safe.
// 2. `set -gx` makes a global, exported variable, which is what `export` does
//    in POSIX shells. A universal variable of the same name (set -U) is
//    shadowed, not modified.
// 3. `set -e -g` removes the global; it prints nothing when the variable is
//    absent, but its status is then 4, and `source` returns the status of
//    the last line: `; or true` keeps `--clear | source; and ...` working.
// 4. Output is loaded with `| source`, never `eval (...)`: command
//    substitution splits on newlines and would break multi-line values.
fn fish_line(op: &Op) -> String {
    match op {
        Op::Set(name, value) => format!("set -gx {name} {}", fish_quote(value)),
        Op::Unset(name) => format!("set -e -g {name}; or true"),
    }
}

fn fish_quote(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('\'');
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\'' => out.push_str("\\'"),
            c => out.push(c),
        }
    }
    out.push('\'');
    out
}

// PowerShell (Windows PowerShell 5.1 and PowerShell 7)
// ====================================================
// 1. `$Env:NAME = '...'` sets a real process environment variable, which child
//    processes such as aws.exe inherit. `Set-Variable` would only create a
//    PowerShell variable that no child process ever sees.
// 2. In a single-quoted (verbatim) string nothing is expanded: no `$`, no
//    backtick escapes, no subexpressions. The only special character is the
//    quote itself, doubled to be literal.
// 3. PowerShell treats the typographic quotes U+2018, U+2019, U+201A and U+201B
//    as single quotes too (they arrive by copy and paste), so each of them is
//    doubled as well; otherwise one of them would end the string early.
// 4. Newlines inside a verbatim string are kept; the tool's output goes
//    through `Out-String | Invoke-Expression`, which parses the whole text at
//    once, so a multi-line value stays one string.
// 5. Removal uses `Remove-Item -LiteralPath Env:NAME -ErrorAction Ignore`:
//    `-LiteralPath` keeps wildcard characters out of play and `Ignore` makes
//    removing an absent variable silent, and it does not touch `$Error`.
// 6. Assigning an empty string removes the variable in PowerShell, so an
//    empty value cannot be "set"; none of this tool's values is empty.
fn powershell_line(op: &Op) -> String {
    match op {
        Op::Set(name, value) => format!("$Env:{name} = {}", powershell_quote(value)),
        Op::Unset(name) => {
            format!("Remove-Item -LiteralPath Env:{name} -ErrorAction Ignore")
        }
    }
}

/// `value` as a PowerShell verbatim string: every single-quote character
/// (the ASCII one and U+2018..U+201B, which PowerShell reads as quotes too)
/// doubled.
pub(crate) fn powershell_quote(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('\'');
    for c in value.chars() {
        if matches!(c, '\'' | '\u{2018}' | '\u{2019}' | '\u{201A}' | '\u{201B}') {
            out.push(c);
        }
        out.push(c);
    }
    out.push('\'');
    out
}

// cmd.exe
// =======
// 1. `set "NAME=value"`: the quotes around the whole assignment keep `&`, `|`,
//    `<`, `>`, `^` and `(` `)` literal and keep trailing spaces out of the value.
// 2. cmd has no quoting that protects `%` (variable expansion, both in batch
//    files and at the prompt) or `!` (delayed expansion, when enabled), and a
//    `"` inside the value ends the quoted region. A line break cannot be part
//    of a value at all. Such values are refused rather than printed: a wrong
//    credential is worse than an error.
// 3. Each line starts with `@` so that a batch file with echo on does not
//    print the secret it sets.
// 4. `set "NAME="` removes a variable.
fn cmd_line(op: &Op) -> Result<String> {
    Ok(match op {
        Op::Set(name, value) => {
            // The character itself is not named: it is part of a secret.
            if value.chars().any(cmd_cannot_carry) {
                bail!(
                    "the value of {name} contains a character cmd.exe cannot carry (%, !, \" or a control character); use --shell powershell"
                );
            }
            format!("@set \"{name}={value}\"")
        }
        Op::Unset(name) => format!("@set \"{name}=\""),
    })
}

fn cmd_cannot_carry(c: char) -> bool {
    matches!(c, '%' | '!' | '"') || c.is_control()
}

#[cfg(test)]
/// PowerShell's tokenizer for a verbatim string, as its grammar states
/// it: the string opens and closes with any of the five single-quote
/// characters, and inside it two of them in a row stand for one.
pub(crate) fn powershell_unquote(quoted: &str) -> Option<String> {
    let is_quote = |c: char| matches!(c, '\'' | '\u{2018}' | '\u{2019}' | '\u{201A}' | '\u{201B}');
    let mut chars = quoted.chars().peekable();
    if !chars.next().is_some_and(is_quote) {
        return None;
    }
    let mut out = String::new();
    while let Some(c) = chars.next() {
        if is_quote(c) {
            match chars.peek() {
                Some(&next) if is_quote(next) => {
                    out.push(next);
                    chars.next();
                }
                // The closing quote must be the last character.
                _ => return chars.next().is_none().then_some(out),
            }
        } else {
            out.push(c);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Script {
        let mut s = Script::new();
        s.set("AWS_ACCESS_KEY_ID", "ASIAEXAMPLE")
            .set("AWS_SECRET_ACCESS_KEY", "se/cr+et=")
            .unset("AWS_SESSION_TOKEN");
        s
    }

    #[test]
    fn posix_exact() {
        let out = sample().render(Shell::Bash).unwrap();
        assert_eq!(
            out,
            "export AWS_ACCESS_KEY_ID='ASIAEXAMPLE'\n\
             export AWS_SECRET_ACCESS_KEY='se/cr+et='\n\
             unset AWS_SESSION_TOKEN\n"
        );
        assert_eq!(sample().render(Shell::Sh).unwrap(), out);
        assert_eq!(sample().render(Shell::Zsh).unwrap(), out);
    }

    #[test]
    fn fish_exact() {
        assert_eq!(
            sample().render(Shell::Fish).unwrap(),
            "set -gx AWS_ACCESS_KEY_ID 'ASIAEXAMPLE'\n\
             set -gx AWS_SECRET_ACCESS_KEY 'se/cr+et='\n\
             set -e -g AWS_SESSION_TOKEN; or true\n"
        );
    }

    #[test]
    fn powershell_exact() {
        assert_eq!(
            sample().render(Shell::Powershell).unwrap(),
            "$Env:AWS_ACCESS_KEY_ID = 'ASIAEXAMPLE'\n\
             $Env:AWS_SECRET_ACCESS_KEY = 'se/cr+et='\n\
             Remove-Item -LiteralPath Env:AWS_SESSION_TOKEN -ErrorAction Ignore\n"
        );
    }

    #[test]
    fn cmd_exact() {
        assert_eq!(
            sample().render(Shell::Cmd).unwrap(),
            "@set \"AWS_ACCESS_KEY_ID=ASIAEXAMPLE\"\n\
             @set \"AWS_SECRET_ACCESS_KEY=se/cr+et=\"\n\
             @set \"AWS_SESSION_TOKEN=\"\n"
        );
    }

    #[test]
    fn posix_quoting_of_hostile_values() {
        let cases = [
            ("", "''"),
            ("'", r"''\'''"),
            ("''", r"''\'''\'''"),
            ("a\\", "'a\\'"),
            ("$(id)", "'$(id)'"),
            ("`id`", "'`id`'"),
            ("!!", "'!!'"),
            ("*?[a]", "'*?[a]'"),
            ("a\nb", "'a\nb'"),
            ("-n", "'-n'"),
            ("\u{2019}", "'\u{2019}'"),
        ];
        for (value, quoted) in cases {
            assert_eq!(posix_quote(value), quoted, "value {value:?}");
        }
    }

    #[test]
    fn command_words() {
        assert_eq!(command_word("work"), "work");
        assert_eq!(
            command_word("arn:aws:iam::1:mfa/a.b@c"),
            "arn:aws:iam::1:mfa/a.b@c"
        );
        assert_eq!(command_word("my work"), "'my work'");
        assert_eq!(command_word("it's"), r"'it'\''s'");
        assert_eq!(command_word(""), "''");
    }

    #[test]
    fn fish_quoting_of_hostile_values() {
        let cases = [
            ("", "''"),
            ("'", r"'\''"),
            ("a\\", r"'a\\'"),
            (r"\'", r"'\\\''"),
            ("$(id)", "'$(id)'"),
            ("a\nb", "'a\nb'"),
        ];
        for (value, quoted) in cases {
            assert_eq!(fish_quote(value), quoted, "value {value:?}");
        }
    }

    #[test]
    fn powershell_quoting_of_hostile_values() {
        let cases = [
            ("", "''"),
            ("'", "''''"),
            ("it's", "'it''s'"),
            ("$Env:PATH", "'$Env:PATH'"),
            ("`n", "'`n'"),
            ("a\\", "'a\\'"),
            ("\u{2018}x\u{2019}", "'\u{2018}\u{2018}x\u{2019}\u{2019}'"),
            ("\u{201A}\u{201B}", "'\u{201A}\u{201A}\u{201B}\u{201B}'"),
            ("\u{201C}", "'\u{201C}'"),
            ("a\r\nb", "'a\r\nb'"),
        ];
        for (value, quoted) in cases {
            assert_eq!(powershell_quote(value), quoted, "value {value:?}");
        }
    }

    const HOSTILE: &[&str] = &[
        "",
        "'",
        "''",
        "trailing\\",
        "$(id)",
        "`id`",
        "!",
        "%PATH%",
        "*?[a]",
        "a\nb",
        "a\rb",
        "a\tb",
        "\u{1b}[0m",
        "é日🦀",
        "\u{2018}\u{2019}\u{201A}\u{201B}\u{201C}\u{201D}",
        "-n",
        "'\u{2019}'",
        "$Env:PATH",
        "@(1)",
        "${x}",
    ];

    #[test]
    fn powershell_output_decodes_to_the_value() {
        for value in HOSTILE {
            let quoted = powershell_quote(value);
            assert_eq!(
                powershell_unquote(&quoted).as_deref(),
                Some(*value),
                "{quoted}"
            );
        }
        // Every string of quote characters and letters, up to length 4.
        let alphabet = ['\'', '\u{2018}', '\u{2019}', '\u{201A}', '\u{201B}', 'a'];
        let mut values = vec![String::new()];
        for _ in 0..4 {
            values = values
                .iter()
                .flat_map(|v| alphabet.iter().map(move |c| format!("{v}{c}")))
                .collect();
            for value in &values {
                let quoted = powershell_quote(value);
                assert_eq!(
                    powershell_unquote(&quoted).as_deref(),
                    Some(value.as_str()),
                    "{quoted}"
                );
            }
        }
    }

    #[test]
    fn every_shell_keeps_hostile_values_on_their_line() {
        for value in HOSTILE {
            let mut s = Script::new();
            s.set("AWS_SESSION_TOKEN", *value);
            for shell in [Shell::Sh, Shell::Fish, Shell::Powershell] {
                let out = s.render(shell).unwrap();
                let expected_lines = value.matches('\n').count() + 1;
                assert_eq!(out.lines().count(), expected_lines, "{shell:?} {value:?}");
            }
        }
    }

    #[test]
    fn cmd_refuses_what_it_cannot_carry() {
        for bad in ["100%", "%PATH%", "hi!", "a\"b", "a\nb", "a\rb", "\u{1b}"] {
            let mut s = Script::new();
            s.set("AWS_SESSION_TOKEN", bad);
            let err = s.render(Shell::Cmd).unwrap_err().to_string();
            assert!(err.contains("AWS_SESSION_TOKEN"), "{err}");
            assert!(!err.contains(bad), "error must not echo the value: {err}");
        }
        let mut s = Script::new();
        s.set("AWS_SESSION_TOKEN", "a&b|c<d>e^f(g) 'h'");
        assert_eq!(
            s.render(Shell::Cmd).unwrap(),
            "@set \"AWS_SESSION_TOKEN=a&b|c<d>e^f(g) 'h'\"\n"
        );
    }
}
