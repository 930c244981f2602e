//! `mfa-session rotate PROFILE`: a new long-term access key for the
//! profile's IAM user, with its MFA session (cached or new: one code at
//! most), written where the old one was, checked, and only then the old one
//! deleted.
//!
//! At no step is the user left without a working key: a new key that cannot
//! be stored or does not work is deleted again (and the old one put back),
//! but only once the store is read back holding the old key: the key a
//! store holds is never deleted in IAM. When the put-back fails, or the
//! store cannot be read, both keys stay and the error says which is where.
//! Once the new key is stored and works, a failed delete names the old key
//! and the command that deletes it. Key ids are shown; secrets never.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::Result;

use crate::aws::{Aws, Signer, user_name_from_arn};
use crate::cache::SessionCache;
use crate::cli::RotateArgs;
use crate::error::Failure;
use crate::profile::syntax::FileKind;
use crate::profile::{KeyStore, ProfileFiles};

/// How long a new key may take to work (IAM propagates it in seconds).
const DEFAULT_WAIT: Duration = Duration::from_secs(60);

pub fn run(args: &RotateArgs) -> Result<String> {
    let positionals = args.target.positionals();
    let request = crate::request::Request::read(&positionals, &args.session)?;
    let plan = crate::plan::build(request)?;
    let root = plan.chain.root.name.clone();
    if !plan.roles.is_empty() {
        return Err(Failure::usage(format!(
            "profile '{}' is a role: rotate the key of the profile that holds it: mfa-session rotate {root}",
            plan.profile
        ))
        .into());
    }
    let files = ProfileFiles::locate()?;
    let key = &plan.chain.key;
    let old_id = key.access_key_id.clone();
    // Kept to put back if the new key does not work.
    let old_secret = zeroize::Zeroizing::new(key.secret_access_key.clone());
    let place = match &key.store {
        KeyStore::File(file) => {
            // Checked before any request: a file that cannot take the new key.
            crate::secret_file::check_target(file)?;
            let kind = if *file == files.config {
                FileKind::Config
            } else {
                FileKind::Credentials
            };
            Place::File(file.clone(), kind)
        }
        KeyStore::Keyring => Place::Keyring,
    };
    let connection = plan.mfa.connection.clone();
    let wait = wait()?;

    let (arn, _) = Aws::connect(&root, key.into(), &connection)?.caller_identity()?;
    let user = user_name_from_arn(&arn)
        .filter(|u| crate::cache::valid_user_name(u))
        .map(str::to_owned)
        .ok_or_else(|| {
            Failure::new(format!(
                "profile '{root}' does not belong to an IAM user (caller is {arn}): only an IAM user's key can be rotated"
            ))
        })?;
    let obtained = crate::obtain::obtain(plan)?;
    let iam = Aws::connect(&root, Signer::from(&obtained.session), &connection)?;

    // AWS allows two keys: with another one there, no room for a new one.
    let keys = iam.access_keys(&user)?;
    let others: Vec<_> = keys.iter().filter(|k| k.id != old_id).collect();
    if !others.is_empty() {
        let all_inactive = others.iter().all(|k| !k.active);
        if !(args.delete_inactive && all_inactive) {
            let list = others
                .iter()
                .map(|k| {
                    format!(
                        "{} ({})",
                        k.id,
                        if k.active { "active" } else { "inactive" }
                    )
                })
                .collect::<Vec<_>>()
                .join(", ");
            let hint = if all_inactive {
                "pass --delete-inactive to delete it first".to_owned()
            } else {
                format!(
                    "AWS allows two: delete the one not in use first, e.g. aws iam delete-access-key --user-name {user} --access-key-id {}",
                    others[0].id
                )
            };
            return Err(Failure::new(format!(
                "user {user} has two access keys already: {old_id} (profile '{root}') and {list}, so no new one can be created"
            ))
            .hint(hint)
            .into());
        }
        for other in &others {
            iam.delete_access_key(&user, &other.id)?;
            crate::say(&format!(
                "deleted the inactive key {} of user {user}",
                other.id
            ));
        }
    }

    let created = fail_for_tests("create").and_then(|()| iam.create_access_key(&user));
    let (new_id, new_secret) = created.map_err(|err| {
        let report = crate::error::Report::new(&err);
        let unchanged =
            format!("nothing was changed: {old_id} is still the key of profile '{root}'");
        anyhow::Error::from(Failure::new(report.line).hint(match report.hint {
            Some(hint) => format!("{hint}; {unchanged}"),
            None => unchanged,
        }))
    })?;
    let new_secret = zeroize::Zeroizing::new(new_secret);
    crate::say(&format!("created the access key {new_id} for user {user}"));
    let undo_create = |err: anyhow::Error, what: &str| -> anyhow::Error {
        let report = crate::error::Report::new(&err);
        let cleanup = match iam.delete_access_key(&user, &new_id) {
            Ok(()) => format!(
                "the new key {new_id} was deleted again; {old_id} is still the key of profile '{root}'"
            ),
            Err(_) => format!(
                "the new key {new_id} could not be deleted again: delete it with aws iam delete-access-key --user-name {user} --access-key-id {new_id}; {old_id} is still the key of profile '{root}'"
            ),
        };
        Failure::new(format!("{what}: {}", report.line))
            .hint(cleanup)
            .into()
    };

    let written =
        fail_for_tests("write").and_then(|()| place.put(&root, &old_id, (&new_id, &new_secret)));
    let written = match written {
        Ok(place) => place,
        // The write may have happened all the same (a keyring whose
        // read-back failed or timed out): the new key is deleted only if the
        // store is seen to hold the old one.
        Err(err) => {
            return Err(match place.holds(&root) {
                Ok(held) if held == old_id => undo_create(err, "could not store the new key"),
                held => keep_both(
                    err,
                    "could not store the new key",
                    &Kept {
                        profile: &root,
                        user: &user,
                        place: &place.describe(),
                        held: held.ok(),
                        old_id: &old_id,
                        new_id: &new_id,
                    },
                ),
            });
        }
    };
    crate::say(&format!(
        "wrote {new_id} into profile '{root}' in {written}"
    ));

    let new_signer = Signer {
        access_key_id: &new_id,
        secret_access_key: &new_secret,
        session_token: None,
    };
    if let Err(err) = verify(&root, new_signer, &connection, wait) {
        // Back to the old key, which still works; the new one is deleted only
        // once the store is read back holding the old one again.
        let restored = fail_for_tests("restore")
            .and_then(|()| place.put(&root, &new_id, (&old_id, old_secret.as_str())));
        let held = place.holds(&root);
        return Err(match (&restored, held) {
            (Ok(_), Ok(held)) if held == old_id => undo_create(err, "the new key did not work"),
            (_, held) => {
                let why = match restored {
                    Err(put_back) => format!(
                        "the new key did not work, and the old key could not be put back: {}",
                        crate::error::Report::new(&put_back).line
                    ),
                    Ok(_) => "the new key did not work, and the old key could not be read back"
                        .to_owned(),
                };
                keep_both(
                    err,
                    &why,
                    &Kept {
                        profile: &root,
                        user: &user,
                        place: &written,
                        held: held.ok(),
                        old_id: &old_id,
                        new_id: &new_id,
                    },
                )
            }
        });
    }
    crate::say("the new key works");

    if let Err(err) = fail_for_tests("delete").and_then(|()| iam.delete_access_key(&user, &old_id))
    {
        let report = crate::error::Report::new(&err);
        return Err(Failure::new(format!(
            "the new key {new_id} is in {written} and works, but the old key {old_id} was not deleted: {}",
            report.line
        ))
        .hint(format!(
            "delete it with an MFA session: mfa-session exec {} -- aws iam delete-access-key --user-name {user} --access-key-id {old_id}",
            crate::shell::command_word(&root)
        ))
        .into());
    }
    // Sessions made with the old key are of no use to keep.
    if let Ok(cache) = SessionCache::locate()
        && cache.forget(Some(&root)).is_ok_and(|n| n > 0)
    {
        crate::say(&format!(
            "forgot the cached sessions of profile '{root}' (made with the old key): the next session asks for a code"
        ));
    }
    crate::say(&format!(
        "deleted the old key {old_id}: profile '{root}' now uses {new_id}"
    ));
    Ok(String::new())
}

/// What a rotation stopped halfway leaves: both keys active in AWS.
struct Kept<'a> {
    profile: &'a str,
    user: &'a str,
    place: &'a str,
    /// The key id the store was read back holding, if it could be read.
    held: Option<String>,
    old_id: &'a str,
    new_id: &'a str,
}

/// The failure of a rotation that deletes neither key: says which key is
/// where and what to do.
fn keep_both(err: anyhow::Error, what: &str, kept: &Kept) -> anyhow::Error {
    let report = crate::error::Report::new(&err);
    let Kept {
        profile,
        user,
        place,
        old_id,
        new_id,
        ..
    } = kept;
    let stored = match kept.held.as_deref() {
        Some(id) if id == *new_id => format!(
            "profile '{profile}' in {place} holds the new key {new_id}, which may need a minute more to work"
        ),
        Some(id) if id == *old_id => {
            format!("profile '{profile}' in {place} holds the old key {old_id}")
        }
        Some(id) => format!("profile '{profile}' in {place} holds another key, {id}"),
        None => format!(
            "{place} could not be read back, so whether profile '{profile}' holds {old_id} or {new_id} is not known"
        ),
    };
    let delete = |id: &str| {
        format!(
            "mfa-session exec {} -- aws iam delete-access-key --user-name {user} --access-key-id {id}",
            crate::shell::command_word(profile)
        )
    };
    let unused = match kept.held.as_deref() {
        Some(id) if id == *new_id => delete(old_id),
        Some(id) if id == *old_id => delete(new_id),
        _ => "aws iam delete-access-key for the one the profile does not hold".to_owned(),
    };
    Failure::new(format!("{what}: {}", report.line))
        .hint(format!(
            "both keys are kept and active in AWS, {old_id} (the old one) and {new_id} (the new one); {stored}; once `mfa-session doctor {profile}` passes, delete the other with: {unused}",
            profile = crate::shell::command_word(profile)
        ))
        .into()
}

/// Where the profile's key lives, and so where the new one is written.
enum Place {
    File(PathBuf, FileKind),
    Keyring,
}

impl Place {
    /// Replaces the key `from_id` of `profile` with `new`; says where.
    fn put(&self, profile: &str, from_id: &str, new: (&str, &str)) -> Result<String> {
        match self {
            Place::File(file, kind) => {
                crate::credentials_file::replace_key(file, *kind, profile, from_id, new)
                    .map(|path| path.display().to_string())
            }
            Place::Keyring => {
                let (held, _) = crate::key_store::load(profile)?;
                if held != from_id {
                    return Err(Failure::new(format!(
                        "will not write the new key of profile '{profile}' into the keyring: it holds another key now ({held})"
                    ))
                    .into());
                }
                crate::key_store::store(profile, new.0, new.1)?;
                Ok(crate::key_store::store_name().to_owned())
            }
        }
    }
}

impl Place {
    /// The key id the store holds for `profile` now, read afresh.
    fn holds(&self, profile: &str) -> Result<String> {
        match self {
            Place::File(file, kind) => {
                let text = std::fs::read_to_string(file).map_err(|e| {
                    Failure::new(format!(
                        "cannot read {}: {}",
                        file.display(),
                        crate::error::io_reason(&e)
                    ))
                })?;
                crate::credentials_file::key_id_of(&text, *kind, profile).ok_or_else(|| {
                    Failure::new(format!(
                        "{} holds no key for profile '{profile}'",
                        file.display()
                    ))
                    .into()
                })
            }
            Place::Keyring => crate::key_store::load(profile).map(|(id, _)| id),
        }
    }

    /// Where, for a message.
    fn describe(&self) -> String {
        match self {
            Place::File(file, _) => file.display().to_string(),
            Place::Keyring => crate::key_store::store_name().to_owned(),
        }
    }
}

/// GetCallerIdentity with the new key until it works (IAM takes seconds
/// to make a new key usable), saying once that it waits.
fn verify(
    profile: &str,
    signer: Signer,
    connection: &crate::aws::Connection,
    wait: Duration,
) -> Result<()> {
    let deadline = Instant::now() + wait;
    let mut said = false;
    loop {
        let result = fail_for_tests("verify").and_then(|()| {
            Aws::connect(profile, signer, connection)?
                .caller_identity()
                .map(|_| ())
        });
        match result {
            Ok(()) => return Ok(()),
            Err(err) if Instant::now() >= deadline => return Err(err),
            Err(_) => {
                if !said {
                    crate::say("waiting for the new key to work (IAM takes a few seconds)");
                    said = true;
                }
                std::thread::sleep(Duration::from_secs(1));
            }
        }
    }
}

/// `MFA_SESSION_ROTATE_WAIT`, else a minute.
fn wait() -> Result<Duration> {
    match std::env::var("MFA_SESSION_ROTATE_WAIT") {
        Ok(text) if !text.trim().is_empty() => crate::input::parse_duration(&text).map_err(|e| {
            Failure::usage(format!("MFA_SESSION_ROTATE_WAIT: {e}"))
                .hint("set it to a duration, such as 60 or 2m")
                .into()
        }),
        _ => Ok(DEFAULT_WAIT),
    }
}

/// Debug builds only: `MFA_SESSION_TEST_FAIL=STEP` makes that step of a
/// rotation fail, so that the tests can see what each failure leaves.
fn fail_for_tests(step: &str) -> Result<()> {
    #[cfg(debug_assertions)]
    if std::env::var("MFA_SESSION_TEST_FAIL").is_ok_and(|s| s == step) {
        return Err(Failure::new(format!("{step} failed (MFA_SESSION_TEST_FAIL)")).into());
    }
    let _ = step;
    Ok(())
}
