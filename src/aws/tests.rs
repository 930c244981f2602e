//! SDK-level tests for what a local endpoint cannot produce: the exact error
//! bodies real AWS sends, throttling, server errors and broken answers.

use std::time::Duration;

use aws_sdk_sts::config::retry::RetryConfig;
use aws_smithy_mocks::{Rule, RuleMode, mock, mock_client};
use aws_smithy_runtime_api::http::StatusCode;
use aws_smithy_types::body::SdkBody;

use super::*;
use crate::error::Report;

const SERIAL: &str = "arn:aws:iam::123456789012:mfa/alice";

fn response(status: u16, body: &str) -> HttpResponse {
    HttpResponse::new(
        StatusCode::try_from(status).expect("status"),
        SdkBody::from(body.to_owned()),
    )
}

/// An error body as STS and IAM (awsQuery protocol) send it.
fn error_body(code: &str, message: &str) -> String {
    format!(
        "<ErrorResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\">\n\
         <Error><Type>Sender</Type><Code>{code}</Code><Message>{message}</Message></Error>\n\
         <RequestId>4b6a8e2e-6f4a-4d2b-9d0c-7d1f0e6c2a11</RequestId>\n</ErrorResponse>\n"
    )
}

const SESSION_BODY: &str = "<GetSessionTokenResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\">\
  <GetSessionTokenResult><Credentials>\
    <SessionToken>FwoGZXIvYXdzEBYaDH+token/with=chars</SessionToken>\
    <SecretAccessKey>wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLEKEY</SecretAccessKey>\
    <Expiration>2099-11-23T21:00:00Z</Expiration>\
    <AccessKeyId>ASIAIOSFODNN7EXAMPLE</AccessKeyId>\
  </Credentials></GetSessionTokenResult>\
  <ResponseMetadata><RequestId>58c5dbae-abef-11e0-8cfe-09039844ac7d</RequestId></ResponseMetadata>\
</GetSessionTokenResponse>";

fn session_rule(status: u16, body: String) -> Rule {
    mock!(aws_sdk_sts::Client::get_session_token)
        .then_http_response(move || response(status, &body))
}

fn fast_retries(c: aws_sdk_sts::config::Builder) -> aws_sdk_sts::config::Builder {
    c.retry_config(
        RetryConfig::standard()
            .with_max_attempts(3)
            .with_initial_backoff(Duration::from_millis(1)),
    )
}

fn fast_iam_retries(c: aws_sdk_iam::config::Builder) -> aws_sdk_iam::config::Builder {
    c.retry_config(
        aws_sdk_iam::config::retry::RetryConfig::standard()
            .with_max_attempts(3)
            .with_initial_backoff(Duration::from_millis(1)),
    )
}

fn aws(sts_rules: &[&Rule], iam_rules: &[&Rule]) -> Aws {
    Aws {
        runtime: runtime().unwrap(),
        sts: mock_client!(aws_sdk_sts, RuleMode::Sequential, sts_rules, fast_retries),
        iam: mock_client!(
            aws_sdk_iam,
            RuleMode::Sequential,
            iam_rules,
            fast_iam_retries
        ),
        profile: "work".to_owned(),
        sts_name: "AWS STS".to_owned(),
        iam_name: "AWS IAM".to_owned(),
        timeout: DEFAULT_TIMEOUT,
        by_session: false,
        one_endpoint: true,
    }
}

fn code() -> MfaCode {
    MfaCode::parse("024680").unwrap()
}

fn session_error(code_: &str, message: &str) -> Report {
    let rule = session_rule(403, error_body(code_, message));
    let err = aws(&[&rule], &[])
        .session_token(SERIAL, &code(), Duration::from_secs(43200))
        .unwrap_err();
    let report = Report::new(&err);
    assert!(
        !report.line.contains("024680"),
        "code leaked: {}",
        report.line
    );
    report
}

/// The kind a GetSessionToken failure with this body is classified as.
fn session_kind(status: u16, code_: &str, message: &str) -> Option<AwsError> {
    let rule = session_rule(status, error_body(code_, message));
    let err = aws(&[&rule], &[])
        .session_token(SERIAL, &code(), Duration::from_secs(43200))
        .unwrap_err();
    Failure::kind::<AwsError>(&err)
}

#[test]
fn real_aws_error_bodies_are_classified_by_kind() {
    use AwsError::*;
    let cases: &[(u16, &str, &str, AwsError)] = &[
        (
            403,
            "AccessDenied",
            "MultiFactorAuthentication failed with invalid MFA one time pass code. ",
            WrongCode,
        ),
        (
            403,
            "AccessDenied",
            "MultiFactorAuthentication failed, unable to validate MFA code. Please verify your MFA serial number is valid and associated with this user.",
            UnknownDevice,
        ),
        (
            403,
            "AccessDenied",
            "Cannot call GetSessionToken with session credentials",
            SessionKeyAsLongTerm,
        ),
        (
            403,
            "AccessDenied",
            "User: arn:aws:iam::123456789012:user/alice is not authorized to perform: sts:GetSessionToken",
            Denied,
        ),
        (
            403,
            "InvalidClientTokenId",
            "The security token included in the request is invalid.",
            InvalidKey,
        ),
        (
            400,
            "UnrecognizedClientException",
            "The security token included in the request is invalid.",
            InvalidKey,
        ),
        (
            403,
            "SignatureDoesNotMatch",
            "The request signature we calculated does not match the signature you provided.",
            SignatureMismatch,
        ),
        (
            403,
            "SignatureDoesNotMatch",
            "Signature expired: 20261201T120000Z is now earlier than 20261201T121500Z (20261201T122000Z - 5 min.)",
            ClockSkew { skew_seconds: None },
        ),
        (
            403,
            "IncompleteSignature",
            "Request must contain a signature that conforms to AWS standards",
            MalformedRequest,
        ),
        (
            403,
            "ExpiredToken",
            "The security token included in the request is expired",
            ExpiredToken,
        ),
        (
            400,
            "ValidationError",
            "1 validation error detected: Value '10' at 'durationSeconds' failed to satisfy constraint",
            Invalid,
        ),
        (
            403,
            "RegionDisabledException",
            "STS is not activated in this region for account:123456789012.",
            RegionDisabled,
        ),
        (
            400,
            "InvalidAction",
            "Could not find operation",
            Other {
                code: "InvalidAction".to_owned(),
            },
        ),
    ];
    for (status, code_, message, expected) in cases {
        let kind = session_kind(*status, code_, message);
        // A mock answer carries no Date header: the skew is unknown.
        assert_eq!(kind.as_ref(), Some(expected), "{code_}: {message}");
    }
    // What the kinds mean for the code: unused when AWS refused first.
    assert!(InvalidKey.code_unused() && Throttled.code_unused());
    assert!(!WrongCode.code_unused() && !Denied.code_unused());
    assert!(SignatureMismatch.key_refused() && !Throttled.key_refused());
}

#[test]
fn success_gives_the_session() {
    let rule = session_rule(200, SESSION_BODY.to_owned());
    let session = aws(&[&rule], &[])
        .session_token(SERIAL, &code(), Duration::from_secs(43200))
        .unwrap();
    assert_eq!(session.access_key_id, "ASIAIOSFODNN7EXAMPLE");
    assert_eq!(session.session_token, "FwoGZXIvYXdzEBYaDH+token/with=chars");
    assert_eq!(session.expiration_rfc3339(), "2099-11-23T21:00:00Z");
}

#[test]
fn wrong_code() {
    let report = session_error(
        "AccessDenied",
        "MultiFactorAuthentication failed with invalid MFA one time pass code. ",
    );
    assert_eq!(
        report.line,
        "could not get a session token for arn:aws:iam::123456789012:mfa/alice: AccessDenied: \
         MultiFactorAuthentication failed with invalid MFA one time pass code"
    );
    assert!(report.hint.unwrap().contains("wait for the next code"));
    assert_eq!(report.exit, crate::error::Exit::Failure);
}

#[test]
fn serial_not_of_this_user() {
    let report = session_error(
        "AccessDenied",
        "MultiFactorAuthentication failed, unable to validate MFA code. Please verify your MFA serial number is valid and associated with this user.",
    );
    assert!(
        report.line.contains("unable to validate MFA code"),
        "{}",
        report.line
    );
    let hint = report.hint.unwrap();
    assert!(
        hint.contains("is not an MFA device of the user behind profile 'work'"),
        "{hint}"
    );
}

#[test]
fn session_credentials_in_the_profile() {
    let report = session_error(
        "AccessDenied",
        "Cannot call GetSessionToken with session credentials",
    );
    assert!(report.hint.unwrap().contains("long-term access key"));
}

#[test]
fn deactivated_key() {
    let report = session_error(
        "InvalidClientTokenId",
        "The security token included in the request is invalid.",
    );
    assert!(
        report.line.ends_with(
            "InvalidClientTokenId: The security token included in the request is invalid"
        ),
        "{}",
        report.line
    );
    assert!(
        report
            .hint
            .unwrap()
            .contains("aws configure --profile work")
    );
}

#[test]
fn wrong_secret_key() {
    let report = session_error(
        "SignatureDoesNotMatch",
        "The request signature we calculated does not match the signature you provided.",
    );
    assert!(
        report
            .hint
            .unwrap()
            .contains("secret key of profile 'work'")
    );
}

#[test]
fn expired_token() {
    let report = session_error(
        "ExpiredToken",
        "The security token included in the request is expired",
    );
    assert!(report.hint.unwrap().contains("long-term access key"));
}

#[test]
fn clock_skew_is_measured_from_the_date_header() {
    // AWS's clock says 40 minutes before ours.
    let server = SystemTime::now() - Duration::from_secs(40 * 60);
    let date = DateTime::from(server)
        .fmt(DateTimeFormat::HttpDate)
        .unwrap();
    let body = error_body(
        "SignatureDoesNotMatch",
        "Signature expired: 20261123T094000Z is now earlier than 20261123T090500Z (20261123T092000Z - 15 min.)",
    );
    let rule = mock!(aws_sdk_sts::Client::get_session_token).then_http_response(move || {
        let mut r = response(403, &body);
        r.headers_mut().insert("Date", date.clone());
        r
    });
    let err = aws(&[&rule], &[])
        .session_token(SERIAL, &code(), Duration::from_secs(3600))
        .unwrap_err();
    let report = Report::new(&err);
    assert!(
        report
            .line
            .contains("SignatureDoesNotMatch: Signature expired"),
        "{}",
        report.line
    );
    let hint = report.hint.unwrap();
    assert!(hint.contains("about 40 min ahead of AWS"), "{hint}");
}

#[test]
fn clock_hint_wording() {
    assert!(clock_hint_for(-125).contains("about 3 min behind"));
    assert!(clock_hint_for(60).contains("about 1 min ahead"));
}

#[test]
fn throttling_is_retried_then_succeeds() {
    let rule = mock!(aws_sdk_sts::Client::get_session_token)
        .sequence()
        .http_status(400, Some(error_body("Throttling", "Rate exceeded")))
        .http_status(
            503,
            Some(error_body("ServiceUnavailable", "Service unavailable")),
        )
        .http_status(200, Some(SESSION_BODY.to_owned()))
        .build();
    let session = aws(&[&rule], &[])
        .session_token(SERIAL, &code(), Duration::from_secs(3600))
        .unwrap();
    assert_eq!(session.access_key_id, "ASIAIOSFODNN7EXAMPLE");
    assert_eq!(rule.num_calls(), 3);
}

#[test]
fn throttling_that_persists_is_reported() {
    let rule = mock!(aws_sdk_sts::Client::get_session_token)
        .sequence()
        .http_status(400, Some(error_body("Throttling", "Rate exceeded")))
        .times(3)
        .build();
    let err = aws(&[&rule], &[])
        .session_token(SERIAL, &code(), Duration::from_secs(3600))
        .unwrap_err();
    let report = Report::new(&err);
    assert!(
        report.line.ends_with("Throttling: Rate exceeded"),
        "{}",
        report.line
    );
    assert!(report.hint.unwrap().contains("wait a minute"));
    assert_eq!(rule.num_calls(), 3);
}

#[test]
fn server_errors_that_persist_are_reported() {
    let rule = mock!(aws_sdk_sts::Client::get_session_token)
        .sequence()
        .http_status(
            500,
            Some(error_body("InternalFailure", "An internal error occurred")),
        )
        .times(3)
        .build();
    let err = aws(&[&rule], &[])
        .session_token(SERIAL, &code(), Duration::from_secs(3600))
        .unwrap_err();
    let report = Report::new(&err);
    assert!(
        report
            .line
            .ends_with("InternalFailure: An internal error occurred"),
        "{}",
        report.line
    );
    assert!(report.hint.unwrap().contains("try again"));
}

#[test]
fn truncated_answer() {
    let rule = session_rule(200, SESSION_BODY[..120].to_owned());
    let err = aws(&[&rule], &[])
        .session_token(SERIAL, &code(), Duration::from_secs(3600))
        .unwrap_err();
    let report = Report::new(&err);
    assert!(
        report.line.starts_with(
            "could not get a session token for arn:aws:iam::123456789012:mfa/alice: AWS STS sent an answer that cannot be read"
        ),
        "{}",
        report.line
    );
}

#[test]
fn error_without_a_message() {
    let rule = session_rule(403, "<html>Forbidden</html>".to_owned());
    let err = aws(&[&rule], &[])
        .session_token(SERIAL, &code(), Duration::from_secs(3600))
        .unwrap_err();
    let report = Report::new(&err);
    assert!(
        report
            .line
            .starts_with("could not get a session token for "),
        "{}",
        report.line
    );
    assert!(!report.line.contains('\n'));
}

const LIST_PAGE_1: &str = "<ListMFADevicesResponse xmlns=\"https://iam.amazonaws.com/doc/2010-05-08/\">\
  <ListMFADevicesResult><IsTruncated>true</IsTruncated><Marker>page2</Marker><MFADevices>\
    <member><UserName>alice</UserName><SerialNumber>arn:aws:iam::123456789012:u2f/user/alice/yubikey-ABCDEFGHIJKLMNOPQRSTUVWXYZ</SerialNumber><EnableDate>2024-01-01T00:00:00Z</EnableDate></member>\
    <member><UserName>alice</UserName><SerialNumber>arn:aws:iam::123456789012:mfa/alice-phone</SerialNumber><EnableDate>2024-01-01T00:00:00Z</EnableDate></member>\
  </MFADevices></ListMFADevicesResult>\
  <ResponseMetadata><RequestId>7a62c49f-347e-4fc4-9331-6e8eEXAMPLE</RequestId></ResponseMetadata>\
</ListMFADevicesResponse>";

const LIST_PAGE_2: &str = "<ListMFADevicesResponse xmlns=\"https://iam.amazonaws.com/doc/2010-05-08/\">\
  <ListMFADevicesResult><IsTruncated>false</IsTruncated><MFADevices>\
    <member><UserName>alice</UserName><SerialNumber>GAHT12345678</SerialNumber><EnableDate>2024-01-01T00:00:00Z</EnableDate></member>\
  </MFADevices></ListMFADevicesResult>\
  <ResponseMetadata><RequestId>7a62c49f-347e-4fc4-9331-6e8eEXAMPLE</RequestId></ResponseMetadata>\
</ListMFADevicesResponse>";

#[test]
fn devices_across_pages_without_fido_keys() {
    let first = mock!(aws_sdk_iam::Client::list_mfa_devices)
        .match_requests(|r| r.marker().is_none() && r.user_name().is_none())
        .then_http_response(|| response(200, LIST_PAGE_1));
    let second = mock!(aws_sdk_iam::Client::list_mfa_devices)
        .match_requests(|r| r.marker() == Some("page2"))
        .then_http_response(|| response(200, LIST_PAGE_2));
    let found = aws(&[], &[&first, &second]).mfa_devices().unwrap();
    assert_eq!(found.security_keys, 1);
    let devices = found.usable;
    let serials: Vec<_> = devices.iter().map(|d| d.serial.as_str()).collect();
    assert_eq!(
        serials,
        ["arn:aws:iam::123456789012:mfa/alice-phone", "GAHT12345678"]
    );
    assert_eq!(first.num_calls() + second.num_calls(), 2);
}

#[test]
fn devices_with_user_name_from_caller_identity_when_the_endpoint_needs_it() {
    let rules = || {
        let no_user = mock!(aws_sdk_iam::Client::list_mfa_devices)
            .match_requests(|r| r.user_name().is_none())
            .then_http_response(|| {
                response(
                    404,
                    &error_body("NoSuchEntity", "The user with name None cannot be found."),
                )
            });
        let identity = mock!(aws_sdk_sts::Client::get_caller_identity).then_http_response(|| {
            response(
                200,
                "<GetCallerIdentityResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\"><GetCallerIdentityResult>\
                 <Arn>arn:aws:iam::123456789012:user/team/alice</Arn><UserId>AIDAEXAMPLE</UserId><Account>123456789012</Account>\
                 </GetCallerIdentityResult><ResponseMetadata><RequestId>x</RequestId></ResponseMetadata></GetCallerIdentityResponse>",
            )
        });
        let with_user = mock!(aws_sdk_iam::Client::list_mfa_devices)
            .match_requests(|r| r.user_name() == Some("alice"))
            .then_http_response(|| response(200, LIST_PAGE_2));
        (no_user, identity, with_user)
    };
    let (no_user, identity, with_user) = rules();
    let devices = aws(&[&identity], &[&no_user, &with_user])
        .mfa_devices()
        .unwrap()
        .usable;
    assert_eq!(devices.len(), 1);
    assert_eq!(with_user.num_calls(), 1);
    // With two endpoints, GetCallerIdentity goes out with the first listing
    // and its answer serves (a second call would find no rule and panic).
    let (no_user, identity, with_user) = rules();
    let mut both = aws(&[&identity], &[&no_user, &with_user]);
    both.one_endpoint = false;
    assert_eq!(both.mfa_devices().unwrap().usable.len(), 1);
    assert_eq!(identity.num_calls(), 1);
    assert_eq!(with_user.num_calls(), 1);
}

#[test]
fn listing_denied_names_the_way_around_it() {
    let rule = mock!(aws_sdk_iam::Client::list_mfa_devices).then_http_response(|| {
        response(
            403,
            &error_body(
                "AccessDenied",
                "User: arn:aws:iam::123456789012:user/alice is not authorized to perform: iam:ListMFADevices on resource: user alice",
            ),
        )
    });
    let err = aws(&[], &[&rule]).mfa_devices().unwrap_err();
    let report = Report::new(&err);
    assert!(
        report
            .line
            .starts_with("could not list the MFA devices of profile 'work': AccessDenied: User:"),
        "{}",
        report.line
    );
    let hint = report.hint.unwrap();
    assert!(
        hint.contains("--serial-number") && hint.contains("mfa_serial"),
        "{hint}"
    );
}

#[test]
fn arns() {
    assert_eq!(
        user_name_from_arn("arn:aws:iam::123456789012:user/alice"),
        Some("alice")
    );
    assert_eq!(
        user_name_from_arn("arn:aws:iam::123456789012:user/a/b/carol"),
        Some("carol")
    );
    assert_eq!(user_name_from_arn("arn:aws:iam::123456789012:root"), None);
    assert_eq!(
        user_name_from_arn("arn:aws:sts::123456789012:assumed-role/r/s"),
        None
    );
    assert!(is_fido("arn:aws:iam::123456789012:u2f/user/alice/key-X"));
    assert!(!is_fido("arn:aws:iam::123456789012:mfa/alice"));
}

// ---------------------------------------------------------------------------
// AssumeRole

const ROLE: &str = "arn:aws:iam::222222222222:role/admin";

const ROLE_BODY: &str = "<AssumeRoleResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\">\
  <AssumeRoleResult><AssumedRoleUser>\
    <AssumedRoleId>AROA3XFRBF535PLBIFPI4:alice</AssumedRoleId>\
    <Arn>arn:aws:sts::222222222222:assumed-role/admin/alice</Arn>\
  </AssumedRoleUser><Credentials>\
    <AccessKeyId>ASIAROLEEXAMPLE00001</AccessKeyId>\
    <SecretAccessKey>roleSecretExample/0001</SecretAccessKey>\
    <SessionToken>IQoJb3JpZ2luX2VjEOr//role+token=</SessionToken>\
    <Expiration>2099-11-23T22:00:00Z</Expiration>\
  </Credentials></AssumeRoleResult>\
  <ResponseMetadata><RequestId>c6104cbe-af31-11e0-8154-cbc7ccf896c7</RequestId></ResponseMetadata>\
</AssumeRoleResponse>";

fn role_aws(status: u16, body: String) -> Aws {
    let rule =
        mock!(aws_sdk_sts::Client::assume_role).then_http_response(move || response(status, &body));
    let mut aws = aws(&[&rule], &[]);
    aws.by_session = true;
    aws
}

fn role_request(duration: Duration) -> RoleRequest<'static> {
    RoleRequest {
        role_arn: ROLE,
        session_name: "alice",
        external_id: None,
        duration,
        mfa: None,
    }
}

fn role_error(code_: &str, message: &str) -> Report {
    let aws = role_aws(403, error_body(code_, message));
    let err = aws
        .assume_role(&role_request(Duration::from_secs(3600)))
        .unwrap_err();
    Report::new(&err)
}

#[test]
fn assume_role_gives_the_role_session() {
    let aws = role_aws(200, ROLE_BODY.to_owned());
    let role = aws
        .assume_role(&role_request(Duration::from_secs(3600)))
        .unwrap();
    assert_eq!(role.session.access_key_id, "ASIAROLEEXAMPLE00001");
    assert_eq!(
        role.assumed_role_arn,
        "arn:aws:sts::222222222222:assumed-role/admin/alice"
    );
    assert_eq!(role.session.expiration_rfc3339(), "2099-11-23T22:00:00Z");
}

#[test]
fn assume_role_denied_by_the_trust_policy() {
    let report = role_error(
        "AccessDenied",
        "User: arn:aws:iam::111111111111:user/alice is not authorized to perform: sts:AssumeRole on resource: arn:aws:iam::222222222222:role/admin",
    );
    assert_eq!(
        report.line,
        "could not assume role arn:aws:iam::222222222222:role/admin: AccessDenied: User: arn:aws:iam::111111111111:user/alice is not authorized to perform: sts:AssumeRole on resource: arn:aws:iam::222222222222:role/admin"
    );
    assert!(
        report
            .hint
            .unwrap()
            .starts_with("the trust policy of arn:aws:iam::222222222222:role/admin must allow")
    );
}

#[test]
fn assume_role_over_the_chaining_limit() {
    let aws = role_aws(
        400,
        error_body(
            "ValidationError",
            "The requested DurationSeconds exceeds the 1 hour session limit for roles assumed by role chaining.",
        ),
    );
    let err = aws
        .assume_role(&role_request(Duration::from_secs(7200)))
        .unwrap_err();
    let report = Report::new(&err);
    assert_eq!(
        report.line,
        "could not assume role arn:aws:iam::222222222222:role/admin: AWS allows at most 1 hour for a role assumed with temporary credentials (role chaining), and 2h was asked for"
    );
    assert_eq!(report.hint.as_deref(), Some(crate::limits::CHAINING_HINT));
}

#[test]
fn assume_role_in_a_disabled_region() {
    let report = role_error(
        "RegionDisabledException",
        "STS is not activated in this region for account:222222222222. Your account administrator can activate STS in this region using the IAM Console.",
    );
    assert!(
        report
            .line
            .contains("RegionDisabledException: STS is not activated in this region"),
        "{}",
        report.line
    );
    assert!(
        report
            .hint
            .unwrap()
            .starts_with("use a region where STS is active")
    );
}

#[test]
fn assume_role_with_an_expired_mfa_session() {
    let report = role_error(
        "ExpiredToken",
        "The security token included in the request is expired",
    );
    assert_eq!(
        report.line,
        "could not assume role arn:aws:iam::222222222222:role/admin: ExpiredToken: The security token included in the request is expired"
    );
    assert_eq!(
        report.hint.as_deref(),
        Some(
            "the MFA session under the role has expired: run again with --force to start a new one"
        )
    );
}

#[test]
fn assume_role_with_a_wrong_code_under_direct() {
    let report = role_error(
        "AccessDenied",
        "MultiFactorAuthentication failed with invalid MFA one time pass code.",
    );
    assert!(
        report
            .hint
            .unwrap()
            .starts_with("the code was wrong or already used")
    );
}

// ---------------------------------------------------------------------------
// Enrollment

fn iam_error(code_: &str, message: &str) -> String {
    error_body(code_, message).replace(
        "sts.amazonaws.com/doc/2011-06-15",
        "iam.amazonaws.com/doc/2010-05-08",
    )
}

/// What CreateVirtualMFADevice reports when IAM answers with this error.
fn create_failure(status: u16, code_: &str, message: &str) -> Report {
    let body = iam_error(code_, message);
    let rule = mock!(aws_sdk_iam::Client::create_virtual_mfa_device)
        .then_http_response(move || response(status, &body));
    let err = aws(&[], &[&rule])
        .create_virtual_mfa_device("alice")
        .unwrap_err();
    Report::new(&err)
}

#[test]
fn a_device_over_the_limit() {
    let report = create_failure(
        409,
        "LimitExceeded",
        "Cannot exceed quota for MFADevicesPerUser: 8",
    );
    assert_eq!(
        report.line,
        "could not create the virtual MFA device 'alice': LimitExceeded: Cannot exceed quota for MFADevicesPerUser: 8"
    );
    assert!(
        report
            .hint
            .unwrap()
            .starts_with("a user may have at most 8 MFA devices")
    );
}

#[test]
fn creating_without_permission_points_at_the_policy() {
    let report = create_failure(
        403,
        "AccessDenied",
        "User: arn:aws:iam::123456789012:user/alice is not authorized to perform: iam:CreateVirtualMFADevice on resource: arn:aws:iam::123456789012:mfa/alice",
    );
    assert!(
        report
            .hint
            .unwrap()
            .ends_with("mfa-session policy self-service")
    );
}

#[test]
fn enabling_with_wrong_codes() {
    let body = iam_error(
        "InvalidAuthenticationCode",
        "Authentication code for device is not valid.",
    );
    let rule = mock!(aws_sdk_iam::Client::enable_mfa_device)
        .then_http_response(move || response(403, &body));
    let second = MfaCode::parse("135790").unwrap();
    let err = aws(&[], &[&rule])
        .enable_mfa_device("alice", SERIAL, &code(), &second)
        .unwrap_err();
    let report = Report::new(&err);
    assert_eq!(
        report.line,
        "could not enable arn:aws:iam::123456789012:mfa/alice for user alice: InvalidAuthenticationCode: Authentication code for device is not valid"
    );
    assert!(!report.line.contains("024680") && !report.line.contains("135790"));
    assert!(
        report
            .hint
            .unwrap()
            .contains("check that the phone's clock is right")
    );
}
