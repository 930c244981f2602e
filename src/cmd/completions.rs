//! `mfa-session completions SHELL`: the completion script for a shell.

use anyhow::Result;

use crate::cli::CompletionsArgs;

pub fn run(args: &CompletionsArgs) -> Result<String> {
    Ok(crate::init::completions(args.shell))
}
