//! One file per subcommand, each a thin `run(args)` that builds a plan and
//! hands it on; `main.rs` only dispatches.

pub mod completions;
pub mod credential_process;
pub mod doctor;
pub mod enroll;
pub mod exec;
pub mod forget;
pub mod get;
pub mod init;
pub mod keys;
pub mod policy;
pub mod rotate;
pub mod serve;
pub mod status;

use anyhow::Result;

use crate::cli::SessionArgs;
use crate::obtain::Obtained;

/// CODE and PROFILE as given, in any order.
pub fn positionals(first: &Option<String>, second: &Option<String>) -> Vec<String> {
    [first, second].into_iter().flatten().cloned().collect()
}

/// The session the arguments ask for: planned, then obtained.
fn obtain(positionals: &[String], args: &SessionArgs) -> Result<Obtained> {
    let request = crate::plan::request(positionals, args)?;
    let plan = crate::plan::build(request, args)?;
    crate::obtain::obtain(plan)
}
