//! `mfa-session login [CODE] [PROFILE]`: a session got and cached, nothing
//! printed. What a terminal does once so that `credential_process`, `exec`
//! and other terminals find the session and need no code; it exits 0 where
//! the main command on a terminal would refuse to show the secret key.

use anyhow::Result;

use crate::cli::LoginArgs;
use crate::error::Failure;
use crate::obtain::announce;
use crate::request::Request;

pub fn run(args: &LoginArgs) -> Result<String> {
    let request = Request::read(&args.target.positionals(), &args.session)?;
    if !request.cache.enabled() {
        return Err(Failure::usage(
            "login with --no-cache would keep the session nowhere",
        )
        .hint("leave out --no-cache, or print the session: eval \"$(mfa-session --no-cache PROFILE)\"")
        .into());
    }
    let obtained = super::obtain(request)?;
    if !obtained.cached {
        return Err(Failure::new(format!(
            "the session for profile '{}' could not be cached (see above)",
            obtained.profile
        ))
        .hint("fix the cache directory, or set MFA_SESSION_CACHE_DIR to a writable one")
        .into());
    }
    if !args.session.quiet {
        announce(&obtained);
    }
    Ok(String::new())
}
