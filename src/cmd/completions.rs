//! `mfa-session completions SHELL`: the completion script for a shell,
//! from the clap definition.

use std::io::Write as _;

use anyhow::Result;
use clap::CommandFactory;

use crate::cli::{Cli, CompletionsArgs};

pub fn run(args: &CompletionsArgs) -> Result<String> {
    let mut out = Vec::new();
    clap_complete::generate(args.shell, &mut Cli::command(), "mfa-session", &mut out);
    let _ = out.flush();
    Ok(String::from_utf8_lossy(&out).into_owned())
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
            assert!(text.contains("mfa-session"), "{shell}");
            assert!(text.contains("serial-number"), "{shell}");
        }
    }
}
