//! What `mfa-session enroll` shows and checks, as pure functions: the
//! device name AWS accepts, the otpauth URI authenticator apps read, the QR
//! code drawn with Unicode half blocks, and the secret grouped for typing.

use anyhow::{Result, bail};
use qrcode::QrCode;
use qrcode::render::unicode::Dense1x2;

/// The issuer AWS's own QR codes name, which apps show with AWS's logo.
pub const ISSUER: &str = "Amazon Web Services";

/// A virtual MFA device name as AWS accepts it: 1-226 of `[\w+=,.@-]`.
pub fn check_device_name(name: &str) -> Result<()> {
    let good = (1..=226).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_+=,.@-".contains(c));
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
mod tests {
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
