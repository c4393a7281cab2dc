//! `aws-whitelist`: the AWS security-group allowlisting MCP server.

fn main() -> std::process::ExitCode {
    mcp_core::run::<aws_whitelist::Whitelist>()
}
