//! A scripted endpoint, for answers moto cannot give (AWS's error bodies,
//! hostile values), and the answers it sends.

use super::*;

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

/// `head` with its `Connection` header replaced by `connection`.
pub fn with_connection(head: &str, connection: &str) -> String {
    let mut out: String = head
        .trim_end()
        .lines()
        .filter(|l| !l.to_ascii_lowercase().starts_with("connection:"))
        .map(|l| format!("{l}\r\n"))
        .collect();
    out.push_str(&format!("Connection: {connection}\r\n\r\n"));
    out
}

/// Sends one request to `upstream` on a connection of its own and returns
/// the whole answer (moto closes each connection after one answer).
pub fn forward(upstream: &str, head: &str, body: &str) -> Option<Vec<u8>> {
    let mut server = TcpStream::connect(upstream).ok()?;
    server
        .write_all(with_connection(head, "close").as_bytes())
        .ok()?;
    server.write_all(body.as_bytes()).ok()?;
    let mut answer = Vec::new();
    server.read_to_end(&mut answer).ok()?;
    Some(answer)
}
