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
    let mut sections_dirs = Vec::new();
    for written in cache.written(profile) {
        sections_dirs.extend(parent(&written.path));
        let ids: Vec<&str> = std::iter::once(&written.access_key_id)
            .chain(&written.earlier_access_key_ids)
            .map(String::as_str)
            .collect();
        match crate::credentials_file::remove_session(&written.path, &written.section, &ids) {
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
    let shared = crate::cli_cache::forget(profile);
    if shared > 0 {
        crate::say(&format!(
            "removed {shared} role session{} from the AWS CLI's cache",
            if shared == 1 { "" } else { "s" }
        ));
    }
    if args.all {
        // What killed runs left: temporary copies beside the files they
        // were writing (the cache, the profile files, written sections),
        // the records of spent codes and the lock files no run holds.
        let mut dirs = Vec::new();
        if let Ok(files) = crate::profile::ProfileFiles::locate() {
            dirs.extend([files.config, files.credentials].iter().filter_map(parent));
        }
        dirs.extend(sections_dirs.iter().cloned());
        dirs.sort();
        dirs.dedup();
        dirs.retain(|d| d.as_path() != cache.dir());
        let temporaries: usize = dirs
            .iter()
            .map(|d| crate::secret_file::remove_stale_temporaries(d))
            .sum::<usize>()
            + cache.sweep();
        if temporaries > 0 {
            crate::say(&format!(
                "removed {temporaries} lock, record and temporary file{} left by earlier runs",
                if temporaries == 1 { "" } else { "s" }
            ));
        }
    }
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

/// The folder a file is in, resolved through a link at the file.
fn parent(path: &std::path::PathBuf) -> Option<std::path::PathBuf> {
    let real = std::fs::canonicalize(path).unwrap_or_else(|_| path.clone());
    real.parent()
        .filter(|d| !d.as_os_str().is_empty())
        .map(|d| d.to_path_buf())
}
