//! The test harness: a real local AWS endpoint (moto), a sandbox HOME with
//! profile files, the built binary run with a clean environment, and real
//! shells to evaluate what it prints.
//!
//! moto is started once per test binary, on a free loopback port, from the
//! virtual environment that `tests/run` creates (`target/e2e-venv`, or
//! `MFA_SESSION_TEST_VENV`). Its request recorder is on, so tests can see
//! every request: which key signed it, with which session token, and how many
//! were made.
//!
//! A tool that is missing fails the test when `CI` is set; elsewhere the test
//! says on stderr that it skipped and returns.

#![allow(dead_code)]

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use base64::Engine as _;

pub const BIN: &str = env!("CARGO_BIN_EXE_mfa-session");

/// Every variable the tool sets, in output order.
pub const VARS: [&str; 5] = [
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_SECURITY_TOKEN",
    "AWS_CREDENTIAL_EXPIRATION",
];

/// Skip (locally) or fail (in CI) when something the test needs is missing.
#[macro_export]
macro_rules! need {
    ($what:expr) => {
        match $what {
            Some(v) => v,
            None => return,
        }
    };
}

pub fn in_ci() -> bool {
    std::env::var_os("CI").is_some_and(|v| !v.is_empty() && v != "false")
}

/// Reports a missing tool: a failure in CI, a visible skip elsewhere.
pub fn missing(what: &str) -> Option<std::convert::Infallible> {
    if in_ci() {
        panic!("{what} is missing: run the suite through tests/run, which installs it");
    }
    eprintln!("SKIPPED: {what} is missing (run tests/run to install it)");
    None
}

/// Where `name` is on PATH, if anywhere.
pub fn find_on_path(name: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join(name))
            .find(|p| p.is_file())
    })
}

/// A program from PATH, or a skip/failure.
pub fn tool(name: &str) -> Option<PathBuf> {
    match find_on_path(name) {
        Some(path) => Some(path),
        None => {
            missing(name)?;
            None
        }
    }
}

pub fn venv() -> PathBuf {
    match std::env::var_os("MFA_SESSION_TEST_VENV") {
        Some(dir) => PathBuf::from(dir),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("target/e2e-venv"),
    }
}

/// The AWS CLI from the test virtual environment.
pub fn aws_cli() -> Option<PathBuf> {
    let path = venv().join("bin/aws");
    if path.is_file() {
        Some(path)
    } else {
        missing(&format!("the AWS CLI ({})", path.display()))?;
        None
    }
}

// ---------------------------------------------------------------------------
// moto

pub struct Moto {
    pub url: String,
    port: u16,
}

static MOTO: OnceLock<Option<Moto>> = OnceLock::new();

/// The shared moto server, started on first use.
pub fn moto() -> Option<&'static Moto> {
    let moto = MOTO.get_or_init(|| {
        let server = venv().join("bin/moto_server");
        if !server.is_file() {
            return None;
        }
        Some(Moto::start(&server))
    });
    match moto {
        Some(m) => Some(m),
        None => {
            missing(&format!(
                "moto_server ({})",
                venv().join("bin/moto_server").display()
            ))?;
            None
        }
    }
}

impl Moto {
    fn start(server: &Path) -> Moto {
        let port = free_port();
        let log = std::env::temp_dir().join(format!("mfa-session-moto-{}.log", std::process::id()));
        let recording =
            std::env::temp_dir().join(format!("mfa-session-moto-{}.jsonl", std::process::id()));
        let server = server.to_path_buf();
        let (tx, rx) = std::sync::mpsc::channel();
        // The server is spawned from a thread that never ends: PR_SET_PDEATHSIG
        // fires when the spawning *thread* exits, and this way that is when
        // the whole test process exits, so no moto outlives the tests.
        std::thread::spawn(move || {
            let mut cmd = Command::new(&server);
            cmd.args(["-H", "127.0.0.1", "-p", &port.to_string()])
                .env("MOTO_RECORDER_FILEPATH", &recording)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(std::fs::File::create(&log).expect("moto log"));
            // SAFETY: prctl is async-signal-safe and touches nothing else.
            unsafe {
                cmd.pre_exec(|| {
                    libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM);
                    Ok(())
                });
            }
            let child = cmd.spawn();
            let ok = child.is_ok();
            tx.send(child.map(|_| ()).map_err(|e| e.to_string())).ok();
            if ok {
                loop {
                    std::thread::park();
                }
            }
        });
        rx.recv().unwrap().expect("start moto_server");
        let moto = Moto {
            url: format!("http://127.0.0.1:{port}"),
            port,
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        while moto.http("GET", "/moto-api/", "").is_err() {
            assert!(
                Instant::now() < deadline,
                "moto_server did not start on port {port}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        let (status, _) = moto
            .http("POST", "/moto-api/recorder/start-recording", "")
            .unwrap();
        assert_eq!(status, 200, "moto recorder");
        moto
    }

    /// A plain HTTP/1.1 request, read to the end.
    pub fn http(&self, method: &str, path: &str, body: &str) -> std::io::Result<(u16, String)> {
        let mut stream = TcpStream::connect(("127.0.0.1", self.port))?;
        stream.set_read_timeout(Some(Duration::from_secs(30)))?;
        write!(
            stream,
            "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        )?;
        let mut response = Vec::new();
        stream.read_to_end(&mut response)?;
        let text = String::from_utf8_lossy(&response).into_owned();
        let status = text
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| std::io::Error::other("no status line"))?;
        let body = text
            .split_once("\r\n\r\n")
            .map(|(_, b)| b.to_owned())
            .unwrap_or_default();
        Ok((status, body))
    }

    /// Every request moto has seen since it started.
    pub fn requests(&self) -> Vec<Request> {
        let (status, body) = self
            .http("GET", "/moto-api/recorder/download-recording", "")
            .expect("download recording");
        assert_eq!(status, 200);
        body.lines()
            .filter(|l| l.starts_with('{'))
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .map(Request::from_json)
            .collect()
    }

    /// The requests signed with `access_key_id`.
    pub fn requests_signed_by(&self, access_key_id: &str) -> Vec<Request> {
        self.requests()
            .into_iter()
            .filter(|r| r.access_key_id.as_deref() == Some(access_key_id))
            .collect()
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

/// One recorded request.
#[derive(Clone, Debug)]
pub struct Request {
    pub access_key_id: Option<String>,
    /// The region of the signature's credential scope.
    pub signing_region: Option<String>,
    pub security_token: Option<String>,
    pub params: HashMap<String, String>,
}

impl Request {
    fn from_json(v: serde_json::Value) -> Request {
        let header = |name: &str| -> Option<String> {
            v["headers"].as_object().and_then(|h| {
                h.iter()
                    .find(|(k, _)| k.eq_ignore_ascii_case(name))
                    .and_then(|(_, v)| v.as_str().map(str::to_owned))
            })
        };
        let scope = |n: usize| {
            header("Authorization").and_then(|a| {
                let start = a.find("Credential=")? + "Credential=".len();
                a[start..].split('/').nth(n).map(str::to_owned)
            })
        };
        let (access_key_id, signing_region) = (scope(0), scope(2));
        let raw_body = v["body"].as_str().unwrap_or_default();
        let body = if v["body_encoded"].as_bool() == Some(true) {
            base64::engine::general_purpose::STANDARD
                .decode(raw_body)
                .map(|b| String::from_utf8_lossy(&b).into_owned())
                .unwrap_or_default()
        } else {
            raw_body.to_owned()
        };
        let params = body
            .split('&')
            .filter_map(|kv| kv.split_once('='))
            .map(|(k, v)| (url_decode(k), url_decode(v)))
            .collect();
        Request {
            access_key_id,
            signing_region,
            security_token: header("X-Amz-Security-Token"),
            params,
        }
    }

    pub fn action(&self) -> &str {
        self.params.get("Action").map(String::as_str).unwrap_or("")
    }
}

fn url_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("");
                match u8::from_str_radix(hex, 16) {
                    Ok(b) => {
                        out.push(b);
                        i += 2;
                    }
                    Err(_) => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

// ---------------------------------------------------------------------------
// IAM users in moto

/// An IAM user created for one test: unique name, access key, MFA devices.
pub struct User {
    pub name: String,
    pub access_key_id: String,
    pub secret_access_key: String,
    pub serials: Vec<String>,
}

static COUNTER: AtomicUsize = AtomicUsize::new(0);

pub fn unique(prefix: &str) -> String {
    format!(
        "{prefix}{}x{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::SeqCst)
    )
}

/// Runs one setup call of the admin IAM client to its end.
fn block_on<F: std::future::Future>(work: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(work)
}

impl Moto {
    fn admin_iam(&self) -> aws_sdk_iam::Client {
        let config = aws_sdk_iam::Config::builder()
            .behavior_version(aws_sdk_iam::config::BehaviorVersion::latest())
            .region(aws_sdk_iam::config::Region::new("us-east-1"))
            .endpoint_url(&self.url)
            .credentials_provider(aws_sdk_iam::config::Credentials::new(
                "AKIAADMINEXAMPLE0000",
                "admin",
                None,
                None,
                "test",
            ))
            .build();
        aws_sdk_iam::Client::from_conf(config)
    }

    /// Creates a user with `devices` enabled virtual MFA devices and a key.
    pub fn user(&self, devices: usize) -> User {
        let name = unique("user");
        let iam = self.admin_iam();
        block_on(async {
            iam.create_user()
                .user_name(&name)
                .send()
                .await
                .expect("create user");
            let mut serials = Vec::new();
            for i in 0..devices {
                let device = iam
                    .create_virtual_mfa_device()
                    .virtual_mfa_device_name(format!("{name}-{i}"))
                    .send()
                    .await
                    .expect("create device");
                let serial = device
                    .virtual_mfa_device()
                    .unwrap()
                    .serial_number()
                    .to_owned();
                iam.enable_mfa_device()
                    .user_name(&name)
                    .serial_number(&serial)
                    .authentication_code1("123456")
                    .authentication_code2("654321")
                    .send()
                    .await
                    .expect("enable device");
                serials.push(serial);
            }
            let key = iam
                .create_access_key()
                .user_name(&name)
                .send()
                .await
                .expect("create key");
            let key = key.access_key().unwrap();
            User {
                name: name.clone(),
                access_key_id: key.access_key_id().to_owned(),
                secret_access_key: key.secret_access_key().to_owned(),
                serials,
            }
        })
    }

    /// The ids of `user`'s access keys, and whether each is active.
    pub fn access_keys(&self, user: &str) -> Vec<(String, bool)> {
        let iam = self.admin_iam();
        block_on(async {
            let keys = iam
                .list_access_keys()
                .user_name(user)
                .send()
                .await
                .expect("list keys");
            keys.access_key_metadata()
                .iter()
                .map(|k| {
                    (
                        k.access_key_id().unwrap_or_default().to_owned(),
                        k.status().is_some_and(|s| s.as_str() == "Active"),
                    )
                })
                .collect()
        })
    }

    /// A second access key for `user`, active or not; returns its id.
    pub fn second_key(&self, user: &str, active: bool) -> String {
        let iam = self.admin_iam();
        block_on(async {
            let key = iam
                .create_access_key()
                .user_name(user)
                .send()
                .await
                .expect("create key");
            let id = key.access_key().unwrap().access_key_id().to_owned();
            if !active {
                iam.update_access_key()
                    .user_name(user)
                    .access_key_id(&id)
                    .status(aws_sdk_iam::types::StatusType::Inactive)
                    .send()
                    .await
                    .expect("deactivate key");
            }
            id
        })
    }

    /// Creates a role that users of the account may assume with MFA (moto
    /// does not evaluate the trust policy); returns its ARN.
    pub fn role(&self, prefix: &str) -> String {
        let name = unique(prefix);
        let trust = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::123456789012:root"},"Action":"sts:AssumeRole","Condition":{"Bool":{"aws:MultiFactorAuthPresent":"true"}}}]}"#;
        let iam = self.admin_iam();
        block_on(async {
            let role = iam
                .create_role()
                .role_name(&name)
                .assume_role_policy_document(trust)
                .max_session_duration(43200)
                .send()
                .await
                .expect("create role");
            role.role().unwrap().arn().to_owned()
        })
    }
}

// ---------------------------------------------------------------------------
// A sandbox HOME and runs of the binary

pub struct Sandbox {
    pub dir: tempfile::TempDir,
    pub env: Vec<(String, String)>,
}

impl Sandbox {
    /// An empty HOME, pointing at moto when it is given.
    pub fn new(moto: Option<&Moto>) -> Sandbox {
        let dir = tempfile::tempdir().unwrap();
        let mut env = vec![
            ("HOME".to_owned(), dir.path().display().to_string()),
            (
                "PATH".to_owned(),
                std::env::var("PATH").unwrap_or_else(|_| "/usr/bin:/bin".to_owned()),
            ),
            ("TZ".to_owned(), "UTC".to_owned()),
        ];
        if let Some(moto) = moto {
            env.push(("AWS_ENDPOINT_URL".to_owned(), moto.url.clone()));
        }
        Sandbox { dir, env }
    }

    /// A sandbox whose profile `profile` holds `user`'s key.
    pub fn with_user(moto: &Moto, user: &User, profile: &str) -> Sandbox {
        let sandbox = Sandbox::new(Some(moto));
        sandbox.write(
            ".aws/credentials",
            &format!(
                "[{profile}]\naws_access_key_id = {}\naws_secret_access_key = {}\n",
                user.access_key_id, user.secret_access_key
            ),
        );
        sandbox
    }

    pub fn path(&self, relative: &str) -> PathBuf {
        self.dir.path().join(relative)
    }

    pub fn write(&self, relative: &str, text: &str) {
        let path = self.path(relative);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }

    pub fn set(&mut self, name: &str, value: &str) {
        self.env.retain(|(k, _)| k != name);
        self.env.push((name.to_owned(), value.to_owned()));
    }

    /// The binary with only the sandbox's environment, detached from any
    /// controlling terminal (so "no terminal" is the same everywhere).
    pub fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(BIN);
        cmd.args(args).env_clear().current_dir(self.dir.path());
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        cmd.stdin(Stdio::null());
        // SAFETY: setsid is async-signal-safe.
        unsafe {
            cmd.pre_exec(|| {
                libc::setsid();
                Ok(())
            });
        }
        cmd
    }

    pub fn run(&self, args: &[&str]) -> Run {
        Run::from(self.command(args).output().expect("run mfa-session"))
    }

    /// Every run started at once, then all waited for; in order.
    pub fn run_at_once(&self, runs: &[Vec<&str>]) -> Vec<Run> {
        let children: Vec<_> = runs
            .iter()
            .map(|args| {
                self.command(args)
                    .stdout(Stdio::piped())
                    .stderr(Stdio::piped())
                    .spawn()
                    .expect("run mfa-session")
            })
            .collect();
        children
            .into_iter()
            .map(|c| Run::from(c.wait_with_output().expect("wait for mfa-session")))
            .collect()
    }

    /// The files in the sandbox's cache directory whose names start with
    /// `prefix`, sorted.
    pub fn cache_files(&self, prefix: &str) -> Vec<PathBuf> {
        let mut files: Vec<_> = std::fs::read_dir(self.path(".cache/mfa-session"))
            .map(|d| d.filter_map(|e| e.ok()).map(|e| e.path()).collect())
            .unwrap_or_default();
        // Sessions, devices and records; not the lock files beside them.
        files.retain(|p| {
            let name = p.file_name().unwrap().to_str().unwrap();
            name.starts_with(prefix) && name.ends_with(".json")
        });
        files.sort();
        files
    }

    /// `program` (a shell, say) with the sandbox's environment and the
    /// binary first on PATH.
    pub fn shell_command(&self, program: &[&str]) -> Command {
        let mut cmd = Command::new(program[0]);
        cmd.args(&program[1..]).env_clear();
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        let bin_dir = Path::new(BIN).parent().unwrap();
        let path = format!(
            "{}:{}",
            bin_dir.display(),
            std::env::var("PATH").unwrap_or_default()
        );
        cmd.env("PATH", path).current_dir(self.dir.path());
        cmd
    }
}

/// What one run of the binary did.
#[derive(Debug)]
pub struct Run {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl From<Output> for Run {
    fn from(o: Output) -> Run {
        Run {
            code: o.status.code(),
            stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
        }
    }
}

impl Run {
    #[track_caller]
    pub fn success(&self) -> &Run {
        assert_eq!(self.code, Some(0), "expected success: {self:#?}");
        self
    }

    /// A failure as the brief defines it: the exit code, empty stdout, and
    /// one `mfa-session: ` line (plus perhaps one `hint: ` line) on stderr.
    #[track_caller]
    pub fn failure(&self, code: i32) -> &Run {
        assert_eq!(self.code, Some(code), "exit code: {self:#?}");
        assert_eq!(
            self.stdout, "",
            "stdout must stay empty on failure: {self:#?}"
        );
        let lines: Vec<&str> = self.stderr.lines().collect();
        assert!(
            !lines.is_empty() && lines[0].starts_with("mfa-session: ") && lines.len() <= 2,
            "stderr must be one error line and at most one hint: {self:#?}"
        );
        if lines.len() == 2 {
            assert!(
                lines[1].starts_with("hint: "),
                "second line must be a hint: {self:#?}"
            );
        }
        self
    }

    #[track_caller]
    pub fn stderr_has(&self, text: &str) -> &Run {
        assert!(
            self.stderr.contains(text),
            "stderr lacks {text:?}: {self:#?}"
        );
        self
    }

    /// Fails if any of `secrets` appears on stderr.
    #[track_caller]
    pub fn keeps_secret(&self, secrets: &[&str]) -> &Run {
        for secret in secrets {
            assert!(
                !self.stderr.contains(secret),
                "stderr shows a secret: {self:#?}"
            );
        }
        self
    }
}

/// The AWS CLI with only the sandbox's environment plus `env`, in region
/// us-east-1, detached from any terminal.
pub fn aws_cli_command(aws: &Path, sandbox: &Sandbox, env: &[(&str, &str)]) -> Command {
    let mut cmd = Command::new(aws);
    cmd.env_clear().env("AWS_DEFAULT_REGION", "us-east-1");
    for (k, v) in &sandbox.env {
        cmd.env(k, v);
    }
    for (k, v) in env {
        cmd.env(k, v);
    }
    // SAFETY: setsid is async-signal-safe.
    unsafe {
        cmd.pre_exec(|| {
            libc::setsid();
            Ok(())
        });
    }
    cmd
}

/// The AWS CLI as a real client: the sandbox's environment plus `env`, no
/// terminal, calling `iam list-mfa-devices` for a made-up user name (so that
/// its request can be told apart in moto's recording) with `args` after it.
/// Returns the CLI's output and the request it made, if it reached moto.
pub fn aws_cli_request(
    moto: &Moto,
    aws: &Path,
    sandbox: &Sandbox,
    env: &[(&str, &str)],
    args: &[&str],
) -> (Output, Option<Request>) {
    let marker = unique("cli");
    let mut cmd = aws_cli_command(aws, sandbox, env);
    cmd.args(["iam", "list-mfa-devices", "--user-name", &marker])
        .args(args);
    let output = cmd.output().expect("run the AWS CLI");
    let request = moto
        .requests()
        .into_iter()
        .find(|r| r.params.get("UserName") == Some(&marker));
    (output, request)
}

// ---------------------------------------------------------------------------
// Real shells

/// The values of `names` after sourcing `script` in a POSIX shell
/// (`shell` is the command line: `["bash"]`, `["dash"]`, `["bash", "--posix"]`),
/// read back byte for byte; `None` for a variable that is not set. `prelude`
/// runs first (to set stale values).
pub fn source_posix(
    shell: &[&str],
    prelude: &str,
    script: &str,
    names: &[&str],
) -> Vec<Option<String>> {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("script.sh");
    std::fs::write(&file, script).unwrap();
    let mut program = String::from(prelude);
    program.push_str("\n. \"$1\" || exit 99\n");
    for name in names {
        program.push_str(&format!(
            "if [ \"${{{name}+x}}\" ]; then printf 'set:%s\\000' \"${name}\"; else printf 'unset\\000'; fi\n"
        ));
    }
    let output = Command::new(shell[0])
        .args(&shell[1..])
        .arg("-c")
        .arg(&program)
        .arg("sh")
        .arg(&file)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .output()
        .expect("run shell");
    assert!(
        output.status.success(),
        "{shell:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    parse_values(&output.stdout, names.len())
}

/// The same for fish: `script` loaded with `source`.
pub fn source_fish(prelude: &str, script: &str, names: &[&str]) -> Vec<Option<String>> {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("script.fish");
    std::fs::write(&file, script).unwrap();
    let mut program = String::from(prelude);
    program.push_str("\nsource $argv[1]; or exit 99\n");
    for name in names {
        program.push_str(&format!(
            "if set -q {name}; printf 'set:%s' \"${name}\"; printf '\\x00'; else; printf 'unset'; printf '\\x00'; end\n"
        ));
    }
    let output = Command::new("fish")
        .args(["--no-config", "-c", &program])
        .arg(&file)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .output()
        .expect("run fish");
    assert!(
        output.status.success(),
        "fish failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    parse_values(&output.stdout, names.len())
}

fn parse_values(stdout: &[u8], count: usize) -> Vec<Option<String>> {
    let text = String::from_utf8(stdout.to_vec()).expect("shell printed UTF-8");
    let mut values: Vec<Option<String>> = text
        .split('\0')
        .map(|item| item.strip_prefix("set:").map(str::to_owned))
        .collect();
    assert_eq!(values.pop(), Some(None), "output ends with NUL: {text:?}");
    assert_eq!(values.len(), count, "one value per name: {text:?}");
    values
}

// ---------------------------------------------------------------------------
// A scripted endpoint, for the answers moto cannot give

/// What the fake endpoint does with one request.
pub enum Reply {
    /// An HTTP answer.
    Answer(u16, String),
    /// Headers that promise more body than is sent, then the connection closes.
    Truncated(String),
    /// Accept, read the request, never answer.
    Hang,
    /// An HTTP answer with this Date header (RFC 7231 form).
    Dated(u16, String, String),
}

/// One request the fake endpoint received.
#[derive(Clone, Debug)]
pub struct FakeRequest {
    pub params: HashMap<String, String>,
    /// The access key id and region of the request's signature.
    pub access_key_id: Option<String>,
    pub signing_region: Option<String>,
}

impl FakeRequest {
    pub fn action(&self) -> &str {
        self.params.get("Action").map(String::as_str).unwrap_or("")
    }
}

type Handler = dyn Fn(&FakeRequest, usize) -> Reply + Send + Sync;

/// An HTTP server on a loopback port that answers every request by calling
/// `handler(request, number of earlier requests with the same Action)`.
pub struct FakeEndpoint {
    pub url: String,
    pub requests: std::sync::Arc<std::sync::Mutex<Vec<FakeRequest>>>,
}

impl FakeEndpoint {
    pub fn start(
        handler: impl Fn(&FakeRequest, usize) -> Reply + Send + Sync + 'static,
    ) -> FakeEndpoint {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let requests = std::sync::Arc::new(std::sync::Mutex::new(Vec::<FakeRequest>::new()));
        let handler: std::sync::Arc<Handler> = std::sync::Arc::new(handler);
        let seen = requests.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let handler = handler.clone();
                let seen = seen.clone();
                std::thread::spawn(move || serve(stream, &*handler, &seen));
            }
        });
        FakeEndpoint { url, requests }
    }

    pub fn actions(&self) -> Vec<String> {
        self.requests
            .lock()
            .unwrap()
            .iter()
            .map(|r| r.action().to_owned())
            .collect()
    }
}

/// One HTTP request read from `stream`: its head (with the blank line), its
/// body, and what it asks for.
pub fn read_request(stream: &mut TcpStream) -> Option<(String, String, FakeRequest)> {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
    let mut data = Vec::new();
    let mut buf = [0u8; 4096];
    let (head_end, length) = loop {
        let Ok(n) = stream.read(&mut buf) else {
            return None;
        };
        if n == 0 {
            return None;
        }
        data.extend_from_slice(&buf[..n]);
        if let Some(end) = data.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&data[..end]).to_lowercase();
            let length = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .and_then(|v| v.trim().parse::<usize>().ok())
                .unwrap_or(0);
            break (end + 4, length);
        }
    };
    while data.len() < head_end + length {
        let Ok(n) = stream.read(&mut buf) else {
            return None;
        };
        if n == 0 {
            break;
        }
        data.extend_from_slice(&buf[..n]);
    }
    let body = String::from_utf8_lossy(&data[head_end..]).into_owned();
    let head = String::from_utf8_lossy(&data[..head_end]).into_owned();
    let scope = |n: usize| {
        let start = head.find("Credential=")? + "Credential=".len();
        head[start..].split('/').nth(n).map(str::to_owned)
    };
    let request = FakeRequest {
        access_key_id: scope(0),
        signing_region: scope(2),
        params: body
            .split('&')
            .filter_map(|kv| kv.split_once('='))
            .map(|(k, v)| (url_decode(k), url_decode(v)))
            .collect(),
    };
    Some((head, body, request))
}

fn serve(mut stream: TcpStream, handler: &Handler, seen: &std::sync::Mutex<Vec<FakeRequest>>) {
    let Some((_, _, request)) = read_request(&mut stream) else {
        return;
    };
    let earlier = {
        let mut seen = seen.lock().unwrap();
        let earlier = seen
            .iter()
            .filter(|r| r.action() == request.action())
            .count();
        seen.push(request.clone());
        earlier
    };
    let reply = match handler(&request, earlier) {
        Reply::Answer(status, body) => format!(
            "HTTP/1.1 {status} X\r\nContent-Type: text/xml\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        ),
        Reply::Truncated(body) => format!(
            "HTTP/1.1 200 OK\r\nContent-Type: text/xml\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len() + 500
        ),
        Reply::Dated(status, body, date) => format!(
            "HTTP/1.1 {status} X\r\nDate: {date}\r\nContent-Type: text/xml\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        ),
        Reply::Hang => {
            std::thread::sleep(Duration::from_secs(60));
            return;
        }
    };
    let _ = stream.write_all(reply.as_bytes());
}

/// An error body as STS and IAM send it.
pub fn aws_error(code: &str, message: &str) -> String {
    format!(
        "<ErrorResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\"><Error><Type>Sender</Type>\
         <Code>{code}</Code><Message>{message}</Message></Error><RequestId>r</RequestId></ErrorResponse>"
    )
}

pub const FAKE_SESSION_KEY: &str = "ASIAFAKEENDPOINT0001";
pub const FAKE_SESSION_SECRET: &str = "fakeSecretFromTheFakeEndpoint/0001";
pub const FAKE_SESSION_TOKEN: &str = "FakeSessionTokenFromTheFakeEndpoint+0001=";

/// A GetSessionToken answer with the fake session, valid for 12 hours.
pub fn session_answer() -> String {
    let expiration = jiff::Timestamp::now() + jiff::SignedDuration::from_hours(12);
    format!(
        "<GetSessionTokenResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\"><GetSessionTokenResult><Credentials>\
         <SessionToken>{FAKE_SESSION_TOKEN}</SessionToken><SecretAccessKey>{FAKE_SESSION_SECRET}</SecretAccessKey>\
         <Expiration>{}</Expiration><AccessKeyId>{FAKE_SESSION_KEY}</AccessKeyId></Credentials></GetSessionTokenResult>\
         <ResponseMetadata><RequestId>r</RequestId></ResponseMetadata></GetSessionTokenResponse>",
        expiration.strftime("%Y-%m-%dT%H:%M:%SZ")
    )
}

/// A ListMFADevices answer with `serials`.
pub fn devices_answer(serials: &[&str]) -> String {
    let members: String = serials
        .iter()
        .map(|s| {
            format!(
                "<member><UserName>alice</UserName><SerialNumber>{s}</SerialNumber><EnableDate>2024-01-01T00:00:00Z</EnableDate></member>"
            )
        })
        .collect();
    format!(
        "<ListMFADevicesResponse xmlns=\"https://iam.amazonaws.com/doc/2010-05-08/\"><ListMFADevicesResult>\
         <IsTruncated>false</IsTruncated><MFADevices>{members}</MFADevices></ListMFADevicesResult>\
         <ResponseMetadata><RequestId>r</RequestId></ResponseMetadata></ListMFADevicesResponse>"
    )
}

/// A sandbox with profile `work` holding a made-up long-term key, pointed at `url`.
pub fn fake_sandbox(url: &str) -> Sandbox {
    let mut sandbox = Sandbox::new(None);
    sandbox.set("AWS_ENDPOINT_URL", url);
    sandbox.write(
        ".aws/credentials",
        "[work]\naws_access_key_id = AKIALONGTERMFAKE0001\naws_secret_access_key = LongTermSecretThatMustNeverLeak\n",
    );
    sandbox
}

/// Secrets a failure must never show.
pub const FAKE_SECRETS: [&str; 4] = [
    "LongTermSecretThatMustNeverLeak",
    FAKE_SESSION_SECRET,
    FAKE_SESSION_TOKEN,
    "864209",
];
