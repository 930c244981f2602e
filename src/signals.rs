//! The signals that end a process politely (SIGINT, SIGTERM, SIGHUP,
//! SIGQUIT), handled on one thread.
//!
//! Why: a temporary copy of the credentials file holds every key in it
//! until it is renamed into place, and a signal that ends the process in
//! between leaves it behind. Holding signals back in the writing thread is
//! not enough: the kernel hands a process-wide signal to any thread that
//! does not block it, such as a tokio worker that resolves a host name.
//!
//! So [`init`], first thing in `main` and before any thread exists, blocks
//! them in the main thread (every thread started later inherits the mask)
//! and starts one thread that waits for them with `sigwait`. That thread
//! decides what a signal does:
//! - by default it ends the process the way the signal would have, but
//!   first waits until no [`Critical`] section (a secret file between its
//!   creation and its rename) is open;
//! - while a prompt is open ([`PromptGuard`]), SIGINT goes to the prompting
//!   thread, which unblocks it for that time and reads it as a cancel;
//! - under `exec --server` ([`forward_to_child`]), SIGTERM and SIGHUP go to
//!   the command and SIGINT and SIGQUIT are the command's alone.
//!
//! A signal the process was started with ignored (`nohup`, a background job
//! of a script) stays ignored. Every child process is made with [`command`],
//! which empties the mask between fork and exec (a child inherits it, and
//! the standard library leaves it as it is).

#[cfg(unix)]
mod unix {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::{Condvar, Mutex};

    const HANDLED: [libc::c_int; 4] = [libc::SIGINT, libc::SIGTERM, libc::SIGHUP, libc::SIGQUIT];

    /// Whether the signal thread runs (not in unit tests, which never call
    /// `init`).
    static STARTED: AtomicBool = AtomicBool::new(false);

    /// How many secret files are between creation and rename.
    static OPEN: Mutex<usize> = Mutex::new(0);
    static CLOSED: Condvar = Condvar::new();
    /// Set when a signal waits for the open files to close: the thread
    /// that closes the last one then waits for the end too, instead of
    /// going on (and perhaps exiting 0 before the signal can end it).
    static ENDING: AtomicBool = AtomicBool::new(false);

    /// What the signal thread does besides ending the process.
    #[derive(Clone, Copy)]
    enum Mode {
        Default,
        /// SIGINT to this thread, where a prompt reads (its `pthread_t`,
        /// kept as a number: it is a pointer on musl, which no static may
        /// hold).
        Prompt(usize),
        /// SIGTERM and SIGHUP to this process (0: not started yet).
        Forward(libc::pid_t),
    }

    static MODE: Mutex<Mode> = Mutex::new(Mode::Default);

    fn set_of(signals: &[libc::c_int]) -> libc::sigset_t {
        // SAFETY: the set is initialised by sigemptyset before use.
        unsafe {
            let mut set: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut set);
            for &signal in signals {
                libc::sigaddset(&mut set, signal);
            }
            set
        }
    }

    fn ignored(signal: libc::c_int) -> bool {
        // SAFETY: queries the disposition into a zeroed struct.
        unsafe {
            let mut current: libc::sigaction = std::mem::zeroed();
            libc::sigaction(signal, std::ptr::null(), &mut current) == 0
                && current.sa_sigaction == libc::SIG_IGN
        }
    }

    pub fn init() {
        let handled: Vec<libc::c_int> = HANDLED.into_iter().filter(|&s| !ignored(s)).collect();
        let set = set_of(&handled);
        // SAFETY: blocks signals in this (the only) thread.
        unsafe {
            libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
        }
        let started = std::thread::Builder::new()
            .name("signals".to_owned())
            .spawn(move || {
                loop {
                    let mut signal: libc::c_int = 0;
                    // SAFETY: waits for one of the blocked signals.
                    if unsafe { libc::sigwait(&set, &mut signal) } == 0 {
                        on_signal(signal);
                    }
                }
            });
        match started {
            Ok(_) => STARTED.store(true, Ordering::SeqCst),
            // No thread: the signals act as they did before `init`.
            Err(_) => unsafe {
                // SAFETY: unblocks what was blocked above.
                libc::pthread_sigmask(libc::SIG_UNBLOCK, &set, std::ptr::null_mut());
            },
        }
    }

    fn on_signal(signal: libc::c_int) {
        let mode = MODE.lock().map(|m| *m).unwrap_or(Mode::Default);
        match mode {
            Mode::Prompt(thread) if signal == libc::SIGINT => {
                // SAFETY: the prompting thread is alive while it is
                // registered (PromptGuard clears it before it ends).
                unsafe {
                    libc::pthread_kill(thread as libc::pthread_t, libc::SIGINT);
                }
            }
            Mode::Forward(child) if child > 0 => {
                if matches!(signal, libc::SIGTERM | libc::SIGHUP) {
                    // SAFETY: kill touches no memory.
                    unsafe {
                        libc::kill(child, signal);
                    }
                }
            }
            _ => end_by(signal),
        }
    }

    /// Ends the process as `signal` would have, once no secret file is open.
    fn end_by(signal: libc::c_int) -> ! {
        ENDING.store(true, Ordering::SeqCst);
        if let Ok(open) = OPEN.lock() {
            // Held from here on: no new secret file starts.
            if let Ok(open) = CLOSED.wait_while(open, |open| *open > 0) {
                std::mem::forget(open);
            }
        }
        // SAFETY: the default disposition, unblocked in this thread, then
        // the signal sent to this thread: the process ends as the signal
        // says (and its parent sees which signal it was).
        unsafe {
            libc::signal(signal, libc::SIG_DFL);
            let set = set_of(&[signal]);
            libc::pthread_sigmask(libc::SIG_UNBLOCK, &set, std::ptr::null_mut());
            libc::raise(signal);
        }
        std::process::exit(128 + signal)
    }

    /// While alive, a signal waits for the section to close.
    pub struct Critical(());

    impl Critical {
        pub fn open() -> Critical {
            if let Ok(mut open) = OPEN.lock() {
                *open += 1;
            }
            Critical(())
        }
    }

    impl Drop for Critical {
        fn drop(&mut self) {
            if let Ok(mut open) = OPEN.lock() {
                *open -= 1;
                CLOSED.notify_all();
            }
            while ENDING.load(Ordering::SeqCst) {
                std::thread::park();
            }
        }
    }

    /// While alive, SIGINT reaches the thread that made it (unblocked
    /// there), whose own handler reads it as a cancel.
    pub struct PromptGuard {
        previous: Option<Mode>,
    }

    impl PromptGuard {
        pub fn open() -> PromptGuard {
            // SAFETY: pthread_self cannot fail; the mask is this thread's.
            let me = unsafe {
                let set = set_of(&[libc::SIGINT]);
                libc::pthread_sigmask(libc::SIG_UNBLOCK, &set, std::ptr::null_mut());
                libc::pthread_self() as usize
            };
            let previous = MODE
                .lock()
                .ok()
                .map(|mut mode| std::mem::replace(&mut *mode, Mode::Prompt(me)));
            PromptGuard { previous }
        }
    }

    impl Drop for PromptGuard {
        fn drop(&mut self) {
            if let (Some(previous), Ok(mut mode)) = (self.previous, MODE.lock()) {
                *mode = previous;
            }
            if STARTED.load(Ordering::SeqCst) {
                // SAFETY: blocks SIGINT in this thread again.
                unsafe {
                    let set = set_of(&[libc::SIGINT]);
                    libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
                }
            }
        }
    }

    /// Starts the child with `spawn`, with SIGTERM and SIGHUP passed on to it
    /// from then on and SIGINT and SIGQUIT left to it. The mode is held
    /// while the child starts: a signal that comes meanwhile waits and then
    /// reaches the child, so none can end this process and orphan it.
    pub fn forward_to_child<T>(
        spawn: impl FnOnce() -> std::io::Result<(T, u32)>,
    ) -> std::io::Result<T> {
        let Ok(mut mode) = MODE.lock() else {
            return spawn().map(|(t, _)| t);
        };
        let (child, pid) = spawn()?;
        *mode = Mode::Forward(libc::pid_t::try_from(pid).unwrap_or(0));
        Ok(child)
    }
}

#[cfg(unix)]
pub use unix::{Critical, PromptGuard, forward_to_child, init};

/// A command to run, which starts with no signal blocked: the way every
/// child process of this tool is made.
pub fn command(program: impl AsRef<std::ffi::OsStr>) -> std::process::Command {
    #[allow(unused_mut, reason = "changed on Unix only")]
    let mut command = std::process::Command::new(program);
    #[cfg(unix)]
    {
        use std::os::unix::process::CommandExt;
        // SAFETY: sigemptyset and sigprocmask are async-signal-safe.
        unsafe {
            command.pre_exec(|| {
                let mut none: libc::sigset_t = std::mem::zeroed();
                libc::sigemptyset(&mut none);
                libc::sigprocmask(libc::SIG_SETMASK, &none, std::ptr::null_mut());
                Ok(())
            });
        }
    }
    command
}

#[cfg(not(unix))]
mod other {
    /// Console control events end the process on Windows; there is no
    /// signal thread.
    pub fn init() {}

    pub struct Critical(());

    impl Critical {
        pub fn open() -> Critical {
            Critical(())
        }
    }

    pub struct PromptGuard;

    impl PromptGuard {
        pub fn open() -> PromptGuard {
            PromptGuard
        }
    }

    pub fn forward_to_child<T>(
        spawn: impl FnOnce() -> std::io::Result<(T, u32)>,
    ) -> std::io::Result<T> {
        spawn().map(|(t, _)| t)
    }
}

#[cfg(not(unix))]
pub use other::{Critical, PromptGuard, forward_to_child, init};
