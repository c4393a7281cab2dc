//! Command line of `vendor-sim`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use clap::{Args, Parser, Subcommand};

use crate::airs::{AirsConfig, AirsSim};
use crate::common::{FaultConfig, SimControl, faults, serve};
use crate::panos::{JobTiming, PanosAuth, PanosSim, User};
use crate::proxmox::{ProxmoxConfig, ProxmoxSim};

const AFTER_HELP: &str = "\
Example:
  vendor-sim panos --bind 127.0.0.1:0 --config crates/simulators/fixtures/panos/firewall.xml \\
      --api-key KEY --username admin --password admin --latency-ms 5 \\
      --user bob:bob-password:BOB-KEY --job-polls 3 --job-ms 2000
  vendor-sim panos --config panorama.xml --api-key KEY \\
      --device 007200000001=fw1.xml --device 007200000002=fw2.xml
  vendor-sim airs --bind 127.0.0.1:0 --api-key KEY --profile default-profile \
      --profile strict --async-delay-ms 200 --rate-limit 50
  vendor-sim proxmox --bind 127.0.0.1:0 --token-id 'root@pam!ci' --token-secret SECRET \\
      --state crates/simulators/fixtures/proxmox/cluster.json --task-ms 200

The first line on stdout is `listening on http://ADDR` (use --bind 127.0.0.1:0 for a free
port); logs go to stderr (RUST_LOG sets the level).

Every simulator also serves control endpoints, without authentication and not counted:
  GET  /_sim/stats    request counts as JSON: {\"total\", \"by_type\", \"by_key\"}
  POST /_sim/reset    zero the counts and return to the command-line fault settings
  POST /_sim/faults   replace the fault settings; JSON, every field optional:
                      latency_ms, fail_rate, fail_status, fail_next, malformed_next,
                      drop_next, rate_limit_next, retry_after_secs
  GET  /_sim/faults   the fault settings in force
  GET  /_sim/scans    (airs only) number of stored scans: {\"scans\": N}
  POST /_sim/state/reset  (proxmox) return the guests to the seed state, forget tasks;
                      (panos) back to the loaded config as running and candidate, no
                      pending changes, jobs or locks";

/// Stateful vendor API simulators for secops-mcp tests, demos and benchmarks.
#[derive(Debug, Parser)]
#[command(name = "vendor-sim", version, after_help = AFTER_HELP)]
pub struct Cli {
    /// Which vendor API to simulate.
    #[command(subcommand)]
    pub command: Command,
}

/// The simulators.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// PAN-OS XML API (/api/): keygen, version, a candidate and a running
    /// configuration (config get/show/set/edit/delete/move/rename with an XPath
    /// subset), commit and partial commit as jobs, revert, config and commit
    /// locks, Panorama commit-all, rule hit counts, op `show system info` and
    /// `test security-policy-match`; sessions, routes, interfaces, HA state and
    /// log jobs built from the config; managed firewalls (`--device`,
    /// `target=`) on Panorama.
    Panos(PanosArgs),
    /// Prisma AIRS scan API (/v1/scan/*): sync and async scans with
    /// deterministic detectors, results and reports.
    Airs(AirsArgs),
    /// Proxmox VE REST API (/api2/json): API-token auth, nodes, guests,
    /// power tasks with UPIDs, snapshots, vzdump backups and restore, guest
    /// config, storage content, errors in the HTTP reason phrase.
    Proxmox(ProxmoxArgs),
}

/// Options every simulator takes.
#[derive(Debug, Clone, Args)]
pub struct CommonArgs {
    /// Address to listen on; port 0 picks a free port.
    #[arg(long, default_value = "127.0.0.1:0")]
    pub bind: SocketAddr,
    /// Delay added to every API request, in milliseconds.
    #[arg(long, default_value_t = 0)]
    pub latency_ms: u64,
    /// Probability (0.0-1.0) that an API request fails with --fail-status.
    #[arg(long, default_value_t = 0.0, value_parser = parse_rate)]
    pub fail_rate: f64,
    /// HTTP status of injected failures.
    #[arg(long, default_value_t = 500, value_parser = clap::value_parser!(u16).range(100..=599))]
    pub fail_status: u16,
}

impl CommonArgs {
    /// The initial fault settings these options describe.
    pub fn fault_config(&self) -> FaultConfig {
        FaultConfig {
            latency_ms: self.latency_ms,
            fail_rate: self.fail_rate,
            fail_status: self.fail_status,
            ..FaultConfig::default()
        }
    }
}

fn parse_rate(s: &str) -> Result<f64, String> {
    let v: f64 = s.parse().map_err(|e| format!("{e}"))?;
    faults::validate(v, 500)?;
    Ok(v)
}

fn parse_device(s: &str) -> Result<(String, PathBuf), String> {
    let (serial, file) = s
        .split_once('=')
        .ok_or_else(|| format!("expected SERIAL=FILE, got {s:?}"))?;
    let serial = serial.trim();
    if serial.is_empty() || !serial.chars().all(|c| c.is_ascii_alphanumeric()) {
        return Err(format!("the serial {serial:?} must be letters and digits"));
    }
    if file.is_empty() {
        return Err("the FILE of SERIAL=FILE is empty".to_owned());
    }
    Ok((serial.to_owned(), PathBuf::from(file)))
}

/// Options of `vendor-sim panos`.
#[derive(Debug, Clone, Args)]
pub struct PanosArgs {
    #[command(flatten)]
    #[allow(missing_docs)]
    pub common: CommonArgs,
    /// Running configuration to serve (a PAN-OS or Panorama config XML file).
    #[arg(long)]
    pub config: PathBuf,
    /// API key accepted in the X-PAN-KEY header or the `key` parameter, and
    /// returned by keygen.
    #[arg(long)]
    pub api_key: String,
    /// Username accepted by type=keygen (keygen always fails without it).
    #[arg(long, requires = "password")]
    pub username: Option<String>,
    /// Password accepted by type=keygen.
    #[arg(long, requires = "username")]
    pub password: Option<String>,
    /// Another administrator, as NAME:PASSWORD:KEY (repeatable). The name
    /// ends at the first ':', the key starts after the last one.
    #[arg(long = "user", value_name = "NAME:PASSWORD:KEY")]
    pub users: Vec<User>,
    /// A firewall managed by this Panorama, as SERIAL=FILE (repeatable): its
    /// own configuration file, reached with `target=SERIAL` and listed by
    /// `show devices all|connected`.
    #[arg(long = "device", value_name = "SERIAL=FILE", value_parser = parse_device)]
    pub devices: Vec<(String, PathBuf)>,
    /// A commit job is FIN on this `show jobs` look at it.
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..))]
    pub job_polls: u32,
    /// A commit job is FIN this many milliseconds after it was enqueued,
    /// looked at or not (0: only looks count).
    #[arg(long, default_value_t = 2000)]
    pub job_ms: u64,
}

/// Options of `vendor-sim airs`.
#[derive(Debug, Clone, Args)]
pub struct AirsArgs {
    #[command(flatten)]
    #[allow(missing_docs)]
    pub common: CommonArgs,
    /// API key accepted in the x-pan-token header.
    #[arg(long)]
    pub api_key: String,
    /// AI security profile name (repeatable); its profile id is `pid-NAME`.
    #[arg(
        long = "profile",
        value_name = "NAME",
        default_value = "default-profile"
    )]
    pub profiles: Vec<String>,
    /// How long async scans stay pending, in milliseconds.
    #[arg(long, default_value_t = 200)]
    pub async_delay_ms: u64,
    /// Requests per second allowed per API key (0 = unlimited); excess
    /// requests get 429 with `Retry-After: 1`.
    #[arg(long, default_value_t = 0)]
    pub rate_limit: u32,
}

/// Options of `vendor-sim proxmox`.
#[derive(Debug, Clone, Args)]
pub struct ProxmoxArgs {
    #[command(flatten)]
    #[allow(missing_docs)]
    pub common: CommonArgs,
    /// API token id accepted in `Authorization: PVEAPIToken=ID=SECRET`,
    /// as `USER@REALM!TOKENID`.
    #[arg(long)]
    pub token_id: String,
    /// API token secret.
    #[arg(long)]
    pub token_secret: String,
    /// Cluster state to seed from (JSON); default: the built-in state, the
    /// same as crates/simulators/fixtures/proxmox/cluster.json.
    #[arg(long)]
    pub state: Option<PathBuf>,
    /// How long a task (power action, snapshot, backup, restore) runs before its effect applies, in milliseconds.
    #[arg(long, default_value_t = 200)]
    pub task_ms: u64,
}

/// Errors of [`run`].
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The PAN-OS configuration could not be loaded.
    #[error(transparent)]
    Load(#[from] crate::panos::LoadError),
    /// The Proxmox simulator could not be set up (state file, token id).
    #[error(transparent)]
    Proxmox(#[from] crate::proxmox::SetupError),
    /// Binding or serving failed.
    #[error("server error: {0}")]
    Io(#[from] std::io::Error),
}

/// Runs the simulator selected by `cli` until SIGINT or SIGTERM.
pub async fn run(cli: Cli) -> Result<(), RunError> {
    match cli.command {
        Command::Panos(args) => {
            let mut sim = PanosSim::from_file(
                &args.config,
                PanosAuth {
                    api_key: args.api_key,
                    username: args.username,
                    password: args.password,
                },
            )?
            .with_job_timing(JobTiming {
                polls: args.job_polls,
                max_age: (args.job_ms > 0).then(|| std::time::Duration::from_millis(args.job_ms)),
            });
            for user in args.users {
                sim = sim.with_user(user);
            }
            for (serial, file) in &args.devices {
                let fw = PanosSim::from_file(
                    file,
                    PanosAuth {
                        api_key: String::new(),
                        username: None,
                        password: None,
                    },
                )?;
                sim = sim.with_device(serial, fw);
            }
            let ctl = SimControl::new(args.common.fault_config());
            let app = crate::panos::router(Arc::new(sim), ctl);
            tracing::info!(config = %args.config.display(), "PAN-OS simulator starting");
            serve::run(args.common.bind, app).await?;
        }
        Command::Airs(args) => {
            let sim = AirsSim::new(AirsConfig {
                api_key: args.api_key,
                profiles: args.profiles,
                async_delay: std::time::Duration::from_millis(args.async_delay_ms),
                rate_limit: args.rate_limit,
            });
            let ctl = SimControl::new(args.common.fault_config());
            let app = crate::airs::router(Arc::new(sim), ctl);
            tracing::info!("Prisma AIRS simulator starting");
            serve::run(args.common.bind, app).await?;
        }
        Command::Proxmox(args) => {
            let sim = ProxmoxSim::from_state_file(
                ProxmoxConfig {
                    token_id: args.token_id,
                    token_secret: args.token_secret,
                    task_duration: std::time::Duration::from_millis(args.task_ms),
                },
                args.state.as_deref(),
            )?;
            let ctl = SimControl::new(args.common.fault_config());
            let app = crate::proxmox::router(Arc::new(sim), ctl);
            let state = args
                .state
                .as_ref()
                .map_or_else(|| "<built-in>".to_owned(), |p| p.display().to_string());
            tracing::info!(%state, "Proxmox VE simulator starting");
            serve::run(args.common.bind, app).await?;
        }
    }
    Ok(())
}
