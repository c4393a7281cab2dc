//! MCP resources, declared once like tools: a URI or URI template (`proxmox://guests/{vmid}`),
//! a name, a description, one scope, and a handler that reads it as JSON. `resources/list`,
//! `resources/templates/list` and `resources/read` are served from the declarations, filtered by
//! scope like `tools/list` (a resource outside the caller's scopes reads as not found), and
//! `<server> tools --json` snapshots them beside the tools.

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use serde::Serialize;
use serde_json::{Value, json};

use crate::error::ToolError;

/// Static facts about a resource (or a family of them).
#[derive(Debug, Clone, Copy)]
pub struct ResourceSpec {
    /// A URI (`proxmox://nodes`) or an RFC 6570 level-1 template (`proxmox://guests/{vmid}`).
    pub uri: &'static str,
    pub name: &'static str,
    pub title: &'static str,
    pub description: &'static str,
    /// The scope a caller needs to list or read it.
    pub scope: &'static str,
    /// The toolset of the tools it mirrors: hidden with them by `--toolsets`.
    pub toolset: &'static str,
}

/// One concrete resource a listing offers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ResourceItem {
    pub uri: String,
    pub name: String,
    pub description: Option<String>,
}

type BoxFut<T> = Pin<Box<dyn Future<Output = Result<T, ToolError>> + Send>>;
type ReadFn<S> = Arc<dyn Fn(Arc<S>, BTreeMap<String, String>) -> BoxFut<Value> + Send + Sync>;
type ListFn<S> = Arc<dyn Fn(Arc<S>) -> BoxFut<Vec<ResourceItem>> + Send + Sync>;

/// A resource declaration and its handlers over server state `S`.
pub struct ResourceDef<S> {
    spec: ResourceSpec,
    read: ReadFn<S>,
    list: Option<ListFn<S>>,
}

impl<S> std::fmt::Debug for ResourceDef<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResourceDef")
            .field("spec", &self.spec)
            .finish_non_exhaustive()
    }
}

impl<S: Send + Sync + 'static> ResourceDef<S> {
    /// A resource read by `read` with the template's variables (`{"vmid": "100"}`), returning
    /// what the matching tool returns.
    pub fn new<O, F, Fut>(spec: ResourceSpec, read: F) -> Self
    where
        O: Serialize,
        F: Fn(Arc<S>, BTreeMap<String, String>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<O, ToolError>> + Send + 'static,
    {
        let read = Arc::new(read);
        let read: ReadFn<S> = Arc::new(move |s, vars| {
            let read = read.clone();
            Box::pin(async move {
                let out = read(s, vars).await?;
                serde_json::to_value(out).map_err(ToolError::internal)
            })
        });
        Self {
            spec,
            read,
            list: None,
        }
    }

    /// For a template: what `resources/list` offers of it (the concrete URIs).
    #[must_use]
    pub fn listing<F, Fut>(mut self, list: F) -> Self
    where
        F: Fn(Arc<S>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<Vec<ResourceItem>, ToolError>> + Send + 'static,
    {
        let list = Arc::new(list);
        self.list = Some(Arc::new(move |s| {
            let list = list.clone();
            Box::pin(async move { list(s).await })
        }));
        self
    }
}

impl<S> ResourceDef<S> {
    pub fn spec(&self) -> &ResourceSpec {
        &self.spec
    }

    /// Whether the URI has variables.
    pub fn is_template(&self) -> bool {
        self.spec.uri.contains('{')
    }

    /// The declaration as JSON (for `tools --json`, docs and snapshots).
    /// Keys sorted, as `ToolDef::describe`: the order must not depend on whether another
    /// crate of the build turned on serde_json's `preserve_order`.
    pub fn describe(&self) -> Value {
        crate::tool::sorted(json!({
            "uri": self.spec.uri,
            "name": self.spec.name,
            "title": self.spec.title,
            "description": self.spec.description,
            "scope": self.spec.scope,
            "toolset": self.spec.toolset,
            "mimeType": "application/json",
            "template": self.is_template(),
        }))
    }

    pub(crate) fn list_fn(&self) -> Option<&ListFn<S>> {
        self.list.as_ref()
    }

    pub(crate) fn read_fn(&self) -> &ReadFn<S> {
        &self.read
    }

    /// The variables of `uri` if it matches this declaration. A variable matches one or more
    /// characters other than `/`, `?` and `#`.
    pub fn matches(&self, uri: &str) -> Option<BTreeMap<String, String>> {
        match_template(self.spec.uri, uri)
    }
}

/// Match `uri` against `template` (`scheme://a/{x}/b/{y}`).
pub fn match_template(template: &str, uri: &str) -> Option<BTreeMap<String, String>> {
    let mut vars = BTreeMap::new();
    let mut rest = uri;
    let mut t = template;
    while !t.is_empty() {
        match t.find('{') {
            None => return (rest == t).then_some(vars),
            Some(open) => {
                let literal = &t[..open];
                rest = rest.strip_prefix(literal)?;
                let close = t[open..].find('}')? + open;
                let name = &t[open + 1..close];
                t = &t[close + 1..];
                let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
                if end == 0 {
                    return None;
                }
                vars.insert(name.to_string(), rest[..end].to_string());
                rest = &rest[end..];
            }
        }
    }
    rest.is_empty().then_some(vars)
}

/// Check an inventory of resources: unique names, a description, a `namespace:action` scope,
/// a URI with a scheme and balanced variables.
pub fn check_resources<S>(resources: &[ResourceDef<S>]) -> Result<(), String> {
    let mut seen = std::collections::BTreeSet::new();
    for r in resources {
        let s = r.spec();
        if !seen.insert(s.name) {
            return Err(format!("duplicate resource name {}", s.name));
        }
        if s.description.trim().is_empty() || s.title.trim().is_empty() {
            return Err(format!("resource {} has no title or description", s.name));
        }
        if !s
            .scope
            .split_once(':')
            .is_some_and(|(a, b)| !a.is_empty() && !b.is_empty())
        {
            return Err(format!(
                "resource {} scope {:?} is not namespace:action",
                s.name, s.scope
            ));
        }
        if !s.uri.contains("://") || s.uri.matches('{').count() != s.uri.matches('}').count() {
            return Err(format!("resource {} URI {:?} is malformed", s.name, s.uri));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_match_whole_segments() {
        let m = |t, u| match_template(t, u);
        assert_eq!(
            m("proxmox://guests/{vmid}", "proxmox://guests/100"),
            Some(BTreeMap::from([("vmid".into(), "100".into())]))
        );
        assert_eq!(m("proxmox://guests/{vmid}", "proxmox://guests/"), None);
        assert_eq!(m("proxmox://guests/{vmid}", "proxmox://guests/1/x"), None);
        assert_eq!(
            m("proxmox://nodes", "proxmox://nodes"),
            Some(BTreeMap::new())
        );
        assert_eq!(m("proxmox://nodes", "proxmox://nodes/x"), None);
        let two = m(
            "panos://{location}/objects/{name}",
            "panos://vsys:vsys1/objects/web-1",
        )
        .expect("match");
        assert_eq!(two["location"], "vsys:vsys1");
        assert_eq!(two["name"], "web-1");
    }
}
