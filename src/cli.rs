//! The command line, as clap types. Meaning is given to the arguments in
//! `get.rs` and the subcommand modules; nothing here reads files or the network.

use clap::{Args, Parser, Subcommand};

use crate::shell::Shell;

const EXAMPLES_AND_EXIT_CODES: &str = "\
Examples:
  eval \"$(mfa-session 123456 default)\"   code, then profile (the session.sh order)
  eval \"$(mfa-session work)\"             asks for the code on the terminal, hidden
  eval \"$(mfa-session)\"                  profile from AWS_PROFILE, else \"default\"
  eval \"$(mfa-session --clear)\"          unset every variable mfa-session sets
  mfa-session exec work -- terraform plan  one command with a session
  mfa-session 123456 work --shell fish | source
  mfa-session 123456 work --shell powershell | Out-String | Invoke-Expression

Exit codes:
  0    success
  1    failure (AWS refused, network, profile files, ...)
  2    usage error (bad arguments, code or duration)
  126  exec: the command cannot be run
  127  exec: the command was not found
  130  interrupted at a prompt

Environment:
  AWS_PROFILE                 profile used when none is named (also
                              AWS_DEFAULT_PROFILE; both set must agree)
  AWS_CONFIG_FILE             instead of ~/.aws/config
  AWS_SHARED_CREDENTIALS_FILE instead of ~/.aws/credentials
  AWS_ENDPOINT_URL[_STS|_IAM] another endpoint (a local one for tests)
  MFA_SESSION_TIMEOUT         how long one AWS request may take (default 20s)
  MFA_SESSION_CACHE_DIR       where sessions are cached
  MFA_SESSION_MIN_REMAINING   as --min-remaining
  MFA_SESSION_SHELL           as --shell
  MFA_SESSION_PROMPT          as --prompt
  MFA_SESSION_KEYRING_TIMEOUT how long the keyring may take (default 20s)
  MFA_SESSION_LOCK_TIMEOUT    how long to wait for another run (default 2m)
  MFA_SESSION_CODE_COMMAND_TIMEOUT  how long a code command may take
  MFA_SESSION_RENEW_BEFORE    when the init function renews a role (5m; off)
  MFA_SESSION_KEY_MAX_AGE     when the key counts as old (doctor, status)
  MFA_SESSION_ROTATE_WAIT     how long rotate waits for a new key to work
  (all of them: man mfa-session, or docs/guide.md in the source)";

/// Turn a long-term AWS access key and an MFA code into temporary credentials,
/// printed as shell code to eval.
#[derive(Debug, Parser)]
#[command(
    name = "mfa-session",
    version,
    about,
    after_help = EXAMPLES_AND_EXIT_CODES,
    max_term_width = 100,
    args_conflicts_with_subcommands = true,
    subcommand_value_name = "COMMAND",
    subcommand_help_heading = "Commands (a profile with one of these names needs --profile)"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,

    #[command(flatten)]
    pub get: GetArgs,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Print a shell function (`mfa` by default) that runs mfa-session and
    /// applies its output, for your shell's startup file
    Init(InitArgs),
    /// Print a completion script for a shell
    Completions(CompletionsArgs),
    /// Get and cache a session (asking for the code), print nothing: for
    /// credential_process, exec and other terminals, which then need none
    Login(LoginArgs),
    /// Show the session in this shell and the cached sessions, with time left
    Status(StatusArgs),
    /// Print a session as credential_process JSON, for ~/.aws/config
    #[command(name = "credential-process")]
    CredentialProcess(CredentialProcessArgs),
    /// Run a command with a session in its environment
    Exec(ExecArgs),
    /// Replace the profile's long-term access key with a new one, using its
    /// MFA session: create, store, check, then delete the old one
    Rotate(RotateArgs),
    /// Move the profile's long-term key into the operating system's keyring
    /// (macOS Keychain, Windows Credential Manager, Secret Service), or back
    Keys(KeysArgs),
    /// Serve the session on a loopback credentials endpoint (the ECS
    /// container format every SDK reads) until interrupted, refreshing role
    /// sessions from the cached MFA session
    Serve(ServeArgs),
    /// Delete cached sessions and remembered MFA devices
    Forget(ForgetArgs),
    /// Print an IAM policy that forces MFA, for administrators
    Policy(PolicyArgs),
    /// Check the profile, the environment, the clock, the key and the MFA
    /// devices, without sending an MFA code
    Doctor(DoctorArgs),
    /// Set up a virtual MFA device for the profile's IAM user, from the
    /// terminal: QR code, two codes, done
    Enroll(EnrollArgs),
}

#[derive(Debug, Args)]
#[command(
    after_help = "Example:\n  mfa-session login work          # asks for the code, caches the session\n  mfa-session login 123456 work"
)]
pub struct LoginArgs {
    #[command(flatten)]
    pub target: CodeAndProfile,

    #[command(flatten)]
    pub session: SessionArgs,
}

#[derive(Debug, Args)]
pub struct EnrollArgs {
    /// The profile with the IAM user's long-term key [default:
    /// $AWS_DEFAULT_PROFILE or $AWS_PROFILE, else "default"]
    #[arg(value_name = "PROFILE", add = clap_complete::engine::ArgValueCompleter::new(crate::cmd::completions::profiles))]
    pub profile: Option<String>,

    /// The device's name [default: the user name, which older versions of
    /// AWS's self-service policy require]
    #[arg(long, value_name = "NAME")]
    pub name: Option<String>,

    /// Write AWS's QR code picture to this file (mode 0600) instead of
    /// drawing it on the terminal; it holds the device's secret
    #[arg(long, value_name = "FILE")]
    pub qr_png: Option<std::path::PathBuf>,

    /// The two consecutive codes from the app, instead of asking for them
    #[arg(long, num_args = 2, value_names = ["CODE1", "CODE2"])]
    pub codes: Option<Vec<String>>,

    /// Show only the secret, to type into the app, and no QR code (for a
    /// terminal too small to draw one)
    #[arg(long, conflicts_with = "qr_png")]
    pub no_qr: bool,
}

#[derive(Debug, Args)]
pub struct DoctorArgs {
    /// The profile to check [default: $AWS_DEFAULT_PROFILE or $AWS_PROFILE,
    /// else "default"]
    #[arg(value_name = "PROFILE", add = clap_complete::engine::ArgValueCompleter::new(crate::cmd::completions::profiles))]
    pub profile: Option<String>,

    /// Print JSON, for tools
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct PolicyArgs {
    /// force-mfa: deny all but MFA setup until signed in with MFA;
    /// self-service: also let users manage their own credentials
    #[arg(value_enum)]
    pub policy: PolicyName,

    /// Put this account id (12 digits) in the policy's ARNs instead of `*`
    #[arg(long, value_name = "ID")]
    pub account: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum PolicyName {
    ForceMfa,
    SelfService,
}

#[derive(Debug, Args)]
pub struct InitArgs {
    /// The shell to print the function for
    #[arg(value_enum)]
    pub shell: Shell,

    /// The name of the function (for cmd: the batch file to save it as)
    #[arg(long = "cmd", value_name = "NAME", default_value = "mfa")]
    pub name: String,
}

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell to print completions for
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

#[derive(Debug, Args)]
pub struct StatusArgs {
    /// Only this profile: where its key, region, endpoints, device and
    /// duration come from (file:line), and its cached sessions
    #[arg(value_name = "PROFILE", add = clap_complete::engine::ArgValueCompleter::new(crate::cmd::completions::profiles))]
    pub profile: Option<String>,

    /// Print JSON, for scripts and prompts
    #[arg(long, conflicts_with = "short")]
    pub json: bool,

    /// One short line for a shell prompt: the profile of this shell's
    /// session and the time it has left (`work 11h20m`), or nothing when the
    /// shell has no session
    #[arg(long)]
    pub short: bool,
}

#[derive(Debug, Args)]
pub struct CredentialProcessArgs {
    #[command(flatten)]
    pub session: SessionArgs,

    /// Print the JSON even when stdout is a terminal
    #[arg(long)]
    pub print: bool,
}

/// CODE and PROFILE, in either order: for `exec`, `serve` and `rotate`.
#[derive(Debug, Args)]
pub struct CodeAndProfile {
    /// The 6-digit MFA code, if one is needed; asked for when left out
    #[arg(value_name = "CODE", add = clap_complete::engine::ArgValueCompleter::new(crate::cmd::completions::profiles))]
    pub first: Option<String>,

    /// The profile: an IAM user's long-term key, or a role profile
    #[arg(value_name = "PROFILE", add = clap_complete::engine::ArgValueCompleter::new(crate::cmd::completions::profiles))]
    pub second: Option<String>,
}

impl CodeAndProfile {
    /// The positionals as given, for the request to sort.
    pub fn positionals(&self) -> Vec<String> {
        [&self.first, &self.second]
            .into_iter()
            .flatten()
            .cloned()
            .collect()
    }
}

#[derive(Debug, Args)]
#[command(
    override_usage = "mfa-session exec [OPTIONS] [CODE] [PROFILE] [--] COMMAND [ARGS]...",
    after_help = "Examples:\n  mfa-session exec work -- aws s3 ls\n  mfa-session exec 123456 work -- terraform plan\n  mfa-session exec work aws sts get-caller-identity   # without --: the words after the profile"
)]
pub struct ExecArgs {
    #[command(flatten)]
    pub target: CodeAndProfile,

    /// The command and its arguments given without `--`, after the profile
    #[arg(value_name = "ARGS", hide = true, allow_hyphen_values = true)]
    pub loose: Vec<std::ffi::OsString>,

    #[command(flatten)]
    pub session: SessionArgs,

    /// Give the command a credentials endpoint on 127.0.0.1 instead of fixed
    /// keys: a role session that runs out is assumed again from the cached
    /// MFA session, for jobs longer than an hour
    #[arg(long)]
    pub server: bool,

    /// The command to run, after `--` (or after the profile)
    #[arg(last = true, value_name = "COMMAND")]
    pub command: Vec<std::ffi::OsString>,
}

impl ExecArgs {
    /// CODE and PROFILE, and the command: the words after `--`, or without
    /// it (the aws-vault habit) the words after the profile.
    pub fn split(&self) -> Result<(Vec<String>, Vec<std::ffi::OsString>), crate::error::Failure> {
        let given = self.target.positionals();
        if !self.command.is_empty() {
            if !self.loose.is_empty() {
                return Err(crate::error::Failure::usage(
                    "exec: words both before and after -- (the command goes after it)",
                )
                .hint("mfa-session exec [CODE] [PROFILE] -- COMMAND [ARGS]..."));
            }
            return Ok((given, self.command.clone()));
        }
        let mut words: Vec<std::ffi::OsString> = given.into_iter().map(Into::into).collect();
        words.extend(self.loose.iter().cloned());
        let is_code = |w: &std::ffi::OsString| {
            w.to_str()
                .is_some_and(|w| crate::input::MfaCode::parse(w).is_ok())
        };
        let take = match words.first() {
            Some(first) if is_code(first) => 2,
            _ => 1,
        };
        if words.len() <= take {
            let profile = words
                .iter()
                .map(|w| w.to_string_lossy().into_owned())
                .collect::<Vec<_>>()
                .join(" ");
            let before = if profile.is_empty() {
                "PROFILE".to_owned()
            } else {
                profile
            };
            let server = if self.server { "--server " } else { "" };
            return Err(
                crate::error::Failure::usage("exec needs a command to run").hint(format!(
                    "mfa-session exec {server}{before} -- COMMAND [ARGS]..."
                )),
            );
        }
        let command = words.split_off(take);
        let positionals = words
            .into_iter()
            .map(|w| w.to_string_lossy().into_owned())
            .collect();
        Ok((positionals, command))
    }
}

#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  mfa-session keys import work   # the key leaves ~/.aws/credentials\n  mfa-session keys export work   # and comes back"
)]
#[command(subcommand_required = true, arg_required_else_help = false)]
pub struct KeysArgs {
    #[command(subcommand)]
    pub action: KeysAction,
}

#[derive(Debug, Subcommand)]
pub enum KeysAction {
    /// Move the key pair from the profile files into the keyring and mark
    /// the profile with `mfa_session_key = keyring` in the config file
    Import {
        /// The profile with the IAM user's long-term key [default:
        /// $AWS_DEFAULT_PROFILE or $AWS_PROFILE, else "default"]
        #[arg(value_name = "PROFILE", add = clap_complete::engine::ArgValueCompleter::new(crate::cmd::completions::profiles))]
        profile: Option<String>,
    },
    /// Move the key pair from the keyring back into the credentials file and
    /// remove the mark
    Export {
        /// The profile whose key is in the keyring [default:
        /// $AWS_DEFAULT_PROFILE or $AWS_PROFILE, else "default"]
        #[arg(value_name = "PROFILE", add = clap_complete::engine::ArgValueCompleter::new(crate::cmd::completions::profiles))]
        profile: Option<String>,
    },
}

#[derive(Debug, Args)]
#[command(after_help = "Example:\n  mfa-session rotate work\n  mfa-session rotate 123456 work")]
pub struct RotateArgs {
    #[command(flatten)]
    pub target: CodeAndProfile,

    /// When the user has a second access key that is inactive, delete it
    /// first (AWS allows two keys)
    #[arg(long)]
    pub delete_inactive: bool,

    #[command(flatten)]
    pub session: SessionArgs,
}

#[derive(Debug, Args)]
#[command(
    after_help = "Example:\n  mfa-session serve prod > prod.env    # the variables to source elsewhere, then serves"
)]
pub struct ServeArgs {
    #[command(flatten)]
    pub target: CodeAndProfile,

    #[command(flatten)]
    pub session: SessionArgs,

    /// The shell to print the variables for [default: sh]
    #[arg(long, value_enum, value_name = "SHELL")]
    pub shell: Option<Shell>,

    /// Print the variables even when stdout is a terminal (where the
    /// endpoint's token would stay on screen)
    #[arg(long)]
    pub print: bool,
}

#[derive(Debug, Args)]
#[command(group = clap::ArgGroup::new("what").required(true).args(["profile", "all"]))]
pub struct ForgetArgs {
    /// The profile whose sessions and device to forget
    #[arg(value_name = "PROFILE", add = clap_complete::engine::ArgValueCompleter::new(crate::cmd::completions::profiles))]
    pub profile: Option<String>,

    /// Forget every cached session and device
    #[arg(long)]
    pub all: bool,
}

/// How to get a session: shared by the main command, credential-process and exec.
#[derive(Debug, Args, Default, Clone)]
pub struct SessionArgs {
    /// The 6-digit MFA code
    #[arg(short, long, value_name = "CODE")]
    pub code: Option<String>,

    /// The profile [default: $AWS_DEFAULT_PROFILE or $AWS_PROFILE, else
    /// "default"]
    #[arg(short, long, value_name = "NAME", add = clap_complete::engine::ArgValueCompleter::new(crate::cmd::completions::profiles))]
    pub profile: Option<String>,

    /// How long the session lasts: seconds, or 90m, 12h, 36h (15m to 36h;
    /// for a role, 1h at most, or the role's maximum with --direct)
    /// [default: the profile's duration_seconds, else 12h, for a role 1h]
    #[arg(short, long, value_name = "DURATION")]
    pub duration: Option<String>,

    /// The MFA device's serial number or ARN [default: the profile's mfa_serial,
    /// else the device remembered from the last run, else the user's device,
    /// listed through IAM]
    #[arg(
        short,
        long = "serial-number",
        visible_alias = "mfa-serial",
        value_name = "SERIAL"
    )]
    pub serial_number: Option<String>,

    /// Get a new session even when a cached one is still good
    #[arg(short, long)]
    pub force: bool,

    /// Neither read nor write cached sessions and devices
    #[arg(long)]
    pub no_cache: bool,

    /// Reuse a cached session only while it has more than this left [default: 15m]
    #[arg(
        long,
        value_name = "DURATION",
        env = "MFA_SESSION_MIN_REMAINING",
        hide_env = true
    )]
    pub min_remaining: Option<String>,

    /// Print nothing on stderr on success
    #[arg(short, long)]
    pub quiet: bool,

    /// Take the MFA code from what this command prints (one 6-digit code),
    /// e.g. "ykman oath accounts code --single alice" [default: the
    /// profile's mfa_process]
    #[arg(long, value_name = "COMMAND")]
    pub code_command: Option<String>,

    /// Where to ask for the code when none is given: the terminal, a
    /// dialog (zenity or kdialog, osascript on macOS, PowerShell on
    /// Windows), or nowhere [default: auto, the terminal if there is one,
    /// else a dialog if one can be shown]
    #[arg(
        long,
        value_enum,
        value_name = "WHERE",
        env = "MFA_SESSION_PROMPT",
        hide_env = true
    )]
    pub prompt: Option<crate::dialog::PromptMode>,

    /// For a role profile: assume the role from the long-term key with an
    /// MFA code, without an MFA session (a role session from temporary
    /// credentials lasts 1 hour at most; this way, the role's own maximum)
    #[arg(long)]
    pub direct: bool,
}

#[derive(Debug, Args)]
pub struct GetArgs {
    /// The 6-digit MFA code; asked for on the terminal when left out
    #[arg(value_name = "CODE", add = clap_complete::engine::ArgValueCompleter::new(crate::cmd::completions::profiles))]
    pub first: Option<String>,

    /// The profile: one with an IAM user's long-term key, or a role profile
    /// (role_arn + source_profile) [default: $AWS_DEFAULT_PROFILE or
    /// $AWS_PROFILE, else "default"]
    #[arg(value_name = "PROFILE", add = clap_complete::engine::ArgValueCompleter::new(crate::cmd::completions::profiles))]
    pub second: Option<String>,

    /// More positionals than CODE and PROFILE, caught here so that the error
    /// says so (clap would take the third for a subcommand name)
    #[arg(value_name = "EXTRA", hide = true)]
    pub extra: Vec<String>,

    #[command(flatten)]
    pub session: SessionArgs,

    /// The shell to print code for [default: sh, which bash and zsh read too]
    #[arg(
        long,
        value_enum,
        value_name = "SHELL",
        env = "MFA_SESSION_SHELL",
        hide_env = true
    )]
    pub shell: Option<Shell>,

    /// Print code that unsets the session's variables and gives AWS_PROFILE,
    /// AWS_REGION and their AWS_DEFAULT_ forms back the values they had
    /// before the session (with no record of one: unsets them too); no
    /// profile, no request. The cached session stays: `forget` removes it
    #[arg(long, conflicts_with_all = ["code", "duration", "serial_number", "write_profile", "force"])]
    pub clear: bool,

    /// Set by the `init` functions: help and version text go to stderr, so
    /// that the function evaluates nothing but shell code
    #[arg(long, hide = true)]
    pub wrapped: bool,

    /// Set by the `init` functions' prompt hook: renew the session with no
    /// code (--prompt none), when less than MFA_SESSION_RENEW_BEFORE is left
    #[arg(long, hide = true, requires = "wrapped")]
    pub renew: bool,

    /// Print the session even when stdout is a terminal (where it would only
    /// show the secret key on screen)
    #[arg(long)]
    pub print: bool,

    /// Write the session into section [NAME] of the shared credentials file
    /// instead of printing it, for tools that only read that file
    #[arg(long, value_name = "NAME")]
    pub write_profile: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;
    use proptest::prelude::*;

    proptest! {
        /// Whatever the command line, parsing answers with a result, never a panic.
        #[test]
        fn any_command_line_parses_or_errors(
            args in proptest::collection::vec(
                "\\PC{0,12}|-[a-z]|--[a-z-]{1,14}|[0-9]{6}|init|exec|--|status",
                0..6,
            )
        ) {
            let _ = Cli::try_parse_from(std::iter::once("mfa-session".to_owned()).chain(args));
        }
    }

    #[test]
    fn definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn a_third_positional_is_caught_for_a_clear_error() {
        let cli = Cli::try_parse_from(["mfa-session", "123456", "work", "extra"]).unwrap();
        assert_eq!(cli.get.extra, ["extra"]);
        let err =
            crate::input::sort_positionals(&["1".into(), "w".into(), "x".into()]).unwrap_err();
        assert!(err.to_string().starts_with("too many arguments"));
    }

    #[test]
    fn clear_conflicts_with_a_code() {
        assert!(Cli::try_parse_from(["mfa-session", "--clear", "--code", "123456"]).is_err());
        assert!(Cli::try_parse_from(["mfa-session", "--clear"]).is_ok());
    }

    #[test]
    fn subcommands_and_positionals() {
        let cli = Cli::try_parse_from(["mfa-session", "init", "fish", "--cmd", "aws_mfa"]).unwrap();
        match cli.command {
            Some(Command::Init(args)) => {
                assert_eq!((args.shell, args.name.as_str()), (Shell::Fish, "aws_mfa"))
            }
            other => panic!("{other:?}"),
        }
        let cli = Cli::try_parse_from(["mfa-session", "123456", "work"]).unwrap();
        assert!(cli.command.is_none());
        assert_eq!(cli.get.first.as_deref(), Some("123456"));
        let cli = Cli::try_parse_from(["mfa-session", "completions", "elvish"]).unwrap();
        assert!(matches!(cli.command, Some(Command::Completions(_))));
    }

    #[test]
    fn pwsh_is_powershell() {
        let cli = Cli::try_parse_from(["mfa-session", "--shell", "pwsh"]).unwrap();
        assert_eq!(cli.get.shell, Some(Shell::Powershell));
    }
}
