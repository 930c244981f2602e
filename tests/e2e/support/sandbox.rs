//! A sandbox HOME with profile files, the binary run in it with a clean
//! environment, and what a run did.

use super::*;

/// What [`Sandbox::with_key_among_others`] puts before profile `work`.
pub const OTHER_PROFILES: &str = "# my keys\n[other]\naws_access_key_id = AKIAOTHERPROFILE0001\naws_secret_access_key = other\n\n";

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

    /// [`Sandbox::with_user`], with the user's first device as the
    /// profile's `mfa_serial` (so no device is listed).
    pub fn with_device(moto: &Moto, user: &User, profile: &str) -> Sandbox {
        let sandbox = Sandbox::with_user(moto, user, profile);
        sandbox.write(
            ".aws/config",
            &format!("[profile {profile}]\nmfa_serial = {}\n", user.serials[0]),
        );
        sandbox
    }

    /// Profile `work` with `user`'s key (and a region) below another
    /// profile and a comment, its device as `mfa_serial`: for the tests that
    /// change the key where it stands. Returns the credentials file's text.
    pub fn with_key_among_others(moto: &Moto, user: &User) -> (Sandbox, String) {
        let sandbox = Sandbox::new(Some(moto));
        let credentials = format!(
            "{OTHER_PROFILES}[work]\naws_access_key_id = {}\naws_secret_access_key = {}\nregion = eu-west-1\n",
            user.access_key_id, user.secret_access_key
        );
        sandbox.write(".aws/credentials", &credentials);
        sandbox.write(
            ".aws/config",
            &format!("[profile work]\nmfa_serial = {}\n", user.serials[0]),
        );
        (sandbox, credentials)
    }

    /// A file's text in the sandbox.
    pub fn read(&self, relative: &str) -> String {
        std::fs::read_to_string(self.path(relative)).unwrap()
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
        let mut cmd = Command::new(&*BIN);
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

    /// The binary started with `args`, its stdout and stderr piped.
    pub fn spawn(&self, args: &[&str]) -> Child {
        self.command(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run mfa-session")
    }

    /// Every run started at once, then all waited for; in order.
    pub fn run_at_once(&self, runs: &[Vec<&str>]) -> Vec<Run> {
        let children: Vec<_> = runs.iter().map(|args| self.spawn(args)).collect();
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
        let bin_dir = Path::new(&*BIN).parent().unwrap();
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
