//! `paloalto-ngfw`: the PAN-OS / Panorama MCP server.

fn main() -> std::process::ExitCode {
    mcp_core::run::<paloalto_ngfw::Ngfw>()
}
