//! `proxmox`: the Proxmox VE MCP server.

fn main() -> std::process::ExitCode {
    mcp_core::run::<proxmox::Proxmox>()
}
