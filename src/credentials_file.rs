//! `--write-profile NAME`: the session written into section `[NAME]` of the
//! shared credentials file, for tools that read only that file.
//!
//! The file is edited as text, not parsed and re-serialised: every other
//! section, comment, blank line and line ending stays byte for byte as it
//! was. Inside `[NAME]`, only the keys this tool owns are replaced; other
//! lines stay. A section that holds a long-term key is never overwritten.
//! The file is replaced through [`crate::secret_file::update`]: links
//! followed, mode and owner kept, locked, nothing left behind.

use std::io;
use std::path::PathBuf;

use anyhow::Result;

use crate::error::Failure;
use crate::error::io_reason;
use crate::profile::ProfileFiles;
use crate::profile::syntax::{self, FileKind, Section, join, split_bom, whole};
use crate::session::Session;

/// The keys this tool writes, and removes when they are stale.
const OWNED: [&str; 5] = [
    "aws_access_key_id",
    "aws_secret_access_key",
    "aws_session_token",
    "aws_security_token",
    "expiration",
];

pub fn check_section_name(name: &str) -> Result<()> {
    let bad =
        name.is_empty() || name.trim() != name || name.contains(['[', ']', '\n', '\r', '#', ';']);
    if bad {
        return Err(Failure::usage(format!(
            "--write-profile: '{name}' is not a usable profile name"
        ))
        .hint("use letters, digits, '-', '_' or '.', e.g. --write-profile work-mfa")
        .into());
    }
    Ok(())
}

/// Everything that could make the write fail, checked before any request so
/// that a refusal costs no MFA code: the section name, that it is not the
/// profile whose key signs, that the file can be replaced safely, and that
/// the section does not hold a long-term key.
pub fn check_target(section: &str, profile: &str) -> Result<()> {
    check_section_name(section)?;
    if section == profile {
        return Err(Failure::new(format!(
            "--write-profile {section} would overwrite the long-term key of profile '{section}'"
        ))
        .hint(format!(
            "write the session to another profile, e.g. --write-profile {section}-mfa"
        ))
        .into());
    }
    let files = ProfileFiles::locate()?;
    if let Ok(config) = std::fs::read_to_string(&files.config)
        && let Some(key) = other_profile(&config, FileKind::Config, section)
    {
        return Err(taken(section, &files.config, &key));
    }
    let path = files.credentials;
    let target = crate::secret_file::check_target(&path)?;
    check_writable(&target)?;
    let text = match std::fs::read_to_string(&target) {
        Ok(text) => text,
        Err(e) if e.kind() == io::ErrorKind::NotFound => String::new(),
        Err(e) => {
            return Err(Failure::new(format!(
                "cannot read {}: {}",
                target.display(),
                io_reason(&e)
            ))
            .into());
        }
    };
    if let Some(key) = other_profile(&text, FileKind::Credentials, section) {
        return Err(taken(section, &target, &key));
    }
    let placeholder = OWNED.map(|k| (k, String::new()));
    with_section(&text, section, &placeholder)
        .map(|_| ())
        .map_err(|reason| refusal(section, &target, &reason))
}

/// Keys that make a section a profile of its own, which a session written
/// over it would take over (botocore takes static keys before a role or a
/// command). A section with only this tool's keys is a session: it may be
/// written again.
const PROFILE_KEYS: [&str; 6] = [
    "role_arn",
    "source_profile",
    "credential_process",
    "credential_source",
    "web_identity_token_file",
    "sso_session",
];

/// The key that makes `[section]` of `text` another profile, if one does.
fn other_profile(text: &str, kind: FileKind, section: &str) -> Option<String> {
    let (_, text) = split_bom(text);
    let document = syntax::parse(text, kind).ok()?;
    let keys = document
        .profile_sections(section)
        .flat_map(|s| s.properties.iter().map(|p| p.key.clone()))
        .collect::<Vec<_>>();
    let is_profile = |key: &str| {
        PROFILE_KEYS.contains(&key)
            || key.starts_with("sso_")
            || (kind == FileKind::Config
                && matches!(key, "aws_access_key_id" | "aws_secret_access_key"))
    };
    keys.into_iter().find(|k| is_profile(k))
}

fn taken(section: &str, path: &std::path::Path, key: &str) -> anyhow::Error {
    Failure::new(format!(
        "will not write [{section}]: profile '{section}' is defined in {} ({key}), and a session written for it would take it over",
        path.display()
    ))
    .hint(format!(
        "choose a name that is not a profile yet, e.g. --write-profile {section}-mfa"
    ))
    .into()
}

/// Whether the file (or, while it does not exist, its folder) can be
/// written: found out before the code is spent.
fn check_writable(target: &std::path::Path) -> Result<()> {
    let fail = |what: &std::path::Path, e: &io::Error| -> anyhow::Error {
        Failure::new(format!("cannot write {}: {}", what.display(), io_reason(e)))
            .hint("make it writable, or apply the session with eval, exec or credential-process")
            .into()
    };
    // The replacement is a new file renamed into the folder: the folder must
    // take new files, whatever the file's own mode.
    let dir = target
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(std::path::Path::new("."));
    let mut existing = dir;
    while !existing.exists() {
        match existing.parent() {
            Some(up) if !up.as_os_str().is_empty() => existing = up,
            _ => break,
        }
    }
    // Unnamed (O_TMPFILE on Linux): a run killed here leaves nothing.
    if let Err(e) = tempfile::tempfile_in(existing) {
        return Err(fail(existing, &e));
    }
    match std::fs::OpenOptions::new().append(true).open(target) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(fail(target, &e)),
        _ => Ok(()),
    }
}

fn refusal(section: &str, path: &std::path::Path, reason: &str) -> anyhow::Error {
    Failure::new(format!(
        "will not write [{section}] in {}: {reason}",
        path.display()
    ))
    .hint("choose another name for --write-profile")
    .into()
}

/// The real file [`write_session`] writes (the credentials file, behind
/// its links).
pub fn session_file() -> Result<PathBuf> {
    crate::secret_file::check_target(&ProfileFiles::locate()?.credentials)
}

/// Writes the session into `[section]`; returns the real file's path.
pub fn write_session(section: &str, profile: &str, session: &Session) -> Result<PathBuf> {
    check_target(section, profile)?;
    let path = ProfileFiles::locate()?.credentials;
    let values = [
        ("aws_access_key_id", session.access_key_id.as_str()),
        ("aws_secret_access_key", session.secret_access_key.as_str()),
        ("aws_session_token", session.session_token.as_str()),
        ("expiration", &session.expiration_rfc3339()),
    ]
    .map(|(k, v)| (k, v.to_owned()));
    crate::secret_file::update_secret(&path, |text| {
        with_section(text.unwrap_or(""), section, &values)
            .map(|text| Some(text.into_bytes()))
            .map_err(|reason| refusal(section, &path, &reason))
    })
}

/// Replaces the key pair of `profile` in `path` (the file it was read
/// from), where it stands: `rotate`. Refused when the file no longer holds
/// `old_id` there. Returns the real file's path.
pub fn replace_key(
    path: &std::path::Path,
    kind: FileKind,
    profile: &str,
    old_id: &str,
    new: (&str, &str),
) -> Result<PathBuf> {
    crate::secret_file::update_secret(path, |text| {
        with_key(text.unwrap_or(""), kind, profile, old_id, new)
            .map(|text| Some(text.into_bytes()))
            .map_err(|reason| {
                Failure::new(format!(
                    "will not write the new key of profile '{profile}' into {}: {reason}",
                    path.display()
                ))
                .into()
            })
    })
}

/// The access key id of `profile` in a profile file's `text`, found as
/// [`with_key`] finds the pair it replaces.
pub fn key_id_of(text: &str, kind: FileKind, profile: &str) -> Option<String> {
    let (_, text) = split_bom(text);
    let document = syntax::parse_for_edit(text, kind, profile).ok()?;
    let sections: Vec<&Section> = document.profile_sections(profile).collect();
    let target = sections
        .iter()
        .find(|s| matches!(s.header, syntax::Header::Profile { prefixed: true, .. }))
        .or(sections.first())?;
    target
        .properties
        .iter()
        .find(|p| p.key == "aws_access_key_id")
        .map(|p| p.value.clone())
}

/// `text` with the key pair of `profile` replaced on its own lines (their
/// continuation lines dropped); everything else byte for byte.
pub fn with_key(
    text: &str,
    kind: FileKind,
    profile: &str,
    old_id: &str,
    (id, secret): (&str, &str),
) -> Result<String, String> {
    let (bom, text) = split_bom(text);
    let document = syntax::parse_for_edit(text, kind, profile)?;
    let lines = &document.lines;
    let sections: Vec<&Section> = document.profile_sections(profile).collect();
    let target = sections
        .iter()
        .find(|s| matches!(s.header, syntax::Header::Profile { prefixed: true, .. }))
        .or(sections.first())
        .ok_or("the profile is not there any more")?;
    let find = |key: &str| target.properties.iter().find(|p| p.key == key);
    let (Some(old), Some(old_secret)) = (find("aws_access_key_id"), find("aws_secret_access_key"))
    else {
        return Err("the profile holds no key pair any more".to_owned());
    };
    if old.value != old_id {
        return Err(format!("it holds another key now ({})", old.value));
    }
    let mut out = String::with_capacity(text.len() + 64);
    out.push_str(bom);
    let dropped = |i: usize| {
        (old.line + 1..=old.last).contains(&i)
            || (old_secret.line + 1..=old_secret.last).contains(&i)
    };
    for (i, line) in lines.iter().enumerate() {
        if i == old.line {
            out.push_str(&format!("aws_access_key_id = {id}{}", lines[old.last].end));
        } else if i == old_secret.line {
            out.push_str(&format!(
                "aws_secret_access_key = {secret}{}",
                lines[old_secret.last].end
            ));
        } else if !dropped(i) {
            out.push_str(&whole(*line));
        }
    }
    Ok(out)
}

/// Removes the key pair of `profile` from `path` (`keys import`), refused
/// when the file no longer holds `id` there. Every other byte stays.
pub fn remove_key(
    path: &std::path::Path,
    kind: FileKind,
    profile: &str,
    id: &str,
) -> Result<PathBuf> {
    crate::secret_file::update(path, |text| {
        let text = text.unwrap_or("");
        let holds = syntax::parse(split_bom(text).1, kind)
            .ok()
            .and_then(|d| {
                target_section(&d, profile).map(|s| {
                    s.properties
                        .iter()
                        .any(|p| p.key == "aws_access_key_id" && p.value == id)
                })
            })
            .unwrap_or(false);
        let out = if holds {
            without_properties(text, kind, profile, &KEY_PAIR)
        } else {
            Err(format!("it no longer holds {id} in profile '{profile}'"))
        };
        out.map(|text| Some(text.into_bytes())).map_err(|reason| {
            Failure::new(format!(
                "will not take the key of profile '{profile}' out of {}: {reason}",
                path.display()
            ))
            .into()
        })
    })
}

const KEY_PAIR: [&str; 2] = ["aws_access_key_id", "aws_secret_access_key"];

/// The section of `profile` that the reader uses: `[profile NAME]` over
/// `[NAME]` (the config file's `default`).
fn target_section<'d>(document: &'d syntax::Document<'_>, profile: &'d str) -> Option<&'d Section> {
    let sections: Vec<&Section> = document.profile_sections(profile).collect();
    sections
        .iter()
        .find(|s| matches!(s.header, syntax::Header::Profile { prefixed: true, .. }))
        .or(sections.first())
        .copied()
}

/// `text` without the lines of `keys` (and their continuation lines) in the
/// section of `profile`, and without the section when nothing is left in it;
/// everything else byte for byte.
pub fn without_properties(
    text: &str,
    kind: FileKind,
    profile: &str,
    keys: &[&str],
) -> Result<String, String> {
    let (bom, text) = split_bom(text);
    let document = syntax::parse_for_edit(text, kind, profile)?;
    let target = target_section(&document, profile).ok_or("the profile is not there")?;
    let mut dropped: Vec<usize> = target
        .properties
        .iter()
        .filter(|p| keys.contains(&p.key.as_str()))
        .flat_map(|p| p.line..=p.last)
        .collect();
    // A section left with nothing in it goes too, header and blank lines.
    let left_empty = (target.line + 1..target.end)
        .filter(|i| !dropped.contains(i))
        .all(|i| document.lines[i].text.trim().is_empty());
    if left_empty {
        dropped.extend(target.line..target.end);
        // With the blank line a writer put before it, so that moving a
        // section out and back does not leave one more blank line each time.
        let blank = |i: usize| document.lines[i].text.trim().is_empty();
        if target.line > 0 && blank(target.line - 1) {
            dropped.push(target.line - 1);
        }
    }
    let mut out = String::with_capacity(text.len());
    out.push_str(bom);
    for (i, line) in document.lines.iter().enumerate() {
        if !dropped.contains(&i) {
            out.push_str(&whole(*line));
        }
    }
    Ok(out)
}

/// Writes the key pair of `profile` into the credentials file (`keys
/// export`); refused when the section holds a long-term key already.
pub fn add_key(
    path: &std::path::Path,
    profile: &str,
    (id, secret): (&str, &str),
) -> Result<PathBuf> {
    crate::secret_file::update_secret(path, |text| {
        with_section(
            text.unwrap_or(""),
            profile,
            &[
                ("aws_access_key_id", id.to_owned()),
                ("aws_secret_access_key", secret.to_owned()),
            ],
        )
        .map(|text| Some(text.into_bytes()))
        .map_err(|reason| {
            Failure::new(format!(
                "will not write the key of profile '{profile}' into {}: {reason}",
                path.display()
            ))
            .into()
        })
    })
}

/// Removes from `[section]` the session this tool wrote there (one with an
/// access key id of `ids`), and the section itself when nothing else is left
/// in it. Returns whether anything was removed; a section that holds
/// something else now is left alone.
pub fn remove_session(path: &std::path::Path, section: &str, ids: &[&str]) -> Result<bool> {
    // Gone (a dangling link too): nothing to take out, and nothing to create.
    if !path.exists() {
        return Ok(false);
    }
    let mut removed = false;
    crate::secret_file::update(path, |text| {
        let out = ids
            .iter()
            .find_map(|id| without_session(text.unwrap_or(""), section, id));
        removed = out.is_some();
        Ok(out.map(String::into_bytes))
    })?;
    Ok(removed)
}

/// `text` without the session in `[section]`, or None when the section does
/// not hold that session (or the file cannot be read as a profile file).
pub fn without_session(text: &str, section: &str, access_key_id: &str) -> Option<String> {
    let (bom, text) = split_bom(text);
    let document = syntax::parse(text, FileKind::Credentials).ok()?;
    let target = document.profile_sections(section).next()?;
    let holds = target
        .properties
        .iter()
        .any(|p| p.key == "aws_access_key_id" && p.value == access_key_id);
    if !holds {
        return None;
    }
    let lines = &document.lines;
    let owned = owned_lines(target);
    let kept: Vec<String> = (target.line + 1..target.end)
        .filter(|i| !owned.contains(i))
        .map(|i| whole(lines[i]))
        .collect();
    let mut out = format!("{bom}{}", join(&lines[..target.line]));
    if kept.iter().all(|l| l.trim().is_empty()) {
        // The whole section goes, with the blank line this tool put before it.
        if target.end == lines.len() && out.ends_with("\n\n") {
            out.pop();
            if out.ends_with('\r') {
                out.pop();
            }
        }
    } else {
        out.push_str(&whole(lines[target.line]));
        out.push_str(&kept.concat());
    }
    out.push_str(&join(&lines[target.end..]));
    Some(out)
}

/// The line indexes of the keys this tool owns in `section`, with their
/// continuation lines.
fn owned_lines(section: &Section) -> Vec<usize> {
    section
        .properties
        .iter()
        .filter(|p| OWNED.contains(&p.key.as_str()))
        .flat_map(|p| p.line..=p.last)
        .collect()
}

/// `text` with `values` set in `[section]`: pure, so that it can be tested
/// byte for byte. The section is found as the reader finds it, and a file
/// the reader would refuse is not written.
pub fn with_section(
    text: &str,
    section: &str,
    values: &[(&str, String)],
) -> Result<String, String> {
    let (bom, text) = split_bom(text);
    let document = syntax::parse_for_edit(text, FileKind::Credentials, section)?;
    let lines = &document.lines;
    // New lines end as the file's lines do: CRLF if any line does.
    let newline = syntax::newline_of(text, lines);
    let Some(target) = document.profile_sections(section).next() else {
        let pairs: Vec<(&str, &str)> = values.iter().map(|(k, v)| (*k, v.as_str())).collect();
        return Ok(syntax::with_new_section(
            bom, text, lines, newline, section, &pairs,
        ));
    };
    let has = |k: &str| target.properties.iter().any(|p| p.key == k);
    if has("aws_access_key_id") && !has("aws_session_token") && !has("aws_security_token") {
        return Err("it holds a long-term access key".to_owned());
    }

    let mut out = String::with_capacity(text.len() + 512);
    out.push_str(bom);
    out.push_str(&join(&lines[..target.line]));
    out.push_str(&syntax::ended(lines[target.line], newline));
    // Keys that are not in the section yet go right after the header.
    for (key, value) in values {
        if !has(key) {
            out.push_str(&format!("{key} = {value}{newline}"));
        }
    }
    let owned = owned_lines(target);
    for (i, line) in lines
        .iter()
        .enumerate()
        .take(target.end)
        .skip(target.line + 1)
    {
        if !owned.contains(&i) {
            out.push_str(&whole(*line));
            continue;
        }
        // A key this tool owns: replaced on its own line, or dropped (stale
        // keys this write does not set, and continuation lines).
        let property = target.properties.iter().find(|p| p.line == i);
        let value = property.and_then(|p| values.iter().find(|(k, _)| *k == p.key));
        if let Some((key, value)) = value {
            out.push_str(&format!("{key} = {value}{}", line.end));
        }
    }
    out.push_str(&join(&lines[target.end..]));
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn properties_go_with_their_lines_and_an_emptied_section_goes_too() {
        let text = "# keys\r\n[work]\r\nregion = x\r\naws_access_key_id = AKIA1\r\n\
                    aws_secret_access_key = s\r\n  continued\r\n[z]\r\ny = 1\r\n";
        let out = without_properties(text, FileKind::Credentials, "work", &KEY_PAIR).unwrap();
        assert_eq!(out, "# keys\r\n[work]\r\nregion = x\r\n[z]\r\ny = 1\r\n");
        let out = without_properties(&out, FileKind::Credentials, "work", &["region"]).unwrap();
        assert_eq!(out, "# keys\r\n[z]\r\ny = 1\r\n");
        // A comment is something left.
        let config = "[profile work]\n# mine\nmfa_session_key = keyring\n\n[profile z]\n";
        assert_eq!(
            without_properties(config, FileKind::Config, "work", &["mfa_session_key"]).unwrap(),
            "[profile work]\n# mine\n\n[profile z]\n"
        );
        // The blank line before an emptied section goes with it.
        let text = "[a]\nx = 1\n\n[work]\naws_access_key_id = A\naws_secret_access_key = s\n";
        assert_eq!(
            without_properties(text, FileKind::Credentials, "work", &KEY_PAIR).unwrap(),
            "[a]\nx = 1\n"
        );
        // Out and back in (keys import, then export): the file as it was.
        let out = without_properties(text, FileKind::Credentials, "work", &KEY_PAIR).unwrap();
        let back = with_section(
            &out,
            "work",
            &[
                ("aws_access_key_id", "A".to_owned()),
                ("aws_secret_access_key", "s".to_owned()),
            ],
        )
        .unwrap();
        assert_eq!(back, text);
        let config = "[default]\nmfa_session_key = keyring\n\n[profile z]\n";
        assert_eq!(
            without_properties(config, FileKind::Config, "default", &["mfa_session_key"]).unwrap(),
            "[profile z]\n"
        );
        assert!(without_properties(config, FileKind::Config, "nope", &["x"]).is_err());
    }

    #[test]
    fn a_rotated_key_replaces_the_old_one_where_it_stands() {
        let text = "# keys\r\n[other]\r\naws_access_key_id = AKIAOTHER\r\n[work]\r\nregion = x\r\n\
                    aws_access_key_id = AKIAOLD\r\naws_secret_access_key = old\r\n  continued\r\n[z]\r\n";
        let out = with_key(
            text,
            FileKind::Credentials,
            "work",
            "AKIAOLD",
            ("AKIANEW", "newsecret"),
        )
        .unwrap();
        assert_eq!(
            out,
            "# keys\r\n[other]\r\naws_access_key_id = AKIAOTHER\r\n[work]\r\nregion = x\r\n\
             aws_access_key_id = AKIANEW\r\naws_secret_access_key = newsecret\r\n[z]\r\n"
        );
        // In the config file, [profile work].
        let config = "[profile work]\naws_access_key_id = AKIAOLD\naws_secret_access_key = old\n";
        assert_eq!(
            with_key(
                config,
                FileKind::Config,
                "work",
                "AKIAOLD",
                ("AKIANEW", "s")
            )
            .unwrap(),
            "[profile work]\naws_access_key_id = AKIANEW\naws_secret_access_key = s\n"
        );
        // A file that changed meanwhile is not written.
        let err = with_key(
            text,
            FileKind::Credentials,
            "work",
            "AKIAELSE",
            ("AKIANEW", "s"),
        )
        .unwrap_err();
        assert_eq!(err, "it holds another key now (AKIAOLD)");
        assert!(with_key(text, FileKind::Credentials, "gone", "AKIAOLD", ("A", "s")).is_err());
    }

    fn values(tag: &str) -> Vec<(&'static str, String)> {
        vec![
            ("aws_access_key_id", format!("ASIA{tag}")),
            ("aws_secret_access_key", format!("secret{tag}")),
            ("aws_session_token", format!("token{tag}")),
            ("expiration", "2099-01-01T00:00:00Z".to_owned()),
        ]
    }

    const FILE: &str = "# my keys\n[default]\naws_access_key_id = AKIA1\naws_secret_access_key = s1\n\n\
                        ; prod\n[prod]   # comment\naws_access_key_id=AKIA2\naws_secret_access_key=s2\n";

    #[test]
    fn appends_a_new_section_and_keeps_everything_else() {
        let out = with_section(FILE, "work-mfa", &values("X")).unwrap();
        assert!(out.starts_with(FILE));
        assert_eq!(
            &out[FILE.len()..],
            "\n[work-mfa]\naws_access_key_id = ASIAX\naws_secret_access_key = secretX\n\
             aws_session_token = tokenX\nexpiration = 2099-01-01T00:00:00Z\n"
        );
        assert_eq!(
            with_section("", "a", &values("X")).unwrap().lines().next(),
            Some("[a]")
        );
        let no_newline = with_section("[x]\nk = v", "a", &values("X")).unwrap();
        assert!(no_newline.starts_with("[x]\nk = v\n\n[a]\n"));
    }

    #[test]
    fn replaces_its_own_keys_in_place() {
        let first = with_section(FILE, "mid", &values("A")).unwrap();
        let text = format!("{first}[after]\nregion = x\n");
        let second = with_section(&text, "mid", &values("B")).unwrap();
        let expected = text
            .replace("ASIAA", "ASIAB")
            .replace("secretA", "secretB")
            .replace("tokenA", "tokenB");
        assert_eq!(second, expected);
    }

    #[test]
    fn keeps_other_lines_of_the_section_and_drops_stale_keys() {
        let text = "[s]\r\nregion = eu\r\naws_session_token = old\r\n  continued\r\naws_security_token = old\r\n\
                    [t]\r\nx = 1\r\n";
        let out = with_section(text, "s", &values("C")).unwrap();
        assert_eq!(
            out,
            "[s]\r\naws_access_key_id = ASIAC\r\naws_secret_access_key = secretC\r\n\
             expiration = 2099-01-01T00:00:00Z\r\nregion = eu\r\naws_session_token = tokenC\r\n[t]\r\nx = 1\r\n"
        );
    }

    #[test]
    fn edits_the_section_the_reader_reads() {
        // CR-only line endings and keys indented under the header.
        let text = "[a]\r  region = eu\r  aws_session_token = old\r[b]\rx = 1\r";
        let out = with_section(text, "a", &values("D")).unwrap();
        assert_eq!(
            out,
            "[a]\raws_access_key_id = ASIAD\raws_secret_access_key = secretD\rexpiration = 2099-01-01T00:00:00Z\r\
             \x20 region = eu\raws_session_token = tokenD\r[b]\rx = 1\r"
        );
        // A BOM stays where it was.
        let out = with_section("\u{feff}[x]\nk = v\n", "a", &values("E")).unwrap();
        assert!(out.starts_with("\u{feff}[x]\nk = v\n\n[a]\n"), "{out:?}");
        assert_eq!(
            without_session(&out, "a", "ASIAE").unwrap(),
            "\u{feff}[x]\nk = v\n"
        );
        // A header the CLI and the SDKs read differently is not written.
        let err = with_section("[ a ]\nk = v\n", "a", &values("F")).unwrap_err();
        assert_eq!(
            err,
            "[ a ] on line 1 names it to only one of the AWS CLI and the AWS SDKs"
        );
        // Nor is a file the reader refuses.
        let err = with_section("[x]\nk = 1\nK = 2\n", "a", &values("G")).unwrap_err();
        assert!(err.starts_with("line 3: 'k' is set twice in [x]"), "{err}");
    }

    #[test]
    fn refuses_a_section_with_a_long_term_key() {
        let err = with_section(FILE, "prod", &values("X")).unwrap_err();
        assert_eq!(err, "it holds a long-term access key");
        assert!(with_section(FILE, "default", &values("X")).is_err());
    }

    #[test]
    fn removing_a_session_restores_the_file() {
        let written = with_section(FILE, "work-mfa", &values("X")).unwrap();
        assert_eq!(
            without_session(&written, "work-mfa", "ASIAX").as_deref(),
            Some(FILE)
        );
        // Another session now: left alone.
        assert_eq!(without_session(&written, "work-mfa", "ASIAY"), None);
        assert_eq!(without_session(FILE, "nope", "ASIAX"), None);
        // Other lines of the section stay, with the header.
        let text = "[s]\nregion = eu\n[t]\nx = 1\n";
        let written = with_section(text, "s", &values("Z")).unwrap();
        assert_eq!(without_session(&written, "s", "ASIAZ").unwrap(), text);
    }

    #[test]
    fn section_names() {
        assert!(check_section_name("work-mfa").is_ok());
        for bad in ["", " a", "a]", "[a", "a\nb", "a#b"] {
            assert!(check_section_name(bad).is_err(), "{bad:?}");
        }
    }
}
