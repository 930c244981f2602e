//! Issue 8: ways a credentials tool loses trust (a secret on a screen or in a
//! trace, a signed request sent to the wrong place, a dotfile replaced), each
//! with the regression test that failed before the fix. Items 2 and 5 live
//! in shells.rs, beside the other real-shell tests.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use crate::need;
use crate::support::*;

/// A run that must end by itself within `limit`.
fn run_within(sandbox: &Sandbox, args: &[&str], limit: Duration) -> Run {
    let mut child = sandbox
        .command(args)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + limit;
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("mfa-session {args:?} did not finish within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Run::from(child.wait_with_output().unwrap())
}

/// `mfa-session 123456 work -s SERIAL --write-profile TARGET`.
fn write_profile(sandbox: &Sandbox, serial: &str, target: &str) -> Run {
    sandbox.run(&["123456", "work", "-s", serial, "--write-profile", target])
}

fn leftovers(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains("mfa-session-") || n.starts_with(".tmp"))
        .collect()
}

/// 8.1: `AWS_PROFILE=other` must not lend the other profile's endpoint (or
/// region) to the requested profile's signed request.
#[test]
fn another_profiles_settings_are_never_used() {
    let moto = need!(moto());
    let user = moto.user(1);
    let other = FakeEndpoint::start(|_, _| {
        Reply::Answer(500, aws_error("InternalError", "the wrong endpoint"))
    });
    let mut sandbox = Sandbox::new(None);
    sandbox.write(
        ".aws/credentials",
        &format!(
            "[default]\naws_access_key_id = {}\naws_secret_access_key = {}\n",
            user.access_key_id, user.secret_access_key
        ),
    );
    sandbox.write(
        ".aws/config",
        &format!(
            "[default]\nservices = local\n\n[services local]\nsts =\n  endpoint_url = {}\n\n\
             [profile other]\nendpoint_url = {}\nregion = eu-north-1\n",
            moto.url, other.url
        ),
    );
    sandbox.set("AWS_PROFILE", "other");
    sandbox
        .run(&[
            "123456",
            "-p",
            "default",
            "-s",
            &user.serials[0],
            "--no-cache",
        ])
        .success();
    assert!(other.actions().is_empty(), "{:?}", other.actions());
    let requests = moto.requests_signed_by(&user.access_key_id);
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].action(), "GetSessionToken");
    assert_eq!(requests[0].signing_region.as_deref(), Some("us-east-1"));
}

/// 8.3: a credentials file that is a link into a dotfiles folder is written
/// through the link, keeping mode and owner; no temporary file stays.
#[test]
fn write_profile_writes_the_real_file_behind_a_link() {
    let moto = need!(moto());
    let user = moto.user(1);
    let sandbox = Sandbox::with_user(moto, &user, "work");
    let real = sandbox.path("dotfiles/aws-credentials");
    std::fs::create_dir_all(real.parent().unwrap()).unwrap();
    std::fs::rename(sandbox.path(".aws/credentials"), &real).unwrap();
    std::os::unix::fs::symlink(
        "../dotfiles/aws-credentials",
        sandbox.path(".aws/credentials"),
    )
    .unwrap();
    // A mode of the user's own (no group or other bits) is kept.
    std::fs::set_permissions(&real, std::fs::Permissions::from_mode(0o400)).unwrap();
    let owner = if am_root() {
        std::os::unix::fs::chown(&real, Some(4242), Some(4343)).unwrap();
        Some((4242, 4343))
    } else {
        let _ = missing("root, to check that the owner is kept");
        None
    };
    write_profile(&sandbox, &user.serials[0], "work-mfa").success();
    let link = std::fs::symlink_metadata(sandbox.path(".aws/credentials")).unwrap();
    assert!(link.file_type().is_symlink(), "the link stays a link");
    let text = std::fs::read_to_string(&real).unwrap();
    assert!(text.contains("[work-mfa]\naws_access_key_id = "), "{text}");
    let meta = std::fs::metadata(&real).unwrap();
    assert_eq!(meta.mode() & 0o777, 0o400);
    if let Some(owner) = owner {
        assert_eq!(
            (meta.uid(), meta.gid()),
            owner,
            "the user's file stays theirs"
        );
    }
    assert_eq!(leftovers(real.parent().unwrap()), Vec::<String>::new());
    assert_eq!(leftovers(&sandbox.path(".aws")), Vec::<String>::new());
}

/// 8.3 and 8.11: a credentials "file" that is a device is refused, before
/// any request spends the code.
#[test]
fn write_profile_refuses_a_special_file_before_any_request() {
    let moto = need!(moto());
    let user = moto.user(1);
    let sandbox = Sandbox::new(Some(moto));
    sandbox.write(
        ".aws/config",
        &format!(
            "[profile work]\naws_access_key_id = {}\naws_secret_access_key = {}\n",
            user.access_key_id, user.secret_access_key
        ),
    );
    std::os::unix::fs::symlink("/dev/null", sandbox.path(".aws/credentials")).unwrap();
    write_profile(&sandbox, &user.serials[0], "work-mfa")
        .failure(1)
        .stderr_has("/dev/null: it is not a regular file");
    assert!(
        std::fs::symlink_metadata(sandbox.path(".aws/credentials"))
            .unwrap()
            .file_type()
            .is_symlink()
    );
    assert_eq!(moto.requests_signed_by(&user.access_key_id).len(), 0);
}

/// 8.11: a section that holds a long-term key is refused before the code is
/// spent (it was refused only after GetSessionToken).
#[test]
fn write_profile_onto_a_long_term_key_costs_no_request() {
    let moto = need!(moto());
    let user = moto.user(1);
    let sandbox = Sandbox::with_user(moto, &user, "work");
    let mut text = std::fs::read_to_string(sandbox.path(".aws/credentials")).unwrap();
    text.push_str("[keep]\naws_access_key_id = AKIAKEEP\naws_secret_access_key = k\n");
    sandbox.write(".aws/credentials", &text);
    for target in ["keep", "work"] {
        write_profile(&sandbox, &user.serials[0], target)
            .failure(1)
            .stderr_has("long-term");
    }
    assert_eq!(moto.requests_signed_by(&user.access_key_id).len(), 0);
    assert_eq!(
        std::fs::read_to_string(sandbox.path(".aws/credentials")).unwrap(),
        text
    );
}

/// 8.3: writers at once each hold the lock from read to rename, so none
/// loses another's section.
#[test]
fn concurrent_writers_lose_no_update() {
    let moto = need!(moto());
    let user = moto.user(1);
    let sandbox = Sandbox::with_user(moto, &user, "work");
    sandbox
        .run(&["123456", "work", "-s", &user.serials[0]])
        .success();
    let sections: Vec<String> = (0..16).map(|i| format!("s{i}")).collect();
    let runs: Vec<Vec<&str>> = sections
        .iter()
        .map(|s| vec!["work", "-s", &user.serials[0], "--write-profile", s])
        .collect();
    for run in sandbox.run_at_once(&runs) {
        run.success();
    }
    let text = std::fs::read_to_string(sandbox.path(".aws/credentials")).unwrap();
    for i in 0..16 {
        assert!(text.contains(&format!("[s{i}]\n")), "[s{i}] lost: {text}");
    }
    assert_eq!(leftovers(&sandbox.path(".aws")), Vec::<String>::new());
}

/// 8.4: a cache directory of another user's is not used; a planted link to
/// /dev/zero or a FIFO neither hangs nor is read.
#[test]
fn the_cache_trusts_only_what_this_user_owns() {
    let moto = need!(moto());
    let user = moto.user(1);
    let sandbox = Sandbox::with_user(moto, &user, "work");
    let serial = user.serials[0].as_str();
    sandbox.run(&["123456", "work", "-s", serial]).success();
    let dir = sandbox.path(".cache/mfa-session");
    sandbox
        .run(&["work", "-s", serial])
        .success()
        .stderr_has("reusing");

    if am_root() {
        std::os::unix::fs::chown(&dir, Some(4242), None).unwrap();
        let run = sandbox.run(&["work", "-s", serial]);
        assert_eq!((run.code, run.stdout.as_str()), (Some(1), ""), "{run:#?}");
        run.stderr_has("is not safe to use: it is owned by user 4242")
            .stderr_has("no MFA code given");
        std::os::unix::fs::chown(&dir, Some(0), None).unwrap();
    } else {
        let _ = missing("root, to give the cache directory to another user");
    }

    // A session file that someone else may read is not trusted either.
    let session_file = sandbox.cache_files("session-").remove(0);
    std::fs::set_permissions(&session_file, std::fs::Permissions::from_mode(0o644)).unwrap();
    sandbox
        .run(&["work", "-s", serial])
        .stderr_has("other users may use it")
        .stderr_has("no MFA code given");

    for (label, plant) in [
        (
            "link",
            &(|p: &Path| std::os::unix::fs::symlink("/dev/zero", p).unwrap()) as &dyn Fn(&Path),
        ),
        ("fifo", &|p: &Path| {
            let c = std::ffi::CString::new(p.to_str().unwrap()).unwrap();
            // SAFETY: a valid path string.
            assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        }),
    ] {
        std::fs::remove_file(&session_file).unwrap();
        plant(&session_file);
        let run = run_within(&sandbox, &["work", "-s", serial], Duration::from_secs(10));
        assert_eq!(run.code, Some(1), "{label}: {run:#?}");
        run.stderr_has("warning: ignoring the cache file");
        // The next good run replaces the planted file with a real one.
        sandbox
            .run(&[
                if label == "link" { "234567" } else { "345678" },
                "work",
                "-s",
                serial,
            ])
            .success();
        assert!(
            std::fs::symlink_metadata(&session_file).unwrap().is_file(),
            "{label}"
        );
    }
}

/// A pseudo-terminal: its slave end becomes the child's stdout.
struct Pty {
    master: std::fs::File,
    slave: std::fs::File,
}

impl Pty {
    fn open() -> Pty {
        use std::os::fd::FromRawFd;
        let (mut master, mut slave) = (0, 0);
        // SAFETY: openpty fills two descriptors this code then owns.
        let rc = unsafe {
            libc::openpty(
                &mut master,
                &mut slave,
                std::ptr::null_mut(),
                std::ptr::null(),
                std::ptr::null(),
            )
        };
        assert_eq!(rc, 0, "openpty");
        // SAFETY: both descriptors are fresh and owned here.
        unsafe {
            Pty {
                master: std::fs::File::from_raw_fd(master),
                slave: std::fs::File::from_raw_fd(slave),
            }
        }
    }

    /// Runs the command with the terminal as stdout; returns the run and
    /// what reached the screen.
    fn run(self, mut command: Command) -> (Run, String) {
        let child = command
            .stdout(self.slave)
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let out = child.wait_with_output().unwrap();
        use std::os::fd::AsRawFd;
        // SAFETY: makes reads on the master return at once when it is empty.
        unsafe {
            libc::fcntl(self.master.as_raw_fd(), libc::F_SETFL, libc::O_NONBLOCK);
        }
        let mut screen = Vec::new();
        let _ = std::io::Read::read_to_end(&mut &self.master, &mut screen);
        (
            Run::from(out),
            String::from_utf8_lossy(&screen).into_owned(),
        )
    }
}

/// 8.6: without `eval`, stdout is the terminal: the secrets are not printed,
/// the way to apply the session is, and the session is cached for it.
#[test]
fn a_terminal_on_stdout_gets_no_secrets() {
    let moto = need!(moto());
    let user = moto.user(1);
    let sandbox = Sandbox::with_user(moto, &user, "work");
    let serial = user.serials[0].as_str();
    let (run, screen) = Pty::open().run(sandbox.command(&["123456", "work", "-s", serial]));
    assert_eq!(run.code, Some(1), "{run:#?}");
    assert_eq!(screen, "", "nothing reaches the screen through stdout");
    run.stderr_has(
        "the session for profile 'work' is cached, but not printed: stdout is a terminal",
    );
    // The hint repeats what was asked for (here the device), so that the
    // command it names finds the cached session: run it as printed.
    let command = run
        .stderr
        .lines()
        .find_map(|l| l.strip_prefix("hint: apply it with: "))
        .and_then(|h| h.strip_suffix(" (no new code needed); --print prints it anyway"))
        .unwrap_or_else(|| panic!("{run:#?}"));
    assert_eq!(command, format!("eval \"$(mfa-session work -s {serial})\""));
    need!(tool("bash"));
    let applied = sandbox
        .shell_command(&["bash", "-c"])
        .arg(format!("{command} && printf %s \"$AWS_SECRET_ACCESS_KEY\""))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&applied.stderr);
    assert!(applied.status.success(), "{stderr}");
    assert!(
        stderr.contains("reusing"),
        "no new code, no request: {stderr}"
    );
    let secret = String::from_utf8_lossy(&applied.stdout).into_owned();
    assert!(secret.len() > 10, "{secret}");
    run.keeps_secret(&[&secret]);
    // An explicit shell changes nothing; --print does.
    let (run, screen) =
        Pty::open().run(sandbox.command(&["work", "-s", serial, "--shell", "fish"]));
    assert_eq!((run.code, screen.as_str()), (Some(1), ""));
    run.stderr_has(&format!(
        "hint: apply it with: mfa-session work -s {serial} --shell fish | source (no new code needed)"
    ));
    let (run, screen) = Pty::open().run(sandbox.command(&["work", "-s", serial, "--print"]));
    assert_eq!(run.code, Some(0), "{run:#?}");
    assert!(screen.contains(&secret));
    // With --no-cache nothing could be kept: no request at all.
    let before = moto.requests_signed_by(&user.access_key_id).len();
    let (run, _) =
        Pty::open().run(sandbox.command(&["123456", "work", "-s", serial, "--no-cache"]));
    assert_eq!(run.code, Some(1));
    run.stderr_has("not asking for a session for profile 'work'")
        .stderr_has(&format!(
            "hint: apply it with: eval \"$(mfa-session CODE work -s {serial} --no-cache)\"; --print"
        ));
    assert_eq!(moto.requests_signed_by(&user.access_key_id).len(), before);
    // credential-process too.
    let (run, screen) =
        Pty::open().run(sandbox.command(&["credential-process", "-p", "work", "-s", serial]));
    assert_eq!((run.code, screen.as_str()), (Some(1), ""));
}

/// 8.7: `AWS_PROFILE` naming the long-term profile goes (the JS SDK v3 would
/// sign with the long-term key), the profile's region stays in `AWS_REGION`,
/// and `exec` gives a command the same environment as `eval` a shell.
#[test]
fn the_session_takes_aws_profile_away_and_keeps_the_region() {
    let moto = need!(moto());
    need!(tool("bash"));
    let user = moto.user(1);
    let mut sandbox = Sandbox::with_user(moto, &user, "work");
    sandbox.write(
        ".aws/config",
        &format!(
            "[profile work]\nregion = eu-west-2\nmfa_serial = {}\n",
            user.serials[0]
        ),
    );
    sandbox.set("AWS_PROFILE", "work");
    sandbox.set("AWS_DEFAULT_PROFILE", "work");
    let names = [
        "AWS_PROFILE",
        "AWS_DEFAULT_PROFILE",
        "AWS_REGION",
        "AWS_DEFAULT_REGION",
        "AWS_ACCESS_KEY_ID",
    ];
    let run = sandbox.run(&["123456"]);
    run.success();
    let evaluated = source_posix(
        &["bash"],
        "export AWS_PROFILE=work AWS_DEFAULT_PROFILE=work",
        &run.stdout,
        &names,
    );
    assert_eq!(
        evaluated[..4],
        [
            None,
            None,
            Some("eu-west-2".into()),
            Some("eu-west-2".into())
        ]
    );

    let program = "for n in AWS_PROFILE AWS_DEFAULT_PROFILE AWS_REGION AWS_DEFAULT_REGION AWS_ACCESS_KEY_ID; do \
                   if [ \"$(eval \"printf %s \\\"\\${$n+x}\\\"\")\" ]; then eval \"printf 'set:%s' \\\"\\$$n\\\"\"; else printf unset; fi; printf '\\000'; done";
    let exec = sandbox.run(&["exec", "--", "sh", "-c", program]);
    exec.success();
    let from_exec: Vec<Option<String>> = exec
        .stdout
        .split('\0')
        .take(names.len())
        .map(|v| v.strip_prefix("set:").map(str::to_owned))
        .collect();
    assert_eq!(
        from_exec, evaluated,
        "exec and eval give the same environment"
    );

    // --clear takes away the same set.
    let clear = sandbox.run(&["--clear"]);
    let cleared = source_posix(
        &["bash"],
        "export AWS_PROFILE=work AWS_REGION=x AWS_DEFAULT_REGION=x",
        &clear.stdout,
        &names,
    );
    assert_eq!(cleared, vec![None; names.len()]);
}

/// 8.8: an explicit --duration (or device) that the cached session does not
/// satisfy is a cache miss.
#[test]
fn an_explicit_duration_or_device_is_not_served_by_another_session() {
    let moto = need!(moto());
    let user = moto.user(2);
    let sandbox = Sandbox::with_user(moto, &user, "work");
    let serial = user.serials[0].as_str();
    sandbox.run(&["123456", "work", "-s", serial]).success();
    for duration in ["1h", "36h"] {
        sandbox
            .run(&["work", "-s", serial, "--duration", duration])
            .failure(1)
            .stderr_has("no MFA code given");
    }
    sandbox
        .run(&["work", "-s", serial, "--duration", "12h"])
        .success()
        .stderr_has("reusing");
    sandbox
        .run(&["work", "-s", &user.serials[1]])
        .failure(1)
        .stderr_has("no MFA code given");
    // A new session for 1h is then what 1h reuses.
    sandbox
        .run(&["222222", "work", "-s", serial, "--duration", "1h"])
        .success();
    sandbox
        .run(&["work", "-s", serial, "--duration", "60m"])
        .success()
        .stderr_has("reusing");
}

/// 8.10: a --min-remaining that overflowed reused an expired session.
#[test]
fn min_remaining_out_of_range_is_a_usage_error() {
    let sandbox = Sandbox::new(None);
    for value in ["9223372036854775808", "18446744073709551615", "37h"] {
        sandbox
            .run(&["123456", "work", "--min-remaining", value])
            .failure(2)
            .stderr_has("--min-remaining");
    }
}

/// 8.12: a file that cannot be run is found out before a code is asked for,
/// and with PATH unset the command is searched where execvp searches.
#[test]
fn exec_checks_the_command_before_asking_for_a_code() {
    let moto = need!(moto());
    let user = moto.user(1);
    let mut sandbox = Sandbox::with_user(moto, &user, "work");
    let script = sandbox.path("not-executable");
    std::fs::write(&script, "#!/bin/sh\nexit 0\n").unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o644)).unwrap();
    let path = script.to_str().unwrap();
    // No code and no terminal: the old check let this through to the prompt.
    sandbox
        .run(&["exec", "work", "--", path])
        .failure(126)
        .stderr_has("permission denied");
    assert_eq!(moto.requests_signed_by(&user.access_key_id).len(), 0);

    sandbox
        .run(&["123456", "work", "-s", &user.serials[0]])
        .success();
    sandbox.env.retain(|(k, _)| k != "PATH");
    let run = sandbox.run(&[
        "exec",
        "work",
        "-s",
        &user.serials[0],
        "--",
        "sh",
        "-c",
        "echo ran",
    ]);
    run.success();
    assert_eq!(run.stdout, "ran\n");
}

/// 8.13: a remembered device whose file was edited to hold terminal escape
/// sequences is not used, and nothing of it reaches the screen.
#[test]
fn a_planted_device_file_puts_no_escape_sequence_on_screen() {
    let moto = need!(moto());
    let user = moto.user(1);
    let sandbox = Sandbox::with_user(moto, &user, "work");
    sandbox.run(&["123456", "work"]).success();
    let device_file = sandbox.cache_files("device-").remove(0);
    let text = std::fs::read_to_string(&device_file).unwrap();
    let planted = text.replace(
        &format!("\"serial\": \"{}\"", user.serials[0]),
        "\"serial\": \"arn:aws:iam::1:mfa/x\\u001b]0;pwned\\u0007\\u001b[2J\"",
    );
    assert_ne!(planted, text);
    std::fs::write(&device_file, planted).unwrap();
    // A new session is announced with the device's serial.
    let run = sandbox.run(&["222222", "work", "--force"]);
    run.success();
    assert!(!run.stderr.contains('\u{1b}'), "{run:#?}");
    assert!(!run.stderr.contains("pwned"), "{run:#?}");
    run.stderr_has("warning: ignoring the cache file");
}

/// 8.14: a crash must not write the long-term secret to a core file.
#[test]
fn no_core_dumps_while_secrets_are_in_memory() {
    let endpoint = FakeEndpoint::start(|_, _| Reply::Hang);
    let mut sandbox = fake_sandbox(&endpoint.url);
    sandbox.set("MFA_SESSION_TIMEOUT", "5s");
    let mut command = sandbox.command(&[
        "123456",
        "work",
        "-s",
        "arn:aws:iam::123456789012:mfa/alice",
    ]);
    // Core files allowed as far as the hard limit lets: the binary itself
    // must take that back.
    // SAFETY: getrlimit/setrlimit are async-signal-safe.
    unsafe {
        use std::os::unix::process::CommandExt;
        command.pre_exec(|| {
            let mut limit: libc::rlimit = std::mem::zeroed();
            libc::getrlimit(libc::RLIMIT_CORE, &mut limit);
            limit.rlim_cur = limit.rlim_max;
            libc::setrlimit(libc::RLIMIT_CORE, &limit);
            Ok(())
        });
    }
    let mut child = command
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while endpoint.actions().is_empty() {
        assert!(Instant::now() < deadline, "the request never came");
        std::thread::sleep(Duration::from_millis(10));
    }
    let limits = std::fs::read_to_string(format!("/proc/{}/limits", child.id())).unwrap();
    let _ = child.kill();
    let _ = child.wait();
    let core = limits
        .lines()
        .find(|l| l.starts_with("Max core file size"))
        .unwrap();
    let soft = core.split_whitespace().nth(4).unwrap();
    assert_eq!(soft, "0", "{core}");
}

/// 8.15: the fish function returns 0 no more when `source` fails.
#[test]
fn the_fish_function_reports_a_script_that_fails() {
    need!(tool("fish"));
    let dir = tempfile::tempdir().unwrap();
    let stand_in = dir.path().join("mfa-session");
    let wrapper = Command::new(&*BIN)
        .args(["init", "fish"])
        .output()
        .unwrap()
        .stdout;
    std::fs::write(dir.path().join("wrapper.fish"), wrapper).unwrap();
    std::fs::write(&stand_in, "#!/bin/sh\nprintf 'set -gx X (\\n'\n").unwrap();
    std::fs::set_permissions(&stand_in, std::fs::Permissions::from_mode(0o755)).unwrap();
    let out = Command::new("fish")
        .args([
            "--no-config",
            "-c",
            "source $argv[1]; mfa 123456 work; echo status=$status",
        ])
        .arg(dir.path().join("wrapper.fish"))
        .env("PATH", format!("{}:/usr/bin:/bin", dir.path().display()))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.starts_with("status="), "{stdout}");
    assert_ne!(stdout.trim(), "status=0", "{stdout}");
}

/// A user with profile `work`, whose session `--write-profile` put into
/// `[work-mfa]`.
fn written_to_work_mfa(moto: &Moto) -> (User, Sandbox) {
    let user = moto.user(1);
    let sandbox = Sandbox::with_user(moto, &user, "work");
    write_profile(&sandbox, &user.serials[0], "work-mfa").success();
    (user, sandbox)
}

/// 8.16: `forget` removes what `--write-profile` wrote, so one command logs
/// out everywhere; a section holding something else by then is left alone.
#[test]
fn forget_removes_what_write_profile_wrote() {
    let moto = need!(moto());
    let (user, sandbox) = written_to_work_mfa(moto);
    let before = std::fs::read_to_string(sandbox.path(".aws/credentials")).unwrap();
    let before = before[..before.find("\n[work-mfa]").unwrap()].to_owned();
    let serial = user.serials[0].as_str();
    sandbox
        .run(&["work", "-s", serial, "--write-profile", "mine"])
        .success();
    // The user puts a key of their own into [mine]: that one stays.
    let text = std::fs::read_to_string(sandbox.path(".aws/credentials")).unwrap();
    let mine = text.find("[mine]").unwrap();
    let own = format!(
        "{}[mine]\naws_access_key_id = ASIAUSERSOWN\naws_secret_access_key = x\naws_session_token = y\n",
        &text[..mine]
    );
    sandbox.write(".aws/credentials", &own);
    sandbox
        .run(&["forget", "work"])
        .success()
        .stderr_has("removed the session from [work-mfa]");
    let after = std::fs::read_to_string(sandbox.path(".aws/credentials")).unwrap();
    assert_eq!(
        after,
        format!(
            "{before}\n[mine]\naws_access_key_id = ASIAUSERSOWN\naws_secret_access_key = x\naws_session_token = y\n"
        )
    );
    sandbox.run(&["work", "-s", serial]).failure(1);
}

/// 8.16: a section `forget` cannot edit (here the file gained a hard link)
/// does not keep the cached session alive; the failure names the file, and
/// the next `forget` finishes the job.
#[test]
fn forget_goes_on_past_a_section_it_cannot_edit() {
    let moto = need!(moto());
    let (user, sandbox) = written_to_work_mfa(moto);
    let serial = user.serials[0].as_str();
    let credentials = sandbox.path(".aws/credentials");
    let backup = sandbox.path("credentials.bak");
    std::fs::hard_link(&credentials, &backup).unwrap();
    let run = sandbox.run(&["forget", "work"]);
    assert_eq!((run.code, run.stdout.as_str()), (Some(1), ""), "{run:#?}");
    run.stderr_has("could not remove the session from [work-mfa] in ")
        .stderr_has("it has 2 hard links");
    // The cached session is gone all the same.
    sandbox
        .run(&["work", "-s", serial])
        .failure(1)
        .stderr_has("no MFA code given");
    std::fs::remove_file(&backup).unwrap();
    sandbox
        .run(&["forget", "work"])
        .success()
        .stderr_has("removed the session from [work-mfa]");
    let text = std::fs::read_to_string(&credentials).unwrap();
    assert!(!text.contains("[work-mfa]"), "{text}");
}
