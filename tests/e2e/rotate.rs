//! `rotate` end to end against moto: the new key stored where the old one
//! was, the old one deleted, one code at most, and a failure at each step
//! leaving a working key and saying what to do.

use crate::need;
use crate::support::*;

fn setup(moto: &Moto) -> (User, Sandbox, String) {
    let user = moto.user(1);
    let (sandbox, credentials) = Sandbox::with_key_among_others(moto, &user);
    (user, sandbox, credentials)
}

/// Exit 1, nothing on stdout, and after the progress lines (what was
/// created, written) one error line and its hint.
fn failed_after_progress(run: &Run) {
    assert_eq!(run.code, Some(1), "{run:#?}");
    assert_eq!(run.stdout, "");
    let lines: Vec<&str> = run.stderr.lines().collect();
    let [.., error, hint] = lines.as_slice() else {
        panic!("{run:#?}");
    };
    assert!(
        error.starts_with("mfa-session: ") && hint.starts_with("hint: "),
        "{run:#?}"
    );
}

#[test]
fn rotate_replaces_the_key_where_it_was_and_deletes_the_old_one() {
    let moto = need!(moto());
    let (user, sandbox, before) = setup(moto);
    let run = sandbox.run(&["rotate", "864209", "work"]);
    run.success()
        .stderr_has(&format!("deleted the old key {}", user.access_key_id))
        .keeps_secret(&[&user.secret_access_key]);
    let keys = moto.access_keys(&user.name);
    assert_eq!(keys.len(), 1, "{keys:?}");
    let (new_id, active) = keys[0].clone();
    assert!(active && new_id != user.access_key_id);
    // The file: the new pair in the old lines, every other byte the same.
    let after = sandbox.read(".aws/credentials");
    let new_secret = after
        .lines()
        .filter_map(|l| l.strip_prefix("aws_secret_access_key = "))
        .nth(1)
        .unwrap()
        .to_owned();
    assert!(!run.stderr.contains(&new_secret), "no secret shown");
    assert_eq!(
        after,
        before
            .replace(&user.access_key_id, &new_id)
            .replace(&user.secret_access_key, &new_secret)
    );
    // One GetSessionToken at most, with the old key; the new key signs now.
    let old = moto.requests_signed_by(&user.access_key_id);
    assert_eq!(
        old.iter()
            .filter(|r| r.action() == "GetSessionToken")
            .count(),
        1
    );
    sandbox.run(&["975310", "work"]).success();
    assert_eq!(
        moto.requests_signed_by(&new_id)
            .iter()
            .filter(|r| r.action() == "GetSessionToken")
            .count(),
        1,
        "the next session is signed with the new key"
    );
}

#[test]
fn two_keys_are_refused_before_anything_is_created() {
    let moto = need!(moto());
    let (user, sandbox, before) = setup(moto);
    let second = moto.second_key(&user.name, true);
    sandbox
        .run(&["rotate", "864209", "work"])
        .failure(1)
        .stderr_has(&format!("user {} has two access keys already", user.name))
        .stderr_has(&format!("{second} (active)"));
    assert_eq!(moto.access_keys(&user.name).len(), 2);
    assert_eq!(sandbox.read(".aws/credentials"), before);
    // An inactive second key goes first with --delete-inactive.
    let (user, sandbox, _) = setup(moto);
    let inactive = moto.second_key(&user.name, false);
    sandbox
        .run(&["rotate", "864209", "work"])
        .failure(1)
        .stderr_has("hint: pass --delete-inactive to delete it first");
    sandbox
        .run(&["rotate", "work", "--delete-inactive"])
        .success()
        .stderr_has(&format!("deleted the inactive key {inactive}"));
    let keys = moto.access_keys(&user.name);
    assert_eq!(keys.len(), 1);
    assert!(keys[0].0 != user.access_key_id && keys[0].0 != inactive);
}

#[test]
fn a_failure_at_each_step_leaves_a_working_key_and_says_what_to_do() {
    let moto = need!(moto());
    for (step, says) in [
        ("create", "create failed"),
        ("write", "was deleted again; "),
        ("verify", "was deleted again; "),
    ] {
        let (user, mut sandbox, before) = setup(moto);
        sandbox.set("MFA_SESSION_TEST_FAIL", step);
        sandbox.set("MFA_SESSION_ROTATE_WAIT", "2");
        let run = sandbox.run(&["rotate", "864209", "work"]);
        failed_after_progress(&run);
        run.stderr_has(says)
            .keeps_secret(&[&user.secret_access_key]);
        // The old key, and only it, in AWS and in the file.
        let keys = moto.access_keys(&user.name);
        assert_eq!(keys, [(user.access_key_id.clone(), true)], "{step}");
        assert_eq!(sandbox.read(".aws/credentials"), before, "{step}");
        if step != "create" {
            run.stderr_has(&format!(
                "{} is still the key of profile 'work'",
                user.access_key_id
            ));
        }
    }
    // The old key not deleted: the new one is stored and works; the error
    // names the old one and how to delete it.
    let (user, mut sandbox, _) = setup(moto);
    sandbox.set("MFA_SESSION_TEST_FAIL", "delete");
    let run = sandbox.run(&["rotate", "864209", "work"]);
    failed_after_progress(&run);
    run.stderr_has(&format!(
        "but the old key {} was not deleted",
        user.access_key_id
    ))
    .stderr_has(&format!(
        "aws iam delete-access-key --user-name {} --access-key-id {}",
        user.name, user.access_key_id
    ));
    let keys = moto.access_keys(&user.name);
    assert_eq!(keys.len(), 2);
    let new_id = keys
        .iter()
        .find(|k| k.0 != user.access_key_id)
        .unwrap()
        .0
        .clone();
    assert!(sandbox.read(".aws/credentials").contains(&new_id));
}

#[test]
fn status_and_doctor_show_the_key_age_when_an_mfa_session_can_ask() {
    let moto = need!(moto());
    let (_user, mut sandbox, _) = setup(moto);
    // No MFA session yet: no request, and it says why.
    let before = sandbox.run(&["status", "work"]);
    assert!(
        before
            .stdout
            .contains("key age:      unknown: no cached MFA session"),
        "{}",
        before.stdout
    );
    sandbox.run(&["864209", "work"]).success();
    let today = jiff::Timestamp::now().strftime("%Y-%m-%d").to_string();
    let status = sandbox.run(&["status", "work"]);
    assert!(
        status
            .stdout
            .contains(&format!("key age:      created {today}, 0 days ago\n")),
        "{}",
        status.stdout
    );
    let json: serde_json::Value =
        serde_json::from_str(&sandbox.run(&["status", "work", "--json"]).success().stdout).unwrap();
    assert_eq!(json["profile"]["key_age_days"], 0, "{json}");
    let doctor = sandbox.run(&["doctor", "work"]);
    assert!(
        doctor
            .stdout
            .contains(&format!("[ok  ] key age: created {today}, 0 days ago")),
        "{}",
        doctor.stdout
    );
    // Old from MFA_SESSION_KEY_MAX_AGE days on (90 by default).
    sandbox.set("MFA_SESSION_KEY_MAX_AGE", "0");
    let status = sandbox.run(&["status", "work"]);
    assert!(
        status
            .stdout
            .contains("(old: rotate it with mfa-session rotate work)"),
        "{}",
        status.stdout
    );
    let doctor = sandbox.run(&["doctor", "work"]);
    assert!(
        doctor.stdout.contains("[warn] key age: created ")
            && doctor
                .stdout
                .contains("hint: rotate it: mfa-session rotate work"),
        "{}",
        doctor.stdout
    );
}

/// Issue 31, item 1: a rotation whose new key fails its check, and whose
/// put-back of the old key fails too (a read-only ~/.aws; run as another
/// user, since root writes anywhere), or whose store cannot even be read
/// back: before, the new key was deleted in IAM while the file held it, and
/// the old secret was gone with the process. Now both keys stay, and the
/// hint says which is where.
#[test]
fn a_failed_put_back_keeps_both_keys_and_says_where() {
    use std::io::BufRead;
    use std::os::unix::fs::PermissionsExt;
    let moto = need!(moto());
    for unreadable in [false, true] {
        let (user, mut sandbox, _) = setup(moto);
        sandbox.set("MFA_SESSION_TEST_FAIL", "verify");
        sandbox.set("MFA_SESSION_ROTATE_WAIT", "3");
        chown_tree(sandbox.dir.path(), OTHER_UID);
        let mut command = sandbox.command(&["rotate", "864209", "work"]);
        need!(as_other_user(&mut command));
        let mut child = command
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let mut stderr = std::io::BufReader::new(child.stderr.take().unwrap());
        let mut said = String::new();
        // Once the new key is written, ~/.aws can no longer be written.
        while !said.contains("wrote ") {
            let mut line = String::new();
            assert!(stderr.read_line(&mut line).unwrap() > 0, "{said}");
            said.push_str(&line);
        }
        let aws = sandbox.path(".aws");
        std::fs::set_permissions(&aws, std::fs::Permissions::from_mode(0o555)).unwrap();
        if unreadable {
            std::fs::set_permissions(
                aws.join("credentials"),
                std::fs::Permissions::from_mode(0o000),
            )
            .unwrap();
        }
        let mut rest = String::new();
        std::io::Read::read_to_string(&mut stderr, &mut rest).unwrap();
        said.push_str(&rest);
        let output = child.wait_with_output().unwrap();
        let run = Run {
            code: output.status.code(),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: said,
        };
        std::fs::set_permissions(&aws, std::fs::Permissions::from_mode(0o755)).unwrap();
        std::fs::set_permissions(
            aws.join("credentials"),
            std::fs::Permissions::from_mode(0o600),
        )
        .unwrap();
        failed_after_progress(&run);
        run.keeps_secret(&[&user.secret_access_key]);
        let keys = moto.access_keys(&user.name);
        assert_eq!(keys.len(), 2, "both keys are kept: {keys:?} {run:#?}");
        let new_id = keys
            .iter()
            .map(|(id, _)| id.clone())
            .find(|id| *id != user.access_key_id)
            .unwrap();
        let held = sandbox.read(".aws/credentials");
        assert!(held.contains(&new_id), "the file holds the new key: {held}");
        run.stderr_has("both keys are kept and active in AWS")
            .stderr_has(&user.access_key_id)
            .stderr_has(&new_id);
        if unreadable {
            run.stderr_has("could not be read back");
        } else {
            run.stderr_has("the old key could not be put back")
                .stderr_has(&format!("holds the new key {new_id}"))
                .stderr_has(&format!("--access-key-id {}", user.access_key_id));
        }
    }
}
