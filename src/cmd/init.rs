//! `mfa-session init SHELL`: a shell function that runs mfa-session and
//! applies its output.
//!
//! Every wrapper follows the same rules:
//! 1. The output is applied only when mfa-session succeeded, and the wrapper
//!    returns mfa-session's exit status. `eval "$(false)"` returns 0 in bash,
//!    zsh and dash, so a bare eval would hide every failure.
//! 2. Subcommands (`init`, `completions`, ...) print text, not shell code:
//!    they are run as they are, never evaluated. Everything else runs with the
//!    hidden `--wrapped` flag, which sends help and version text to stderr
//!    wherever `-h` or `-V` stands (`-qh` included), so stdout holds nothing
//!    but shell code.
//! 3. The function leaves nothing behind: POSIX shells have no portable
//!    `local`, so its helper variable is unset before it returns.
//! 4. mfa-session is found through PATH (`command mfa-session`), so the
//!    function keeps working when the binary is reinstalled elsewhere.
//! 5. bash, zsh, fish and PowerShell get a prompt hook that renews a role
//!    session before it ends, from the cached MFA session and with no code,
//!    and says once when the MFA session itself is about to end (see
//!    [`crate::renewal`]). It compares the time in the shell (fish has no
//!    clock of its own: `date` then, only while a session is there), starts
//!    mfa-session only when something is due, keeps `$?`, and after a
//!    renewal that failed tries no more until the function runs again.

use anyhow::Result;
use clap::CommandFactory;

use crate::cli::{Cli, InitArgs};
use crate::error::Failure;
use crate::shell::Shell;

pub fn run(args: &InitArgs) -> Result<String> {
    check_name(&args.name)?;
    Ok(wrapper(args.shell, &args.name))
}

/// A function name every supported shell accepts.
fn check_name(name: &str) -> Result<()> {
    let mut chars = name.chars();
    let valid = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_');
    if valid {
        Ok(())
    } else {
        Err(
            Failure::usage(format!("--cmd: '{name}' is not a valid function name"))
                .hint("use letters, digits and _, starting with a letter, e.g. --cmd mfa")
                .into(),
        )
    }
}

/// The words that make the wrapper run mfa-session as it is.
fn passthrough() -> Vec<String> {
    let mut words: Vec<String> = Cli::command()
        .get_subcommands()
        .map(|c| c.get_name().to_owned())
        .collect();
    words.push("help".to_owned());
    words
}

pub fn wrapper(shell: Shell, name: &str) -> String {
    let words = passthrough();
    let template = match shell {
        Shell::Bash | Shell::Zsh | Shell::Sh => POSIX,
        Shell::Fish => FISH,
        Shell::Powershell => POWERSHELL,
        Shell::Cmd => CMD,
    };
    let words = match shell {
        Shell::Bash | Shell::Zsh | Shell::Sh => words.join("|"),
        Shell::Fish | Shell::Cmd => words.join(" "),
        Shell::Powershell => words
            .iter()
            .map(|w| format!("'{w}'"))
            .collect::<Vec<_>>()
            .join(", "),
    };
    let rc = match shell {
        Shell::Bash => "~/.bashrc",
        Shell::Zsh => "~/.zshrc",
        _ => "your shell's startup file",
    };
    let hook = match shell {
        Shell::Bash | Shell::Zsh => posix_hook(shell),
        Shell::Fish => FISH_HOOK.to_owned(),
        Shell::Powershell => POWERSHELL_HOOK.to_owned(),
        Shell::Sh | Shell::Cmd => String::new(),
    };
    template
        .replace("{HOOK}", &hook)
        .replace("{NAME}", name)
        .replace("{SHELL}", shell_value(shell))
        .replace("{WORDS}", &words)
        .replace("{RC}", rc)
}

fn shell_value(shell: Shell) -> &'static str {
    match shell {
        Shell::Bash => "bash",
        Shell::Zsh => "zsh",
        Shell::Sh => "sh",
        Shell::Fish => "fish",
        Shell::Powershell => "powershell",
        Shell::Cmd => "cmd",
    }
}

/// bash, zsh and any POSIX sh. `|| { ... }` keeps `set -e` from ending the
/// caller's shell inside the function; `set -- "$?"` keeps the status while
/// the helper variable is unset.
const POSIX: &str = r#"# mfa-session shell integration ({SHELL}). Add this line to {RC}:
#   eval "$(mfa-session init {SHELL})"
# Then: {NAME} 123456 PROFILE, {NAME} PROFILE (asks for the code), {NAME} --clear
{NAME}() {
    case "${1-}" in
        {WORDS}) command mfa-session "$@"; return ;;
    esac
    __mfa_session_out=$(command mfa-session --wrapped --shell {SHELL} "$@") || {
        set -- "$?"
        unset __mfa_session_out
        return "$1"
    }
    eval "$__mfa_session_out"
    set -- "$?"
    unset __mfa_session_out __mfa_session_stop __mfa_session_warned
    return "$1"
}
{HOOK}"#;

/// bash and zsh: one hook, run before each prompt (bash through
/// PROMPT_COMMAND, zsh as a precmd hook). The time is read in the shell:
/// bash 5's `EPOCHSECONDS` or printf's own clock (bash 4.2), zsh's
/// `EPOCHSECONDS` from the zsh/datetime module.
const POSIX_HOOK: &str = r#"{PRELUDE}__mfa_session_hook() {
    local kept=$? now out
    if [ -n "${MFA_SESSION_ENDS-}" ] && [ -z "${__mfa_session_stop-}" ]; then
        {NOW}
        if (( MFA_SESSION_ENDS < MFA_SESSION_MFA_ENDS && now + MFA_SESSION_RENEW_WINDOW >= MFA_SESSION_ENDS && now < MFA_SESSION_MFA_ENDS )); then
            if out=$(command mfa-session --wrapped --renew --shell {SHELL} "$MFA_SESSION_PROFILE"); then
                eval "$out"
            else
                __mfa_session_stop=1
            fi
        fi
        if (( now + MFA_SESSION_RENEW_WINDOW >= MFA_SESSION_MFA_ENDS )) && [ -z "${__mfa_session_warned-}" ]; then
            __mfa_session_warned=1
            printf 'mfa-session: the MFA session of profile %s ends in %dm; renew it with a code: {NAME} CODE %s\n' \
                "$MFA_SESSION_PROFILE" $(( (MFA_SESSION_MFA_ENDS - now) / 60 )) "$MFA_SESSION_PROFILE" >&2
        fi
    fi
    return $kept
}
{REGISTER}"#;

/// What makes the hook run in bash: PROMPT_COMMAND, once.
const BASH_REGISTER: &str = r#"case ";${PROMPT_COMMAND-};" in
    *";__mfa_session_hook;"*) ;;
    *) PROMPT_COMMAND="__mfa_session_hook${PROMPT_COMMAND:+;$PROMPT_COMMAND}" ;;
esac
"#;

/// What makes the hook run in zsh: a precmd hook (added once by zsh).
const ZSH_REGISTER: &str = "autoload -Uz add-zsh-hook\nadd-zsh-hook precmd __mfa_session_hook\n";

/// The hook for bash or zsh.
fn posix_hook(shell: Shell) -> String {
    let (prelude, now, register) = match shell {
        Shell::Zsh => (
            "zmodload zsh/datetime 2>/dev/null\n",
            "now=$EPOCHSECONDS",
            ZSH_REGISTER,
        ),
        _ => (
            "",
            r#"if [ -n "${EPOCHSECONDS-}" ]; then now=$EPOCHSECONDS; else printf -v now '%(%s)T' -1; fi"#,
            BASH_REGISTER,
        ),
    };
    POSIX_HOOK
        .replace("{PRELUDE}", prelude)
        .replace("{NOW}", now)
        .replace("{REGISTER}", register)
}

/// fish: the output is collected whole (`string collect`) and sourced only on
/// success; `$pipestatus[1]` is mfa-session's own status, and the function
/// returns `source`'s status after that (a script that fails is a failure).
const FISH: &str = r#"# mfa-session shell integration (fish). Add this line to ~/.config/fish/config.fish:
#   mfa-session init fish | source
# Then: {NAME} 123456 PROFILE, {NAME} PROFILE (asks for the code), {NAME} --clear
function {NAME} --description 'Put an AWS MFA session into this shell (mfa-session)'
    if contains -- "$argv[1]" {WORDS}
        command mfa-session $argv
        return $status
    end
    set -l __mfa_session_out (command mfa-session --wrapped --shell fish $argv | string collect)
    set -l __mfa_session_status $pipestatus[1]
    if test $__mfa_session_status -ne 0
        return $__mfa_session_status
    end
    printf '%s\n' $__mfa_session_out | source
    set -l __mfa_session_sourced $status
    set -e -g __mfa_session_stop __mfa_session_warned
    return $__mfa_session_sourced
end
{HOOK}"#;

/// fish: a handler of the fish_prompt event.
const FISH_HOOK: &str = r#"function __mfa_session_hook --on-event fish_prompt
    set -q MFA_SESSION_ENDS; or return
    set -q __mfa_session_stop; and return
    set -l now (date +%s)
    if test $MFA_SESSION_ENDS -lt $MFA_SESSION_MFA_ENDS; and test (math $now + $MFA_SESSION_RENEW_WINDOW) -ge $MFA_SESSION_ENDS; and test $now -lt $MFA_SESSION_MFA_ENDS
        set -l out (command mfa-session --wrapped --renew --shell fish $MFA_SESSION_PROFILE | string collect)
        if test $pipestatus[1] -eq 0
            printf '%s\n' $out | source
        else
            set -g __mfa_session_stop 1
        end
    end
    if test (math $now + $MFA_SESSION_RENEW_WINDOW) -ge $MFA_SESSION_MFA_ENDS; and not set -q __mfa_session_warned
        set -g __mfa_session_warned 1
        printf 'mfa-session: the MFA session of profile %s ends in %dm; renew it with a code: {NAME} CODE %s\n' \
            $MFA_SESSION_PROFILE (math --scale=0 "($MFA_SESSION_MFA_ENDS - $now) / 60") $MFA_SESSION_PROFILE >&2
    end
end
"#;

/// PowerShell: `Out-String` joins the lines into one text for
/// Invoke-Expression; `$LASTEXITCODE` carries mfa-session's status, which is
/// how PowerShell reports a native command's result.
const POWERSHELL: &str = r#"# mfa-session shell integration (PowerShell). Add this line to $PROFILE:
#   Invoke-Expression (& mfa-session init powershell | Out-String)
# Then: {NAME} 123456 PROFILE, {NAME} PROFILE (asks for the code), {NAME} --clear
function {NAME} {
    $passthrough = @({WORDS})
    if ($args.Count -gt 0 -and $passthrough -contains $args[0]) {
        & mfa-session @args
        return
    }
    $mfaSessionOutput = & mfa-session --wrapped --shell powershell @args | Out-String
    $mfaSessionStatus = $LASTEXITCODE
    if ($mfaSessionStatus -eq 0 -and $mfaSessionOutput) {
        Invoke-Expression $mfaSessionOutput
        $global:__mfaSessionStop = $false
        $global:__mfaSessionWarned = $false
    }
    $global:LASTEXITCODE = $mfaSessionStatus
}
{HOOK}"#;

/// PowerShell: the prompt function wrapped once; `$LASTEXITCODE` kept.
const POWERSHELL_HOOK: &str = r#"function global:__MfaSessionHook {
    if (-not $Env:MFA_SESSION_ENDS -or $global:__mfaSessionStop) { return }
    $kept = $global:LASTEXITCODE
    $now = [DateTimeOffset]::UtcNow.ToUnixTimeSeconds()
    $ends = [long]$Env:MFA_SESSION_ENDS
    $mfaEnds = [long]$Env:MFA_SESSION_MFA_ENDS
    $window = [long]$Env:MFA_SESSION_RENEW_WINDOW
    if ($ends -lt $mfaEnds -and $now + $window -ge $ends -and $now -lt $mfaEnds) {
        $renewed = & mfa-session --wrapped --renew --shell powershell $Env:MFA_SESSION_PROFILE | Out-String
        if ($LASTEXITCODE -eq 0) { Invoke-Expression $renewed } else { $global:__mfaSessionStop = $true }
    }
    if ($now + $window -ge $mfaEnds -and -not $global:__mfaSessionWarned) {
        $global:__mfaSessionWarned = $true
        $left = [math]::Floor(($mfaEnds - $now) / 60)
        [Console]::Error.WriteLine("mfa-session: the MFA session of profile $($Env:MFA_SESSION_PROFILE) ends in ${left}m; renew it with a code: {NAME} CODE $($Env:MFA_SESSION_PROFILE)")
    }
    $global:LASTEXITCODE = $kept
}
if (-not $global:__mfaSessionPrompt) {
    $global:__mfaSessionPrompt = $function:prompt
    function global:prompt { __MfaSessionHook; & $global:__mfaSessionPrompt }
}
"#;

/// cmd.exe: a batch file, since cmd has no functions. The output is read by
/// `for /f` and never stored: no temporary file can be left with a session
/// in it (Ctrl-C at cmd's "Terminate batch job?" included). Each line is
/// `@set "NAME=value"`, split into `@set` and the rest, and the rest given to
/// `set` after cmd has parsed the line, so `&`, `|`, `(` in a value stay
/// text. `for /f` loses the exit status, so under `--wrapped` mfa-session
/// ends its cmd output with `@set "MFA_SESSION_OK=1"`: without that line
/// (any failure, whose message went to stderr) the batch file exits 1.
/// `goto` rather than `( ... & exit /b)` inside `for`: Wine's cmd ends the
/// whole batch file on the latter when the condition is false.
const CMD: &str = "@echo off\r
rem mfa-session integration (cmd.exe). Save this as {NAME}.cmd in a folder on PATH:\r
rem   mfa-session init cmd > \"%USERPROFILE%\\bin\\{NAME}.cmd\"\r
rem Then: {NAME} 123456 PROFILE, {NAME} PROFILE (asks for the code), {NAME} --clear\r
for %%A in ({WORDS} -h --help -V --version) do if /i \"%~1\"==\"%%A\" goto mfa_session_passthrough\r
set \"MFA_SESSION_OK=\"\r
for /f \"tokens=1,*\" %%A in ('mfa-session --wrapped --shell cmd %*') do if \"%%A\"==\"@set\" set %%B\r
if not defined MFA_SESSION_OK exit /b 1\r
set \"MFA_SESSION_OK=\"\r
exit /b 0\r
:mfa_session_passthrough\r
mfa-session %*\r
";

/// The line the cmd function looks for, last in the output under `--wrapped`.
pub const CMD_SUCCESS_MARKER: &str = "MFA_SESSION_OK";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        for good in ["mfa", "aws_mfa", "_m2"] {
            assert!(check_name(good).is_ok(), "{good}");
        }
        for bad in ["", "2fa", "aws-mfa", "a b", "m;rm", "é"] {
            assert!(check_name(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn passthrough_lists_every_subcommand() {
        let words = passthrough();
        assert!(words.contains(&"init".to_owned()));
        assert!(words.contains(&"completions".to_owned()));
        assert!(words.contains(&"help".to_owned()));
    }

    /// PowerShell cannot run here: its wrapper is pinned byte for byte.
    #[test]
    fn powershell_wrapper_exact() {
        assert_eq!(
            wrapper(Shell::Powershell, "mfa"),
            r#"# mfa-session shell integration (PowerShell). Add this line to $PROFILE:
#   Invoke-Expression (& mfa-session init powershell | Out-String)
# Then: mfa 123456 PROFILE, mfa PROFILE (asks for the code), mfa --clear
function mfa {
    $passthrough = @('init', 'completions', 'login', 'status', 'credential-process', 'exec', 'rotate', 'keys', 'serve', 'forget', 'policy', 'doctor', 'enroll', 'help')
    if ($args.Count -gt 0 -and $passthrough -contains $args[0]) {
        & mfa-session @args
        return
    }
    $mfaSessionOutput = & mfa-session --wrapped --shell powershell @args | Out-String
    $mfaSessionStatus = $LASTEXITCODE
    if ($mfaSessionStatus -eq 0 -and $mfaSessionOutput) {
        Invoke-Expression $mfaSessionOutput
        $global:__mfaSessionStop = $false
        $global:__mfaSessionWarned = $false
    }
    $global:LASTEXITCODE = $mfaSessionStatus
}
function global:__MfaSessionHook {
    if (-not $Env:MFA_SESSION_ENDS -or $global:__mfaSessionStop) { return }
    $kept = $global:LASTEXITCODE
    $now = [DateTimeOffset]::UtcNow.ToUnixTimeSeconds()
    $ends = [long]$Env:MFA_SESSION_ENDS
    $mfaEnds = [long]$Env:MFA_SESSION_MFA_ENDS
    $window = [long]$Env:MFA_SESSION_RENEW_WINDOW
    if ($ends -lt $mfaEnds -and $now + $window -ge $ends -and $now -lt $mfaEnds) {
        $renewed = & mfa-session --wrapped --renew --shell powershell $Env:MFA_SESSION_PROFILE | Out-String
        if ($LASTEXITCODE -eq 0) { Invoke-Expression $renewed } else { $global:__mfaSessionStop = $true }
    }
    if ($now + $window -ge $mfaEnds -and -not $global:__mfaSessionWarned) {
        $global:__mfaSessionWarned = $true
        $left = [math]::Floor(($mfaEnds - $now) / 60)
        [Console]::Error.WriteLine("mfa-session: the MFA session of profile $($Env:MFA_SESSION_PROFILE) ends in ${left}m; renew it with a code: mfa CODE $($Env:MFA_SESSION_PROFILE)")
    }
    $global:LASTEXITCODE = $kept
}
if (-not $global:__mfaSessionPrompt) {
    $global:__mfaSessionPrompt = $function:prompt
    function global:prompt { __MfaSessionHook; & $global:__mfaSessionPrompt }
}
"#
        );
    }

    /// Pinned here; run by Wine's cmd in tests/e2e/cmd.rs.
    #[test]
    fn cmd_wrapper_exact() {
        let text = wrapper(Shell::Cmd, "mfa");
        assert!(text.starts_with("@echo off\r\n"));
        assert!(
            text.split_inclusive('\n').all(|l| l.ends_with("\r\n")),
            "CRLF throughout"
        );
        assert!(text.contains(
            "for %%A in (init completions login status credential-process exec rotate keys serve forget policy doctor enroll help -h --help -V --version) do if /i \"%~1\"==\"%%A\" goto mfa_session_passthrough\r\n"
        ));
        assert!(text.contains(
            "for /f \"tokens=1,*\" %%A in ('mfa-session --wrapped --shell cmd %*') do if \"%%A\"==\"@set\" set %%B\r\n"
        ));
        assert!(!text.contains("TEMP"), "no temporary file");
        assert!(text.contains("Save this as mfa.cmd"));
    }

    #[test]
    fn posix_wrapper_uses_the_shell_and_name() {
        let text = wrapper(Shell::Zsh, "aws_mfa");
        assert!(text.contains("aws_mfa() {\n"));
        assert!(text.contains("command mfa-session --wrapped --shell zsh \"$@\""));
        assert!(
            text.contains("        init|completions|login|status|credential-process|exec|rotate|keys|serve|forget|policy|doctor|enroll|help) command mfa-session \"$@\"; return ;;\n")
        );
        assert!(text.contains("~/.zshrc"));
    }
}
