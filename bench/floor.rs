//! The floor for a new session on a local endpoint: one process that sends
//! the one GetSessionToken request over a plain socket and reads the answer,
//! with nothing else (no TLS, no SDK, no files, no signing: moto does not
//! check signatures, and SigV4 costs microseconds). Built by bench/run with
//! `rustc -O`; std only.
//!
//!     floor 127.0.0.1:PORT SERIAL CODE

use std::io::{Read, Write};
use std::net::TcpStream;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let [_, addr, serial, code] = args.as_slice() else {
        eprintln!("usage: floor HOST:PORT SERIAL CODE");
        std::process::exit(2);
    };
    let body = format!(
        "Action=GetSessionToken&Version=2011-06-15&SerialNumber={}&TokenCode={code}&DurationSeconds=43200",
        serial.replace(':', "%3A").replace('/', "%2F")
    );
    let request = format!(
        "POST / HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/x-www-form-urlencoded; charset=utf-8\r\n\
         Authorization: AWS4-HMAC-SHA256 Credential=AKIAFLOOR/20260101/us-east-1/sts/aws4_request, SignedHeaders=host, Signature=0\r\n\
         X-Amz-Date: 20260101T000000Z\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    let mut stream = TcpStream::connect(addr.as_str()).expect("connect");
    stream.write_all(request.as_bytes()).expect("send");
    // Read the head, then exactly Content-Length bytes of body (waiting for
    // the server to close would measure its linger, not the request).
    let mut answer = Vec::new();
    let mut buf = [0u8; 16384];
    let text = loop {
        let n = stream.read(&mut buf).expect("read");
        if n == 0 {
            break String::from_utf8_lossy(&answer).into_owned();
        }
        answer.extend_from_slice(&buf[..n]);
        let so_far = String::from_utf8_lossy(&answer).into_owned();
        if let Some(head_end) = so_far.find("\r\n\r\n") {
            let length = so_far[..head_end]
                .lines()
                .find_map(|l| {
                    let (k, v) = l.split_once(':')?;
                    k.eq_ignore_ascii_case("content-length").then(|| v.trim().parse::<usize>().ok())?
                })
                .unwrap_or(0);
            if answer.len() >= head_end + 4 + length {
                break so_far;
            }
        }
    };
    if !text.contains("<SessionToken>") {
        eprintln!("floor: no session in the answer");
        std::process::exit(1);
    }
}
