//! Vendor API simulators for secops-mcp tests, demos and benchmarks.
//!
//! The `vendor-sim` binary serves one simulator per process, chosen by a
//! subcommand (`panos`, `airs`, `proxmox`). Every simulator shares the machinery in
//! [`common`]: fault injection, request statistics and the `/_sim/*`
//! control endpoints.

#![forbid(unsafe_code)]

pub mod airs;
pub mod cli;
pub mod common;
pub mod panos;
pub mod proxmox;
