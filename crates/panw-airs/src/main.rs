//! `panw-airs`: the Prisma AIRS MCP server.

fn main() -> std::process::ExitCode {
    mcp_core::run::<panw_airs::Airs>()
}
