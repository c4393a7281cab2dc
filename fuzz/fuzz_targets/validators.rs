//! The input validators: CIDRs, ports, protocols, names (mcp-core), PAN-OS names and XPaths,
//! Proxmox paths, nodes, UPIDs, VMID sets and SSH commands, AIRS ids.
//!
//! Input: one string (each line is also tried on its own). Nothing may panic, and whatever a
//! validator accepts keeps its promise: it re-parses to itself and holds only the characters
//! it allows.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mcp_core::validate::{self, NameRules};
use paloalto_ngfw::client::{Name, XPath};
use proxmox::policy::{CommandPolicy, VmidSet, check_path, denied, quote};

fn core(s: &str) {
    if let Ok(c) = validate::parse_cidr("cidr", s) {
        assert!(!s.chars().any(char::is_control));
        assert!(c.prefix_len() <= if c.is_ipv4() { 32 } else { 128 });
        let again = validate::parse_cidr("cidr", &c.to_string()).expect("a normalised CIDR parses");
        assert_eq!(again.net, c.net);
        assert!(!again.had_host_bits);
        let _ = c.class().to_string();
    }
    if let Ok(r) = validate::parse_port_range("port", s) {
        assert!(1 <= r.from && r.from <= r.to);
        assert_eq!(
            validate::parse_port_range("port", &r.to_string()).ok(),
            Some(r)
        );
    }
    if let Ok(p) = validate::parse_protocol("protocol", s) {
        assert_eq!(
            validate::parse_protocol("protocol", p.as_str()).ok(),
            Some(p)
        );
    }
    for rules in [NameRules::PANOS_OBJECT, NameRules::IDENTIFIER] {
        if let Ok(v) = validate::name("name", s, rules) {
            let n = v.chars().count();
            assert!(rules.min_len <= n && n <= rules.max_len);
            assert!(v.chars().all(|c| c.is_ascii_alphanumeric()
                || rules.extra.contains(c)
                || (rules.spaces && c == ' ')));
            assert!(!v.starts_with(' ') && !v.ends_with(' '));
        }
    }
    if validate::check_no_control("f", s).is_ok() {
        assert!(!s.chars().any(char::is_control));
    }
    let _ = validate::check_len("f", s, 16);
}

fn panos(s: &str) {
    if let Ok(n) = Name::parse("name", s) {
        // Nothing in a name can close the quoted predicate or start another step.
        assert!(
            !n.as_str()
                .contains(['\'', '"', '[', ']', '/', '<', '>', '&'])
        );
        let x = XPath::device().child("address").entry(&n);
        assert!(x.as_str().ends_with(&format!("/entry[@name='{s}']")));
        assert_eq!(x.as_str().matches('\'').count(), 4);
    }
}

fn proxmox(s: &str) {
    if let Ok(segments) = check_path(s) {
        assert_eq!(segments.join("/"), s[1..]);
        assert!(
            segments
                .iter()
                .all(|g| !g.is_empty() && *g != "." && *g != "..")
        );
        let deny = vec![
            "/access".to_string(),
            "/nodes/*/execute".to_string(),
            s.to_string(),
        ];
        assert!(denied(&segments, &deny).is_some(), "a path is under itself");
    }
    if let Ok(argv) = CommandPolicy::default_policy().check(s) {
        let q = quote(&argv);
        assert_eq!(
            q.matches('\'').count(),
            2 * argv.len(),
            "an argument closed its quotes"
        );
        assert!(argv.iter().all(|a| !a.is_empty() && !a.contains(' ')));
    }
    let _ = proxmox::tools::node("node", s);
    if let Ok(u) = proxmox::tools::upid(s) {
        assert_eq!(u.split(':').count(), 9);
    }
    if let Ok(set) = VmidSet::parse(s) {
        let first = s
            .split(',')
            .map(str::trim)
            .find(|p| !p.is_empty())
            .expect("a part");
        let lo: u32 = first
            .split('-')
            .next()
            .and_then(|a| a.trim().parse().ok())
            .expect("a VMID");
        assert!(set.contains(lo));
    }
    if let Ok(policy) = CommandPolicy::new(&[s.to_string()]) {
        let _ = policy.describe();
        let _ = policy.check(s);
    }
}

fn airs(s: &str) {
    use panw_airs::client::limits::{MAX_SCAN_ID_LEN, check_id_field, check_ids};
    let _ = check_id_field("tr_id", s);
    let ids: Vec<String> = s.split(',').map(str::to_string).collect();
    if check_ids("scan_ids", &ids, MAX_SCAN_ID_LEN).is_ok() {
        // Ids go into a comma-separated query parameter: they must not hold a comma.
        assert!(
            ids.iter()
                .all(|i| !i.is_empty() && !i.contains([',', '&', '=']))
        );
    }
}

fn all(s: &str) {
    core(s);
    panos(s);
    proxmox(s);
    airs(s);
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    all(&text);
    if text.contains('\n') {
        for line in text.lines() {
            all(line);
        }
    }
    if let Ok(b) = <[u8; 8]>::try_from(data.get(..8).unwrap_or_default()) {
        let v = i64::from_le_bytes(b);
        if let Ok(id) = proxmox::tools::vmid(v) {
            assert!((100..=999_999_999).contains(&id));
        }
    }
});
