//! XPaths built from validated parts, never pasted from input.
//!
//! A [`Name`] can only be made by validation, which refuses quotes, brackets, slashes and
//! control characters; [`XPath`] only accepts static element names and [`Name`]s, so no
//! input can change the shape of the path.

use std::fmt;

use mcp_core::ToolError;
use mcp_core::validate::{self, NameRules};

/// PAN-OS object, zone, rule, device-group, template and vsys names: letters, digits, space,
/// `_ - . :` and at most 63 characters (PAN-OS' own limit for most names).
pub const PANOS_NAME: NameRules = NameRules {
    min_len: 1,
    max_len: 63,
    extra: "_-.:",
    spaces: true,
};

/// A name that is safe inside `[@name='…']` and inside an op command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Name(String);

impl Name {
    /// Validate `value` for `field`.
    pub fn parse(field: &str, value: &str) -> Result<Self, ToolError> {
        validate::name(field, value, PANOS_NAME).map(|v| Self(v.to_string()))
    }

    /// Validate `value` for `field` under other name rules (tags: 127 characters). The rules
    /// must not allow quotes, brackets, slashes or control characters.
    pub fn parse_with(field: &str, value: &str, rules: NameRules) -> Result<Self, ToolError> {
        debug_assert!(
            !rules
                .extra
                .contains(['\'', '"', '[', ']', '/', '<', '>', '&'])
        );
        validate::name(field, value, rules).map(|v| Self(v.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// An XPath under `/config`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct XPath(String);

impl XPath {
    /// `/config`
    pub fn config() -> Self {
        Self("/config".into())
    }

    /// `/config/devices/entry[@name='localhost.localdomain']`
    pub fn device() -> Self {
        Self::config().local_device()
    }

    /// Append a static element name.
    pub fn child(mut self, element: &'static str) -> Self {
        debug_assert!(
            element
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        );
        self.0.push('/');
        self.0.push_str(element);
        self
    }

    /// Append `devices/entry[@name='localhost.localdomain']` (the device itself, also inside
    /// a Panorama template's `config`).
    pub fn local_device(self) -> Self {
        self.child("devices").entry_static("localhost.localdomain")
    }

    /// Append `entry[@name='NAME']`.
    pub fn entry(self, name: &Name) -> Self {
        self.entry_static_str(name.as_str())
    }

    fn entry_static(self, name: &'static str) -> Self {
        self.entry_static_str(name)
    }

    fn entry_static_str(mut self, name: &str) -> Self {
        self.0.push_str("/entry[@name='");
        self.0.push_str(name);
        self.0.push_str("']");
        self
    }

    /// Append `entry` (every entry).
    pub fn entries(self) -> Self {
        self.child("entry")
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for XPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_paths_and_refuses_injection() {
        let vsys = Name::parse("vsys", "vsys1").expect("ok");
        let p = XPath::device()
            .child("vsys")
            .entry(&vsys)
            .child("address")
            .entries();
        assert_eq!(
            p.as_str(),
            "/config/devices/entry[@name='localhost.localdomain']/vsys/entry[@name='vsys1']/address/entry"
        );
        assert!(Name::parse("device_group", "FR Datacenter").is_ok());
        for bad in [
            "a'b", "a\"b", "x]/../y", "a/b", "a[1]", "a\nb", "a\u{0}b", "", "a|b", "a*", "@name",
        ] {
            let e = Name::parse("device_group", bad).expect_err(bad);
            assert_eq!(e.field(), Some("device_group"));
        }
    }
}
