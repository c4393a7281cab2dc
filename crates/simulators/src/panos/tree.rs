//! Changes to a configuration tree, as the XML API's `type=config` actions
//! make them: `set` (merge), `edit` (replace), `delete`, `move` and
//! `rename`, plus the copy of one node between trees that partial commits and
//! partial reverts are built from.
//!
//! A node is addressed by an [`XPath`]; where a step matches several
//! siblings, writes take the first (reads in [`XPath::select`] take all).

use super::dom::{Element, Node};
use super::xpath::{Step, XPath};

/// Why a change was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TreeError {
    /// The xpath selects nothing.
    #[error("Object doesn't exist")]
    NotFound,
    /// `edit`'s element is not the node the xpath names.
    #[error("Edit breaks config validity")]
    BreaksValidity,
    /// A node to create cannot be built from the xpath (a `[text()=...]`
    /// step above the leaf, or a path outside the root).
    #[error("cannot create {0}")]
    CannotCreate(String),
    /// `rename` to a name a sibling already has.
    #[error("{0} already exists")]
    NameTaken(String),
    /// `move` before or after a sibling that does not exist.
    #[error("{0} does not exist")]
    NoDestination(String),
    /// `rename` or `move` of a node that is not a named entry.
    #[error("{0} is not a named entry")]
    NotAnEntry(String),
}

/// Where `move` puts a node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Where {
    /// First among its siblings of the same kind.
    Top,
    /// Last among its siblings of the same kind.
    Bottom,
    /// Right before the sibling with this name.
    Before(String),
    /// Right after the sibling with this name.
    After(String),
}

/// Index path (into `children`) of the first node `path` selects under `root`.
pub fn locate(root: &Element, path: &XPath) -> Option<Vec<usize>> {
    let (first, rest) = path.steps.split_first()?;
    if !first.matches(root) {
        return None;
    }
    let mut idx = Vec::with_capacity(rest.len());
    let mut cur = root;
    for step in rest {
        let (i, next) = cur.children.iter().enumerate().find_map(|(i, c)| match c {
            Node::Element(e) if step.matches(e) => Some((i, e)),
            _ => None,
        })?;
        idx.push(i);
        cur = next;
    }
    Some(idx)
}

/// Index paths of every node `path` selects, in document order.
pub fn locate_all(root: &Element, path: &XPath) -> Vec<Vec<usize>> {
    let Some((first, rest)) = path.steps.split_first() else {
        return Vec::new();
    };
    if !first.matches(root) {
        return Vec::new();
    }
    let mut found = vec![(Vec::new(), root)];
    for step in rest {
        let mut next = Vec::new();
        for (idx, el) in found {
            for (i, c) in el.children.iter().enumerate() {
                if let Node::Element(e) = c
                    && step.matches(e)
                {
                    let mut p = idx.clone();
                    p.push(i);
                    next.push((p, e));
                }
            }
        }
        found = next;
    }
    found.into_iter().map(|(p, _)| p).collect()
}

/// The element at index path `idx`.
pub fn at<'a>(root: &'a Element, idx: &[usize]) -> Option<&'a Element> {
    idx.iter()
        .try_fold(root, |el, &i| match el.children.get(i) {
            Some(Node::Element(e)) => Some(e),
            _ => None,
        })
}

/// The element at index path `idx`, mutably.
pub fn at_mut<'a>(root: &'a mut Element, idx: &[usize]) -> Option<&'a mut Element> {
    idx.iter()
        .try_fold(root, |el, &i| match el.children.get_mut(i) {
            Some(Node::Element(e)) => Some(e),
            _ => None,
        })
}

/// The xpath of the element at index path `idx` (each step names the element
/// exactly, see [`Step::of`]).
pub fn path_of(root: &Element, idx: &[usize]) -> XPath {
    let mut steps = vec![Step::of(root)];
    let mut cur = root;
    for &i in idx {
        match cur.children.get(i) {
            Some(Node::Element(e)) => {
                steps.push(Step::of(e));
                cur = e;
            }
            _ => break,
        }
    }
    XPath { steps }
}

/// Follows `path` from `root`, creating each missing node from its step.
fn ensure(root: &mut Element, path: &XPath) -> Result<Vec<usize>, TreeError> {
    let (first, rest) = path
        .steps
        .split_first()
        .ok_or_else(|| TreeError::CannotCreate(path.to_string()))?;
    if !first.matches(root) {
        return Err(TreeError::CannotCreate(path.to_string()));
    }
    let mut idx = Vec::with_capacity(rest.len());
    let mut cur = root;
    for step in rest {
        let found = cur.children.iter().position(|c| match c {
            Node::Element(e) => step.matches(e),
            Node::Text(_) => false,
        });
        let i = match found {
            Some(i) => i,
            None => {
                if step.text.is_some() {
                    return Err(TreeError::CannotCreate(path.to_string()));
                }
                let mut el = Element::new(step.name.clone());
                if let Some(n) = &step.name_attr {
                    el.attrs.push(("name".to_owned(), n.clone()));
                }
                // Element children only: drop whitespace or text of a leaf.
                cur.children.retain(|c| matches!(c, Node::Element(_)));
                cur.children.push(Node::Element(el));
                cur.children.len() - 1
            }
        };
        idx.push(i);
        cur = match cur.children.get_mut(i) {
            Some(Node::Element(e)) => e,
            _ => return Err(TreeError::CannotCreate(path.to_string())),
        };
    }
    Ok(idx)
}

fn has_elements(el: &Element) -> bool {
    el.children.iter().any(|c| matches!(c, Node::Element(_)))
}

/// Merges `src` into `target` (same node): attributes are added, a leaf's
/// text is replaced, and each child is merged into its counterpart.
fn merge(target: &mut Element, mut src: Element) {
    for (k, v) in std::mem::take(&mut src.attrs) {
        match target.attrs.iter_mut().find(|(tk, _)| *tk == k) {
            Some(slot) => slot.1 = v,
            None => target.attrs.push((k, v)),
        }
    }
    if !has_elements(&src) {
        if src
            .children
            .iter()
            .any(|c| matches!(c, Node::Text(t) if !t.trim().is_empty()))
        {
            target.children = src.children;
        }
        return;
    }
    // Element content replaces leaf text.
    target.children.retain(|c| matches!(c, Node::Element(_)));
    for child in src.children {
        if let Node::Element(e) = child {
            merge_child(target, e);
        }
    }
}

/// Adds `child` under `parent`, merging it into the sibling it names.
fn merge_child(parent: &mut Element, child: Element) {
    let existing = parent.children.iter_mut().find_map(|c| match c {
        Node::Element(e) if same_node(e, &child) => Some(e),
        _ => None,
    });
    match existing {
        Some(e) => {
            if child.name != "member" {
                merge(e, child);
            }
        }
        None => parent.children.push(Node::Element(child)),
    }
}

/// Do `a` and `b` name the same node among siblings: same tag, and the same
/// `name` attribute, or for `<member>` the same text?
fn same_node(a: &Element, b: &Element) -> bool {
    if a.name != b.name {
        return false;
    }
    if a.name == "member" && a.name_attr().is_none() {
        return a.text().trim() == b.text().trim();
    }
    a.name_attr() == b.name_attr()
}

/// The node a `set` of `el` at `xpath` changes: `xpath` plus the element's
/// own step, or `xpath` itself for a `<member>` (the list is the unit).
pub fn set_unit(xpath: &XPath, el: &Element) -> XPath {
    if el.name == "member" {
        xpath.clone()
    } else {
        let mut step = Step::of(el);
        step.text = None;
        xpath.child(step)
    }
}

/// `action=set`: merges each element of `elements` as a child of the node at
/// `xpath`, creating that node and its parents as needed.
pub fn set(root: &mut Element, xpath: &XPath, elements: Vec<Element>) -> Result<(), TreeError> {
    let idx = ensure(root, xpath)?;
    let target = at_mut(root, &idx).ok_or(TreeError::NotFound)?;
    if elements.iter().any(|e| e.name != "member") {
        target.children.retain(|c| matches!(c, Node::Element(_)));
    }
    for el in elements {
        merge_child(target, el);
    }
    Ok(())
}

/// The path `edit` writes: `xpath`, with the element's name filled in when
/// the last step has no predicate.
pub fn edit_target(xpath: &XPath, el: &Element) -> XPath {
    let mut path = xpath.clone();
    if let (Some(last), Some(name)) = (path.steps.last_mut(), el.name_attr())
        && last.name_attr.is_none()
        && last.text.is_none()
    {
        last.name_attr = Some(name.to_owned());
    }
    path
}

/// `action=edit`: replaces the node at `xpath` with `el` (whose root must be
/// that node), creating it when absent.
pub fn edit(root: &mut Element, xpath: &XPath, el: Element) -> Result<(), TreeError> {
    let path = edit_target(xpath, &el);
    let last = path.last().ok_or(TreeError::BreaksValidity)?;
    if !last.matches(&el) || path.steps.len() < 2 {
        return Err(TreeError::BreaksValidity);
    }
    match locate(root, &path) {
        Some(idx) => {
            let slot = at_mut(root, &idx).ok_or(TreeError::NotFound)?;
            *slot = el;
        }
        None => {
            let parent = path.parent().ok_or(TreeError::BreaksValidity)?;
            let pidx = ensure(root, &parent)?;
            let p = at_mut(root, &pidx).ok_or(TreeError::NotFound)?;
            p.children.retain(|c| matches!(c, Node::Element(_)));
            p.children.push(Node::Element(el));
        }
    }
    Ok(())
}

/// `action=delete`: removes every node `xpath` selects. `Ok(false)` when it
/// selects none.
pub fn delete(root: &mut Element, xpath: &XPath) -> Result<bool, TreeError> {
    let found = locate_all(root, xpath);
    if found.is_empty() {
        return Ok(false);
    }
    if found.iter().any(Vec::is_empty) {
        // The root itself cannot go.
        return Err(TreeError::CannotCreate(xpath.to_string()));
    }
    // Last first, so earlier index paths stay valid.
    for idx in found.iter().rev() {
        let Some((last, parent)) = idx.split_last() else {
            continue;
        };
        if let Some(p) = at_mut(root, parent)
            && *last < p.children.len()
        {
            p.children.remove(*last);
        }
    }
    Ok(true)
}

/// Finds the parent of the node at `xpath` and the node's index in it.
fn parent_and_index<'a>(
    root: &'a mut Element,
    xpath: &XPath,
) -> Result<(&'a mut Element, usize), TreeError> {
    let idx = locate(root, xpath).ok_or(TreeError::NotFound)?;
    let (last, parent) = idx.split_last().ok_or(TreeError::NotFound)?;
    let p = at_mut(root, parent).ok_or(TreeError::NotFound)?;
    Ok((p, *last))
}

/// `action=move`: moves the named entry at `xpath` among its siblings of the
/// same kind.
pub fn move_node(root: &mut Element, xpath: &XPath, to: &Where) -> Result<(), TreeError> {
    let (parent, i) = parent_and_index(root, xpath)?;
    let Some(Node::Element(node)) = parent.children.get(i) else {
        return Err(TreeError::NotFound);
    };
    let tag = node.name.clone();
    let own = node.name_attr().map(str::to_owned);
    if let Where::Before(d) | Where::After(d) = to {
        if own.as_deref() == Some(d.as_str()) {
            return Ok(());
        }
        let exists = parent
            .elements()
            .any(|e| e.name == tag && e.name_attr() == Some(d.as_str()));
        if !exists {
            return Err(TreeError::NoDestination(d.clone()));
        }
    }
    let node = parent.children.remove(i);
    let same_kind = |c: &Node| matches!(c, Node::Element(e) if e.name == tag);
    let pos = match to {
        Where::Top => parent.children.iter().position(same_kind).unwrap_or(0),
        Where::Bottom => parent
            .children
            .iter()
            .rposition(same_kind)
            .map_or(parent.children.len(), |p| p + 1),
        Where::Before(d) | Where::After(d) => {
            let at = parent
                .children
                .iter()
                .position(|c| matches!(c, Node::Element(e) if e.name == tag && e.name_attr() == Some(d.as_str())))
                .ok_or_else(|| TreeError::NoDestination(d.clone()))?;
            if matches!(to, Where::After(_)) {
                at + 1
            } else {
                at
            }
        }
    };
    parent.children.insert(pos.min(parent.children.len()), node);
    Ok(())
}

/// `action=rename`: gives the named entry at `xpath` the name `new`.
pub fn rename(root: &mut Element, xpath: &XPath, new: &str) -> Result<(), TreeError> {
    let (parent, i) = parent_and_index(root, xpath)?;
    let Some(Node::Element(node)) = parent.children.get(i) else {
        return Err(TreeError::NotFound);
    };
    if node.name_attr().is_none() {
        return Err(TreeError::NotAnEntry(node.name.clone()));
    }
    let tag = node.name.clone();
    let taken = parent
        .elements()
        .any(|e| e.name == tag && e.name_attr() == Some(new));
    if taken {
        return Err(TreeError::NameTaken(new.to_owned()));
    }
    if let Some(Node::Element(node)) = parent.children.get_mut(i)
        && let Some(slot) = node.attrs.iter_mut().find(|(k, _)| k == "name")
    {
        slot.1 = new.to_owned();
    }
    Ok(())
}

/// Makes the node at `path` in `dst` what it is in `src`: copied (at the
/// position its siblings in `src` give it) when `src` has it, removed when
/// `src` does not. Missing parents are created as empty shells of their
/// `src` counterparts. This is how one administrator's changes are taken
/// from the candidate (partial commit) or dropped from it (partial revert).
pub fn copy_node(src: &Element, dst: &mut Element, path: &XPath) {
    let Some((first, rest)) = path.steps.split_first() else {
        return;
    };
    if !first.matches(src) || !first.matches(dst) {
        return;
    }
    let mut s = src;
    let mut d = dst;
    for (depth, step) in rest.iter().enumerate() {
        let last = depth + 1 == rest.len();
        // Containers hold elements only (drops indentation or stray text).
        d.children.retain(|c| matches!(c, Node::Element(_)));
        let s_child = s.elements().find(|e| step.matches(e));
        let d_pos = d.children.iter().position(|c| match c {
            Node::Element(e) => step.matches(e),
            Node::Text(_) => false,
        });
        let Some(s_child) = s_child else {
            // Gone in src: remove from dst (at any depth, what is below goes too).
            if let Some(p) = d_pos {
                d.children.remove(p);
            }
            return;
        };
        if last {
            let copy = s_child.clone();
            if let Some(p) = d_pos {
                d.children.remove(p);
            }
            let pos = position_like(s, s_child, d);
            d.children
                .insert(pos.min(d.children.len()), Node::Element(copy));
            return;
        }
        let i = match d_pos {
            Some(p) => p,
            None => {
                let mut shell = Element::new(s_child.name.clone());
                shell.attrs = s_child.attrs.clone();
                let pos = position_like(s, s_child, d).min(d.children.len());
                d.children.insert(pos, Node::Element(shell));
                pos
            }
        };
        d = match d.children.get_mut(i) {
            Some(Node::Element(e)) => e,
            _ => return,
        };
        s = s_child;
    }
}

/// Where in `d` to put a copy of `s_parent`'s child `node`: right after the
/// nearest earlier sibling (in `s_parent`) that `d` also has, else first.
fn position_like(s_parent: &Element, node: &Element, d: &Element) -> usize {
    let siblings: Vec<&Element> = s_parent.elements().collect();
    let Some(me) = siblings.iter().position(|e| std::ptr::eq(*e, node)) else {
        return d.children.len();
    };
    for prev in siblings[..me].iter().rev() {
        if let Some(p) = d.children.iter().position(|c| match c {
            Node::Element(e) => same_node(e, prev),
            Node::Text(_) => false,
        }) {
            return p + 1;
        }
    }
    d.children
        .iter()
        .position(|c| matches!(c, Node::Element(_)))
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn xp(s: &str) -> XPath {
        XPath::parse(s).expect("xpath")
    }

    fn el(s: &str) -> Element {
        Element::parse(s).expect("xml")
    }

    #[test]
    fn set_merges_and_creates_parents() {
        let mut root =
            el("<config><a><entry name='x'><v>1</v><m><member>p</member></m></entry></a></config>");
        set(
            &mut root,
            &xp("/config/a"),
            vec![el(
                "<entry name='x'><w>2</w><m><member>p</member><member>q</member></m></entry>",
            )],
        )
        .expect("set");
        assert_eq!(
            root.to_xml(),
            "<config><a><entry name=\"x\"><v>1</v><m><member>p</member><member>q</member></m><w>2</w></entry></a></config>"
        );
        set(
            &mut root,
            &xp("/config/b/entry[@name='y']"),
            vec![el("<v>3</v>")],
        )
        .expect("set");
        assert_eq!(
            at(
                &root,
                &locate(&root, &xp("/config/b/entry[@name='y']/v")).expect("found")
            )
            .map(Element::text),
            Some("3".to_owned())
        );
        assert!(
            set(
                &mut root,
                &xp("/config/c/member[text()='z']/x"),
                vec![el("<v/>")]
            )
            .is_err()
        );
    }

    #[test]
    fn edit_checks_the_root() {
        let mut root = el("<config><a><entry name='x'><v>1</v></entry></a></config>");
        assert_eq!(
            edit(
                &mut root,
                &xp("/config/a/entry[@name='x']"),
                el("<entry name='y'/>")
            ),
            Err(TreeError::BreaksValidity)
        );
        edit(
            &mut root,
            &xp("/config/a/entry[@name='x']"),
            el("<entry name='x'><w/></entry>"),
        )
        .expect("edit");
        assert_eq!(
            root.to_xml(),
            "<config><a><entry name=\"x\"><w/></entry></a></config>"
        );
        edit(&mut root, &xp("/config/a/entry"), el("<entry name='n'/>")).expect("creates");
        assert_eq!(
            root.to_xml(),
            "<config><a><entry name=\"x\"><w/></entry><entry name=\"n\"/></a></config>"
        );
    }

    #[test]
    fn move_and_rename() {
        let mut root = el("<c><r><x/><e name='1'/><e name='2'/><e name='3'/></r></c>");
        let names = |r: &Element| -> Vec<String> {
            r.path(&["r"])
                .map(|r| {
                    r.elements()
                        .map(|e| e.name_attr().unwrap_or("-").to_owned())
                        .collect()
                })
                .unwrap_or_default()
        };
        move_node(&mut root, &xp("/c/r/e[@name='3']"), &Where::Top).expect("top");
        assert_eq!(names(&root), ["-", "3", "1", "2"]);
        move_node(&mut root, &xp("/c/r/e[@name='3']"), &Where::Bottom).expect("bottom");
        assert_eq!(names(&root), ["-", "1", "2", "3"]);
        move_node(
            &mut root,
            &xp("/c/r/e[@name='1']"),
            &Where::After("3".into()),
        )
        .expect("after");
        assert_eq!(names(&root), ["-", "2", "3", "1"]);
        move_node(
            &mut root,
            &xp("/c/r/e[@name='1']"),
            &Where::Before("2".into()),
        )
        .expect("before");
        assert_eq!(names(&root), ["-", "1", "2", "3"]);
        assert_eq!(
            move_node(
                &mut root,
                &xp("/c/r/e[@name='1']"),
                &Where::Before("9".into())
            ),
            Err(TreeError::NoDestination("9".into()))
        );
        rename(&mut root, &xp("/c/r/e[@name='2']"), "two").expect("rename");
        assert_eq!(names(&root), ["-", "1", "two", "3"]);
        assert_eq!(
            rename(&mut root, &xp("/c/r/e[@name='1']"), "3"),
            Err(TreeError::NameTaken("3".into()))
        );
    }

    #[test]
    fn copy_node_both_ways() {
        let src =
            el("<c><r><e name='1'/><e name='new'><v/></e><e name='2'/></r><s><m>1</m></s></c>");
        let mut dst = el("<c><r><e name='1'/><e name='2'/><e name='old'/></r></c>");
        copy_node(&src, &mut dst, &xp("/c/r/e[@name='new']"));
        copy_node(&src, &mut dst, &xp("/c/r/e[@name='old']"));
        copy_node(&src, &mut dst, &xp("/c/s/m"));
        assert_eq!(
            dst.to_xml(),
            "<c><r><e name=\"1\"/><e name=\"new\"><v/></e><e name=\"2\"/></r><s><m>1</m></s></c>"
        );
    }

    #[test]
    fn delete_all_matches() {
        let mut root = el("<c><g><member>a</member><member>b</member></g></c>");
        assert_eq!(delete(&mut root, &xp("/c/g/member[text()='a']")), Ok(true));
        assert_eq!(delete(&mut root, &xp("/c/g/member[text()='a']")), Ok(false));
        assert_eq!(root.to_xml(), "<c><g><member>b</member></g></c>");
        assert!(delete(&mut root, &xp("/c")).is_err());
    }
}
