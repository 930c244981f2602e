//! The line syntax of the profile files, shared by the reader
//! ([`super::load_profile`]) and the writers (`--write-profile`, `forget`),
//! so that a writer edits exactly the section and the lines a reader reads.
//!
//! Two readers define what a file means, and they disagree at the edges:
//! the AWS CLI (botocore, on Python's configparser) and the AWS SDKs (their
//! shared parser specification and conformance suite). The rule here: where
//! they agree, read as they do; where they would pick different things, or
//! where configparser's behaviour is an accident, refuse with the line and
//! the fix. Never silently pick one.
//!
//! - Lines end in LF, CRLF or a lone CR (configparser's universal newlines).
//! - `#` and `;` start a comment line; in a value they start a comment only
//!   after white space (the SDKs' rule; the CLI keeps them in the value).
//! - A line indented deeper than the property above it continues that
//!   property (configparser's rule, which also reads keys indented under a
//!   header). When the property's own value is empty, the continuation lines
//!   are `key = value` sub-properties (`s3 =`, `sts =`).
//! - Refused, naming the line: `key: value` (the CLI reads it, the SDKs do
//!   not), an indented header (the CLI reads it as part of the value above),
//!   text after a header or a second `]`, a duplicate key (keys are
//!   case-insensitive) or section (the CLI refuses both; the SDKs merge),
//!   and `[DEFAULT]` (configparser copies its keys into every profile).
//! - Headers are named as both readers name them; a header that only one of
//!   them reads as a profile (`[ profile work ]`, `[default ]`,
//!   `[profiles work]`) is [`Header::Disputed`], and a request for the name
//!   it would give is refused.

use std::collections::HashMap;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FileKind {
    Config,
    Credentials,
}

/// One physical line: its text, and the terminator that ended it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RawLine<'a> {
    pub text: &'a str,
    pub end: &'a str,
}

/// Splits `text` at LF, CRLF and lone CR, keeping each terminator.
pub fn split_lines(text: &str) -> Vec<RawLine<'_>> {
    let bytes = text.as_bytes();
    let mut lines = Vec::new();
    let mut start = 0;
    let mut i = 0;
    while i < bytes.len() {
        let end_len = match bytes[i] {
            b'\n' => 1,
            b'\r' if bytes.get(i + 1) == Some(&b'\n') => 2,
            b'\r' => 1,
            _ => {
                i += 1;
                continue;
            }
        };
        lines.push(RawLine {
            text: &text[start..i],
            end: &text[i..i + end_len],
        });
        i += end_len;
        start = i;
    }
    if start < text.len() {
        lines.push(RawLine {
            text: &text[start..],
            end: "",
        });
    }
    lines
}

/// A leading byte order mark, and the text after it.
pub fn split_bom(text: &str) -> (&str, &str) {
    match text.strip_prefix('\u{feff}') {
        Some(rest) => ("\u{feff}", rest),
        None => ("", text),
    }
}

/// A line with its terminator, as it was in the file.
pub fn whole(line: RawLine) -> String {
    format!("{}{}", line.text, line.end)
}

/// A line with its terminator, or with `newline` when it had none (the
/// last line of a file), so that something can follow it.
pub fn ended(line: RawLine, newline: &str) -> String {
    let end = if line.end.is_empty() {
        newline
    } else {
        line.end
    };
    format!("{}{end}", line.text)
}

/// Lines with their terminators, as they were in the file.
pub fn join(lines: &[RawLine]) -> String {
    lines.iter().map(|l| whole(*l)).collect()
}

/// A file parsed for editing profile `name`: refused (with the reason) when
/// the reader would refuse the file or a header names the profile to only
/// one of the AWS CLI and the SDKs.
pub fn parse_for_edit<'a>(
    text: &'a str,
    kind: FileKind,
    name: &str,
) -> Result<Document<'a>, String> {
    let document = parse(text, kind).map_err(|e| format!("line {}: {}", e.line, e.reason))?;
    let disputed = document.sections.iter().find(
        |s| matches!(&s.header, Header::Disputed { name: n, services: false, .. } if n == name),
    );
    if let Some(section) = disputed {
        return Err(format!(
            "[{}] on line {} names it to only one of the AWS CLI and the AWS SDKs",
            section.raw,
            section.line + 1
        ));
    }
    Ok(document)
}

/// How new lines end: CRLF if any line of the file does, else as the
/// file's first line ends, else LF.
pub fn newline_of<'a>(text: &str, lines: &[RawLine<'a>]) -> &'a str {
    if text.contains("\r\n") {
        return "\r\n";
    }
    lines
        .iter()
        .map(|l| l.end)
        .find(|e| !e.is_empty())
        .unwrap_or("\n")
}

/// `text` with a new section `[header]` of `pairs` at the end, after a
/// blank line.
pub fn with_new_section(
    bom: &str,
    text: &str,
    lines: &[RawLine],
    newline: &str,
    header: &str,
    pairs: &[(&str, &str)],
) -> String {
    let mut out = format!("{bom}{text}");
    if !text.is_empty() {
        if lines.last().is_some_and(|l| l.end.is_empty()) {
            out.push_str(newline);
        }
        out.push_str(newline);
    }
    out.push_str(&format!("[{header}]{newline}"));
    for (key, value) in pairs {
        out.push_str(&format!("{key} = {value}{newline}"));
    }
    out
}

/// What a section header names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Header {
    /// A profile; `prefixed` when the config file spelled it
    /// `[profile NAME]` (which matters only for `default`).
    Profile { name: String, prefixed: bool },
    /// `[services NAME]`.
    Services(String),
    /// A header one reader takes for profile (or services) `name` and the
    /// other does not; `fix` says how to write it so both agree.
    Disputed {
        name: String,
        services: bool,
        fix: String,
    },
    /// Anything else: `[sso-session x]`, `[plugins]`, `[profile a b]`.
    Other,
}

#[derive(Debug)]
pub struct Section {
    pub header: Header,
    /// The text between the brackets, as written.
    pub raw: String,
    /// Index of the header line.
    pub line: usize,
    /// Index one past the section's last line.
    pub end: usize,
    pub properties: Vec<Property>,
}

#[derive(Debug)]
pub struct Property {
    /// Lowercase, as both readers compare keys.
    pub key: String,
    /// Trimmed, an inline comment cut off, continuation lines joined by LF.
    pub value: String,
    /// Index of the `key = value` line.
    pub line: usize,
    /// Index of its last continuation line (`line` when there is none).
    pub last: usize,
    /// `key = value` continuation lines under an empty value, keys as written.
    pub sub: Vec<(String, String, usize)>,
}

impl Drop for Property {
    fn drop(&mut self) {
        // Values can be secret keys.
        zeroize::Zeroize::zeroize(&mut self.value);
    }
}

/// A parsed file: its lines and sections.
#[derive(Debug)]
pub struct Document<'a> {
    pub lines: Vec<RawLine<'a>>,
    pub sections: Vec<Section>,
}

/// Why a file cannot be read: the 1-based line, what is wrong, and the fix.
#[derive(Debug, PartialEq, Eq)]
pub struct SyntaxError {
    pub line: usize,
    pub reason: String,
    pub fix: String,
}

fn error(index: usize, reason: impl Into<String>, fix: impl Into<String>) -> SyntaxError {
    SyntaxError {
        line: index + 1,
        reason: reason.into(),
        fix: fix.into(),
    }
}

impl Document<'_> {
    /// The sections that hold profile `name`, in file order.
    pub fn profile_sections<'s>(&'s self, name: &'s str) -> impl Iterator<Item = &'s Section> {
        self.sections
            .iter()
            .filter(move |s| matches!(&s.header, Header::Profile { name: n, .. } if n == name))
    }
}

/// Parses one file. Every refusal names its line.
pub fn parse(text: &str, kind: FileKind) -> Result<Document<'_>, SyntaxError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let lines = split_lines(text);
    let mut sections: Vec<Section> = Vec::new();
    // The property that an indented line would continue, and its indent.
    let mut open: Option<usize> = None;
    let mut open_indent = 0;

    for (index, line) in lines.iter().enumerate() {
        let trimmed = line.text.trim();
        if trimmed.is_empty() || trimmed.starts_with(['#', ';']) {
            continue;
        }
        let indent = line.text.len() - line.text.trim_start().len();

        if let (Some(_), Some(section)) = (open, sections.last_mut())
            && indent > open_indent
        {
            if trimmed.starts_with('[') {
                return Err(error(
                    index,
                    "an indented section header, which the AWS CLI reads as part of the value above",
                    "remove the white space before '['",
                ));
            }
            let property = section.properties.last_mut().expect("open property");
            continue_property(property, trimmed, index)?;
            continue;
        }

        if let Some(rest) = trimmed.strip_prefix('[') {
            if indent > 0 {
                return Err(error(
                    index,
                    "an indented section header",
                    "remove the white space before '['",
                ));
            }
            let section = header_line(rest, index, kind)?;
            if let Some(previous) = sections.last_mut() {
                previous.end = index;
            }
            sections.push(section);
            open = None;
            continue;
        }

        let Some(section) = sections.last_mut() else {
            return Err(error(
                index,
                "a line before any [section] header",
                "put a [section] header above it",
            ));
        };
        let property = property_line(trimmed, index)?;
        if let Some(first) = section.properties.iter().find(|p| p.key == property.key) {
            return Err(error(
                index,
                format!(
                    "'{}' is set twice in [{}], on lines {} and {} (keys ignore case)",
                    property.key,
                    section.raw,
                    first.line + 1,
                    index + 1
                ),
                "delete one of them",
            ));
        }
        section.properties.push(property);
        open = Some(index);
        open_indent = indent;
    }
    if let Some(last) = sections.last_mut() {
        last.end = lines.len();
    }
    check_sections(&sections, kind)?;
    Ok(Document { lines, sections })
}

fn header_line(rest: &str, index: usize, kind: FileKind) -> Result<Section, SyntaxError> {
    let Some(close) = rest.find(']') else {
        return Err(error(
            index,
            "a section header without a closing ']'",
            "end the header with ']'",
        ));
    };
    let raw = &rest[..close];
    let after = rest[close + 1..].trim_start();
    if after.contains(']') {
        return Err(error(
            index,
            "a section header with a second ']', which the AWS CLI and the SDKs read differently",
            "keep one ']' on the header line",
        ));
    }
    if !(after.is_empty() || after.starts_with(['#', ';'])) {
        return Err(error(
            index,
            format!("text after the section header [{raw}]"),
            "remove it, or start it with '#' to make it a comment",
        ));
    }
    if raw.trim().is_empty() {
        return Err(error(index, "an empty section header", "name the section"));
    }
    if raw == "DEFAULT" {
        return Err(error(
            index,
            "[DEFAULT]: the AWS CLI copies its keys into every profile, and the SDKs ignore it",
            "move its keys into the profiles that need them",
        ));
    }
    Ok(Section {
        header: name_header(raw, kind),
        raw: raw.to_owned(),
        line: index,
        end: index + 1,
        properties: Vec::new(),
    })
}

fn property_line(trimmed: &str, index: usize) -> Result<Property, SyntaxError> {
    let equals = trimmed.find('=');
    let colon = trimmed.find(':');
    if let Some(colon) = colon
        && equals.is_none_or(|e| colon < e)
    {
        let key = trimmed[..colon].trim();
        return Err(error(
            index,
            format!("'{key}:' sets a value with ':', which the AWS CLI reads and the SDKs do not"),
            format!("write it as '{key} = ...'"),
        ));
    }
    let Some(equals) = equals else {
        return Err(error(
            index,
            "expected 'key = value', a [section] header or a comment",
            "fix the line, or make it a comment with '#'",
        ));
    };
    let key = trimmed[..equals].trim();
    if key.is_empty() {
        return Err(error(
            index,
            "a property without a name",
            "write it as 'key = value'",
        ));
    }
    Ok(Property {
        key: key.to_ascii_lowercase(),
        value: strip_inline_comment(&trimmed[equals + 1..])
            .trim()
            .to_owned(),
        line: index,
        last: index,
        sub: Vec::new(),
    })
}

fn continue_property(
    property: &mut Property,
    trimmed: &str,
    index: usize,
) -> Result<(), SyntaxError> {
    // Sub-properties: the value was empty on the key's own line.
    let nested = property.value.is_empty() || property.value.starts_with('\n');
    property.value.push('\n');
    property.value.push_str(trimmed);
    property.last = index;
    if nested {
        let Some((key, value)) = trimmed.split_once('=') else {
            return Err(error(
                index,
                format!("expected 'key = value' under '{} ='", property.key),
                "write the line as 'key = value', or remove its indentation",
            ));
        };
        let key = key.trim();
        if key.is_empty() {
            return Err(error(
                index,
                format!("a setting without a name under '{} ='", property.key),
                "write it as 'key = value'",
            ));
        }
        let value = strip_inline_comment(value).trim();
        property.sub.push((key.to_owned(), value.to_owned(), index));
    }
    Ok(())
}

/// Duplicates across sections: the same header twice (configparser refuses
/// it), or two headers that name the same profile in one file (the SDKs
/// merge them, the CLI keeps the later).
fn check_sections(sections: &[Section], kind: FileKind) -> Result<(), SyntaxError> {
    let mut seen: HashMap<(u8, &str), &Section> = HashMap::new();
    for section in sections {
        let key = match &section.header {
            // `[default]` and `[profile default]` are both allowed in the
            // config file: the SDKs' rule picks one (see `load_profile`).
            Header::Profile { name, prefixed } => {
                let tag = if kind == FileKind::Config && name == "default" && !prefixed {
                    1
                } else {
                    0
                };
                (tag, name.as_str())
            }
            Header::Services(name) => (2, name.as_str()),
            Header::Disputed { .. } | Header::Other => (3, section.raw.as_str()),
        };
        if let Some(first) = seen.insert(key, section) {
            return Err(error(
                section.line,
                format!(
                    "[{}] on line {} names the same section as [{}] on line {}",
                    section.raw,
                    section.line + 1,
                    first.raw,
                    first.line + 1
                ),
                "merge the two sections into one",
            ));
        }
    }
    Ok(())
}

/// Cuts a `#` or `;` comment that follows white space.
pub fn strip_inline_comment(value: &str) -> &str {
    let bytes = value.as_bytes();
    for i in 1..bytes.len() {
        if matches!(bytes[i], b'#' | b';') && matches!(bytes[i - 1], b' ' | b'\t') {
            return &value[..i];
        }
    }
    value
}

// ---------------------------------------------------------------------------
// Header names

/// What the header `[raw]` names, to both readers.
pub fn name_header(raw: &str, kind: FileKind) -> Header {
    match kind {
        FileKind::Config => config_header(raw),
        FileKind::Credentials => credentials_header(raw),
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Profile,
    Services,
}

fn config_header(raw: &str) -> Header {
    let cli = cli_config_reading(raw);
    let sdk = sdk_config_reading(raw);
    let fix = |kind: Kind, name: &str| match (kind, name) {
        (Kind::Profile, "default") => "write it as [default] or [profile default]".to_owned(),
        (Kind::Profile, _) => format!("write it as [profile {}]", quote_name(name)),
        (Kind::Services, _) => format!("write it as [services {}]", quote_name(name)),
    };
    match (cli, sdk) {
        (Some((kind, name, true)), sdk)
            if sdk.as_ref().is_none_or(|(k, n)| *k == kind && *n == name) =>
        {
            match kind {
                Kind::Profile => Header::Profile {
                    prefixed: raw != "default",
                    name,
                },
                Kind::Services => Header::Services(name),
            }
        }
        (Some((kind, name, _)), _) | (None, Some((kind, name))) => Header::Disputed {
            fix: fix(kind, &name),
            services: kind == Kind::Services,
            name,
        },
        (None, None) => Header::Other,
    }
}

/// botocore: a header that starts with `profile` or `services` is split as a
/// shell would split it and names its second word when it has exactly two;
/// `default` is the default profile. `exact` says the first word is exactly
/// the keyword (`[profiles work]` also names `work` to the CLI).
fn cli_config_reading(raw: &str) -> Option<(Kind, String, bool)> {
    let kind = if raw.starts_with("profile") {
        Kind::Profile
    } else if raw.starts_with("sso-session") {
        return None;
    } else if raw.starts_with("services") {
        Kind::Services
    } else if raw == "default" {
        return Some((Kind::Profile, "default".to_owned(), true));
    } else {
        return None;
    };
    let mut words = shell_words(raw)?;
    if words.len() != 2 {
        return None;
    }
    let name = words.pop()?;
    let keyword = match kind {
        Kind::Profile => "profile",
        Kind::Services => "services",
    };
    Some((kind, name, words[0] == keyword))
}

/// The SDKs: the header is trimmed; `default`, or a keyword, white space and
/// a name of letters, digits and `-/.%@_:+`.
fn sdk_config_reading(raw: &str) -> Option<(Kind, String)> {
    let header = raw.trim();
    if header == "default" {
        return Some((Kind::Profile, "default".to_owned()));
    }
    let (kind, rest) = if let Some(rest) = header.strip_prefix("profile") {
        (Kind::Profile, rest)
    } else if let Some(rest) = header.strip_prefix("services") {
        (Kind::Services, rest)
    } else {
        return None;
    };
    if !rest.starts_with([' ', '\t']) {
        return None;
    }
    let name = rest.trim();
    sdk_name(name).then(|| (kind, name.to_owned()))
}

fn credentials_header(raw: &str) -> Header {
    let trimmed = raw.trim();
    if trimmed == raw {
        // botocore takes the header as it is; the SDKs agree, or ignore a
        // name they do not accept (`[in valid 2]`, `[profile foo]`).
        return Header::Profile {
            name: raw.to_owned(),
            prefixed: false,
        };
    }
    Header::Disputed {
        name: trimmed.to_owned(),
        services: false,
        fix: format!("write it as [{trimmed}]"),
    }
}

fn sdk_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-/.%@_:+".contains(c))
}

/// A profile name as a header needs it: quoted when it holds white space or
/// quotes, which is what `aws configure` writes.
pub fn quote_name(name: &str) -> String {
    if name.is_empty() || name.contains(|c: char| c.is_whitespace() || "'\"\\".contains(c)) {
        if !name.contains('\'') {
            return format!("'{name}'");
        }
        let escaped = name.replace('\\', "\\\\").replace('"', "\\\"");
        return format!("\"{escaped}\"");
    }
    name.to_owned()
}

/// Splits `text` into words as Python's `shlex.split` does (POSIX rules,
/// no comments): white space separates, quotes group, a backslash escapes
/// outside single quotes. `None` when a quote is not closed.
pub fn shell_words(text: &str) -> Option<Vec<String>> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        match c {
            ' ' | '\t' | '\r' | '\n' => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            '\'' => {
                in_word = true;
                loop {
                    match chars.next()? {
                        '\'' => break,
                        c => word.push(c),
                    }
                }
            }
            '"' => {
                in_word = true;
                loop {
                    match chars.next()? {
                        '"' => break,
                        '\\' => match chars.next()? {
                            c @ ('"' | '\\') => word.push(c),
                            c => {
                                word.push('\\');
                                word.push(c);
                            }
                        },
                        c => word.push(c),
                    }
                }
            }
            '\\' => {
                in_word = true;
                word.push(chars.next()?);
            }
            c => {
                in_word = true;
                word.push(c);
            }
        }
    }
    if in_word {
        words.push(word);
    }
    Some(words)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(text: &str, kind: FileKind) -> Vec<Header> {
        parse(text, kind)
            .unwrap()
            .sections
            .iter()
            .map(|s| s.header.clone())
            .collect()
    }

    fn profile(name: &str, prefixed: bool) -> Header {
        Header::Profile {
            name: name.to_owned(),
            prefixed,
        }
    }

    fn refusal(text: &str, kind: FileKind) -> (usize, String) {
        let err = parse(text, kind).unwrap_err();
        (err.line, err.reason)
    }

    #[test]
    fn line_endings() {
        let lines = split_lines("a\nb\r\nc\rd");
        let ends: Vec<_> = lines.iter().map(|l| (l.text, l.end)).collect();
        assert_eq!(ends, [("a", "\n"), ("b", "\r\n"), ("c", "\r"), ("d", "")]);
        let doc = parse(
            "[profile w]\rregion = a\rmfa_serial = b\r",
            FileKind::Config,
        )
        .unwrap();
        let keys: Vec<_> = doc.sections[0]
            .properties
            .iter()
            .map(|p| p.key.as_str())
            .collect();
        assert_eq!(keys, ["region", "mfa_serial"]);
    }

    #[test]
    fn config_headers_as_both_readers_name_them() {
        assert_eq!(
            names(
                "[default]\n[profile default]\n[profile a]\n[profile\tb ]\n[profile 'my work']\n\
                 [profile \"x y\"]\n[profile foo!bar]\n[services s]\n[sso-session x]\n[plugins]\n\
                 [profile my w3]\n[profilex]\n",
                FileKind::Config
            ),
            [
                profile("default", false),
                profile("default", true),
                profile("a", true),
                profile("b", true),
                profile("my work", true),
                profile("x y", true),
                profile("foo!bar", true),
                Header::Services("s".to_owned()),
                Header::Other,
                Header::Other,
                Header::Other,
                Header::Other,
            ]
        );
        for (raw, name) in [
            (" profile work ", "work"),
            ("default ", "default"),
            ("profiles work", "work"),
            ("profilefoo bar", "bar"),
            (" services s", "s"),
        ] {
            assert!(
                matches!(config_header(raw), Header::Disputed { name: n, .. } if n == name),
                "{raw:?}"
            );
        }
    }

    #[test]
    fn credentials_headers() {
        assert_eq!(
            names("[a]\n[profile b]\n[in valid]\n", FileKind::Credentials),
            [
                profile("a", false),
                profile("profile b", false),
                profile("in valid", false)
            ]
        );
        assert!(matches!(
            credentials_header(" work "),
            Header::Disputed { name, fix, .. } if name == "work" && fix == "write it as [work]"
        ));
    }

    #[test]
    fn indentation_follows_configparser() {
        // Keys indented under a header are keys.
        let doc = parse(
            "[profile w]\n  region = a\n  mfa_serial = b\n",
            FileKind::Config,
        )
        .unwrap();
        assert_eq!(doc.sections[0].properties.len(), 2);
        // Deeper lines continue; sub-properties under an empty value.
        let doc = parse(
            "[profile w]\n  s3 =\n    max = 1\n  region = a\n  note = x\n     more\n",
            FileKind::Config,
        )
        .unwrap();
        let props = &doc.sections[0].properties;
        assert_eq!(props[0].value, "\nmax = 1");
        assert_eq!(props[0].sub, [("max".to_owned(), "1".to_owned(), 2)]);
        assert_eq!((props[0].line, props[0].last), (1, 2));
        assert_eq!(props[1].value, "a");
        assert_eq!(props[2].value, "x\nmore");
        assert!(props[2].sub.is_empty());
    }

    #[test]
    fn refusals_name_their_line() {
        let config = FileKind::Config;
        for (text, line, reason) in [
            (
                "[profile w]\nregion: a\n",
                2,
                "'region:' sets a value with ':'",
            ),
            (
                "[profile w]\nregion = a\n\t[profile b]\n",
                3,
                "an indented section header",
            ),
            ("\t[profile b]\n", 1, "an indented section header"),
            (
                "[profile w] junk\n",
                1,
                "text after the section header [profile w]",
            ),
            (
                "[profile w] # see [x]\n",
                1,
                "a section header with a second ']'",
            ),
            ("[profile w\n", 1, "a section header without a closing ']'"),
            (
                "[DEFAULT]\nregion = a\n",
                1,
                "[DEFAULT]: the AWS CLI copies",
            ),
            ("region = a\n", 1, "a line before any [section] header"),
            ("  x = 1\n", 1, "a line before any [section] header"),
            ("[profile w]\nnot a property\n", 2, "expected 'key = value'"),
            ("[profile w]\n= v\n", 2, "a property without a name"),
            (
                "[profile w]\ns3 =\n  junk\n",
                3,
                "expected 'key = value' under 's3 ='",
            ),
            (
                "[profile w]\nregion = a\nRegion = b\n",
                3,
                "'region' is set twice in [profile w], on lines 2 and 3",
            ),
            (
                "[profile w]\n[x]\n[profile w]\n",
                3,
                "[profile w] on line 3 names the same section as [profile w] on line 1",
            ),
            (
                "[profile w]\n[profile  w]\n",
                2,
                "[profile  w] on line 2 names the same section as [profile w] on line 1",
            ),
            (
                "[plugins]\na = 1\n[plugins]\n",
                3,
                "[plugins] on line 3 names the same section",
            ),
            (
                "[sso-session s]\na = 1\nA = 2\n",
                3,
                "'a' is set twice in [sso-session s]",
            ),
        ] {
            let (got_line, got) = refusal(text, config);
            assert_eq!(got_line, line, "{text:?}: {got}");
            assert!(got.starts_with(reason), "{text:?}: {got}");
        }
        // Both default spellings are allowed side by side; twice each is not.
        assert!(parse("[default]\n[profile default]\n", config).is_ok());
        assert!(parse("[default]\n[default]\n", config).is_err());
        assert!(parse("[a]\n[a]\n", FileKind::Credentials).is_err());
    }

    #[test]
    fn comments_and_values() {
        let doc = parse(
            "; top\n[profile w] ; c\nname = value ; c\nhash = a#b\nempty =\n  # comment line\n",
            FileKind::Config,
        )
        .unwrap();
        let values: Vec<_> = doc.sections[0]
            .properties
            .iter()
            .map(|p| p.value.as_str())
            .collect();
        assert_eq!(values, ["value", "a#b", ""]);
        assert_eq!(doc.sections[0].end, 6);
    }

    #[test]
    fn shell_words_as_python_splits() {
        let split = |t: &str| shell_words(t);
        assert_eq!(
            split("profile 'my work'"),
            Some(vec!["profile".into(), "my work".into()])
        );
        assert_eq!(
            split("profile \"a \\\"b\\\" \\x\""),
            Some(vec!["profile".into(), "a \"b\" \\x".into()])
        );
        assert_eq!(
            split("profile a\\ b"),
            Some(vec!["profile".into(), "a b".into()])
        );
        assert_eq!(
            split("profile ''"),
            Some(vec!["profile".into(), String::new()])
        );
        assert_eq!(split("  a\tb  "), Some(vec!["a".into(), "b".into()]));
        assert_eq!(split("profile 'open"), None);
        assert_eq!(split("a\\"), None);
    }

    #[test]
    fn quoted_names_round_trip() {
        for name in ["work", "my work", "it's", "a\"b", "x\\y"] {
            let header = format!("profile {}", quote_name(name));
            assert_eq!(config_header(&header), profile(name, true), "{header}");
        }
    }
}
