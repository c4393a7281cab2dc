//! The example server binary, used by the test suites and the conformance run.

fn main() -> std::process::ExitCode {
    mcp_core::run::<mcp_example::Example>()
}
