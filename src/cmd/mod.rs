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
pub mod login;
pub mod policy;
pub mod rotate;
pub mod serve;
pub mod status;

use anyhow::Result;

use crate::error::Failure;

use crate::obtain::Obtained;
use crate::request::Request;

/// CODE and PROFILE as given, in any order.
pub fn positionals(first: &Option<String>, second: &Option<String>) -> Vec<String> {
    [first, second].into_iter().flatten().cloned().collect()
}

/// A profile that is not there, named by a word that is close to a
/// subcommand's name (`mfa-session staus`): the hint asks whether the
/// subcommand was meant. Any other failure passes through.
pub fn mistyped_command(err: anyhow::Error, words: &[String]) -> anyhow::Error {
    if !Failure::is(&err, crate::error::Tag::NoSuchProfile) {
        return err;
    }
    let command = <crate::cli::Cli as clap::CommandFactory>::command();
    let names: Vec<String> = command
        .get_subcommands()
        .filter(|c| !c.is_hide_set())
        .map(|c| c.get_name().to_owned())
        .collect();
    let guess = words.iter().find_map(|word| {
        names
            .iter()
            .map(|name| (strsim::damerau_levenshtein(word, name), name))
            .filter(|(distance, name)| *distance > 0 && *distance <= 2.min(name.len() / 2))
            .min()
            .map(|(_, name)| (word, name))
    });
    match guess {
        Some((word, name)) => {
            let report = crate::error::Report::new(&err);
            Failure::new(report.line)
                .hint(format!(
                    "did you mean `mfa-session {name}`? ('{word}' was read as a profile name)"
                ))
                .tag(crate::error::Tag::NoSuchProfile)
                .into()
        }
        None => err,
    }
}

/// The session a request asks for: planned, then obtained.
fn obtain(request: Request) -> Result<Obtained> {
    let plan = crate::plan::build(request)?;
    // A role profile's session goes to the AWS CLI's cache too, unless the
    // user keeps sessions out of caches (--no-cache).
    let shared = plan
        .roles
        .last()
        .filter(|_| plan.cache.enabled())
        .map(|step| step.hop.clone());
    let obtained = crate::obtain::obtain(plan)?;
    if let (Some(hop), Some(role)) = (shared, &obtained.role) {
        crate::cli_cache::share(
            &hop,
            &role.root_profile,
            &obtained.session,
            &role.assumed_role_arn,
        );
    }
    Ok(obtained)
}
