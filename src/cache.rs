//! Sessions and MFA devices kept across terminals.
//!
//! One directory (mode 0700) under the user's cache directory, or
//! `MFA_SESSION_CACHE_DIR`, holds one JSON file (mode 0600) per session and
//! one per remembered device. A file is named after a SHA-256 of what it
//! belongs to, so a different profile, long-term key, MFA device or endpoint
//! never gets another's session; the same fields are stored inside and
//! checked on every read, so a foreign or hand-edited file is never used.
//!
//! Writes go through [`crate::secret_file::replace`] (temporary file, rename,
//! nothing left behind); reads through [`crate::secret_file::read_private`]:
//! only regular files of this user's, with no group or other permission
//! bits, never through a link, at most 64 KiB. The directory itself must be
//! this user's: one owned by another user is not used at all (its files
//! could be an attacker's session, announced as the user's own). A file that
//! cannot be read, parsed or trusted is reported as a warning and replaced by
//! the next write; it never stops the tool.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use anyhow::Result;
use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::Failure;
use crate::error::io_reason;
use crate::secret_file::{NotPrivate, Unreadable};
use crate::session::Session;
use crate::spent::SpentCode;

const FORMAT: u32 = 1;

/// The largest cache file read; real ones are under 4 KiB.
const MAX_FILE: u64 = 64 * 1024;

/// What a cached session or a remembered device belongs to.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Owner {
    pub profile: String,
    /// The long-term access key id (not secret; the secret is never stored).
    pub access_key_id: String,
    /// The endpoint the session came from ("" for AWS's own).
    pub endpoint: String,
}

/// A session in the cache, with what it belongs to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CachedSession {
    pub owner: Owner,
    pub serial: String,
    pub user_name: Option<String>,
    pub session: Session,
    /// The duration asked for, in seconds: an explicit `--duration` reuses
    /// only a session that was asked for with the same one.
    pub requested_seconds: Option<u64>,
}

#[derive(Serialize, Deserialize)]
struct SessionFile {
    format: u32,
    #[serde(flatten)]
    owner: Owner,
    serial: String,
    user_name: Option<String>,
    #[serde(flatten)]
    session: StoredSession,
    #[serde(default)]
    requested_seconds: Option<u64>,
}

/// A session's credentials as the cache files hold them.
#[derive(Serialize, Deserialize)]
struct StoredSession {
    access_key_id_session: String,
    secret_access_key: String,
    session_token: String,
    expiration: String,
}

impl StoredSession {
    fn of(session: &Session) -> StoredSession {
        StoredSession {
            access_key_id_session: session.access_key_id.clone(),
            secret_access_key: session.secret_access_key.clone(),
            session_token: session.session_token.clone(),
            expiration: session.expiration_rfc3339(),
        }
    }

    /// The session, if it could be real: its expiration is a date, and no
    /// later than the longest session AWS grants after the file was written.
    fn into_session(self, written: SystemTime) -> Result<Session, String> {
        let expiration = check_expiration(&self.expiration, written)?;
        Ok(Session {
            expiration,
            access_key_id: self.access_key_id_session.clone(),
            secret_access_key: self.secret_access_key.clone(),
            session_token: self.session_token.clone(),
        })
    }
}

/// The expiration of a cached session, or what is wrong with it.
fn check_expiration(text: &str, written: SystemTime) -> Result<Timestamp, String> {
    let shown = if plain_text(text) && text.len() <= 64 {
        format!("'{text}'")
    } else {
        "in the file".to_owned()
    };
    let expiration: Timestamp = text.parse().map_err(|e: jiff::Error| {
        // jiff reads only 4-digit years, and says of a longer one only that
        // a digit was expected where a fifth came.
        let digits = text.trim_start_matches(['+', '-']);
        let year = digits.split('-').next().unwrap_or_default();
        if year.len() > 4 && year.chars().all(|c| c.is_ascii_digit()) {
            format!(
                "its expiration {shown} is out of range: the year has {} digits, and dates end with 9999",
                year.len()
            )
        } else {
            format!("its expiration {shown} is not a date: {e}")
        }
    })?;
    let written = Timestamp::try_from(written)
        .map_err(|e| format!("it was written at a time out of range: {e}"))?;
    let longest = jiff::SignedDuration::from_secs(crate::limits::MAX_SESSION.as_secs() as i64);
    let latest = written.checked_add(longest).unwrap_or(Timestamp::MAX);
    if expiration > latest {
        return Err(format!(
            "its expiration {shown} is more than 36 hours after the file was written ({}), and no AWS session lasts longer",
            crate::session::rfc3339(written)
        ));
    }
    Ok(expiration)
}

/// A section of the credentials file that `--write-profile` filled, so that
/// `forget` can empty it again.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WrittenSection {
    pub profile: String,
    pub path: PathBuf,
    pub section: String,
    /// The session's access key id, to recognise it (not secret).
    pub access_key_id: String,
    /// Those of sessions the section may still hold: the record is written
    /// before the section, so a run killed in between leaves the one before.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub earlier_access_key_ids: Vec<String>,
    /// For a role profile: the root profile whose MFA session it came
    /// from, so that `forget ROOT` takes it out too.
    #[serde(default)]
    pub root_profile: Option<String>,
}

#[derive(Serialize, Deserialize)]
struct WrittenFile {
    format: u32,
    #[serde(flatten)]
    written: WrittenSection,
}

/// What a role session belongs to: the root of the chain (whose MFA session
/// signed, or whose key signed with `--direct`) and every role from the
/// root up to this one. Two profiles that differ in any of it never share.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoleOwner {
    pub root: Owner,
    /// The profile this role session is for.
    pub profile: String,
    pub hops: Vec<RoleLink>,
    pub direct: bool,
    /// The MFA device named for the chain (flag or `mfa_serial`), if one
    /// was: an explicit device is served only by a session obtained with it.
    #[serde(default)]
    pub device: Option<String>,
}

/// One role in a chain: what AssumeRole was asked with.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoleLink {
    pub role_arn: String,
    /// The configured `role_session_name` ("" when the default was used).
    pub session_name: String,
    pub external_id: String,
    /// Where AssumeRole was sent ("" for AWS's own).
    pub endpoint: String,
}

/// A cached role session.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CachedRole {
    pub owner: RoleOwner,
    pub assumed_role_arn: String,
    pub session: Session,
    pub requested_seconds: Option<u64>,
}

#[derive(Serialize, Deserialize)]
struct RoleFile {
    format: u32,
    /// The profile, for `forget PROFILE`.
    profile: String,
    /// The root profile, for `forget ROOT`.
    root_profile: String,
    owner: RoleOwner,
    assumed_role_arn: String,
    #[serde(flatten)]
    session: StoredSession,
    requested_seconds: Option<u64>,
}

#[derive(Serialize, Deserialize)]
struct SpentFile {
    format: u32,
    serial: String,
    /// The codes sent for the device that AWS may still take.
    codes: Vec<SpentCode>,
}

/// Which file a cache entry is, and since when: another write replaces it
/// with a new file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Stamp {
    id: (u64, u64),
    modified: Option<SystemTime>,
}

fn stamp(path: &Path) -> Option<Stamp> {
    let meta = fs::symlink_metadata(path).ok()?;
    #[cfg(unix)]
    let id = {
        use std::os::unix::fs::MetadataExt;
        (meta.dev(), meta.ino())
    };
    #[cfg(not(unix))]
    let id = (meta.len(), 0);
    Some(Stamp {
        id,
        modified: meta.modified().ok(),
    })
}

/// The name of a role layer's files, without the extension.
fn role_stem(owner: &RoleOwner) -> String {
    let mut hasher = Sha256::new();
    let text = serde_json::to_string(owner).unwrap_or_default();
    hasher.update(text.as_bytes());
    let digest: String = hasher
        .finalize()
        .iter()
        .take(8)
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("role-{}-{digest}", file_safe(&owner.profile))
}

#[derive(Serialize, Deserialize)]
struct DeviceFile {
    format: u32,
    #[serde(flatten)]
    owner: Owner,
    serial: String,
    user_name: Option<String>,
}

/// A remembered MFA device.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RememberedDevice {
    pub serial: String,
    pub user_name: Option<String>,
}

pub struct SessionCache {
    dir: PathBuf,
    /// The folder that must exist already: only the cache's own folders
    /// below it are created (a HOME that does not exist is not made).
    base: Option<PathBuf>,
}

impl SessionCache {
    /// `MFA_SESSION_CACHE_DIR`, else `mfa-session` in the platform's cache
    /// directory (`$XDG_CACHE_HOME` or `~/.cache` on Linux).
    ///
    /// A directory that exists must be this user's; one that is, but that
    /// other users may read, is made private first.
    pub fn locate() -> Result<SessionCache> {
        let (dir, base) = match std::env::var_os("MFA_SESSION_CACHE_DIR").filter(|d| !d.is_empty())
        {
            Some(dir) => {
                let dir = PathBuf::from(dir);
                let base = dir.parent().map(Path::to_path_buf);
                (dir, base)
            }
            None => match dirs::cache_dir() {
                // The XDG base directory is made with its missing parents
                // (0700), as the spec says; HOME never is.
                Some(base) => {
                    let home = dirs::home_dir().filter(|h| base.starts_with(h));
                    (base.join("mfa-session"), home)
                }
                None => {
                    return Err(
                        Failure::new("cannot find a cache directory (HOME is not set)")
                            .hint("set MFA_SESSION_CACHE_DIR, or pass --no-cache")
                            .into(),
                    );
                }
            },
        };
        check_dir(&dir)?;
        Ok(SessionCache { dir, base })
    }

    #[cfg(test)]
    pub fn at(dir: impl Into<PathBuf>) -> SessionCache {
        SessionCache {
            dir: dir.into(),
            base: None,
        }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn session_path(&self, owner: &Owner, serial: &str) -> PathBuf {
        self.dir.join(format!(
            "session-{}-{}.json",
            file_safe(&owner.profile),
            digest(owner, Some(serial))
        ))
    }

    fn device_path(&self, owner: &Owner) -> PathBuf {
        self.dir.join(format!(
            "device-{}-{}.json",
            file_safe(&owner.profile),
            digest(owner, None)
        ))
    }

    fn written_path(&self, written: &WrittenSection) -> PathBuf {
        let owner = Owner {
            profile: written.profile.clone(),
            access_key_id: String::new(),
            endpoint: written.path.to_string_lossy().into_owned(),
        };
        self.dir.join(format!(
            "written-{}-{}.json",
            file_safe(&written.profile),
            digest(&owner, Some(&written.section))
        ))
    }

    /// Records a section that `--write-profile` filled.
    pub fn remember_written(&self, written: &WrittenSection) -> Result<()> {
        let file = WrittenFile {
            format: FORMAT,
            written: written.clone(),
        };
        self.write_json(&self.written_path(written), &file)
    }

    /// The record of the section `written` names, if there is one.
    pub fn written_before(&self, written: &WrittenSection) -> Option<WrittenSection> {
        read_json::<WrittenFile>(&self.written_path(written))
            .ok()
            .filter(|f| f.format == FORMAT)
            .map(|f| f.written)
    }

    /// Drops the record of a section `--write-profile` filled.
    pub fn forget_written(&self, written: &WrittenSection) -> Result<()> {
        let path = self.written_path(written);
        match fs::remove_file(&path) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(Failure::new(format!(
                "cannot delete {}: {}",
                path.display(),
                io_reason(&e)
            ))
            .into()),
            _ => Ok(()),
        }
    }

    /// The sections `--write-profile` filled for `profile`, or for all.
    pub fn written(&self, profile: Option<&str>) -> Vec<WrittenSection> {
        self.files("written-")
            .into_iter()
            .filter_map(|path| read_json::<WrittenFile>(&path).ok())
            .filter(|f| f.format == FORMAT)
            .map(|f| f.written)
            .filter(|w| {
                profile.is_none_or(|p| w.profile == p || w.root_profile.as_deref() == Some(p))
            })
            .collect()
    }

    /// The cached session for `owner` and `serial`, if there is a readable one.
    pub fn session(&self, owner: &Owner, serial: &str) -> Option<CachedSession> {
        let path = self.session_path(owner, serial);
        let cached = read_json_dated::<SessionFile>(&path).and_then(|(file, written)| {
            let cached = file.into_cached(written).map_err(Miss::Bad)?;
            if cached.owner != *owner || cached.serial != serial {
                return Err("it belongs to another profile, key or device".into());
            }
            if !plain_text(&cached.session.access_key_id)
                || cached
                    .user_name
                    .as_deref()
                    .is_some_and(|u| !valid_user_name(u))
            {
                return Err("it holds values no AWS answer has".into());
            }
            Ok(cached)
        });
        found(&path, cached)
    }

    pub fn store_session(&self, cached: &CachedSession) -> Result<()> {
        let file = SessionFile {
            format: FORMAT,
            owner: cached.owner.clone(),
            serial: cached.serial.clone(),
            user_name: cached.user_name.clone(),
            session: StoredSession::of(&cached.session),
            requested_seconds: cached.requested_seconds,
        };
        self.write_json(&self.session_path(&cached.owner, &cached.serial), &file)
    }

    pub fn device(&self, owner: &Owner) -> Option<RememberedDevice> {
        let path = self.device_path(owner);
        let device = read_json::<DeviceFile>(&path).and_then(|file| {
            if file.format != FORMAT || file.owner != *owner {
                return Err("it belongs to another profile or key".into());
            }
            // The serial and name are shown in prompts and messages: a planted
            // file must not put escape sequences on the user's terminal.
            if crate::input::check_serial(&file.serial).is_err()
                || file
                    .user_name
                    .as_deref()
                    .is_some_and(|u| !valid_user_name(u))
            {
                return Err("it holds a device serial or user name AWS would not send".into());
            }
            Ok(RememberedDevice {
                serial: file.serial,
                user_name: file.user_name,
            })
        });
        found(&path, device)
    }

    pub fn remember_device(&self, owner: &Owner, device: &RememberedDevice) -> Result<()> {
        let file = DeviceFile {
            format: FORMAT,
            owner: owner.clone(),
            serial: device.serial.clone(),
            user_name: device.user_name.clone(),
        };
        self.write_json(&self.device_path(owner), &file)
    }

    pub fn forget_device(&self, owner: &Owner) {
        let _ = fs::remove_file(self.device_path(owner));
    }

    fn role_path(&self, owner: &RoleOwner) -> PathBuf {
        self.dir.join(format!("{}.json", role_stem(owner)))
    }

    /// Holds the lock of the MFA session of `owner` (whatever the device:
    /// the device may be what the first caller finds out), waiting for
    /// another mfa-session that holds it.
    pub fn lock_mfa(&self, owner: &Owner, wait: Duration) -> Result<crate::lock::Held> {
        self.ensure_dir()?;
        let path = self.dir.join(format!(
            "mfa-{}-{}.lock",
            file_safe(&owner.profile),
            digest(owner, None)
        ));
        let what = format!("the MFA session of profile '{}'", owner.profile);
        crate::lock::acquire(&path, &what, wait)
    }

    /// Holds the lock of one role layer.
    pub fn lock_role(&self, owner: &RoleOwner, wait: Duration) -> Result<crate::lock::Held> {
        self.ensure_dir()?;
        let path = self.dir.join(format!("{}.lock", role_stem(owner)));
        let what = format!("the role session of profile '{}'", owner.profile);
        crate::lock::acquire(&path, &what, wait)
    }

    /// What the session file of `owner` and `serial` is now: a later look
    /// that finds another one knows it was stored in between.
    pub fn session_stamp(&self, owner: &Owner, serial: &str) -> Option<Stamp> {
        stamp(&self.session_path(owner, serial))
    }

    pub fn role_stamp(&self, owner: &RoleOwner) -> Option<Stamp> {
        stamp(&self.role_path(owner))
    }

    fn spent_path(&self, serial: &str, extension: &str) -> PathBuf {
        let owner = Owner {
            profile: String::new(),
            access_key_id: String::new(),
            endpoint: String::new(),
        };
        self.dir
            .join(format!("code-{}.{extension}", digest(&owner, Some(serial))))
    }

    /// Holds the lock of the spent-code record of a device.
    pub fn lock_spent(&self, serial: &str, wait: Duration) -> Result<crate::lock::Held> {
        self.ensure_dir()?;
        let what = format!("a session with the MFA device {serial}");
        crate::lock::acquire_quietly(&self.spent_path(serial, "lock"), &what, wait)
    }

    /// The codes recently sent for a device (while AWS may take them).
    pub fn spent_codes(&self, serial: &str) -> Vec<SpentCode> {
        let path = self.spent_path(serial, "json");
        let spent = read_json::<SpentFile>(&path).and_then(|file| {
            if file.format != FORMAT
                || file.serial != serial
                || file.codes.iter().any(|c| c.serial != serial)
            {
                return Err("it belongs to another MFA device".into());
            }
            Ok(file.codes)
        });
        found(&path, spent).unwrap_or_default()
    }

    /// Adds a code sent (the caller holds the device's lock); codes of
    /// steps long past go.
    pub fn store_spent_code(&self, spent: &SpentCode) -> Result<()> {
        let mut codes = self.spent_codes(&spent.serial);
        codes.retain(|c| c.step + 2 > spent.step && c != spent);
        codes.push(spent.clone());
        self.write_spent(&spent.serial, codes)
    }

    /// Drops the record of a code that never reached AWS.
    pub fn forget_spent_code(&self, spent: &SpentCode) {
        let mut codes = self.spent_codes(&spent.serial);
        let before = codes.len();
        codes.retain(|c| c != spent);
        if codes.len() != before {
            let _ = self.write_spent(&spent.serial, codes);
        }
    }

    fn write_spent(&self, serial: &str, codes: Vec<SpentCode>) -> Result<()> {
        let file = SpentFile {
            format: FORMAT,
            serial: serial.to_owned(),
            codes,
        };
        // Lost in a power cut it costs nothing: not synced.
        self.write_json_as(
            &self.spent_path(serial, "json"),
            &file,
            crate::secret_file::replace_volatile,
        )
    }

    /// The cached session of a role, if there is a readable one.
    pub fn role(&self, owner: &RoleOwner) -> Option<CachedRole> {
        let path = self.role_path(owner);
        let cached = read_json_dated::<RoleFile>(&path).and_then(|(file, written)| {
            let cached = file.into_cached(written).map_err(Miss::Bad)?;
            if cached.owner != *owner {
                return Err("it belongs to another chain of profiles".into());
            }
            Ok(cached)
        });
        found(&path, cached)
    }

    pub fn store_role(&self, cached: &CachedRole) -> Result<()> {
        let file = RoleFile {
            format: FORMAT,
            profile: cached.owner.profile.clone(),
            root_profile: cached.owner.root.profile.clone(),
            owner: cached.owner.clone(),
            assumed_role_arn: cached.assumed_role_arn.clone(),
            session: StoredSession::of(&cached.session),
            requested_seconds: cached.requested_seconds,
        };
        self.write_json(&self.role_path(&cached.owner), &file)
    }

    /// Every readable cached role session (for `status`).
    pub fn roles(&self) -> Vec<CachedRole> {
        let mut roles: Vec<CachedRole> = self
            .files("role-")
            .into_iter()
            .filter_map(|path| read_json_dated::<RoleFile>(&path).ok())
            .filter_map(|(file, written)| file.into_cached(written).ok())
            .collect();
        roles.sort_by(|a, b| {
            (a.owner.profile.as_str(), a.session.expiration)
                .cmp(&(b.owner.profile.as_str(), b.session.expiration))
        });
        roles
    }

    /// Every readable cached session (for `status`), oldest expiry first.
    pub fn sessions(&self) -> Vec<CachedSession> {
        let mut sessions: Vec<CachedSession> = self
            .files("session-")
            .into_iter()
            .filter_map(|path| read_json_dated::<SessionFile>(&path).ok())
            .filter_map(|(file, written)| file.into_cached(written).ok())
            .filter(|c| {
                crate::input::check_serial(&c.serial).is_ok()
                    && plain_text(&c.owner.profile)
                    && plain_text(&c.owner.endpoint)
                    && c.user_name.as_deref().is_none_or(valid_user_name)
            })
            .collect();
        sessions.sort_by(|a, b| {
            (a.owner.profile.as_str(), a.session.expiration)
                .cmp(&(b.owner.profile.as_str(), b.session.expiration))
        });
        sessions
    }

    /// Deletes the sessions, role sessions and remembered devices of
    /// `profile` (with the role sessions whose MFA session was its), or all of
    /// them; returns how many files went.
    pub fn forget(&self, profile: Option<&str>) -> Result<usize> {
        let mut removed = 0;
        let mut files = self.files("session-");
        files.extend(self.files("device-"));
        files.extend(self.files("role-"));
        for path in files {
            // A role session goes with its own profile and with the root
            // profile whose MFA session it came from.
            let matches = match profile {
                None => true,
                Some(profile) => read_json::<serde_json::Value>(&path).ok().is_some_and(|v| {
                    v["profile"].as_str() == Some(profile)
                        || v["root_profile"].as_str() == Some(profile)
                }),
            };
            if matches {
                match fs::remove_file(&path) {
                    Ok(()) => removed += 1,
                    Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                    Err(e) => {
                        return Err(Failure::new(format!(
                            "cannot delete {}: {}",
                            path.display(),
                            io_reason(&e)
                        ))
                        .into());
                    }
                }
            }
        }
        Ok(removed)
    }

    /// For `forget --all`: the records of spent codes AWS would no longer
    /// take anyway (a younger one still keeps its code from being sent
    /// again), the lock files no run holds, and temporary files killed runs
    /// left. Returns how many files went.
    pub fn sweep(&self) -> usize {
        let mut removed = 0;
        let step = crate::spent::step_of(Timestamp::now().as_second());
        for path in self.files_ending("code-", ".json") {
            let young = read_json::<SpentFile>(&path)
                .is_ok_and(|file| file.codes.iter().any(|c| c.step + 2 > step));
            if !young && fs::remove_file(path).is_ok() {
                removed += 1;
            }
        }
        for path in self.files_ending("", ".lock") {
            // Removed while held, so that no run that opens it then holds a
            // lock on a file the next one does not see (the lock checks).
            if let Some(_unheld) = crate::lock::try_acquire(&path)
                && fs::remove_file(&path).is_ok()
            {
                removed += 1;
            }
        }
        removed + crate::secret_file::remove_stale_temporaries(&self.dir)
    }

    fn files(&self, prefix: &str) -> Vec<PathBuf> {
        self.files_ending(prefix, ".json")
    }

    fn files_ending(&self, prefix: &str, suffix: &str) -> Vec<PathBuf> {
        let Ok(entries) = fs::read_dir(&self.dir) else {
            return Vec::new();
        };
        let mut files: Vec<PathBuf> = entries
            .filter_map(|e| e.ok())
            .map(|e| e.path())
            .filter(|p| {
                p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with(prefix) && n.ends_with(suffix))
            })
            .collect();
        files.sort();
        files
    }

    /// Writes `value` as JSON, replacing the file whole.
    fn write_json<T: Serialize>(&self, path: &Path, value: &T) -> Result<()> {
        self.write_json_as(path, value, crate::secret_file::replace)
    }

    /// Writes `value` as JSON with `replace`.
    fn write_json_as<T: Serialize>(
        &self,
        path: &Path,
        value: &T,
        replace: fn(&Path, &[u8]) -> io::Result<()>,
    ) -> Result<()> {
        self.ensure_dir()?;
        let fail = |e: io::Error| -> anyhow::Error {
            Failure::new(format!(
                "cannot write {}: {}",
                path.display(),
                io_reason(&e)
            ))
            .hint("pass --no-cache, or set MFA_SESSION_CACHE_DIR to a writable directory")
            .into()
        };
        let mut text =
            serde_json::to_string_pretty(value).map_err(|e| fail(io::Error::other(e)))?;
        text.push('\n');
        replace(path, text.as_bytes()).map_err(fail)
    }

    /// Creates the directory with mode 0700, and tightens it when it exists.
    fn ensure_dir(&self) -> Result<()> {
        let fail = |e: io::Error| -> anyhow::Error {
            Failure::new(format!(
                "cannot create {}: {}",
                self.dir.display(),
                io_reason(&e)
            ))
            .hint("pass --no-cache, or set MFA_SESSION_CACHE_DIR to a writable directory")
            .into()
        };
        if let Some(base) = self.base.as_ref().filter(|b| !b.as_os_str().is_empty())
            && !self.dir.is_dir()
            && !base.is_dir()
        {
            return Err(Failure::new(format!(
                "cannot create {}: {} does not exist",
                self.dir.display(),
                base.display()
            ))
            .hint("check HOME (or XDG_CACHE_HOME), set MFA_SESSION_CACHE_DIR to a folder that exists, or pass --no-cache")
            .into());
        }
        let mut builder = fs::DirBuilder::new();
        builder.recursive(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
            builder.mode(0o700);
            builder.create(&self.dir).map_err(fail)?;
            let mode = fs::metadata(&self.dir).map_err(fail)?.permissions().mode();
            if mode & 0o077 != 0 {
                fs::set_permissions(&self.dir, fs::Permissions::from_mode(0o700)).map_err(fail)?;
            }
        }
        #[cfg(not(unix))]
        builder.create(&self.dir).map_err(fail)?;
        Ok(())
    }
}

impl SessionFile {
    fn into_cached(self, written: SystemTime) -> Result<CachedSession, String> {
        if self.format != FORMAT {
            return Err("it is not a session file of this version".to_owned());
        }
        Ok(CachedSession {
            session: self.session.into_session(written)?,
            owner: self.owner,
            serial: self.serial,
            user_name: self.user_name,
            requested_seconds: self.requested_seconds,
        })
    }
}

impl RoleFile {
    fn into_cached(self, written: SystemTime) -> Result<CachedRole, String> {
        if self.format != FORMAT {
            return Err("it is not a role session file of this version".to_owned());
        }
        let printable = [
            &self.owner.profile,
            &self.owner.root.profile,
            &self.assumed_role_arn,
            &self.session.access_key_id_session,
        ]
        .into_iter()
        .all(|t| plain_text(t));
        if !printable {
            return Err("it holds values no AWS answer has".to_owned());
        }
        Ok(CachedRole {
            session: self.session.into_session(written)?,
            owner: self.owner,
            assumed_role_arn: self.assumed_role_arn,
            requested_seconds: self.requested_seconds,
        })
    }
}

/// The value read, or None: an absent file silently, a bad one with a
/// warning that names it.
fn found<T>(path: &Path, read: Result<T, Miss>) -> Option<T> {
    match read {
        Ok(value) => Some(value),
        Err(Miss::Absent) => None,
        Err(Miss::Bad(reason)) => {
            warn(path, &reason);
            None
        }
    }
}

enum Miss {
    Absent,
    Bad(String),
}

impl From<&str> for Miss {
    fn from(reason: &str) -> Miss {
        Miss::Bad(reason.to_owned())
    }
}

fn read_json<T: for<'de> Deserialize<'de>>(path: &Path) -> Result<T, Miss> {
    read_json_dated(path).map(|(value, _)| value)
}

/// [`read_json`], with the time the file was written.
fn read_json_dated<T: for<'de> Deserialize<'de>>(path: &Path) -> Result<(T, SystemTime), Miss> {
    let (bytes, written) = match crate::secret_file::read_private_dated(path, MAX_FILE) {
        Ok(read) => read,
        Err(Unreadable::Absent) => return Err(Miss::Absent),
        Err(Unreadable::Refused(reason)) => return Err(Miss::Bad(reason)),
    };
    // Only where and what kind: serde's own message can quote a value, and
    // the values in this file are secrets.
    let value = serde_json::from_slice(&bytes).map_err(|e| {
        let kind = match e.classify() {
            serde_json::error::Category::Io => "unreadable",
            serde_json::error::Category::Syntax => "not valid JSON",
            serde_json::error::Category::Data => "not a cache file of this version",
            serde_json::error::Category::Eof => "cut short",
        };
        Miss::Bad(format!(
            "it is {kind} (line {}, column {})",
            e.line(),
            e.column()
        ))
    })?;
    Ok((value, written))
}

/// The cache directory, if it exists, must be this user's. One that is but
/// that others may enter is made private; one of another user's is refused.
fn check_dir(dir: &Path) -> Result<()> {
    let meta = match fs::metadata(dir) {
        Ok(meta) => meta,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => {
            return Err(Failure::new(format!(
                "cannot use the cache directory {}: {}",
                dir.display(),
                io_reason(&e)
            ))
            .into());
        }
    };
    let refuse = |why: &str| -> anyhow::Error {
        Failure::new(format!(
            "the cache directory {} is not safe to use: {why}",
            dir.display()
        ))
        .hint("set MFA_SESSION_CACHE_DIR to a directory of your own, or pass --no-cache")
        .into()
    };
    if !meta.is_dir() {
        return Err(refuse("it is not a directory"));
    }
    match crate::secret_file::check_private(&meta) {
        Ok(()) => Ok(()),
        Err(NotPrivate::Mode(_)) => {
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt;
                fs::set_permissions(dir, fs::Permissions::from_mode(0o700))
                    .map_err(|e| refuse(&io_reason(&e)))?;
            }
            Ok(())
        }
        Err(why) => Err(refuse(&why.to_string())),
    }
}

/// No control characters: text from a cache file that is printed.
fn plain_text(text: &str) -> bool {
    !text.chars().any(char::is_control)
}

/// An IAM user name as AWS allows it: 1-64 of `[\w+=,.@-]`.
pub fn valid_user_name(name: &str) -> bool {
    crate::input::iam_name(name, crate::input::USER_NAME)
}

fn warn(path: &Path, reason: &str) {
    // A caller that waited for another looks twice: one warning is enough.
    static WARNED: std::sync::Mutex<Vec<PathBuf>> = std::sync::Mutex::new(Vec::new());
    if let Ok(mut warned) = WARNED.lock() {
        if warned.iter().any(|p| p == path) {
            return;
        }
        warned.push(path.to_owned());
    }
    crate::say(&format!(
        "warning: ignoring the cache file {}: {reason}; it will be replaced",
        path.display()
    ));
}

/// A profile name as a readable part of a file name.
fn file_safe(profile: &str) -> String {
    let safe: String = profile
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .take(40)
        .collect();
    if safe.is_empty() {
        "_".to_owned()
    } else {
        safe
    }
}

/// The first 16 hex digits of a SHA-256 over the owner (and device), each
/// field length-prefixed so that no two different tuples collide by
/// concatenation.
fn digest(owner: &Owner, serial: Option<&str>) -> String {
    let mut hasher = Sha256::new();
    for field in [
        owner.profile.as_str(),
        owner.access_key_id.as_str(),
        owner.endpoint.as_str(),
        serial.unwrap_or("\u{0}no device"),
    ] {
        hasher.update((field.len() as u64).to_le_bytes());
        hasher.update(field.as_bytes());
    }
    hasher
        .finalize()
        .iter()
        .take(8)
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn owner(profile: &str) -> Owner {
        Owner {
            profile: profile.to_owned(),
            access_key_id: "AKIAEXAMPLE".to_owned(),
            endpoint: String::new(),
        }
    }

    fn cached(profile: &str, serial: &str) -> CachedSession {
        CachedSession {
            owner: owner(profile),
            serial: serial.to_owned(),
            user_name: Some("alice".to_owned()),
            session: Session {
                access_key_id: "ASIAEXAMPLE".to_owned(),
                secret_access_key: "secret".to_owned(),
                session_token: "token".to_owned(),
                // Whole seconds, as the file keeps them; 12 hours on.
                expiration: Timestamp::from_second(Timestamp::now().as_second() + 43200).unwrap(),
            },
            requested_seconds: Some(43200),
        }
    }

    #[test]
    fn round_trip_and_isolation() {
        let dir = tempfile::tempdir().unwrap();
        let cache = SessionCache::at(dir.path().join("c"));
        let entry = cached("work", "arn:aws:iam::1:mfa/a");
        cache.store_session(&entry).unwrap();
        assert_eq!(
            cache.session(&owner("work"), "arn:aws:iam::1:mfa/a"),
            Some(entry.clone())
        );
        assert_eq!(cache.session(&owner("work"), "arn:aws:iam::1:mfa/b"), None);
        assert_eq!(cache.session(&owner("other"), "arn:aws:iam::1:mfa/a"), None);
        let mut other_key = owner("work");
        other_key.access_key_id = "AKIAOTHER".to_owned();
        assert_eq!(cache.session(&other_key, "arn:aws:iam::1:mfa/a"), None);
        assert_eq!(cache.sessions(), vec![entry]);
    }

    #[cfg(unix)]
    #[test]
    fn modes() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let cache = SessionCache::at(dir.path().join("c"));
        cache.store_session(&cached("work", "s")).unwrap();
        let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(cache.dir()), 0o700);
        for file in cache.files("session-") {
            assert_eq!(mode(&file), 0o600);
        }
    }

    #[test]
    fn a_file_copied_under_another_name_is_not_used() {
        let dir = tempfile::tempdir().unwrap();
        let cache = SessionCache::at(dir.path());
        cache.store_session(&cached("work", "s")).unwrap();
        let from = cache.session_path(&owner("work"), "s");
        let to = cache.session_path(&owner("prod"), "s");
        fs::copy(from, to).unwrap();
        assert_eq!(cache.session(&owner("prod"), "s"), None);
    }

    #[test]
    fn devices_and_forgetting() {
        let dir = tempfile::tempdir().unwrap();
        let cache = SessionCache::at(dir.path());
        let device = RememberedDevice {
            serial: "arn:aws:iam::1:mfa/a".to_owned(),
            user_name: None,
        };
        cache.remember_device(&owner("work"), &device).unwrap();
        cache.remember_device(&owner("prod"), &device).unwrap();
        cache.store_session(&cached("work", "s")).unwrap();
        assert_eq!(cache.device(&owner("work")), Some(device.clone()));
        assert_eq!(cache.forget(Some("work")).unwrap(), 2);
        assert_eq!(cache.device(&owner("work")), None);
        assert_eq!(cache.device(&owner("prod")), Some(device));
        assert_eq!(cache.forget(None).unwrap(), 1);
    }

    #[test]
    fn a_bad_file_is_described_without_its_values() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f.json");
        crate::secret_file::replace(&path, br#"{"format": "SECRETVALUE"}"#).unwrap();
        match read_json::<SessionFile>(&path) {
            Err(Miss::Bad(reason)) => {
                assert!(!reason.contains("SECRETVALUE"), "{reason}");
                assert!(
                    reason.starts_with("it is not a cache file of this version"),
                    "{reason}"
                );
            }
            _ => panic!("a bad file was accepted"),
        }
    }

    #[test]
    fn expirations_no_aws_session_has_are_refused_with_the_reason() {
        let written = SystemTime::now();
        let now = Timestamp::try_from(written).unwrap();
        let text = |t: Timestamp| crate::session::rfc3339(t);
        let hours = |h: i64| jiff::SignedDuration::from_hours(h);
        // 36 hours is the longest session AWS grants.
        assert!(check_expiration(&text(now + hours(36)), written).is_ok());
        assert!(check_expiration(&text(now - hours(1)), written).is_ok());
        let far = check_expiration(&text(now + hours(37)), written).unwrap_err();
        assert!(
            far.contains("is more than 36 hours after the file was written"),
            "{far}"
        );
        let out = check_expiration("99999-01-01T00:00:00Z", written).unwrap_err();
        assert_eq!(
            out,
            "its expiration '99999-01-01T00:00:00Z' is out of range: the year has 5 digits, and dates end with 9999"
        );
        let month = check_expiration("2026-13-01T00:00:00Z", written).unwrap_err();
        assert!(month.contains("month"), "says what is wrong: {month}");
        let garbage = check_expiration("tomorrow\u{1b}[2J", written).unwrap_err();
        assert!(
            garbage.starts_with("its expiration in the file is not a date"),
            "{garbage}"
        );
    }

    #[test]
    fn a_session_file_that_cannot_be_real_is_not_used() {
        let dir = tempfile::tempdir().unwrap();
        let cache = SessionCache::at(dir.path());
        let mut entry = cached("work", "s");
        entry.session.expiration = Timestamp::now() + jiff::SignedDuration::from_hours(40);
        cache.store_session(&entry).unwrap();
        assert_eq!(cache.session(&owner("work"), "s"), None);
        assert_eq!(cache.sessions(), vec![]);
    }

    #[test]
    fn spent_codes_and_the_sweep() {
        let dir = tempfile::tempdir().unwrap();
        let cache = SessionCache::at(dir.path());
        let spent = SpentCode::new("arn:aws:iam::1:mfa/a", "123456", Timestamp::now());
        cache.store_spent_code(&spent).unwrap();
        // A second code does not push the first out while it is young.
        let second = SpentCode::new("arn:aws:iam::1:mfa/a", "654321", Timestamp::now());
        cache.store_spent_code(&second).unwrap();
        assert_eq!(
            cache.spent_codes("arn:aws:iam::1:mfa/a"),
            vec![spent.clone(), second.clone()]
        );
        cache.forget_spent_code(&second);
        assert_eq!(
            cache.spent_codes("arn:aws:iam::1:mfa/a"),
            vec![spent.clone()]
        );
        // Codes of steps long past go with the next write.
        let later = SpentCode::new(
            "arn:aws:iam::1:mfa/a",
            "111111",
            Timestamp::now() + jiff::SignedDuration::from_secs(90),
        );
        cache.store_spent_code(&later).unwrap();
        assert_eq!(cache.spent_codes("arn:aws:iam::1:mfa/a"), vec![later]);
        assert_eq!(cache.spent_codes("arn:aws:iam::1:mfa/b"), vec![]);
        let held = cache
            .lock_mfa(&owner("work"), Duration::from_secs(1))
            .unwrap();
        drop(
            cache
                .lock_role(&role_owner_fixture(), Duration::from_secs(1))
                .unwrap(),
        );
        // The held lock stays, and the record of a code AWS may still take;
        // the free lock goes.
        assert_eq!(cache.sweep(), 1);
        assert!(held.path.exists());
        assert_eq!(cache.spent_codes("arn:aws:iam::1:mfa/a").len(), 1);
        // A record of codes long past goes too.
        let old = SpentCode::new(
            "arn:aws:iam::1:mfa/c",
            "222222",
            Timestamp::now() - jiff::SignedDuration::from_secs(120),
        );
        cache.store_spent_code(&old).unwrap();
        drop(held);
        assert_eq!(cache.sweep(), 2);
        assert_eq!(cache.spent_codes("arn:aws:iam::1:mfa/c"), vec![]);
    }

    fn role_owner_fixture() -> RoleOwner {
        RoleOwner {
            root: owner("work"),
            profile: "prod".to_owned(),
            hops: vec![],
            direct: false,
            device: None,
        }
    }

    #[test]
    fn digests_differ_by_every_field() {
        let base = owner("work");
        let mut seen = std::collections::HashSet::new();
        assert!(seen.insert(digest(&base, Some("s"))));
        assert!(seen.insert(digest(&base, None)));
        assert!(seen.insert(digest(&owner("work2"), Some("s"))));
        let mut o = base.clone();
        o.endpoint = "http://127.0.0.1:1".to_owned();
        assert!(seen.insert(digest(&o, Some("s"))));
        // Concatenation does not collide.
        assert_ne!(
            digest(&owner("ab"), Some("c")),
            digest(&owner("a"), Some("bc"))
        );
    }
}
