//! Where a value came from, carried with the value, so that `status`,
//! `doctor` and error messages say it from one place.

use std::fmt;
use std::path::PathBuf;

/// Where a value came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Origin {
    /// A line of a profile file.
    File { path: PathBuf, line: usize },
    /// An environment variable.
    Variable(&'static str),
    /// A command-line flag.
    Flag(&'static str),
    /// The default.
    Default,
    /// A default that needs saying why: the words say it ("default for a
    /// role").
    DefaultBecause(&'static str),
    /// The keyring, as the marker at this origin says.
    Keyring { marker: Box<Origin> },
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::File { path, line } => write!(f, "{}:{line}", path.display()),
            Origin::Variable(name) | Origin::Flag(name) => f.write_str(name),
            Origin::Default => f.write_str("default"),
            Origin::DefaultBecause(words) => f.write_str(words),
            Origin::Keyring { marker } => write!(
                f,
                "{} ({} at {marker})",
                crate::key_store::store_name(),
                crate::key_store::MARKER
            ),
        }
    }
}

/// A value and where it came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sourced<T> {
    pub value: T,
    pub origin: Origin,
}

impl<T> Sourced<T> {
    pub fn new(value: T, origin: Origin) -> Sourced<T> {
        Sourced { value, origin }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_read_as_the_messages_quote_them() {
        let file = Origin::File {
            path: PathBuf::from("/h/.aws/config"),
            line: 3,
        };
        assert_eq!(file.to_string(), "/h/.aws/config:3");
        assert_eq!(Origin::Variable("AWS_REGION").to_string(), "AWS_REGION");
        assert_eq!(Origin::Flag("--duration").to_string(), "--duration");
        assert_eq!(Origin::Default.to_string(), "default");
        let keyring = Origin::Keyring {
            marker: Box::new(file),
        };
        assert!(
            keyring
                .to_string()
                .ends_with("keyring (mfa_session_key at /h/.aws/config:3)")
        );
    }
}
