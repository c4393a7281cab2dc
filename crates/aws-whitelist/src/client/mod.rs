//! The upstream clients: AWS (EC2, RDS, ElastiCache, ELBv2, STS) per (profile, region),
//! built from the standard provider chain only; the shared config files' profiles; the
//! public-IP checker. Every SDK call of the server is in here; the tools get typed models
//! ([`model`]) and typed errors ([`ClientError`]).

mod checkip;
pub mod error;
mod groups;
pub mod model;
mod profiles;
pub mod secrets;

pub use checkip::CheckIp;
pub use error::ClientError;
pub use profiles::read_profiles;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use aws_config::BehaviorVersion;
use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use tokio::sync::Mutex;

/// The service clients for one profile and region. Their operations are methods (in
/// `groups.rs`).
#[derive(Debug, Clone)]
pub struct Clients {
    pub region: String,
    pub profile: Option<String>,
    pub ec2: aws_sdk_ec2::Client,
    pub rds: aws_sdk_rds::Client,
    pub elasticache: aws_sdk_elasticache::Client,
    pub elb: aws_sdk_elasticloadbalancingv2::Client,
    pub sts: aws_sdk_sts::Client,
    /// The role assumed for the subject, when the profile assumes one.
    pub assumed: Option<AssumedRole>,
}

/// (profile, region, subject): the subject only for a profile that assumes a role.
type ClientKey = (Option<String>, String, String);
/// (profile, region)
type BreakerKey = (Option<String>, String);

/// How the AWS clients retry and when they stop calling: `AWSWL_MAX_ATTEMPTS`,
/// `AWSWL_BREAKER_FAILURES`, `AWSWL_BREAKER_COOLDOWN`.
#[derive(Debug, Clone, Copy)]
pub struct Resilience {
    /// Attempts of a read (the SDK's standard retry: jittered exponential backoff, and
    /// throttling answers retried). Writes get one attempt.
    pub read_attempts: u32,
    /// Consecutive failed attempts (5xx, throttling by 503, no answer) that open the breaker
    /// of one (profile, region).
    pub breaker_failures: u32,
    /// How long an open breaker refuses calls before it lets one through.
    pub breaker_cooldown: Duration,
}

impl Default for Resilience {
    fn default() -> Self {
        Self {
            read_attempts: 3,
            breaker_failures: 5,
            breaker_cooldown: Duration::from_secs(30),
        }
    }
}

/// Clients are built once per (profile, region) and kept.
#[derive(Debug, Default)]
pub struct ClientCache {
    cache: Mutex<HashMap<ClientKey, Arc<Clients>>>,
    breakers: Mutex<HashMap<BreakerKey, Arc<mcp_core::upstream::breaker::Breaker>>>,
    resilience: Resilience,
}

impl ClientCache {
    /// An empty cache whose clients follow `resilience`.
    pub fn new(resilience: Resilience) -> Self {
        Self {
            cache: Mutex::default(),
            breakers: Mutex::default(),
            resilience,
        }
    }

    /// The breaker of one (profile, region), shared by every subject's clients there.
    async fn breaker(
        &self,
        profile: Option<&str>,
        region: &str,
    ) -> Arc<mcp_core::upstream::breaker::Breaker> {
        let mut b = self.breakers.lock().await;
        b.entry((profile.map(str::to_string), region.to_string()))
            .or_insert_with(|| {
                Arc::new(mcp_core::upstream::breaker::Breaker::new(
                    &format!("AWS {region}"),
                    self.resilience.breaker_failures,
                    self.resilience.breaker_cooldown,
                ))
            })
            .clone()
    }

    /// The clients of `profile` (the provider chain's default when `None`; `default_profile`
    /// names it, from `AWS_PROFILE`) in `region`, acting for `subject`.
    ///
    /// When the profile assumes a role (`role_arn` with `source_profile` or
    /// `credential_source` in the shared config file), the server calls `AssumeRole` itself,
    /// per subject, with `SourceIdentity` and the session tags `secops-mcp:subject` and
    /// `secops-mcp:server` ([`source_identity`]), so that CloudTrail names the person
    /// behind the token; the credentials are cached per subject until shortly before they
    /// expire. Other profiles use the provider chain as it is, for every subject.
    pub async fn get(
        &self,
        profile: Option<&str>,
        default_profile: Option<&str>,
        region: &str,
        subject: &str,
    ) -> Result<Arc<Clients>, ClientError> {
        let named = profile.or(default_profile).unwrap_or("default").to_string();
        let role = profiles::read_profiles()
            .await
            .into_iter()
            .find(|p| p.name == named)
            .and_then(|p| {
                let arn = p.role_arn?;
                match (p.source_profile, p.credential_source) {
                    (Some(src), _) => Some((arn, Some(src))),
                    (None, Some(_)) => Some((arn, None)),
                    (None, None) => None,
                }
            });
        let who = if role.is_some() { subject } else { "" };
        let key = (
            profile.map(str::to_string),
            region.to_string(),
            who.to_string(),
        );
        let mut cache = self.cache.lock().await;
        if let Some(c) = cache.get(&key)
            && c.assumed.as_ref().is_none_or(|a| {
                a.expires
                    .duration_since(std::time::SystemTime::now())
                    .is_ok_and(|left| left > Duration::from_secs(120))
            })
        {
            return Ok(c.clone());
        }
        let breaker = self.breaker(profile, region).await;
        let loader = |p: Option<&str>| {
            let mut l = aws_config::defaults(BehaviorVersion::latest())
                .region(aws_types::region::Region::new(region.to_string()))
                .retry_config(
                    RetryConfig::standard().with_max_attempts(self.resilience.read_attempts),
                )
                .timeout_config(
                    TimeoutConfig::builder()
                        .connect_timeout(Duration::from_secs(5))
                        .operation_attempt_timeout(Duration::from_secs(20))
                        .operation_timeout(Duration::from_secs(60))
                        .build(),
                );
            if let Some(p) = p {
                l = l.profile_name(p);
            }
            l
        };
        let (conf, assumed) = match &role {
            None => (loader(profile).load().await, None),
            Some((arn, source)) => {
                // The role's source credentials: its source_profile, or (credential_source)
                // the provider chain without a profile.
                let base = loader(source.as_deref()).load().await;
                let sts = aws_sdk_sts::Client::from_conf(
                    aws_sdk_sts::config::Builder::from(&base)
                        .interceptor(CountAttempts)
                        .interceptor(Guard(breaker.clone()))
                        .build(),
                );
                let (assumed, creds) = assume_role(&sts, arn, subject).await?;
                let conf = base
                    .into_builder()
                    .credentials_provider(aws_types::sdk_config::SharedCredentialsProvider::new(
                        creds,
                    ))
                    .build();
                (conf, Some(assumed))
            }
        };
        // Every client counts its HTTP attempts for the audit event (`upstream_calls`), and
        // all of one (profile, region) share one circuit breaker.
        macro_rules! counted {
            ($sdk:ident) => {
                $sdk::Client::from_conf(
                    $sdk::config::Builder::from(&conf)
                        .interceptor(CountAttempts)
                        .interceptor(Guard(breaker.clone()))
                        .build(),
                )
            };
        }
        let c = Arc::new(Clients {
            region: region.to_string(),
            profile: profile.map(str::to_string),
            ec2: counted!(aws_sdk_ec2),
            rds: counted!(aws_sdk_rds),
            elasticache: counted!(aws_sdk_elasticache),
            elb: counted!(aws_sdk_elasticloadbalancingv2),
            sts: counted!(aws_sdk_sts),
            assumed,
        });
        cache.insert(key, c.clone());
        Ok(c)
    }
}

/// A role the server assumed for one subject.
#[derive(Debug, Clone)]
pub struct AssumedRole {
    /// The role.
    pub role_arn: String,
    /// The `SourceIdentity` it carries ([`source_identity`] of the subject).
    pub source_identity: String,
    /// When the credentials expire.
    pub expires: std::time::SystemTime,
}

/// The session tag keys the server sets on an assumed role.
pub const TAG_SESSION_SUBJECT: &str = "secops-mcp:subject";
pub const TAG_SESSION_SERVER: &str = "secops-mcp:server";

/// How long assumed-role credentials are asked for (AWS's minimum, so that any role's
/// maximum session duration allows it).
const SESSION_SECONDS: i32 = 900;

/// `AssumeRole` with the subject's `SourceIdentity` (also the session name) and session tags.
async fn assume_role(
    sts: &aws_sdk_sts::Client,
    role_arn: &str,
    subject: &str,
) -> Result<(AssumedRole, aws_sdk_ec2::config::Credentials), ClientError> {
    use aws_sdk_sts::types::Tag;
    let si = source_identity(subject);
    let tag = |k: &str, v: String| {
        Tag::builder()
            .key(k)
            .value(v)
            .build()
            .map_err(|e| ClientError::Sdk {
                op: "sts:AssumeRole",
                detail: e.to_string(),
            })
    };
    let out = sts
        .assume_role()
        .role_arn(role_arn)
        .role_session_name(&si)
        .source_identity(&si)
        .tags(tag(TAG_SESSION_SUBJECT, session_tag_value(subject))?)
        .tags(tag(TAG_SESSION_SERVER, "aws-whitelist".into())?)
        .duration_seconds(SESSION_SECONDS)
        .send()
        .await
        .map_err(|e| error::map("sts:AssumeRole", e))?;
    let c = out.credentials().ok_or_else(|| ClientError::Sdk {
        op: "sts:AssumeRole",
        detail: "the answer has no credentials".into(),
    })?;
    let expires = std::time::SystemTime::try_from(*c.expiration()).unwrap_or_else(|_| {
        std::time::SystemTime::now() + Duration::from_secs(SESSION_SECONDS as u64)
    });
    let creds = aws_sdk_ec2::config::Credentials::new(
        c.access_key_id(),
        c.secret_access_key(),
        Some(c.session_token().to_string()),
        Some(expires),
        "secops-mcp AssumeRole",
    );
    tracing::info!(role = %role_arn, source_identity = %si, "assumed role for subject");
    Ok((
        AssumedRole {
            role_arn: role_arn.to_string(),
            source_identity: si,
            expires,
        },
        creds,
    ))
}

/// The `SourceIdentity` (and role session name) for a token subject. AWS allows 2 to 64
/// characters of `A-Z a-z 0-9 _ + = , . @ -`, not starting with `aws:`. A subject that
/// already fits is used as it is (`alice@example.com`). Otherwise every other character
/// becomes `_`, the result is cut to 55 characters, and `-` plus the first 8 hex digits of
/// the SHA-256 of the whole subject is appended, so that two subjects never share one.
pub fn source_identity(subject: &str) -> String {
    let ok = |c: char| c.is_ascii_alphanumeric() || "_+=,.@-".contains(c);
    let fits = (2..=64).contains(&subject.len())
        && subject.chars().all(ok)
        && !subject.to_ascii_lowercase().starts_with("aws:");
    if fits {
        return subject.to_string();
    }
    use sha2::Digest as _;
    let h = sha2::Sha256::digest(subject.as_bytes());
    let cleaned: String = subject
        .chars()
        .map(|c| if ok(c) { c } else { '_' })
        .take(55)
        .collect();
    format!("{cleaned}-{:02x}{:02x}{:02x}{:02x}", h[0], h[1], h[2], h[3])
}

/// A session tag value: up to 256 characters of letters, digits, spaces and `_ . : / = + - @`.
pub fn session_tag_value(subject: &str) -> String {
    subject
        .chars()
        .map(|c| {
            if c.is_alphanumeric() || c == ' ' || "_.:/=+-@".contains(c) {
                c
            } else {
                '_'
            }
        })
        .take(256)
        .collect()
}

/// Refused by an open circuit breaker: how long until it lets a call through.
#[derive(Debug, thiserror::Error)]
#[error("the circuit breaker is open after repeated failures")]
pub struct CircuitOpen(pub Duration);

/// The circuit breaker of one (profile, region), on every attempt of every AWS client: an
/// open breaker refuses the attempt before it is sent; an attempt's answer (5xx or 429 is a
/// failure, anything else a success) or its lack of one (no response: a failure) moves it.
#[derive(Debug)]
struct Guard(Arc<mcp_core::upstream::breaker::Breaker>);

impl aws_sdk_ec2::config::Intercept for Guard {
    fn name(&self) -> &'static str {
        "secops-mcp circuit breaker"
    }

    fn read_before_transmit(
        &self,
        _context: &aws_sdk_ec2::config::interceptors::BeforeTransmitInterceptorContextRef<'_>,
        _runtime_components: &aws_sdk_ec2::config::RuntimeComponents,
        _cfg: &mut aws_sdk_ec2::config::ConfigBag,
    ) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
        self.0
            .permit()
            .map_err(|wait| Box::new(CircuitOpen(wait)) as Box<dyn std::error::Error + Send + Sync>)
    }

    fn read_after_attempt(
        &self,
        context: &aws_sdk_ec2::config::interceptors::FinalizerInterceptorContextRef<'_>,
        _runtime_components: &aws_sdk_ec2::config::RuntimeComponents,
        _cfg: &mut aws_sdk_ec2::config::ConfigBag,
    ) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
        match context.response() {
            Some(r) => {
                let status = r.status().as_u16();
                if status >= 500 || status == 429 {
                    self.0.on_failure();
                } else {
                    self.0.on_success();
                }
            }
            None => {
                // No answer: a transport failure, unless the breaker itself refused it.
                if let Some(Err(e)) = context.output_or_error()
                    && !e.is_interceptor_error()
                {
                    self.0.on_failure();
                }
            }
        }
        Ok(())
    }
}

/// Counts each HTTP attempt an AWS SDK client sends (retries included) towards the current
/// tool call's `upstream_calls`, as mcp-core's upstream client does for the other servers.
#[derive(Debug)]
struct CountAttempts;

impl aws_sdk_ec2::config::Intercept for CountAttempts {
    fn name(&self) -> &'static str {
        "secops-mcp upstream call counter"
    }

    fn read_before_transmit(
        &self,
        _context: &aws_sdk_ec2::config::interceptors::BeforeTransmitInterceptorContextRef<'_>,
        _runtime_components: &aws_sdk_ec2::config::RuntimeComponents,
        _cfg: &mut aws_sdk_ec2::config::ConfigBag,
    ) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
        mcp_core::upstream::record_upstream_call();
        Ok(())
    }
}
