//! The documents that ship beside the binary, generated from the clap
//! definitions so that they never drift from `--help`: the man page
//! `mfa-session.1` and the completion scripts for bash, zsh, fish and
//! PowerShell (what `mfa-session completions SHELL` prints, by the same
//! function). `release/build` runs it:
//!
//! ```sh
//! cargo run --locked --example release_docs -- OUT_DIR DATE
//! ```
//!
//! writes `OUT_DIR/mfa-session.1` and `OUT_DIR/completions/`. DATE
//! (YYYY-MM-DD, release/build gives the last commit's) is the page's date:
//! roff drops an empty argument of `.TH`, which would shift the version
//! into the date's place.
//!
//! The man page is one page: the root command's NAME, SYNOPSIS, DESCRIPTION
//! and OPTIONS as clap_mangen renders them, then a COMMANDS section with a
//! subsection per subcommand (nested ones too), then EXAMPLES, EXIT STATUS
//! and ENVIRONMENT taken from the root's after-help text (the one `--help`
//! prints: `after_long_help` when there is one), and FILES. A missing "Exit
//! codes:" or "Environment:" block in that text is an error, so that a
//! change to it cannot drop a section silently.

use std::error::Error;
use std::fs;
use std::path::{Path, PathBuf};

use clap::CommandFactory;
use clap_complete::Shell;
use clap_mangen::Man;
use clap_mangen::roff::{Roff, bold, italic, roman};
use mfa_session::cli::{Cli, CompletionsArgs};
use mfa_session::cmd::completions;

type Result<T> = std::result::Result<T, Box<dyn Error>>;

const BIN: &str = "mfa-session";

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [out, date] = args.as_slice() else {
        return Err("usage: cargo run --example release_docs -- OUT_DIR YYYY-MM-DD".into());
    };
    let out = PathBuf::from(out);
    fs::create_dir_all(out.join("completions"))?;

    let mut cmd = Cli::command();
    cmd.build();

    let page = man_page(&cmd, date)?;
    write(&out.join(format!("{BIN}.1")), page.as_bytes())?;

    // What `mfa-session completions SHELL` prints, by the same function.
    for (shell, file) in [
        (Shell::Bash, "mfa-session.bash"),
        (Shell::Zsh, "_mfa-session"),
        (Shell::Fish, "mfa-session.fish"),
        (Shell::PowerShell, "_mfa-session.ps1"),
    ] {
        let text = completions::run(&CompletionsArgs { shell }).map_err(|e| format!("{e:#}"))?;
        write(&out.join("completions").join(file), text.as_bytes())?;
    }
    Ok(())
}

fn write(path: &Path, bytes: &[u8]) -> Result<()> {
    fs::write(path, bytes).map_err(|e| format!("{}: {e}", path.display()).into())
}

fn man_page(cmd: &clap::Command, date: &str) -> Result<String> {
    let man = Man::new(cmd.clone()).date(date).manual("User Commands");
    let mut page = Vec::new();
    man.render_title(&mut page)?;
    man.render_name_section(&mut page)?;
    man.render_synopsis_section(&mut page)?;
    man.render_description_section(&mut page)?;
    man.render_options_section(&mut page)?;
    let mut page = String::from_utf8(page)?;

    page.push_str(".SH COMMANDS\n");
    for sub in subcommands(cmd) {
        page.push_str(&subcommand_section(sub)?);
    }

    // The long form (`--help`) when there is one, else the one text.
    let after_help = cmd
        .get_after_long_help()
        .or_else(|| cmd.get_after_help())
        .ok_or("the root command has no after-help text")?
        .to_string();
    let blocks = blocks(&after_help);
    let block = |title: &str| {
        blocks
            .iter()
            .find(|(name, _)| name == title)
            .map(|(_, lines)| lines.as_slice())
            .ok_or_else(|| format!("no \"{title}:\" block in the after-help text of src/cli.rs"))
    };

    let mut roff = Roff::new();
    if let Ok(lines) = block("Examples") {
        roff.control("SH", ["EXAMPLES"]);
        verbatim(&mut roff, lines);
    }
    roff.control("SH", ["EXIT STATUS"]);
    entries(&mut roff, block("Exit codes")?)?;
    roff.control("SH", ["ENVIRONMENT"]);
    entries(&mut roff, block("Environment")?)?;
    files(&mut roff);
    roff.control("SH", ["SEE ALSO"]);
    roff.text([
        bold("aws"),
        roman("(1). The user guide, docs/guide.md in the source, has the details of each command."),
    ]);
    page.push_str(&roff.render());
    Ok(preamble_once(&page))
}

/// Each rendered part starts with roff's two lines that define the
/// apostrophe string; the page needs them once, at the top.
fn preamble_once(page: &str) -> String {
    let preamble = Roff::new().render();
    let mut out = preamble.clone();
    out.push_str(&page.replace(&preamble, ""));
    out
}

/// The subcommands to document, depth first, without clap's `help`.
fn subcommands(cmd: &clap::Command) -> Vec<&clap::Command> {
    let mut all = Vec::new();
    for sub in cmd.get_subcommands() {
        if sub.is_hide_set() || sub.get_name() == "help" {
            continue;
        }
        all.push(sub);
        all.extend(subcommands(sub));
    }
    all
}

/// One subcommand as a subsection: its description, usage, options and
/// after-help text, rendered by clap_mangen and demoted from sections.
fn subcommand_section(sub: &clap::Command) -> Result<String> {
    let name = sub
        .get_bin_name()
        .ok_or("a subcommand without a bin name")?;
    let man = Man::new(sub.clone());
    let mut text = format!(".SS \"{name}\"\n");

    let mut part = Vec::new();
    man.render_description_section(&mut part)?;
    text.push_str(&demote(&String::from_utf8(part)?, None));

    let mut part = Vec::new();
    man.render_synopsis_section(&mut part)?;
    text.push_str(&demote(&String::from_utf8(part)?, Some("Usage:")));

    if sub.get_arguments().any(|a| !a.is_hide_set()) {
        let mut part = Vec::new();
        man.render_options_section(&mut part)?;
        text.push_str(&demote(&String::from_utf8(part)?, Some("Options:")));
    }
    if let Some(after) = sub.get_after_help() {
        let lines: Vec<String> = after.to_string().lines().map(str::to_owned).collect();
        let mut roff = Roff::new();
        verbatim(&mut roff, &lines);
        text.push_str(&roff.render());
    }
    Ok(text)
}

/// Turns each `.SH` heading of a rendered part into a paragraph break, with
/// `label` in bold in its place when given (the OPTIONS heading becomes
/// "Options:"; any other heading keeps its own words).
fn demote(part: &str, label: Option<&str>) -> String {
    let mut out = String::new();
    for line in part.lines() {
        match line.strip_prefix(".SH ") {
            Some(heading) => {
                out.push_str(".PP\n");
                let heading = heading.trim_matches('"');
                let words = match (label, heading) {
                    (Some(label), "OPTIONS" | "SYNOPSIS") => label.to_owned(),
                    (_, "DESCRIPTION") => continue,
                    (_, other) => format!("{other}:"),
                };
                out.push_str(&Roff::new().text([bold(words)]).render());
            }
            None => {
                out.push_str(line);
                out.push('\n');
            }
        }
    }
    out
}

/// The after-help text split into its titled blocks ("Exit codes:" and the
/// lines indented under it, ...).
fn blocks(text: &str) -> Vec<(String, Vec<String>)> {
    let mut blocks: Vec<(String, Vec<String>)> = Vec::new();
    for line in text.lines() {
        if line.trim().is_empty() {
            continue;
        }
        if !line.starts_with(' ') && line.ends_with(':') {
            blocks.push((line.trim_end_matches(':').to_owned(), Vec::new()));
        } else if let Some((_, lines)) = blocks.last_mut() {
            lines.push(line.to_owned());
        }
    }
    blocks
}

fn verbatim(roff: &mut Roff, lines: &[String]) {
    roff.control("nf", None);
    roff.control("RS", ["2"]);
    for line in lines {
        roff.text([roman(line.trim_start())]);
    }
    roff.control("RE", None);
    roff.control("fi", None);
}

/// A block of `  NAME  words` lines, continued on lines indented deeper, as
/// a list of tagged paragraphs; a line in parentheses is a closing note.
fn entries(roff: &mut Roff, lines: &[String]) -> Result<()> {
    let mut items: Vec<(String, String)> = Vec::new();
    let mut note = None;
    for line in lines {
        let indent = line.len() - line.trim_start().len();
        let line = line.trim();
        if line.starts_with('(') {
            note = Some(line.trim_matches(|c| c == '(' || c == ')').to_owned());
        } else if indent > 2 {
            let (_, words) = items.last_mut().ok_or("a continued line with no entry")?;
            words.push(' ');
            words.push_str(line);
        } else {
            let (name, words) = line.split_once(char::is_whitespace).unwrap_or((line, ""));
            items.push((name.to_owned(), words.trim().to_owned()));
        }
    }
    if items.is_empty() {
        return Err("an empty block in the after-help text".into());
    }
    for (name, words) in items {
        roff.control("TP", None);
        roff.text([bold(name)]);
        roff.text([roman(words)]);
    }
    if let Some(note) = note {
        roff.control("PP", None);
        roff.text([roman(note)]);
    }
    Ok(())
}

fn files(roff: &mut Roff) {
    roff.control("SH", ["FILES"]);
    let files = [
        (
            "~/.aws/config",
            "Profiles: region, mfa_serial, role_arn and source_profile, as the AWS CLI reads them \
             (AWS_CONFIG_FILE names another file). mfa-session writes mfa_session_key = keyring \
             here for a key moved into the keyring.",
        ),
        (
            "~/.aws/credentials",
            "The long-term access keys (AWS_SHARED_CREDENTIALS_FILE names another file), and the \
             sessions written with --write-profile.",
        ),
        (
            "~/.cache/mfa-session",
            "Cached sessions and MFA devices, the records of spent codes and the locks, private to \
             the user (files mode 0600). $XDG_CACHE_HOME/mfa-session when XDG_CACHE_HOME is set; \
             ~/Library/Caches/mfa-session on macOS; %LOCALAPPDATA%\\mfa-session on Windows; \
             MFA_SESSION_CACHE_DIR overrides each.",
        ),
    ];
    for (path, words) in files {
        roff.control("TP", None);
        roff.text([italic(path)]);
        roff.text([roman(words)]);
    }
}
