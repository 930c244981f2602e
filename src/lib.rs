//! mfa-session: turn a long-term AWS access key and an MFA code into a
//! temporary session, printed as shell code for `eval`.
//!
//! The binary (`main.rs`) is a thin shell around this library; the modules
//! are public so that the integration tests can drive the pure parts (shell
//! rendering above all) with values AWS would never send.

pub mod aws;
pub mod cache;
pub mod chain;
pub mod cli;
pub mod cmd;
pub mod code_command;
pub mod config_file;
pub mod credentials_file;
pub mod dialog;
pub mod enroll;
pub mod error;
pub mod exec;
pub mod hardening;
pub mod init;
pub mod input;
pub mod key_age;
pub mod lock;
pub mod obtain;
pub mod plan;
pub mod profile;
pub mod prompt;
pub mod secret_file;
pub mod server;
pub mod session;
pub mod shell;
pub mod spent;

use std::io::Write;

/// One line for the user on stderr, prefixed with the tool's name.
pub fn say(line: &str) {
    let line = error::one_line(line);
    let _ = writeln!(std::io::stderr(), "mfa-session: {line}");
}
