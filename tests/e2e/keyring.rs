//! The long-term key in a real Secret Service: gnome-keyring on a private
//! D-Bus session bus of the test's own, its login keyring made and unlocked
//! with a known password. `secret-tool` looks inside; moto signs with what
//! the keyring gave.

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::need;
use crate::support::*;

/// A D-Bus session bus with gnome-keyring's Secret Service on it, for one
/// sandbox; ended when dropped (the keyring daemon leaves with its bus).
/// One at a time: every test here stores profile `work`, one locks the
/// keyring, and keyrings started side by side on a loaded 2-core machine
/// took longer than any deadline (the suite was flaky that way).
struct SecretService {
    bus: Child,
    address: String,
    _turn: std::sync::MutexGuard<'static, ()>,
}

static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// How long a keyring may take to be ready on a busy machine.
const READY_WITHIN: Duration = Duration::from_secs(120);

impl SecretService {
    fn start(sandbox: &mut Sandbox) -> Option<SecretService> {
        let turn = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
        let dbus = tool("dbus-daemon")?;
        let daemon = tool("gnome-keyring-daemon")?;
        tool("secret-tool")?;
        tool("dbus-send")?;
        let socket = sandbox.path("bus");
        let mut bus = Command::new(dbus)
            .args(["--session", "--nofork", "--print-address=1"])
            .arg(format!("--address=unix:path={}", socket.display()))
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start dbus-daemon");
        let mut address = String::new();
        BufReader::new(bus.stdout.take().unwrap())
            .read_line(&mut address)
            .expect("the bus's address");
        let address = address.trim().to_owned();
        assert!(address.starts_with("unix:"), "{address:?}");
        sandbox.set("DBUS_SESSION_BUS_ADDRESS", &address);
        std::fs::create_dir_all(sandbox.path(".local/share/keyrings")).unwrap();
        let mut unlock = sandbox
            .shell_command(&[daemon.to_str().unwrap(), "--unlock", "--components=secrets"])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start gnome-keyring-daemon");
        unlock.stdin.take().unwrap().write_all(b"PASSWORD").unwrap();
        assert!(unlock.wait().unwrap().success());
        let service = SecretService {
            bus,
            address,
            _turn: turn,
        };
        // Ready when an item can be stored and read back (the login
        // keyring exists and is unlocked); the probe is cleared again.
        let deadline = Instant::now() + READY_WITHIN;
        // Each probe has a bound of its own: one that hangs on a daemon not
        // yet ready (a D-Bus call waits 25 s) must not use the whole wait.
        let tool = |args: &[&str], input: &[u8]| {
            let mut bounded = vec!["timeout", "5"];
            bounded.extend_from_slice(args);
            let mut child = sandbox
                .shell_command(&bounded)
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::null())
                .spawn()
                .unwrap();
            child.stdin.take().unwrap().write_all(input).unwrap();
            child.wait_with_output().unwrap()
        };
        loop {
            tool(
                &["secret-tool", "store", "--label=probe", "probe", "ready"],
                b"yes",
            );
            let read = tool(&["secret-tool", "lookup", "probe", "ready"], b"");
            if read.stdout == b"yes" {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "gnome-keyring did not start within {READY_WITHIN:?}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        tool(&["secret-tool", "clear", "probe", "ready"], b"");
        Some(service)
    }

    /// What the keyring holds for `profile`, through secret-tool.
    fn lookup(&self, sandbox: &Sandbox, profile: &str) -> Option<String> {
        let output = sandbox
            .shell_command(&[
                "secret-tool",
                "lookup",
                "service",
                "mfa-session",
                "username",
                profile,
            ])
            .env("DBUS_SESSION_BUS_ADDRESS", &self.address)
            .output()
            .unwrap();
        Some(String::from_utf8(output.stdout).unwrap()).filter(|s| !s.is_empty())
    }

    /// The entry of `profile`, parsed.
    fn stored(&self, sandbox: &Sandbox, profile: &str) -> serde_json::Value {
        serde_json::from_str(&self.lookup(sandbox, profile).expect("the keyring holds it")).unwrap()
    }

    /// Locks the login keyring, as a screen lock or a timeout would.
    fn lock(&self, sandbox: &Sandbox) {
        let status = sandbox
            .shell_command(&[
                "dbus-send",
                "--session",
                "--print-reply",
                "--dest=org.freedesktop.secrets",
                "/org/freedesktop/secrets",
                "org.freedesktop.Secret.Service.Lock",
                "array:objpath:/org/freedesktop/secrets/collection/login",
            ])
            .stdout(Stdio::null())
            .status()
            .unwrap();
        assert!(status.success());
    }
}

impl Drop for SecretService {
    fn drop(&mut self) {
        let _ = self.bus.kill();
        let _ = self.bus.wait();
    }
}

fn setup(moto: &Moto) -> (User, Sandbox, SecretService, String) {
    let user = moto.user(1);
    let (mut sandbox, credentials) = Sandbox::with_key_among_others(moto, &user);
    let service = SecretService::start(&mut sandbox).expect("checked by the caller");
    (user, sandbox, service, credentials)
}

/// [`setup`], with the key moved into the keyring.
fn imported(moto: &Moto) -> (User, Sandbox, SecretService) {
    let (user, sandbox, service, _) = setup(moto);
    sandbox.run(&["keys", "import", "work"]).success();
    (user, sandbox, service)
}

/// Whether the tools this file needs are here (a failure in CI if not).
fn have_tools() -> Option<()> {
    for name in [
        "dbus-daemon",
        "gnome-keyring-daemon",
        "secret-tool",
        "dbus-send",
    ] {
        tool(name)?;
    }
    Some(())
}

#[test]
fn import_moves_the_key_into_the_keyring_and_export_brings_it_back() {
    let moto = need!(moto());
    need!(have_tools());
    let (user, sandbox, service, before) = setup(moto);
    let config_before = sandbox.read(".aws/config");

    let run = sandbox.run(&["keys", "import", "work"]);
    run.success()
        .stderr_has(&format!("moved the key {}", user.access_key_id))
        .keeps_secret(&[&user.secret_access_key]);
    assert_eq!(run.stdout, "");
    // The file without the two lines, every other byte the same.
    let expected = before.replace(
        &format!(
            "aws_access_key_id = {}\naws_secret_access_key = {}\n",
            user.access_key_id, user.secret_access_key
        ),
        "",
    );
    assert_eq!(sandbox.read(".aws/credentials"), expected);
    assert_eq!(
        sandbox.read(".aws/config"),
        format!(
            "[profile work]\nmfa_session_key = keyring\nmfa_serial = {}\n",
            user.serials[0]
        )
    );
    let stored = service
        .lookup(&sandbox, "work")
        .expect("the keyring holds it");
    let stored: serde_json::Value = serde_json::from_str(&stored).unwrap();
    assert_eq!(stored["AccessKeyId"], user.access_key_id.as_str());
    assert_eq!(stored["SecretAccessKey"], user.secret_access_key.as_str());

    // A second import is refused; status says where the key lives.
    sandbox
        .run(&["keys", "import", "work"])
        .failure(1)
        .stderr_has("in the keyring already");
    let status = sandbox.run(&["status", "work"]);
    status.success().keeps_secret(&[&user.secret_access_key]);
    assert!(
        format!("{}{}", status.stdout, status.stderr).contains("the Secret Service keyring"),
        "{status:#?}"
    );

    let doctor = sandbox.run(&["doctor", "work"]);
    assert!(
        format!("{}{}", doctor.stdout, doctor.stderr).contains("the Secret Service keyring"),
        "{doctor:#?}"
    );

    // A session signed with the keyring's key: the files hold none.
    let run = sandbox.run(&["123456", "work"]);
    run.success().keeps_secret(&[&user.secret_access_key]);
    assert!(run.stdout.contains("AWS_SESSION_TOKEN"), "{run:#?}");
    assert!(
        !moto.requests_signed_by(&user.access_key_id).is_empty(),
        "no request was signed with the key from the keyring"
    );
    // credential_process, the way other tools get at it now.
    let run = sandbox.run(&["credential-process", "--profile", "work"]);
    run.success();
    assert!(run.stdout.contains("\"SessionToken\""), "{run:#?}");

    // Back: the pair in the credentials file, the marker gone, the entry
    // deleted; the config file as it was.
    sandbox
        .run(&["keys", "export", "work"])
        .success()
        .stderr_has("deleted it from the Secret Service keyring")
        .keeps_secret(&[&user.secret_access_key]);
    assert_eq!(sandbox.read(".aws/config"), config_before);
    assert_eq!(service.lookup(&sandbox, "work"), None);
    let after = sandbox.read(".aws/credentials");
    assert!(after.starts_with(OTHER_PROFILES), "{after}");
    assert!(
        after.contains(&format!(
            "aws_access_key_id = {}\naws_secret_access_key = {}\n",
            user.access_key_id, user.secret_access_key
        )),
        "{after}"
    );
    sandbox.run(&["654321", "work", "--force"]).success();
    sandbox
        .run(&["keys", "export", "work"])
        .failure(1)
        .stderr_has("not in the keyring");
}

#[test]
fn the_marker_wins_over_a_key_left_in_the_file_and_says_so() {
    let moto = need!(moto());
    need!(have_tools());
    let (_user, sandbox, _service) = imported(moto);
    // The user puts another (wrong) key back into the file.
    let credentials = sandbox.read(".aws/credentials").replace(
        "[work]\n",
        "[work]\naws_access_key_id = AKIASTALEKEY00000001\naws_secret_access_key = stale\n",
    );
    sandbox.write(".aws/credentials", &credentials);
    let run = sandbox.run(&["123456", "work"]);
    run.success()
        .stderr_has("says mfa_session_key = keyring")
        .stderr_has("is not used");
    assert!(moto.requests_signed_by("AKIASTALEKEY00000001").is_empty());
    let doctor = sandbox.run(&["doctor", "work"]);
    assert!(
        doctor.stdout.contains("[warn] long-term key") && doctor.stdout.contains("is not used"),
        "{doctor:#?}"
    );
    // export will not write a second pair beside it.
    sandbox
        .run(&["keys", "export", "work"])
        .failure(1)
        .stderr_has("beside the one in the keyring");
}

#[test]
fn import_never_overwrites_an_entry_of_the_same_name() {
    let moto = need!(moto());
    need!(have_tools());
    let (user, mut sandbox, service) = imported(moto);
    // Other profile files, with another user's key under the same name.
    let other = moto.user(1);
    sandbox.write(
        "other/credentials",
        &format!(
            "[work]\naws_access_key_id = {}\naws_secret_access_key = {}\n",
            other.access_key_id, other.secret_access_key
        ),
    );
    sandbox.write("other/config", "");
    let before = sandbox.read("other/credentials");
    let (config, credentials) = (
        sandbox.path("other/config"),
        sandbox.path("other/credentials"),
    );
    sandbox.set("AWS_CONFIG_FILE", config.to_str().unwrap());
    sandbox.set("AWS_SHARED_CREDENTIALS_FILE", credentials.to_str().unwrap());
    sandbox
        .run(&["keys", "import", "work"])
        .failure(1)
        .stderr_has(&format!(
            "holds a key for profile 'work' already ({})",
            user.access_key_id
        ))
        .keeps_secret(&[&other.secret_access_key, &user.secret_access_key]);
    // The first key is still the one stored; the other files are untouched.
    let stored = service.stored(&sandbox, "work");
    assert_eq!(stored["SecretAccessKey"], user.secret_access_key.as_str());
    assert_eq!(sandbox.read("other/credentials"), before);
    assert_eq!(sandbox.read("other/config"), "");
}

/// The states a killed `keys import` or `keys export` leaves, made by hand:
/// the next import or export finishes the move instead of refusing it.
#[test]
fn a_move_stopped_halfway_is_finished_by_the_next_one() {
    let moto = need!(moto());
    need!(have_tools());
    let (user, sandbox, service, before) = setup(moto);
    let config_before = sandbox.read(".aws/config");
    let keys_out = before.replace(
        &format!(
            "aws_access_key_id = {}\naws_secret_access_key = {}\n",
            user.access_key_id, user.secret_access_key
        ),
        "",
    );
    sandbox.run(&["keys", "import", "work"]).success();
    let config_marked = sandbox.read(".aws/config");
    // The pair stored, nothing else yet (an import killed after the store,
    // or an export killed before it deleted the entry).
    let stored_only = |sandbox: &Sandbox| {
        sandbox.write(".aws/credentials", &before);
        sandbox.write(".aws/config", &config_before);
    };
    stored_only(&sandbox);
    sandbox
        .run(&["keys", "import", "work"])
        .success()
        .stderr_has("stopped halfway")
        .keeps_secret(&[&user.secret_access_key]);
    assert_eq!(sandbox.read(".aws/credentials"), keys_out);
    assert_eq!(sandbox.read(".aws/config"), config_marked);
    stored_only(&sandbox);
    sandbox
        .run(&["keys", "export", "work"])
        .success()
        .stderr_has("deleted the copy a move stopped halfway left");
    assert_eq!(service.lookup(&sandbox, "work"), None);
    assert_eq!(sandbox.read(".aws/credentials"), before);

    // Stored and marked, the file not yet rewritten (an import killed while
    // it wrote the file, or an export killed before it took the marker out).
    sandbox.run(&["keys", "import", "work"]).success();
    let marked = |sandbox: &Sandbox| sandbox.write(".aws/credentials", &before);
    marked(&sandbox);
    sandbox
        .run(&["keys", "import", "work"])
        .success()
        .stderr_has("stopped halfway");
    assert_eq!(sandbox.read(".aws/credentials"), keys_out);
    marked(&sandbox);
    sandbox
        .run(&["keys", "export", "work"])
        .success()
        .stderr_has("stopped halfway");
    assert_eq!(sandbox.read(".aws/config"), config_before);
    assert_eq!(sandbox.read(".aws/credentials"), before);
    assert_eq!(service.lookup(&sandbox, "work"), None);
    // The key works from the file again.
    sandbox.run(&["123456", "work"]).success();
}

#[test]
fn rotate_writes_the_new_key_into_the_keyring() {
    let moto = need!(moto());
    need!(have_tools());
    let (user, sandbox, service) = imported(moto);
    let file = sandbox.read(".aws/credentials");
    let run = sandbox.run(&["rotate", "123456", "work"]);
    run.success()
        .stderr_has("into profile 'work' in the Secret Service keyring")
        .keeps_secret(&[&user.secret_access_key]);
    let keys = moto.access_keys(&user.name);
    assert_eq!(keys.len(), 1, "{keys:?}");
    let stored = service.stored(&sandbox, "work");
    assert_eq!(stored["AccessKeyId"], keys[0].0.as_str());
    assert_ne!(keys[0].0, user.access_key_id);
    // The files are untouched: the key was never in them.
    assert_eq!(sandbox.read(".aws/credentials"), file);
    // The new key signs.
    sandbox.run(&["654321", "work", "--force"]).success();
    assert!(!moto.requests_signed_by(&keys[0].0).is_empty());
}

#[test]
fn a_locked_keyring_gives_one_line_at_once() {
    let moto = need!(moto());
    need!(have_tools());
    let (user, mut sandbox, service) = imported(moto);
    service.lock(&sandbox);
    // No display: the unlock prompt cannot be shown.
    sandbox.set("DISPLAY", "");
    let started = Instant::now();
    let run = sandbox.run(&["123456", "work"]);
    run.failure(1)
        .stderr_has("is locked")
        .stderr_has("hint: unlock the keyring")
        .keeps_secret(&[&user.secret_access_key]);
    assert!(started.elapsed() < Duration::from_secs(10));
    assert!(moto.requests_signed_by(&user.access_key_id).is_empty());
    // Storing into the locked keyring: the same line, and nothing moved.
    let mut credentials = sandbox.read(".aws/credentials");
    credentials.push_str(
        "[spare]\naws_access_key_id = AKIASPAREKEY00000001\naws_secret_access_key = spare\n",
    );
    sandbox.write(".aws/credentials", &credentials);
    sandbox
        .run(&["keys", "import", "spare"])
        .failure(1)
        .stderr_has("is locked")
        .stderr_has("hint: unlock the keyring");
    assert_eq!(sandbox.read(".aws/credentials"), credentials);
}

#[test]
fn a_keyring_that_never_answers_ends_at_the_deadline() {
    need!(have_tools());
    let mut sandbox = Sandbox::new(None);
    sandbox.write(".aws/config", "[profile work]\nmfa_session_key = keyring\n");
    // A bus that takes the connection and says nothing.
    let socket = sandbox.path("silent");
    let listener = std::os::unix::net::UnixListener::bind(&socket).unwrap();
    let held = std::thread::spawn(move || {
        let (connection, _) = listener.accept().unwrap();
        std::thread::sleep(Duration::from_secs(5));
        drop(connection);
    });
    sandbox.set(
        "DBUS_SESSION_BUS_ADDRESS",
        &format!("unix:path={}", socket.display()),
    );
    sandbox.set("MFA_SESSION_KEYRING_TIMEOUT", "1");
    let started = Instant::now();
    sandbox
        .run(&["123456", "work"])
        .failure(1)
        .stderr_has("did not answer within 1s")
        .stderr_has("hint: it may be locked");
    let took = started.elapsed();
    assert!(took < Duration::from_secs(4), "{took:?}");
    held.join().unwrap();
}

#[test]
fn a_bus_without_a_secret_service_gives_one_line() {
    need!(have_tools());
    let mut sandbox = Sandbox::new(None);
    sandbox.write(".aws/config", "[profile work]\nmfa_session_key = keyring\n");
    // A session bus that starts no service on demand.
    let socket = sandbox.path("bus");
    sandbox.write(
        "bus.conf",
        &format!(
            "<!DOCTYPE busconfig PUBLIC \"-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN\" \
             \"http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd\">\n\
             <busconfig><type>session</type><listen>unix:path={}</listen><auth>EXTERNAL</auth>\
             <policy context=\"default\"><allow send_destination=\"*\" eavesdrop=\"true\"/>\
             <allow eavesdrop=\"true\"/><allow own=\"*\"/></policy></busconfig>\n",
            socket.display()
        ),
    );
    let mut bus = Command::new("dbus-daemon")
        .arg(format!(
            "--config-file={}",
            sandbox.path("bus.conf").display()
        ))
        .args(["--nofork", "--print-address=1"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut address = String::new();
    BufReader::new(bus.stdout.take().unwrap())
        .read_line(&mut address)
        .unwrap();
    sandbox.set("DBUS_SESSION_BUS_ADDRESS", address.trim());
    sandbox.set("MFA_SESSION_KEYRING_TIMEOUT", "5s");
    sandbox
        .run(&["123456", "work"])
        .failure(1)
        .stderr_has("no Secret Service runs on the D-Bus session bus")
        .stderr_has("hint: mfa-session talks to a Secret Service");
    let _ = bus.kill();
    let _ = bus.wait();
}

#[test]
fn the_keyring_timeout_is_a_duration_as_the_other_limits() {
    let mut sandbox = Sandbox::new(None);
    sandbox.write(".aws/config", "[profile work]\nmfa_session_key = keyring\n");
    sandbox.set("DBUS_SESSION_BUS_ADDRESS", "unix:path=/nonexistent/bus");
    for bad in ["0", "soon"] {
        sandbox.set("MFA_SESSION_KEYRING_TIMEOUT", bad);
        sandbox
            .run(&["123456", "work"])
            .failure(2)
            .stderr_has("MFA_SESSION_KEYRING_TIMEOUT: ")
            .stderr_has("hint: set it to a duration");
    }
    // 20s and an empty value are fine: the bus is what fails then.
    for good in ["20s", ""] {
        sandbox.set("MFA_SESSION_KEYRING_TIMEOUT", good);
        sandbox
            .run(&["123456", "work"])
            .failure(1)
            .stderr_has("cannot use the Secret Service keyring");
    }
}

#[test]
fn no_keyring_at_all_gives_one_line() {
    let sandbox = {
        let mut s = Sandbox::new(None);
        s.write(".aws/config", "[profile work]\nmfa_session_key = keyring\n");
        s.set("DBUS_SESSION_BUS_ADDRESS", "unix:path=/nonexistent/bus");
        s
    };
    sandbox
        .run(&["123456", "work"])
        .failure(1)
        .stderr_has("cannot use the Secret Service keyring")
        .stderr_has("hint: mfa-session talks to a Secret Service");
    sandbox
        .run(&["keys", "export", "work"])
        .failure(1)
        .stderr_has("cannot use the Secret Service keyring");
}
