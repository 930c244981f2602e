//! `mfa-session forget PROFILE|--all`: cached sessions, role sessions,
//! remembered devices and `--write-profile` sections, gone.

use anyhow::Result;

use crate::cache::SessionCache;
use crate::cli::ForgetArgs;

pub fn run(args: &ForgetArgs) -> Result<String> {
    let cache = SessionCache::locate()?;
    let profile = if args.all {
        None
    } else {
        args.profile.as_deref()
    };
    // Sections `--write-profile` filled. One that cannot be edited does not
    // stop the rest: its record stays, so that the next `forget` tries again,
    // and the failure is reported once everything else is gone.
    let mut sections = Vec::new();
    let mut failed = None;
    for written in cache.written(profile) {
        match crate::credentials_file::remove_session(
            &written.path,
            &written.section,
            &written.access_key_id,
        ) {
            Ok(removed) => {
                if removed {
                    sections.push(format!(
                        "[{}] in {}",
                        written.section,
                        written.path.display()
                    ));
                }
                cache.forget_written(&written)?;
            }
            Err(err) => {
                failed.get_or_insert(err.context(format!(
                    "could not remove the session from [{}] in {}",
                    written.section,
                    written.path.display()
                )));
            }
        }
    }
    let removed = cache.forget(profile)?;
    let what = match profile {
        None => "every profile".to_owned(),
        Some(p) => format!("profile '{p}'"),
    };
    crate::say(&format!(
        "forgot {removed} cached file{} for {what} in {}",
        if removed == 1 { "" } else { "s" },
        cache.dir().display()
    ));
    if !sections.is_empty() {
        crate::say(&format!("removed the session from {}", sections.join(", ")));
    }
    match failed {
        None => Ok(String::new()),
        Some(err) => Err(err),
    }
}
