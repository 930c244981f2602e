//! Setting one key of a profile in the config file (`mfa_serial` after
//! `enroll`), as text: every other byte stays as it was. The section is
//! found with the same line reader the profiles are read with, and the file
//! is replaced through [`crate::secret_file::update`].

use std::path::{Path, PathBuf};

use anyhow::Result;

use crate::error::Failure;
use crate::profile::syntax::{self, FileKind, Header, join, split_bom};

/// Sets `key = value` in profile `profile` of the config file at `path`;
/// returns the real file's path.
pub fn set_value(path: &Path, profile: &str, key: &str, value: &str) -> Result<PathBuf> {
    crate::secret_file::update(path, |text| {
        with_value(text.unwrap_or(""), profile, key, value)
            .map(|text| Some(text.into_bytes()))
            .map_err(|reason| {
                Failure::new(format!(
                    "will not write {key} into profile '{profile}' in {}: {reason}",
                    path.display()
                ))
                .hint(format!("add it yourself: {key} = {value}"))
                .into()
            })
    })
}

/// Removes `key` from profile `profile` in `path`, a config or credentials
/// file as `kind` says; returns the real file's path.
pub fn remove_value(path: &Path, kind: FileKind, profile: &str, key: &str) -> Result<PathBuf> {
    crate::secret_file::update(path, |text| {
        crate::credentials_file::without_properties(text.unwrap_or(""), kind, profile, &[key])
            .map(|text| Some(text.into_bytes()))
            .map_err(|reason| {
                Failure::new(format!(
                    "will not take {key} out of profile '{profile}' in {}: {reason}",
                    path.display()
                ))
                .hint(format!("remove the line '{key} = ...' yourself"))
                .into()
            })
    })
}

/// `text` with `key = value` in the profile's config section: replaced
/// where it is, else put right after the header, else a new section at the
/// end. Pure, so that it can be tested byte for byte.
pub fn with_value(text: &str, profile: &str, key: &str, value: &str) -> Result<String, String> {
    let (bom, text) = split_bom(text);
    let document = syntax::parse_for_edit(text, FileKind::Config, profile)?;
    let lines = &document.lines;
    let newline = syntax::newline_of(text, lines);
    // The section the reader uses: [profile default] over [default].
    let sections: Vec<_> = document.profile_sections(profile).collect();
    let target = sections
        .iter()
        .find(|s| matches!(s.header, Header::Profile { prefixed: true, .. }))
        .or(sections.first());
    let Some(target) = target else {
        let header = if profile == "default" {
            "default".to_owned()
        } else {
            format!("profile {}", syntax::quote_name(profile))
        };
        return Ok(syntax::with_new_section(
            bom,
            text,
            lines,
            newline,
            &header,
            &[(key, value)],
        ));
    };
    let mut out = String::with_capacity(text.len() + 80);
    out.push_str(bom);
    match target.properties.iter().find(|p| p.key == key) {
        Some(property) => {
            out.push_str(&join(&lines[..property.line]));
            out.push_str(&format!("{key} = {value}{}", lines[property.last].end));
            out.push_str(&join(&lines[property.last + 1..]));
        }
        None => {
            out.push_str(&join(&lines[..target.line]));
            out.push_str(&syntax::ended(lines[target.line], newline));
            out.push_str(&format!("{key} = {value}{newline}"));
            out.push_str(&join(&lines[target.line + 1..]));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SERIAL: &str = "arn:aws:iam::1:mfa/alice";

    #[test]
    fn a_new_key_goes_after_the_header() {
        let text = "# mine\n[profile work]\nregion = eu-west-1\n[profile other]\nx = 1\n";
        assert_eq!(
            with_value(text, "work", "mfa_serial", SERIAL).unwrap(),
            "# mine\n[profile work]\nmfa_serial = arn:aws:iam::1:mfa/alice\nregion = eu-west-1\n[profile other]\nx = 1\n"
        );
    }

    #[test]
    fn an_old_value_is_replaced_where_it_is() {
        let text = "[default]\r\nmfa_serial = old\r\n  continued\r\nregion = x\r\n";
        assert_eq!(
            with_value(text, "default", "mfa_serial", SERIAL).unwrap(),
            "[default]\r\nmfa_serial = arn:aws:iam::1:mfa/alice\r\nregion = x\r\n"
        );
    }

    #[test]
    fn a_missing_profile_gets_a_section_at_the_end() {
        assert_eq!(
            with_value("[profile a]\nx = 1", "my work", "mfa_serial", SERIAL).unwrap(),
            "[profile a]\nx = 1\n\n[profile 'my work']\nmfa_serial = arn:aws:iam::1:mfa/alice\n"
        );
        assert_eq!(
            with_value("", "default", "mfa_serial", SERIAL).unwrap(),
            "[default]\nmfa_serial = arn:aws:iam::1:mfa/alice\n"
        );
        // The credentials-style [work] is not the config profile.
        let out = with_value("[work]\nx = 1\n", "work", "mfa_serial", SERIAL).unwrap();
        assert!(out.ends_with("\n\n[profile work]\nmfa_serial = arn:aws:iam::1:mfa/alice\n"));
    }

    #[test]
    fn the_section_the_reader_reads() {
        let text = "[default]\nmfa_serial = a\n[profile default]\nregion = r\n";
        assert_eq!(
            with_value(text, "default", "mfa_serial", SERIAL).unwrap(),
            "[default]\nmfa_serial = a\n[profile default]\nmfa_serial = arn:aws:iam::1:mfa/alice\nregion = r\n"
        );
        assert!(with_value("[ profile work ]\n", "work", "mfa_serial", SERIAL).is_err());
        assert!(with_value("[profile w]\nx = 1\nX = 2\n", "w", "mfa_serial", SERIAL).is_err());
    }
}
