//! The `port` argument: a number (`443`), a numeric string (`"443"`), a service name
//! (`"https"`) or a range (`"8000-8100"`), with one JSON schema that says so.
//!
//! Models send ports as JSON numbers as often as strings, so both are accepted. A number is
//! checked while the arguments are parsed (1-65535, whole), so `0`, `65536`, `-1` and `1.5`
//! are refused naming the field before the tool runs. Text is resolved later against the
//! server's own port names ([`PortArg::resolve`] takes them, and where a caller can see them).

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;

use super::{PortRange, excerpt, parse_port_range};
use crate::error::ToolError;
use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::de::{self, Deserializer, Visitor};

/// The longest text a `port` may be (names and ranges are far shorter).
pub const MAX_PORT_TEXT: usize = 64;

const DESCRIPTION: &str = "A port number (443), or a string: a number (\"443\"), a name (\"https\") or a range (\"8000-8100\").";

/// A `port` as the caller gave it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PortArg {
    /// A JSON number, already checked to be a whole number in 1-65535.
    Number(u16),
    /// A JSON string: a number, a name or a range; see [`PortArg::resolve`].
    Text(String),
}

impl PortArg {
    /// The port range this argument means. `aliases` maps lower-case names to ports (the
    /// server's own, e.g. `ssh`, `postgres`); `names_listed_in`, if not empty, is where a
    /// caller finds them (a tool name), said when a name is unknown.
    pub fn resolve(
        &self,
        field: &str,
        aliases: &BTreeMap<String, PortRange>,
        names_listed_in: &str,
    ) -> Result<PortRange, ToolError> {
        match self {
            Self::Number(n) => Ok(PortRange { from: *n, to: *n }),
            Self::Text(t) => {
                if t.len() > MAX_PORT_TEXT {
                    return Err(ToolError::invalid(
                        field,
                        format!(
                            "`{}` is longer than {MAX_PORT_TEXT} characters",
                            excerpt(t, 32)
                        ),
                    ));
                }
                if let Some(r) = aliases.get(&t.trim().to_ascii_lowercase()) {
                    return Ok(*r);
                }
                if t.chars()
                    .all(|c| c.is_ascii_digit() || c == '-' || c == ' ')
                {
                    // A number or a range: mcp-core says precisely what is wrong with it.
                    return parse_port_range(field, t);
                }
                let listed = if names_listed_in.is_empty() {
                    String::new()
                } else {
                    format!(" (see {names_listed_in})")
                };
                Err(ToolError::invalid(
                    field,
                    format!(
                        "`{}` is not a port number, a known name{listed} or a range like 8000-8100",
                        excerpt(t, MAX_PORT_TEXT)
                    ),
                ))
            }
        }
    }

    /// The schema of an optional `port` (`null` means "not given"): use it with
    /// `#[schemars(schema_with = "mcp_core::validate::optional_port_schema")]` on an
    /// `Option<PortArg>`, so
    /// the schema stays one flat `anyOf` instead of schemars' nested `anyOf` for `Option`.
    pub fn optional_schema(generator: &mut SchemaGenerator) -> Schema {
        let mut s = Self::json_schema(generator);
        if let Some(any) = s.get_mut("anyOf").and_then(|a| a.as_array_mut()) {
            any.push(serde_json::json!({"type": "null"}));
        }
        s
    }
}

/// `schema_with` target for an `Option<PortArg>` field.
pub fn optional_port_schema(generator: &mut SchemaGenerator) -> Schema {
    PortArg::optional_schema(generator)
}

impl JsonSchema for PortArg {
    fn schema_name() -> Cow<'static, str> {
        "Port".into()
    }

    fn inline_schema() -> bool {
        true
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "description": DESCRIPTION,
            "anyOf": [
                {"type": "integer", "minimum": 1, "maximum": 65535},
                {"type": "string", "minLength": 1, "maxLength": MAX_PORT_TEXT,
                 "examples": ["443", "https", "8000-8100"]}
            ]
        })
    }
}

impl<'de> serde::Deserialize<'de> for PortArg {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(PortVisitor)
    }
}

struct PortVisitor;

fn out_of_range<E: de::Error>(n: impl fmt::Display) -> E {
    E::custom(format!("port {n} is outside 1-65535"))
}

impl Visitor<'_> for PortVisitor {
    type Value = PortArg;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(
            "a port number 1-65535, or a string such as \"443\", \"https\" or \"8000-8100\"",
        )
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<PortArg, E> {
        match u16::try_from(v) {
            Ok(p) if p >= 1 => Ok(PortArg::Number(p)),
            _ => Err(out_of_range(v)),
        }
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<PortArg, E> {
        match u64::try_from(v) {
            Ok(u) => self.visit_u64(u),
            Err(_) => Err(out_of_range(v)),
        }
    }

    fn visit_u128<E: de::Error>(self, v: u128) -> Result<PortArg, E> {
        match u64::try_from(v) {
            Ok(u) => self.visit_u64(u),
            Err(_) => Err(out_of_range(v)),
        }
    }

    fn visit_i128<E: de::Error>(self, v: i128) -> Result<PortArg, E> {
        match u64::try_from(v) {
            Ok(u) => self.visit_u64(u),
            Err(_) => Err(out_of_range(v)),
        }
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<PortArg, E> {
        if !v.is_finite() || v.fract() != 0.0 {
            return Err(E::custom(format!(
                "port {v} is not a whole number; give an integer 1-65535"
            )));
        }
        if !(1.0..=65535.0).contains(&v) {
            return Err(out_of_range(v));
        }
        // Whole and in range, so the conversion is exact (JSON Schema counts 443.0 as an integer).
        Ok(PortArg::Number(v as u16))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<PortArg, E> {
        Ok(PortArg::Text(v.to_string()))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<PortArg, E> {
        Ok(PortArg::Text(v))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(v: serde_json::Value) -> Result<PortArg, String> {
        serde_json::from_value(v).map_err(|e| e.to_string())
    }

    #[test]
    fn numbers_and_text() {
        assert_eq!(parse(json!(443)), Ok(PortArg::Number(443)));
        assert_eq!(parse(json!(65535)), Ok(PortArg::Number(65535)));
        assert_eq!(parse(json!(443.0)), Ok(PortArg::Number(443)));
        assert_eq!(parse(json!("https")), Ok(PortArg::Text("https".into())));
        for (bad, why) in [
            (json!(0), "outside 1-65535"),
            (json!(65536), "outside 1-65535"),
            (json!(-1), "outside 1-65535"),
            (json!(1.5), "not a whole number"),
            (json!(1e10), "outside 1-65535"),
            (json!(true), "a port number"),
            (json!(null), "a port number"),
            (json!([443]), "a port number"),
        ] {
            let e = parse(bad.clone()).expect_err("refused");
            assert!(e.contains(why), "{bad}: {e}");
        }
    }

    #[test]
    fn resolve_against_aliases() {
        let aliases: BTreeMap<String, PortRange> =
            [("https".to_string(), PortRange { from: 443, to: 443 })].into();
        let r = |p: PortArg| {
            p.resolve("port", &aliases, "capabilities")
                .map_err(|e| e.to_string())
        };
        assert_eq!(r(PortArg::Number(22)), Ok(PortRange { from: 22, to: 22 }));
        assert_eq!(
            r(PortArg::Text(" HTTPS ".into())),
            Ok(PortRange { from: 443, to: 443 })
        );
        assert_eq!(
            r(PortArg::Text("8000-8100".into())),
            Ok(PortRange {
                from: 8000,
                to: 8100
            })
        );
        for (bad, why) in [
            ("telnet", "not a port number"),
            ("22;rm", "not a port number"),
            ("99999", "outside 1-65535"),
            ("0", "outside 1-65535"),
            ("9-8", "starts after it ends"),
            ("-1", "not a port or port range"),
            ("", "not a port or port range"),
        ] {
            let e = r(PortArg::Text(bad.into())).expect_err("refused");
            assert!(e.contains("`port`") && e.contains(why), "{bad}: {e}");
        }
        assert!(
            r(PortArg::Text("telnet".into()))
                .expect_err("unknown")
                .contains("a known name (see capabilities) or")
        );
        let unlisted = PortArg::Text("telnet".into())
            .resolve("port", &aliases, "")
            .expect_err("unknown")
            .to_string();
        assert!(unlisted.contains("a known name or a range"), "{unlisted}");
        let long = "1".repeat(100);
        assert!(
            r(PortArg::Text(long))
                .expect_err("long")
                .contains("longer than 64")
        );
    }
}
