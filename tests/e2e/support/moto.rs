//! moto, the local AWS endpoint: started once, its requests recorded, and
//! the IAM users and roles the tests create in it.

use super::*;

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

pub fn url_decode(text: &str) -> String {
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
