//! Sessions that last: the cache, the remembered device, status,
//! credential_process, exec and --write-profile, against the local endpoint,
//! with moto's recorder counting the requests.

use crate::need;
use crate::support::*;

fn count(moto: &Moto, user: &User) -> usize {
    moto.requests_signed_by(&user.access_key_id).len()
}

fn cache_dir(sandbox: &Sandbox) -> std::path::PathBuf {
    sandbox.path(".cache/mfa-session")
}

#[test]
fn a_second_run_reuses_the_session_with_no_code_and_no_request() {
    let moto = need!(moto());
    let user = moto.user(1);
    let sandbox = Sandbox::with_user(moto, &user, "work");
    let first = sandbox.run(&["123456", "work"]);
    first.success();
    let after_first = count(moto, &user);
    assert_eq!(
        after_first, 4,
        "moto needs discovery through GetCallerIdentity"
    );

    // No code, no terminal: only the cache can answer.
    let second = sandbox.run(&["work"]);
    second
        .success()
        .stderr_has("reusing the cached session for profile 'work'");
    assert_eq!(second.stdout, first.stdout, "the same session");
    assert_eq!(count(moto, &user), after_first, "no request");

    // --force: a new session from the remembered device, one request.
    let forced = sandbox.run(&["222222", "work", "--force"]);
    forced.success().stderr_has("session for profile 'work'");
    let requests = moto.requests_signed_by(&user.access_key_id);
    assert_eq!(
        requests.len(),
        after_first + 1,
        "a known device costs one request"
    );
    assert_eq!(requests.last().unwrap().action(), "GetSessionToken");

    // --no-cache neither reads nor writes.
    sandbox
        .run(&["work", "--no-cache"])
        .failure(1)
        .stderr_has("no MFA code given");
}

#[test]
fn a_session_with_too_little_left_is_not_reused() {
    let moto = need!(moto());
    let user = moto.user(1);
    let sandbox = Sandbox::with_user(moto, &user, "work");
    sandbox
        .run(&["123456", "work", "--duration", "20m"])
        .success();
    // 20 minutes left is more than the default 15.
    sandbox.run(&["work"]).success().stderr_has("reusing");
    // But not more than 30.
    sandbox
        .run(&["work", "--min-remaining", "30m"])
        .failure(1)
        .stderr_has("no MFA code given");
    let mut strict = Sandbox::with_user(moto, &user, "work");
    strict.env = sandbox.env.clone();
    strict.set("MFA_SESSION_MIN_REMAINING", "30m");
    strict.run(&["work"]).failure(1);
}

#[test]
fn profiles_and_devices_do_not_share_sessions() {
    let moto = need!(moto());
    let user = moto.user(2);
    let sandbox = Sandbox::new(Some(moto));
    let keys = format!(
        "aws_access_key_id = {}\naws_secret_access_key = {}\n",
        user.access_key_id, user.secret_access_key
    );
    sandbox.write(".aws/credentials", &format!("[a]\n{keys}[b]\n{keys}"));
    sandbox
        .run(&["123456", "a", "-s", &user.serials[0]])
        .success();
    sandbox
        .run(&["a", "-s", &user.serials[0]])
        .success()
        .stderr_has("reusing");
    // Same key, other profile: no session of a's.
    sandbox.run(&["b", "-s", &user.serials[0]]).failure(1);
    // Same profile, other device: none either.
    sandbox.run(&["a", "-s", &user.serials[1]]).failure(1);
}

#[cfg(unix)]
#[test]
fn cache_files_are_private() {
    use std::os::unix::fs::PermissionsExt;
    let moto = need!(moto());
    let user = moto.user(1);
    let sandbox = Sandbox::with_user(moto, &user, "work");
    sandbox.run(&["123456", "work"]).success();
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&cache_dir(&sandbox)), 0o700);
    let mut files = sandbox.cache_files("session-");
    files.extend(sandbox.cache_files("device-"));
    assert_eq!(files.len(), 2, "one session, one device: {files:?}");
    // The spent-code record and the lock files are private too.
    files.extend(sandbox.cache_files("code-"));
    files.extend(
        std::fs::read_dir(cache_dir(&sandbox))
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "lock")),
    );
    assert_eq!(files.len(), 5, "{files:?}");
    for file in files {
        assert_eq!(mode(&file), 0o600, "{}", file.display());
        let text = std::fs::read_to_string(&file).unwrap();
        assert!(
            !text.contains(&user.secret_access_key),
            "the long-term secret is never cached"
        );
    }
}

#[test]
fn twenty_runs_at_once_leave_a_valid_cache() {
    let moto = need!(moto());
    let user = moto.user(1);
    let sandbox = Sandbox::with_device(moto, &user, "work");
    // Each with its own code: one that started after another stored its
    // session gets a new one, and a code is sent once.
    let codes: Vec<String> = (0..20).map(|i| format!("{}", 100000 + i)).collect();
    let runs = sandbox.run_at_once(
        &codes
            .iter()
            .map(|code| vec![code.as_str(), "work", "--force", "-q"])
            .collect::<Vec<_>>(),
    );
    for run in runs {
        run.success();
        assert_eq!(run.stdout.lines().count(), 5);
    }
    let sessions = sandbox.cache_files("session-");
    assert_eq!(sessions.len(), 1, "{sessions:?}");
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&sessions[0]).unwrap()).unwrap();
    assert_eq!(json["profile"], "work");
    // Temporary files are dot-files (`.session-….json.mfa-session-…`);
    // no cache file is.
    assert!(
        sandbox.cache_files(".").is_empty(),
        "no temporary files left"
    );
    let before = count(moto, &user);
    sandbox.run(&["work"]).success().stderr_has("reusing");
    assert_eq!(count(moto, &user), before);
}

#[test]
fn a_corrupt_cache_file_is_survived_and_replaced() {
    let moto = need!(moto());
    let user = moto.user(1);
    let sandbox = Sandbox::with_user(moto, &user, "work");
    sandbox.run(&["123456", "work"]).success();
    let session = sandbox.cache_files("session-").remove(0);
    let device = sandbox.cache_files("device-").remove(0);
    std::fs::write(&session, "{ not json").unwrap();
    std::fs::write(&device, "\u{0}\u{1}garbage").unwrap();
    let run = sandbox.run(&["222222", "work"]);
    run.success()
        .stderr_has("warning: ignoring the cache file")
        .stderr_has("it will be replaced");
    assert_eq!(run.stdout.lines().count(), 5);
    sandbox.run(&["work"]).success().stderr_has("reusing");
    assert!(
        std::fs::read_to_string(&session)
            .unwrap()
            .contains("\"profile\": \"work\"")
    );
}

#[test]
fn forget_deletes_cached_sessions() {
    let moto = need!(moto());
    let user = moto.user(1);
    let sandbox = Sandbox::with_user(moto, &user, "work");
    sandbox.run(&["123456", "work"]).success();
    let run = sandbox.run(&["forget", "work"]);
    run.success()
        .stderr_has("forgot 2 cached files for profile 'work'");
    assert_eq!(run.stdout, "");
    sandbox.run(&["work"]).failure(1);
    sandbox.run(&["222222", "work"]).success();
    sandbox
        .run(&["forget", "--all"])
        .success()
        .stderr_has("forgot 2 cached files");
    sandbox.run(&["forget"]).failure(2);
}

#[test]
fn status_shows_sessions_without_secrets() {
    let moto = need!(moto());
    let user = moto.user(1);
    let mut sandbox = Sandbox::with_user(moto, &user, "work");
    let out = sandbox.run(&["123456", "work", "-q"]);
    out.success();
    let values = source_posix(&["sh"], "", &out.stdout, &VARS);
    let values: Vec<String> = values.into_iter().map(Option::unwrap).collect();

    let status = sandbox.run(&["status", "--json"]);
    status.success();
    for secret in [&values[0], &values[1], &values[2], &user.secret_access_key] {
        assert!(
            !status.stdout.contains(secret.as_str()),
            "status shows a secret"
        );
    }
    let json: serde_json::Value = serde_json::from_str(&status.stdout).unwrap();
    assert!(json["environment"].is_null());
    assert_eq!(json["cached"][0]["profile"], "work");
    assert_eq!(json["cached"][0]["serial"], user.serials[0].as_str());
    let left = json["cached"][0]["seconds_left"].as_i64().unwrap();
    assert!(left > 11 * 3600, "{left}");

    // The session in the environment is recognised as work's.
    sandbox.set("AWS_ACCESS_KEY_ID", &values[0]);
    sandbox.set("AWS_CREDENTIAL_EXPIRATION", &values[4]);
    let json: serde_json::Value =
        serde_json::from_str(&sandbox.run(&["status", "--json"]).stdout).unwrap();
    assert_eq!(json["environment"]["profile"], "work");
    assert_eq!(json["environment"]["expired"], false);
    let human = sandbox.run(&["status"]);
    human.success();
    assert!(
        human
            .stdout
            .starts_with("this shell: a session for profile 'work' until "),
        "{}",
        human.stdout
    );
    assert!(
        human
            .stdout
            .contains(&format!("cached: profile 'work' ({})", user.serials[0]))
    );
}

#[test]
fn credential_process_serves_a_real_client() {
    let moto = need!(moto());
    let aws = need!(aws_cli());
    let user = moto.user(1);
    let sandbox = Sandbox::with_user(moto, &user, "work-long-term");
    sandbox.write(
        ".aws/config",
        &format!(
            "[profile work]\ncredential_process = {} credential-process --profile work-long-term\nregion = us-east-1\n", *BIN
        ),
    );
    // No cached session and no terminal: a clean failure the CLI reports.
    let (out, _) = aws_cli_request(moto, &aws, &sandbox, &[], &["--profile", "work"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no MFA code given"));

    // With the session cached (one run with a code), the CLI gets it.
    let direct = sandbox.run(&[
        "credential-process",
        "--profile",
        "work-long-term",
        "--code",
        "123456",
    ]);
    direct.success();
    let json: serde_json::Value = serde_json::from_str(&direct.stdout).unwrap();
    assert_eq!(json["Version"], 1);
    let key = json["AccessKeyId"].as_str().unwrap().to_owned();
    let token = json["SessionToken"].as_str().unwrap().to_owned();
    assert!(json["Expiration"].as_str().unwrap().ends_with('Z'));
    let (_, request) = aws_cli_request(moto, &aws, &sandbox, &[], &["--profile", "work"]);
    let request = request.expect("the CLI reached the endpoint");
    assert_eq!(request.access_key_id.as_deref(), Some(key.as_str()));
    assert_eq!(request.security_token.as_deref(), Some(token.as_str()));
}

#[test]
fn exec_runs_a_command_with_the_session_and_passes_its_status() {
    let moto = need!(moto());
    let user = moto.user(1);
    let mut sandbox = Sandbox::with_user(moto, &user, "work");
    sandbox.set("AWS_PROFILE", "work");
    sandbox.set("AWS_SESSION_TOKEN", "stale");
    sandbox.set("KEPT", "yes");
    sandbox.write(".aws/config", "[profile work]\nregion = eu-west-3\n");
    let run = sandbox.run(&[
        "exec",
        "123456",
        "work",
        "--",
        "sh",
        "-c",
        "printf '%s|%s|%s|%s|%s' \"$AWS_ACCESS_KEY_ID\" \"${AWS_PROFILE-unset}\" \"$AWS_SESSION_TOKEN\" \"$AWS_REGION\" \"$KEPT\"; exit 7",
    ]);
    assert_eq!(run.code, Some(7), "{run:#?}");
    let fields: Vec<&str> = run.stdout.split('|').collect();
    assert!(fields[0].len() >= 16, "{run:#?}");
    assert_eq!(fields[1], "unset");
    assert_ne!(fields[2], "stale");
    assert_eq!(fields[3], "eu-west-3", "the profile's region, kept");
    assert_eq!(fields[4], "yes");
    assert!(run.stderr.contains("session for profile 'work'"));

    sandbox
        .run(&["exec", "work", "--", "no-such-command-here"])
        .failure(127)
        .stderr_has("cannot run 'no-such-command-here': command not found");
    sandbox.run(&["exec", "work"]).failure(2);
}

#[test]
fn write_profile_keeps_the_rest_of_the_file_byte_for_byte() {
    let moto = need!(moto());
    let aws = need!(aws_cli());
    let user = moto.user(1);
    let sandbox = Sandbox::new(Some(moto));
    let before = format!(
        "# long-term keys; do not share\n[work]\naws_access_key_id = {}\naws_secret_access_key = {}\n\n\
         ; another one\r\n[other]  # note\naws_access_key_id=AKIAOTHER\naws_secret_access_key=x\n",
        user.access_key_id, user.secret_access_key
    );
    sandbox.write(".aws/credentials", &before);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let perms = std::fs::Permissions::from_mode(0o640);
        std::fs::set_permissions(sandbox.path(".aws/credentials"), perms).unwrap();
    }
    let run = sandbox.run(&["123456", "work", "--write-profile", "work-mfa"]);
    run.success().stderr_has("wrote it to [work-mfa] in ");
    // Secrets go in: a file others could read is made private, once.
    #[cfg(unix)]
    assert_eq!(
        run.stderr
            .matches("private (mode 600, was 640): it holds secret keys")
            .count(),
        1,
        "{run:#?}"
    );
    assert_eq!(run.stdout, "", "nothing to eval");
    let after = std::fs::read_to_string(sandbox.path(".aws/credentials")).unwrap();
    assert!(
        after.starts_with(&before),
        "the file changed outside the new section"
    );
    // The file has a CRLF line, so the new lines use CRLF too.
    assert!(
        after[before.len()..].starts_with("\r\n[work-mfa]\r\naws_access_key_id = "),
        "{after:?}"
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(sandbox.path(".aws/credentials"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "the file is this user's alone");
    }

    // Again: the section is updated in place, the rest stays.
    sandbox
        .run(&["work", "--write-profile", "work-mfa"])
        .success();
    let again = std::fs::read_to_string(sandbox.path(".aws/credentials")).unwrap();
    assert!(again.starts_with(&before));
    assert_eq!(again.matches("[work-mfa]").count(), 1);

    // Sections with long-term keys are never overwritten.
    sandbox
        .run(&["work", "--write-profile", "other"])
        .failure(1)
        .stderr_has("will not write [other]")
        .stderr_has("it holds a long-term access key");
    sandbox.run(&["work", "--write-profile", "work"]).failure(1);
    assert_eq!(
        std::fs::read_to_string(sandbox.path(".aws/credentials")).unwrap(),
        again
    );

    // A tool that reads only the credentials file uses the session.
    let (_, request) = aws_cli_request(moto, &aws, &sandbox, &[], &["--profile", "work-mfa"]);
    let request = request.expect("the CLI reached the endpoint");
    assert!(request.security_token.is_some(), "signed with the session");
    assert_ne!(
        request.access_key_id.as_deref(),
        Some(user.access_key_id.as_str())
    );
}

#[test]
fn the_cache_directory_follows_xdg_and_can_be_overridden() {
    let moto = need!(moto());
    let user = moto.user(1);
    let mut sandbox = Sandbox::with_user(moto, &user, "work");
    let xdg = sandbox.path("xdg-cache");
    sandbox.set("XDG_CACHE_HOME", &xdg.display().to_string());
    sandbox.run(&["123456", "work"]).success();
    assert!(xdg.join("mfa-session").is_dir());
    assert!(
        !cache_dir(&sandbox).exists(),
        "~/.cache is not used when XDG_CACHE_HOME is set"
    );

    let custom = sandbox.path("custom");
    sandbox.set("MFA_SESSION_CACHE_DIR", &custom.display().to_string());
    // A new place: nothing cached there yet, so a code is needed again.
    sandbox
        .run(&["work"])
        .failure(1)
        .stderr_has("no MFA code given");
    sandbox.run(&["222222", "work"]).success();
    let names: Vec<String> = std::fs::read_dir(&custom)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("session-") || n.starts_with("device-"))
        .collect();
    assert_eq!(names.len(), 2, "{names:?}");
    sandbox.run(&["work"]).success().stderr_has("reusing");
}

/// Issue 31, item 9: an XDG_CACHE_HOME that does not exist yet is made
/// (with its parents, 0700), as the XDG spec says, and the next run finds
/// the session there. Before, the session was not cached.
#[test]
fn a_missing_xdg_cache_home_is_made_and_used() {
    use std::os::unix::fs::PermissionsExt;
    let moto = need!(moto());
    let user = moto.user(1);
    let mut sandbox = Sandbox::with_device(moto, &user, "work");
    let base = sandbox.path("no/such/cache");
    sandbox.set("XDG_CACHE_HOME", base.to_str().unwrap());
    let run = sandbox.run(&["864209", "work"]);
    run.success();
    assert!(!run.stderr.contains("not cached"), "{run:#?}");
    for dir in [sandbox.path("no"), base.clone(), base.join("mfa-session")] {
        let mode = std::fs::metadata(&dir).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o700, "{}", dir.display());
    }
    sandbox
        .run(&["work"])
        .success()
        .stderr_has("reusing the cached session");
    // HOME itself is never made.
    let mut homeless = Sandbox::with_device(moto, &user, "work");
    let home = homeless.path("gone/home");
    homeless.set("HOME", home.to_str().unwrap());
    homeless.set(
        "AWS_SHARED_CREDENTIALS_FILE",
        homeless.path(".aws/credentials").to_str().unwrap(),
    );
    homeless.set(
        "AWS_CONFIG_FILE",
        homeless.path(".aws/config").to_str().unwrap(),
    );
    homeless
        .run(&["864209", "work"])
        .success()
        .stderr_has("does not exist; the session was not cached");
    assert!(!home.exists());
}

/// Issue 31, item 9: a session that could not be cached is never said to
/// be cached (the hint must not promise a run with no code).
#[test]
fn a_cache_that_cannot_be_written_is_not_claimed() {
    need!(tool("tmux"));
    let moto = need!(moto());
    let user = moto.user(1);
    let mut sandbox = Sandbox::with_device(moto, &user, "work");
    sandbox.write("not-a-folder", "x");
    let under_a_file = sandbox.path("not-a-folder/cache");
    sandbox.set("MFA_SESSION_CACHE_DIR", under_a_file.to_str().unwrap());
    let terminal = crate::prompt::Terminal::start_on_screen(&sandbox, &["864209", "work"]);
    let (code, _, stderr, _) = terminal.finish();
    assert_eq!(code, 1, "{stderr}");
    assert!(!stderr.contains("is cached"), "{stderr}");
    assert!(
        stderr.contains("was neither printed nor cached"),
        "{stderr}"
    );
    assert!(stderr.contains("and a new code"), "{stderr}");
}

/// Issue 31, item 2 (and the first-hour issue): `mfa-session work >
/// creds.sh` writes the keys into a file others could read; now the file
/// is made private before anything is written.
#[test]
fn a_session_into_a_file_makes_it_private() {
    use std::os::unix::fs::PermissionsExt;
    let moto = need!(moto());
    let user = moto.user(1);
    let sandbox = Sandbox::with_device(moto, &user, "work");
    let file = sandbox.path("creds.sh");
    std::fs::write(&file, "").unwrap();
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
    let status = sandbox
        .command(&["864209", "work"])
        .stdout(
            std::fs::OpenOptions::new()
                .append(true)
                .open(&file)
                .unwrap(),
        )
        .status()
        .unwrap();
    assert!(status.success());
    let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    assert!(
        std::fs::read_to_string(&file)
            .unwrap()
            .contains("export AWS_SECRET_ACCESS_KEY=")
    );
    // Another user's file is refused: that user could read it.
    std::os::unix::fs::chown(&file, Some(OTHER_UID), None).unwrap();
    let output = sandbox
        .command(&["work"])
        .stdout(
            std::fs::OpenOptions::new()
                .append(true)
                .open(&file)
                .unwrap(),
        )
        .stderr(std::process::Stdio::piped())
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("it belongs to user 65534"), "{stderr}");
}

/// The first-hour issue, item 7: `login` caches a session and exits 0 with
/// nothing on stdout, on a terminal too; credential_process and exec then
/// need no code.
#[test]
fn login_caches_the_session_and_prints_nothing() {
    need!(tool("tmux"));
    let moto = need!(moto());
    let user = moto.user(1);
    let sandbox = Sandbox::with_device(moto, &user, "work");
    let terminal = crate::prompt::Terminal::start_on_screen(&sandbox, &["login", "work"]);
    terminal.wait_for_screen("MFA code for ");
    terminal.keys(&["864209", "Enter"]);
    let (code, _, stderr, _) = terminal.finish();
    assert_eq!(code, 0, "{stderr}");
    assert!(stderr.contains("session for profile 'work'"), "{stderr}");
    assert!(!terminal.history().contains("AWS_"), "nothing printed");
    let json = sandbox.run(&["credential-process", "--profile", "work"]);
    json.success();
    assert!(json.stdout.contains("\"SessionToken\""));
    sandbox
        .run(&["login", "work", "--no-cache"])
        .failure(2)
        .stderr_has("keep the session nowhere");
}

/// The first-hour issue, item 6: `exec PROFILE COMMAND ARGS` without `--`
/// (the aws-vault habit) runs the command; a command read as a profile
/// says to put `--` before it; no command says how to give one.
#[test]
fn exec_takes_the_command_without_dashes() {
    let moto = need!(moto());
    let user = moto.user(1);
    let sandbox = Sandbox::with_device(moto, &user, "work");
    let run = sandbox.run(&["exec", "864209", "work", "printenv", "AWS_SESSION_TOKEN"]);
    run.success();
    assert!(!run.stdout.trim().is_empty(), "{run:#?}");
    let run = sandbox.run(&["exec", "work", "echo", "a", "--flag", "-x"]);
    assert_eq!(run.stdout, "a --flag -x\n", "{run:#?}");
    sandbox
        .run(&["exec", "aws", "s3", "ls"])
        .failure(127)
        .stderr_has("'aws' was read as the profile; if it is the command, name the profile first: mfa-session exec PROFILE -- aws");
    sandbox
        .run(&["exec", "work"])
        .failure(2)
        .stderr_has("exec needs a command to run")
        .stderr_has("hint: mfa-session exec work -- COMMAND");
    let help = sandbox.run(&["exec", "--help"]);
    assert!(
        help.stdout
            .contains("Usage: mfa-session exec [OPTIONS] [CODE] [PROFILE] [--] COMMAND"),
        "{help:#?}"
    );
}
