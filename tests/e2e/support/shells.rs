//! Real shells that evaluate what the binary prints.

use super::*;

/// The values of `names` after sourcing `script` in a POSIX shell
/// (`shell` is the command line: `["bash"]`, `["dash"]`, `["bash", "--posix"]`),
/// read back byte for byte; `None` for a variable that is not set. `prelude`
/// runs first (to set stale values).
pub fn source_posix(
    shell: &[&str],
    prelude: &str,
    script: &str,
    names: &[&str],
) -> Vec<Option<String>> {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("script.sh");
    std::fs::write(&file, script).unwrap();
    let mut program = String::from(prelude);
    program.push_str("\n. \"$1\" || exit 99\n");
    for name in names {
        program.push_str(&format!(
            "if [ \"${{{name}+x}}\" ]; then printf 'set:%s\\000' \"${name}\"; else printf 'unset\\000'; fi\n"
        ));
    }
    let output = Command::new(shell[0])
        .args(&shell[1..])
        .arg("-c")
        .arg(&program)
        .arg("sh")
        .arg(&file)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .output()
        .expect("run shell");
    assert!(
        output.status.success(),
        "{shell:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    parse_values(&output.stdout, names.len())
}

/// The same for fish: `script` loaded with `source`.
pub fn source_fish(prelude: &str, script: &str, names: &[&str]) -> Vec<Option<String>> {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("script.fish");
    std::fs::write(&file, script).unwrap();
    let mut program = String::from(prelude);
    program.push_str("\nsource $argv[1]; or exit 99\n");
    for name in names {
        program.push_str(&format!(
            "if set -q {name}; printf 'set:%s' \"${name}\"; printf '\\x00'; else; printf 'unset'; printf '\\x00'; end\n"
        ));
    }
    let output = Command::new("fish")
        .args(["--no-config", "-c", &program])
        .arg(&file)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .output()
        .expect("run fish");
    assert!(
        output.status.success(),
        "fish failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    parse_values(&output.stdout, names.len())
}

fn parse_values(stdout: &[u8], count: usize) -> Vec<Option<String>> {
    let text = String::from_utf8(stdout.to_vec()).expect("shell printed UTF-8");
    let mut values: Vec<Option<String>> = text
        .split('\0')
        .map(|item| item.strip_prefix("set:").map(str::to_owned))
        .collect();
    assert_eq!(values.pop(), Some(None), "output ends with NUL: {text:?}");
    assert_eq!(values.len(), count, "one value per name: {text:?}");
    values
}
