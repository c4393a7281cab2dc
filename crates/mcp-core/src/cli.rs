//! The common command line of every server.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::telemetry::LogFormat;

/// Transport for `serve`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum TransportKind {
    /// JSON-RPC over stdin/stdout, for a local client that starts the server.
    Stdio,
    /// Streamable HTTP at /mcp and legacy SSE at /sse, with health, readiness and metrics.
    Http,
}

#[derive(Debug, Parser)]
#[command(args_conflicts_with_subcommands = true, disable_help_subcommand = true)]
pub(crate) struct Cli {
    /// Env-file (KEY=VALUE lines) with defaults for any variable; the environment wins.
    #[arg(long, global = true, env = "MCP_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Log format on stderr (default: pretty on a terminal, json otherwise).
    #[arg(long, global = true, env = "MCP_LOG_FORMAT", value_enum)]
    pub log_format: Option<LogFormat>,
    #[command(flatten)]
    pub serve: ServeArgs,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Serve MCP (the default when no subcommand is given).
    Serve(ServeArgs),
    /// Mint an HS256 token with MCP_JWT_SECRET, for development and tests.
    Token(TokenArgs),
    /// Print the tool inventory with scopes, toolsets and annotations.
    Tools(ToolsArgs),
    /// Validate the configuration and reach the upstream once; exit 0 when healthy, 1 if not.
    Check,
}

#[derive(Debug, Clone, Args)]
pub(crate) struct ServeArgs {
    /// How clients connect.
    #[arg(long, env = "MCP_TRANSPORT", value_enum, default_value = "stdio")]
    pub transport: TransportKind,
    /// Listen address for --transport http. A non-loopback address requires JWT auth or MCP_AUTH=none.
    #[arg(
        long,
        env = "MCP_BIND",
        default_value = "127.0.0.1:8080",
        value_name = "ADDR"
    )]
    pub bind: SocketAddr,
    /// Hide every tool that is not read-only, whatever the token allows.
    #[arg(long, env = "MCP_READ_ONLY", action = clap::ArgAction::SetTrue,
          value_parser = clap::builder::BoolishValueParser::new())]
    pub read_only: bool,
    /// Expose only these toolsets (comma-separated; see `tools`).
    #[arg(long, env = "MCP_TOOLSETS", value_delimiter = ',', value_name = "A,B")]
    pub toolsets: Option<Vec<String>>,
    /// Serve /mcp without sessions, so any replica can answer any request (no sticky sessions).
    #[arg(long, env = "MCP_STATELESS", action = clap::ArgAction::SetTrue,
          value_parser = clap::builder::BoolishValueParser::new())]
    pub stateless: bool,
    /// Externally visible base URL (https://mcp.example.com), for OAuth metadata and allowed hosts.
    #[arg(long, env = "MCP_PUBLIC_URL", value_name = "URL")]
    pub public_url: Option<String>,
    /// Accepted Host values (comma-separated); default loopback plus the MCP_PUBLIC_URL host; `*` accepts any.
    #[arg(
        long,
        env = "MCP_ALLOWED_HOSTS",
        value_delimiter = ',',
        value_name = "HOSTS"
    )]
    pub allowed_hosts: Option<Vec<String>>,
}

#[derive(Debug, Clone, Args)]
pub(crate) struct TokenArgs {
    /// Subject (`sub`) of the token: who the audit log will say made the calls.
    #[arg(long, value_name = "NAME")]
    pub sub: String,
    /// A scope to grant; repeat for more (e.g. --scope ngfw:read).
    #[arg(long = "scope", required = true, value_name = "SCOPE")]
    pub scopes: Vec<String>,
    /// Lifetime, e.g. 30m, 1h, 7d.
    #[arg(long, default_value = "1h", value_parser = crate::config::parse_duration)]
    pub ttl: std::time::Duration,
}

#[derive(Debug, Clone, Args)]
pub(crate) struct ToolsArgs {
    /// Print JSON (name, scope, toolset, annotations, schemas) instead of a table.
    #[arg(long)]
    pub json: bool,
    /// Check the inventory against the rules every tool follows (MCP tool names, a
    /// description on every parameter, an object output schema, annotations that match the
    /// effect) and exit 1 naming the first tool that breaks one. Tools of the `conformance`
    /// toolset (the example's MCP conformance fixtures) are not checked.
    #[arg(long, conflicts_with = "json")]
    pub check: bool,
}
