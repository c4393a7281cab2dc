//! The guards: what `execute_command` may run ([`commands`]), which API paths are out of
//! bounds ([`paths`]), which guests a `proxmox_api` write reaches ([`guests`]), and the VMID
//! sets of `PROXMOX_VMID_ALLOWLIST` and `PROXMOX_VMID_DENYLIST` ([`vmids`]), and the protected
//! guests of `PROXMOX_PROTECTED_VMIDS` and `PROXMOX_PROTECTED_TAGS` ([`protect`]).

pub mod commands;
pub mod guests;
pub mod paths;
pub mod protect;
pub mod vmids;

pub use commands::{CommandPolicy, PolicyError, program, quote};
pub use paths::{check_path, denied};
pub use protect::Protected;
pub use vmids::VmidSet;
