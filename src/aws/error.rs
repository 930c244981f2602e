//! AWS failures as types: [`classify`] is the one reader of an error's
//! code and message, [`describe`] the one writer of the user's line and hint
//! for each kind, given the operation that failed. Callers match
//! [`AwsError`] variants, never text.

use std::time::{Duration, SystemTime};

use aws_sdk_sts::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_sts::primitives::{DateTime, DateTimeFormat};
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;

use crate::error::Failure;

/// What went wrong, as far as the caller needs to know.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AwsError {
    /// The MFA code was wrong or already used (`AccessDenied` "one time
    /// pass code", or IAM's `InvalidAuthenticationCode`).
    WrongCode,
    /// AWS does not take the MFA serial for this user.
    UnknownDevice,
    /// A session key signed a call that needs the long-term key.
    SessionKeyAsLongTerm,
    /// The access key id is not valid (deleted, deactivated, mistyped).
    InvalidKey,
    /// The secret does not match the key id.
    SignatureMismatch,
    /// The signature is too old: this computer's clock is off by
    /// `skew_seconds` (local minus AWS), when AWS's Date header said.
    ClockSkew { skew_seconds: Option<i64> },
    /// The request was not signed whole (`IncompleteSignature`).
    MalformedRequest,
    /// An expired session signed the request.
    ExpiredToken,
    /// More than an hour asked for a role assumed with temporary
    /// credentials.
    ChainingLimit,
    /// More than the role's maximum session duration asked for.
    MaxDuration,
    /// Another `ValidationError` or `InvalidInput`.
    Invalid,
    /// `AccessDenied` for any other reason.
    Denied,
    /// STS is not active in the region.
    RegionDisabled,
    /// Too many requests.
    Throttled,
    /// AWS failed to answer (`InternalFailure`, `ServiceUnavailable`).
    ServerError,
    /// IAM's `LimitExceeded`: too many keys or devices.
    LimitExceeded,
    /// IAM's `EntityAlreadyExists`.
    AlreadyExists,
    /// IAM's `NoSuchEntity`.
    NoSuchEntity,
    /// No answer within the operation's time limit.
    Timeout,
    /// The request never reached AWS.
    Unreachable,
    /// An answer came that cannot be read.
    Unreadable,
    /// Anything else AWS said.
    Other { code: String },
    /// The SDK failed before sending (a request it could not build).
    Local,
}

impl AwsError {
    /// AWS refused the request before it looked at the MFA code: the code
    /// was not spent.
    pub fn code_unused(&self) -> bool {
        matches!(
            self,
            AwsError::InvalidKey
                | AwsError::SignatureMismatch
                | AwsError::ClockSkew { .. }
                | AwsError::MalformedRequest
                | AwsError::Throttled
        )
    }

    /// The key itself was refused: any other call signed with it fails too.
    pub fn key_refused(&self) -> bool {
        matches!(
            self,
            AwsError::InvalidKey | AwsError::SignatureMismatch | AwsError::ClockSkew { .. }
        )
    }
}

/// A classified failure: its kind, and the text after "{what}: " in the
/// user's line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Classified {
    pub kind: AwsError,
    pub detail: String,
}

/// Reads an SDK error once: the only code that looks at `code()` and
/// `message()`. `service` names the endpoint ("AWS STS", "STS at URL").
pub fn classify<E>(err: &SdkError<E, HttpResponse>, service: &str, limit: Duration) -> Classified
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    let timed_out = matches!(err, SdkError::TimeoutError(_))
        || matches!(err, SdkError::DispatchFailure(d) if d.is_timeout());
    if timed_out {
        return Classified {
            kind: AwsError::Timeout,
            detail: format!("{service} did not answer within {}s", limit.as_secs_f64()),
        };
    }
    let service_err = match err {
        SdkError::DispatchFailure(_) => {
            return Classified {
                kind: AwsError::Unreachable,
                detail: format!("cannot reach {service}: {}", root_cause(err)),
            };
        }
        SdkError::ResponseError(_) => {
            return Classified {
                kind: AwsError::Unreadable,
                detail: format!(
                    "{service} sent an answer that cannot be read: {}",
                    root_cause(err)
                ),
            };
        }
        SdkError::ServiceError(service_err) => service_err,
        _ => {
            return Classified {
                kind: AwsError::Local,
                detail: root_cause(err),
            };
        }
    };
    let code = err.code().unwrap_or("UnknownError");
    let message = err
        .message()
        .unwrap_or_default()
        .trim()
        .trim_end_matches('.');
    let response = service_err.raw();
    let detail = if message.is_empty() {
        format!("{code} (HTTP {})", response.status().as_u16())
    } else {
        format!("{code}: {message}")
    };
    let kind = match code {
        "AccessDenied" if message.contains("one time pass code") => AwsError::WrongCode,
        "AccessDenied"
            if message.contains("unable to validate MFA code")
                || message.contains("serial number") =>
        {
            AwsError::UnknownDevice
        }
        "AccessDenied" if message.contains("session credentials") => AwsError::SessionKeyAsLongTerm,
        "AccessDenied" => AwsError::Denied,
        "InvalidAuthenticationCode" => AwsError::WrongCode,
        "InvalidClientTokenId" | "UnrecognizedClientException" => AwsError::InvalidKey,
        "SignatureDoesNotMatch" if message.contains("expired") => AwsError::ClockSkew {
            skew_seconds: skew_of(response),
        },
        "SignatureDoesNotMatch" => AwsError::SignatureMismatch,
        "IncompleteSignature" => AwsError::MalformedRequest,
        "ExpiredToken" => AwsError::ExpiredToken,
        "ValidationError" if message.contains("1 hour session limit") => AwsError::ChainingLimit,
        "ValidationError" if message.contains("MaxSessionDuration") => AwsError::MaxDuration,
        "ValidationError" | "InvalidInput" => AwsError::Invalid,
        "RegionDisabledException" => AwsError::RegionDisabled,
        "Throttling"
        | "ThrottlingException"
        | "RequestLimitExceeded"
        | "TooManyRequestsException" => AwsError::Throttled,
        "InternalFailure" | "ServiceUnavailable" | "InternalError" => AwsError::ServerError,
        "LimitExceeded" => AwsError::LimitExceeded,
        "EntityAlreadyExists" => AwsError::AlreadyExists,
        "NoSuchEntity" => AwsError::NoSuchEntity,
        other => AwsError::Other {
            code: other.to_owned(),
        },
    };
    Classified { kind, detail }
}

/// The operation that failed, with what its messages name.
pub enum Op<'a> {
    /// GetCallerIdentity to learn the user.
    Identify,
    /// The warm-up before the code is sent refused the key.
    WarmUp,
    ListDevices,
    GetSessionToken {
        serial: &'a str,
    },
    AssumeRole {
        role: &'a str,
        duration: Duration,
        by_session: bool,
    },
    ListAccessKeys {
        user: &'a str,
    },
    CreateAccessKey {
        user: &'a str,
    },
    DeleteAccessKey {
        user: &'a str,
        id: &'a str,
    },
    CreateDevice {
        name: &'a str,
    },
    EnableDevice {
        user: &'a str,
        serial: &'a str,
    },
    DeleteDevice {
        serial: &'a str,
    },
}

const WRONG_CODE_HINT: &str =
    "the code was wrong or already used: wait for the next code from the device and try again";

const SELF_SERVICE: &str =
    "without MFA: an administrator can attach the one from: mfa-session policy self-service";

/// The user's line and hint for a classified failure of `op` by the key of
/// `profile`: the one place that words them.
pub fn describe(op: &Op, profile: &str, classified: Classified) -> Failure {
    use AwsError::*;
    let what = match op {
        Op::Identify => format!("could not identify the user of profile '{profile}'"),
        Op::WarmUp => {
            format!("not sending the code: the key of profile '{profile}' was refused")
        }
        Op::ListDevices => format!("could not list the MFA devices of profile '{profile}'"),
        Op::GetSessionToken { serial } => format!("could not get a session token for {serial}"),
        Op::AssumeRole { role, .. } => format!("could not assume role {role}"),
        Op::ListAccessKeys { user } => format!("could not list the access keys of user {user}"),
        Op::CreateAccessKey { user } => format!("could not create an access key for user {user}"),
        Op::DeleteAccessKey { user, id } => {
            format!("could not delete the access key {id} of user {user}")
        }
        Op::CreateDevice { name } => format!("could not create the virtual MFA device '{name}'"),
        Op::EnableDevice { user, serial } => format!("could not enable {serial} for user {user}"),
        Op::DeleteDevice { serial } => format!("could not delete {serial}"),
    };
    let kind = classified.kind.clone();
    if let (Op::AssumeRole { duration, .. }, ChainingLimit) = (op, &kind) {
        return Failure::new(format!(
            "{what}: AWS allows at most 1 hour for a role assumed with temporary credentials (role chaining), and {} was asked for",
            crate::input::format_duration(*duration)
        ))
        .hint(crate::limits::CHAINING_HINT)
        .with_kind(kind);
    }
    let failure = Failure::new(format!("{what}: {}", classified.detail));
    let hint = op_hint(op, profile, &kind).or_else(|| common_hint(profile, &kind));
    let failure = match hint {
        Some(hint) => failure.hint(hint),
        None => failure,
    };
    failure.with_kind(kind)
}

/// A hint that only this operation gives for this kind.
fn op_hint(op: &Op, profile: &str, kind: &AwsError) -> Option<String> {
    use AwsError::*;
    Some(match (op, kind) {
        (Op::GetSessionToken { .. } | Op::AssumeRole { .. }, WrongCode) => {
            WRONG_CODE_HINT.to_owned()
        }
        (Op::GetSessionToken { serial }, UnknownDevice) => format!(
            "{serial} is not an MFA device of the user behind profile '{profile}': check --serial-number or mfa_serial, or leave both out to list the user's devices"
        ),
        (Op::GetSessionToken { .. }, SessionKeyAsLongTerm) => format!(
            "profile '{profile}' must hold the IAM user's long-term access key (AKIA...), not a session"
        ),
        (Op::GetSessionToken { .. }, ChainingLimit | MaxDuration | Invalid) => {
            "check the MFA serial number and the duration (15m to 36h)".to_owned()
        }
        (Op::AssumeRole { role, .. }, UnknownDevice | SessionKeyAsLongTerm | Denied) => format!(
            "the trust policy of {role} must allow this user (with MFA) to assume it, and the user's own policy must allow sts:AssumeRole on it"
        ),
        (Op::AssumeRole { .. }, MaxDuration) => {
            "ask for less (-d, or duration_seconds in the profile), or raise the role's maximum session duration in IAM".to_owned()
        }
        (Op::AssumeRole { by_session: true, .. }, ExpiredToken) => {
            "the MFA session under the role has expired: run again with --force to start a new one".to_owned()
        }
        (Op::ListDevices, Denied | UnknownDevice | SessionKeyAsLongTerm | WrongCode) => format!(
            "name the device instead: --serial-number ARN, or mfa_serial = ARN in profile '{profile}'"
        ),
        (Op::CreateAccessKey { .. }, LimitExceeded) => {
            "a user may have two access keys: delete the one not in use first (mfa-session rotate --delete-inactive deletes an inactive one)".to_owned()
        }
        (Op::CreateDevice { name }, AlreadyExists) => format!(
            "a device named '{name}' exists already, perhaps left unassigned by an earlier try; only an administrator (or a policy that allows iam:DeleteVirtualMFADevice) can delete it: choose another name with --name"
        ),
        (Op::CreateDevice { .. }, LimitExceeded) => {
            "a user may have at most 8 MFA devices, and an account a limited number: remove one first".to_owned()
        }
        (Op::CreateDevice { .. }, Denied | UnknownDevice | SessionKeyAsLongTerm | WrongCode) => {
            format!("the user's policy must allow iam:CreateVirtualMFADevice {SELF_SERVICE}")
        }
        (Op::EnableDevice { .. }, WrongCode) => {
            "enter two codes in a row as the app shows them (wait for a new one each time), and check that the phone's clock is right".to_owned()
        }
        (Op::EnableDevice { .. }, AlreadyExists) => {
            "the user has this device already, or it belongs to another user".to_owned()
        }
        (Op::EnableDevice { .. }, LimitExceeded) => {
            "a user may have at most 8 MFA devices: remove one first".to_owned()
        }
        (Op::EnableDevice { .. }, Denied | UnknownDevice | SessionKeyAsLongTerm) => {
            format!("the user's policy must allow iam:EnableMFADevice {SELF_SERVICE}")
        }
        _ => return None,
    })
}

/// The hint a kind gives whatever the operation was.
fn common_hint(profile: &str, kind: &AwsError) -> Option<String> {
    use AwsError::*;
    let network = "check the network connection, a VPN or proxy, and AWS_ENDPOINT_URL if it is set";
    Some(match kind {
        Timeout | Unreachable => network.to_owned(),
        InvalidKey => format!(
            "the access key of profile '{profile}' is not valid (deactivated or deleted?): create a new one in the IAM console, then run: aws configure --profile {profile}"
        ),
        ClockSkew { skew_seconds } => match skew_seconds {
            Some(skew) => clock_hint_for(*skew),
            None => "this computer's clock is wrong: set it right (e.g. sudo timedatectl set-ntp true) and try again".to_owned(),
        },
        SignatureMismatch => format!(
            "the secret key of profile '{profile}' does not match its access key id: check aws_secret_access_key"
        ),
        ExpiredToken => format!(
            "an expired session signed the request: profile '{profile}' must hold a long-term access key"
        ),
        RegionDisabled => "use a region where STS is active (AWS_REGION or region in the profile), or activate it in IAM > Account settings".to_owned(),
        Throttled => "AWS is limiting the rate of requests: wait a minute and try again".to_owned(),
        ServerError => "AWS had a problem answering: try again in a moment".to_owned(),
        _ => return None,
    })
}

pub fn clock_hint_for(skew_seconds: i64) -> String {
    let minutes = skew_seconds.unsigned_abs().div_ceil(60);
    let direction = if skew_seconds > 0 { "ahead" } else { "behind" };
    format!(
        "this computer's clock is about {minutes} min {direction} of AWS: set it right (e.g. sudo timedatectl set-ntp true) and try again"
    )
}

/// Local time minus AWS's, from the Date header of a refusal.
fn skew_of(response: &HttpResponse) -> Option<i64> {
    let server = response
        .headers()
        .get("date")
        .and_then(|d| DateTime::from_str(d, DateTimeFormat::HttpDate).ok())?
        .secs();
    let local = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .ok()?
        .as_secs() as i64;
    Some(local - server)
}

/// The innermost message of an error chain, which is where the useful part
/// ("Connection refused") lives; the outer layers only say "dispatch failure".
pub fn root_cause(err: &(dyn std::error::Error + 'static)) -> String {
    let mut current = err;
    while let Some(next) = current.source() {
        current = next;
    }
    let text = current.to_string();
    match text.find(" (os error") {
        Some(i) => text[..i].to_lowercase(),
        None => text,
    }
}
