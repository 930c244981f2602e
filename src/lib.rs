//! mfa-session: turn a long-term AWS access key and an MFA code into a
//! temporary session, printed as shell code for `eval`.
//!
//! The binary (`main.rs`) is a thin shell around this library. Public are
//! only what it and the integration tests use: the commands and the
//! command line, errors, the shell renderers (driven by the tests with
//! values AWS would never send) and the session's variables; the rest is
//! the crate's own, so that the compiler finds what nothing uses.

pub(crate) mod aws;
pub(crate) mod cache;
pub(crate) mod chain;
pub mod cli;
pub(crate) mod cli_cache;
pub mod cmd;
pub(crate) mod code_command;
pub(crate) mod config_file;
pub(crate) mod connection;
pub(crate) mod credentials_file;
pub(crate) mod dialog;

pub mod error;

pub mod hardening;
pub(crate) mod input;
pub(crate) mod key_age;
pub(crate) mod key_store;
pub(crate) mod limits;
pub(crate) mod lock;
pub(crate) mod obtain;
pub(crate) mod origin;
pub(crate) mod plan;
pub(crate) mod profile;
pub(crate) mod program;
pub(crate) mod prompt;
pub(crate) mod renewal;
pub(crate) mod request;
pub(crate) mod secret_file;
pub(crate) mod server;
pub mod session;
pub mod shell;
pub mod signals;
pub(crate) mod spent;

use std::io::Write;

/// One line for the user on stderr, prefixed with the tool's name.
pub fn say(line: &str) {
    let line = error::one_line(line);
    let _ = writeln!(std::io::stderr(), "mfa-session: {line}");
}
