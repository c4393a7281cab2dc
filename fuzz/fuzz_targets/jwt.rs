//! Bearer tokens: the `Authorization` header and token verification, for any string.
//!
//! Three ways in, from one input:
//! 1. the input as a token, through two verifiers (HS256 plus RS256/ES256 keys from a JWKS
//!    file; and HS256 with issuer and audience checks);
//! 2. the input as an `Authorization` header value;
//! 3. `HEADER-JSON\nCLAIMS`: the two parts base64url-encoded and signed with the right
//!    HS256 secret (so the claim checks are reached) and with a wrong one (which must never
//!    verify). An accepted token's subject is its `sub` claim.
//!
//! Nothing may panic.
#![no_main]

use std::sync::OnceLock;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use http::{HeaderMap, HeaderValue, header};
use jsonwebtoken::{Algorithm, EncodingKey};
use libfuzzer_sys::fuzz_target;
use mcp_core::Env;
use mcp_core::auth::{AuthConfig, Verifier, bearer};
use serde_json::Value;

const SECRET: &str = "fuzzing-secret-0123456789abcdef-0123456789";
const WRONG_SECRET: &str = "another-secret-0123456789abcdef-0123456789";
const ISSUER: &str = "https://idp.example";

/// Public keys only (the private halves were thrown away): RS256 `rsa-1`, ES256 `ec-1`.
const JWKS: &str = r#"{"keys": [{"kty": "RSA", "kid": "rsa-1", "alg": "RS256", "use": "sig", "n": "s0f8-eExINvIPhNkdwTVQTVB8gBXIB3FVdwwbF9zZRe6eeovLKXOi4R5utTugAkyxNOVX-64e6fMgtgKMZsNDewOYud9tHb5sO3luyO64oW_IaKwVY47eFdbTI3viX-E3QaHD-vmsZq8XmLdSjsefFUDnui4erReY-Kj4jQZM7uJs3ZtsR3hxEiUxacTVvkm_9yomSas3EPTTv0grOj5FByyy7liOFrnYwOQhboLSQMJRspLzgq5UOu45aQEq1zw5XG9GSiIzpA-b5dbW17KKmDIkDPAT06m0dVL0n6Nw2pu3E0dOk4mES45k_5V3rbaBpoHO5apb8YJ7r7-Dk07Pw", "e": "AQAB"}, {"kty": "EC", "kid": "ec-1", "crv": "P-256", "alg": "ES256", "use": "sig", "x": "ApU56izOe0lmtT-vv7xIQYQ7unCfmeUAiKGsHwm1pls", "y": "WOvJjR8JTPfBtDwJ5dvvZq7cnfnz92LsLE-Rqp1Z-l4"}]}"#;

struct Fixture {
    rt: tokio::runtime::Runtime,
    plain: Verifier,
    strict: Verifier,
}

fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let jwks_path =
            std::env::temp_dir().join(format!("secops-fuzz-jwks-{}.json", std::process::id()));
        std::fs::write(&jwks_path, JWKS).expect("write the JWKS file");
        let jwks = jwks_path.to_string_lossy().into_owned();
        let config = |pairs: &[(&str, &str)]| {
            AuthConfig::from_env(&Env::from_pairs(
                pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())),
            ))
            .expect("auth config")
        };
        // A JWKS verifier needs an audience (mcp-core refuses one without).
        let plain = config(&[
            ("MCP_JWT_SECRET", SECRET),
            ("MCP_JWT_JWKS_FILE", &jwks),
            ("MCP_JWT_AUDIENCE", "secops-mcp"),
        ]);
        let strict = config(&[
            ("MCP_JWT_SECRET", SECRET),
            ("MCP_JWT_ISSUER", ISSUER),
            ("MCP_JWT_AUDIENCE", "secops-mcp,other"),
        ]);
        let http = reqwest::Client::builder().build().expect("http client");
        let (plain, strict) = rt.block_on(async {
            (
                Verifier::new(&plain, http.clone()).await.expect("verifier"),
                Verifier::new(&strict, http).await.expect("verifier"),
            )
        });
        // A JWKS file is read once, when the verifier is built.
        let _ = std::fs::remove_file(&jwks_path);
        Fixture { rt, plain, strict }
    })
}

fn sign(message: &str, secret: &str) -> String {
    let sig = jsonwebtoken::crypto::sign(
        message.as_bytes(),
        &EncodingKey::from_secret(secret.as_bytes()),
        Algorithm::HS256,
    )
    .expect("HMAC signs anything");
    format!("{message}.{sig}")
}

fuzz_target!(|data: &[u8]| {
    let f = fixture();
    let text = String::from_utf8_lossy(data);
    f.rt.block_on(async {
        // 1. The input as a token.
        let _ = f.plain.verify(&text).await;
        let _ = f.strict.verify(&text).await;

        // 2. The input as an Authorization header.
        if let Ok(v) = HeaderValue::from_bytes(data) {
            let mut h = HeaderMap::new();
            h.insert(header::AUTHORIZATION, v);
            if let Some(token) = bearer(&h) {
                assert!(!token.is_empty() && token.trim() == token);
                let _ = f.plain.verify(token).await;
            }
        }

        // 3. Header and claims, signed.
        let Some((head, claims)) = text.split_once('\n') else {
            return;
        };
        let message = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(head),
            URL_SAFE_NO_PAD.encode(claims)
        );
        let good = sign(&message, SECRET);
        let bad = sign(&message, WRONG_SECRET);
        for (v, strict) in [(&f.plain, false), (&f.strict, true)] {
            assert!(
                v.verify(&bad).await.is_err(),
                "a token signed with another secret verified"
            );
            if let Ok(p) = v.verify(&good).await {
                let h: Value = serde_json::from_str(head).expect("an accepted header is JSON");
                assert_eq!(h["alg"], "HS256", "accepted with alg {}", h["alg"]);
                let c: Value = serde_json::from_str(claims).expect("accepted claims are JSON");
                assert_eq!(c["sub"].as_str(), Some(p.subject.as_str()));
                assert!(c["exp"].is_number(), "accepted without a numeric exp");
                if strict {
                    assert_eq!(c["iss"], ISSUER);
                }
            }
        }
    });
});
