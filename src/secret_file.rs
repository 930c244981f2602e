//! Files that hold secrets: the one writer and the one reader.
//!
//! Writing ([`update`] for the user's credentials file, [`replace`] for the
//! cache) always goes through a temporary file in the same directory that is
//! synced and then renamed over the target, so a reader sees the old file or
//! the new one, never half of either. Around that:
//! - the temporary file is created with mode 0600 and removed on every error
//!   path; SIGINT, SIGTERM, SIGHUP and SIGQUIT wait from its creation to the
//!   rename ([`crate::signals::Critical`], whichever thread they reach), so
//!   Ctrl-C cannot leave it behind either (only
//!   SIGKILL or a power cut can: then it is `.NAME.mfa-session-PID-*.tmp`,
//!   locked by its writer until the rename, and the next [`update`] of a file
//!   in that directory removes it once the writer is gone, whether it
//!   writes or not, as `forget --all` does);
//! - [`update`] resolves a chain of symbolic links and replaces the real file
//!   (a dotfiles link stays a link), keeps its mode and owner (a run as root
//!   with the user's HOME leaves the user's file the user's), refuses a
//!   target that is not a regular file or that has other hard links (a
//!   rename would silently split them), and holds an advisory lock on the
//!   file from read to rename, so two writers cannot lose each other's update;
//! - [`replace`] does not follow links: a link planted in the cache directory
//!   is replaced, never written through.
//!
//! Reading ([`read_private`]) opens without following links and without
//! blocking (a FIFO cannot hang it), and accepts only a regular file owned by
//! this user, with no group or other permission bits, up to a size cap.

use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

/// How many links [`update`] follows before it calls the chain a loop.
const MAX_LINKS: usize = 40;

/// Reads, edits and replaces the file at `path` (following links) under an
/// advisory lock. `edit` gets the current text (`None` when the file does not
/// exist yet) and returns the new contents, or `None` to leave the file as it
/// is. Returns the real file's path.
pub fn update(
    path: &Path,
    edit: impl FnOnce(Option<&str>) -> anyhow::Result<Option<Vec<u8>>>,
) -> anyhow::Result<PathBuf> {
    update_with(path, Holds::Settings, edit, |_| Ok(()))
}

/// [`update`] for contents with a secret key in them: a file other users
/// may read is made this user's alone (mode 600), said once per run.
pub fn update_secret(
    path: &Path,
    edit: impl FnOnce(Option<&str>) -> anyhow::Result<Option<Vec<u8>>>,
) -> anyhow::Result<PathBuf> {
    update_with(path, Holds::Secrets, edit, |_| Ok(()))
}

/// What the new contents of a file hold.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Holds {
    Settings,
    Secrets,
}

/// [`update`], with a step run on the finished temporary file just before
/// the rename (the tests make it fail).
fn update_with(
    path: &Path,
    holds: Holds,
    edit: impl FnOnce(Option<&str>) -> anyhow::Result<Option<Vec<u8>>>,
    before_rename: impl FnOnce(&File) -> io::Result<()>,
) -> anyhow::Result<PathBuf> {
    let target = resolve_links(path)?;
    let fail = |what: &str, e: io::Error| -> anyhow::Error {
        crate::error::Failure::new(format!(
            "cannot {what} {}: {}",
            target.display(),
            crate::error::io_reason(&e)
        ))
        .into()
    };
    if let Some(dir) = target.parent().filter(|d| !d.as_os_str().is_empty()) {
        fs::create_dir_all(dir).map_err(|e| fail("create the directory of", e))?;
    }
    let (locked, existed) = lock_regular_file(&target)?;
    // Every writer of this file holds its lock from before its temporary
    // copy exists until after the rename: under the lock, a copy left
    // beside it is a killed writer's, whatever its pid says (that process
    // may still be on its way out).
    remove_orphans_of(&target);
    let mut text = String::new();
    (&locked)
        .read_to_string(&mut text)
        .map_err(|e| fail("read", e))?;
    let Some(contents) = edit(existed.then_some(text.as_str()))? else {
        return Ok(target);
    };
    let meta = locked.metadata().map_err(|e| fail("read", e))?;
    let mode = if holds == Holds::Secrets {
        private_mode(&target, &meta)
    } else {
        None
    };
    write_and_rename(
        &target,
        &contents,
        Some(Keep { meta: &meta, mode }),
        Durable::Yes,
        before_rename,
    )
    .map_err(|e| fail("write", e))?;
    drop(locked);
    Ok(target)
}

/// The mode a file that is to hold secrets gets instead of its own, when
/// its own lets other users read it; said once per run.
#[cfg(unix)]
fn private_mode(target: &Path, meta: &fs::Metadata) -> Option<u32> {
    use std::os::unix::fs::MetadataExt;
    static SAID: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
    let mode = meta.mode() & 0o7777;
    if mode & 0o077 == 0 {
        return None;
    }
    if !SAID.swap(true, std::sync::atomic::Ordering::Relaxed) {
        crate::say(&format!(
            "made {} private (mode 600, was {:o}): it holds secret keys",
            target.display(),
            mode & 0o777
        ));
    }
    Some(mode & 0o7700)
}

#[cfg(not(unix))]
fn private_mode(_target: &Path, _meta: &fs::Metadata) -> Option<u32> {
    None
}

/// Removes the temporary copies of `target` that this user's killed
/// writers left; the caller holds `target`'s lock.
fn remove_orphans_of(target: &Path) {
    let (Some(dir), Some(name)) = (target.parent(), target.file_name()) else {
        return;
    };
    let dir = if dir.as_os_str().is_empty() {
        Path::new(".")
    } else {
        dir
    };
    let prefix = format!(".{}{TEMP_MARK}", name.to_string_lossy());
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.filter_map(|e| e.ok()) {
        let file_name = entry.file_name();
        let Some(name) = file_name.to_str() else {
            continue;
        };
        if !name.starts_with(&prefix) || temporary_pid(name).is_none() {
            continue;
        }
        let path = entry.path();
        if fs::symlink_metadata(&path).is_ok_and(|m| m.is_file() && owned_by_me(&m)) {
            let _ = fs::remove_file(&path);
        }
    }
}

/// What a replaced file keeps of the one it replaces: its owner, and its
/// mode unless another is given.
struct Keep<'a> {
    meta: &'a fs::Metadata,
    mode: Option<u32>,
}

/// Replaces `path` whole with `contents` (mode 0600), without following a
/// link at `path`: for files in a directory this tool owns.
pub fn replace(path: &Path, contents: &[u8]) -> io::Result<()> {
    write_and_rename(path, contents, None, Durable::Yes, |_| Ok(()))
}

/// [`replace`] for a file whose loss in a power cut costs nothing (a
/// record of spent codes): still atomic for every reader, not synced.
pub fn replace_volatile(path: &Path, contents: &[u8]) -> io::Result<()> {
    write_and_rename(path, contents, None, Durable::No, |_| Ok(()))
}

/// Whether a write must be on the disk before it counts.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Durable {
    Yes,
    No,
}

/// The file a chain of symbolic links ends at (which may not exist yet).
fn resolve_links(path: &Path) -> anyhow::Result<PathBuf> {
    let mut current = path.to_path_buf();
    for _ in 0..MAX_LINKS {
        match fs::symlink_metadata(&current) {
            Ok(meta) if meta.file_type().is_symlink() => {
                let next = fs::read_link(&current).map_err(|e| {
                    crate::error::Failure::new(format!(
                        "cannot follow the link {}: {}",
                        current.display(),
                        crate::error::io_reason(&e)
                    ))
                })?;
                current = match current.parent() {
                    Some(dir) if next.is_relative() => dir.join(next),
                    _ => next,
                };
            }
            _ => return Ok(current),
        }
    }
    Err(crate::error::Failure::new(format!(
        "cannot write {}: its symbolic links form a loop",
        path.display()
    ))
    .into())
}

/// Checks, before any request is made, that [`update`] could write `path`:
/// returns the real file behind its links.
pub fn check_target(path: &Path) -> anyhow::Result<PathBuf> {
    let target = resolve_links(path)?;
    match fs::symlink_metadata(&target) {
        Ok(meta) => check_kind(&target, &meta)?,
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => {
            return Err(crate::error::Failure::new(format!(
                "cannot use {}: {}",
                target.display(),
                crate::error::io_reason(&e)
            ))
            .into());
        }
    }
    Ok(target)
}

/// A regular file with no other hard links, or a refusal that says why.
fn check_kind(target: &Path, meta: &fs::Metadata) -> anyhow::Result<()> {
    let why = if !meta.is_file() {
        "it is not a regular file".to_owned()
    } else if links(meta) > 1 {
        format!(
            "it has {} hard links, and replacing it would split them",
            links(meta)
        )
    } else {
        return Ok(());
    };
    Err(crate::error::Failure::new(format!("will not write {}: {why}", target.display()))
        .hint("make it a regular file of its own (a symbolic link to one is fine), or point AWS_CONFIG_FILE or AWS_SHARED_CREDENTIALS_FILE at one")
        .into())
}

/// Opens (creating it empty, mode 0600, when it is missing) and locks the
/// regular file at `target`; retries when another writer replaced the file
/// while this one waited for the lock. Also says whether it existed.
fn lock_regular_file(target: &Path) -> anyhow::Result<(File, bool)> {
    let io_fail = |e: io::Error| -> anyhow::Error {
        crate::error::Failure::new(format!(
            "cannot open {}: {}",
            target.display(),
            crate::error::io_reason(&e)
        ))
        .into()
    };
    for _ in 0..100 {
        let existed = match fs::symlink_metadata(target) {
            Ok(meta) => {
                check_kind(target, &meta)?;
                true
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => false,
            Err(e) => return Err(io_fail(e)),
        };
        let file = crate::lock::open_or_create(target).map_err(io_fail)?;
        crate::lock::wait_for(&file, target, crate::lock::timeout()?)?;
        // Another writer may have renamed a new file into place while this
        // one waited: the lock is on the old one then.
        let now = fs::symlink_metadata(target).ok();
        let held = file.metadata().map_err(io_fail)?;
        if now.is_some_and(|now| same_file(&now, &held)) {
            return Ok((file, existed));
        }
    }
    Err(crate::error::Failure::new(format!(
        "will not write {}: it keeps being replaced by another program",
        target.display()
    ))
    .into())
}

fn write_and_rename(
    target: &Path,
    contents: &[u8],
    keep: Option<Keep>,
    durable: Durable,
    before_rename: impl FnOnce(&File) -> io::Result<()>,
) -> io::Result<()> {
    let dir = target
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = target
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    remove_stale_temporaries(dir);
    let _held = crate::signals::Critical::open();
    let mut temp = tempfile::Builder::new()
        .prefix(&format!(".{name}{TEMP_MARK}{}-", std::process::id()))
        .suffix(TEMP_SUFFIX)
        .tempfile_in(dir)?;
    // Held until the rename: a sweep by another run sees that its writer is
    // still at work.
    temp.as_file().lock()?;
    temp.write_all(contents)?;
    if let Some(keep) = keep {
        keep_mode_and_owner(temp.as_file(), keep.meta, keep.mode)?;
    }
    if durable == Durable::Yes {
        temp.as_file().sync_all()?;
    }
    pause_for_tests();
    before_rename(temp.as_file())?;
    // On failure the error hands the temporary file back; dropping it deletes it.
    temp.persist(target).map_err(|e| e.error)?;
    if durable == Durable::Yes
        && let Ok(dir) = File::open(dir)
    {
        let _ = dir.sync_all();
    }
    Ok(())
}

/// What every temporary file of this tool's has in its name:
/// `.NAME.mfa-session-PID-RANDOM.tmp`, beside the file NAME it replaces.
const TEMP_MARK: &str = ".mfa-session-";
const TEMP_SUFFIX: &str = ".tmp";

/// Longer than any run takes (the lock wait, a code command, the requests):
/// a temporary file this old has no writer left, whatever its pid says.
const STALE_AFTER: Duration = Duration::from_secs(15 * 60);

/// A run killed with SIGKILL (or a power cut) between the creation of a
/// temporary file and its rename leaves it behind, and it may hold every
/// key of the credentials file. Removes those of this user in `dir` whose
/// writer is gone: its lock is free and its process no longer runs, or it
/// is older than any run. Returns how many went.
pub fn remove_stale_temporaries(dir: &Path) -> usize {
    let Ok(entries) = fs::read_dir(dir) else {
        return 0;
    };
    let mut removed = 0;
    for entry in entries.filter_map(|e| e.ok()) {
        let name = entry.file_name();
        let Some(pid) = name.to_str().and_then(temporary_pid) else {
            continue;
        };
        let path = entry.path();
        let Ok(meta) = fs::symlink_metadata(&path) else {
            continue;
        };
        if !meta.is_file() || !owned_by_me(&meta) {
            continue;
        }
        let age = meta
            .modified()
            .ok()
            .and_then(|m| m.elapsed().ok())
            .unwrap_or_default();
        // Those of earlier versions name no pid: only their age tells.
        let gone = pid.is_some_and(|pid| !crate::lock::process_alive(pid));
        if !(gone || age > STALE_AFTER) {
            continue;
        }
        // The writer locks its file until the rename: a free lock means no
        // writer is left.
        if let Some(_unheld) = crate::lock::try_acquire(&path)
            && fs::remove_file(&path).is_ok()
        {
            removed += 1;
        }
    }
    removed
}

/// The writer's pid, if `name` is one of this tool's temporary files
/// (`Some(None)` for those of earlier versions, named without it).
fn temporary_pid(name: &str) -> Option<Option<u32>> {
    let rest = name.strip_prefix('.')?;
    let (_, tail) = rest.split_once(TEMP_MARK)?;
    if let Some(middle) = tail.strip_suffix(TEMP_SUFFIX) {
        let (pid, random) = middle.split_once('-')?;
        return (!random.is_empty()).then_some(Some(pid.parse().ok()?));
    }
    // Before 0.2: `.NAME.mfa-session-XXXXXX`, six random characters.
    (tail.len() == 6 && tail.chars().all(|c| c.is_ascii_alphanumeric())).then_some(None)
}

#[cfg(unix)]
fn owned_by_me(meta: &fs::Metadata) -> bool {
    use std::os::unix::fs::MetadataExt;
    // SAFETY: geteuid cannot fail and touches no memory.
    meta.uid() == unsafe { libc::geteuid() }
}

#[cfg(not(unix))]
fn owned_by_me(_meta: &fs::Metadata) -> bool {
    true
}

/// Debug builds only: `MFA_SESSION_TEST_PAUSE_BEFORE_RENAME=MS` holds a
/// finished temporary file that long, so that the tests can kill a run at
/// the moment it would leave one behind.
fn pause_for_tests() {
    #[cfg(debug_assertions)]
    if let Some(ms) = std::env::var("MFA_SESSION_TEST_PAUSE_BEFORE_RENAME")
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
    {
        std::thread::sleep(Duration::from_millis(ms));
    }
}

#[cfg(unix)]
fn keep_mode_and_owner(file: &File, meta: &fs::Metadata, mode: Option<u32>) -> io::Result<()> {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let mine = file.metadata()?;
    if (mine.uid(), mine.gid()) != (meta.uid(), meta.gid()) {
        std::os::unix::fs::fchown(file, Some(meta.uid()), Some(meta.gid()))?;
    }
    let mode = mode.unwrap_or(meta.mode() & 0o7777);
    file.set_permissions(fs::Permissions::from_mode(mode))
}

#[cfg(not(unix))]
fn keep_mode_and_owner(_file: &File, _meta: &fs::Metadata, _mode: Option<u32>) -> io::Result<()> {
    Ok(())
}

#[cfg(unix)]
fn links(meta: &fs::Metadata) -> u64 {
    std::os::unix::fs::MetadataExt::nlink(meta)
}

#[cfg(not(unix))]
fn links(_meta: &fs::Metadata) -> u64 {
    1
}

#[cfg(unix)]
fn same_file(a: &fs::Metadata, b: &fs::Metadata) -> bool {
    use std::os::unix::fs::MetadataExt;
    (a.dev(), a.ino()) == (b.dev(), b.ino())
}

#[cfg(not(unix))]
fn same_file(_a: &fs::Metadata, _b: &fs::Metadata) -> bool {
    true
}

/// Why a private file was not read.
#[derive(Debug, PartialEq, Eq)]
pub enum Unreadable {
    Absent,
    Refused(String),
}

/// The contents of a file this tool wrote for itself, if it is still only
/// this user's: a regular file, not a link, owned by this user, with no group
/// or other permission bits, and at most `cap` bytes.
#[cfg(all(test, unix))]
pub fn read_private(path: &Path, cap: u64) -> Result<Vec<u8>, Unreadable> {
    read_private_dated(path, cap).map(|(bytes, _)| bytes)
}

/// [`read_private`], with the time the file was last written.
pub fn read_private_dated(path: &Path, cap: u64) -> Result<(Vec<u8>, SystemTime), Unreadable> {
    let mut options = fs::OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK);
    }
    let file = match options.open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Err(Unreadable::Absent),
        #[cfg(unix)]
        Err(e) if e.raw_os_error() == Some(libc::ELOOP) => {
            return Err(Unreadable::Refused("it is a symbolic link".to_owned()));
        }
        Err(e) => return Err(Unreadable::Refused(crate::error::io_reason(&e))),
    };
    let meta = file
        .metadata()
        .map_err(|e| Unreadable::Refused(crate::error::io_reason(&e)))?;
    if !meta.is_file() {
        return Err(Unreadable::Refused("it is not a regular file".to_owned()));
    }
    check_private(&meta).map_err(|why| Unreadable::Refused(why.to_string()))?;
    if meta.len() > cap {
        return Err(Unreadable::Refused(format!(
            "it is larger than {cap} bytes"
        )));
    }
    let mut bytes = Vec::new();
    file.take(cap + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| Unreadable::Refused(crate::error::io_reason(&e)))?;
    if bytes.len() as u64 > cap {
        return Err(Unreadable::Refused(format!(
            "it is larger than {cap} bytes"
        )));
    }
    let modified = meta.modified().unwrap_or_else(|_| SystemTime::now());
    Ok((bytes, modified))
}

/// Why a file or directory is not this user's alone.
#[derive(Debug, PartialEq, Eq)]
#[cfg_attr(
    not(unix),
    allow(
        dead_code,
        reason = "on Windows a file under the profile is private by its ACL"
    )
)]
pub enum NotPrivate {
    /// Owned by another user.
    Owner { owner: u32, me: u32 },
    /// Ours, but group or other permission bits are set.
    Mode(u32),
}

impl std::fmt::Display for NotPrivate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            NotPrivate::Owner { owner, me } => {
                write!(f, "it is owned by user {owner}, not by this user ({me})")
            }
            NotPrivate::Mode(mode) => write!(
                f,
                "other users may use it (mode {:o}; 600 or 700 expected)",
                mode & 0o777
            ),
        }
    }
}

/// Whether a file or directory is this user's alone: owned by the effective
/// user, no permission bits for group or others.
#[cfg(unix)]
pub fn check_private(meta: &fs::Metadata) -> Result<(), NotPrivate> {
    use std::os::unix::fs::MetadataExt;
    // SAFETY: geteuid cannot fail and touches no memory.
    let me = unsafe { libc::geteuid() };
    private_reason(meta.uid(), meta.mode(), me).map_or(Ok(()), Err)
}

#[cfg(not(unix))]
pub fn check_private(_meta: &fs::Metadata) -> Result<(), NotPrivate> {
    Ok(())
}

/// Why a file with this owner and mode is not private to `me`, if it is not.
#[cfg_attr(
    not(unix),
    allow(
        dead_code,
        reason = "on Windows a file under the profile is private by its ACL"
    )
)]
pub fn private_reason(owner: u32, mode: u32, me: u32) -> Option<NotPrivate> {
    if owner != me {
        return Some(NotPrivate::Owner { owner, me });
    }
    if mode & 0o077 != 0 {
        return Some(NotPrivate::Mode(mode));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    #[test]
    fn a_failure_before_the_rename_leaves_no_temporary_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("credentials");
        fs::write(&path, "[a]\nx = 1\n").unwrap();
        let err = update_with(
            &path,
            Holds::Secrets,
            |_| Ok(Some(b"[a]\naws_secret_access_key = SECRET\n".to_vec())),
            |_| Err(io::Error::other("injected")),
        )
        .unwrap_err();
        assert!(err.to_string().contains("injected"), "{err}");
        assert_eq!(names(dir.path()), ["credentials"]);
        assert_eq!(fs::read_to_string(&path).unwrap(), "[a]\nx = 1\n");
        // An edit that fails leaves nothing either.
        let err = update(&path, |_| anyhow::bail!("no")).unwrap_err();
        assert_eq!(err.to_string(), "no");
        assert_eq!(names(dir.path()), ["credentials"]);
    }

    #[test]
    fn temporary_files_are_named_after_their_writer() {
        assert_eq!(
            temporary_pid(".credentials.mfa-session-4242-a1B2c3.tmp"),
            Some(Some(4242))
        );
        assert_eq!(temporary_pid(".credentials.mfa-session-a1B2c3"), Some(None));
        for other in [
            "credentials",
            ".credentials.mfa-session-.tmp",
            ".credentials.mfa-session-x-abc.tmp",
            ".credentials.mfa-session-42-.tmp",
            ".credentials.swp",
            "credentials.mfa-session-42-abc.tmp",
        ] {
            assert_eq!(temporary_pid(other), None, "{other}");
        }
    }

    #[cfg(unix)]
    #[test]
    fn only_the_temporaries_of_gone_writers_are_swept() {
        let dir = tempfile::tempdir().unwrap();
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let dead = child.id();
        child.wait().unwrap();
        let gone = dir
            .path()
            .join(format!(".credentials.mfa-session-{dead}-abcdef.tmp"));
        fs::write(&gone, "aws_secret_access_key = SECRET\n").unwrap();
        // This process's own: still at work.
        let mine = dir.path().join(format!(
            ".credentials.mfa-session-{}-abcdef.tmp",
            std::process::id()
        ));
        fs::write(&mine, "x").unwrap();
        // A dead writer's file that something still holds locked.
        let locked = dir
            .path()
            .join(format!(".config.mfa-session-{dead}-abcdef.tmp"));
        fs::write(&locked, "x").unwrap();
        let holder = File::open(&locked).unwrap();
        holder.lock().unwrap();
        // An earlier version's, young: its writer may be at work.
        fs::write(dir.path().join(".credentials.mfa-session-Xy12Zq"), "x").unwrap();
        fs::write(dir.path().join("credentials"), "[a]\n").unwrap();
        assert_eq!(remove_stale_temporaries(dir.path()), 1);
        assert!(!gone.exists());
        let mut left = names(dir.path());
        left.sort();
        assert_eq!(left.len(), 4, "{left:?}");
        drop(holder);
        assert_eq!(remove_stale_temporaries(dir.path()), 1);
        // The next write sweeps too, and leaves only its target.
        fs::remove_file(&mine).unwrap();
        replace(&dir.path().join("credentials"), b"[b]\n").unwrap();
        assert_eq!(
            names(dir.path()),
            [".credentials.mfa-session-Xy12Zq", "credentials"]
        );
    }

    #[test]
    fn update_creates_a_missing_file_and_passes_none() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/credentials");
        let mut seen = Some("x".to_owned());
        update(&path, |text| {
            seen = text.map(str::to_owned);
            Ok(Some(b"new\n".to_vec()))
        })
        .unwrap();
        assert_eq!(seen, None);
        assert_eq!(fs::read_to_string(&path).unwrap(), "new\n");
    }

    #[cfg(unix)]
    #[test]
    fn links_are_followed_and_mode_is_kept() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir(dir.path().join("dotfiles")).unwrap();
        let real = dir.path().join("dotfiles/aws");
        fs::write(&real, "old\n").unwrap();
        fs::set_permissions(&real, fs::Permissions::from_mode(0o640)).unwrap();
        std::os::unix::fs::symlink("dotfiles/aws", dir.path().join("middle")).unwrap();
        let link = dir.path().join("credentials");
        std::os::unix::fs::symlink(dir.path().join("middle"), &link).unwrap();
        let written = update(&link, |old| {
            assert_eq!(old, Some("old\n"));
            Ok(Some(b"new\n".to_vec()))
        })
        .unwrap();
        assert_eq!(written, dir.path().join("dotfiles/aws"));
        assert!(
            fs::symlink_metadata(&link)
                .unwrap()
                .file_type()
                .is_symlink()
        );
        assert_eq!(fs::read_to_string(&real).unwrap(), "new\n");
        assert_eq!(
            fs::metadata(&real).unwrap().permissions().mode() & 0o777,
            0o640
        );
        assert_eq!(names(&dir.path().join("dotfiles")), ["aws"]);
    }

    #[cfg(unix)]
    #[test]
    fn loops_hard_links_and_special_files_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a");
        std::os::unix::fs::symlink("b", &a).unwrap();
        std::os::unix::fs::symlink("a", dir.path().join("b")).unwrap();
        let err = update(&a, |_| Ok(Some(Vec::new()))).unwrap_err();
        assert!(err.to_string().contains("loop"), "{err}");

        let file = dir.path().join("file");
        fs::write(&file, "x").unwrap();
        fs::hard_link(&file, dir.path().join("other")).unwrap();
        let err = update(&file, |_| Ok(Some(Vec::new()))).unwrap_err();
        assert!(err.to_string().contains("2 hard links"), "{err}");

        let null = dir.path().join("null");
        std::os::unix::fs::symlink("/dev/null", &null).unwrap();
        let err = update(&null, |_| Ok(Some(Vec::new()))).unwrap_err();
        assert!(err.to_string().contains("not a regular file"), "{err}");
        assert!(
            fs::symlink_metadata(&null)
                .unwrap()
                .file_type()
                .is_symlink()
        );
    }

    #[cfg(unix)]
    #[test]
    fn private_files_only() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        replace(&path, b"12345").unwrap();
        assert_eq!(
            fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o600
        );
        assert_eq!(read_private(&path, 5).unwrap(), b"12345");
        assert!(
            matches!(read_private(&path, 4), Err(Unreadable::Refused(r)) if r.contains("larger"))
        );
        fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
        assert!(
            matches!(read_private(&path, 9), Err(Unreadable::Refused(r)) if r.contains("mode 644"))
        );
        let link = dir.path().join("link");
        std::os::unix::fs::symlink("/dev/zero", &link).unwrap();
        assert_eq!(
            read_private(&link, 9),
            Err(Unreadable::Refused("it is a symbolic link".to_owned()))
        );
        let fifo = dir.path().join("fifo");
        let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
        // SAFETY: a valid path string.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        assert_eq!(
            read_private(&fifo, 9),
            Err(Unreadable::Refused("it is not a regular file".to_owned()))
        );
        assert_eq!(
            read_private(&dir.path().join("none"), 9),
            Err(Unreadable::Absent)
        );
        // A planted link is replaced, not written through.
        replace(&link, b"mine").unwrap();
        assert!(fs::symlink_metadata(&link).unwrap().is_file());
    }

    #[test]
    fn ownership_rules() {
        assert_eq!(private_reason(1000, 0o100600, 1000), None);
        assert_eq!(private_reason(1000, 0o40700, 1000), None);
        let owner = private_reason(0, 0o100600, 1000).unwrap();
        assert_eq!(owner, NotPrivate::Owner { owner: 0, me: 1000 });
        assert!(owner.to_string().contains("owned by user 0"), "{owner}");
        let mode = private_reason(1000, 0o100640, 1000).unwrap();
        assert!(mode.to_string().contains("mode 640"), "{mode}");
        assert!(private_reason(1000, 0o40701, 1000).is_some());
    }
}
