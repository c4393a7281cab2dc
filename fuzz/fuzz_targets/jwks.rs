//! JWKS documents (a JWKS URL's answer is untrusted input): parsing and key import.
//! Nothing may panic; a usable set has at least one key, each with a kid.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    if let Ok(keys) = mcp_core::auth::parse_jwks(&text) {
        assert!(!keys.is_empty());
    }
});
