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
use crate::key_store::{MARKER, MARKER_VALUE, store_name};
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
    if let KeyPlace::Keyring { marker, .. } = profile.key_place()? {
        return Err(Failure::new(format!(
            "the key of profile '{name}' is in the keyring already ({MARKER} = {MARKER_VALUE} at {})",
            marker.place()
        ))
        .hint(format!("to move it back: mfa-session keys export {name}"))
        .into());
    }
    let key = profile.long_term_key()?;
    let KeyStore::File(file) = &key.store else {
        unreachable!("a profile without the marker reads its key from a file");
    };
    let kind = kind_of(&files, file);
    // Both files are checked before the keyring is touched.
    crate::secret_file::check_target(&files.config)?;
    crate::secret_file::check_target(file)?;
    let id = key.access_key_id.as_str();
    // An entry of the same name (another AWS_CONFIG_FILE's profile, or one
    // left behind) is not overwritten: it may hold the only copy of a key.
    if let Some(held) = crate::key_store::held(name)? {
        return Err(Failure::new(format!(
            "{} holds a key for profile '{name}' already ({held}); nothing was moved",
            store_name()
        ))
        .hint(format!(
            "if it is no longer needed, delete it (e.g. secret-tool clear service {} username {name}) and import again",
            crate::key_store::SERVICE
        ))
        .into());
    }

    crate::key_store::store(name, id, &key.secret_access_key)?;
    if let Err(err) = crate::config_file::set_value(&files.config, name, MARKER, MARKER_VALUE) {
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
    crate::say(&format!(
        "moved the key {id} of profile '{name}' from {} into {}, and marked the profile with {MARKER} = {MARKER_VALUE} in {}",
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
