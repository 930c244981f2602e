//! `mfa-session completions SHELL`: the completion script for a shell.
//!
//! The script calls back into mfa-session (clap_complete's dynamic
//! completion, through `MFA_SESSION_COMPLETE`), so that arguments are
//! completed as the command line parses them, and profile names come from
//! the profile files this tool would read, whatever files they are at the
//! moment TAB is pressed. The `init` function (`mfa`) is registered too.

use std::ffi::OsStr;

use anyhow::Result;
use clap_complete::engine::CompletionCandidate;
use clap_complete::env::EnvCompleter;

use crate::cli::CompletionsArgs;

/// The variable that asks mfa-session for completions instead of a run.
pub const VAR: &str = "MFA_SESSION_COMPLETE";

/// The names completed: the binary, and the `init` function's default.
const NAMES: [&str; 2] = ["mfa-session", "mfa"];

pub fn run(args: &CompletionsArgs) -> Result<String> {
    let shell: &dyn EnvCompleter = match args.shell {
        clap_complete::Shell::Bash => &clap_complete::env::Bash,
        clap_complete::Shell::Zsh => &clap_complete::env::Zsh,
        clap_complete::Shell::Fish => &clap_complete::env::Fish,
        clap_complete::Shell::PowerShell => &clap_complete::env::Powershell,
        clap_complete::Shell::Elvish => &clap_complete::env::Elvish,
        _ => &clap_complete::env::Bash,
    };
    let mut out = Vec::new();
    for name in NAMES {
        shell.write_registration(VAR, name, name, "mfa-session", &mut out)?;
    }
    Ok(String::from_utf8_lossy(&out).into_owned())
}

/// Profile names that start with what was typed, for TAB. A word that is
/// all digits is a code being typed: no profile is offered for it.
pub fn profiles(current: &OsStr) -> Vec<CompletionCandidate> {
    let typed = current.to_string_lossy();
    if !typed.is_empty() && typed.chars().all(|c| c.is_ascii_digit() || c == ' ') {
        return Vec::new();
    }
    let Ok(files) = crate::profile::ProfileFiles::locate() else {
        return Vec::new();
    };
    let Ok(set) = crate::profile::ProfileSet::load(&files) else {
        return Vec::new();
    };
    set.names()
        .into_iter()
        .filter(|name| name.starts_with(typed.as_ref()))
        .map(CompletionCandidate::new)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn completions_for_every_shell() {
        for shell in [
            clap_complete::Shell::Bash,
            clap_complete::Shell::Zsh,
            clap_complete::Shell::Fish,
            clap_complete::Shell::PowerShell,
            clap_complete::Shell::Elvish,
        ] {
            let text = run(&CompletionsArgs { shell }).unwrap();
            assert!(text.contains("MFA_SESSION_COMPLETE"), "{shell}: {text}");
            assert!(text.contains("mfa-session"), "{shell}");
        }
    }
}
