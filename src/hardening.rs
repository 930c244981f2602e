//! Keeping secrets out of core dumps, and out of files other users can read.
//!
//! A crash would otherwise write the process's memory, with the long-term
//! secret key and the session in it, to a core file (or to a crash reporter
//! such as systemd-coredump). At start the soft core-size limit is set to 0
//! and, on Linux, the process is marked not dumpable (which also keeps other
//! processes of the same user from reading its memory through ptrace or
//! /proc). `exec` gives the command the limit the user had.

#[cfg(unix)]
mod unix {
    use std::sync::OnceLock;

    static ORIGINAL_CORE_LIMIT: OnceLock<libc::rlimit> = OnceLock::new();

    pub fn no_core_dumps() {
        // SAFETY: getrlimit/setrlimit/prctl read and write only the structs
        // passed; a failure leaves the limits as they were.
        unsafe {
            let mut limit: libc::rlimit = std::mem::zeroed();
            if libc::getrlimit(libc::RLIMIT_CORE, &mut limit) == 0 {
                let _ = ORIGINAL_CORE_LIMIT.set(limit);
                let none = libc::rlimit {
                    rlim_cur: 0,
                    rlim_max: limit.rlim_max,
                };
                libc::setrlimit(libc::RLIMIT_CORE, &none);
            }
            #[cfg(target_os = "linux")]
            libc::prctl(libc::PR_SET_DUMPABLE, 0, 0, 0, 0);
        }
    }

    /// Puts the user's core-size limit back in the process about to be
    /// replaced by `exec` (the dumpable flag is reset by execve itself).
    pub fn restore_core_limit() {
        if let Some(limit) = ORIGINAL_CORE_LIMIT.get() {
            // SAFETY: as above.
            unsafe {
                libc::setrlimit(libc::RLIMIT_CORE, limit);
            }
        }
    }
}

#[cfg(unix)]
pub use unix::{no_core_dumps, restore_core_limit};

#[cfg(not(unix))]
pub fn no_core_dumps() {}

#[cfg(not(unix))]
pub fn restore_core_limit() {}

/// What stdout is, for output that holds a secret.
#[derive(Debug, PartialEq, Eq)]
pub enum Stdout {
    /// A pipe (`eval "$(...)"`, `| source`), a socket or a device.
    Stream,
    Terminal,
    /// A regular file, now this user's alone.
    File,
}

/// Keeps a secret written to stdout from other local users: a regular file
/// (`mfa-session default > creds.sh`) gets mode 0600 when it had more
/// (quietly: it is the file the user asked for, made fit for what it gets);
/// a file another user owns (and so can read whatever its mode) is refused.
/// Called before any code is spent. `what` names the secret for messages.
pub fn private_stdout(what: &str) -> anyhow::Result<Stdout> {
    if std::io::IsTerminal::is_terminal(&std::io::stdout()) {
        return Ok(Stdout::Terminal);
    }
    private_file_stdout(what)
}

#[cfg(unix)]
fn private_file_stdout(what: &str) -> anyhow::Result<Stdout> {
    // SAFETY: fstat fills a zeroed struct for descriptor 1; geteuid cannot fail.
    let (meta, me) = unsafe {
        let mut meta: libc::stat = std::mem::zeroed();
        if libc::fstat(1, &mut meta) != 0 {
            return Ok(Stdout::Stream);
        }
        (meta, libc::geteuid())
    };
    if meta.st_mode & libc::S_IFMT != libc::S_IFREG {
        return Ok(Stdout::Stream);
    }
    let name = std::fs::read_link("/proc/self/fd/1")
        .map(|p| p.display().to_string())
        .unwrap_or_else(|_| "the file stdout goes to".to_owned());
    if meta.st_uid != me {
        return Err(crate::error::Failure::new(format!(
            "will not write {what} into {name}: it belongs to user {}, who could read it",
            meta.st_uid
        ))
        .hint("write it to a file of your own, or to a pipe")
        .into());
    }
    #[allow(clippy::useless_conversion, reason = "st_mode is u16 on macOS")]
    let mode = u32::from(meta.st_mode) & 0o7777;
    if mode & 0o077 != 0 {
        // SAFETY: changes the mode of our own descriptor.
        if unsafe { libc::fchmod(1, 0o600) } != 0 {
            let e = std::io::Error::last_os_error();
            return Err(crate::error::Failure::new(format!(
                "will not write {what} into {name}: other users may read it (mode {:o}) and it cannot be made private: {}",
                mode & 0o777,
                crate::error::io_reason(&e)
            ))
            .into());
        }
    }
    Ok(Stdout::File)
}

#[cfg(not(unix))]
fn private_file_stdout(_what: &str) -> anyhow::Result<Stdout> {
    // Files under the user's profile are the user's by their ACL.
    Ok(Stdout::Stream)
}
