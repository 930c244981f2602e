//! `mfa-session keys import PROFILE` and `keys export PROFILE`: the
//! long-term key pair moved from the profile files into the operating
//! system's keyring, and back.
//!
//! Each move writes the new place first and checks it, then marks the
//! profile, then takes the key out of the old place, so that a failure at
//! any step leaves the key where it can still be read (and says so).

use std::path::Path;

use anyhow::Result;

use crate::cli::{KeysAction, KeysArgs};
use crate::error::Failure;
use crate::key_store::{Held, MARKER, MARKER_VALUE, store_name};
use crate::profile::syntax::FileKind;
use crate::profile::{KeyPlace, KeyStore, ProfileFiles, ProfileSet};

pub fn run(args: &KeysArgs) -> Result<String> {
    match &args.action {
        KeysAction::Import { profile } => import(&profile_name(profile)?),
        KeysAction::Export { profile } => export(&profile_name(profile)?),
    }
    .map(|()| String::new())
}

/// The profile named, else the one the environment names, checked as every
/// command checks it.
fn profile_name(profile: &Option<String>) -> Result<String> {
    Ok(crate::request::Request::for_profile(profile.as_deref())?.profile)
}

fn kind_of(files: &ProfileFiles, path: &Path) -> FileKind {
    if path == files.config {
        FileKind::Config
    } else {
        FileKind::Credentials
    }
}

fn import(name: &str) -> Result<()> {
    let files = ProfileFiles::locate()?;
    let set = ProfileSet::load(&files)?;
    let profile = set.profile(name)?;
    let place = profile.key_place()?;
    let key = match &place {
        KeyPlace::Keyring {
            marker,
            overridden: None,
        } => {
            return Err(Failure::new(format!(
                "the key of profile '{name}' is in the keyring already ({MARKER} = {MARKER_VALUE} at {})",
                marker.place()
            ))
            .hint(format!("to move it back: mfa-session keys export {name}"))
            .into());
        }
        // Marked, and the files still hold a key: an import stopped before
        // it took the key out of the file, if the keyring holds the same.
        KeyPlace::Keyring { .. } => profile.file_key()?,
        KeyPlace::Files => profile.long_term_key()?,
    };
    let KeyStore::File(file) = &key.store else {
        unreachable!("a key from the files");
    };
    let kind = kind_of(&files, file);
    // Both files are checked before the keyring is touched.
    crate::secret_file::check_target(&files.config)?;
    crate::secret_file::check_target(file)?;
    let id = key.access_key_id.as_str();
    // An entry of the same name (another AWS_CONFIG_FILE's profile, or one
    // left behind) is not overwritten: it may hold the only copy of a key.
    // The same pair is this move, stopped halfway: it is finished.
    let held = crate::key_store::held(name)?;
    let resumed = held.is(id, &key.secret_access_key);
    if !resumed && !matches!(held, Held::Nothing) {
        return Err(Failure::new(format!(
            "{} holds a key for profile '{name}' already ({}); nothing was moved",
            store_name(),
            held.describe()
        ))
        .hint(format!(
            "if it is no longer needed, delete it (e.g. secret-tool clear service {} username {name}) and import again",
            crate::key_store::SERVICE
        ))
        .into());
    }

    if !resumed {
        crate::key_store::store(name, id, &key.secret_access_key)?;
    }
    let marked_here = matches!(place, KeyPlace::Files);
    if marked_here
        && let Err(err) = crate::config_file::set_value(&files.config, name, MARKER, MARKER_VALUE)
    {
        let _ = crate::key_store::delete(name);
        return Err(err.context(format!(
            "nothing was moved: the key {id} of profile '{name}' stays in {}",
            file.display()
        )));
    }
    if let Err(err) = crate::credentials_file::remove_key(file, kind, name, id) {
        // Back as it was: the file's key is the one in use.
        let unmarked =
            crate::config_file::remove_value(&files.config, FileKind::Config, name, MARKER);
        let _ = crate::key_store::delete(name);
        let err = err.context(format!(
            "nothing was moved: the key {id} of profile '{name}' stays in {}",
            file.display()
        ));
        return Err(match unmarked {
            Ok(_) => err,
            Err(_) => err.context(format!(
                "and the line {MARKER} = {MARKER_VALUE} is left in {}: remove it",
                files.config.display()
            )),
        });
    }
    let finished = if resumed {
        " (finishing a move that was stopped halfway)"
    } else {
        ""
    };
    crate::say(&format!(
        "moved the key {id} of profile '{name}' from {} into {}, and marked the profile with {MARKER} = {MARKER_VALUE} in {}{finished}",
        file.display(),
        store_name(),
        files.config.display()
    ));
    crate::say(&format!(
        "tools other than mfa-session no longer find it: give them a session (eval \"$(mfa-session {0})\"), or a profile with credential_process = mfa-session credential-process --profile {0}",
        crate::shell::command_word(name)
    ));
    Ok(())
}

fn export(name: &str) -> Result<()> {
    let files = ProfileFiles::locate()?;
    let set = ProfileSet::load(&files)?;
    let profile = set.profile(name)?;
    let KeyPlace::Keyring { marker, overridden } = profile.key_place()? else {
        // Unmarked, the key in the files and the same pair in the keyring:
        // a move stopped halfway (an export before it deleted the entry, an
        // import before it marked the profile). The file's key is the one in
        // use; the copy goes.
        if profile.has_static_key() {
            let key = profile.file_key()?;
            if crate::key_store::held(name)?.is(&key.access_key_id, &key.secret_access_key) {
                crate::key_store::delete(name)?;
                crate::say(&format!(
                    "the key {} of profile '{name}' is in {} already; deleted the copy a move stopped halfway left in {}",
                    key.access_key_id,
                    key.origin,
                    store_name()
                ));
                return Ok(());
            }
        }
        let failure = Failure::new(format!(
            "the key of profile '{name}' is not in the keyring: the profile has no {MARKER} = {MARKER_VALUE}"
        ));
        return Err(if profile.has_static_key() {
            failure.hint(format!("to move it there: mfa-session keys import {name}"))
        } else {
            failure
        }
        .into());
    };
    if let Some(file_key) = overridden {
        // The same pair in both: an export stopped before it took the
        // marker out. Finished here.
        let key = profile.file_key()?;
        let (id, secret) = crate::key_store::load(name)?;
        if key.access_key_id == id && key.secret_access_key == secret.as_str() {
            crate::config_file::remove_value(
                &marker.file,
                kind_of(&files, &marker.file),
                name,
                MARKER,
            )?;
            crate::key_store::delete(name)?;
            crate::say(&format!(
                "the key {id} of profile '{name}' is in {} already; removed {MARKER} at {} and deleted the copy in {} (finishing a move that was stopped halfway)",
                key.origin,
                marker.place(),
                store_name()
            ));
            return Ok(());
        }
        return Err(Failure::new(format!(
            "profile '{name}' holds a key in the files already ({}), beside the one in the keyring",
            file_key.place()
        ))
        .hint(format!(
            "remove one: the line {MARKER} = {MARKER_VALUE} at {} to use the file's key, or the file's key pair to export the keyring's",
            marker.place()
        ))
        .into());
    }
    let (marker_file, marker_line) = (marker.file.clone(), marker.place());
    let (id, secret) = crate::key_store::load(name)?;
    crate::secret_file::check_target(&files.credentials)?;
    crate::secret_file::check_target(&marker_file)?;

    let written = crate::credentials_file::add_key(&files.credentials, name, (&id, &secret))?;
    let unmarked =
        crate::config_file::remove_value(&marker_file, kind_of(&files, &marker_file), name, MARKER);
    if let Err(err) = unmarked {
        // The keyring's key is still the one in use; the file's copy goes.
        let _ = crate::credentials_file::remove_key(&written, FileKind::Credentials, name, &id);
        return Err(err.context(format!(
            "nothing was moved: the key {id} of profile '{name}' stays in {}",
            store_name()
        )));
    }
    crate::say(&format!(
        "wrote the key {id} of profile '{name}' into {} and removed {MARKER} at {marker_line}",
        written.display()
    ));
    if let Err(err) = crate::key_store::delete(name) {
        let report = crate::error::Report::new(&err);
        crate::say(&format!(
            "warning: the copy in {} was not deleted: {}",
            store_name(),
            report.line
        ));
    } else {
        crate::say(&format!("deleted it from {}", store_name()));
    }
    Ok(())
}
