//! The long-term key in the operating system's keyring instead of a plain
//! file: macOS Keychain, Windows Credential Manager, the Secret Service on
//! Linux (gnome-keyring, KeePassXC, KWallet), through the `keyring` crate.
//!
//! A profile whose config section says `mfa_session_key = keyring` (other
//! tools ignore the key) has its key pair in one keyring entry: service
//! `mfa-session`, account the profile's name, secret a small JSON object.
//! `keys import` and `keys export` move it there and back.
//!
//! Every call runs on its own thread with a deadline
//! (`MFA_SESSION_KEYRING_TIMEOUT`, 20 s by default): a keyring that is
//! locked and waits for a password nobody can type ends the run with one
//! line, not a hang.

use std::sync::mpsc;
use std::time::Duration;

use anyhow::Result;
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::error::Failure;

/// The keyring entry's service name.
pub const SERVICE: &str = "mfa-session";

/// The config key that says where a profile's key lives, and its one value.
pub const MARKER: &str = "mfa_session_key";
pub const MARKER_VALUE: &str = "keyring";

const DEFAULT_TIMEOUT: Duration = Duration::from_secs(20);

/// The key pair as the keyring holds it (no Debug: it holds the secret).
#[derive(Serialize, Deserialize)]
struct Stored {
    #[serde(rename = "AccessKeyId")]
    access_key_id: String,
    #[serde(rename = "SecretAccessKey")]
    secret_access_key: String,
}

impl Drop for Stored {
    fn drop(&mut self) {
        zeroize::Zeroize::zeroize(&mut self.secret_access_key);
    }
}

/// What the platform's store is called, for messages.
pub fn store_name() -> &'static str {
    if cfg!(target_os = "macos") {
        "the macOS Keychain"
    } else if cfg!(windows) {
        "the Windows Credential Manager"
    } else {
        "the Secret Service keyring"
    }
}

/// Key pairs read in this run, by profile: the profiles are resolved more
/// than once in a run, and the keyring is asked once.
static LOADED: std::sync::Mutex<Vec<(String, String, Zeroizing<String>)>> =
    std::sync::Mutex::new(Vec::new());

/// The key pair of `profile`: (access key id, secret).
pub fn load(profile: &str) -> Result<(String, Zeroizing<String>)> {
    if let Ok(loaded) = LOADED.lock()
        && let Some((_, id, secret)) = loaded.iter().find(|(p, _, _)| p == profile)
    {
        return Ok((id.clone(), secret.clone()));
    }
    let (id, secret) = load_from_store(profile)?;
    if let Ok(mut loaded) = LOADED.lock() {
        loaded.push((profile.to_owned(), id.clone(), secret.clone()));
    }
    Ok((id, secret))
}

/// Forgets what this run read for `profile`.
fn unload(profile: &str) {
    if let Ok(mut loaded) = LOADED.lock() {
        loaded.retain(|(p, _, _)| p != profile);
    }
}

fn load_from_store(profile: &str) -> Result<(String, Zeroizing<String>)> {
    let name = profile.to_owned();
    let text = within("reading", profile, move || {
        entry(&name)?.get_password().map(Zeroizing::new)
    })?;
    let stored: Stored = serde_json::from_str(&text).map_err(|_| {
        Failure::new(format!(
            "the keyring entry of profile '{profile}' (service {SERVICE}) is not a key pair mfa-session wrote"
        ))
        .hint(format!(
            "put the key back in the credentials file and run: mfa-session keys import {profile}"
        ))
    })?;
    let id = stored.access_key_id.trim().to_owned();
    let secret = Zeroizing::new(stored.secret_access_key.trim().to_owned());
    let plain = |v: &str| !v.is_empty() && v.chars().all(|c| c.is_ascii_graphic());
    if !plain(&id) || !plain(&secret) {
        return Err(Failure::new(format!(
            "the keyring entry of profile '{profile}' holds an empty or malformed key pair"
        ))
        .into());
    }
    Ok((id, secret))
}

/// The access key id of the entry of `profile`, if there is one (an entry
/// mfa-session cannot read counts as one: it is not to be overwritten).
pub fn held(profile: &str) -> Result<Held> {
    let name = profile.to_owned();
    let text = within("reading", profile, move || {
        match entry(&name)?.get_password() {
            Ok(text) => Ok(Some(Zeroizing::new(text))),
            Err(keyring::Error::NoEntry) => Ok(None),
            Err(err) => Err(err),
        }
    })?;
    Ok(match text {
        None => Held::Nothing,
        Some(text) => match serde_json::from_str::<Stored>(&text) {
            Ok(stored) => Held::Pair(
                stored.access_key_id.clone(),
                Zeroizing::new(stored.secret_access_key.clone()),
            ),
            Err(_) => Held::Foreign,
        },
    })
}

/// What the keyring holds under a profile's name.
pub enum Held {
    Nothing,
    /// A key pair mfa-session wrote: id and secret.
    Pair(String, Zeroizing<String>),
    /// Something mfa-session did not write.
    Foreign,
}

impl Held {
    /// Whether it is exactly this key pair (the same key, moved halfway).
    pub fn is(&self, id: &str, secret: &str) -> bool {
        matches!(self, Held::Pair(i, s) if i == id && s.as_str() == secret)
    }

    /// What it is, for a message.
    pub fn describe(&self) -> String {
        match self {
            Held::Nothing => "nothing".to_owned(),
            Held::Pair(id, _) => id.clone(),
            Held::Foreign => "an entry mfa-session did not write".to_owned(),
        }
    }
}

/// Stores the key pair of `profile`, replacing what the entry held, and
/// reads it back to check.
pub fn store(profile: &str, id: &str, secret: &str) -> Result<()> {
    let text = Zeroizing::new(
        serde_json::to_string(&Stored {
            access_key_id: id.to_owned(),
            secret_access_key: secret.to_owned(),
        })
        .expect("two strings serialise"),
    );
    let name = profile.to_owned();
    unload(profile);
    within("writing", profile, move || {
        entry(&name)?.set_password(&text)
    })?;
    let (read_id, read_secret) = load_from_store(profile)?;
    if read_id != id || read_secret.as_str() != secret {
        return Err(Failure::new(format!(
            "the keyring gave back another key for profile '{profile}' than the one just stored"
        ))
        .into());
    }
    Ok(())
}

/// Deletes the entry of `profile`; an entry already gone is no error.
pub fn delete(profile: &str) -> Result<()> {
    let name = profile.to_owned();
    unload(profile);
    within("deleting", profile, move || {
        match entry(&name)?.delete_credential() {
            Err(keyring::Error::NoEntry) => Ok(()),
            other => other,
        }
    })
}

fn entry(profile: &str) -> keyring::Result<keyring::Entry> {
    keyring::Entry::new(SERVICE, profile)
}

/// Runs `call` on its own thread, for at most the keyring timeout.
fn within<T: Send + 'static>(
    doing: &str,
    profile: &str,
    call: impl FnOnce() -> keyring::Result<T> + Send + 'static,
) -> Result<T> {
    let limit = timeout()?;
    let (tx, rx) = mpsc::channel();
    std::thread::Builder::new()
        .name("keyring".to_owned())
        .spawn(move || {
            let _ = tx.send(call());
        })?;
    match rx.recv_timeout(limit) {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(err)) => Err(failure(doing, profile, err).into()),
        // The thread is left behind; the run ends without it.
        Err(_) => Err(Failure::new(format!(
            "{} did not answer within {} while {doing} the key of profile '{profile}'",
            store_name(),
            crate::input::format_duration(limit)
        ))
        .hint(format!(
            "it may be locked and waiting for its password: {}",
            unlock_hint()
        ))
        .into()),
    }
}

fn no_service_hint() -> String {
    "mfa-session talks to a Secret Service (gnome-keyring, KeePassXC, KWallet) on the D-Bus session bus: start one, or check DBUS_SESSION_BUS_ADDRESS".to_owned()
}

fn unlock_hint() -> String {
    let how = if cfg!(any(target_os = "macos", windows)) {
        "unlock the keyring"
    } else {
        "unlock the keyring (log in to the desktop, or unlock the login keyring in Seahorse or your keyring manager)"
    };
    format!(
        "{how}; a keyring that waits for its password is given up after MFA_SESSION_KEYRING_TIMEOUT (20s by default)"
    )
}

/// The user's line for a keyring error. The crate's errors name the
/// service and account at most, never the secret.
fn failure(doing: &str, profile: &str, err: keyring::Error) -> Failure {
    let store = store_name();
    match err {
        keyring::Error::NoEntry => Failure::new(format!(
            "{store} has no key for profile '{profile}' (service {SERVICE}, user {profile})"
        ))
        .hint(format!(
            "the profile says {MARKER} = {MARKER_VALUE}: put the key pair back in the credentials file, remove that line, and run: mfa-session keys import {profile}"
        )),
        keyring::Error::NoStorageAccess(reason) | keyring::Error::PlatformFailure(reason) => {
            let reason = reason.to_string();
            let what = format!("the key of profile '{profile}'");
            let (line, hint) = match Trouble::of(&reason) {
                Trouble::LockedAndDismissed => (
                    format!("{store} is locked, and its unlock prompt was dismissed or could not be shown, while {doing} {what}"),
                    Some(unlock_hint()),
                ),
                Trouble::Locked => (
                    format!("{store} is locked: cannot go on {doing} {what}"),
                    Some(unlock_hint()),
                ),
                Trouble::NoService => (
                    format!("cannot use {store} while {doing} {what}: no Secret Service runs on the D-Bus session bus"),
                    Some(no_service_hint()),
                ),
                Trouble::NoBus => (
                    format!("cannot use {store} while {doing} {what}: no D-Bus session bus, or no Secret Service on it"),
                    Some(no_service_hint()),
                ),
                Trouble::Other => (format!("{store} failed while {doing} {what}: {reason}"), None),
            };
            let failure = Failure::new(line);
            match hint {
                Some(hint) => failure.hint(hint),
                None => failure,
            }
        }
        other => Failure::new(format!(
            "{store} failed while {doing} the key of profile '{profile}': {other}"
        )),
    }
}

/// What a platform error says, as far as the user's line goes. The texts
/// are the Secret Service's and zbus's (the crate passes them on as text).
#[derive(Debug, PartialEq, Eq)]
enum Trouble {
    LockedAndDismissed,
    Locked,
    NoService,
    NoBus,
    Other,
}

impl Trouble {
    fn of(reason: &str) -> Trouble {
        if reason.contains("prompt dismissed") {
            Trouble::LockedAndDismissed
        } else if reason.contains("IsLocked") || reason.to_lowercase().contains("is locked") {
            Trouble::Locked
        } else if reason.contains("ServiceUnknown") || reason.contains("org.freedesktop.secrets") {
            Trouble::NoService
        } else if reason.contains("no secret service provider or dbus session") {
            Trouble::NoBus
        } else {
            Trouble::Other
        }
    }
}

/// `MFA_SESSION_KEYRING_TIMEOUT` (a duration, as the other limits take
/// it), else 20 seconds.
fn timeout() -> Result<Duration> {
    const VAR: &str = "MFA_SESSION_KEYRING_TIMEOUT";
    match std::env::var(VAR) {
        Ok(text) if !text.trim().is_empty() => crate::input::parse_duration(&text)
            .and_then(|d| {
                if d.is_zero() {
                    anyhow::bail!("it must be more than 0");
                }
                Ok(d)
            })
            .map_err(|e| {
                Failure::usage(format!("{VAR}: {e}"))
                    .hint("set it to a duration, such as 20 or 1m")
                    .into()
            }),
        _ => Ok(DEFAULT_TIMEOUT),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_stored_form_is_the_two_aws_names() {
        let text = serde_json::to_string(&Stored {
            access_key_id: "AKIAX".into(),
            secret_access_key: "s".into(),
        })
        .unwrap();
        assert_eq!(text, r#"{"AccessKeyId":"AKIAX","SecretAccessKey":"s"}"#);
    }

    #[test]
    fn platform_errors_are_read_for_what_they_say() {
        // The texts the crate passes on from zbus and gnome-keyring.
        for (text, trouble) in [
            ("SS error: prompt dismissed", Trouble::LockedAndDismissed),
            (
                "zbus error: org.freedesktop.Secret.Error.IsLocked: Cannot create an item in a locked collection",
                Trouble::Locked,
            ),
            (
                "zbus error: org.freedesktop.DBus.Error.ServiceUnknown: The name org.freedesktop.secrets was not provided by any .service files",
                Trouble::NoService,
            ),
            (
                "no secret service provider or dbus session found",
                Trouble::NoBus,
            ),
            ("something else", Trouble::Other),
        ] {
            assert_eq!(Trouble::of(text), trouble, "{text}");
        }
    }

    #[test]
    fn no_entry_names_the_profile_and_the_way_back() {
        let f = failure("reading", "work", keyring::Error::NoEntry);
        let report = crate::error::Report::new(&anyhow::Error::from(f));
        assert!(report.line.contains("profile 'work'"), "{}", report.line);
        assert!(report.hint.unwrap().contains("keys import work"));
    }
}
