//! `mfa-session credential-process`: the JSON the AWS SDKs and CLI read from
//! a `credential_process` command.

use anyhow::Result;
use serde::Serialize;

use crate::cli::CredentialProcessArgs;
use crate::error::Failure;
use crate::request::Request;

pub fn run(args: &CredentialProcessArgs) -> Result<String> {
    let print = args.print;
    #[derive(Serialize)]
    #[serde(rename_all = "PascalCase")]
    struct Output<'a> {
        version: u32,
        access_key_id: &'a str,
        secret_access_key: &'a str,
        session_token: &'a str,
        expiration: String,
    }
    let stdout = crate::hardening::private_stdout("the session's secret key")?;
    if !print && stdout == crate::hardening::Stdout::Terminal {
        return Err(Failure::new(
            "not printing credential_process JSON to a terminal, where the secret key would stay on screen",
        )
        .hint("this command is for credential_process in ~/.aws/config; --print prints it anyway")
        .into());
    }
    let request = Request::read(&[], &args.session)?;
    // The profile as resolved (from AWS_PROFILE too), for the hint.
    let profile = request.profile.clone();
    let obtained = super::obtain(request).map_err(|err| {
        if !Failure::is(&err, crate::error::Tag::NoTerminal) {
            return err;
        }
        // Neither "pass the code as an argument" nor --code fits a
        // credential_process line in ~/.aws/config.
        Failure::new(crate::error::Report::new(&err).line)
            .hint(format!(
                "run `mfa-session login {}` once in a terminal: credential_process then uses the cached session; or set mfa_process in the profile to a command that prints the code",
                crate::shell::command_word(&profile)
            ))
            .into()
    })?;
    let s = &obtained.session;
    let json = serde_json::to_string(&Output {
        version: 1,
        access_key_id: &s.access_key_id,
        secret_access_key: &s.secret_access_key,
        session_token: &s.session_token,
        expiration: s.expiration_rfc3339(),
    })?;
    Ok(json + "\n")
}
