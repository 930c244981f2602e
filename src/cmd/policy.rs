//! `mfa-session policy force-mfa|self-service`: the seeds' two IAM policies,
//! shipped in the binary, for an administrator to attach:
//!
//! ```text
//! mfa-session policy self-service | aws iam create-policy \
//!     --policy-name ForceMFA --policy-document file:///dev/stdin
//! ```
//!
//! Both deny everything but setting up MFA (and GetSessionToken) until the
//! caller signed in with MFA, so a new user can enroll a device from the
//! terminal (`mfa-session enroll`).

use anyhow::Result;

use crate::cli::{PolicyArgs, PolicyName};
use crate::error::Failure;

pub const FORCE_MFA: &str = include_str!("../policies/force-mfa.json");
pub const SELF_SERVICE: &str = include_str!("../policies/self-service.json");

pub fn run(args: &PolicyArgs) -> Result<String> {
    let (text, about) = match args.policy {
        PolicyName::ForceMfa => (
            FORCE_MFA,
            "force-mfa: denies everything but MFA setup, password change and GetSessionToken until the user signed in with MFA; grants nothing itself (attach it beside the user's own permissions)",
        ),
        PolicyName::SelfService => (
            SELF_SERVICE,
            "self-service: lets users manage their own password, keys and MFA device, and denies everything else until they signed in with MFA",
        ),
    };
    let text = match &args.account {
        None => text.to_owned(),
        Some(account) => {
            if account.len() != 12 || !account.bytes().all(|b| b.is_ascii_digit()) {
                return Err(Failure::usage(format!(
                    "--account: '{account}' is not an AWS account id (12 digits)"
                ))
                .into());
            }
            text.replace("arn:aws:iam::*:", &format!("arn:aws:iam::{account}:"))
        }
    };
    crate::say(about);
    crate::say("both let a new user enroll an MFA device with: mfa-session enroll PROFILE");
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The policy block of a seed document.
    fn seed(name: &str) -> serde_json::Value {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/data/seeds")
            .join(name);
        let text = std::fs::read_to_string(path).unwrap();
        let start = text.find("```\n").unwrap() + 4;
        let end = start + text[start..].find("```").unwrap();
        serde_json::from_str(&text[start..end]).unwrap()
    }

    #[test]
    fn policies_are_the_seeds() {
        let force: serde_json::Value = serde_json::from_str(FORCE_MFA).unwrap();
        let own: serde_json::Value = serde_json::from_str(SELF_SERVICE).unwrap();
        assert_eq!(force, seed("000-force-mfa.md"));
        assert_eq!(own, seed("002-self-service.md"));
        // What enrollment needs is allowed without MFA by both.
        for policy in [&force, &own] {
            let deny = policy["Statement"]
                .as_array()
                .unwrap()
                .iter()
                .find(|s| s["Effect"] == "Deny")
                .unwrap();
            let allowed: Vec<&str> = deny["NotAction"]
                .as_array()
                .unwrap()
                .iter()
                .map(|a| a.as_str().unwrap())
                .collect();
            for action in [
                "iam:CreateVirtualMFADevice",
                "iam:EnableMFADevice",
                "iam:ListMFADevices",
                "sts:GetSessionToken",
            ] {
                assert!(allowed.contains(&action), "{action}");
            }
        }
    }

    #[test]
    fn account_ids_go_into_the_arns() {
        let args = PolicyArgs {
            policy: PolicyName::SelfService,
            account: Some("123456789012".to_owned()),
        };
        let text = run(&args).unwrap();
        assert!(text.contains("arn:aws:iam::123456789012:user/${aws:username}"));
        assert!(!text.contains("arn:aws:iam::*:"));
        serde_json::from_str::<serde_json::Value>(&text).unwrap();
        let bad = PolicyArgs {
            policy: PolicyName::ForceMfa,
            account: Some("12345".to_owned()),
        };
        assert!(run(&bad).is_err());
    }
}
