//! The AWS profile files: `~/.aws/config` and `~/.aws/credentials`.
//!
//! mfa-session reads these itself instead of going through the SDK's default
//! credential chain, for three reasons:
//! - the chain looks at `AWS_ACCESS_KEY_ID` / `AWS_SESSION_TOKEN` first, and a
//!   stale session left in the shell by an earlier run would then be used to
//!   ask for the next session, which AWS refuses;
//! - the chain falls through to instance metadata, which on a laptop means a
//!   long time-out and a confusing error;
//! - a user who mistyped a profile name, or whose file has a broken line,
//!   deserves an error that names the file and the line.
//!
//! The syntax follows what the AWS CLI and SDKs accept: `[default]` and
//! `[profile NAME]` sections in the config file, `[NAME]` in the credentials
//! file, `key = value` properties with case-insensitive keys, `#` and `;`
//! comments (inline ones need white space before them), and indented
//! continuation lines. Where both files set a key, the credentials file wins.

use std::collections::BTreeMap;
use std::fmt;
use std::io;
use std::path::{Path, PathBuf};

use anyhow::{Result, bail};

use crate::error::{Failure, io_reason};

/// Where the two profile files are.
#[derive(Clone, Debug)]
pub struct ProfileFiles {
    pub config: PathBuf,
    pub credentials: PathBuf,
}

impl ProfileFiles {
    /// The files the AWS CLI would read: `AWS_CONFIG_FILE` and
    /// `AWS_SHARED_CREDENTIALS_FILE`, else `~/.aws/config` and `~/.aws/credentials`.
    pub fn locate() -> Result<ProfileFiles> {
        let home = home_dir();
        let resolve = |var: &str, default: &str| -> Result<PathBuf> {
            match std::env::var_os(var).filter(|v| !v.is_empty()) {
                Some(path) => Ok(expand_tilde(Path::new(&path), home.as_deref())),
                None => match &home {
                    Some(home) => Ok(home.join(".aws").join(default)),
                    None => Err(Failure::new(format!(
                        "cannot find the AWS {default} file: HOME is not set"
                    ))
                    .hint(format!("set HOME, or point {var} at the file"))
                    .into()),
                },
            }
        };
        Ok(ProfileFiles {
            config: resolve("AWS_CONFIG_FILE", "config")?,
            credentials: resolve("AWS_SHARED_CREDENTIALS_FILE", "credentials")?,
        })
    }
}

pub fn home_dir() -> Option<PathBuf> {
    let var = if cfg!(windows) { "USERPROFILE" } else { "HOME" };
    std::env::var_os(var)
        .filter(|h| !h.is_empty())
        .map(PathBuf::from)
}

fn expand_tilde(path: &Path, home: Option<&Path>) -> PathBuf {
    if let (Ok(rest), Some(home)) = (path.strip_prefix("~"), home) {
        return home.join(rest);
    }
    path.to_path_buf()
}

/// One property value and where it was found.
#[derive(Clone, PartialEq, Eq)]
pub struct Setting {
    pub value: String,
    pub file: PathBuf,
    pub line: usize,
}

impl Drop for Setting {
    fn drop(&mut self) {
        // Any value may be a secret key; wiping all of them costs nothing.
        zeroize::Zeroize::zeroize(&mut self.value);
    }
}

impl fmt::Debug for Setting {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Values can be secret keys; never print them through Debug.
        write!(f, "Setting({}:{})", self.file.display(), self.line)
    }
}

/// A named profile, merged from both files.
#[derive(Clone, Debug)]
pub struct Profile {
    pub name: String,
    settings: BTreeMap<String, Setting>,
    /// The `[services NAME]` section the profile names with `services = NAME`:
    /// `sts.endpoint_url` and the like.
    services: BTreeMap<String, Setting>,
}

/// The long-term access key of an IAM user. Debug never shows the secret.
#[derive(Clone)]
pub struct LongTermKey {
    pub access_key_id: String,
    pub secret_access_key: String,
}

impl Drop for LongTermKey {
    fn drop(&mut self) {
        zeroize::Zeroize::zeroize(&mut self.secret_access_key);
    }
}

impl fmt::Debug for LongTermKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "LongTermKey({}, ****)", self.access_key_id)
    }
}

impl Profile {
    pub fn get(&self, key: &str) -> Option<&Setting> {
        self.settings.get(key)
    }

    /// A setting of one service from the profile's `services` section, such
    /// as `("sts", "endpoint_url")`.
    pub fn service_setting(&self, service: &str, key: &str) -> Option<&Setting> {
        self.services
            .get(&format!("{service}.{key}"))
            .filter(|s| !s.value.trim().is_empty())
    }

    /// A setting's value with surrounding white space removed, if non-empty.
    pub fn value(&self, key: &str) -> Option<&str> {
        self.get(key)
            .map(|s| s.value.trim())
            .filter(|v| !v.is_empty())
    }

    /// The IAM user's long-term key: both halves present, and not a session.
    pub fn long_term_key(&self) -> Result<LongTermKey> {
        let name = &self.name;
        let id = self.get("aws_access_key_id");
        let secret = self.get("aws_secret_access_key");
        let (id, secret) = match (id, secret) {
            (Some(id), Some(secret)) => (id, secret),
            (Some(id), None) => {
                bail!(Failure::new(format!(
                    "profile '{name}' has aws_access_key_id but no aws_secret_access_key ({}:{})",
                    id.file.display(),
                    id.line
                ))
                .hint("add the secret key to the profile, e.g. with: aws configure --profile NAME"))
            }
            (None, Some(secret)) => {
                bail!(Failure::new(format!(
                    "profile '{name}' has aws_secret_access_key but no aws_access_key_id ({}:{})",
                    secret.file.display(),
                    secret.line
                ))
                .hint("add the access key id to the profile, e.g. with: aws configure --profile NAME"))
            }
            (None, None) => {
                let how = [
                    "role_arn",
                    "source_profile",
                    "credential_process",
                    "sso_session",
                    "sso_start_url",
                ]
                .into_iter()
                .find(|k| self.get(k).is_some());
                let message = match how {
                    Some(key) => format!(
                        "profile '{name}' has no long-term access key (it gets credentials through {key})"
                    ),
                    None => format!(
                        "profile '{name}' has no aws_access_key_id and aws_secret_access_key"
                    ),
                };
                bail!(Failure::new(message).hint(
                    "name the profile that holds the IAM user's access key (AKIA...), or add one with: aws configure --profile NAME"
                ))
            }
        };
        if let Some(token) = self
            .get("aws_session_token")
            .or_else(|| self.get("aws_security_token"))
        {
            bail!(Failure::new(format!(
                "profile '{name}' holds session credentials (aws_session_token at {}:{}), not a long-term access key",
                token.file.display(),
                token.line
            ))
            .hint("GetSessionToken needs the IAM user's long-term key (AKIA...): name the profile that holds it"));
        }
        let access_key_id = id.value.trim().to_owned();
        let secret_access_key = secret.value.trim().to_owned();
        if access_key_id.starts_with("ASIA") {
            bail!(Failure::new(format!(
                "profile '{name}' holds a temporary access key (ASIA..., {}:{}), not a long-term one",
                id.file.display(),
                id.line
            ))
            .hint("GetSessionToken needs the IAM user's long-term key (AKIA...): name the profile that holds it"));
        }
        if access_key_id.is_empty() || secret_access_key.is_empty() {
            bail!(Failure::new(format!(
                "profile '{name}' has an empty access key ({}:{})",
                id.file.display(),
                id.line
            )));
        }
        Ok(LongTermKey {
            access_key_id,
            secret_access_key,
        })
    }
}

/// Reads both files and returns the profile `name`.
pub fn load_profile(files: &ProfileFiles, name: &str) -> Result<Profile> {
    let config = read_file(&files.config, FileKind::Config)?;
    let credentials = read_file(&files.credentials, FileKind::Credentials)?;
    if config.is_none() && credentials.is_none() {
        bail!(Failure::new(format!(
            "no AWS profile files: neither {} nor {} exists",
            files.credentials.display(),
            files.config.display()
        ))
        .hint("create them with: aws configure --profile NAME (or set AWS_SHARED_CREDENTIALS_FILE / AWS_CONFIG_FILE)"));
    }
    let mut settings = BTreeMap::new();
    let mut found = false;
    // Config first, so that the credentials file overrides it.
    for sections in [&config, &credentials].into_iter().flatten() {
        let profiles = sections.iter().filter(|s| s.kind == SectionKind::Profile);
        for section in profiles.filter(|s| s.name == name) {
            found = true;
            for (key, setting) in &section.properties {
                settings.insert(key.clone(), setting.clone());
            }
        }
    }
    if !found {
        let mut known: Vec<&str> = [&config, &credentials]
            .into_iter()
            .flatten()
            .flatten()
            .filter(|s| s.kind == SectionKind::Profile)
            .map(|s| s.name.as_str())
            .collect();
        known.sort_unstable();
        known.dedup();
        let hint = if known.is_empty() {
            "the files define no profiles; add one with: aws configure --profile NAME".to_owned()
        } else {
            format!("profiles found: {}", known.join(", "))
        };
        bail!(
            Failure::new(format!(
                "profile '{name}' not found in {} or {}",
                files.credentials.display(),
                files.config.display()
            ))
            .hint(hint)
        );
    }
    let services = match settings.get("services") {
        Some(setting) => services_section(config.as_deref().unwrap_or_default(), name, setting)?,
        None => BTreeMap::new(),
    };
    Ok(Profile {
        name: name.to_owned(),
        settings,
        services,
    })
}

/// The settings of the `[services NAME]` section that `setting` names.
fn services_section(
    config: &[Section],
    profile: &str,
    setting: &Setting,
) -> Result<BTreeMap<String, Setting>> {
    let wanted = setting.value.trim();
    let mut found = config
        .iter()
        .filter(|s| s.kind == SectionKind::Services && s.name == wanted)
        .peekable();
    if found.peek().is_none() {
        bail!(
            Failure::new(format!(
                "profile '{profile}' names services '{wanted}' ({}:{}), but the config file has no [services {wanted}] section",
                setting.file.display(),
                setting.line
            ))
            .hint(format!("add [services {wanted}] to the config file, or remove the services line"))
        );
    }
    let mut settings = BTreeMap::new();
    for section in found {
        for (key, setting) in &section.properties {
            settings.insert(key.clone(), setting.clone());
        }
    }
    Ok(settings)
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum SectionKind {
    Profile,
    /// `[services NAME]`: per-service settings, as sub-properties.
    Services,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum FileKind {
    Config,
    Credentials,
}

#[derive(Debug)]
struct Section {
    kind: SectionKind,
    name: String,
    /// Properties, and the sub-properties of indented blocks as
    /// `parent.key` (`sts.endpoint_url`).
    properties: Vec<(String, Setting)>,
}

/// Reads and parses one file; `None` when it does not exist.
fn read_file(path: &Path, kind: FileKind) -> Result<Option<Vec<Section>>> {
    let bytes = match std::fs::read(path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => bail!(Failure::new(format!(
            "cannot read {}: {}",
            path.display(),
            io_reason(&e)
        ))),
    };
    let Ok(text) = String::from_utf8(bytes) else {
        bail!(Failure::new(format!(
            "cannot read {}: it is not UTF-8 text",
            path.display()
        )));
    };
    parse(&text, path, kind).map(Some)
}

fn parse(text: &str, path: &Path, kind: FileKind) -> Result<Vec<Section>> {
    let mut sections: Vec<Section> = Vec::new();
    // Whether properties go into the last section (false for sections this
    // tool does not read, such as [sso-session x] or [plugins]).
    let mut in_kept_section = false;
    let mut in_any_section = false;
    let mut last_key: Option<String> = None;
    let malformed = |line: usize, what: &str| -> anyhow::Error {
        Failure::new(format!("malformed {}:{line}: {what}", path.display()))
            .hint("fix the line, or check the file with: aws configure list")
            .into()
    };

    for (index, raw) in text.lines().enumerate() {
        let line_no = index + 1;
        let line = raw.strip_prefix('\u{feff}').unwrap_or(raw);
        let trimmed = line.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') || trimmed.starts_with(';') {
            continue;
        }
        let indented = line.starts_with([' ', '\t']);

        if indented {
            // A continuation of the previous property's value.
            if !in_any_section {
                return Err(malformed(line_no, "an indented line before any [section]"));
            }
            let Some(key) = &last_key else {
                return Err(malformed(
                    line_no,
                    "an indented line that continues no property",
                ));
            };
            let Some(section) = sections.last_mut().filter(|_| in_kept_section) else {
                continue;
            };
            if let Some((_, setting)) = section.properties.iter_mut().rev().find(|(k, _)| k == key)
            {
                setting.value.push('\n');
                setting.value.push_str(trimmed);
            }
            if let Some((sub, value)) = trimmed.split_once('=') {
                let sub = format!("{key}.{}", sub.trim().to_ascii_lowercase());
                section.properties.push((
                    sub,
                    Setting {
                        value: strip_inline_comment(value).trim().to_owned(),
                        file: path.to_path_buf(),
                        line: line_no,
                    },
                ));
            }
            continue;
        }

        if let Some(rest) = trimmed.strip_prefix('[') {
            let Some(end) = rest.find(']') else {
                return Err(malformed(line_no, "a section header without a closing ']'"));
            };
            let after = rest[end + 1..].trim();
            if !(after.is_empty() || after.starts_with('#') || after.starts_with(';')) {
                return Err(malformed(line_no, "text after a section header"));
            }
            let header = rest[..end].trim();
            in_any_section = true;
            last_key = None;
            match section_name(header, kind) {
                Some((kind, name)) => {
                    in_kept_section = true;
                    sections.push(Section {
                        kind,
                        name,
                        properties: Vec::new(),
                    });
                }
                None => in_kept_section = false,
            }
            continue;
        }

        let Some((key, value)) = trimmed.split_once('=') else {
            return Err(malformed(
                line_no,
                "expected 'key = value' or a [section] header",
            ));
        };
        if !in_any_section {
            return Err(malformed(line_no, "a property before any [section] header"));
        }
        let key = key.trim().to_ascii_lowercase();
        if key.is_empty() {
            return Err(malformed(line_no, "a property without a name"));
        }
        last_key = Some(key.clone());
        if in_kept_section {
            let value = strip_inline_comment(value).trim().to_owned();
            if let Some(section) = sections.last_mut() {
                section.properties.push((
                    key,
                    Setting {
                        value,
                        file: path.to_path_buf(),
                        line: line_no,
                    },
                ));
            }
        }
    }
    Ok(sections)
}

/// The profile or services section a header names, or None for other kinds
/// of section.
fn section_name(header: &str, kind: FileKind) -> Option<(SectionKind, String)> {
    match kind {
        FileKind::Credentials => {
            Some((SectionKind::Profile, header.to_owned())).filter(|(_, h)| !h.is_empty())
        }
        FileKind::Config => {
            if header == "default" {
                return Some((SectionKind::Profile, "default".to_owned()));
            }
            let (kind, rest) = match header.strip_prefix("profile") {
                Some(rest) => (SectionKind::Profile, rest),
                None => (SectionKind::Services, header.strip_prefix("services")?),
            };
            if !rest.starts_with([' ', '\t']) {
                return None;
            }
            Some((kind, rest.trim().to_owned())).filter(|(_, n)| !n.is_empty())
        }
    }
}

/// Cuts a `#` or `;` comment that follows white space.
fn strip_inline_comment(value: &str) -> &str {
    let bytes = value.as_bytes();
    for i in 1..bytes.len() {
        if (bytes[i] == b'#' || bytes[i] == b';') && (bytes[i - 1] == b' ' || bytes[i - 1] == b'\t')
        {
            return &value[..i];
        }
    }
    value
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sections(text: &str, kind: FileKind) -> Vec<Section> {
        parse(text, Path::new("/f"), kind).unwrap()
    }

    #[test]
    fn config_sections() {
        let s = sections(
            "# top\n[default]\nregion = eu-west-1\n[profile work] ; c\nmfa_serial=arn:aws:iam::1:mfa/a # note\n\
             [sso-session x]\nsso_region = us-east-1\n[profilex]\nk=v\n",
            FileKind::Config,
        );
        let names: Vec<_> = s.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["default", "work"]);
        assert_eq!(s[1].properties[0].0, "mfa_serial");
        assert_eq!(s[1].properties[0].1.value, "arn:aws:iam::1:mfa/a");
        assert_eq!(s[1].properties[0].1.line, 5);
    }

    #[test]
    fn credentials_sections_and_case_insensitive_keys() {
        let s = sections(
            "[work]\nAWS_Access_Key_ID = AKIA1\naws_secret_access_key=abc#def\n",
            FileKind::Credentials,
        );
        assert_eq!(s[0].name, "work");
        assert_eq!(s[0].properties[0].0, "aws_access_key_id");
        // A '#' without white space before it is part of the value.
        assert_eq!(s[0].properties[1].1.value, "abc#def");
    }

    #[test]
    fn continuation_lines() {
        let s = sections(
            "[default]\ns3 =\n  max_concurrent_requests = 10\nregion = x\n",
            FileKind::Config,
        );
        let get = |key: &str| &s[0].properties.iter().find(|(k, _)| k == key).unwrap().1;
        assert_eq!(get("s3").value, "\nmax_concurrent_requests = 10");
        assert_eq!(get("s3.max_concurrent_requests").value, "10");
        assert_eq!(get("s3.max_concurrent_requests").line, 3);
        assert_eq!(get("region").value, "x");
    }

    #[test]
    fn malformed_lines_name_file_and_line() {
        for (text, line) in [
            ("[default]\nnot a property\n", 2),
            ("[default\n", 1),
            ("key = value\n", 1),
            ("[default] junk\n", 1),
            ("  indented\n", 1),
        ] {
            let err = parse(text, Path::new("/f"), FileKind::Config).unwrap_err();
            assert!(
                err.to_string()
                    .starts_with(&format!("malformed /f:{line}: ")),
                "{err}"
            );
        }
    }

    #[test]
    fn merge_and_key_rules() {
        let dir = tempfile::tempdir().unwrap();
        let files = ProfileFiles {
            config: dir.path().join("config"),
            credentials: dir.path().join("credentials"),
        };
        std::fs::write(
            &files.config,
            "[profile a]\nregion = r1\naws_access_key_id = OLD\n",
        )
        .unwrap();
        std::fs::write(
            &files.credentials,
            "[a]\naws_access_key_id = AKIANEW\naws_secret_access_key = s\n[b]\naws_access_key_id = AKIA\n\
             [c]\naws_access_key_id = ASIAX\naws_secret_access_key = s\n\
             [d]\naws_access_key_id = AKIA\naws_secret_access_key = s\naws_session_token = t\n",
        )
        .unwrap();
        let a = load_profile(&files, "a").unwrap();
        assert_eq!(a.value("region"), Some("r1"));
        let key = a.long_term_key().unwrap();
        assert_eq!(key.access_key_id, "AKIANEW");
        assert_eq!(format!("{key:?}"), "LongTermKey(AKIANEW, ****)");

        let err = load_profile(&files, "b")
            .unwrap()
            .long_term_key()
            .unwrap_err();
        assert!(
            err.to_string().contains("no aws_secret_access_key"),
            "{err}"
        );
        let err = load_profile(&files, "c")
            .unwrap()
            .long_term_key()
            .unwrap_err();
        assert!(err.to_string().contains("temporary access key"), "{err}");
        let err = load_profile(&files, "d")
            .unwrap()
            .long_term_key()
            .unwrap_err();
        assert!(
            err.to_string().contains("holds session credentials"),
            "{err}"
        );

        let err = load_profile(&files, "zzz").unwrap_err();
        assert!(
            err.to_string().starts_with("profile 'zzz' not found in "),
            "{err}"
        );
        let report = crate::error::Report::new(&err);
        assert_eq!(report.hint.as_deref(), Some("profiles found: a, b, c, d"));
    }

    #[test]
    fn no_files_at_all() {
        let dir = tempfile::tempdir().unwrap();
        let files = ProfileFiles {
            config: dir.path().join("config"),
            credentials: dir.path().join("credentials"),
        };
        let err = load_profile(&files, "default").unwrap_err();
        assert!(err.to_string().starts_with("no AWS profile files"), "{err}");
    }

    #[test]
    fn tilde() {
        assert_eq!(
            expand_tilde(Path::new("~/x/config"), Some(Path::new("/home/u"))),
            PathBuf::from("/home/u/x/config")
        );
        assert_eq!(
            expand_tilde(Path::new("~x"), Some(Path::new("/h"))),
            PathBuf::from("~x")
        );
    }
}
