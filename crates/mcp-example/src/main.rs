//! `mcp-example`: the example MCP server (the template for new servers).

fn main() -> std::process::ExitCode {
    mcp_core::run::<mcp_example::Example>()
}
