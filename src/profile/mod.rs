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
//! The files mean what they mean to the AWS CLI, or are refused with the line
//! and the fix ([`syntax`] has the line rules):
//! - a profile is merged from both files, the credentials file winning key by
//!   key; in the config file `[profile default]` wins over `[default]`, which
//!   is then ignored whole (the SDKs' rule);
//! - the access key pair comes from one file, the credentials file first;
//!   an id in one file and its secret in the other is "partial credentials";
//! - a profile that gets credentials some other way (role, SSO, process, web
//!   identity) is refused by name even when old static keys are left in it.

pub mod location;
pub mod syntax;

use std::collections::BTreeMap;
use std::fmt;
use std::io;
use std::path::{Path, PathBuf};

use anyhow::{Result, bail};

use crate::error::{Failure, io_reason};
use location::{LocationError, Platform};
use syntax::{Document, FileKind, Header, Section};

/// Where the two profile files are.
#[derive(Clone, Debug)]
pub struct ProfileFiles {
    pub config: PathBuf,
    pub credentials: PathBuf,
}

impl ProfileFiles {
    /// The files the AWS CLI would read: `AWS_CONFIG_FILE` and
    /// `AWS_SHARED_CREDENTIALS_FILE` (`~`, `$VAR` and `${VAR}` expanded),
    /// else `~/.aws/config` and `~/.aws/credentials`.
    pub fn locate() -> Result<ProfileFiles> {
        match location::files(&location::process_env, Platform::current()) {
            Ok((config, credentials)) => Ok(ProfileFiles {
                config: PathBuf::from(config),
                credentials: PathBuf::from(credentials),
            }),
            Err(LocationError::NoHome { variable }) => Err(Failure::new(
                "cannot find the AWS profile files: HOME is not set",
            )
            .hint(format!("set HOME, or point {variable} at the file"))
            .into()),
        }
    }
}

/// One property value and where it was found.
#[derive(Clone, PartialEq, Eq)]
pub struct Setting {
    pub value: String,
    pub file: PathBuf,
    pub line: usize,
}

impl Setting {
    /// `FILE:LINE`, for messages.
    pub fn place(&self) -> String {
        self.origin().to_string()
    }

    pub fn origin(&self) -> crate::origin::Origin {
        crate::origin::Origin::File {
            path: self.file.clone(),
            line: self.line,
        }
    }
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
        write!(f, "Setting({})", self.place())
    }
}

/// The key settings one file holds for a profile.
#[derive(Clone, Debug, Default)]
struct Keys {
    id: Option<Setting>,
    secret: Option<Setting>,
    token: Option<Setting>,
}

impl Keys {
    fn of(properties: &BTreeMap<String, Setting>) -> Keys {
        Keys {
            id: properties.get("aws_access_key_id").cloned(),
            secret: properties.get("aws_secret_access_key").cloned(),
            token: properties
                .get("aws_session_token")
                .or_else(|| properties.get("aws_security_token"))
                .cloned(),
        }
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
    /// The keys of the credentials file, then of the config file.
    keys: [Keys; 2],
}

/// The long-term access key of an IAM user. Debug never shows the secret.
#[derive(Clone)]
pub struct LongTermKey {
    pub access_key_id: String,
    pub secret_access_key: String,
    /// Where the key id was found.
    pub origin: crate::origin::Origin,
    /// Where the key lives, to write a new one to.
    pub store: KeyStore,
}

/// Where a long-term key lives.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KeyStore {
    /// A profile file: the credentials file or the config file.
    File(PathBuf),
    /// The operating system's keyring (`mfa_session_key = keyring`).
    Keyring,
}

/// Where a profile's key is to be read from, before it is read.
#[derive(Debug, PartialEq, Eq)]
pub enum KeyPlace<'a> {
    /// The profile files' `aws_access_key_id` and `aws_secret_access_key`.
    Files,
    /// The keyring, as the marker at this setting says; with the file key
    /// that the marker overrides, if there is one.
    Keyring {
        marker: &'a Setting,
        overridden: Option<&'a Setting>,
    },
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

/// Keys whose presence means the AWS CLI gets this profile's credentials
/// some other way than a static key, and what to call that way.
const ELSEWHERE: [(&str, &str); 7] = [
    ("role_arn", "assumes a role"),
    ("sso_session", "signs in through IAM Identity Center"),
    ("sso_start_url", "signs in through IAM Identity Center"),
    ("sso_account_id", "signs in through IAM Identity Center"),
    ("credential_process", "gets credentials from a process"),
    ("credential_source", "gets credentials from its environment"),
    (
        "web_identity_token_file",
        "gets credentials from a web identity token",
    ),
];

/// Keys this tool reads, whose value must fit on one line.
const ONE_LINE: [&str; 14] = [
    "mfa_session_key",
    "aws_access_key_id",
    "aws_secret_access_key",
    "aws_session_token",
    "aws_security_token",
    "region",
    "mfa_serial",
    "duration_seconds",
    "endpoint_url",
    "services",
    "ignore_configured_endpoint_urls",
    "role_arn",
    "source_profile",
    "credential_process",
];

/// The settings mfa-session reads from a profile, by name: code outside
/// this module asks for them typed, never by string.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Key {
    Region,
    MfaSerial,
    MfaProcess,
    DurationSeconds,
    RoleArn,
    SourceProfile,
    RoleSessionName,
    ExternalId,
    EndpointUrl,
    IgnoreConfiguredEndpointUrls,
    CredentialSource,
    WebIdentityTokenFile,
}

impl Key {
    #[cfg(test)]
    const ALL: [Key; 12] = [
        Key::Region,
        Key::MfaSerial,
        Key::MfaProcess,
        Key::DurationSeconds,
        Key::RoleArn,
        Key::SourceProfile,
        Key::RoleSessionName,
        Key::ExternalId,
        Key::EndpointUrl,
        Key::IgnoreConfiguredEndpointUrls,
        Key::CredentialSource,
        Key::WebIdentityTokenFile,
    ];

    /// The key as the files spell it.
    pub fn name(self) -> &'static str {
        match self {
            Key::Region => "region",
            Key::MfaSerial => "mfa_serial",
            Key::MfaProcess => "mfa_process",
            Key::DurationSeconds => "duration_seconds",
            Key::RoleArn => "role_arn",
            Key::SourceProfile => "source_profile",
            Key::RoleSessionName => "role_session_name",
            Key::ExternalId => "external_id",
            Key::EndpointUrl => "endpoint_url",
            Key::IgnoreConfiguredEndpointUrls => "ignore_configured_endpoint_urls",
            Key::CredentialSource => "credential_source",
            Key::WebIdentityTokenFile => "web_identity_token_file",
        }
    }
}

impl Profile {
    /// A setting, with where it was set.
    pub fn get(&self, key: Key) -> Option<&Setting> {
        self.setting(key.name())
    }

    fn setting(&self, key: &str) -> Option<&Setting> {
        self.settings.get(key)
    }

    /// The service's `endpoint_url` from the profile's `services` section.
    pub fn service_endpoint(&self, service: &str) -> Option<&Setting> {
        self.services
            .get(&format!("{service}.endpoint_url"))
            .filter(|s| !s.value.trim().is_empty())
    }

    /// A setting's value with surrounding white space removed, if non-empty.
    pub fn value(&self, key: Key) -> Option<&str> {
        self.get(key)
            .map(|s| s.value.trim())
            .filter(|v| !v.is_empty())
    }

    /// A non-empty setting's trimmed value with where it was set.
    pub fn sourced(&self, key: Key) -> Option<crate::origin::Sourced<String>> {
        self.get(key)
            .filter(|s| !s.value.trim().is_empty())
            .map(|s| crate::origin::Sourced::new(s.value.trim().to_owned(), s.origin()))
    }

    /// The IAM user's long-term key, as the AWS CLI would choose it for this
    /// profile: refused when the profile gets credentials another way, else
    /// the pair from the credentials file, else from the config file.
    pub fn long_term_key(&self) -> Result<LongTermKey> {
        let name = &self.name;
        let [in_credentials, in_config] = &self.keys;
        // botocore looks at the credentials file's static key before a
        // credential_process, and at credential_process before a key in the
        // config file; the SDKs take a static key first wherever it is.
        // Where all of them take the key, so does mfa-session.
        let process_loses = in_credentials.id.is_some();
        if let Some((key, how, setting)) = ELSEWHERE
            .iter()
            .filter(|(key, _)| !(process_loses && *key == "credential_process"))
            .find_map(|(key, how)| self.setting(key).map(|s| (key, how, s)))
        {
            let left = if *key == "credential_process" && in_config.id.is_some() {
                " (the AWS CLI runs it before it looks at the static key in the config file)"
            } else if self.keys.iter().any(|k| k.id.is_some()) {
                " (the AWS CLI uses it, not the static key the profile also holds)"
            } else {
                ""
            };
            bail!(Failure::new(format!(
                "profile '{name}' {how}: {key} at {}{left}",
                setting.place()
            ))
            .hint(
                "mfa-session needs an IAM user's long-term access key (AKIA...): name the profile that holds one"
            ));
        }
        self.static_key()
    }

    /// Whether either file holds an access key id for this profile, or the
    /// profile says its key is in the keyring.
    pub fn has_static_key(&self) -> bool {
        self.keys.iter().any(|k| k.id.is_some())
            || matches!(self.key_place(), Ok(KeyPlace::Keyring { .. }))
    }

    /// Where the key pair is read from: the keyring when the profile says
    /// `mfa_session_key = keyring` (whatever the files hold), else the files.
    /// Another value of the marker is refused.
    pub fn key_place(&self) -> Result<KeyPlace<'_>> {
        use crate::key_store::{MARKER, MARKER_VALUE};
        let Some(marker) = self.setting(MARKER) else {
            return Ok(KeyPlace::Files);
        };
        let value = marker.value.trim();
        if value.eq_ignore_ascii_case(MARKER_VALUE) {
            let overridden = self.keys.iter().find_map(|k| k.id.as_ref());
            return Ok(KeyPlace::Keyring { marker, overridden });
        }
        if value.eq_ignore_ascii_case("file") || value.is_empty() {
            return Ok(KeyPlace::Files);
        }
        bail!(Failure::new(format!(
            "profile '{}' has {MARKER} = {value} ({}): it must be {MARKER_VALUE} or file",
            self.name,
            marker.place()
        )))
    }

    /// The first key that says where this profile's credentials come from
    /// other than a static key or a role: SSO, a process, the environment,
    /// a web identity token.
    pub fn other_source(&self) -> Option<(&'static str, &'static str, &Setting)> {
        ELSEWHERE
            .iter()
            .filter(|(key, _)| *key != "role_arn")
            .find_map(|(key, how)| self.setting(key).map(|s| (*key, *how, s)))
    }

    /// The static key pair, whatever else the profile says: what a source
    /// profile with static keys gives (the SDKs' rule).
    pub fn static_key(&self) -> Result<LongTermKey> {
        if let KeyPlace::Keyring { marker, overridden } = self.key_place()? {
            return keyring_key(&self.name, marker, overridden);
        }
        self.file_key()
    }

    /// The key pair in the profile files, whatever the marker says (`keys`
    /// compares it with the keyring's to finish an interrupted move).
    pub fn file_key(&self) -> Result<LongTermKey> {
        let name = &self.name;
        let [credentials, config] = &self.keys;
        let keys = if credentials.id.is_some() {
            credentials
        } else if config.id.is_some() {
            config
        } else {
            let stray = credentials.secret.as_ref().or(config.secret.as_ref());
            if let Some(secret) = stray {
                bail!(Failure::new(format!(
                    "profile '{name}' has aws_secret_access_key but no aws_access_key_id ({})",
                    secret.place()
                ))
                .hint("add the access key id to the profile, e.g. with: aws configure --profile NAME"));
            }
            bail!(Failure::new(format!(
                "profile '{name}' has no aws_access_key_id and aws_secret_access_key"
            ))
            .hint(
                "name the profile that holds the IAM user's access key (AKIA...), or add one with: aws configure --profile NAME"
            ));
        };
        let id = keys.id.as_ref().expect("chosen for its id");
        let Some(secret) = &keys.secret else {
            let elsewhere = [credentials, config]
                .into_iter()
                .filter_map(|k| k.secret.as_ref())
                .next()
                .map(|s| {
                    format!(
                        "; the secret at {} does not count, as both halves must come from one file",
                        s.place()
                    )
                })
                .unwrap_or_default();
            bail!(Failure::new(format!(
                "partial credentials: profile '{name}' has aws_access_key_id ({}) but no aws_secret_access_key in the same file{elsewhere}",
                id.place()
            ))
            .hint("put the access key id and its secret in the same file, e.g. with: aws configure --profile NAME"));
        };
        if let Some(token) = &keys.token {
            bail!(Failure::new(format!(
                "profile '{name}' holds session credentials (aws_session_token at {}), not a long-term access key",
                token.place()
            ))
            .hint("GetSessionToken needs the IAM user's long-term key (AKIA...): name the profile that holds it"));
        }
        let access_key_id = id.value.trim().to_owned();
        let secret_access_key = secret.value.trim().to_owned();
        if access_key_id.starts_with("ASIA") {
            bail!(Failure::new(format!(
                "profile '{name}' holds a temporary access key (ASIA..., {}), not a long-term one",
                id.place()
            ))
            .hint("GetSessionToken needs the IAM user's long-term key (AKIA...): name the profile that holds it"));
        }
        for (what, value, setting) in [
            ("access key id", &access_key_id, id),
            ("secret access key", &secret_access_key, secret),
        ] {
            if value.is_empty() {
                bail!(Failure::new(format!(
                    "profile '{name}' has an empty {what} ({})",
                    setting.place()
                )));
            }
        }
        Ok(LongTermKey {
            access_key_id,
            secret_access_key,
            origin: id.origin(),
            store: KeyStore::File(id.file.clone()),
        })
    }
}

/// The key pair of a profile marked `mfa_session_key = keyring`, from the
/// keyring.
fn keyring_key(name: &str, marker: &Setting, overridden: Option<&Setting>) -> Result<LongTermKey> {
    use crate::key_store::{MARKER, MARKER_VALUE};
    if let Some(file_key) = overridden
        && first_time(&file_key.file.join(name))
    {
        crate::say(&format!(
            "warning: profile '{name}' says {MARKER} = {MARKER_VALUE} ({}), so the key at {} is not used (other tools use it)",
            marker.place(),
            file_key.place()
        ));
    }
    let (access_key_id, secret) = crate::key_store::load(name)?;
    if access_key_id.starts_with("ASIA") {
        bail!(Failure::new(format!(
            "the keyring holds a temporary access key (ASIA...) for profile '{name}', not a long-term one"
        )));
    }
    Ok(LongTermKey {
        access_key_id,
        secret_access_key: secret.to_string(),
        origin: crate::origin::Origin::Keyring {
            marker: Box::new(marker.origin()),
        },
        store: KeyStore::Keyring,
    })
}

/// The largest profile file read.
const MAX_FILE: u64 = 8 << 20;

/// One file, parsed; `None` when it does not exist.
struct Parsed {
    path: PathBuf,
    kind: FileKind,
    text: String,
}

impl Drop for Parsed {
    fn drop(&mut self) {
        zeroize::Zeroize::zeroize(&mut self.text);
    }
}

impl Parsed {
    fn read(path: &Path, kind: FileKind) -> Result<Option<Parsed>> {
        // Read up to a cap: a path such as /dev/zero must not eat the
        // machine's memory. A pipe (`<(pass show aws)`) is read as a file.
        let read = std::fs::File::open(path).and_then(|file| {
            let mut bytes = Vec::new();
            io::Read::read_to_end(&mut io::Read::take(file, MAX_FILE + 1), &mut bytes)?;
            Ok(bytes)
        });
        let bytes = match read {
            Ok(bytes) if bytes.len() as u64 > MAX_FILE => bail!(Failure::new(format!(
                "cannot read {}: it is larger than {} MiB, which no profile file is",
                path.display(),
                MAX_FILE >> 20
            ))),
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
        let parsed = Parsed {
            path: path.to_path_buf(),
            kind,
            text,
        };
        parsed.document()?;
        Ok(Some(parsed))
    }

    fn document(&self) -> Result<Document<'_>> {
        syntax::parse(&self.text, self.kind).map_err(|e| {
            Failure::new(format!(
                "malformed {}:{}: {}",
                self.path.display(),
                e.line,
                e.reason
            ))
            .hint(e.fix)
            .into()
        })
    }

    fn settings(&self, section: &Section) -> BTreeMap<String, Setting> {
        section
            .properties
            .iter()
            .map(|p| {
                let setting = Setting {
                    value: p.value.clone(),
                    file: self.path.clone(),
                    line: p.line + 1,
                };
                (p.key.clone(), setting)
            })
            .collect()
    }

    fn place(&self, section: &Section) -> String {
        format!("{}:{}", self.path.display(), section.line + 1)
    }
}

/// Reads both files and returns the profile `name`.
#[cfg(test)]
pub fn load_profile(files: &ProfileFiles, name: &str) -> Result<Profile> {
    ProfileSet::load(files)?.profile(name)
}

/// Both files, read and checked once; profiles are taken from them by name.
pub struct ProfileSet {
    files: ProfileFiles,
    config: Option<Parsed>,
    credentials: Option<Parsed>,
}

impl ProfileSet {
    pub fn load(files: &ProfileFiles) -> Result<ProfileSet> {
        let config = Parsed::read(&files.config, FileKind::Config)?;
        let credentials = Parsed::read(&files.credentials, FileKind::Credentials)?;
        if config.is_none() && credentials.is_none() {
            bail!(Failure::new(format!(
                "no AWS profile files: neither {} nor {} exists",
                files.credentials.display(),
                files.config.display()
            ))
            .hint("create them with: aws configure --profile NAME (or set AWS_SHARED_CREDENTIALS_FILE / AWS_CONFIG_FILE)"));
        }
        Ok(ProfileSet {
            files: files.clone(),
            config,
            credentials,
        })
    }

    /// The names of every profile the files define, sorted, once each.
    pub fn names(&self) -> Vec<String> {
        let mut names: Vec<String> = [self.config.as_ref(), self.credentials.as_ref()]
            .into_iter()
            .flatten()
            .filter_map(|p| p.document().ok())
            .flat_map(|d| d.sections)
            .filter_map(|s| match s.header {
                Header::Profile { name, .. } => Some(name),
                _ => None,
            })
            .collect();
        names.sort_unstable();
        names.dedup();
        names
    }

    /// The profile `name`, merged from both files.
    pub fn profile(&self, name: &str) -> Result<Profile> {
        profile_from(
            &self.files,
            self.config.as_ref(),
            self.credentials.as_ref(),
            name,
        )
    }
}

fn profile_from(
    files: &ProfileFiles,
    config: Option<&Parsed>,
    credentials: Option<&Parsed>,
    name: &str,
) -> Result<Profile> {
    let parsed: Vec<&Parsed> = [config, credentials].into_iter().flatten().collect();
    let documents = parsed
        .iter()
        .map(|p| p.document())
        .collect::<Result<Vec<_>>>()?;

    for (file, document) in parsed.iter().zip(&documents) {
        if let Some(section) = document.sections.iter().find(
            |s| matches!(&s.header, Header::Disputed { name: n, services: false, .. } if n == name),
        ) {
            let Header::Disputed { fix, .. } = &section.header else {
                unreachable!()
            };
            bail!(Failure::new(format!(
                "the header [{}] ({}) names profile '{name}' to only one of the AWS CLI and the AWS SDKs",
                section.raw,
                file.place(section)
            ))
            .hint(fix.clone()));
        }
    }

    // Config first, so that the credentials file overrides it key by key.
    let mut settings = BTreeMap::new();
    let mut keys: [Keys; 2] = Default::default();
    let mut found = false;
    for (file, document) in parsed.iter().zip(&documents) {
        let sections: Vec<&Section> = document.profile_sections(name).collect();
        let section = match file.kind {
            FileKind::Config => default_rule(file, &sections)?,
            FileKind::Credentials => sections.first().copied(),
        };
        let Some(section) = section else { continue };
        found = true;
        let these = file.settings(section);
        let slot = match file.kind {
            FileKind::Credentials => 0,
            FileKind::Config => 1,
        };
        keys[slot] = Keys::of(&these);
        settings.extend(these);
    }
    if !found {
        bail!(not_found(files, name, &parsed, &documents));
    }
    if let Some((key, setting)) = settings
        .iter()
        .find(|(k, s)| ONE_LINE.contains(&k.as_str()) && s.value.contains('\n'))
    {
        bail!(
            Failure::new(format!(
                "{key} of profile '{name}' goes on over more than one line ({})",
                setting.place()
            ))
            .hint("put the value on one line, or remove the indentation of the line after it")
        );
    }
    let services = match settings.get("services") {
        Some(setting) => {
            let config = parsed
                .iter()
                .zip(&documents)
                .find(|(p, _)| p.kind == FileKind::Config);
            services_section(config.map(|(p, d)| (*p, d)), name, setting)?
        }
        None => BTreeMap::new(),
    };
    Ok(Profile {
        name: name.to_owned(),
        settings,
        services,
        keys,
    })
}

/// Keys whose value mfa-session uses (or refuses by): where the AWS CLI and
/// the SDKs read two `default` sections differently, these must agree.
const USED: [&str; 8] = [
    "mfa_process",
    "role_session_name",
    "external_id",
    "credential_source",
    "web_identity_token_file",
    "sso_session",
    "sso_start_url",
    "sso_account_id",
];

/// Of the config file's sections for one profile, the one the SDKs read:
/// `[profile default]` over `[default]`, which is then ignored whole (never
/// merged key by key). The AWS CLI merges the two key by key, the later
/// winning: where that gives another value for a key mfa-session uses, the
/// profile is refused with both lines; otherwise the choice is said on
/// stderr.
fn default_rule<'a>(file: &Parsed, sections: &[&'a Section]) -> Result<Option<&'a Section>> {
    let prefixed = |s: &&&Section| matches!(s.header, Header::Profile { prefixed: true, .. });
    Ok(match sections.iter().find(prefixed) {
        Some(chosen) => {
            if let Some(plain) = sections.iter().find(|s| !prefixed(s)) {
                // botocore's view: both, in file order, the later winning.
                let mut merged: BTreeMap<&str, &syntax::Property> = BTreeMap::new();
                let mut ordered = [*chosen, *plain];
                ordered.sort_by_key(|s| s.line);
                for section in ordered {
                    for property in &section.properties {
                        merged.insert(property.key.as_str(), property);
                    }
                }
                let sdk = |key: &str| chosen.properties.iter().rev().find(|p| p.key == key);
                let used = |key: &str| ONE_LINE.contains(&key) || USED.contains(&key);
                let disputed = merged
                    .iter()
                    .find(|(key, cli)| used(key) && sdk(key).is_none_or(|p| p.value != cli.value));
                if let Some((key, cli)) = disputed {
                    let sdks = match sdk(key) {
                        Some(p) => format!("the one at line {}", p.line + 1),
                        None => "none".to_owned(),
                    };
                    bail!(Failure::new(format!(
                        "{} has both [default] (line {}) and [profile default] (line {}), and they disagree on {key}: the AWS CLI merges them and reads the {key} at line {}, the AWS SDKs read [profile default] alone ({sdks})",
                        file.path.display(),
                        plain.line + 1,
                        chosen.line + 1,
                        cli.line + 1
                    ))
                    .hint("keep one of the two sections: [profile default] and [default] name the same profile"));
                }
                if first_time(&file.path) {
                    crate::say(&format!(
                        "warning: {} has both [default] (line {}) and [profile default] (line {}); using [profile default], as the AWS SDKs do",
                        file.path.display(),
                        plain.line + 1,
                        chosen.line + 1
                    ));
                }
            }
            Some(chosen)
        }
        None => sections.first().copied(),
    })
}

/// Whether this run has not yet warned about `path` (the files are read
/// more than once in a run).
fn first_time(path: &std::path::Path) -> bool {
    static WARNED: std::sync::Mutex<Vec<PathBuf>> = std::sync::Mutex::new(Vec::new());
    let Ok(mut warned) = WARNED.lock() else {
        return true;
    };
    if warned.iter().any(|p| p == path) {
        return false;
    }
    warned.push(path.to_owned());
    true
}

fn not_found(
    files: &ProfileFiles,
    name: &str,
    parsed: &[&Parsed],
    documents: &[Document],
) -> anyhow::Error {
    // A section that was meant to be this profile but is spelled in a way
    // the AWS CLI does not read as one.
    let near_miss = parsed.iter().zip(documents).find_map(|(file, document)| {
        document.sections.iter().find_map(|s| {
            let quoted = syntax::quote_name(name);
            let fix = match file.kind {
                FileKind::Credentials if s.raw.trim() == format!("profile {name}") => {
                    format!(
                        "the credentials file names profiles without 'profile ': write [{name}]"
                    )
                }
                FileKind::Config if s.raw.trim() == name && s.header == Header::Other => {
                    format!(
                        "the config file names profiles with 'profile ': write [profile {quoted}]"
                    )
                }
                FileKind::Config
                    if s.header == Header::Other
                        && s.raw.trim_start().starts_with("profile")
                        && s.raw.contains(name) =>
                {
                    format!("the AWS CLI does not read it as a profile: write [profile {quoted}]")
                }
                _ => return None,
            };
            Some(format!("[{}] at {}: {fix}", s.raw, file.place(s)))
        })
    });
    let hint = near_miss.unwrap_or_else(|| {
        let mut known: Vec<&str> = documents
            .iter()
            .flat_map(|d| &d.sections)
            .filter_map(|s| match &s.header {
                Header::Profile { name, .. } => Some(name.as_str()),
                _ => None,
            })
            .collect();
        known.sort_unstable();
        known.dedup();
        if known.is_empty() {
            "the files define no profiles; add one with: aws configure --profile NAME".to_owned()
        } else {
            format!("profiles found: {}", known.join(", "))
        }
    });
    Failure::new(format!(
        "profile '{name}' not found in {} or {}",
        files.credentials.display(),
        files.config.display()
    ))
    .hint(hint)
    .tag(crate::error::Tag::NoSuchProfile)
    .into()
}

/// The settings of the `[services NAME]` section that `setting` names, as
/// `service.key` (`sts.endpoint_url`).
fn services_section(
    config: Option<(&Parsed, &Document)>,
    profile: &str,
    setting: &Setting,
) -> Result<BTreeMap<String, Setting>> {
    let wanted = setting.value.trim();
    let sections = config
        .map(|(_, d)| d.sections.as_slice())
        .unwrap_or_default();
    if let (Some((file, _)), Some(section)) = (
        config,
        sections.iter().find(|s| {
            matches!(&s.header, Header::Disputed { name, services: true, .. } if name == wanted)
        }),
    ) {
        let Header::Disputed { fix, .. } = &section.header else {
            unreachable!()
        };
        bail!(Failure::new(format!(
            "the header [{}] ({}) names services '{wanted}' to only one of the AWS CLI and the AWS SDKs",
            section.raw,
            file.place(section)
        ))
        .hint(fix.clone()));
    }
    let found = sections
        .iter()
        .find(|s| matches!(&s.header, Header::Services(n) if n == wanted));
    let (Some((file, _)), Some(section)) = (config, found) else {
        bail!(
            Failure::new(format!(
                "profile '{profile}' names services '{wanted}' ({}), but the config file has no [services {wanted}] section",
                setting.place()
            ))
            .hint(format!("add [services {wanted}] to the config file, or remove the services line"))
        );
    };
    let mut settings = BTreeMap::new();
    for property in &section.properties {
        for (key, value, line) in &property.sub {
            let setting = Setting {
                value: value.clone(),
                file: file.path.clone(),
                line: line + 1,
            };
            settings.insert(format!("{}.{key}", property.key), setting);
        }
    }
    Ok(settings)
}

impl Profile {
    /// Every setting of the profile, credentials file winning.
    #[cfg(test)]
    pub fn settings(&self) -> impl Iterator<Item = (&str, &Setting)> {
        self.settings.iter().map(|(k, s)| (k.as_str(), s))
    }
}

#[cfg(test)]
mod conformance;

/// Profile files with these texts in a temporary directory, for tests.
#[cfg(test)]
pub fn fixture(config: &str, credentials: &str) -> (tempfile::TempDir, ProfileFiles) {
    let dir = tempfile::tempdir().unwrap();
    let files = ProfileFiles {
        config: dir.path().join("config"),
        credentials: dir.path().join("credentials"),
    };
    std::fs::write(&files.config, config).unwrap();
    std::fs::write(&files.credentials, credentials).unwrap();
    (dir, files)
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Files {
        _dir: tempfile::TempDir,
        files: ProfileFiles,
    }

    fn files(config: &str, credentials: &str) -> Files {
        let (dir, files) = fixture(config, credentials);
        Files { _dir: dir, files }
    }

    fn key(config: &str, credentials: &str, name: &str) -> Result<String> {
        let f = files(config, credentials);
        Ok(load_profile(&f.files, name)?
            .long_term_key()?
            .access_key_id
            .clone())
    }

    #[test]
    fn the_keyring_marker_decides_where_the_key_is_read_from() {
        let place = |config: &str, credentials: &str| {
            let f = files(config, credentials);
            let profile = load_profile(&f.files, "work").unwrap();
            match profile.key_place() {
                Ok(KeyPlace::Files) => "files".to_owned(),
                Ok(KeyPlace::Keyring { marker, overridden }) => format!(
                    "keyring at line {}{}",
                    marker.line,
                    overridden.map_or(String::new(), |s| format!(", over line {}", s.line))
                ),
                Err(e) => format!("error: {e}"),
            }
        };
        let pair = "[work]\naws_access_key_id = AKIAFILE\naws_secret_access_key = s\n";
        assert_eq!(place("[profile work]\nregion = x\n", pair), "files");
        assert_eq!(
            place("[profile work]\nmfa_session_key = keyring\n", ""),
            "keyring at line 2"
        );
        // The marker wins over a key in the files, which is named.
        assert_eq!(
            place("[profile work]\nmfa_session_key = Keyring\n", pair),
            "keyring at line 2, over line 2"
        );
        assert_eq!(
            place("[profile work]\nmfa_session_key = file\n", pair),
            "files"
        );
        assert!(
            place("[profile work]\nmfa_session_key = vault\n", pair)
                .contains("mfa_session_key = vault"),
        );
        // A marked profile counts as one with a static key: a source profile
        // of a role, and a root.
        let f = files(
            "[profile work]\nmfa_session_key = keyring\n[profile admin]\nrole_arn = arn:aws:iam::123456789012:role/a\nsource_profile = work\n",
            "",
        );
        let set = ProfileSet::load(&f.files).unwrap();
        assert!(set.profile("work").unwrap().has_static_key());
        assert!(!set.profile("admin").unwrap().has_static_key());
        // A marker with a value over two lines is refused as any setting.
        let f = files("[profile work]\nmfa_session_key =\n  keyring\n", "");
        assert!(load_profile(&f.files, "work").is_err());
    }

    fn failure(result: Result<impl fmt::Debug>) -> String {
        let err = result.unwrap_err();
        let report = crate::error::Report::new(&err);
        match report.hint {
            Some(hint) => format!("{err} | {hint}"),
            None => err.to_string(),
        }
    }

    #[test]
    fn merge_and_key_rules() {
        let f = files(
            "[profile a]\nregion = r1\naws_access_key_id = OLD\n",
            "[a]\naws_access_key_id = AKIANEW\naws_secret_access_key = s\n[b]\naws_access_key_id = AKIA\n\
             [c]\naws_access_key_id = ASIAX\naws_secret_access_key = s\n\
             [d]\naws_access_key_id = AKIA\naws_secret_access_key = s\naws_session_token = t\n",
        );
        let a = load_profile(&f.files, "a").unwrap();
        assert_eq!(a.value(Key::Region), Some("r1"));
        let key = a.long_term_key().unwrap();
        assert_eq!(key.access_key_id, "AKIANEW");
        assert_eq!(
            key.origin.to_string(),
            format!("{}:2", f.files.credentials.display())
        );
        assert_eq!(format!("{key:?}"), "LongTermKey(AKIANEW, ****)");
        let load = |name| load_profile(&f.files, name).and_then(|p| p.long_term_key());
        assert!(failure(load("b")).starts_with("partial credentials: profile 'b'"));
        assert!(failure(load("c")).contains("temporary access key"));
        assert!(failure(load("d")).contains("holds session credentials"));
        let err = failure(load("zzz"));
        assert!(err.starts_with("profile 'zzz' not found in "), "{err}");
        assert!(err.ends_with(" | profiles found: a, b, c, d"), "{err}");
    }

    #[test]
    fn the_key_pair_comes_from_one_file() {
        let cfg_pair = "[profile w]\naws_access_key_id = AKIACFG\naws_secret_access_key = s\n";
        // The credentials file first, whole.
        assert_eq!(
            key(
                cfg_pair,
                "[w]\naws_access_key_id = AKIACRED\naws_secret_access_key = t\n",
                "w"
            )
            .unwrap(),
            "AKIACRED"
        );
        // An id without its secret in the credentials file: partial, even
        // though the config file has a pair.
        let err = failure(key(cfg_pair, "[w]\naws_access_key_id = AKIACRED\n", "w"));
        assert!(
            err.starts_with("partial credentials: profile 'w' has aws_access_key_id ("),
            "{err}"
        );
        assert!(
            err.contains(
                "/credentials:2) but no aws_secret_access_key in the same file; the secret at "
            ),
            "{err}"
        );
        // A lone secret in the credentials file does not stop the config pair.
        assert_eq!(
            key(cfg_pair, "[w]\naws_secret_access_key = x\n", "w").unwrap(),
            "AKIACFG"
        );
        // An id in the config file and the secret in the credentials file.
        let err = failure(key(
            "[profile w]\naws_access_key_id = AKIACFG\n",
            "[w]\naws_secret_access_key = x\n",
            "w",
        ));
        assert!(err.starts_with("partial credentials"), "{err}");
        // A session token in the other file is not this pair's.
        assert_eq!(
            key(
                "[profile w]\naws_session_token = T\n",
                "[w]\naws_access_key_id = AKIACRED\naws_secret_access_key = t\n",
                "w"
            )
            .unwrap(),
            "AKIACRED"
        );
        let err = failure(key(
            "[profile w]\naws_access_key_id =\naws_secret_access_key = s\n",
            "",
            "w",
        ));
        assert!(
            err.starts_with("profile 'w' has an empty access key id"),
            "{err}"
        );
    }

    #[test]
    fn credentials_from_elsewhere_are_refused_by_name() {
        let keys = "[w]\naws_access_key_id = AKIACRED\naws_secret_access_key = t\n";
        for (config, said) in [
            (
                "role_arn = arn:aws:iam::1:role/r\nsource_profile = x\n",
                "assumes a role: role_arn at ",
            ),
            (
                "sso_session = s\nsso_account_id = 1\n",
                "signs in through IAM Identity Center: sso_session at ",
            ),
            (
                "sso_start_url = https://x\n",
                "signs in through IAM Identity Center: sso_start_url at ",
            ),
            (
                "credential_source = Environment\n",
                "gets credentials from its environment: credential_source at ",
            ),
            (
                "web_identity_token_file = /t\n",
                "gets credentials from a web identity token: web_identity_token_file at ",
            ),
        ] {
            let err = failure(key(&format!("[profile w]\n{config}"), keys, "w"));
            assert!(err.starts_with(&format!("profile 'w' {said}")), "{err}");
            assert!(
                err.contains("/config:2 (the AWS CLI uses it, not the static key"),
                "{err}"
            );
        }
    }

    #[test]
    fn credential_process_and_a_static_key_read_as_botocore_reads_them() {
        // The credentials file's key comes before the process: for every reader.
        let keys = "[w]\naws_access_key_id = AKIACRED\naws_secret_access_key = t\n";
        let config = "[profile w]\ncredential_process = /bin/x\n";
        assert_eq!(key(config, keys, "w").unwrap(), "AKIACRED");
        // A key in the config file comes after it for botocore.
        let config = "[profile w]\ncredential_process = /bin/x\n\
                      aws_access_key_id = AKIACONF\naws_secret_access_key = t\n";
        let err = failure(key(config, "", "w"));
        assert!(
            err.starts_with("profile 'w' gets credentials from a process: credential_process at "),
            "{err}"
        );
        assert!(
            err.contains(
                "(the AWS CLI runs it before it looks at the static key in the config file)"
            ),
            "{err}"
        );
    }

    #[test]
    fn default_and_profile_default() {
        // Where the AWS CLI's merge and the SDKs' choice differ on a value in
        // use, both lines are named and the profile refused.
        for (config, cli_line) in [
            (
                "[profile default]\nregion = a\n[default]\nmfa_serial = x\n",
                4,
            ),
            (
                "[default]\nmfa_serial = x\n[profile default]\nregion = a\n",
                2,
            ),
            ("[profile default]\nregion = a\n[default]\nregion = b\n", 4),
        ] {
            let f = files(config, "");
            let err = failure(load_profile(&f.files, "default"));
            assert!(err.contains("has both [default] (line "), "{err}");
            assert!(
                err.contains(&format!(
                    " at line {cli_line}, the AWS SDKs read [profile default] alone"
                )),
                "{err}"
            );
        }
        // Only keys no one here reads differ: the SDKs' choice, with a warning.
        let f = files(
            "[default]\noutput = json\n[profile default]\nregion = a\n",
            "",
        );
        let p = load_profile(&f.files, "default").unwrap();
        assert_eq!(p.value(Key::Region), Some("a"));
        // The same value in both: no dispute either.
        let f = files("[profile default]\nregion = a\n[default]\nregion = a\n", "");
        assert_eq!(
            load_profile(&f.files, "default")
                .unwrap()
                .value(Key::Region),
            Some("a")
        );
        let f = files("[default]\nregion = b\n", "");
        assert_eq!(
            load_profile(&f.files, "default")
                .unwrap()
                .value(Key::Region),
            Some("b")
        );
    }

    #[test]
    fn quoted_names_and_disputed_headers() {
        let f = files(
            "[profile 'my work']\nregion = a\n[profile \"x y\"]\nregion = b\n[ profile lenient ]\nregion = c\n\
             [profile my w3]\nregion = d\n[profiles p]\n[work]\nregion = e\n",
            "[ spaced ]\naws_access_key_id = A\n[profile cred]\n",
        );
        let load = |name| load_profile(&f.files, name);
        assert_eq!(load("my work").unwrap().value(Key::Region), Some("a"));
        assert_eq!(load("x y").unwrap().value(Key::Region), Some("b"));
        for (name, said, fix) in [
            (
                "lenient",
                "the header [ profile lenient ] (",
                "write it as [profile lenient]",
            ),
            ("p", "the header [profiles p] (", "write it as [profile p]"),
            ("spaced", "the header [ spaced ] (", "write it as [spaced]"),
        ] {
            let err = failure(load(name));
            assert!(err.starts_with(said), "{err}");
            assert!(
                err.contains(&format!(
                    ") names profile '{name}' to only one of the AWS CLI and the AWS SDKs"
                )),
                "{err}"
            );
            assert!(err.ends_with(&format!(" | {fix}")), "{err}");
        }
        let err = failure(load("my w3"));
        assert!(
            err.ends_with("the AWS CLI does not read it as a profile: write [profile 'my w3']"),
            "{err}"
        );
        let err = failure(load("work"));
        assert!(
            err.ends_with("the config file names profiles with 'profile ': write [profile work]"),
            "{err}"
        );
        let err = failure(load("cred"));
        assert!(
            err.ends_with("the credentials file names profiles without 'profile ': write [cred]"),
            "{err}"
        );
    }

    #[test]
    fn services_sections() {
        let f = files(
            "[profile w]\nservices = dev\n[services dev]\nsts =\n  endpoint_url = http://s\n  Endpoint_URL = http://other\n\
             IAM =\n  endpoint_url = http://i\n[profile v]\nservices = nope\n[ services odd ]\n[profile o]\nservices = odd\n",
            "",
        );
        let p = load_profile(&f.files, "w").unwrap();
        assert_eq!(p.service_endpoint("sts").unwrap().value, "http://s");
        assert_eq!(p.service_endpoint("sts").unwrap().line, 5);
        assert_eq!(p.service_endpoint("iam").unwrap().value, "http://i");
        let err = failure(load_profile(&f.files, "v"));
        assert!(err.contains("names services 'nope' ("), "{err}");
        assert!(
            err.contains("but the config file has no [services nope] section"),
            "{err}"
        );
        let err = failure(load_profile(&f.files, "o"));
        assert!(err.starts_with("the header [ services odd ] ("), "{err}");
    }

    #[test]
    fn every_typed_key_is_checked_as_a_key_this_tool_reads() {
        for key in Key::ALL {
            assert!(
                ONE_LINE.contains(&key.name()) || USED.contains(&key.name()),
                "{key:?}"
            );
        }
    }

    #[test]
    fn values_we_read_fit_on_one_line() {
        let f = files(
            "[profile w]\nregion = eu-west-1\n  more\nother = a\n  b\n",
            "",
        );
        let err = failure(load_profile(&f.files, "w"));
        assert!(
            err.starts_with("region of profile 'w' goes on over more than one line ("),
            "{err}"
        );
    }

    #[test]
    fn malformed_files_name_file_and_line() {
        let f = files("[profile w]\nregion: a\n", "");
        let err = failure(load_profile(&f.files, "w"));
        let config = f.files.config.display();
        assert_eq!(
            err,
            format!(
                "malformed {config}:2: 'region:' sets a value with ':', which the AWS CLI reads and the SDKs do not | write it as 'region = ...'"
            )
        );
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
}
