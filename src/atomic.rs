//! Replacing a file whole, so that a reader (another terminal, an SDK) sees
//! the old contents or the new ones, never half of either.

use std::io::{self, Write};
use std::path::Path;

/// Writes `contents` to a temporary file beside `path` (mode 0600 on Unix:
/// tempfile creates it so), flushes it to disk, and renames it over `path`.
/// The temporary name starts with `.tmp-`; a crash can leave one behind, never
/// a truncated `path`.
pub fn replace(path: &Path, contents: &[u8]) -> io::Result<()> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let mut temp = tempfile::Builder::new().prefix(".tmp-").tempfile_in(dir)?;
    temp.write_all(contents)?;
    temp.as_file().sync_all()?;
    temp.persist(path).map_err(|e| e.error)?;
    Ok(())
}
