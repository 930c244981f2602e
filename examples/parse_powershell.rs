//! Parses PowerShell scripts with the tree-sitter PowerShell grammar and
//! fails on any ERROR or MISSING node: release/test runs it on install.ps1
//! and the PowerShell completion script, where no PowerShell is installed.
//!
//! ```sh
//! cargo run --locked --example parse_powershell -- FILE.ps1...
//! ```
//!
//! prints one line per file (its top-level statement count), or the line
//! and column of each bad node, and exits 1 when there is any.

use std::process::ExitCode;

use tree_sitter::{Node, Parser};

fn main() -> ExitCode {
    let files: Vec<String> = std::env::args().skip(1).collect();
    if files.is_empty() {
        eprintln!("usage: cargo run --example parse_powershell -- FILE.ps1...");
        return ExitCode::from(2);
    }
    let mut parser = Parser::new();
    parser
        .set_language(&tree_sitter_powershell::LANGUAGE.into())
        .expect("the grammar matches the tree-sitter version");
    let mut failed = false;
    for file in &files {
        let text = match std::fs::read_to_string(file) {
            Ok(text) => text,
            Err(err) => {
                eprintln!("{file}: {err}");
                failed = true;
                continue;
            }
        };
        let Some(tree) = parser.parse(&text, None) else {
            eprintln!("{file}: the parser gave no tree");
            failed = true;
            continue;
        };
        let root = tree.root_node();
        let mut bad = Vec::new();
        collect_bad(root, &mut bad);
        if bad.is_empty() {
            println!(
                "{file}: parsed, {} top-level nodes, no ERROR or MISSING node",
                root.named_child_count()
            );
        } else {
            failed = true;
            for node in bad {
                let at = node.start_position();
                let kind = if node.is_missing() {
                    "MISSING"
                } else {
                    "ERROR"
                };
                let snippet: String = text[node.byte_range()].chars().take(60).collect();
                eprintln!(
                    "{file}:{}:{}: {kind} {}: {snippet:?}",
                    at.row + 1,
                    at.column + 1,
                    node.kind()
                );
            }
        }
    }
    if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

fn collect_bad<'t>(node: Node<'t>, bad: &mut Vec<Node<'t>>) {
    if node.is_error() || node.is_missing() {
        bad.push(node);
        return;
    }
    if !node.has_error() {
        return;
    }
    let mut cursor = node.walk();
    for child in node.children(&mut cursor) {
        collect_bad(child, bad);
    }
}
