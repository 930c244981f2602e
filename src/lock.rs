//! Advisory locks between mfa-session processes.
//!
//! Terraform runs a `credential_process` for each provider at once, an IDE
//! and a shell refresh together: without a lock each of them would spend
//! the same MFA code, and AWS accepts a code once. Around "look in the cache,
//! get a code, send the request, store the answer" the caller holds a lock on
//! a file beside the cache entry; whoever waited looks in the cache again
//! and finds what the first one stored.
//!
//! The locks are the operating system's (`flock` on Unix, `LockFileEx` on
//! Windows, through `std::fs::File::lock`): they end with the process that
//! holds them, so a run killed with SIGKILL never blocks the next one. A
//! waiter gives up after a bound (`MFA_SESSION_LOCK_TIMEOUT`, 2 minutes by
//! default: about as long as a person takes at a prompt), never waits
//! forever, and says once on stderr what it waits for.

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::Result;

use crate::error::{Failure, io_reason};

/// How long a caller waits for another one by default.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(120);

static SAID: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// A held lock; released when dropped (or when the process ends).
#[derive(Debug)]
pub struct Held {
    _file: File,
    #[cfg_attr(not(test), allow(dead_code, reason = "read by the tests"))]
    pub path: PathBuf,
    /// Whether another process held it when this one asked.
    #[cfg_attr(not(test), allow(dead_code, reason = "read by the tests"))]
    pub waited: bool,
}

/// How long to wait: `MFA_SESSION_LOCK_TIMEOUT`, else [`DEFAULT_TIMEOUT`].
pub fn timeout() -> Result<Duration> {
    match std::env::var("MFA_SESSION_LOCK_TIMEOUT") {
        Ok(text) if !text.trim().is_empty() => crate::input::parse_duration(&text).map_err(|e| {
            Failure::usage(format!("MFA_SESSION_LOCK_TIMEOUT: {e}"))
                .hint("set it to a duration, such as 2m or 30")
                .into()
        }),
        _ => Ok(DEFAULT_TIMEOUT),
    }
}

/// Takes the lock at `path` (created, mode 0600, when missing), waiting up
/// to `wait` for another holder; `what` says in messages what the holder is
/// doing ("the MFA session of profile 'work'").
pub fn acquire(path: &Path, what: &str, wait: Duration) -> Result<Held> {
    take(path, what, wait, true)
}

/// [`acquire`] for a lock that is only ever held for a moment: nothing is
/// said while waiting for it.
pub fn acquire_quietly(path: &Path, what: &str, wait: Duration) -> Result<Held> {
    take(path, what, wait, false)
}

fn take(path: &Path, what: &str, wait: Duration, announce: bool) -> Result<Held> {
    let fail = |e: io::Error| -> anyhow::Error {
        Failure::new(format!("cannot lock {}: {}", path.display(), io_reason(&e)))
            .hint("pass --no-cache, or set MFA_SESSION_CACHE_DIR to a writable directory")
            .into()
    };
    let started = Instant::now();
    let deadline = started + wait;
    let mut waited = false;
    let mut file = open(path).map_err(fail)?;
    loop {
        match file.try_lock() {
            Ok(()) => {
                // `forget --all` may have removed the file while this one
                // waited on it: then the lock is on a file nobody else sees.
                if still_there(path, &file) {
                    let _ = file.set_len(0);
                    let _ = writeln!(file, "{}", std::process::id());
                    return Ok(Held {
                        _file: file,
                        path: path.to_owned(),
                        waited,
                    });
                }
                file = open(path).map_err(fail)?;
            }
            Err(fs::TryLockError::WouldBlock) => {
                let holder = holder(path);
                if !waited {
                    waited = true;
                }
                // Once per run, however many layers it waits for; with the
                // holder's pid, which it writes a moment after it locks.
                let known = holder.is_some() || started.elapsed() > Duration::from_millis(200);
                // Threads of one server wait for each other without a word.
                let own = holder == Some(std::process::id());
                if announce
                    && known
                    && !own
                    && !SAID.swap(true, std::sync::atomic::Ordering::Relaxed)
                {
                    let pid = holder.map(|p| format!(" (pid {p})")).unwrap_or_default();
                    crate::say(&format!(
                        "waiting for another mfa-session{pid} to get {what} (up to {})",
                        crate::input::format_duration(wait)
                    ));
                }
                if Instant::now() >= deadline {
                    let pid = holder.map(|p| format!(" (pid {p})")).unwrap_or_default();
                    return Err(Failure::new(format!(
                        "gave up after {} waiting for another mfa-session{pid} to get {what}",
                        crate::input::format_duration(wait)
                    ))
                    .tag(crate::error::Tag::Busy)
                    .hint(format!(
                        "finish or stop the other run (it may be waiting for a code), then try again; MFA_SESSION_LOCK_TIMEOUT sets how long to wait; the lock is {}",
                        path.display()
                    ))
                    .into());
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            Err(fs::TryLockError::Error(e)) => return Err(fail(e)),
        }
    }
}

/// Locks `file` (the file at `path`, which others lock to edit it: a
/// profile file), waiting up to `wait` for another holder and saying once
/// what it waits for, as [`acquire`] does.
pub fn wait_for(file: &File, path: &Path, wait: Duration) -> Result<()> {
    let started = Instant::now();
    let mut said = false;
    loop {
        match file.try_lock() {
            Ok(()) => return Ok(()),
            Err(fs::TryLockError::WouldBlock) => {
                if started.elapsed() >= wait {
                    return Err(Failure::new(format!(
                        "gave up after {} waiting for another program to finish with {}",
                        crate::input::format_duration(wait),
                        path.display()
                    ))
                    .tag(crate::error::Tag::Busy)
                    .hint("finish or stop the other program (another mfa-session may be waiting for a code), then try again; MFA_SESSION_LOCK_TIMEOUT sets how long to wait")
                    .into());
                }
                if !said && started.elapsed() > Duration::from_millis(200) {
                    said = true;
                    crate::say(&format!(
                        "waiting for another program to finish with {} (up to {})",
                        path.display(),
                        crate::input::format_duration(wait)
                    ));
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            Err(fs::TryLockError::Error(e)) => {
                return Err(Failure::new(format!(
                    "cannot lock {}: {}",
                    path.display(),
                    io_reason(&e)
                ))
                .into());
            }
        }
    }
}

/// Takes the lock at `path` only if nobody holds it: for cleaning up.
pub fn try_acquire(path: &Path) -> Option<File> {
    let file = open_existing(path).ok()?;
    file.try_lock().ok()?;
    Some(file)
}

fn open(path: &Path) -> io::Result<File> {
    open_or_create(path)
}

fn open_existing(path: &Path) -> io::Result<File> {
    let mut options = fs::OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK);
    }
    options.open(path)
}

/// The pid the holder wrote into the lock file, if it did.
fn holder(path: &Path) -> Option<u32> {
    let text = fs::read_to_string(path).ok()?;
    text.trim().parse().ok()
}

#[cfg(unix)]
fn still_there(path: &Path, file: &File) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (fs::symlink_metadata(path), file.metadata()) {
        (Ok(now), Ok(held)) => (now.dev(), now.ino()) == (held.dev(), held.ino()),
        _ => false,
    }
}

#[cfg(not(unix))]
fn still_there(path: &Path, _file: &File) -> bool {
    path.exists()
}

/// Whether the process `pid` still runs. A zombie (killed, not yet
/// reaped by its parent) does not: it can write nothing any more.
#[cfg(unix)]
pub fn process_alive(pid: u32) -> bool {
    let Ok(pid) = libc::pid_t::try_from(pid) else {
        return false;
    };
    if pid <= 0 {
        return false;
    }
    // SAFETY: signal 0 only checks that the process exists.
    let result = unsafe { libc::kill(pid, 0) };
    let exists = result == 0 || io::Error::last_os_error().raw_os_error() == Some(libc::EPERM);
    exists && !zombie(pid)
}

/// Linux: the state field of /proc/PID/stat (after the command name in
/// parentheses) is `Z` for a zombie. Elsewhere: not known, so not one.
#[cfg(unix)]
fn zombie(pid: libc::pid_t) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|stat| {
            let after = &stat[stat.rfind(')')? + 1..];
            after.split_whitespace().next().map(|state| state == "Z")
        })
        .unwrap_or(false)
}

#[cfg(not(unix))]
pub fn process_alive(_pid: u32) -> bool {
    // Unknown: the caller falls back to the file's age.
    true
}

/// Opens `path` for reading and writing, creating it with mode 0600 when
/// it is missing, without following a link and without blocking on a FIFO.
pub fn open_or_create(path: &Path) -> io::Result<File> {
    let mut options = fs::OpenOptions::new();
    options.read(true).write(true).create(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options
            .mode(0o600)
            .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK);
    }
    options.open(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_holder_waits_and_gives_up_at_the_bound() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.lock");
        let first = acquire(&path, "a test", Duration::from_secs(1)).unwrap();
        assert!(!first.waited);
        assert_eq!(holder(&path), Some(std::process::id()));
        let started = Instant::now();
        let err = acquire(&path, "a test", Duration::from_secs(1)).unwrap_err();
        assert!(started.elapsed() >= Duration::from_secs(1));
        let text = err.to_string();
        assert!(
            text.starts_with("gave up after 1s waiting for another mfa-session (pid "),
            "{text}"
        );
        assert!(crate::error::Failure::is(&err, crate::error::Tag::Busy));
        assert!(try_acquire(&path).is_none());
        drop(first);
        let again = acquire(&path, "a test", Duration::from_secs(1)).unwrap();
        assert!(!again.waited);
    }

    #[test]
    fn a_lock_released_while_waiting_is_taken() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.lock");
        let first = acquire(&path, "a test", Duration::from_secs(1)).unwrap();
        let releaser = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(200));
            drop(first);
        });
        let second = acquire(&path, "a test", Duration::from_secs(5)).unwrap();
        assert!(second.waited);
        releaser.join().unwrap();
    }

    #[test]
    fn a_removed_lock_file_is_made_again() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.lock");
        drop(acquire(&path, "a test", Duration::from_secs(1)).unwrap());
        let unheld = try_acquire(&path).unwrap();
        fs::remove_file(&path).unwrap();
        drop(unheld);
        let held = acquire(&path, "a test", Duration::from_secs(1)).unwrap();
        assert!(path.exists());
        drop(held);
    }

    #[cfg(unix)]
    #[test]
    fn this_process_is_alive_and_a_reaped_child_is_not() {
        assert!(process_alive(std::process::id()));
        // A child that exited and is not yet reaped is a zombie: not alive.
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let zombie_pid = child.id();
        std::thread::sleep(Duration::from_millis(200));
        assert!(!process_alive(zombie_pid));
        child.wait().unwrap();
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let pid = child.id();
        child.wait().unwrap();
        assert!(!process_alive(pid));
    }
}
