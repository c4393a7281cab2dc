//! Paging for list tools: one way to take `limit` and `offset`, one page shape.
//!
//! A list tool declares its bounds once, as a [`PageSpec`] constant next to its handler, and
//! says them in its `limit` parameter's description. Its input keeps two plain fields,
//! `limit` and `offset` (inputs refuse unknown fields, which `serde(flatten)` cannot do), and
//! the handler turns them into a checked [`Paging`]. The output embeds a [`Page`]:
//! `items`, `total`, `offset`, `limit`, `has_more` and `next_offset`.

use schemars::JsonSchema;
use serde::Serialize;

use crate::error::ToolError;

/// A list tool's bounds: how many items a page holds when the caller does not say, and at
/// most.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageSpec {
    pub default_limit: usize,
    pub max_limit: usize,
}

impl PageSpec {
    /// Bounds with `default_limit <= max_limit`, both at least 1 (checked when built).
    pub const fn new(default_limit: usize, max_limit: usize) -> Self {
        assert!(default_limit >= 1 && default_limit <= max_limit);
        Self {
            default_limit,
            max_limit,
        }
    }
}

/// A checked `limit` and `offset`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Paging {
    pub limit: usize,
    pub offset: usize,
}

impl Paging {
    /// Check the caller's `limit` (1 to the tool's maximum; absent means the default) and
    /// `offset` (absent means 0). A refusal names `limit`.
    pub fn new(limit: Option<u32>, offset: Option<u32>, spec: PageSpec) -> Result<Self, ToolError> {
        let limit = limit.map_or(spec.default_limit, |l| l as usize);
        if limit == 0 || limit > spec.max_limit {
            return Err(ToolError::invalid(
                "limit",
                format!("must be between 1 and {}", spec.max_limit),
            ));
        }
        Ok(Self {
            limit,
            offset: offset.unwrap_or(0) as usize,
        })
    }

    /// The first page of a tool's default size (for callers that take no paging input).
    pub fn first(spec: PageSpec) -> Self {
        Self {
            limit: spec.default_limit,
            offset: 0,
        }
    }
}

/// One page of a list.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct Page<T> {
    /// The items of this page.
    pub items: Vec<T>,
    /// Items matching the query, before paging.
    pub total: usize,
    /// Items skipped before this page.
    pub offset: usize,
    /// The page size asked for.
    pub limit: usize,
    /// Whether more items follow; call again with `offset` set to `next_offset`.
    pub has_more: bool,
    /// The `offset` of the next page, when there is one.
    pub next_offset: Option<usize>,
}

impl<T> Page<T> {
    /// The page `paging` selects from every matching item.
    pub fn of(all: impl IntoIterator<Item = T>, paging: Paging) -> Self {
        let mut total = 0;
        let mut items = Vec::with_capacity(paging.limit.min(1024));
        for (i, item) in all.into_iter().enumerate() {
            total += 1;
            if i >= paging.offset && items.len() < paging.limit {
                items.push(item);
            }
        }
        Self::window(items, total, paging)
    }

    /// A page whose items were already cut out of `total` matching items (the upstream paged).
    pub fn window(items: Vec<T>, total: usize, paging: Paging) -> Self {
        let end = paging.offset.saturating_add(items.len());
        let has_more = end < total;
        Self {
            items,
            total,
            offset: paging.offset,
            limit: paging.limit,
            has_more,
            next_offset: has_more.then_some(end),
        }
    }

    /// The same page with its items converted.
    pub fn map<U>(self, f: impl FnMut(T) -> U) -> Page<U> {
        Page {
            items: self.items.into_iter().map(f).collect(),
            total: self.total,
            offset: self.offset,
            limit: self.limit,
            has_more: self.has_more,
            next_offset: self.next_offset,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SPEC: PageSpec = PageSpec::new(2, 3);

    #[test]
    fn limits_are_checked_and_default() {
        assert_eq!(
            Paging::new(None, None, SPEC).expect("ok"),
            Paging {
                limit: 2,
                offset: 0
            }
        );
        for bad in [0, 4, u32::MAX] {
            let e = Paging::new(Some(bad), None, SPEC).expect_err("refused");
            assert!(
                e.to_string().contains("`limit`") && e.to_string().contains("between 1 and 3"),
                "{e}"
            );
        }
    }

    #[test]
    fn pages_walk_the_list() {
        let p = Page::of(0..5, Paging::new(Some(2), Some(0), SPEC).expect("ok"));
        assert_eq!(
            (p.items, p.total, p.has_more, p.next_offset),
            (vec![0, 1], 5, true, Some(2))
        );
        let p = Page::of(0..5, Paging::new(Some(2), Some(4), SPEC).expect("ok"));
        assert_eq!((p.items, p.has_more, p.next_offset), (vec![4], false, None));
        let p = Page::of(0..5, Paging::new(Some(3), Some(9), SPEC).expect("ok"));
        assert_eq!((p.items.len(), p.total, p.has_more), (0, 5, false));
        let p = Page::window(
            vec!["a"],
            10,
            Paging {
                limit: 1,
                offset: 3,
            },
        )
        .map(str::len);
        assert_eq!((p.items, p.next_offset), (vec![1], Some(4)));
    }
}
