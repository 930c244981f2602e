//! Keeping secrets out of core dumps.
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
