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
}

/// (profile, region)
type ClientKey = (Option<String>, String);

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
    resilience: Resilience,
}

impl ClientCache {
    /// An empty cache whose clients follow `resilience`.
    pub fn new(resilience: Resilience) -> Self {
        Self {
            cache: Mutex::default(),
            resilience,
        }
    }

    /// The clients of `profile` (the provider chain's default when `None`) in `region`.
    pub async fn get(&self, profile: Option<&str>, region: &str) -> Arc<Clients> {
        let key = (profile.map(str::to_string), region.to_string());
        let mut cache = self.cache.lock().await;
        if let Some(c) = cache.get(&key) {
            return c.clone();
        }
        let mut loader = aws_config::defaults(BehaviorVersion::latest())
            .region(aws_types::region::Region::new(region.to_string()))
            .retry_config(RetryConfig::standard().with_max_attempts(self.resilience.read_attempts))
            .timeout_config(
                TimeoutConfig::builder()
                    .connect_timeout(Duration::from_secs(5))
                    .operation_attempt_timeout(Duration::from_secs(20))
                    .operation_timeout(Duration::from_secs(60))
                    .build(),
            );
        if let Some(p) = profile {
            loader = loader.profile_name(p);
        }
        let conf = loader.load().await;
        let breaker = Arc::new(mcp_core::upstream::breaker::Breaker::new(
            &format!("AWS {region}"),
            self.resilience.breaker_failures,
            self.resilience.breaker_cooldown,
        ));
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
        });
        cache.insert(key, c.clone());
        c
    }
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
