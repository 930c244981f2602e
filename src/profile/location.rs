//! Where the profile files are, and which profile is meant, from the
//! environment, as the AWS CLI and SDKs decide it.
//!
//! The decisions are pure functions of an environment lookup and the
//! platform, so that the SDKs' `file-location-tests.json` runs for Linux and
//! Windows on any machine.

/// An environment lookup: `None` for unset. Empty values count as unset.
pub type Lookup<'a> = &'a dyn Fn(&str) -> Option<String>;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Platform {
    Unix,
    Windows,
}

impl Platform {
    pub fn current() -> Platform {
        if cfg!(windows) {
            Platform::Windows
        } else {
            Platform::Unix
        }
    }

    fn separator(self) -> char {
        match self {
            Platform::Unix => '/',
            Platform::Windows => '\\',
        }
    }
}

/// Why a location cannot be decided.
#[derive(Debug, PartialEq, Eq)]
pub enum LocationError {
    /// No home directory, and the variable that would name the file is unset.
    NoHome { variable: &'static str },
}

/// The home directory as the SDKs find it: `HOME`; on Windows then
/// `USERPROFILE`, then `HOMEDRIVE` + `HOMEPATH`.
pub fn home(env: Lookup, platform: Platform) -> Option<String> {
    let get = |name: &str| env(name).filter(|v| !v.is_empty());
    get("HOME").or_else(|| match platform {
        Platform::Unix => None,
        Platform::Windows => get("USERPROFILE").or_else(|| {
            let drive = get("HOMEDRIVE")?;
            let path = get("HOMEPATH")?;
            Some(format!("{drive}{path}"))
        }),
    })
}

/// The config and credentials files: `AWS_CONFIG_FILE` and
/// `AWS_SHARED_CREDENTIALS_FILE` (expanded as the CLI expands them), else
/// `.aws/config` and `.aws/credentials` in the home directory.
pub fn files(env: Lookup, platform: Platform) -> Result<(String, String), LocationError> {
    let home = home(env, platform);
    let resolve = |variable: &'static str, file: &str| match env(variable).filter(|v| !v.is_empty())
    {
        Some(path) => Ok(expand(&path, env, home.as_deref(), platform)),
        None => {
            let home = home.as_deref().ok_or(LocationError::NoHome { variable })?;
            let sep = platform.separator();
            Ok(format!(
                "{}{sep}.aws{sep}{file}",
                home.trim_end_matches(sep)
            ))
        }
    };
    Ok((
        resolve("AWS_CONFIG_FILE", "config")?,
        resolve("AWS_SHARED_CREDENTIALS_FILE", "credentials")?,
    ))
}

/// `$NAME` and `${NAME}` replaced by set variables (others stay as they
/// are), then a leading `~` or `~user` replaced by a home directory: what
/// botocore does with `os.path.expandvars` and `os.path.expanduser`. On
/// Windows `%NAME%` is expanded too.
pub fn expand(path: &str, env: Lookup, home: Option<&str>, platform: Platform) -> String {
    let path = expand_variables(path, env, platform);
    expand_home(&path, home, platform)
}

fn expand_variables(path: &str, env: Lookup, platform: Platform) -> String {
    let word = |c: char| c.is_alphanumeric() || c == '_';
    let mut out = String::with_capacity(path.len());
    let mut rest = path;
    while let Some(at) = rest.find(['$', '%']) {
        out.push_str(&rest[..at]);
        let tail = &rest[at + 1..];
        let (name, len) = if rest[at..].starts_with('%') {
            if platform != Platform::Windows {
                out.push('%');
                rest = tail;
                continue;
            }
            match tail.find('%') {
                Some(end) if end > 0 => (&tail[..end], end + 1),
                _ => ("", 0),
            }
        } else if let Some(braced) = tail.strip_prefix('{') {
            match braced.find('}') {
                Some(end) => (&braced[..end], end + 2),
                None => ("", 0),
            }
        } else {
            let end = tail.find(|c: char| !word(c)).unwrap_or(tail.len());
            (&tail[..end], end)
        };
        match env(name).filter(|_| !name.is_empty()) {
            Some(value) => {
                out.push_str(&value);
                rest = &tail[len..];
            }
            None => {
                out.push_str(&rest[at..at + 1]);
                rest = tail;
            }
        }
    }
    out.push_str(rest);
    out
}

fn expand_home(path: &str, home: Option<&str>, platform: Platform) -> String {
    let Some(after) = path.strip_prefix('~') else {
        return path.to_owned();
    };
    let is_sep = |c: char| c == '/' || (platform == Platform::Windows && c == '\\');
    let end = after.find(is_sep).unwrap_or(after.len());
    let (user, rest) = after.split_at(end);
    let base = if user.is_empty() {
        home.map(str::to_owned)
    } else {
        user_home(user)
    };
    match base {
        Some(base) => {
            let base = base.trim_end_matches(is_sep);
            if base.is_empty() && rest.is_empty() {
                "/".to_owned()
            } else {
                format!("{base}{rest}")
            }
        }
        None => path.to_owned(),
    }
}

/// The home directory of another user, from the password database.
#[cfg(unix)]
fn user_home(user: &str) -> Option<String> {
    use std::ffi::{CStr, CString};
    let name = CString::new(user).ok()?;
    let mut buffer = vec![0 as libc::c_char; 16 * 1024];
    let mut entry: libc::passwd = unsafe { std::mem::zeroed() };
    let mut found: *mut libc::passwd = std::ptr::null_mut();
    // SAFETY: every pointer is valid for the call, and the buffer outlives
    // the use of `entry`'s fields below.
    let rc = unsafe {
        libc::getpwnam_r(
            name.as_ptr(),
            &mut entry,
            buffer.as_mut_ptr(),
            buffer.len(),
            &mut found,
        )
    };
    if rc != 0 || found.is_null() || entry.pw_dir.is_null() {
        return None;
    }
    // SAFETY: pw_dir points into `buffer`, NUL-terminated by getpwnam_r.
    let dir = unsafe { CStr::from_ptr(entry.pw_dir) };
    dir.to_str().ok().map(str::to_owned)
}

#[cfg(not(unix))]
fn user_home(_user: &str) -> Option<String> {
    None
}

/// The profile the environment names: `AWS_DEFAULT_PROFILE` or
/// `AWS_PROFILE` (the CLI reads both), else `default`. Both set to
/// different names is an error that names both.
pub fn profile_name(env: Lookup) -> Result<String, (String, String)> {
    let get = |name: &str| env(name).filter(|v| !v.is_empty());
    match (get("AWS_DEFAULT_PROFILE"), get("AWS_PROFILE")) {
        (Some(a), Some(b)) if a != b => Err((a, b)),
        (Some(name), _) | (None, Some(name)) => Ok(name),
        (None, None) => Ok("default".to_owned()),
    }
}

/// The process's environment as a [`Lookup`]; a value that is not UTF-8
/// counts as unset here (callers that must refuse such values check first).
pub fn process_env(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn lookup(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |name| map.get(name).cloned()
    }

    #[test]
    fn expansion_as_botocore() {
        let env = lookup(&[("HOME", "/home/u"), ("DIR", "/d"), ("X_1", "x")]);
        let home = Some("/home/u");
        let unix = Platform::Unix;
        for (input, expected) in [
            ("~/.aws/config", "/home/u/.aws/config"),
            ("~", "/home/u"),
            ("$DIR/config", "/d/config"),
            ("${DIR}/config", "/d/config"),
            ("$X_1-y", "x-y"),
            ("$NOPE/config", "$NOPE/config"),
            ("${NOPE}/a", "${NOPE}/a"),
            ("${DIR", "${DIR"),
            ("a$", "a$"),
            ("%DIR%/x", "%DIR%/x"),
            ("/a/~/b", "/a/~/b"),
            ("~nosuchuser-mfa/x", "~nosuchuser-mfa/x"),
        ] {
            assert_eq!(expand(input, &env, home, unix), expected, "{input}");
        }
        // Variables first, then the home: `$V` may hold a `~`.
        let env = lookup(&[("V", "~/x")]);
        assert_eq!(expand("$V/c", &env, home, unix), "/home/u/x/c");
        #[cfg(target_os = "linux")]
        assert_eq!(expand("~root/c", &env, home, unix), "/root/c");
        let env = lookup(&[("D", "C:\\d")]);
        assert_eq!(
            expand("%D%\\c", &env, Some("C:\\h"), Platform::Windows),
            "C:\\d\\c"
        );
        assert_eq!(
            expand("~\\c", &env, Some("C:\\h\\"), Platform::Windows),
            "C:\\h\\c"
        );
    }

    #[test]
    fn profile_names() {
        assert_eq!(profile_name(&lookup(&[])), Ok("default".to_owned()));
        assert_eq!(
            profile_name(&lookup(&[("AWS_PROFILE", "a")])),
            Ok("a".to_owned())
        );
        assert_eq!(
            profile_name(&lookup(&[
                ("AWS_DEFAULT_PROFILE", "a"),
                ("AWS_PROFILE", "")
            ])),
            Ok("a".to_owned())
        );
        assert_eq!(
            profile_name(&lookup(&[
                ("AWS_DEFAULT_PROFILE", "a"),
                ("AWS_PROFILE", "a")
            ])),
            Ok("a".to_owned())
        );
        assert_eq!(
            profile_name(&lookup(&[
                ("AWS_DEFAULT_PROFILE", "a"),
                ("AWS_PROFILE", "b")
            ])),
            Err(("a".to_owned(), "b".to_owned()))
        );
    }

    #[test]
    fn no_home() {
        assert_eq!(
            files(&lookup(&[]), Platform::Unix),
            Err(LocationError::NoHome {
                variable: "AWS_CONFIG_FILE"
            })
        );
        let env = lookup(&[
            ("AWS_CONFIG_FILE", "/c"),
            ("AWS_SHARED_CREDENTIALS_FILE", "/k"),
        ]);
        assert_eq!(
            files(&env, Platform::Unix),
            Ok(("/c".to_owned(), "/k".to_owned()))
        );
    }
}
