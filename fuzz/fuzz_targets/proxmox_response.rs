//! Proxmox VE API responses: the HTTP mapping (errors in the reason phrase and in `errors`),
//! the guest list of `/cluster/resources`, paging, and the application-error test that keeps
//! PVE's own answers out of the circuit breaker.
//!
//! Input: a JSON body, optionally after a `NNN reason\nheaders\n\n` block (see the crate
//! docs). Nothing may panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mcp_core::{Page, Paging};
use proxmox::client::api::{interpret, is_application_error};
use proxmox::client::model::{GuestConfig, GuestKind, TaskStatus, guests_of};
use proxmox::tools::paging;
use serde_json::Value;

fn check_data(data: &Value) {
    let guests = guests_of(data);
    for g in &guests {
        assert!(matches!(g.kind, GuestKind::Qemu | GuestKind::Lxc));
        let _ = serde_json::to_string(g).expect("a guest serialises");
    }
    let total = guests.len();
    for (limit, offset) in [
        (None, None),
        (Some(1), Some(0)),
        (Some(500), Some(u32::MAX)),
    ] {
        let p: Paging = paging(limit, offset).expect("a valid limit pages");
        let page = Page::of(guests.clone(), p);
        assert_eq!(page.total, total);
        assert!(page.items.len() <= limit.unwrap_or(100) as usize);
        assert_eq!(page.has_more, page.next_offset.is_some());
    }
    // What the tools read from a config and a task status.
    let _ = serde_json::from_value::<GuestConfig>(data.clone());
    if let Ok(t) = serde_json::from_value::<TaskStatus>(data.clone()) {
        let _ = serde_json::to_string(&t).expect("a task status serialises");
    }
    let _ = serde_json::to_string(data).expect("a value serialises");
}

fuzz_target!(|data: &[u8]| {
    secops_fuzz::each_interpreted(
        data,
        |resp| {
            let app = is_application_error(resp);
            assert!(!app || resp.status.is_server_error());
            interpret(resp).map_err(mcp_core::ToolError::from)
        },
        |v| check_data(&v),
    );
    if let Ok(v) = serde_json::from_slice::<Value>(secops_fuzz::split_http(data).body) {
        check_data(&v);
        check_data(&v["data"]);
    }
});
