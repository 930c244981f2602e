//! Finding a program as `execvp` finds it, for `exec` and for the dialog
//! tools: below the commands, so that both can ask.

use std::ffi::OsString;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};

/// Where `program` would be found, searched as execvp searches: a name with
/// a `/` is taken as it is; otherwise each directory of `PATH` (or, with
/// `PATH` unset, the default `/bin:/usr/bin`) in turn, skipping files that
/// cannot be run. The error is NotFound, or PermissionDenied when only files
/// that cannot be run were found.
pub fn find_program(program: &OsString) -> std::io::Result<PathBuf> {
    let path = Path::new(program);
    if path.components().count() > 1 {
        return runnable(path).map(|()| path.to_path_buf());
    }
    let dirs = std::env::var_os("PATH").unwrap_or_else(|| DEFAULT_PATH.into());
    let mut denied = None;
    for dir in std::env::split_paths(&dirs) {
        for candidate in with_extensions(dir.join(program)) {
            match runnable(&candidate) {
                Ok(()) => return Ok(candidate),
                Err(e) if e.kind() == ErrorKind::PermissionDenied => denied = Some(e),
                Err(_) => {}
            }
        }
    }
    Err(denied.unwrap_or_else(|| ErrorKind::NotFound.into()))
}

/// The names a command may have on disk: on Windows `aws` is `aws.exe`.
fn with_extensions(path: PathBuf) -> Vec<PathBuf> {
    if cfg!(windows) && path.extension().is_none() {
        let exts = std::env::var("PATHEXT").unwrap_or_else(|_| ".COM;.EXE;.BAT;.CMD".to_owned());
        return exts
            .split(';')
            .filter(|e| !e.is_empty())
            .map(|e| path.with_extension(e.trim_start_matches('.')))
            .collect();
    }
    vec![path]
}

/// The search path execvp uses when `PATH` is unset (glibc's `_CS_PATH`).
const DEFAULT_PATH: &str = "/bin:/usr/bin";

/// Whether `path` is a file this process may execute.
fn runnable(path: &Path) -> std::io::Result<()> {
    let meta = std::fs::metadata(path)?;
    if !meta.is_file() {
        return Err(ErrorKind::PermissionDenied.into());
    }
    #[cfg(unix)]
    {
        use std::os::unix::ffi::OsStrExt;
        let c_path = std::ffi::CString::new(path.as_os_str().as_bytes())
            .map_err(|_| std::io::Error::from(ErrorKind::NotFound))?;
        // SAFETY: c_path is a valid NUL-terminated string.
        if unsafe { libc::access(c_path.as_ptr(), libc::X_OK) } != 0 {
            return Err(ErrorKind::PermissionDenied.into());
        }
    }
    Ok(())
}
