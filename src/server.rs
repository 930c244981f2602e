//! A credentials endpoint on loopback, in the format of the ECS container
//! credentials provider, which every AWS SDK and the AWS CLI read with no
//! configuration: `AWS_CONTAINER_CREDENTIALS_FULL_URI` and
//! `AWS_CONTAINER_AUTHORIZATION_TOKEN`.
//!
//! Long jobs on roles need it: a role session on an MFA session lasts an
//! hour at most, and a process handed fixed keys dies with ExpiredToken. A
//! client of this endpoint asks again before the credentials run out, and
//! each answer comes from the cache or a refresh (the role assumed again
//! from the cached MFA session, with no code).
//!
//! Only 127.0.0.1 is listened on. Every request must carry the token, a
//! random 256-bit value made per run, compared in constant time; one
//! without it gets 403 and nothing else. Nothing secret is ever logged.
//! Every local user can connect, though: connections are capped, a request
//! has one deadline, and nothing a client does can stall or end the server
//! (see [`Endpoint::serve`]).

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::{Duration, Instant};

use anyhow::Result;
use serde::Serialize;

use crate::error::Failure;
use crate::session::Session;

/// The path the credentials are served at.
pub const PATH: &str = "/mfa-session/credentials";

/// The largest request head read.
const MAX_HEAD: usize = 16 * 1024;

/// A listening endpoint and the token its clients must send.
pub struct Endpoint {
    listener: TcpListener,
    pub url: String,
    pub token: String,
}

impl Endpoint {
    /// Listens on a free port of 127.0.0.1.
    pub fn open() -> Result<Endpoint> {
        let listener = TcpListener::bind(("127.0.0.1", 0)).map_err(|e| {
            Failure::new(format!(
                "cannot listen on 127.0.0.1: {}",
                crate::error::io_reason(&e)
            ))
        })?;
        let port = listener.local_addr()?.port();
        Ok(Endpoint {
            listener,
            url: format!("http://127.0.0.1:{port}{PATH}"),
            token: token()?,
        })
    }

    /// Serves until the process ends: each connection on a thread of its
    /// own, answered by `credentials` (which refreshes what needs it).
    ///
    /// Any local user can connect before the token is checked, so nothing a
    /// client does may hold the server: at most [`MAX_CONNECTIONS`] at once
    /// (a new one pushes out the oldest that has not sent its request yet),
    /// one deadline for a whole request, and a thread that cannot be started
    /// or a failed accept costs that connection only, never the process.
    pub fn serve<F>(&self, credentials: F) -> !
    where
        F: Fn() -> Result<Served> + Sync,
    {
        let waiting = Waiting::default();
        std::thread::scope(|scope| {
            loop {
                let stream = match self.listener.accept() {
                    Ok((stream, _)) => stream,
                    Err(_) => {
                        // Out of descriptors, say: let threads finish.
                        std::thread::sleep(ACCEPT_BACKOFF);
                        continue;
                    }
                };
                let Some(slot) = waiting.admit(&stream) else {
                    continue;
                };
                let credentials = &credentials;
                let token = self.token.as_str();
                let waiting = &waiting;
                let started = std::thread::Builder::new().spawn_scoped(scope, move || {
                    answer(stream, token, credentials, waiting, slot)
                });
                if started.is_err() {
                    // The closure (and the connection in it) is dropped.
                    waiting.release(slot);
                    std::thread::sleep(ACCEPT_BACKOFF);
                }
            }
        });
        // The loop never ends; the process does, with the child or a signal.
        #[allow(unreachable_code)]
        std::process::exit(1)
    }
}

/// How many connections are served at once.
pub const MAX_CONNECTIONS: usize = 64;

/// How long a client has to send its whole request, and the endpoint to
/// write its answer.
const DEADLINE: Duration = Duration::from_secs(5);

/// The pause after an accept or a thread start that failed.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(50);

/// The connections being served, and which of them have not sent their
/// request yet (oldest first), so that one can be pushed out.
#[derive(Default)]
struct Waiting {
    state: std::sync::Mutex<Connections>,
}

#[derive(Default)]
struct Connections {
    live: usize,
    next: u64,
    unsent: std::collections::VecDeque<(u64, TcpStream)>,
}

impl Waiting {
    /// A slot for `stream`, making room when all are taken; None when every
    /// connection is past its request (the new one is dropped).
    fn admit(&self, stream: &TcpStream) -> Option<u64> {
        let mut state = self.state.lock().ok()?;
        if state.live >= MAX_CONNECTIONS {
            let (_, oldest) = state.unsent.pop_front()?;
            let _ = oldest.shutdown(std::net::Shutdown::Both);
        }
        let id = state.next;
        state.next += 1;
        state.live += 1;
        if let Ok(handle) = stream.try_clone() {
            state.unsent.push_back((id, handle));
        }
        Some(id)
    }

    /// The request of `slot` is in: it can no longer be pushed out.
    fn sent(&self, slot: u64) {
        if let Ok(mut state) = self.state.lock() {
            state.unsent.retain(|(id, _)| *id != slot);
        }
    }

    fn release(&self, slot: u64) {
        if let Ok(mut state) = self.state.lock() {
            state.unsent.retain(|(id, _)| *id != slot);
            state.live = state.live.saturating_sub(1);
        }
    }
}

/// What the endpoint hands out.
pub struct Served {
    pub session: Session,
    pub account_id: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct Answer<'a> {
    access_key_id: &'a str,
    secret_access_key: &'a str,
    token: &'a str,
    expiration: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    account_id: Option<&'a str>,
}

fn answer(
    stream: TcpStream,
    token: &str,
    credentials: &(dyn Fn() -> Result<Served> + Sync),
    waiting: &Waiting,
    slot: u64,
) {
    respond(stream, token, credentials, waiting, slot);
    waiting.release(slot);
}

fn respond(
    mut stream: TcpStream,
    token: &str,
    credentials: &(dyn Fn() -> Result<Served> + Sync),
    waiting: &Waiting,
    slot: u64,
) {
    let Some(head) = read_head(&mut stream, Instant::now() + DEADLINE) else {
        return;
    };
    waiting.sent(slot);
    let _ = stream.set_write_timeout(Some(DEADLINE));
    let mut lines = head.split("\r\n");
    let request_line = lines.next().unwrap_or_default();
    let mut parts = request_line.split(' ');
    let (method, path) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    let authorization = lines
        .filter_map(|l| l.split_once(':'))
        .find(|(name, _)| name.trim().eq_ignore_ascii_case("authorization"))
        .map(|(_, value)| value.trim());
    let mut reply = |status: &str, body: String| {
        let _ = write!(
            stream,
            "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
    };
    if !authorization.is_some_and(|given| same(given.as_bytes(), token.as_bytes())) {
        return reply(
            "403 Forbidden",
            error_body(
                "AccessDenied",
                "the authorization token is missing or wrong",
            ),
        );
    }
    if method != "GET" || path.split('?').next() != Some(PATH) {
        return reply("404 Not Found", error_body("NotFound", "no such resource"));
    }
    match credentials() {
        Ok(served) => {
            let s = &served.session;
            let body = serde_json::to_string(&Answer {
                access_key_id: &s.access_key_id,
                secret_access_key: &s.secret_access_key,
                token: &s.session_token,
                expiration: s.expiration_rfc3339(),
                account_id: served.account_id.as_deref(),
            })
            .unwrap_or_default();
            reply("200 OK", body);
        }
        Err(err) => {
            // The client sees why; the error never holds a secret.
            let report = crate::error::Report::new(&err);
            reply(
                "500 Internal Server Error",
                error_body("CredentialsUnavailable", &report.line),
            );
        }
    }
}

fn error_body(code: &str, message: &str) -> String {
    serde_json::json!({ "code": code, "message": message }).to_string()
}

/// The request's head, if the whole of it comes before `deadline` (a
/// client that sends a byte now and then gets no more time for it).
fn read_head(stream: &mut TcpStream, deadline: Instant) -> Option<String> {
    let mut data = Vec::new();
    let mut buf = [0u8; 2048];
    while !data.windows(4).any(|w| w == b"\r\n\r\n") {
        let left = deadline.checked_duration_since(Instant::now())?;
        if left.is_zero() {
            return None;
        }
        stream.set_read_timeout(Some(left)).ok()?;
        let n = stream.read(&mut buf).ok()?;
        if n == 0 || data.len() + n > MAX_HEAD {
            return None;
        }
        data.extend_from_slice(&buf[..n]);
    }
    String::from_utf8(data).ok()
}

/// Equal bytes, compared in time that depends only on the lengths.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// 32 random bytes from the operating system, in hex.
fn token() -> Result<String> {
    let mut bytes = [0u8; 32];
    getrandom::getrandom(&mut bytes)
        .map_err(|e| Failure::new(format!("cannot get random bytes for a token: {e}")))?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// The account id in a role session's ARN
/// (`arn:aws:sts::123456789012:assumed-role/...`).
pub fn account_of(arn: &str) -> Option<String> {
    let account = arn.split(':').nth(4)?;
    (account.len() == 12 && account.bytes().all(|b| b.is_ascii_digit())).then(|| account.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_long_random_and_compared_whole() {
        let (a, b) = (token().unwrap(), token().unwrap());
        assert_eq!(a.len(), 64);
        assert_ne!(a, b);
        assert!(same(a.as_bytes(), a.clone().as_bytes()));
        assert!(!same(a.as_bytes(), b.as_bytes()));
        assert!(!same(a.as_bytes(), &a.as_bytes()[..63]));
        assert!(!same(b"", a.as_bytes()));
    }

    #[test]
    fn account_ids_from_role_arns() {
        assert_eq!(
            account_of("arn:aws:sts::123456789012:assumed-role/ops/s").as_deref(),
            Some("123456789012")
        );
        assert_eq!(account_of("arn:aws:sts::12:assumed-role/ops/s"), None);
        assert_eq!(account_of(""), None);
    }
}
