//! Typed results the tools read.

/// A key and the value stored under it (or, after a write, the value it replaced).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stored {
    pub key: String,
    pub value: Option<String>,
}

/// What a probe of the upstream found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Probe {
    NotConfigured,
    Answered(u16),
}

impl std::fmt::Display for Probe {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::NotConfigured => f.write_str("no upstream configured"),
            Self::Answered(s) => write!(f, "upstream answered {s}"),
        }
    }
}
