//! The main command: a session as shell code for `eval` (or with `--clear`,
//! the lines that unset it), or with `--write-profile` written into the
//! credentials file.
//!
//! Output is returned to `main`, which prints it once: on any failure stdout
//! stays empty and `eval` runs nothing.

use anyhow::Result;

use crate::cache::{SessionCache, WrittenSection};
use crate::cli::GetArgs;
use crate::error::Failure;
use crate::obtain::announce;
use crate::request::Request;
use crate::session;
use crate::shell::Shell;

/// The main command: shell code that sets (or with `--clear`, unsets) the
/// session's variables.
pub fn run(args: &GetArgs) -> Result<String> {
    // Chosen only where shell code is printed: --write-profile prints none,
    // and needs no --shell on Windows.
    let shell = match args.shell {
        Some(shell) if args.write_profile.is_none() => shell,
        _ if args.write_profile.is_some() => Shell::Sh,
        _ => Shell::default_for_platform()?,
    };
    // The cmd function cannot see the exit status: success is this line.
    let marked = |mut script: crate::shell::Script| {
        if args.wrapped && shell == Shell::Cmd {
            script.set(crate::cmd::init::CMD_SUCCESS_MARKER, "1");
        }
        script
    };
    if args.clear {
        let mut script = session::clear_script_after(&session::Before::from_env());
        if args.wrapped {
            crate::renewal::forget(&mut script);
        }
        return marked(script).render(shell);
    }
    let mut positionals = super::positionals(&args.first, &args.second);
    positionals.extend(args.extra.iter().cloned());
    let typo = |err: anyhow::Error| super::mistyped_command(err, &positionals);
    let renewal = crate::renewal::Renewal::from_env()?;
    let mut session_args = args.session.clone();
    if args.renew {
        // From a prompt hook: never a code, and a session with less than
        // the threshold left is renewed.
        session_args.prompt = Some(crate::dialog::PromptMode::None);
        if session_args.min_remaining.is_none()
            && let Some(window) = renewal.window()
        {
            session_args.min_remaining = Some(format!("{}s", window.as_secs()));
        }
    }
    let request = Request::read(&positionals, &session_args).map_err(typo)?;
    if let Some(section) = &args.write_profile {
        // Checked before the first request: a refusal costs no code.
        crate::credentials_file::check_target(section, &request.profile)?;
        let obtained = super::obtain(request).map_err(typo)?;
        // The record first, so that `forget` finds the section however the
        // run ends (under --no-cache too: the record holds no secret, and
        // the section does); it keeps the key ids of what the section held
        // before, in case the write never happens.
        let mut written = WrittenSection {
            profile: obtained.profile.clone(),
            path: crate::credentials_file::session_file()?,
            section: section.clone(),
            access_key_id: obtained.session.access_key_id.clone(),
            root_profile: obtained.role.as_ref().map(|r| r.root_profile.clone()),
            earlier_access_key_ids: Vec::new(),
        };
        let cache = SessionCache::locate();
        let recorded = cache
            .as_ref()
            .map_err(|e| anyhow::anyhow!("{e:#}"))
            .and_then(|c| {
                if let Some(before) = c.written_before(&written) {
                    written.earlier_access_key_ids = std::iter::once(before.access_key_id)
                        .chain(before.earlier_access_key_ids)
                        .filter(|id| *id != written.access_key_id)
                        .collect();
                }
                c.remember_written(&written)
            });
        if let Err(err) = &recorded {
            crate::say(&format!(
                "warning: {err:#}; `forget` will not remove [{section}]"
            ));
        }
        let path =
            crate::credentials_file::write_session(section, &obtained.profile, &obtained.session)?;
        if let (Ok(cache), Ok(())) = (&cache, &recorded)
            && !written.earlier_access_key_ids.is_empty()
        {
            written.earlier_access_key_ids.clear();
            let _ = cache.remember_written(&written);
        }
        if !args.session.quiet {
            announce(&obtained);
            crate::say(&format!(
                "wrote it to [{section}] in {}; use it with AWS_PROFILE={section}",
                path.display()
            ));
        }
        return Ok(String::new());
    }
    let stdout = crate::hardening::private_stdout("the session's secret key")?;
    let on_terminal = !args.print && stdout == crate::hardening::Stdout::Terminal;
    if on_terminal && !request.cache.enabled() {
        // The session could be neither shown nor kept: spend no code on it.
        let profile = &request.profile;
        return Err(Failure::new(format!(
            "not asking for a session for profile '{profile}': stdout is a terminal, where the secret key would stay on screen, and --no-cache keeps it nowhere"
        ))
        .hint(format!(
            "apply it with: {}; --print prints it anyway",
            reapply(args, shell, profile, true)
        ))
        .into());
    }
    let obtained = super::obtain(request).map_err(typo)?;
    if on_terminal && !obtained.cached {
        return Err(Failure::new(format!(
            "the session for profile '{}' was neither printed nor cached: stdout is a terminal, where the secret key would stay on screen, and the cache could not be written (see above)",
            obtained.profile
        ))
        .hint(format!(
            "apply it with: {} and a new code; --print prints it anyway",
            reapply(args, shell, &obtained.profile, true)
        ))
        .into());
    }
    if on_terminal {
        return Err(Failure::new(format!(
            "the session for profile '{}' is cached, but not printed: stdout is a terminal, where the secret key would stay on screen",
            obtained.profile
        ))
        .hint(format!(
            "apply it with: {} (no new code needed); --print prints it anyway",
            reapply(args, shell, &obtained.profile, false)
        ))
        .into());
    }
    // Rendered before anything is said: cmd may refuse a value.
    let mut script = obtained.session.script(&obtained.surroundings);
    if args.wrapped {
        renewal.record(&obtained, &mut script);
    }
    let output = marked(script).render(shell)?;
    if args.renew && !obtained.reused {
        // From the prompt hook: say it was a renewal, not a new login.
        crate::say(&format!(
            "renewed the session for profile '{}' before it ended: now {}",
            obtained.profile,
            crate::session::describe_end(obtained.session.expiration, jiff::Timestamp::now())
        ));
    } else if !args.session.quiet {
        announce(&obtained);
    }
    Ok(output)
}

/// The command that applies a session in `shell`, asking for what the user
/// asked for (profile, device, duration, reuse limit), so that it finds the
/// session just cached. stdout was a terminal: the commonest first mistake
/// is to leave out the `eval`.
fn reapply(args: &GetArgs, shell: Shell, profile: &str, with_code: bool) -> String {
    let s = &args.session;
    let mut words = vec!["mfa-session".to_owned()];
    if with_code {
        words.push("CODE".to_owned());
    }
    words.push(crate::shell::command_word(profile));
    for (flag, value) in [
        ("-s", &s.serial_number),
        ("-d", &s.duration),
        ("--min-remaining", &s.min_remaining),
    ] {
        if let Some(value) = value {
            words.push(flag.to_owned());
            words.push(crate::shell::command_word(value));
        }
    }
    if s.no_cache {
        words.push("--no-cache".to_owned());
    }
    if s.direct {
        words.push("--direct".to_owned());
    }
    let command = words.join(" ");
    match shell {
        Shell::Bash | Shell::Zsh | Shell::Sh => format!("eval \"$({command})\""),
        Shell::Fish => format!("{command} --shell fish | source"),
        Shell::Powershell => {
            format!("{command} --shell powershell | Out-String | Invoke-Expression")
        }
        Shell::Cmd => "the batch file from: mfa-session init cmd".to_owned(),
    }
}
