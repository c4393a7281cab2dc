//! VMID sets such as `100-199,300`.

/// Why a VMID set cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VmidSetError {
    #[error("`{0}` is not a VMID or range")]
    NotARange(String),
    #[error("range `{0}` starts after it ends")]
    Reversed(String),
    #[error("is empty")]
    Empty,
}

/// A set of VMID ranges.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VmidSet(Vec<(u32, u32)>);

impl VmidSet {
    pub fn parse(s: &str) -> Result<Self, VmidSetError> {
        let mut out = Vec::new();
        for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (a, b) = part.split_once('-').unwrap_or((part, part));
            let a: u32 = a
                .trim()
                .parse()
                .map_err(|_| VmidSetError::NotARange(part.to_string()))?;
            let b: u32 = b
                .trim()
                .parse()
                .map_err(|_| VmidSetError::NotARange(part.to_string()))?;
            if a > b {
                return Err(VmidSetError::Reversed(part.to_string()));
            }
            out.push((a, b));
        }
        if out.is_empty() {
            return Err(VmidSetError::Empty);
        }
        Ok(Self(out))
    }

    pub fn contains(&self, vmid: u32) -> bool {
        self.0.iter().any(|(a, b)| (*a..=*b).contains(&vmid))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges() {
        let s = VmidSet::parse("100-199, 300").expect("ok");
        assert!(s.contains(150) && s.contains(300) && !s.contains(200));
        assert!(VmidSet::parse("200-100").is_err());
        assert!(VmidSet::parse("abc").is_err());
        assert!(VmidSet::parse("").is_err());
    }

    proptest::proptest! {
        #[test]
        fn written_sets_parse_back(ranges in proptest::collection::vec((0u32..2_000_000, 0u32..1000), 1..6)) {
            let text = ranges
                .iter()
                .map(|(a, n)| if *n == 0 { a.to_string() } else { format!("{a} - {}", a + n) })
                .collect::<Vec<_>>()
                .join(" ,");
            let set = VmidSet::parse(&text).expect("a written set parses");
            for (a, n) in &ranges {
                proptest::prop_assert!(set.contains(*a) && set.contains(a + n));
            }
        }

        #[test]
        fn arbitrary_text_never_panics(s in "[0-9, -]{0,30}|\\PC{0,30}") {
            if let Ok(set) = VmidSet::parse(&s) {
                let _ = set.contains(100);
            }
        }
    }
}
