//! Where and how to reach AWS for a profile: region, STS and IAM
//! endpoints, and the time limit of one operation, each with where it came
//! from. Resolved from the environment and the profile, before any client
//! is built.

use std::time::Duration;

use anyhow::Result;

use crate::error::Failure;
use crate::origin::Origin;
use crate::profile::{Key, Profile};

/// How long one AWS operation may take, retries included, unless
/// `MFA_SESSION_TIMEOUT` says otherwise. STS answers in well under a second;
/// this bound only matters when the network is broken.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(20);

/// Where and how to reach AWS.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Connection {
    pub region: String,
    pub sts_endpoint: Option<String>,
    pub iam_endpoint: Option<String>,
    pub timeout: Duration,
    /// Where each came from.
    pub region_from: Origin,
    pub sts_endpoint_from: Origin,
    pub iam_endpoint_from: Origin,
}

impl Connection {
    /// Everything comes from the environment and one profile (the root's
    /// for the MFA session, the requested one's for its roles),
    /// in the order the AWS SDKs document:
    /// - region: `AWS_REGION`, `AWS_DEFAULT_REGION`, the profile's `region`,
    ///   else us-east-1;
    /// - endpoints: none at all when `AWS_IGNORE_CONFIGURED_ENDPOINT_URLS` or
    ///   the profile's `ignore_configured_endpoint_urls` is true; else
    ///   `AWS_ENDPOINT_URL_STS` / `_IAM`, `AWS_ENDPOINT_URL`, the service's
    ///   `endpoint_url` in the profile's `services` section, the profile's
    ///   `endpoint_url`, else AWS's own.
    pub fn resolve(profile: &Profile) -> Result<Connection> {
        let from_env = |name: &'static str| -> Result<Option<(String, Origin)>> {
            Ok(env(name)?.map(|v| (v, Origin::Variable(name))))
        };
        let from_profile = |setting: Option<&crate::profile::Setting>| {
            setting
                .filter(|s| !s.value.trim().is_empty())
                .map(|s| (s.value.trim().to_owned(), s.origin()))
        };
        let (region, region_from) = match from_env("AWS_REGION")? {
            Some(found) => found,
            None => from_env("AWS_DEFAULT_REGION")?
                .or_else(|| from_profile(profile.get(Key::Region)))
                .unwrap_or_else(|| ("us-east-1".to_owned(), Origin::Default)),
        };
        let ignore_endpoints = env("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS")?
            .or_else(|| {
                profile
                    .value(Key::IgnoreConfiguredEndpointUrls)
                    .map(str::to_owned)
            })
            .is_some_and(|v| v.trim().eq_ignore_ascii_case("true"));
        let endpoint =
            |service: &str, service_var: &'static str| -> Result<(Option<String>, Origin)> {
                if ignore_endpoints {
                    return Ok((
                        None,
                        Origin::DefaultBecause("default (configured endpoints ignored)"),
                    ));
                }
                let found = match from_env(service_var)? {
                    Some(found) => Some(found),
                    None => from_env("AWS_ENDPOINT_URL")?
                        .or_else(|| from_profile(profile.service_endpoint(service)))
                        .or_else(|| from_profile(profile.get(Key::EndpointUrl))),
                };
                Ok(match found {
                    Some((url, from)) => (Some(url), from),
                    None => (None, Origin::Default),
                })
            };
        let timeout = match env("MFA_SESSION_TIMEOUT")? {
            None => DEFAULT_TIMEOUT,
            Some(text) => {
                let t = crate::input::parse_duration(&text).map_err(|e| {
                    Failure::usage(format!("MFA_SESSION_TIMEOUT: {e}"))
                        .hint("set it to a number of seconds, such as 20")
                })?;
                if t.is_zero() {
                    return Err(Failure::usage("MFA_SESSION_TIMEOUT must be more than 0").into());
                }
                t
            }
        };
        let (sts_endpoint, sts_endpoint_from) = endpoint("sts", "AWS_ENDPOINT_URL_STS")?;
        let (iam_endpoint, iam_endpoint_from) = endpoint("iam", "AWS_ENDPOINT_URL_IAM")?;
        Ok(Connection {
            region,
            sts_endpoint,
            iam_endpoint,
            timeout,
            region_from,
            sts_endpoint_from,
            iam_endpoint_from,
        })
    }
}

/// An environment variable: `None` when unset or blank, an error when it is
/// not UTF-8 (ignoring it could send requests somewhere the user did not mean).
pub fn env(name: &str) -> Result<Option<String>> {
    match std::env::var(name) {
        Ok(value) if !value.trim().is_empty() => Ok(Some(value)),
        Ok(_) | Err(std::env::VarError::NotPresent) => Ok(None),
        Err(std::env::VarError::NotUnicode(_)) => {
            Err(Failure::new(format!("{name} is not valid UTF-8"))
                .hint(format!("set {name} to plain text, or unset it"))
                .into())
        }
    }
}
