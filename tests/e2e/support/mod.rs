//! The test harness: a real local AWS endpoint (moto), a sandbox HOME with
//! profile files, the built binary run with a clean environment, and real
//! shells to evaluate what it prints.
//!
//! moto is started once per test binary, on a free loopback port, from the
//! virtual environment that `tests/run` creates (`target/e2e-venv`, or
//! `MFA_SESSION_TEST_VENV`). Its request recorder is on, so tests can see
//! every request: which key signed it, with which session token, and how many
//! were made.
//!
//! A tool that is missing fails the test when `CI` is set; elsewhere the test
//! says on stderr that it skipped and returns.

#![allow(dead_code)]

mod fake;
mod moto;
mod sandbox;
mod shells;

pub use fake::*;
pub use moto::*;
pub use sandbox::*;
pub use shells::*;

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use base64::Engine as _;

/// The binary under test: this build's, or `MFA_SESSION_TEST_BIN` (to run
/// these tests against another build, such as the one before a fix, and see
/// them fail).
pub static BIN: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    std::env::var("MFA_SESSION_TEST_BIN")
        .unwrap_or_else(|_| env!("CARGO_BIN_EXE_mfa-session").to_owned())
});

/// Every variable the tool sets, in output order.
pub const VARS: [&str; 5] = [
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_SECURITY_TOKEN",
    "AWS_CREDENTIAL_EXPIRATION",
];

/// Skip (locally) or fail (in CI) when something the test needs is missing.
#[macro_export]
macro_rules! need {
    ($what:expr) => {
        match $what {
            Some(v) => v,
            None => return,
        }
    };
}

pub fn in_ci() -> bool {
    std::env::var_os("CI").is_some_and(|v| !v.is_empty() && v != "false")
}

/// Reports a missing tool: a failure in CI, a visible skip elsewhere.
pub fn missing(what: &str) -> Option<std::convert::Infallible> {
    if in_ci() {
        panic!("{what} is missing: run the suite through tests/run, which installs it");
    }
    eprintln!("SKIPPED: {what} is missing (run tests/run to install it)");
    None
}

/// Where `name` is on PATH, if anywhere.
pub fn find_on_path(name: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join(name))
            .find(|p| p.is_file())
    })
}

/// A program from PATH, or a skip/failure.
pub fn tool(name: &str) -> Option<PathBuf> {
    match find_on_path(name) {
        Some(path) => Some(path),
        None => {
            missing(name)?;
            None
        }
    }
}

pub fn venv() -> PathBuf {
    match std::env::var_os("MFA_SESSION_TEST_VENV") {
        Some(dir) => PathBuf::from(dir),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("target/e2e-venv"),
    }
}

/// The AWS CLI from the test virtual environment.
pub fn aws_cli() -> Option<PathBuf> {
    let path = venv().join("bin/aws");
    if path.is_file() {
        Some(path)
    } else {
        missing(&format!("the AWS CLI ({})", path.display()))?;
        None
    }
}

/// The user the tests run the binary as when file modes must count (root
/// reads any file whatever its mode): `nobody`.
pub const OTHER_UID: u32 = 65534;

pub fn am_root() -> bool {
    // SAFETY: geteuid cannot fail.
    unsafe { libc::geteuid() == 0 }
}

/// Gives `path` and everything below it to `uid`, so that a run as that
/// user can use a sandbox made by the tests (root).
pub fn chown_tree(path: &Path, uid: u32) {
    std::os::unix::fs::lchown(path, Some(uid), Some(uid)).unwrap();
    if std::fs::symlink_metadata(path).unwrap().is_dir() {
        for entry in std::fs::read_dir(path).unwrap() {
            chown_tree(&entry.unwrap().path(), uid);
        }
    }
}

/// Runs `command` as [`OTHER_UID`] (the tests run as root in CI); None,
/// with a skip or a failure, when they cannot switch users.
pub fn as_other_user(command: &mut Command) -> Option<()> {
    if !am_root() {
        missing("root, to run the binary as another user")?;
    }
    // std drops root's supplementary groups when it sets the uid.
    command.uid(OTHER_UID).gid(OTHER_UID);
    Some(())
}

/// Whether process `pid` is gone (or a zombie, past doing anything).
pub fn process_gone(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        Ok(stat) => {
            stat.rsplit(')')
                .next()
                .and_then(|rest| rest.split_whitespace().next())
                == Some("Z")
        }
    }
}

/// The children of process `pid` (Linux).
pub fn children_of(pid: u32) -> Vec<u32> {
    let mut children = Vec::new();
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return children;
    };
    for task in tasks.filter_map(|t| t.ok()) {
        if let Ok(text) = std::fs::read_to_string(task.path().join("children")) {
            children.extend(
                text.split_whitespace()
                    .filter_map(|p| p.parse::<u32>().ok()),
            );
        }
    }
    children
}
