//! `mfa-session init SHELL`: the shell function that applies a session
//! only when it was obtained (see [`crate::init`] for the functions).

use anyhow::Result;

use crate::cli::InitArgs;

pub fn run(args: &InitArgs) -> Result<String> {
    crate::init::run(args)
}
