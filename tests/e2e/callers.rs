//! Many callers at once: Terraform's parallel credential_process, an IDE and
//! a shell together. Against moto behind a proxy of the test's own that, as
//! AWS does, accepts each MFA code once, and that slows every answer so that
//! the processes really race.

use std::collections::HashSet;
use std::io::Write;
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::need;
use crate::support::*;

/// A proxy in front of moto: refuses a code sent twice with AWS's own error
/// body, delays every answer, and counts what it forwarded.
struct Proxy {
    url: String,
    seen: Arc<Mutex<Vec<FakeRequest>>>,
}

impl Proxy {
    fn start(upstream: &str, delay: Duration) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let upstream = upstream.trim_start_matches("http://").to_owned();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let used = Arc::new(Mutex::new(HashSet::<(String, String)>::new()));
        let recorded = seen.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let (upstream, seen, used) = (upstream.clone(), recorded.clone(), used.clone());
                std::thread::spawn(move || relay(stream, &upstream, delay, &seen, &used));
            }
        });
        Proxy { url, seen }
    }

    fn count(&self, action: &str) -> usize {
        let seen = self.seen.lock().unwrap();
        seen.iter().filter(|r| r.action() == action).count()
    }
}

fn relay(
    mut client: TcpStream,
    upstream: &str,
    delay: Duration,
    seen: &Mutex<Vec<FakeRequest>>,
    used: &Mutex<HashSet<(String, String)>>,
) {
    let Some((head, body, request)) = read_request(&mut client) else {
        return;
    };
    seen.lock().unwrap().push(request.clone());
    std::thread::sleep(delay);
    if let Some(code) = request.params.get("TokenCode") {
        let serial = request
            .params
            .get("SerialNumber")
            .cloned()
            .unwrap_or_default();
        if !used.lock().unwrap().insert((serial, code.clone())) {
            let body = aws_error(
                "AccessDenied",
                "MultiFactorAuthentication failed with invalid MFA one time pass code.",
            );
            let _ = write!(
                client,
                "HTTP/1.1 403 Forbidden\r\nContent-Type: text/xml\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
            return;
        }
    }
    if let Some(answer) = forward(upstream, &head, &body) {
        let _ = client.write_all(&answer);
    }
}

/// A sandbox whose endpoint is a new proxy in front of moto.
fn behind_proxy(moto: &Moto, user: &User, profile: &str, delay: Duration) -> (Sandbox, Proxy) {
    let proxy = Proxy::start(&moto.url, delay);
    let mut sandbox = Sandbox::with_user(moto, user, profile);
    sandbox.set("AWS_ENDPOINT_URL", &proxy.url);
    (sandbox, proxy)
}

const SLOW: Duration = Duration::from_millis(400);

/// Runs `args` eight times at once; each must succeed, and all print the same.
fn eight_at_once(sandbox: &Sandbox, args: &[&str]) -> String {
    let runs = sandbox.run_at_once(&vec![args.to_vec(); 8]);
    for run in &runs {
        run.success();
    }
    let first = runs[0].stdout.clone();
    assert!(!first.is_empty());
    for run in &runs[1..] {
        assert_eq!(run.stdout, first, "every caller gets the same session");
    }
    // Those that waited said so, once each.
    let waited = runs
        .iter()
        .filter(|r| r.stderr.contains("waiting for another mfa-session (pid "))
        .count();
    assert!(waited >= 1, "someone waited: {:?}", runs[1].stderr);
    for run in &runs {
        assert!(run.stderr.matches("waiting for another").count() <= 1);
    }
    first
}

fn code_runs(sandbox: &Sandbox) -> usize {
    std::fs::read_to_string(sandbox.path("code-runs"))
        .map(|t| t.lines().count())
        .unwrap_or(0)
}

#[test]
fn eight_credential_processes_with_a_cold_cache_send_one_request_and_run_the_code_command_once() {
    let moto = need!(moto());
    let user = moto.user(1);
    let (sandbox, proxy) = behind_proxy(moto, &user, "work", SLOW);
    // No mfa_serial: the device is found once too.
    sandbox.write(
        ".aws/config",
        "[profile work]\nmfa_process = echo run >> \"$HOME/code-runs\"; echo 123456\n",
    );
    let json = eight_at_once(&sandbox, &["credential-process", "--profile", "work"]);
    assert!(json.contains("\"SessionToken\""), "{json}");
    assert_eq!(proxy.count("GetSessionToken"), 1);
    assert_eq!(code_runs(&sandbox), 1, "the code command ran once");
}

#[test]
fn eight_runs_with_the_same_code_share_one_session() {
    let moto = need!(moto());
    let user = moto.user(1);
    let (sandbox, proxy) = behind_proxy(moto, &user, "work", SLOW);
    sandbox.write(
        ".aws/config",
        &format!("[profile work]\nmfa_serial = {}\n", user.serials[0]),
    );
    let script = eight_at_once(&sandbox, &["123456", "work"]);
    assert!(script.contains("export AWS_SESSION_TOKEN="), "{script}");
    assert_eq!(proxy.count("GetSessionToken"), 1);
}

#[test]
fn eight_runs_of_a_role_on_a_role_send_one_request_per_layer() {
    let moto = need!(moto());
    let user = moto.user(1);
    let (ops, prod) = (moto.role("ops"), moto.role("prod"));
    let (sandbox, proxy) = behind_proxy(moto, &user, "identity", SLOW);
    sandbox.write(
        ".aws/config",
        &format!(
            "[profile identity]\nmfa_serial = {}\n\
             [profile ops]\nrole_arn = {ops}\nsource_profile = identity\n\
             [profile prod]\nrole_arn = {prod}\nsource_profile = ops\n",
            user.serials[0]
        ),
    );
    // moto gives every role session its own keys: the same output is one session.
    let script = eight_at_once(&sandbox, &["123456", "prod"]);
    assert!(script.contains("AWS_SESSION_TOKEN"));
    assert_eq!(proxy.count("GetSessionToken"), 1);
    assert_eq!(proxy.count("AssumeRole"), 2, "one per role layer");
}

#[test]
fn a_session_stored_while_a_caller_waited_is_fresh_for_it() {
    let moto = need!(moto());
    let user = moto.user(1);
    let (ops, prod) = (moto.role("ops"), moto.role("prod"));
    let (sandbox, proxy) = behind_proxy(moto, &user, "identity", SLOW);
    sandbox.write(
        ".aws/config",
        &format!(
            "[profile identity]\nmfa_serial = {}\n\
             [profile prod]\nrole_arn = {prod}\nsource_profile = identity\n\
             [profile ops]\nrole_arn = {ops}\nsource_profile = identity\n",
            user.serials[0]
        ),
    );
    sandbox.run(&["111111", "identity"]).success();
    assert_eq!(proxy.count("GetSessionToken"), 1);

    // A cached session with less left than asked for: one caller renews it,
    // and the others take the renewed one although they asked for more.
    eight_at_once(&sandbox, &["222222", "identity", "--min-remaining", "13h"]);
    assert_eq!(proxy.count("GetSessionToken"), 2);
    // --force: one new session for all eight.
    eight_at_once(&sandbox, &["333333", "identity", "--force"]);
    assert_eq!(proxy.count("GetSessionToken"), 3);

    // A good MFA session and no role session yet: one AssumeRole, no code.
    eight_at_once(&sandbox, &["prod"]);
    assert_eq!(proxy.count("GetSessionToken"), 3);
    assert_eq!(proxy.count("AssumeRole"), 1);
    // A role session about to run out (less than --min-remaining left).
    sandbox.run(&["ops"]).success();
    assert_eq!(proxy.count("AssumeRole"), 2);
    eight_at_once(&sandbox, &["ops", "--min-remaining", "2h"]);
    assert_eq!(proxy.count("AssumeRole"), 3);
    assert_eq!(proxy.count("GetSessionToken"), 3);
}

#[test]
fn a_code_is_never_sent_twice() {
    let moto = need!(moto());
    let user = moto.user(1);
    let (ops, _) = (moto.role("ops"), ());
    let (sandbox, proxy) = behind_proxy(moto, &user, "identity", Duration::ZERO);
    sandbox.write(
        ".aws/config",
        &format!(
            "[profile identity]\nmfa_serial = {}\n\
             [profile ops]\nrole_arn = {ops}\nsource_profile = identity\n",
            user.serials[0]
        ),
    );
    sandbox.run(&["864209", "identity"]).success();
    // --force right after: the same code is refused before any request.
    let run = sandbox.run(&["864209", "identity", "--force"]);
    run.failure(1)
        .stderr_has("not sending the MFA code for ")
        .stderr_has(": that code was used at ")
        .stderr_has("; wait for the next one (in ")
        .keeps_secret(&["864209"]);
    assert_eq!(proxy.count("GetSessionToken"), 1);
    // --direct after a GetSessionToken: the same code, the same device.
    sandbox
        .run(&["864209", "ops", "--direct"])
        .failure(1)
        .stderr_has("that code was used at ");
    assert_eq!(proxy.count("AssumeRole"), 0);
    // Under --no-cache too; another code goes through.
    sandbox
        .run(&["864209", "identity", "--no-cache"])
        .failure(1)
        .stderr_has("that code was used at ");
    sandbox.run(&["975310", "identity", "--force"]).success();
    assert_eq!(proxy.count("GetSessionToken"), 2);
    // The record holds no code.
    for file in sandbox.cache_files("code-") {
        let text = std::fs::read_to_string(&file).unwrap();
        assert!(
            !text.contains("864209") && !text.contains("975310"),
            "{text}"
        );
    }
}

#[test]
fn a_caller_gives_up_waiting_after_the_bound() {
    let moto = need!(moto());
    let user = moto.user(1);
    let (mut sandbox, proxy) = behind_proxy(moto, &user, "work", Duration::ZERO);
    sandbox.write(
        ".aws/config",
        &format!(
            "[profile work]\nmfa_serial = {}\nmfa_process = sleep 4; echo 123456\n",
            user.serials[0]
        ),
    );
    sandbox.set("MFA_SESSION_LOCK_TIMEOUT", "1");
    let first = sandbox.spawn(&["credential-process", "--profile", "work"]);
    std::thread::sleep(Duration::from_millis(500));
    let started = Instant::now();
    let second = sandbox.run(&["credential-process", "--profile", "work"]);
    assert!(started.elapsed() < Duration::from_secs(3));
    // The notice while it waited, then the error and its hint.
    assert_eq!(second.code, Some(1));
    assert_eq!(second.stderr.lines().count(), 3, "{second:#?}");
    second
        .stderr_has("waiting for another mfa-session (pid ")
        .stderr_has("gave up after 1s waiting for another mfa-session (pid ")
        .stderr_has("hint: ");
    assert!(second.stdout.is_empty());
    Run::from(first.wait_with_output().unwrap()).success();
    assert_eq!(proxy.count("GetSessionToken"), 1);

    // A holder killed with SIGKILL blocks nobody.
    sandbox.write(
        ".aws/config",
        &format!(
            "[profile work]\nmfa_serial = {}\nmfa_process = sleep 30; echo 222222\n",
            user.serials[0]
        ),
    );
    let mut holder = sandbox
        .command(&["credential-process", "--profile", "work", "--force"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(500));
    holder.kill().unwrap();
    holder.wait().unwrap();
    sandbox
        .run(&["333333", "work", "--force"])
        .success()
        .stderr_has("session for profile 'work'");
    assert!(
        !sandbox
            .run(&["444444", "work", "--force"])
            .stderr
            .contains("waiting")
    );
}

fn temporaries(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .map(|d| {
            d.filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.contains(".mfa-session-"))
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn runs_killed_while_writing_leave_no_copy_of_a_secret_file() {
    let moto = need!(moto());
    let user = moto.user(1);
    let (mut sandbox, _proxy) = behind_proxy(moto, &user, "work", Duration::from_millis(50));
    sandbox.write(
        ".aws/config",
        &format!("[profile work]\nmfa_serial = {}\n", user.serials[0]),
    );
    let aws_dir = sandbox.path(".aws");
    let cache_dir = sandbox.path(".cache/mfa-session");
    // Debug builds hold every finished temporary file this long before the
    // rename: the moment a kill leaves it behind.
    sandbox.set("MFA_SESSION_TEST_PAUSE_BEFORE_RENAME", "1500");
    let kill_while_writing = |sandbox: &Sandbox, i: usize, dir: &Path| {
        let code = format!("{}", 200000 + i);
        let mut child = sandbox
            .command(&[&code, "work", "--force", "--write-profile", "work-session"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        // Killed once a temporary file of its own is there.
        let mine = format!(".mfa-session-{}-", child.id());
        let deadline = Instant::now() + Duration::from_secs(30);
        while !temporaries(dir).iter().any(|n| n.contains(&mine)) {
            assert!(
                Instant::now() < deadline,
                "no temporary file in {}",
                dir.display()
            );
            std::thread::sleep(Duration::from_millis(5));
        }
        child.kill().unwrap();
        child.wait().unwrap();
    };
    // Each run sweeps what the one before left where it writes (the cache
    // first, then the credentials file): the last two leave one in each.
    for i in 0..6 {
        let dir = if i % 2 == 0 { &aws_dir } else { &cache_dir };
        kill_while_writing(&sandbox, i, dir);
    }
    let left = temporaries(&aws_dir);
    assert!(
        !left.is_empty(),
        "the kills left copies of the credentials file"
    );
    assert!(!temporaries(&cache_dir).is_empty());
    let copy = std::fs::read_to_string(aws_dir.join(&left[0])).unwrap();
    assert!(copy.contains(&user.secret_access_key), "a full copy");

    // One normal run: nothing left in either folder.
    sandbox.set("MFA_SESSION_TEST_PAUSE_BEFORE_RENAME", "0");
    sandbox
        .run(&[
            "300000",
            "work",
            "--force",
            "--write-profile",
            "work-session",
        ])
        .success();
    assert_eq!(temporaries(&aws_dir), Vec::<String>::new());
    assert_eq!(temporaries(&cache_dir), Vec::<String>::new());

    // forget --all removes them too.
    sandbox.set("MFA_SESSION_TEST_PAUSE_BEFORE_RENAME", "1500");
    kill_while_writing(&sandbox, 1, &aws_dir);
    assert!(!temporaries(&aws_dir).is_empty());
    sandbox.run(&["forget", "--all"]).success();
    assert_eq!(temporaries(&aws_dir), Vec::<String>::new());
    assert_eq!(temporaries(&cache_dir), Vec::<String>::new());
    let locks: Vec<_> = std::fs::read_dir(&cache_dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".lock"))
        .collect();
    assert_eq!(locks, Vec::<String>::new());
}

#[test]
fn a_cache_entry_no_aws_session_could_be_is_refused_with_a_warning() {
    let moto = need!(moto());
    let user = moto.user(1);
    let sandbox = Sandbox::with_device(moto, &user, "work");
    sandbox.run(&["123456", "work"]).success();
    let file = sandbox.cache_files("session-").remove(0);
    for (bad, says, code) in [
        (
            "2999-01-01T00:00:00Z",
            "more than 36 hours after the file was written",
            "654321",
        ),
        (
            "99999-01-01T00:00:00Z",
            "out of range: the year has 5 digits",
            "765432",
        ),
    ] {
        let text = std::fs::read_to_string(&file).unwrap();
        let json: serde_json::Value = serde_json::from_str(&text).unwrap();
        let old = json["expiration"].as_str().unwrap().to_owned();
        std::fs::write(&file, text.replace(&old, bad)).unwrap();
        // A good cached session would need no code: this one takes a new one.
        sandbox
            .run(&[code, "work"])
            .success()
            .stderr_has("warning: ignoring the cache file ")
            .stderr_has(says);
        assert!(!std::fs::read_to_string(&file).unwrap().contains(bad));
    }
}

/// Issue 31, item 4: a SIGTERM while the credentials file is being written
/// waits for the rename, whichever thread the kernel hands it to. Before,
/// it was held back only in the writing thread: with a host name to
/// resolve (a tokio thread to take the signal, as with real AWS), the
/// process died and left a full copy of the file behind.
#[test]
fn a_sigterm_during_a_write_waits_for_the_rename_in_every_thread() {
    use std::os::unix::process::ExitStatusExt;
    let moto = need!(moto());
    let user = moto.user(1);
    let mut sandbox = Sandbox::with_device(moto, &user, "work");
    sandbox.set(
        "AWS_ENDPOINT_URL",
        &moto.url.replace("127.0.0.1", "localhost"),
    );
    sandbox.set("MFA_SESSION_TEST_PAUSE_BEFORE_RENAME", "1500");
    let aws_dir = sandbox.path(".aws");
    let mut child = sandbox
        .command(&["864209", "work", "--write-profile", "work-session"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while temporaries(&aws_dir).is_empty() {
        assert!(Instant::now() < deadline, "no temporary file");
        std::thread::sleep(Duration::from_millis(5));
    }
    // SAFETY: signals our own child.
    unsafe {
        libc::kill(child.id() as i32, libc::SIGTERM);
    }
    let status = child.wait().unwrap();
    assert_eq!(
        status.signal(),
        Some(libc::SIGTERM),
        "ended by the signal: {status:?}"
    );
    assert_eq!(temporaries(&aws_dir), Vec::<String>::new());
    let text = sandbox.read(".aws/credentials");
    assert!(
        text.contains("[work-session]\naws_access_key_id = "),
        "the write was finished: {text}"
    );
}

/// Issue 31, item 11: runs killed with SIGKILL at any moment, in a loop,
/// then one normal run and `forget --all`: no copy of the credentials file
/// and no written section may be left. Before, now and then one was: a
/// copy whose writer was still on its way out when the next run swept, or a
/// section written before the record that lets `forget` find it.
#[test]
fn runs_killed_at_any_moment_leave_no_secret_after_forget() {
    let moto = need!(moto());
    let mut seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64;
    let mut random = move |below: u64| {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (seed >> 33) % below
    };
    for round in 0..8 {
        let user = moto.user(1);
        let sandbox = Sandbox::with_device(moto, &user, "work");
        let before = sandbox.read(".aws/credentials");
        let aws_dir = sandbox.path(".aws");
        let cache_dir = sandbox.path(".cache/mfa-session");
        sandbox.run(&["864209", "work"]).success();
        for i in 0..40 {
            let mut child = sandbox
                .command(&["work", "--write-profile", &format!("copy{}", i % 3)])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap();
            std::thread::sleep(Duration::from_micros(random(60_000)));
            let _ = child.kill();
            let _ = child.wait();
        }
        sandbox.run(&["work", "--write-profile", "copy0"]).success();
        sandbox.run(&["forget", "--all"]).success();
        let left: Vec<String> = temporaries(&aws_dir)
            .into_iter()
            .chain(temporaries(&cache_dir))
            .collect();
        assert_eq!(left, Vec::<String>::new(), "round {round}");
        assert_eq!(
            sandbox.read(".aws/credentials"),
            before,
            "round {round}: every written section is gone"
        );
    }
}

/// Issue 31, item 6: another program holding the lock of a profile file
/// made `--write-profile` (and `keys`, `enroll`, `rotate`) wait forever;
/// now they wait as long as for the cache's locks, and say so. For rotate,
/// the new key is deleted again.
#[test]
fn a_held_profile_file_is_waited_for_with_a_bound() {
    let moto = need!(moto());
    let user = moto.user(1);
    let (mut sandbox, _) = Sandbox::with_key_among_others(moto, &user);
    sandbox.set("MFA_SESSION_LOCK_TIMEOUT", "1");
    let held = std::fs::File::open(sandbox.path(".aws/credentials")).unwrap();
    held.lock().unwrap();
    let ends_within = |args: &[&str]| {
        let mut child = sandbox
            .command(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(30);
        while child.try_wait().unwrap().is_none() {
            if Instant::now() > deadline {
                let _ = child.kill();
                panic!("{args:?} waited for the lock without a bound");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Run::from(child.wait_with_output().unwrap())
    };
    let run = ends_within(&["864209", "work", "--write-profile", "work-session"]);
    assert_eq!((run.code, run.stdout.as_str()), (Some(1), ""), "{run:#?}");
    run.stderr_has("gave up after 1s waiting for another program to finish with ")
        .stderr_has("credentials");
    let run = ends_within(&["rotate", "975310", "work"]);
    assert_eq!(run.code, Some(1), "{run:#?}");
    run.stderr_has("gave up after 1s waiting for another program")
        .stderr_has("was deleted again");
    assert_eq!(
        moto.access_keys(&user.name),
        [(user.access_key_id.clone(), true)]
    );
    drop(held);
}
