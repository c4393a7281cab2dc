//! `run`: the entry point every server's `main` calls.

use std::collections::BTreeSet;
use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::{CommandFactory, FromArgMatches};
use tokio_util::sync::CancellationToken;

use crate::app::{App, BuildCtx, ServerMeta};
use crate::auth::{AuthConfig, AuthError, AuthLayerState, MintRequest, Verifier};
use crate::cli::{Cli, Command, ServeArgs, TokenArgs, ToolsArgs, TransportKind};
use crate::config::{ConfigError, Env};
use crate::error::StartupError;
use crate::policy::ToolFilter;
use crate::readiness::{Readiness, ReadyGuard};
use crate::server::Shared;
use crate::telemetry::{LogFormat, init_logging};
use crate::transport::{HostPolicy, HttpSettings};

/// Parse the command line and run the server. Returns the process exit code.
pub fn run<A: App>() -> ExitCode {
    run_with_args::<A, _>(std::env::args_os())
}

/// [`run`] with explicit arguments.
pub fn run_with_args<A: App, I>(args: I) -> ExitCode
where
    I: IntoIterator<Item = std::ffi::OsString>,
{
    let args: Vec<std::ffi::OsString> = args.into_iter().collect();
    let meta = A::meta();
    let (cli, env) = match parse_cli(meta, &args) {
        Ok(v) => v,
        Err(CliExit::Clap(e)) => {
            let _ = e.print();
            return if e.use_stderr() {
                ExitCode::from(2)
            } else {
                ExitCode::SUCCESS
            };
        }
        Err(CliExit::Config(e)) => {
            eprintln!("{}: {e}", meta.name);
            return ExitCode::from(2);
        }
    };
    let format = cli
        .log_format
        .unwrap_or(if std::io::stderr().is_terminal() {
            LogFormat::Pretty
        } else {
            LogFormat::Json
        });

    match cli.command {
        Some(Command::Token(t)) => return finish(meta, token(&env, &t)),
        Some(Command::Tools(t)) => return finish(meta, tools::<A>(&t)),
        _ => {}
    }
    let level = match log_level(&env) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("{}: {e}", meta.name);
            return ExitCode::from(2);
        }
    };
    init_logging(format, level);
    crate::telemetry::prometheus();
    crate::telemetry::describe_metrics();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => return finish(meta, Err(StartupError::Io(e))),
    };
    let result = match cli.command {
        Some(Command::Check) => runtime.block_on(check::<A>(&env, &cli.serve)),
        Some(Command::Serve(s)) => runtime.block_on(serve::<A>(&env, s)),
        None => runtime.block_on(serve::<A>(&env, cli.serve)),
        Some(Command::Token(_) | Command::Tools(_)) => Ok(()),
    };
    // A blocking read of stdin (the stdio transport) never returns while the client keeps
    // stdin open; dropping the runtime would wait for it forever after SIGTERM. Everything
    // that matters has finished by now, so give stragglers a moment and go.
    runtime.shutdown_timeout(std::time::Duration::from_millis(500));
    finish(meta, result)
}

/// `LOG_LEVEL` (`debug`, `info`, `warn` or `error`), the default filter when `RUST_LOG` is
/// unset; `RUST_LOG` wins, with its full syntax.
fn log_level(env: &Env) -> Result<&'static str, ConfigError> {
    let Some(v) = env.get("LOG_LEVEL")? else {
        return Ok("info");
    };
    match v.trim().to_ascii_lowercase().as_str() {
        "debug" => Ok("debug"),
        "info" => Ok("info"),
        "warn" | "warning" => Ok("warn"),
        "error" => Ok("error"),
        other => Err(ConfigError::invalid(
            "LOG_LEVEL",
            format!(
                "`{}` is not debug, info, warn or error",
                crate::validate::excerpt(other, 32)
            ),
        )),
    }
}

fn finish(meta: ServerMeta, r: Result<(), StartupError>) -> ExitCode {
    match r {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = %e, "{} stopped", meta.name);
            eprintln!("{}: {e}", meta.name);
            ExitCode::from(1)
        }
    }
}

enum CliExit {
    Clap(clap::Error),
    Config(ConfigError),
}

/// Parse arguments; values from the `--config` env-file become clap defaults, so the
/// precedence is flag > environment > config file > built-in default.
fn parse_cli(meta: ServerMeta, args: &[std::ffi::OsString]) -> Result<(Cli, Env), CliExit> {
    let config_path =
        find_config_arg(args).or_else(|| std::env::var_os("MCP_CONFIG").map(PathBuf::from));
    let env = Env::from_process(config_path.as_deref()).map_err(CliExit::Config)?;
    let mut cmd = Cli::command()
        .name(meta.name)
        .version(meta.version)
        .about(meta.about)
        .long_about(long_about(meta));
    let defaults = arg_defaults(&cmd, &env).map_err(CliExit::Config)?;
    if !defaults.is_empty() {
        cmd = apply_file_defaults(cmd, &defaults);
    }
    let matches = cmd.try_get_matches_from(args).map_err(CliExit::Clap)?;
    let cli = Cli::from_arg_matches(&matches).map_err(CliExit::Clap)?;
    Ok((cli, env))
}

/// Values for flag variables that do not come from the process environment itself: the
/// `--config` file, and `NAME_FILE` files (which the argument parser cannot read).
fn arg_defaults(
    cmd: &clap::Command,
    env: &Env,
) -> Result<std::collections::HashMap<String, String>, ConfigError> {
    let mut out = env.file_vars().clone();
    let serve = cmd
        .find_subcommand("serve")
        .into_iter()
        .flat_map(|s| s.get_arguments());
    for arg in cmd.get_arguments().chain(serve) {
        let Some(var) = arg.get_env().and_then(|e| e.to_str()) else {
            continue;
        };
        if std::env::var_os(var).is_none()
            && let Some(v) = env.get(var)?
        {
            out.insert(var.to_string(), v);
        }
    }
    Ok(out)
}

fn apply_file_defaults(
    cmd: clap::Command,
    file: &std::collections::HashMap<String, String>,
) -> clap::Command {
    let cmd = cmd.mut_args(|a| with_file_default(a, file));
    cmd.mut_subcommand("serve", |s| s.mut_args(|a| with_file_default(a, file)))
}

fn with_file_default(a: clap::Arg, file: &std::collections::HashMap<String, String>) -> clap::Arg {
    let Some(var) = a.get_env().and_then(|e| e.to_str()).map(str::to_string) else {
        return a;
    };
    match file.get(&var) {
        Some(v) => a.default_value(v.clone()),
        None => a,
    }
}

fn find_config_arg(args: &[std::ffi::OsString]) -> Option<PathBuf> {
    let mut it = args.iter().skip(1);
    while let Some(a) = it.next() {
        let s = a.to_string_lossy();
        if s == "--config" {
            return it.next().map(PathBuf::from);
        }
        if let Some(v) = s.strip_prefix("--config=") {
            return Some(PathBuf::from(v));
        }
    }
    None
}

fn long_about(meta: ServerMeta) -> String {
    format!(
        "{}\n\nSubcommands: serve (default), token, tools, check. Every flag can also be set with the \
         environment variable shown next to it, and any variable NAME can be read from a file with \
         NAME_FILE (Kubernetes/Docker secrets).\n\nAuth: MCP_JWT_SECRET (HS256) or MCP_JWT_JWKS_URL / \
         MCP_JWT_JWKS_FILE (RS256/ES256), with MCP_JWT_ISSUER and MCP_JWT_AUDIENCE. A non-loopback \
         --bind refuses to start without one of them unless MCP_AUTH=none.",
        meta.about
    )
}

fn token(env: &Env, t: &TokenArgs) -> Result<(), StartupError> {
    let auth = AuthConfig::from_env(env)?;
    let secret = auth.hs256_secret.as_ref().ok_or_else(|| {
        StartupError::Refused(
            "token needs MCP_JWT_SECRET (or MCP_JWT_SECRET_FILE) to sign with".into(),
        )
    })?;
    for s in &t.scopes {
        if s.is_empty() || s.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(StartupError::Refused(format!(
                "scope `{s}` must be a single word such as ngfw:read"
            )));
        }
    }
    let req = MintRequest {
        subject: t.sub.clone(),
        scopes: t.scopes.clone(),
        ttl: t.ttl,
        issuer: auth.issuer.clone(),
        audience: auth.audience.as_ref().and_then(|a| a.first().cloned()),
    };
    let jwt = crate::auth::mint_hs256(secret, &req)?;
    let mut out = std::io::stdout().lock();
    writeln!(out, "{jwt}")?;
    Ok(())
}

fn tools<A: App>(t: &ToolsArgs) -> Result<(), StartupError> {
    // The whole inventory: the server's tools, and the approval tools that
    // MCP_APPROVALS=required adds to any server that has a write tool.
    let mut tools = A::tools();
    if tools.iter().any(|t| !t.spec().effect.is_read_only()) {
        tools.extend(crate::server::change_tools::<A>());
    }
    let mut out = std::io::stdout().lock();
    if t.check {
        let checked: Vec<_> = tools
            .into_iter()
            .filter(|t| t.spec().toolset != "conformance")
            .collect();
        crate::tool::check_inventory(&checked)
            .map_err(|e| StartupError::Refused(format!("the tool inventory breaks a rule: {e}")))?;
        writeln!(
            out,
            "{}: {} tools follow the inventory rules",
            A::meta().name,
            checked.len()
        )?;
        return Ok(());
    }
    if t.json {
        let all: Vec<_> = tools.iter().map(|t| t.describe()).collect();
        let text =
            serde_json::to_string_pretty(&all).map_err(|e| StartupError::App(e.to_string()))?;
        writeln!(out, "{text}")?;
        return Ok(());
    }
    writeln!(
        out,
        "{:<32} {:<16} {:<12} HINTS",
        "TOOL", "SCOPE", "TOOLSET"
    )?;
    for tool in &tools {
        let s = tool.spec();
        let hints = match s.effect {
            crate::tool::Effect::ReadOnly => "read-only".to_string(),
            crate::tool::Effect::IdempotentWrite => "write, idempotent".to_string(),
            crate::tool::Effect::AdditiveWrite => "write".to_string(),
            crate::tool::Effect::Mixed => "read or write by argument".to_string(),
            crate::tool::Effect::Destructive { idempotent } => {
                if idempotent {
                    "destructive, idempotent".into()
                } else {
                    "destructive".into()
                }
            }
        };
        writeln!(
            out,
            "{:<32} {:<16} {:<12} {}",
            s.name, s.scope, s.toolset, hints
        )?;
    }
    Ok(())
}

/// `MCP_CONFIRM`, `MCP_APPROVALS`, `MCP_APPROVAL_TTL` and `MCP_STATE_KEY`. The two-person
/// rule needs callers told apart: it refuses to start without a token verifier.
fn change_control<A: App>(
    env: &Env,
    s: &ServeArgs,
    verified: bool,
) -> Result<crate::change::ChangeControl, StartupError> {
    let c = crate::change::ChangeControl::from_env(env, &crate::server::namespace_of::<A>())?;
    if c.approvals == crate::change::Approvals::Required
        && (s.transport == TransportKind::Stdio || !verified)
    {
        return Err(StartupError::Refused(
            "MCP_APPROVALS=required needs callers told apart by their tokens: serve over HTTP with a JWT verifier (MCP_JWT_SECRET or MCP_JWT_JWKS_URL), not over stdio or with MCP_AUTH=none".into(),
        ));
    }
    if c.confirm_off {
        tracing::warn!(
            "MCP_CONFIRM=off: writes that need a human's confirmation go ahead without one for clients that cannot ask (audited as confirm_off)"
        );
    }
    if !c.shared_key && s.transport == TransportKind::Http && !s.stateless {
        tracing::debug!(
            "MCP_STATE_KEY unset: a confirmation asked by this replica resumes only on this replica"
        );
    } else if !c.shared_key && s.stateless {
        tracing::warn!(
            "MCP_STATE_KEY unset on a stateless server: a confirmation (2026-07-28 input_required) asked by one replica cannot be resumed by another; set the same MCP_STATE_KEY on every replica"
        );
    }
    Ok(c)
}

/// Core settings that are not flags.
struct CoreSettings {
    call_timeout: Duration,
    max_body_bytes: usize,
    max_sessions: usize,
    max_sessions_per_subject: usize,
    header_read_timeout: Duration,
    max_connections: usize,
    http_request_timeout: Duration,
    session_idle: Duration,
    shutdown_grace: Duration,
}

impl CoreSettings {
    fn from_env(env: &Env) -> Result<Self, ConfigError> {
        Ok(Self {
            call_timeout: env
                .duration("MCP_REQUEST_TIMEOUT")?
                .unwrap_or(Duration::from_secs(120)),
            max_body_bytes: env.parse("MCP_MAX_BODY_BYTES")?.unwrap_or(8 * 1024 * 1024),
            max_sessions: env.parse("MCP_MAX_SESSIONS")?.unwrap_or(10_000),
            max_sessions_per_subject: positive(
                env,
                "MCP_MAX_SESSIONS_PER_SUBJECT",
                crate::transport::DEFAULT_MAX_SESSIONS_PER_SUBJECT,
            )?,
            header_read_timeout: nonzero_duration(
                env,
                "MCP_HTTP_HEADER_TIMEOUT",
                crate::transport::DEFAULT_HEADER_READ_TIMEOUT,
            )?,
            max_connections: positive(
                env,
                "MCP_MAX_CONNECTIONS",
                crate::transport::DEFAULT_MAX_CONNECTIONS,
            )?,
            http_request_timeout: nonzero_duration(
                env,
                "MCP_HTTP_REQUEST_TIMEOUT",
                crate::transport::DEFAULT_HTTP_REQUEST_TIMEOUT,
            )?,
            session_idle: env
                .duration("MCP_SESSION_IDLE_TIMEOUT")?
                .unwrap_or(Duration::from_secs(300)),
            shutdown_grace: env
                .duration("MCP_SHUTDOWN_GRACE")?
                .unwrap_or(Duration::from_secs(25)),
        })
    }
}

/// A count that must be at least 1.
fn positive(env: &Env, var: &str, default: usize) -> Result<usize, ConfigError> {
    match env.parse::<usize>(var)? {
        None => Ok(default),
        Some(0) => Err(ConfigError::invalid(var, "must be at least 1")),
        Some(n) => Ok(n),
    }
}

/// A duration that must be longer than zero.
fn nonzero_duration(env: &Env, var: &str, default: Duration) -> Result<Duration, ConfigError> {
    match env.duration(var)? {
        None => Ok(default),
        Some(d) if d.is_zero() => Err(ConfigError::invalid(var, "must be longer than 0s")),
        Some(d) => Ok(d),
    }
}

fn tool_filter<A: App>(s: &ServeArgs) -> Result<ToolFilter, StartupError> {
    let toolsets = match &s.toolsets {
        None => None,
        Some(list) => {
            let known: BTreeSet<&str> = A::tools().iter().map(|t| t.spec().toolset).collect();
            let wanted: BTreeSet<String> = list
                .iter()
                .map(|t| t.trim().to_string())
                .filter(|t| !t.is_empty())
                .collect();
            if wanted.is_empty() {
                return Err(StartupError::Config(ConfigError::invalid(
                    "MCP_TOOLSETS",
                    "is empty; unset it to expose every toolset",
                )));
            }
            if let Some(bad) = wanted.iter().find(|t| !known.contains(t.as_str())) {
                return Err(StartupError::Config(ConfigError::invalid(
                    "MCP_TOOLSETS",
                    format!(
                        "unknown toolset `{bad}`; known: {}",
                        known.into_iter().collect::<Vec<_>>().join(", ")
                    ),
                )));
            }
            Some(wanted)
        }
    };
    Ok(ToolFilter {
        read_only: s.read_only,
        toolsets,
    })
}

fn host_policy(s: &ServeArgs) -> Result<HostPolicy, StartupError> {
    let list = s
        .allowed_hosts
        .as_ref()
        .filter(|l| l.iter().any(|h| !h.trim().is_empty()));
    if let Some(list) = list {
        if list.iter().any(|h| h.trim() == "*") {
            tracing::warn!(
                "MCP_ALLOWED_HOSTS=* accepts any Host header: DNS-rebinding protection is off"
            );
            return Ok(HostPolicy {
                allowed: Vec::new(),
            });
        }
        return Ok(HostPolicy::loopback_plus(
            list.iter()
                .map(|h| h.trim().to_string())
                .filter(|h| !h.is_empty()),
        ));
    }
    let extra = match &s.public_url {
        Some(u) => {
            let url = url::Url::parse(u)
                .map_err(|e| ConfigError::invalid("MCP_PUBLIC_URL", format!("`{u}`: {e}")))?;
            let host = url
                .host_str()
                .ok_or_else(|| ConfigError::invalid("MCP_PUBLIC_URL", "has no host"))?;
            let mut v = vec![host.to_string()];
            if let Some(p) = url.port() {
                v.push(format!("{host}:{p}"));
            }
            v
        }
        None => Vec::new(),
    };
    Ok(HostPolicy::loopback_plus(extra))
}

/// Why a server bound to loopback is still reachable from elsewhere, if it is: a public URL,
/// a `Host` it accepts that is not loopback, or proxies whose forwarding headers it trusts.
fn exposure(env: &Env, s: &ServeArgs) -> Result<Option<String>, ConfigError> {
    if s.public_url
        .as_deref()
        .is_some_and(|u| !u.trim().is_empty())
    {
        return Ok(Some("MCP_PUBLIC_URL is set".into()));
    }
    if let Some(h) = s
        .allowed_hosts
        .iter()
        .flatten()
        .map(|h| h.trim())
        .find(|h| !h.is_empty() && !is_loopback_host(h))
    {
        return Ok(Some(format!(
            "MCP_ALLOWED_HOSTS accepts `{}`, which is not a loopback name",
            crate::validate::excerpt(h, 64)
        )));
    }
    if !crate::transport::ClientPolicy::from_env(env)?
        .trusted_proxies
        .is_empty()
    {
        return Ok(Some("MCP_TRUSTED_PROXIES is set".into()));
    }
    Ok(None)
}

/// `localhost`, `127.0.0.1`, `[::1]`, with or without a port.
fn is_loopback_host(h: &str) -> bool {
    let host = if let Some(rest) = h.strip_prefix('[') {
        rest.split(']').next().unwrap_or_default()
    } else {
        match h.rsplit_once(':') {
            Some((host, port)) if !host.contains(':') && port.parse::<u16>().is_ok() => host,
            _ => h,
        }
    };
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(crate::validate::is_loopback)
}

/// The auth layer, its settings, and the JWKS error when the JWKS URL did not answer at
/// startup (the verifier then starts without RS256/ES256 keys).
type AuthState = (AuthLayerState, AuthConfig, Option<AuthError>);

async fn auth_state(env: &Env, s: &ServeArgs) -> Result<AuthState, StartupError> {
    let auth = AuthConfig::from_env(env)?;
    let loopback = crate::validate::is_loopback(s.bind.ip());
    if auth.disabled {
        if !loopback && s.transport == TransportKind::Http {
            tracing::warn!(bind = %s.bind, "AUTHENTICATION IS OFF (MCP_AUTH=none) on a non-loopback address: anyone who can reach it can call every tool");
        } else if s.transport == TransportKind::Http
            && let Some(why) = exposure(env, s)?
        {
            tracing::warn!(bind = %s.bind, "AUTHENTICATION IS OFF (MCP_AUTH=none) and {why}: anyone the proxy serves can call every tool");
        }
        return Ok((
            AuthLayerState {
                verifier: None,
                public_url: s.public_url.clone(),
            },
            auth,
            None,
        ));
    }
    if !auth.has_verifier() {
        if auth.required {
            return Err(StartupError::Refused(
                "MCP_AUTH=jwt but no verifier is configured: set MCP_JWT_SECRET, MCP_JWT_JWKS_URL or MCP_JWT_JWKS_FILE".into(),
            ));
        }
        if s.transport == TransportKind::Http && !loopback {
            return Err(StartupError::Refused(format!(
                "refusing to serve on {} without authentication: set MCP_JWT_SECRET, MCP_JWT_JWKS_URL or MCP_JWT_JWKS_FILE, or set MCP_AUTH=none explicitly",
                s.bind
            )));
        }
        if s.transport == TransportKind::Http
            && let Some(why) = exposure(env, s)?
        {
            // A loopback bind behind a reverse proxy is reachable by everyone the proxy
            // serves: without a verifier every one of them would get every scope.
            return Err(StartupError::Refused(format!(
                "refusing to serve without authentication: {why}, so callers arrive through a proxy from beyond this host; set MCP_JWT_SECRET, MCP_JWT_JWKS_URL or MCP_JWT_JWKS_FILE, or set MCP_AUTH=none explicitly"
            )));
        }
        if s.transport == TransportKind::Http {
            tracing::warn!(bind = %s.bind, "no JWT verifier configured: loopback callers get every scope");
        }
        return Ok((
            AuthLayerState {
                verifier: None,
                public_url: s.public_url.clone(),
            },
            auth,
            None,
        ));
    }
    let http = crate::auth::jwks_client()?;
    let (verifier, pending) = Verifier::start(&auth, http).await?;
    Ok((
        AuthLayerState {
            verifier: Some(verifier),
            public_url: s.public_url.clone(),
        },
        auth,
        pending,
    ))
}

/// The JWKS URL did not answer at startup: serve anyway (HS256 tokens work, `/healthz`
/// answers), hold `/readyz` at `waiting for: jwks`, and fetch again with jittered backoff
/// (from 1 s, doubling, base capped at 15 s, so at most 30 s with the jitter) until it answers
/// or the server stops.
fn spawn_jwks_loader(
    verifier: Verifier,
    first: AuthError,
    guard: ReadyGuard,
    shutdown: CancellationToken,
) {
    use backon::Retryable;
    tracing::warn!(
        error = %crate::redact::redact_text(&first.to_string()),
        "JWKS not fetched: serving, but /readyz answers 503 `waiting for: jwks` and RS256/ES256 tokens get 503 until it is"
    );
    tokio::spawn(async move {
        let backoff = backon::ExponentialBuilder::default()
            .with_min_delay(Duration::from_secs(1))
            .with_max_delay(Duration::from_secs(15))
            .with_jitter()
            .without_max_times();
        let v = &verifier;
        let load = (move || async move { v.load_keys().await })
            .retry(backoff)
            .notify(|e: &AuthError, after: Duration| {
                tracing::warn!(
                    error = %crate::redact::redact_text(&e.to_string()),
                    retry_in = ?after,
                    "JWKS fetch failed"
                );
            });
        tokio::select! {
            r = load => {
                if let Ok(keys) = r {
                    tracing::info!(keys, "JWKS fetched: RS256/ES256 tokens are accepted");
                }
            }
            () = shutdown.cancelled() => {}
        }
        drop(guard);
    });
}

/// The server's own secrets named by `NAME_SECRET_ARN`, read before anything else reads
/// the configuration: the environment with their values, the store and what was read.
async fn server_secrets<A: App>(
    env: &Env,
) -> Result<
    (
        Env,
        Option<Arc<dyn crate::secrets::SecretSource>>,
        Vec<crate::secrets::StoredSecret>,
    ),
    StartupError,
> {
    let wanted = crate::secrets::SERVER_SECRETS
        .iter()
        .try_fold(false, |any, name| {
            env.get(&format!("{name}{}", crate::secrets::ARN_SUFFIX))
                .map(|v| any || v.is_some())
        })?;
    let source = if wanted {
        A::secret_source(env).await?
    } else {
        None
    };
    let (env, stored) = crate::secrets::resolve(env, source.as_ref()).await?;
    Ok((env, source, stored))
}

async fn serve<A: App>(env: &Env, s: ServeArgs) -> Result<(), StartupError> {
    let (env, secret_source, stored_secrets) = server_secrets::<A>(env).await?;
    let env = &env;
    let secret_refresh = nonzero_duration(env, "MCP_SECRET_REFRESH", Duration::from_secs(300))?;
    let meta = A::meta();
    let core = CoreSettings::from_env(env)?;
    let filter = tool_filter::<A>(&s)?;
    let hosts = host_policy(&s)?;
    let readiness = Readiness::default();
    let (auth_layer, auth_cfg, jwks_pending) = auth_state(env, &s).await?;
    // Over stdio nothing verifies tokens and there is no /readyz: nothing to wait for.
    let jwks_pending = jwks_pending.filter(|_| s.transport == TransportKind::Http);
    let jwks_guard = jwks_pending.as_ref().map(|_| readiness.guard("jwks"));
    let state = crate::state::from_env(env, meta.name)?;
    let app = A::build(BuildCtx {
        env,
        check_only: false,
        state: state.clone(),
    })
    .await?;
    let tool_names: Vec<&str> = A::tools().iter().map(|t| t.spec().name).collect();
    let limits = crate::limits::RateLimits::from_env(env, &tool_names)?;
    let mut changes = change_control::<A>(env, &s, auth_layer.verifier.is_some())?;
    if let Some(st) = &state {
        changes.store = Arc::new(crate::state::SharedChangeStore::new(st.clone()));
        if !changes.shared_key {
            tracing::warn!(
                "MCP_STATE_URL is set but MCP_STATE_KEY is not: a confirmation asked by one replica cannot be resumed by another; set the same MCP_STATE_KEY on every replica"
            );
        }
        tracing::info!(
            store = st.kind(),
            "shared state (MCP_STATE_URL): pending changes, approvals and single-use confirmations are shared by every replica"
        );
    }
    let shared = Shared::new(app, &filter, readiness, core.call_timeout)
        .with_rate_limits(limits.shared(state.clone()))
        .with_changes(changes)
        .with_state(state.clone());
    #[cfg(feature = "airs")]
    let shared = {
        let guard =
            crate::guard::Guard::from_env(env, meta.name)?.map(|g| g.with_state(state.clone()));
        if let Some(g) = &guard {
            tracing::info!(input = g.input, fail_reads = ?g.fail_reads, fail_writes = ?g.fail_writes, "output guard on: tool results are scanned by Prisma AIRS (MCP_GUARD=airs)");
        }
        shared.with_guard(guard)
    };
    let shared = Arc::new(shared);
    tracing::info!(
        server = meta.name,
        version = meta.version,
        transport = ?s.transport,
        tools = shared.tools().len(),
        read_only = filter.read_only,
        "starting"
    );
    let shutdown = CancellationToken::new();
    spawn_signal_handler(shutdown.clone());
    if let Some(source) = secret_source {
        crate::secrets::spawn_refresh(
            source,
            stored_secrets,
            secret_refresh,
            crate::secrets::RefreshTargets {
                verifier: auth_layer.verifier.clone(),
                changes: Some(shared.changes().clone()),
            },
            shutdown.clone(),
        );
    }
    if let (Some(v), Some(first), Some(guard)) = (&auth_layer.verifier, jwks_pending, jwks_guard) {
        spawn_jwks_loader(v.clone(), first, guard, shutdown.clone());
    }
    match s.transport {
        TransportKind::Stdio => crate::transport::serve_stdio(shared, shutdown).await?,
        TransportKind::Http => {
            let mut scopes: Vec<String> = A::tools()
                .iter()
                .map(|t| t.spec().scope)
                .chain(A::extra_scopes().iter().copied())
                .map(str::to_string)
                .collect();
            scopes.sort();
            scopes.dedup();
            let settings = HttpSettings {
                bind: s.bind,
                stateless: s.stateless,
                hosts,
                public_url: s.public_url.clone(),
                max_body_bytes: core.max_body_bytes,
                max_sessions: core.max_sessions,
                max_sessions_per_subject: core.max_sessions_per_subject,
                header_read_timeout: core.header_read_timeout,
                max_connections: core.max_connections,
                http_request_timeout: core.http_request_timeout,
                session_idle: core.session_idle,
                sse_keep_alive: Duration::from_secs(15),
                shutdown_grace: core.shutdown_grace,
                clients: crate::transport::ClientPolicy::from_env(env)?,
                rest: env.flag("MCP_REST")?.unwrap_or(false),
                health_interval: nonzero_duration(
                    env,
                    "MCP_HEALTH_INTERVAL",
                    Duration::from_secs(15),
                )?,
                health_details: env.flag("MCP_HEALTH_DETAILS")?.unwrap_or(false),
                scopes,
                jwt_issuer: auth_cfg.issuer.clone(),
            };
            let listener = tokio::net::TcpListener::bind(s.bind)
                .await
                .map_err(|source| StartupError::Bind {
                    addr: s.bind.to_string(),
                    source,
                })?;
            let addr = listener.local_addr()?;
            tracing::info!(addr = %addr, stateless = s.stateless, auth = auth_layer.verifier.is_some(), "listening on http://{addr}");
            crate::transport::serve_http(listener, shared, settings, auth_layer, shutdown).await?;
        }
    }
    tracing::info!("stopped");
    Ok(())
}

fn spawn_signal_handler(shutdown: CancellationToken) {
    tokio::spawn(async move {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            let (Ok(mut term), Ok(mut int)) = (
                signal(SignalKind::terminate()),
                signal(SignalKind::interrupt()),
            ) else {
                tracing::warn!("cannot install signal handlers");
                return;
            };
            tokio::select! {
                _ = term.recv() => tracing::info!("SIGTERM received"),
                _ = int.recv() => tracing::info!("SIGINT received"),
            }
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
        }
        shutdown.cancel();
    });
}

async fn check<A: App>(env: &Env, s: &ServeArgs) -> Result<(), StartupError> {
    let (env, _, _) = server_secrets::<A>(env).await?;
    let env = &env;
    nonzero_duration(env, "MCP_SECRET_REFRESH", Duration::from_secs(300))?;
    let meta = A::meta();
    CoreSettings::from_env(env)?;
    tool_filter::<A>(s)?;
    let tool_names: Vec<&str> = A::tools().iter().map(|t| t.spec().name).collect();
    crate::limits::RateLimits::from_env(env, &tool_names)?;
    host_policy(s)?;
    // The same auth decision `serve` makes: refusals, JWKS fetch, secret rules. `serve`
    // waits for a JWKS URL that does not answer; `check` reports it.
    let (layer, _, pending) = auth_state(env, s).await?;
    if let Some(e) = pending {
        return Err(e.into());
    }
    change_control::<A>(env, s, layer.verifier.is_some())?;
    if let Some(st) = crate::state::from_env(env, meta.name)? {
        st.ping()
            .await
            .map_err(|e| StartupError::Refused(format!("MCP_STATE_URL: {e}")))?;
    }
    #[cfg(feature = "airs")]
    crate::guard::Guard::from_env(env, meta.name)?;
    let app = A::build(BuildCtx {
        env,
        check_only: true,
        state: None,
    })
    .await?;
    match app.probe().await {
        Ok(desc) => {
            let mut out = std::io::stdout().lock();
            writeln!(out, "{}: ok: {desc}", meta.name)?;
            Ok(())
        }
        Err(e) => Err(StartupError::App(format!(
            "upstream check failed: {}",
            crate::redact::redact_text(&e)
        ))),
    }
}
