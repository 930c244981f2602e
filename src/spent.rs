//! MFA codes already sent. AWS accepts a TOTP code once: sent again, even by
//! another process a second later, it fails as a wrong code would
//! ("MultiFactorAuthentication failed with invalid MFA one time pass
//! code"). So each device's last code is remembered, and the same code is
//! refused before any request while it could still be valid.
//!
//! Only a SHA-256 over the device, the 30-second TOTP step the code was sent
//! in and the code is kept, never the code itself: a code of a past step is
//! worth nothing, and the hash names no step but the one it was sent in.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// The TOTP step: apps show a new code every 30 seconds.
pub const STEP_SECONDS: i64 = 30;

/// A code sent for one device.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SpentCode {
    pub serial: String,
    /// The TOTP step it was sent in (Unix time / 30).
    pub step: i64,
    /// When it was sent, in whole seconds (Unix time).
    pub sent_at: i64,
    /// SHA-256 of the serial, the step and the code, in hex.
    pub hash: String,
}

/// Why a code is not sent again.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refusal {
    pub sent_at: Timestamp,
    /// Seconds until the app shows its next code.
    pub next_in: i64,
}

impl SpentCode {
    /// The record of `code` sent for `serial` at `now`.
    pub fn new(serial: &str, code: &str, now: Timestamp) -> SpentCode {
        let step = step_of(now.as_second());
        SpentCode {
            serial: serial.to_owned(),
            step,
            sent_at: now.as_second(),
            hash: hash(serial, step, code),
        }
    }

    /// Whether sending `code` for `serial` at `now` would send this code
    /// again while AWS may still take it: in its own step or the next one
    /// (AWS allows for some drift of the device's clock).
    pub fn refuses(&self, serial: &str, code: &str, now: Timestamp) -> Option<Refusal> {
        let now_step = step_of(now.as_second());
        let in_window = (self.step..=self.step + 1).contains(&now_step);
        if self.serial != serial || !in_window || hash(serial, self.step, code) != self.hash {
            return None;
        }
        Some(Refusal {
            sent_at: Timestamp::from_second(self.sent_at).unwrap_or(now),
            next_in: next_code_in(now.as_second()),
        })
    }
}

impl Refusal {
    /// "that code was used at 14:02:11; wait for the next one (in 12 s)",
    /// the time in the local time zone.
    pub fn describe(&self) -> String {
        let at = self
            .sent_at
            .to_zoned(jiff::tz::TimeZone::system())
            .strftime("%H:%M:%S %Z")
            .to_string();
        format!(
            "that code was used at {at}; wait for the next one (in {} s)",
            self.next_in
        )
    }
}

/// The TOTP step of a Unix time.
pub fn step_of(unix_seconds: i64) -> i64 {
    unix_seconds.div_euclid(STEP_SECONDS)
}

/// Seconds from `unix_seconds` until the next step begins (1..=30).
pub fn next_code_in(unix_seconds: i64) -> i64 {
    STEP_SECONDS - unix_seconds.rem_euclid(STEP_SECONDS)
}

fn hash(serial: &str, step: i64, code: &str) -> String {
    let mut hasher = Sha256::new();
    for field in [serial.as_bytes(), &step.to_le_bytes(), code.as_bytes()] {
        hasher.update((field.len() as u64).to_le_bytes());
        hasher.update(field);
    }
    hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const SERIAL: &str = "arn:aws:iam::123456789012:mfa/alice";

    fn at(unix: i64) -> Timestamp {
        Timestamp::from_second(unix).unwrap()
    }

    #[test]
    fn steps_and_the_wait_for_the_next_code() {
        assert_eq!(step_of(0), 0);
        assert_eq!(step_of(29), 0);
        assert_eq!(step_of(30), 1);
        assert_eq!(step_of(-1), -1);
        assert_eq!(next_code_in(0), 30);
        assert_eq!(next_code_in(18), 12);
        assert_eq!(next_code_in(29), 1);
        assert_eq!(next_code_in(30), 30);
    }

    #[test]
    fn the_same_code_is_refused_in_its_step_and_the_next() {
        // Sent 6 s into a step (Unix time 1_800_000_006 is 6 s past a multiple of 30).
        let sent = SpentCode::new(SERIAL, "123456", at(1_800_000_006));
        assert_eq!(sent.step, 60_000_000);
        let refusal = sent.refuses(SERIAL, "123456", at(1_800_000_018)).unwrap();
        assert_eq!(refusal.next_in, 12);
        assert_eq!(refusal.sent_at, at(1_800_000_006));
        // In the next step: the app shows a new code, but AWS may still take this one.
        assert!(sent.refuses(SERIAL, "123456", at(1_800_000_045)).is_some());
        // Two steps on it is dead anyway; AWS's answer is left to AWS.
        assert!(sent.refuses(SERIAL, "123456", at(1_800_000_060)).is_none());
        // Another code, another device: sent.
        assert!(sent.refuses(SERIAL, "654321", at(1_800_000_018)).is_none());
        assert!(
            sent.refuses(
                "arn:aws:iam::123456789012:mfa/bob",
                "123456",
                at(1_800_000_018)
            )
            .is_none()
        );
        // A clock set back before the step: not the same window.
        assert!(sent.refuses(SERIAL, "123456", at(1_799_999_990)).is_none());
    }

    #[test]
    fn the_record_holds_no_code() {
        let sent = SpentCode::new(SERIAL, "864209", at(1_800_000_006));
        let json = serde_json::to_string(&sent).unwrap();
        assert!(!json.contains("864209"), "{json}");
        assert_eq!(sent.hash.len(), 64);
        // The hash depends on the step: the same code in another step differs.
        assert_ne!(
            sent.hash,
            SpentCode::new(SERIAL, "864209", at(1_800_000_036)).hash
        );
    }

    #[test]
    fn the_refusal_reads_as_the_user_needs_it() {
        let refusal = Refusal {
            sent_at: at(0),
            next_in: 12,
        };
        let text = refusal.describe();
        assert!(text.starts_with("that code was used at "), "{text}");
        assert!(
            text.ends_with("; wait for the next one (in 12 s)"),
            "{text}"
        );
    }
}
