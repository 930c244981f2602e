//! PowerShell cannot run here, so its output is read by a parser nobody here
//! wrote: the tree-sitter PowerShell grammar. Every output must parse with no
//! ERROR or MISSING node, and each `$Env:NAME = ...` must have a verbatim
//! string on its right whose text, decoded, is the value byte for byte.

use mfa_session::shell::Shell;
use tree_sitter::{Node, Parser, Tree};

use crate::shells::{HOSTILE, names, script_of};
use crate::support::*;

fn parse(text: &str) -> Tree {
    let mut parser = Parser::new();
    parser
        .set_language(&tree_sitter_powershell::LANGUAGE.into())
        .unwrap();
    parser.parse(text, None).expect("parse")
}

/// Every node of the tree, depth first.
fn nodes(tree: &Tree) -> Vec<Node<'_>> {
    let mut out = Vec::new();
    let mut stack = vec![tree.root_node()];
    while let Some(node) = stack.pop() {
        out.push(node);
        let mut cursor = node.walk();
        let children: Vec<Node> = node.children(&mut cursor).collect();
        stack.extend(children.into_iter().rev());
    }
    out
}

/// The grammar found nothing wrong anywhere.
fn assert_clean(text: &str, tree: &Tree) {
    for node in nodes(tree) {
        assert!(
            !node.is_error() && !node.is_missing(),
            "{} at {:?} in:\n{text}",
            node.kind(),
            node.start_position()
        );
    }
    assert!(!tree.root_node().has_error(), "{text}");
}

fn is_quote(c: char) -> bool {
    matches!(c, '\'' | '\u{2018}' | '\u{2019}' | '\u{201A}' | '\u{201B}')
}

/// A verbatim string's text without its delimiters, each doubled quote
/// character taken once (PowerShell's rule, for all five single quotes).
fn decode_verbatim(literal: &str) -> Option<String> {
    let mut chars = literal.chars();
    if !chars.next().is_some_and(is_quote) || !chars.next_back().is_some_and(is_quote) {
        return None;
    }
    let mut out = String::new();
    let mut inner = chars.peekable();
    while let Some(c) = inner.next() {
        if is_quote(c) {
            // A lone quote would have ended the string.
            inner.next().filter(|n| is_quote(*n))?;
        }
        out.push(c);
    }
    Some(out)
}

/// `$Env:NAME = <value>` assignments: (NAME, the decoded verbatim value).
fn assignments(text: &str, tree: &Tree) -> Vec<(String, String)> {
    nodes(tree)
        .into_iter()
        .filter(|n| n.kind() == "assignment_expression")
        .map(|n| {
            let left = n
                .child(0)
                .unwrap()
                .utf8_text(text.as_bytes())
                .unwrap()
                .to_owned();
            let value = n.child_by_field_name("value").expect("a right-hand side");
            let literals: Vec<Node> = nodes_under(value)
                .into_iter()
                .filter(|c| c.kind() == "string_literal")
                .collect();
            assert_eq!(
                literals.len(),
                1,
                "one string on the right of {left}: {text}"
            );
            let literal = literals[0].utf8_text(text.as_bytes()).unwrap();
            let value_text = value.utf8_text(text.as_bytes()).unwrap();
            assert_eq!(
                literal,
                value_text.trim_end(),
                "the right side is the string alone"
            );
            let decoded = decode_verbatim(literal)
                .unwrap_or_else(|| panic!("not a verbatim string: {literal}"));
            let name = left
                .strip_prefix("$Env:")
                .unwrap_or_else(|| panic!("{left}"));
            (name.to_owned(), decoded)
        })
        .collect()
}

fn nodes_under(node: Node<'_>) -> Vec<Node<'_>> {
    let mut out = Vec::new();
    let mut stack = vec![node];
    while let Some(n) = stack.pop() {
        out.push(n);
        let mut cursor = n.walk();
        let children: Vec<Node> = n.children(&mut cursor).collect();
        stack.extend(children);
    }
    out
}

#[test]
fn hostile_values_parse_as_verbatim_strings() {
    let names = names(HOSTILE.len());
    // One script with them all, and one per value.
    let all = script_of(HOSTILE, &names)
        .render(Shell::Powershell)
        .unwrap();
    let tree = parse(&all);
    assert_clean(&all, &tree);
    let found = assignments(&all, &tree);
    let expected: Vec<(String, String)> = names
        .iter()
        .zip(HOSTILE)
        .map(|(n, v)| (n.to_string(), v.to_string()))
        .collect();
    assert_eq!(found, expected);
    for (name, value) in names.iter().zip(HOSTILE) {
        let text = script_of(&[value], &[name])
            .render(Shell::Powershell)
            .unwrap();
        let tree = parse(&text);
        assert_clean(&text, &tree);
        assert_eq!(
            assignments(&text, &tree),
            [(name.to_string(), value.to_string())]
        );
    }
}

#[test]
fn a_broken_quote_is_caught() {
    // The check itself: an undoubled quote must not pass.
    let text = "$Env:X = 'it's'\n";
    let tree = parse(text);
    let clean = nodes(&tree)
        .iter()
        .all(|n| !n.is_error() && !n.is_missing());
    let decoded = std::panic::catch_unwind(|| assignments(text, &tree));
    assert!(!clean || decoded.is_err());
}

fn output(args: &[&str], sandbox: &Sandbox) -> String {
    let run = sandbox.run(args);
    run.success();
    run.stdout.clone()
}

#[test]
fn a_session_clear_and_the_init_function_parse() {
    let endpoint = FakeEndpoint::start(|_, _| Reply::Answer(200, session_answer()));
    let mut sandbox = fake_sandbox(&endpoint.url);
    sandbox.set("AWS_PROFILE", "work");
    sandbox.set("AWS_REGION", "eu-west-1");
    let session = output(
        &[
            "123456",
            "work",
            "-s",
            "arn:aws:iam::123456789012:mfa/alice",
            "--shell",
            "powershell",
        ],
        &sandbox,
    );
    let tree = parse(&session);
    assert_clean(&session, &tree);
    let found = assignments(&session, &tree);
    let get = |name: &str| {
        found
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    };
    assert_eq!(get("AWS_ACCESS_KEY_ID"), Some(FAKE_SESSION_KEY));
    assert_eq!(get("AWS_SECRET_ACCESS_KEY"), Some(FAKE_SESSION_SECRET));
    assert_eq!(get("AWS_SESSION_TOKEN"), Some(FAKE_SESSION_TOKEN));
    assert_eq!(get("AWS_REGION"), Some("eu-west-1"));
    // AWS_PROFILE is removed, as a command.
    assert!(session.contains("Remove-Item -LiteralPath Env:AWS_PROFILE -ErrorAction Ignore"));
    let commands = nodes(&tree)
        .iter()
        .filter(|n| n.kind() == "command")
        .count();
    assert!(commands >= 2, "{session}");

    for args in [
        vec!["--clear", "--shell", "powershell"],
        vec!["init", "powershell"],
        vec!["init", "powershell", "--cmd", "awsmfa"],
    ] {
        let text = output(&args, &sandbox);
        let tree = parse(&text);
        assert_clean(&text, &tree);
    }
}

/// The workplace issue, item 4: the PowerShell completion script (for
/// mfa-session and the `mfa` function) parses cleanly.
#[test]
fn the_completion_script_parses() {
    let sandbox = Sandbox::new(None);
    let text = output(&["completions", "powershell"], &sandbox);
    assert!(text.contains("Register-ArgumentCompleter"), "{text}");
    assert!(text.contains("MFA_SESSION_COMPLETE"), "{text}");
    let tree = parse(&text);
    assert_clean(&text, &tree);
}
