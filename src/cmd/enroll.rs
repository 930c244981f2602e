//! `mfa-session enroll [PROFILE]`: a new user's virtual MFA device, set up
//! from the terminal with the profile's long-term key, which the Force-MFA
//! policies allow to do exactly this without MFA.
//!
//! Create the device (named after the user by default), show it on the
//! terminal (QR code, account, secret), ask for two consecutive codes,
//! enable it, then write `mfa_serial` into the profile and remember it. The
//! secret is shown only on the terminal: never on stdout or stderr, never in
//! a file unless `--qr-png` asks, never in an error.
//!
//! What `mfa-session enroll` shows and checks, as pure functions: the
//! device name AWS accepts, the otpauth URI authenticator apps read, the QR
//! code drawn with Unicode half blocks, and the secret grouped for typing.

use anyhow::{Result, bail};
use qrcode::QrCode;
use qrcode::render::unicode::Dense1x2;

use crate::aws::{Aws, user_name_from_arn};
use crate::cache::{RememberedDevice, SessionCache};
use crate::cli::EnrollArgs;
use crate::error::Failure;
use crate::input::MfaCode;
use crate::profile::{Key, ProfileFiles, ProfileSet};

pub fn run(args: &EnrollArgs) -> Result<String> {
    // Everything that can be checked is checked before the first request.
    let request = crate::request::Request::for_profile(args.profile.as_deref())?;
    if let Some(name) = &args.name {
        crate::cmd::enroll::check_device_name(name)
            .map_err(|e| Failure::usage(format!("--name: {e}")))?;
    }
    let codes = match &args.codes {
        Some(codes) => Some(
            codes
                .iter()
                .map(|c| MfaCode::parse(c))
                .collect::<Result<Vec<_>>>()?,
        ),
        None => None,
    };
    // Everything that can be checked here is, before the device exists: a
    // device left behind where the policy denies deleting it blocks the
    // default name.
    if let Some(codes) = &codes
        && codes.len() == 2
        && codes[0] == codes[1]
    {
        return Err(Failure::usage(
            "--codes: the two codes are the same: the second must be the next one the app shows",
        )
        .into());
    }
    if let Some(path) = &args.qr_png {
        check_qr_target(path)?;
    }
    let terminal = crate::prompt::has_terminal();
    if !terminal && (args.qr_png.is_none() || codes.is_none()) {
        return Err(Failure::new(
            "enroll shows the new device's secret and asks for codes on the terminal, and there is none",
        )
        .hint("run it in a terminal, or write the QR code to a file and give the codes: --qr-png FILE --codes CODE1 CODE2")
        .into());
    }
    let files = ProfileFiles::locate()?;
    let set = ProfileSet::load(&files)?;
    // Planned as a run plans it: the root, its key, connection and owner.
    let plan = crate::plan::plan(&set, request)?;
    let chain = &plan.chain;
    let root = &chain.root.name;
    let aws = Aws::connect(root, (&chain.key).into(), &plan.mfa.connection)?;

    let (arn, _) = aws.caller_identity()?;
    let Some(user) = user_name_from_arn(&arn).map(str::to_owned) else {
        return Err(Failure::new(format!(
            "profile '{root}' does not belong to an IAM user (caller is {})",
            arn.escape_debug()
        ))
        .hint("enroll sets up an MFA device for an IAM user: name the profile with the user's access key")
        .into());
    };
    let account = arn.split(':').nth(4).unwrap_or_default().to_owned();
    let name = args.name.clone().unwrap_or_else(|| user.clone());
    crate::cmd::enroll::check_device_name(&name).map_err(|e| {
        Failure::new(format!("the user name cannot be the device's name: {e}"))
            .hint("choose one with --name")
    })?;

    let label = format!("{name}@{account}");
    // A QR code whose top is off the screen cannot be scanned, and the
    // alternate screen keeps no scrollback: said before anything exists.
    if args.qr_png.is_none() && !args.no_qr {
        let (cols, rows) = screen_size(&label)?;
        if let Some((have_cols, have_rows)) = crate::prompt::terminal_size()
            && (have_cols < cols || have_rows < rows)
        {
            return Err(Failure::new(format!(
                "the terminal is {have_cols}x{have_rows}, too small for the QR code of the new device (it needs {cols}x{rows})"
            ))
            .hint("make the window larger (or the font smaller), or type the secret into the app instead: --no-qr, or write the QR code to a file: --qr-png FILE")
            .into());
        }
    }
    let device = aws.create_virtual_mfa_device(&name)?;
    let shown = show(args, &device, &label);
    let enabled = shown.and_then(|()| {
        let (first, second) = match codes {
            Some(mut codes) => {
                let second = codes.pop().expect("two codes");
                (codes.pop().expect("two codes"), second)
            }
            None => ask_codes()?,
        };
        if first == second {
            return Err(Failure::usage(
                "the two codes are the same: the second must be the next one the app shows",
            )
            .into());
        }
        aws.enable_mfa_device(&user, &device.serial, &first, &second)
            .map(|()| [first, second])
    });
    clear_secret(args);
    let spent = match enabled {
        Ok(codes) => codes,
        Err(err) => {
            let serial = &device.serial;
            return Err(left_behind(
                serial,
                err,
                aws.delete_virtual_mfa_device(serial),
            ));
        }
    };

    // Enabled: the profile names it from now on, and the cache knows it.
    let written = crate::config_file::set_value(&files.config, root, "mfa_serial", &device.serial);
    // An mfa_serial in the credentials file wins over the config file's.
    let shadow = chain
        .root
        .get(Key::MfaSerial)
        .filter(|s| s.file == files.credentials && s.value.trim() != device.serial);
    let owner = &plan.mfa.owner;
    if let Ok(cache) = SessionCache::locate() {
        let remembered = RememberedDevice {
            serial: device.serial.clone(),
            user_name: Some(user.clone()),
        };
        let _ = cache.remember_device(owner, &remembered);
        // AWS took both codes: a session right after must not send either.
        let now = jiff::Timestamp::now();
        let held = cache.lock_spent(&device.serial, crate::lock::timeout()?);
        for code in &spent {
            let record = crate::spent::SpentCode::new(&device.serial, code.as_str(), now);
            if held.is_ok() {
                let _ = cache.store_spent_code(&record);
            }
        }
    }
    crate::say(&format!("enabled {} for user {user}", device.serial));
    match written {
        Ok(path) => crate::say(&format!(
            "wrote mfa_serial = {} into profile '{root}' in {}",
            device.serial,
            path.display()
        )),
        Err(err) => crate::say(&format!("warning: {err:#}")),
    }
    if let Some(old) = shadow {
        crate::say(&format!(
            "warning: mfa_serial = {} at {} still wins over the config file: change it there to {}, or delete that line",
            old.value.trim(),
            old.place(),
            device.serial
        ));
    }
    crate::say(&format!(
        "get your first session with the next code (AWS refuses a code used twice): eval \"$(mfa-session {})\"",
        crate::shell::command_word(&plan.profile)
    ));
    Ok(String::new())
}

/// The new device: AWS's picture in a file when `--qr-png` asks for one,
/// else drawn on the terminal.
/// The folder of `--qr-png` must exist and take a new file.
fn check_qr_target(path: &std::path::Path) -> Result<()> {
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(std::path::Path::new("."));
    let probe = if dir.is_dir() {
        // Unnamed (O_TMPFILE on Linux): a run killed here leaves nothing.
        tempfile::tempfile_in(dir).map(drop)
    } else {
        Err(std::io::Error::new(
            std::io::ErrorKind::NotFound,
            "no such directory",
        ))
    };
    probe.map_err(|e| {
        Failure::usage(format!(
            "--qr-png: cannot write into {}: {}",
            dir.display(),
            crate::error::io_reason(&e)
        ))
        .into()
    })
}

/// Clears the seed and the QR code away: they were drawn on the terminal's
/// alternate screen, which goes with them.
fn clear_secret(args: &EnrollArgs) {
    if args.qr_png.is_none() && crate::prompt::show(LEAVE_ALTERNATE_SCREEN).is_ok() {
        crate::say(if args.no_qr {
            "the secret was removed from the screen (and its scrollback)"
        } else {
            "the secret and the QR code were removed from the screen (and its scrollback)"
        });
    }
}

/// xterm's alternate screen: what is drawn there leaves no scrollback.
const ENTER_ALTERNATE_SCREEN: &str = "\x1b[?1049h\x1b[H\x1b[2J";
const LEAVE_ALTERNATE_SCREEN: &str = "\x1b[?1049l";

fn show(args: &EnrollArgs, device: &crate::aws::NewDevice, label: &str) -> Result<()> {
    let Some(path) = &args.qr_png else {
        let screen = if args.no_qr {
            secret_screen(&device.seed, label)
        } else {
            crate::cmd::enroll::screen(&device.seed, label)?
        };
        return crate::prompt::show(&format!("{ENTER_ALTERNATE_SCREEN}{screen}"));
    };
    crate::secret_file::replace(path, &device.png).map_err(|e| {
        Failure::new(format!(
            "cannot write {}: {}",
            path.display(),
            crate::error::io_reason(&e)
        ))
    })?;
    crate::say(&format!(
        "wrote the QR code of {} to {} (it holds the device's secret: delete it once scanned)",
        device.serial,
        path.display()
    ));
    Ok(())
}

fn ask_codes() -> Result<(MfaCode, MfaCode)> {
    let ask = |prompt: &str| {
        crate::prompt::ask_code(
            prompt,
            "no codes given",
            "give them with --codes CODE1 CODE2",
        )
    };
    let first = ask("first code from the app: ")?;
    for _ in 0..3 {
        let second = ask("next code, once the app shows a new one: ")?;
        if second != first {
            return Ok((first, second));
        }
        crate::prompt::show("that is the same code: wait for the app to show the next one\n")?;
    }
    Err(Failure::new("the second code was the same as the first three times").into())
}

/// What a failed enrollment leaves behind: the device is deleted again when
/// the policy allows it, and the error says which happened.
fn left_behind(serial: &str, err: anyhow::Error, deleted: Result<()>) -> anyhow::Error {
    let report = crate::error::Report::new(&err);
    let cleanup = match deleted {
        Ok(()) => "the new device was deleted again, so enroll can simply be run again".to_owned(),
        Err(_) => format!(
            "the new device {serial} is left behind, unassigned, and could not be deleted: an administrator can delete it (aws iam delete-virtual-mfa-device --serial-number {serial}), or run enroll again with --name OTHER"
        ),
    };
    let hint = match report.hint {
        Some(hint) => format!("{hint}; {cleanup}"),
        None => cleanup,
    };
    Failure::with_exit(report.line, report.exit)
        .hint(hint)
        .into()
}

#[cfg(test)]
mod tests {
    use super::*;

    const SERIAL: &str = "arn:aws:iam::1:mfa/alice";

    fn wrong_codes() -> anyhow::Error {
        Failure::new("could not enable arn:aws:iam::1:mfa/alice for user alice: InvalidAuthenticationCode: Authentication code for device is not valid")
            .hint("enter two codes in a row")
            .into()
    }

    #[test]
    fn a_failed_enrollment_says_what_is_left() {
        let report = crate::error::Report::new(&left_behind(SERIAL, wrong_codes(), Ok(())));
        assert!(
            report.line.ends_with(
                "InvalidAuthenticationCode: Authentication code for device is not valid"
            )
        );
        assert_eq!(
            report.hint.as_deref(),
            Some(
                "enter two codes in a row; the new device was deleted again, so enroll can simply be run again"
            )
        );
        let denied = Err(anyhow::anyhow!("AccessDenied"));
        let report = crate::error::Report::new(&left_behind(SERIAL, wrong_codes(), denied));
        assert!(report.hint.unwrap().contains(
            "the new device arn:aws:iam::1:mfa/alice is left behind, unassigned, and could not be deleted: an administrator can delete it (aws iam delete-virtual-mfa-device --serial-number arn:aws:iam::1:mfa/alice)"
        ));
        // Ctrl-C at a code prompt keeps its exit code.
        let report =
            crate::error::Report::new(&left_behind(SERIAL, Failure::interrupted().into(), Ok(())));
        assert_eq!(report.exit, crate::error::Exit::Interrupted);
    }
}

/// The issuer AWS's own QR codes name, which apps show with AWS's logo.
pub const ISSUER: &str = "Amazon Web Services";

/// A virtual MFA device name as AWS accepts it: 1-226 of `[\w+=,.@-]`.
pub fn check_device_name(name: &str) -> Result<()> {
    let good = crate::input::iam_name(name, crate::input::DEVICE_NAME);
    if !good {
        bail!(
            "'{name}' is not a name AWS accepts for an MFA device (1 to 226 letters, digits and _+=,.@-)"
        );
    }
    Ok(())
}

/// `otpauth://totp/ISSUER:LABEL?secret=SEED&issuer=ISSUER`.
pub fn otpauth_uri(seed: &str, label: &str) -> String {
    format!(
        "otpauth://totp/{}:{}?secret={seed}&issuer={}",
        encode(ISSUER),
        encode(label),
        encode(ISSUER)
    )
}

fn encode(text: &str) -> String {
    let mut out = String::new();
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~@".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The secret in groups of four, for typing into an app.
pub fn group_secret(seed: &str) -> String {
    seed.as_bytes()
        .chunks(4)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect::<Vec<_>>()
        .join(" ")
}

/// The QR code of `text`, two modules per character cell. Dark modules are
/// blank cells and light ones (the quiet zone too) are blocks, so that on a
/// terminal with light text on a dark background the code shows dark on
/// light, as scanners expect.
pub fn qr_text(text: &str) -> Result<String> {
    let code = QrCode::new(text.as_bytes())?;
    Ok(code
        .render::<Dense1x2>()
        .dark_color(Dense1x2::Light)
        .light_color(Dense1x2::Dark)
        .quiet_zone(true)
        .build())
}

/// How large a terminal [`screen`] needs for a device `label`, the code
/// prompts below it included: measured with a seed as long as AWS's (64
/// characters), columns and rows.
pub fn screen_size(label: &str) -> Result<(u16, u16)> {
    let shown = screen(&"A".repeat(64), label)?;
    let cols = shown.lines().map(|l| l.chars().count()).max().unwrap_or(0);
    // The prompts for the two codes and the line a repeated code gets.
    let rows = shown.lines().count() + 3;
    Ok((
        u16::try_from(cols).unwrap_or(u16::MAX),
        u16::try_from(rows).unwrap_or(u16::MAX),
    ))
}

/// [`screen`] without the QR code: the secret to type into the app.
fn secret_screen(seed: &str, label: &str) -> String {
    format!(
        "\nAdd this device to your authenticator app: type the secret (a time-based key).\n\n  account: {ISSUER}:{label}\n  secret:  {}\n\n",
        group_secret(seed)
    )
}

/// Everything shown on the terminal for a new device.
pub fn screen(seed: &str, label: &str) -> Result<String> {
    let uri = otpauth_uri(seed, label);
    Ok(format!(
        "\nAdd this device to your authenticator app: scan the code, or type the secret.\n\n{}\n\n  account: {ISSUER}:{label}\n  secret:  {}\n\n",
        qr_text(&uri)?,
        group_secret(seed)
    ))
}

#[cfg(test)]
mod screen_tests {
    use super::*;

    #[test]
    fn names() {
        assert!(check_device_name("alice").is_ok());
        assert!(check_device_name("a.b+c=d,e@f-g_h").is_ok());
        for bad in ["", "a b", "a/b", "ä", &"x".repeat(227)] {
            assert!(check_device_name(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn uri_and_secret() {
        assert_eq!(
            otpauth_uri("ABCDEFGH", "alice@123456789012"),
            "otpauth://totp/Amazon%20Web%20Services:alice@123456789012?secret=ABCDEFGH&issuer=Amazon%20Web%20Services"
        );
        assert_eq!(group_secret("ABCDEFGHIJ"), "ABCD EFGH IJ");
    }

    include!(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/common/qr.rs"));

    #[test]
    fn the_drawn_code_scans() {
        let uri = otpauth_uri(
            "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP",
            "alice@123456789012",
        );
        let text = qr_text(&uri).unwrap();
        assert_eq!(decode(&text).as_deref(), Some(uri.as_str()));
        let shown = screen("JBSWY3DPEHPK3PXP", "bob@1").unwrap();
        assert_eq!(
            decode(&shown).as_deref(),
            Some(otpauth_uri("JBSWY3DPEHPK3PXP", "bob@1").as_str())
        );
        assert!(shown.contains("  secret:  JBSW Y3DP EHPK 3PXP\n"));
    }
}
