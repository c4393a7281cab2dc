//! Proxmox VE API responses: the HTTP mapping (errors in the reason phrase and in `errors`),
//! the guest list of `/cluster/resources`, paging, and the application-error test that keeps
//! PVE's own answers out of the circuit breaker.
//!
//! Input: a JSON body, optionally after a `NNN reason\nheaders\n\n` block (see the crate
//! docs). Nothing may panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use proxmox_mcp::client::api::{interpret, is_application_error};
use proxmox_mcp::tools::page;
use proxmox_mcp::tools::vms::guests_of;
use serde_json::Value;

fn check_data(data: &Value) {
    let guests = guests_of(data);
    for g in &guests {
        assert!(matches!(g["type"].as_str(), Some("qemu" | "lxc")));
    }
    let total = guests.len();
    for (limit, offset) in [
        (None, None),
        (Some(1), Some(0)),
        (Some(500), Some(u32::MAX)),
    ] {
        let p = page(guests.clone(), limit, offset).expect("a valid limit pages");
        assert_eq!(p["total"].as_u64(), Some(total as u64));
        let n = p["items"].as_array().map_or(0, Vec::len);
        assert!(n <= limit.unwrap_or(100) as usize);
    }
    // What the tools read from a guest, a config and a task status.
    for g in &guests {
        let _ = g["vmid"].as_u64();
        let _ = g["node"].as_str();
    }
    let _ = data["protection"].as_i64();
    let _ = data["exitstatus"].as_str();
    let _ = serde_json::to_string(data).expect("a value serialises");
}

fuzz_target!(|data: &[u8]| {
    secops_fuzz::each_interpreted(
        data,
        |resp| {
            let app = is_application_error(resp);
            assert!(!app || resp.status.is_server_error());
            interpret(resp)
        },
        |v| check_data(&v),
    );
    if let Ok(v) = serde_json::from_slice::<Value>(secops_fuzz::split_http(data).body) {
        check_data(&v);
        check_data(&v["data"]);
    }
});
