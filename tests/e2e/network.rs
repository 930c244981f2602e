//! Round trips: one HTTP client per run, so that every request to one host
//! goes over one kept-alive connection, and the connection is made while
//! the user types. Counted at a front of the test's own that keeps
//! connections alive as AWS does (moto closes each one), in front of moto.

use std::io::Write;
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};

use crate::need;
use crate::support::*;

/// A keep-alive front for moto: counts the connections it accepts and the
/// actions it forwards, one fresh upstream connection per request.
struct Front {
    url: String,
    connections: Arc<Mutex<usize>>,
    actions: Arc<Mutex<Vec<String>>>,
}

impl Front {
    fn start(upstream: &str) -> Front {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let upstream = upstream.trim_start_matches("http://").to_owned();
        let connections = Arc::new(Mutex::new(0));
        let actions = Arc::new(Mutex::new(Vec::new()));
        let (count, seen) = (connections.clone(), actions.clone());
        std::thread::spawn(move || {
            for client in listener.incoming().flatten() {
                *count.lock().unwrap() += 1;
                let (upstream, seen) = (upstream.clone(), seen.clone());
                std::thread::spawn(move || serve(client, &upstream, &seen));
            }
        });
        Front {
            url,
            connections,
            actions,
        }
    }

    fn connections(&self) -> usize {
        *self.connections.lock().unwrap()
    }

    fn actions(&self) -> Vec<String> {
        self.actions.lock().unwrap().clone()
    }
}

fn serve(mut client: TcpStream, upstream: &str, seen: &Mutex<Vec<String>>) {
    while let Some((head, body, request)) = read_request(&mut client) {
        seen.lock().unwrap().push(request.action().to_owned());
        let Some(answer) = forward(upstream, &head, &body) else {
            return;
        };
        let Some(split) = answer.windows(4).position(|w| w == b"\r\n\r\n") else {
            return;
        };
        let kept = with_connection(&String::from_utf8_lossy(&answer[..split]), "keep-alive");
        if client.write_all(kept.as_bytes()).is_err()
            || client.write_all(&answer[split + 4..]).is_err()
        {
            return;
        }
    }
}

fn behind_front(moto: &Moto, user: &User, profile: &str) -> (Sandbox, Front) {
    let front = Front::start(&moto.url);
    let mut sandbox = Sandbox::with_user(moto, user, profile);
    sandbox.set("AWS_ENDPOINT_URL", &front.url);
    (sandbox, front)
}

#[test]
fn a_cold_mfa_session_and_two_roles_take_one_connection() {
    let moto = need!(moto());
    let user = moto.user(1);
    let (ops, prod) = (moto.role("ops"), moto.role("prod"));
    let (sandbox, front) = behind_front(moto, &user, "identity");
    sandbox.write(
        ".aws/config",
        &format!(
            "[profile identity]\nmfa_serial = {}\n\
             [profile ops]\nrole_arn = {ops}\nsource_profile = identity\n\
             [profile prod]\nrole_arn = {prod}\nsource_profile = ops\n",
            user.serials[0]
        ),
    );
    sandbox.run(&["864209", "prod"]).success();
    assert_eq!(
        front.actions(),
        ["GetSessionToken", "AssumeRole", "AssumeRole"]
    );
    assert_eq!(front.connections(), 1, "one connection for three requests");

    // Two roles on the cached MFA session: two requests, one connection.
    sandbox.run(&["prod", "--min-remaining", "61m"]).success();
    assert_eq!(front.actions().len(), 5);
    assert_eq!(front.connections(), 2);
}

#[test]
fn device_discovery_takes_one_connection_to_one_endpoint() {
    let moto = need!(moto());
    let user = moto.user(1);
    let (sandbox, front) = behind_front(moto, &user, "work");
    sandbox.run(&["864209", "work"]).success();
    // moto needs the user's name (GetCallerIdentity) to list devices; AWS does not.
    assert_eq!(
        front.actions(),
        [
            "ListMFADevices",
            "GetCallerIdentity",
            "ListMFADevices",
            "GetSessionToken"
        ]
    );
    assert_eq!(front.connections(), 1);
}

#[test]
fn the_connection_is_made_while_the_code_is_awaited() {
    let moto = need!(moto());
    let user = moto.user(1);
    let (sandbox, front) = behind_front(moto, &user, "work");
    sandbox.write(
        ".aws/config",
        &format!("[profile work]\nmfa_serial = {}\n", user.serials[0]),
    );
    // The code command stands for a person at the prompt: while it runs,
    // GetCallerIdentity opens the connection GetSessionToken then reuses.
    sandbox
        .run(&["work", "--code-command", "sleep 0.5; echo 864209"])
        .success();
    assert_eq!(front.actions(), ["GetCallerIdentity", "GetSessionToken"]);
    assert_eq!(front.connections(), 1);
}

#[test]
fn a_key_aws_refuses_is_reported_before_the_code_is_sent() {
    let endpoint = FakeEndpoint::start(|request, _| match request.action() {
        "GetCallerIdentity" => Reply::Answer(
            403,
            aws_error(
                "InvalidClientTokenId",
                "The security token included in the request is invalid.",
            ),
        ),
        _ => Reply::Answer(200, session_answer()),
    });
    let sandbox = fake_sandbox(&endpoint.url);
    sandbox.write(
        ".aws/config",
        "[profile work]\nmfa_serial = arn:aws:iam::123456789012:mfa/alice\n",
    );
    let run = sandbox.run(&["work", "--code-command", "sleep 0.3; echo 864209"]);
    run.failure(1)
        .stderr_has("not sending the code: the key of profile 'work' was refused")
        .stderr_has("InvalidClientTokenId")
        .keeps_secret(&FAKE_SECRETS);
    assert_eq!(endpoint.actions(), ["GetCallerIdentity"]);
    // A warm-up that only fails to connect does not fail the run.
    let endpoint = FakeEndpoint::start(|request, _| match request.action() {
        "GetCallerIdentity" => Reply::Answer(500, aws_error("InternalFailure", "oops")),
        _ => Reply::Answer(200, session_answer()),
    });
    let sandbox = fake_sandbox(&endpoint.url);
    sandbox.write(
        ".aws/config",
        "[profile work]\nmfa_serial = arn:aws:iam::123456789012:mfa/alice\n",
    );
    sandbox
        .run(&["work", "--code-command", "sleep 0.3; echo 864209"])
        .success();
    assert!(endpoint.actions().contains(&"GetSessionToken".to_owned()));
}
