//! What the user types: MFA codes, durations and the `[CODE] [PROFILE]` positionals.
//!
//! Everything here is checked before any file is read or any request is made,
//! so a typo costs nothing and never burns one of the few MFA attempts AWS
//! allows before it locks a device out.

use std::fmt;
use std::time::Duration;

use anyhow::{Result, bail};

use crate::error::Failure;

/// A six-digit TOTP code. Its Debug and Display never show the digits.
#[derive(Clone, PartialEq, Eq)]
pub struct MfaCode(String);

impl MfaCode {
    /// Accepts exactly six ASCII digits, after trimming surrounding white space
    /// (a code pasted from an authenticator app often carries a newline) and
    /// the spaces inside it (apps show `123 456`).
    pub fn parse(text: &str) -> Result<MfaCode> {
        let text = text.trim();
        let joined: String;
        let text = if text.contains(' ') && text.chars().all(|c| c == ' ' || c.is_numeric()) {
            joined = text.chars().filter(|c| *c != ' ').collect();
            joined.as_str()
        } else {
            text
        };
        if text.is_empty() {
            return Err(Failure::usage("the MFA code is empty")
                .hint("type the 6 digits your authenticator app shows")
                .into());
        }
        let all_ascii_digits = text.bytes().all(|b| b.is_ascii_digit());
        if !all_ascii_digits {
            let what = if text.chars().all(char::is_numeric) {
                "must be written with the digits 0-9"
            } else {
                "must contain only digits"
            };
            return Err(Failure::usage(format!("the MFA code {what}"))
                .hint("type the 6 digits your authenticator app shows")
                .into());
        }
        if text.len() != 6 {
            return Err(Failure::usage(format!(
                "the MFA code must be 6 digits, not {}",
                text.len()
            ))
            .hint("type the 6 digits your authenticator app shows")
            .into());
        }
        Ok(MfaCode(text.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Drop for MfaCode {
    fn drop(&mut self) {
        zeroize::Zeroize::zeroize(&mut self.0);
    }
}

impl fmt::Debug for MfaCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("MfaCode(******)")
    }
}

/// Whether a positional argument was meant as a code rather than a profile
/// name: made only of digits (any script's digits, so that a code typed with
/// non-ASCII digits is reported as a bad code, not as a missing profile).
pub fn looks_like_code(arg: &str) -> bool {
    arg.chars().any(char::is_numeric) && arg.chars().all(|c| c == ' ' || c.is_numeric())
}

/// The positionals, sorted into a code and a profile.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Positionals {
    pub code: Option<String>,
    pub profile: Option<String>,
}

/// Sorts `[CODE] [PROFILE]`. The session.sh order is code then profile; the
/// reverse order is accepted too, since a code can never be a profile name
/// that does not itself look like a code.
pub fn sort_positionals(args: &[String]) -> Result<Positionals> {
    match args {
        [] => Ok(Positionals::default()),
        [one] if looks_like_code(one) => Ok(Positionals {
            code: Some(one.clone()),
            profile: None,
        }),
        [one] => Ok(Positionals {
            code: None,
            profile: Some(one.clone()),
        }),
        [first, second] => match (looks_like_code(first), looks_like_code(second)) {
            (true, false) => Ok(Positionals {
                code: Some(first.clone()),
                profile: Some(second.clone()),
            }),
            (false, true) => Ok(Positionals {
                code: Some(second.clone()),
                profile: Some(first.clone()),
            }),
            (true, true) => Err(Failure::usage("two MFA codes given")
                .hint("pass one code and one profile: mfa-session 123456 PROFILE")
                .into()),
            (false, false) => Err(Failure::usage(format!(
                "two profiles given ('{first}' and '{second}')"
            ))
            .hint("pass one code and one profile: mfa-session 123456 PROFILE")
            .into()),
        },
        _ => Err(Failure::usage(format!(
            "too many arguments: expected at most a code and a profile, got {}",
            args.len()
        ))
        .hint("usage: mfa-session [CODE] [PROFILE] [OPTIONS]")
        .into()),
    }
}

/// Parses a duration: plain seconds (`3600`), or numbers with units `s`, `m`,
/// `h`, `d`, optionally combined (`90m`, `12h`, `1h30m`). Range is not checked
/// here; see [`crate::limits::check_session_duration`].
pub fn parse_duration(text: &str) -> Result<Duration> {
    let text = text.trim();
    if text.is_empty() {
        bail!("the duration is empty");
    }
    if let Ok(secs) = text.parse::<u64>() {
        return Ok(Duration::from_secs(secs));
    }
    let mut total: u64 = 0;
    let mut number = String::new();
    for c in text.chars() {
        if c.is_ascii_digit() {
            number.push(c);
            continue;
        }
        let unit = match c.to_ascii_lowercase() {
            's' => 1,
            'm' => 60,
            'h' => 3600,
            'd' => 86400,
            _ => {
                bail!("'{text}' is not a duration (use seconds, or units such as 90m, 12h, 1h30m)")
            }
        };
        if number.is_empty() {
            bail!("'{text}' is not a duration (a unit needs a number before it, as in 12h)");
        }
        let value: u64 = number
            .parse()
            .map_err(|_| anyhow::anyhow!("'{text}' is too long a duration"))?;
        total = value
            .checked_mul(unit)
            .and_then(|v| total.checked_add(v))
            .ok_or_else(|| anyhow::anyhow!("'{text}' is too long a duration"))?;
        number.clear();
    }
    if !number.is_empty() {
        bail!(
            "'{text}' is not a duration (the last number has no unit: write {number}s or {number}m)"
        );
    }
    Ok(Duration::from_secs(total))
}

/// A short human form: `12h`, `1h30m`, `45m`, `20s`.
pub fn format_duration(duration: Duration) -> String {
    let secs = duration.as_secs();
    let (h, m, s) = (secs / 3600, secs % 3600 / 60, secs % 60);
    let mut out = String::new();
    if h > 0 {
        out.push_str(&format!("{h}h"));
    }
    if m > 0 {
        out.push_str(&format!("{m}m"));
    }
    if s > 0 || out.is_empty() {
        out.push_str(&format!("{s}s"));
    }
    out
}

/// Checks an MFA serial number the way GetSessionToken does: 9 to 256
/// characters of `[\w+=/:,.@-]`, a device ARN or a hardware serial.
pub fn check_serial(serial: &str) -> Result<()> {
    let len = serial.chars().count();
    if !(9..=256).contains(&len) {
        bail!("'{serial}' is not an MFA serial number (it has {len} characters, not 9 to 256)");
    }
    if let Some(bad) = serial
        .chars()
        .find(|&c| !(c.is_ascii_alphanumeric() || "_+=/:,.@-".contains(c)))
    {
        bail!("'{serial}' is not an MFA serial number (it contains {bad:?})");
    }
    Ok(())
}

/// How long each kind of IAM name may be (AWS's limits).
pub const USER_NAME: std::ops::RangeInclusive<usize> = 1..=64;
pub const ROLE_SESSION_NAME: std::ops::RangeInclusive<usize> = 2..=64;
pub const DEVICE_NAME: std::ops::RangeInclusive<usize> = 1..=226;

/// The one check for IAM's names (users, role sessions, MFA devices): a
/// length in `bounds` and only `[\w+=,.@-]`, ASCII.
pub fn iam_name(name: &str, bounds: std::ops::RangeInclusive<usize>) -> bool {
    bounds.contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_+=,.@-".contains(c))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn a_code_is_exactly_six_ascii_digits(text in "\\PC{0,10}|[0-9 ]{4,8}") {
            // Six ASCII digits, spaces between them ignored.
            let trimmed = text.trim();
            let digits = trimmed.bytes().filter(|b| *b != b' ');
            let valid = trimmed.bytes().all(|b| b == b' ' || b.is_ascii_digit())
                && digits.count() == 6;
            prop_assert_eq!(MfaCode::parse(&text).is_ok(), valid);
        }

        #[test]
        fn durations_parse_and_format_back(text in "\\PC{0,12}|[0-9hmsd]{1,10}") {
            if let Ok(d) = parse_duration(&text) {
                prop_assert_eq!(parse_duration(&format_duration(d)).unwrap(), d);
            }
        }

        #[test]
        fn durations_with_units_add_up(h in 0u64..1000, m in 0u64..1000, s in 0u64..1000) {
            let d = parse_duration(&format!("{h}h{m}m{s}s")).unwrap();
            prop_assert_eq!(d.as_secs(), h * 3600 + m * 60 + s);
            prop_assert_eq!(
                crate::limits::check_session_duration(d).is_ok(),
                (900..=129_600).contains(&d.as_secs())
            );
        }

        #[test]
        fn positionals_never_panic_and_keep_what_they_sort(
            args in proptest::collection::vec("\\PC{0,8}|[0-9]{6}", 0..4)
        ) {
            match sort_positionals(&args) {
                Ok(p) => {
                    prop_assert!(args.len() <= 2);
                    let kept = p.code.iter().count() + p.profile.iter().count();
                    prop_assert_eq!(kept, args.len());
                }
                Err(_) => prop_assert!(args.len() >= 2),
            }
        }

        #[test]
        fn serial_check_never_panics(text in "\\PC{0,300}") {
            let _ = check_serial(&text);
        }
    }

    fn strings(args: &[&str]) -> Vec<String> {
        args.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn codes() {
        assert_eq!(MfaCode::parse("123456").unwrap().as_str(), "123456");
        assert_eq!(MfaCode::parse(" 012345\n").unwrap().as_str(), "012345");
        // As authenticator apps show it.
        assert_eq!(MfaCode::parse("123 456").unwrap().as_str(), "123456");
        assert_eq!(MfaCode::parse(" 123 456 \n").unwrap().as_str(), "123456");
        for bad in [
            "",
            "   ",
            "12345",
            "1234567",
            "12345a",
            "abcdef",
            "12 456",
            "123 4567",
            "123\t456",
            "١٢٣ ٤٥٦",
            "١٢٣٤٥٦",
            "１２３４５６",
            "+12345",
            "-12345",
        ] {
            assert!(MfaCode::parse(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn code_errors_do_not_echo_the_code() {
        let err = MfaCode::parse("1234567").unwrap_err();
        assert!(!format!("{err:#}").contains("1234567"));
        assert_eq!(
            format!("{:?}", MfaCode::parse("123456").unwrap()),
            "MfaCode(******)"
        );
    }

    #[test]
    fn positionals() {
        let p = sort_positionals(&strings(&["123456", "work"])).unwrap();
        assert_eq!(p.code.as_deref(), Some("123456"));
        assert_eq!(p.profile.as_deref(), Some("work"));

        let p = sort_positionals(&strings(&["work", "123456"])).unwrap();
        assert_eq!(p.code.as_deref(), Some("123456"));
        assert_eq!(p.profile.as_deref(), Some("work"));

        let p = sort_positionals(&strings(&["work"])).unwrap();
        assert_eq!((p.code, p.profile.as_deref()), (None, Some("work")));

        let p = sort_positionals(&strings(&["12345"])).unwrap();
        assert_eq!((p.code.as_deref(), p.profile), (Some("12345"), None));

        let p = sort_positionals(&strings(&["١٢٣٤٥٦"])).unwrap();
        assert!(p.code.is_some());

        assert_eq!(sort_positionals(&[]).unwrap(), Positionals::default());
        assert!(sort_positionals(&strings(&["123456", "654321"])).is_err());
        assert!(sort_positionals(&strings(&["a", "b"])).is_err());
        assert!(sort_positionals(&strings(&["123456", "a", "b"])).is_err());
    }

    #[test]
    fn durations() {
        let secs = |t: &str| parse_duration(t).unwrap().as_secs();
        assert_eq!(secs("3600"), 3600);
        assert_eq!(secs("90m"), 5400);
        assert_eq!(secs("12h"), 43200);
        assert_eq!(secs("36H"), 129600);
        assert_eq!(secs("1h30m"), 5400);
        assert_eq!(secs("1d"), 86400);
        assert_eq!(secs("900s"), 900);
        for bad in [
            "",
            "h",
            "12x",
            "1h30",
            "-5",
            "1.5h",
            "99999999999999999999h",
            "12 h",
        ] {
            assert!(parse_duration(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn duration_range() {
        let check = |s: u64| crate::limits::check_session_duration(Duration::from_secs(s)).is_ok();
        assert!(check(900));
        assert!(check(129600));
        assert!(!check(899));
        assert!(!check(129601));
        assert!(!check(0));
        let err =
            crate::limits::check_session_duration(Duration::from_secs(37 * 3600)).unwrap_err();
        assert_eq!(
            err.to_string(),
            "a session lasts from 15m to 36h (900 to 129600 seconds), not 37h"
        );
    }

    #[test]
    fn serials() {
        assert!(check_serial("arn:aws:iam::123456789012:mfa/alice").is_ok());
        assert!(check_serial("GAHT12345678").is_ok());
        assert!(check_serial("arn:aws:iam::123456789012:mfa/a.b@c,d=e+f_g-h").is_ok());
        assert!(check_serial("short").is_err());
        assert!(check_serial(&"a".repeat(257)).is_err());
        assert!(check_serial("arn:aws:iam::123456789012:mfa/alice smith").is_err());
        assert!(check_serial("arn:aws:iam::123456789012:mfa/$(id)").is_err());
    }

    #[test]
    fn formats() {
        assert_eq!(format_duration(Duration::from_secs(43200)), "12h");
        assert_eq!(format_duration(Duration::from_secs(5400)), "1h30m");
        assert_eq!(format_duration(Duration::from_secs(0)), "0s");
        assert_eq!(format_duration(Duration::from_secs(61)), "1m1s");
    }
}
