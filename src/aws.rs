//! Every AWS request mfa-session makes; what their failures mean to a user
//! is [`error`]'s part (the one reader of AWS's error codes and messages).
//!
//! The async SDK stays inside this module: each public method blocks on a
//! current-thread runtime, so the rest of the program (prompts included) is
//! plain sequential code.
//!
//! Credentials are handed to the SDK as a fixed provider: the profile's
//! long-term key, or a session's credentials for the layers above it; the
//! SDK's default chain (environment variables first, instance metadata
//! last) is never consulted.

use std::time::{Duration, SystemTime};

use anyhow::Result;
use aws_config::BehaviorVersion;
use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_sdk_sts::config::{Credentials, Region};
use aws_sdk_sts::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_sts::primitives::{DateTime, DateTimeFormat};
use jiff::Timestamp;

use crate::error::Failure;
use crate::input::MfaCode;
use crate::profile::LongTermKey;
use crate::session::Session;

pub use crate::connection::Connection;
#[cfg(test)]
use crate::connection::DEFAULT_TIMEOUT;

mod error;

pub use error::{AwsError, clock_hint_for};
use error::{Classified, Op};

type HttpResponse = aws_smithy_runtime_api::http::Response;

/// An MFA device that can sign in through the API.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MfaDevice {
    pub serial: String,
    pub user_name: String,
}

/// A user's MFA devices: those a code can be sent for, and how many FIDO
/// security keys or passkeys there are besides (GetSessionToken cannot use
/// them).
#[derive(Debug)]
pub struct Devices {
    pub usable: Vec<MfaDevice>,
    pub security_keys: usize,
}

/// Clients for STS and IAM, signed with one profile's long-term key or with
/// a session's credentials.
pub struct Aws {
    runtime: &'static tokio::runtime::Runtime,
    sts: aws_sdk_sts::Client,
    iam: aws_sdk_iam::Client,
    profile: String,
    sts_name: String,
    iam_name: String,
    timeout: Duration,
    by_session: bool,
    /// STS and IAM are one endpoint (a local one): requests go one after
    /// the other, over one connection. AWS's own are two hosts.
    one_endpoint: bool,
}

/// What signs the requests.
#[derive(Clone, Copy)]
pub struct Signer<'a> {
    pub access_key_id: &'a str,
    pub secret_access_key: &'a str,
    pub session_token: Option<&'a str>,
}

impl<'a> From<&'a LongTermKey> for Signer<'a> {
    fn from(key: &'a LongTermKey) -> Signer<'a> {
        Signer {
            access_key_id: &key.access_key_id,
            secret_access_key: &key.secret_access_key,
            session_token: None,
        }
    }
}

impl<'a> From<&'a Session> for Signer<'a> {
    fn from(session: &'a Session) -> Signer<'a> {
        Signer {
            access_key_id: &session.access_key_id,
            secret_access_key: &session.secret_access_key,
            session_token: Some(&session.session_token),
        }
    }
}

/// An AssumeRole request.
pub struct RoleRequest<'a> {
    pub role_arn: &'a str,
    pub session_name: &'a str,
    pub external_id: Option<&'a str>,
    pub duration: Duration,
    /// The device and code, for an AssumeRole with MFA from a long-term key.
    pub mfa: Option<(&'a str, &'a MfaCode)>,
}

/// One of a user's access keys (never the secret).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AccessKey {
    pub id: String,
    pub active: bool,
    pub created: Option<Timestamp>,
}

/// A virtual MFA device just created. Debug never shows the seed.
pub struct NewDevice {
    pub serial: String,
    /// The Base32 secret: shown once, on the terminal only.
    pub seed: String,
    pub png: Vec<u8>,
}

impl std::fmt::Debug for NewDevice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "NewDevice({}, ****)", self.serial)
    }
}

impl Drop for NewDevice {
    fn drop(&mut self) {
        zeroize::Zeroize::zeroize(&mut self.seed);
    }
}

/// A role's session, and the ARN AWS gives the assumed role.
#[derive(Clone, Debug)]
pub struct RoleSession {
    pub session: Session,
    pub assumed_role_arn: String,
}

impl Aws {
    /// Clients built only from what mfa-session resolved itself. The
    /// aws-config loader is not used: it reads the shared config of
    /// `$AWS_PROFILE` (endpoint, region, retries), which may be another
    /// profile than the one whose key signs the requests.
    pub fn connect(profile: &str, signer: Signer, connection: &Connection) -> Result<Aws> {
        let runtime = runtime()?;
        let credentials = Credentials::new(
            signer.access_key_id,
            signer.secret_access_key,
            signer.session_token.map(str::to_owned),
            None,
            "mfa-session profile",
        );
        let timeouts = TimeoutConfig::builder()
            .connect_timeout(connection.timeout.min(Duration::from_secs(5)))
            .read_timeout(connection.timeout.min(Duration::from_secs(10)))
            .operation_attempt_timeout(connection.timeout.min(Duration::from_secs(10)))
            .operation_timeout(connection.timeout)
            .build();
        let retries = RetryConfig::standard().with_max_attempts(3);
        let region = Region::new(connection.region.clone());
        let mut sts = aws_sdk_sts::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(region.clone())
            .credentials_provider(credentials.clone())
            .timeout_config(timeouts.clone())
            .retry_config(retries.clone())
            .http_client(http_client(connection.sts_endpoint.as_deref()));
        sts.set_endpoint_url(connection.sts_endpoint.clone());
        let mut iam = aws_sdk_iam::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(region)
            .credentials_provider(credentials)
            .timeout_config(timeouts)
            .retry_config(retries)
            .http_client(http_client(connection.iam_endpoint.as_deref()));
        iam.set_endpoint_url(connection.iam_endpoint.clone());
        let (sts, iam) = (sts.build(), iam.build());
        Ok(Aws {
            runtime,
            sts: aws_sdk_sts::Client::from_conf(sts),
            iam: aws_sdk_iam::Client::from_conf(iam),
            profile: profile.to_owned(),
            sts_name: service_name("STS", connection.sts_endpoint.as_deref()),
            iam_name: service_name("IAM", connection.iam_endpoint.as_deref()),
            timeout: connection.timeout,
            by_session: signer.session_token.is_some(),
            one_endpoint: connection.sts_endpoint.is_some()
                && connection.sts_endpoint == connection.iam_endpoint,
        })
    }

    /// The MFA devices of the IAM user behind the key, FIDO keys left out (they
    /// cannot be used from the API).
    ///
    /// Real AWS infers the user from the signing key, so one request (per page)
    /// is enough. Endpoints that insist on `UserName` get it from
    /// GetCallerIdentity, which no policy can deny.
    ///
    /// With two endpoints (AWS's own), GetCallerIdentity goes out at the same
    /// time: it names the user if the listing needs it, and opens the
    /// connection to STS that the request for the session then reuses.
    pub fn mfa_devices(&self) -> Result<Devices> {
        let (first, identity) = if self.one_endpoint {
            (self.runtime.block_on(self.list_mfa_devices(None)), None)
        } else {
            let (first, identity) = self.runtime.block_on(join(
                self.list_mfa_devices(None),
                self.sts.get_caller_identity().send(),
            ));
            (first, Some(identity))
        };
        let devices = match first {
            Ok(devices) => devices,
            Err(err) if needs_user_name(&err) => {
                let user = match identity {
                    Some(Ok(identity)) => self.user_of(identity.arn().unwrap_or_default())?,
                    _ => self.user_name()?,
                };
                self.runtime
                    .block_on(self.list_mfa_devices(Some(&user)))
                    .map_err(|e| self.list_failure(e))?
            }
            Err(err) => return Err(self.list_failure(err)),
        };
        // Serials and names are printed in prompts: anything AWS would never
        // send (control characters, say) is left out with the FIDO keys,
        // which are counted (a user with only those is told what works).
        let (fido, other): (Vec<MfaDevice>, Vec<MfaDevice>) =
            devices.into_iter().partition(|d| is_fido(&d.serial));
        Ok(Devices {
            usable: other
                .into_iter()
                .filter(|d| crate::input::check_serial(&d.serial).is_ok())
                .filter(|d| crate::cache::valid_user_name(&d.user_name))
                .collect(),
            security_keys: fido.len(),
        })
    }

    async fn list_mfa_devices(
        &self,
        user: Option<&str>,
    ) -> Result<
        Vec<MfaDevice>,
        SdkError<aws_sdk_iam::operation::list_mfa_devices::ListMFADevicesError, HttpResponse>,
    > {
        let mut devices = Vec::new();
        let mut marker: Option<String> = None;
        loop {
            let page = self
                .iam
                .list_mfa_devices()
                .set_user_name(user.map(str::to_owned))
                .set_marker(marker.take())
                .send()
                .await?;
            devices.extend(page.mfa_devices().iter().map(|d| MfaDevice {
                serial: d.serial_number().to_owned(),
                user_name: d.user_name().to_owned(),
            }));
            match page.marker() {
                Some(next) if page.is_truncated() && !next.is_empty() => {
                    marker = Some(next.to_owned())
                }
                _ => return Ok(devices),
            }
        }
    }

    fn list_failure<E>(&self, err: SdkError<E, HttpResponse>) -> anyhow::Error
    where
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    {
        self.fail(&Op::ListDevices, &self.iam_name, &err).into()
    }

    /// The IAM user name behind the key: the last segment of the caller's ARN.
    fn user_name(&self) -> Result<String> {
        let identity = self
            .runtime
            .block_on(self.sts.get_caller_identity().send())
            .map_err(|e| self.fail(&Op::Identify, &self.sts_name, &e))?;
        self.user_of(identity.arn().unwrap_or_default())
    }

    /// The IAM user name in the caller's ARN.
    fn user_of(&self, arn: &str) -> Result<String> {
        if !answer::arn(arn) {
            let what = format!("could not identify the user of profile '{}'", self.profile);
            return Err(self.unusable(&what, &self.sts_name, "Arn"));
        }
        match user_name_from_arn(arn).filter(|name| crate::cache::valid_user_name(name)) {
            Some(name) => Ok(name.to_owned()),
            None => Err(Failure::new(format!(
                "profile '{}' does not belong to an IAM user (caller is {arn})",
                self.profile,
            ))
            .hint("name the MFA device with --serial-number ARN")
            .into()),
        }
    }

    /// Who the signing key belongs to, and AWS's clock: the caller's ARN
    /// and the time in the Date header of the answer (GetCallerIdentity,
    /// which no policy can deny).
    pub fn caller_identity(&self) -> Result<(String, Option<i64>)> {
        let date = DateHeader::default();
        let output = self
            .runtime
            .block_on(
                self.sts
                    .get_caller_identity()
                    .customize()
                    .interceptor(date.clone())
                    .send(),
            )
            .map_err(|e| anyhow::Error::from(self.fail(&Op::Identify, &self.sts_name, &e)))?;
        let server = date
            .0
            .lock()
            .ok()
            .and_then(|d| d.clone())
            .and_then(|d| DateTime::from_str(&d, DateTimeFormat::HttpDate).ok())
            .map(|d| d.secs());
        let arn = output.arn().unwrap_or_default();
        if !answer::arn(arn) {
            let what = format!("could not identify the user of profile '{}'", self.profile);
            return Err(self.unusable(&what, &self.sts_name, "Arn"));
        }
        Ok((arn.to_owned(), server))
    }

    /// A failure for an answer with a value AWS never sends (which is not
    /// shown: it may hold escape sequences).
    fn unusable(&self, what: &str, service: &str, field: &str) -> anyhow::Error {
        Failure::new(format!(
            "{what}: {service} sent an answer that cannot be used: its {field} holds characters AWS never sends"
        ))
        .hint("check AWS_ENDPOINT_URL and the profile's endpoint_url: the answer did not come from AWS as it is")
        .into()
    }

    /// Runs `ask` (the prompt, or a code command: plain blocking code, on a
    /// thread of its own) while GetCallerIdentity goes out with this
    /// client's key, which no policy can deny. The user's seconds at the
    /// prompt then pay for the connection (TCP, TLS), which the request after
    /// it reuses, and a key that AWS refuses, or a clock AWS calls wrong, is
    /// reported before the code is spent. Nothing else of the warm-up
    /// matters: a network failure there is left to the request itself, and
    /// a warm-up still under way when the answer comes is not waited for.
    pub fn warm_while<T: Send>(&self, ask: impl FnOnce() -> T + Send) -> Result<T> {
        use std::future::Future;
        use std::sync::{Arc, Mutex};
        use std::task::{Poll, Waker};
        #[derive(Default)]
        struct Answered {
            done: bool,
            waker: Option<Waker>,
        }
        let answered = Arc::new(Mutex::new(Answered::default()));
        let date = DateHeader::default();
        let (answer, warm) = std::thread::scope(|scope| {
            let signal = answered.clone();
            let asking = scope.spawn(move || {
                let answer = ask();
                if let Ok(mut state) = signal.lock() {
                    state.done = true;
                    if let Some(waker) = state.waker.take() {
                        waker.wake();
                    }
                }
                answer
            });
            let warm = self.runtime.block_on(async {
                let mut call = std::pin::pin!(
                    self.sts
                        .get_caller_identity()
                        .customize()
                        .interceptor(date.clone())
                        .send()
                );
                let mut result = None;
                std::future::poll_fn(|cx| {
                    if result.is_none()
                        && let Poll::Ready(r) = call.as_mut().poll(cx)
                    {
                        // The clocks compare when the answer came, not when
                        // the user was done typing.
                        result = Some((r, SystemTime::now()));
                    }
                    let Ok(mut state) = answered.lock() else {
                        return Poll::Ready(());
                    };
                    if state.done {
                        return Poll::Ready(());
                    }
                    state.waker = Some(cx.waker().clone());
                    Poll::Pending
                })
                .await;
                result
            });
            (asking.join(), warm)
        });
        let answer = answer.map_err(|_| Failure::new("the prompt failed"))?;
        match warm {
            Some((Err(err), _)) if self.classify(&self.sts_name, &err).kind.key_refused() => {
                Err(self.fail(&Op::WarmUp, &self.sts_name, &err).into())
            }
            Some((Ok(_), received)) => {
                if let Some(skew) =
                    skew_of(&date, received).filter(|s| s.abs() >= CLOCK_WARNING_SECONDS)
                {
                    crate::say(&format!("warning: {}", clock_hint_for(skew)));
                }
                Ok(answer)
            }
            _ => Ok(answer),
        }
    }

    /// The access keys of `user`: id, whether active, when created.
    pub fn access_keys(&self, user: &str) -> Result<Vec<AccessKey>> {
        let output = self
            .runtime
            .block_on(self.iam.list_access_keys().user_name(user).send())
            .map_err(|e| {
                anyhow::Error::from(self.fail(&Op::ListAccessKeys { user }, &self.iam_name, &e))
            })?;
        let keys = output
            .access_key_metadata()
            .iter()
            .map(|k| AccessKey {
                id: k.access_key_id().unwrap_or_default().to_owned(),
                active: k.status().is_some_and(|s| s.as_str() == "Active"),
                created: k.create_date().map(to_timestamp),
            })
            .collect::<Vec<_>>();
        if keys.iter().any(|k| !answer::key_id(&k.id)) {
            let what = format!("could not list the access keys of user {user}");
            return Err(self.unusable(&what, &self.iam_name, "AccessKeyId"));
        }
        Ok(keys)
    }

    /// A new access key for `user`: its id and secret.
    pub fn create_access_key(&self, user: &str) -> Result<(String, String)> {
        let what = format!("could not create an access key for user {user}");
        let output = self
            .runtime
            .block_on(self.iam.create_access_key().user_name(user).send())
            .map_err(|e| {
                anyhow::Error::from(self.fail(&Op::CreateAccessKey { user }, &self.iam_name, &e))
            })?;
        let key = output.access_key();
        let id = key
            .map(|k| k.access_key_id().to_owned())
            .unwrap_or_default();
        let secret = key
            .map(|k| k.secret_access_key().to_owned())
            .unwrap_or_default();
        if !answer::key_id(&id) {
            return Err(self.unusable(&what, &self.iam_name, "AccessKeyId"));
        }
        if !answer::token(&secret) {
            return Err(self.unusable(&what, &self.iam_name, "SecretAccessKey"));
        }
        Ok((id, secret))
    }

    pub fn delete_access_key(&self, user: &str, id: &str) -> Result<()> {
        self.runtime
            .block_on(
                self.iam
                    .delete_access_key()
                    .user_name(user)
                    .access_key_id(id)
                    .send(),
            )
            .map_err(|e| {
                let op = Op::DeleteAccessKey { user, id };
                anyhow::Error::from(self.fail(&op, &self.iam_name, &e))
            })?;
        Ok(())
    }

    /// Creates a virtual MFA device named `name`: its serial, its Base32
    /// seed and AWS's QR code picture (PNG).
    pub fn create_virtual_mfa_device(&self, name: &str) -> Result<NewDevice> {
        let output = self
            .runtime
            .block_on(
                self.iam
                    .create_virtual_mfa_device()
                    .virtual_mfa_device_name(name)
                    .send(),
            )
            .map_err(|e| {
                anyhow::Error::from(self.fail(&Op::CreateDevice { name }, &self.iam_name, &e))
            })?;
        let device = output.virtual_mfa_device();
        let serial = device
            .map(|d| d.serial_number().to_owned())
            .unwrap_or_default();
        let seed = device
            .and_then(|d| d.base32_string_seed())
            .map(|b| String::from_utf8_lossy(b.as_ref()).into_owned())
            .unwrap_or_default();
        let png = device
            .and_then(|d| d.qr_code_png())
            .map(|b| b.as_ref().to_vec())
            .unwrap_or_default();
        if serial.is_empty() || seed.is_empty() {
            return Err(Failure::new(format!(
                "could not create the virtual MFA device '{name}': {} answered without its serial or seed",
                self.iam_name
            ))
            .into());
        }
        // The serial goes into ~/.aws/config and the seed into a QR code.
        let what = format!("could not create the virtual MFA device '{name}'");
        if crate::input::check_serial(&serial).is_err() {
            return Err(self.unusable(&what, &self.iam_name, "SerialNumber"));
        }
        if !answer::base32(&seed) {
            return Err(self.unusable(&what, &self.iam_name, "Base32StringSeed"));
        }
        Ok(NewDevice { serial, seed, png })
    }

    /// Turns a new virtual device on for `user` with two consecutive codes.
    pub fn enable_mfa_device(
        &self,
        user: &str,
        serial: &str,
        first: &MfaCode,
        second: &MfaCode,
    ) -> Result<()> {
        self.runtime
            .block_on(
                self.iam
                    .enable_mfa_device()
                    .user_name(user)
                    .serial_number(serial)
                    .authentication_code1(first.as_str())
                    .authentication_code2(second.as_str())
                    .send(),
            )
            .map_err(|e| {
                let op = Op::EnableDevice { user, serial };
                anyhow::Error::from(self.fail(&op, &self.iam_name, &e))
            })?;
        Ok(())
    }

    /// Deletes a virtual device that was created but not enabled.
    pub fn delete_virtual_mfa_device(&self, serial: &str) -> Result<()> {
        self.runtime
            .block_on(
                self.iam
                    .delete_virtual_mfa_device()
                    .serial_number(serial)
                    .send(),
            )
            .map_err(|e| {
                anyhow::Error::from(self.fail(&Op::DeleteDevice { serial }, &self.iam_name, &e))
            })?;
        Ok(())
    }

    /// Asks STS for a session signed off by the MFA device.
    pub fn session_token(
        &self,
        serial: &str,
        code: &MfaCode,
        duration: Duration,
    ) -> Result<Session> {
        let seconds = i32::try_from(duration.as_secs()).unwrap_or(i32::MAX);
        let output = self
            .runtime
            .block_on(
                self.sts
                    .get_session_token()
                    .serial_number(serial)
                    .token_code(code.as_str())
                    .duration_seconds(seconds)
                    .send(),
            )
            .map_err(|e| self.session_failure(serial, e))?;
        let what = format!("could not get a session token for {serial}");
        self.checked_session(&what, output.credentials())
    }

    /// Assumes a role, signed by whatever this client was connected with.
    pub fn assume_role(&self, request: &RoleRequest) -> Result<RoleSession> {
        let seconds = i32::try_from(request.duration.as_secs()).unwrap_or(i32::MAX);
        let mut call = self
            .sts
            .assume_role()
            .role_arn(request.role_arn)
            .role_session_name(request.session_name)
            .set_external_id(request.external_id.map(str::to_owned))
            .duration_seconds(seconds);
        if let Some((serial, code)) = request.mfa {
            call = call.serial_number(serial).token_code(code.as_str());
        }
        let output = self
            .runtime
            .block_on(call.send())
            .map_err(|e| self.role_failure(request, e))?;
        let what = format!("could not assume role {}", request.role_arn);
        let session = self.checked_session(&what, output.credentials())?;
        let assumed_role_arn = output
            .assumed_role_user()
            .map(|u| u.arn().to_owned())
            .unwrap_or_default();
        if !assumed_role_arn.is_empty() && !answer::arn(&assumed_role_arn) {
            return Err(self.unusable(&what, &self.sts_name, "AssumedRoleUser Arn"));
        }
        Ok(RoleSession {
            session,
            assumed_role_arn,
        })
    }

    fn role_failure<E>(
        &self,
        request: &RoleRequest,
        err: SdkError<E, HttpResponse>,
    ) -> anyhow::Error
    where
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    {
        let op = Op::AssumeRole {
            role: request.role_arn,
            duration: request.duration,
            by_session: self.by_session,
        };
        self.fail(&op, &self.sts_name, &err).into()
    }

    /// A session from an answer, refused when the answer could not be read
    /// whole or has already expired.
    fn checked_session(
        &self,
        what: &str,
        credentials: Option<&aws_sdk_sts::types::Credentials>,
    ) -> Result<Session> {
        let Some(c) = credentials else {
            return Err(Failure::new(format!(
                "{what}: {} answered without credentials",
                self.sts_name
            ))
            .into());
        };
        let session = Session {
            access_key_id: c.access_key_id().to_owned(),
            secret_access_key: c.secret_access_key().to_owned(),
            session_token: c.session_token().to_owned(),
            expiration: to_timestamp(c.expiration()),
        };
        // The SDK fills required fields it could not parse with defaults (empty
        // strings, the epoch), so a truncated answer "succeeds". Printing such
        // a session would half-work; refuse it.
        let missing = [
            ("AccessKeyId", session.access_key_id.is_empty()),
            ("SecretAccessKey", session.secret_access_key.is_empty()),
            ("SessionToken", session.session_token.is_empty()),
        ]
        .into_iter()
        .filter_map(|(name, empty)| empty.then_some(name))
        .collect::<Vec<_>>();
        if !missing.is_empty() {
            return Err(Failure::new(format!(
                "{what}: {} sent an answer that cannot be read: no {}",
                self.sts_name,
                missing.join(", ")
            ))
            .into());
        }
        // They are written into files and shell code: a line break in one
        // would start a new line of its own there.
        if !answer::key_id(&session.access_key_id) {
            return Err(self.unusable(what, &self.sts_name, "AccessKeyId"));
        }
        if !answer::token(&session.secret_access_key) {
            return Err(self.unusable(what, &self.sts_name, "SecretAccessKey"));
        }
        if !answer::token(&session.session_token) {
            return Err(self.unusable(what, &self.sts_name, "SessionToken"));
        }
        if session.expiration <= Timestamp::now() {
            return Err(Failure::new(format!(
                "{what}: {} sent a session that has already expired ({})",
                self.sts_name,
                crate::session::rfc3339(session.expiration)
            ))
            .hint("check this computer's clock")
            .into());
        }
        Ok(session)
    }

    fn session_failure<E>(&self, serial: &str, err: SdkError<E, HttpResponse>) -> anyhow::Error
    where
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    {
        self.fail(&Op::GetSessionToken { serial }, &self.sts_name, &err)
            .into()
    }

    fn classify<E>(&self, service: &str, err: &SdkError<E, HttpResponse>) -> Classified
    where
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    {
        error::classify(err, service, self.timeout)
    }

    /// The user's failure for `err` of `op`, with its [`AwsError`] attached.
    fn fail<E>(&self, op: &Op, service: &str, err: &SdkError<E, HttpResponse>) -> Failure
    where
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    {
        error::describe(op, &self.profile, self.classify(service, err))
    }
}

/// What values in AWS's answers look like: anything else is refused before
/// it is written to a file or shown.
mod answer {
    /// An ARN: `arn:` and printable ASCII without spaces, as IAM's and STS's
    /// ARNs are (paths and names are `[\w+=,.@/-]`).
    pub fn arn(text: &str) -> bool {
        text.starts_with("arn:") && text.len() <= 2048 && text.bytes().all(|b| b.is_ascii_graphic())
    }

    /// An access key id: upper-case letters and digits (AKIA..., ASIA...).
    pub fn key_id(text: &str) -> bool {
        (16..=128).contains(&text.len())
            && text
                .bytes()
                .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
    }

    /// A secret key or session token: printable ASCII without spaces.
    pub fn token(text: &str) -> bool {
        !text.is_empty() && text.len() <= 16 * 1024 && text.bytes().all(|b| b.is_ascii_graphic())
    }

    /// A TOTP seed in Base32: `A-Z`, `2-7`, padding at the end.
    pub fn base32(text: &str) -> bool {
        let body = text.trim_end_matches('=');
        !body.is_empty()
            && body.len() <= 1024
            && body
                .bytes()
                .all(|b| b.is_ascii_uppercase() || (b'2'..=b'7').contains(&b))
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn values_aws_sends_and_values_it_does_not() {
            assert!(arn(
                "arn:aws:sts::123456789012:assumed-role/ops/mfa-session-1"
            ));
            assert!(arn("arn:aws:iam::123456789012:user/path/alice+x=y,z.w@v-u"));
            for bad in [
                "",
                "arn:aws:iam::1:user/a\u{1b}]0;pwned\u{7}",
                "arn:aws:iam::1:user/a b",
                "arn:aws:iam::1:user/a\n[profile evil]",
                "user/alice",
            ] {
                assert!(!arn(bad), "{bad:?}");
            }
            assert!(key_id("ASIAFAKEENDPOINT0001"));
            assert!(!key_id("ASIA\nFAKE0000000000"));
            assert!(!key_id("asiafakeendpoint0001"));
            assert!(token("FakeSessionToken+/="));
            assert!(!token("token\n[profile evil]\ncredential_process = sh"));
            assert!(!token(""));
            assert!(base32("JBSWY3DPEHPK3PXP"));
            assert!(base32("JBSWY3DPEHPK3PX="));
            assert!(!base32("JBSWY3DPEHPK3PX1"));
            assert!(!base32("jbswy3dpehpk3pxp"));
            assert!(!base32("===="));
        }
    }
}

/// Whether an endpoint is plain `http://` (a local endpoint, a proxy).
fn is_plain_http(endpoint: Option<&str>) -> bool {
    endpoint.is_some_and(|url| {
        url.get(..7)
            .is_some_and(|scheme| scheme.eq_ignore_ascii_case("http://"))
    })
}

/// An HTTP client without TLS. The SDK's default client builds its TLS
/// configuration, and so reads every certificate of the system's trust store
/// (some 5 ms), before it sends anything, even to an `http://` endpoint;
/// this one is used when no TLS connection can be made. For `https://` the
/// default client stays, and the trust store is read once, when the first
/// TLS connection is made.
fn plain_http_client() -> aws_sdk_sts::config::SharedHttpClient {
    aws_smithy_http_client::Builder::new().build_http()
}

/// The one HTTP client of a run for `endpoint`: every SDK client (STS and
/// IAM, each layer of a role chain) shares it, and so its pool of kept-alive
/// connections: requests to one host reuse one connection. For `https://`
/// (AWS itself) it is the client the SDK would build for itself (rustls with
/// aws-lc, proxies from the environment), built once, so the trust store is
/// read once too.
fn http_client(endpoint: Option<&str>) -> aws_sdk_sts::config::SharedHttpClient {
    use std::sync::OnceLock;
    static PLAIN: OnceLock<aws_sdk_sts::config::SharedHttpClient> = OnceLock::new();
    static TLS: OnceLock<aws_sdk_sts::config::SharedHttpClient> = OnceLock::new();
    if is_plain_http(endpoint) {
        return PLAIN.get_or_init(plain_http_client).clone();
    }
    TLS.get_or_init(|| {
        use aws_smithy_http_client::{Builder, ConnectorBuilder, proxy::ProxyConfig, tls};
        Builder::new().build_with_connector_fn(|settings, components| {
            let mut builder = ConnectorBuilder::default().tls_provider(tls::Provider::Rustls(
                tls::rustls_provider::CryptoMode::AwsLc,
            ));
            builder.set_connector_settings(settings.cloned());
            if let Some(components) = components {
                builder.set_sleep_impl(components.sleep_impl());
            }
            builder.set_proxy_config(Some(ProxyConfig::from_env()));
            builder.build()
        })
    })
    .clone()
}

/// Both futures, driven at once on the one thread (the runtime has one).
async fn join<A: std::future::Future, B: std::future::Future>(
    a: A,
    b: B,
) -> (A::Output, B::Output) {
    use std::task::Poll;
    let (mut a, mut b) = (std::pin::pin!(a), std::pin::pin!(b));
    let (mut first, mut second) = (None, None);
    std::future::poll_fn(|cx| {
        if first.is_none()
            && let Poll::Ready(v) = a.as_mut().poll(cx)
        {
            first = Some(v);
        }
        if second.is_none()
            && let Poll::Ready(v) = b.as_mut().poll(cx)
        {
            second = Some(v);
        }
        if first.is_some() && second.is_some() {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    })
    .await;
    match (first, second) {
        (Some(a), Some(b)) => (a, b),
        _ => unreachable!("both futures finished"),
    }
}

/// A clock this far off AWS's is said before the code is sent (AWS
/// refuses signatures from more than 15 minutes off, and a code typed from a
/// phone is checked against AWS's clock).
const CLOCK_WARNING_SECONDS: i64 = 120;

/// Local time when the answer came minus AWS's, from its Date header.
fn skew_of(date: &DateHeader, received: SystemTime) -> Option<i64> {
    let server = date
        .0
        .lock()
        .ok()
        .and_then(|d| d.clone())
        .and_then(|d| DateTime::from_str(&d, DateTimeFormat::HttpDate).ok())?
        .secs();
    let local = received
        .duration_since(SystemTime::UNIX_EPOCH)
        .ok()?
        .as_secs() as i64;
    Some(local - server)
}

/// Keeps the Date header of an answer.
#[derive(Clone, Debug, Default)]
struct DateHeader(std::sync::Arc<std::sync::Mutex<Option<String>>>);

impl aws_sdk_sts::config::Intercept for DateHeader {
    fn name(&self) -> &'static str {
        "DateHeader"
    }

    fn read_before_deserialization(
        &self,
        context: &aws_sdk_sts::config::interceptors::BeforeDeserializationInterceptorContextRef<'_>,
        _components: &aws_sdk_sts::config::RuntimeComponents,
        _cfg: &mut aws_sdk_sts::config::ConfigBag,
    ) -> Result<(), aws_smithy_runtime_api::box_error::BoxError> {
        if let (Some(date), Ok(mut slot)) =
            (context.response().headers().get("date"), self.0.lock())
        {
            *slot = Some(date.to_owned());
        }
        Ok(())
    }
}

/// The one runtime of a run: the connections of the shared HTTP clients are
/// tasks on it, and live as long as it does.
fn runtime() -> Result<&'static tokio::runtime::Runtime> {
    use std::sync::OnceLock;
    static RUNTIME: OnceLock<Option<tokio::runtime::Runtime>> = OnceLock::new();
    RUNTIME
        .get_or_init(|| {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .ok()
        })
        .as_ref()
        .ok_or_else(|| Failure::new("cannot start the async runtime").into())
}

fn service_name(service: &str, endpoint: Option<&str>) -> String {
    match endpoint {
        Some(url) => format!("{service} at {url}"),
        None => format!("AWS {service}"),
    }
}

/// Whether ListMFADevices failed only because this endpoint needs `UserName`
/// (moto, and some AWS look-alikes).
fn needs_user_name<E>(err: &SdkError<E, HttpResponse>) -> bool
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    matches!(
        error::classify(err, "", Duration::ZERO).kind,
        AwsError::NoSuchEntity | AwsError::Invalid
    )
}

/// FIDO security keys and passkeys: `arn:aws:iam::123456789012:u2f/...`.
pub fn is_fido(serial: &str) -> bool {
    serial.contains(":u2f/")
}

/// `arn:aws:iam::123456789012:user/path/alice` -> `alice`.
pub fn user_name_from_arn(arn: &str) -> Option<&str> {
    let resource = arn.splitn(6, ':').nth(5)?;
    let path = resource.strip_prefix("user/")?;
    path.rsplit('/').next().filter(|n| !n.is_empty())
}

fn to_timestamp(t: &DateTime) -> Timestamp {
    Timestamp::new(t.secs(), t.subsec_nanos() as i32).unwrap_or(Timestamp::MAX)
}

#[cfg(test)]
mod tests;
