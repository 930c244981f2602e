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

use crate::obtain::Obtained;
use crate::request::Request;

/// CODE and PROFILE as given, in any order.
pub fn positionals(first: &Option<String>, second: &Option<String>) -> Vec<String> {
    [first, second].into_iter().flatten().cloned().collect()
}

/// The session a request asks for: planned, then obtained.
fn obtain(request: Request) -> Result<Obtained> {
    crate::obtain::obtain(crate::plan::build(request)?)
}
