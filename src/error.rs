//! Errors a user sees, and the exit codes that go with them.
//!
//! Every error reaches `main` as an `anyhow::Error`. Somewhere in its chain
//! there may be a [`Failure`], which carries the exit code and an optional
//! `hint:` line; anything else is an ordinary failure (exit 1).

use std::any::Any;
use std::fmt;
use std::process::ExitCode;

/// The exit codes mfa-session documents (README, `--help`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exit {
    Success = 0,
    Failure = 1,
    Usage = 2,
    /// `exec`: the command exists but cannot be run.
    CannotRun = 126,
    /// `exec`: the command was not found.
    NotFound = 127,
    Interrupted = 130,
}

impl From<Exit> for ExitCode {
    fn from(exit: Exit) -> ExitCode {
        ExitCode::from(exit as u8)
    }
}

/// An error with an exit code and perhaps a hint that says what to do.
#[derive(Debug)]
pub struct Failure {
    message: String,
    hint: Option<String>,
    exit: Exit,
    tag: Option<Tag>,
    /// A typed kind a lower layer attaches (the AWS module's `AwsError`),
    /// for callers that react to it: [`Failure::kind`].
    kind: Option<Box<dyn Any + Send + Sync>>,
    /// What the command prints on stdout although it failed (`doctor`'s
    /// report), written by `main` like any output.
    output: Option<String>,
}

/// What kind of local failure this is, for callers that react to one kind
/// (AWS's kinds are the AWS module's `AwsError`, attached with
/// [`Failure::with_kind`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tag {
    /// Another mfa-session held a lock for longer than this one waits.
    Busy,
    /// A question had to be asked, and there is no terminal.
    NoTerminal,
    /// The profile named is in neither profile file.
    NoSuchProfile,
}

impl Failure {
    pub fn new(message: impl Into<String>) -> Failure {
        Failure {
            message: message.into(),
            hint: None,
            exit: Exit::Failure,
            tag: None,
            kind: None,
            output: None,
        }
    }

    /// A failure with a chosen exit code.
    pub fn with_exit(message: impl Into<String>, exit: Exit) -> Failure {
        Failure {
            exit,
            ..Failure::new(message)
        }
    }

    pub fn tag(mut self, tag: Tag) -> Failure {
        self.tag = Some(tag);
        self
    }

    pub fn with_kind<K: Any + Send + Sync>(mut self, kind: K) -> Failure {
        self.kind = Some(Box::new(kind));
        self
    }

    /// The kind of type `K` of the first failure in `err`'s chain that has
    /// one.
    pub fn kind<K: Any + Clone>(err: &anyhow::Error) -> Option<K> {
        err.chain()
            .filter_map(|e| e.downcast_ref::<Failure>())
            .find_map(|f| f.kind.as_ref()?.downcast_ref::<K>().cloned())
    }

    /// Whether `err` has a failure tagged `tag` in its chain.
    pub fn is(err: &anyhow::Error, tag: Tag) -> bool {
        err.chain()
            .filter_map(|e| e.downcast_ref::<Failure>())
            .any(|f| f.tag == Some(tag))
    }

    /// A mistake in the command line: exit code 2.
    pub fn usage(message: impl Into<String>) -> Failure {
        Failure {
            exit: Exit::Usage,
            ..Failure::new(message)
        }
    }

    /// The user stopped the tool at a prompt: exit code 130.
    pub fn interrupted() -> Failure {
        Failure {
            exit: Exit::Interrupted,
            ..Failure::new("interrupted")
        }
    }

    /// Output that goes to stdout all the same, before the error.
    pub fn output(mut self, output: String) -> Failure {
        self.output = Some(output);
        self
    }

    pub fn hint(mut self, hint: impl Into<String>) -> Failure {
        self.hint = Some(hint.into());
        self
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Failure {}

/// What `main` prints for an error and the code it exits with.
pub struct Report {
    pub line: String,
    pub hint: Option<String>,
    pub exit: Exit,
    pub output: Option<String>,
}

impl Report {
    pub fn new(err: &anyhow::Error) -> Report {
        let failure = err.chain().find_map(|e| e.downcast_ref::<Failure>());
        // One line, whatever the causes contain: a multi-line message from a
        // library would break the "one line on stderr" promise and scripts
        // that read it.
        let line = one_line(&format!("{err:#}"));
        Report {
            line,
            hint: failure.and_then(|f| f.hint.as_deref().map(one_line)),
            exit: failure.map_or(Exit::Failure, |f| f.exit),
            output: failure.and_then(|f| f.output.clone()),
        }
    }
}

/// An io::Error's message without the "(os error N)" noise, lowercased to
/// fit in the middle of a sentence.
pub fn io_reason(e: &std::io::Error) -> String {
    let text = e.to_string();
    match text.find(" (os error") {
        Some(i) => text[..i].to_lowercase(),
        None => text.to_lowercase(),
    }
}

/// The text on one line, and with no control character left: a message
/// that quotes a file or an answer must not put escape sequences on the
/// terminal.
pub fn one_line(text: &str) -> String {
    let words = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if !words.chars().any(char::is_control) {
        return words;
    }
    words
        .chars()
        .map(|c| {
            if c.is_control() {
                c.escape_unicode().to_string()
            } else {
                c.to_string()
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use anyhow::Context;

    #[test]
    fn report_finds_hint_and_exit_code_through_context() {
        let err = Err::<(), _>(Failure::usage("bad code").hint("type six digits"))
            .context("reading the code")
            .unwrap_err();
        let report = Report::new(&err);
        assert_eq!(report.line, "reading the code: bad code");
        assert_eq!(report.hint.as_deref(), Some("type six digits"));
        assert_eq!(report.exit, Exit::Usage);
    }

    #[test]
    fn control_characters_never_reach_the_terminal() {
        let err = anyhow::anyhow!("caller is arn:aws:iam::1:user/a\u{1b}]0;pwned\u{7}\tx");
        let report = Report::new(&err);
        assert_eq!(
            report.line,
            "caller is arn:aws:iam::1:user/a\\u{1b}]0;pwned\\u{7} x"
        );
    }

    #[test]
    fn plain_errors_are_failures_on_one_line() {
        let err = anyhow::anyhow!("first\nsecond");
        let report = Report::new(&err);
        assert_eq!(report.line, "first second");
        assert_eq!(report.hint, None);
        assert_eq!(report.exit, Exit::Failure);
    }
}
