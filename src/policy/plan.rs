//! The field plan of a permit decision (contract section 4): the fields and masks of the matching
//! permits compiled into one path trie, each node's access resolved once: granted when any
//! permit grants the path or an enclosing one, masked only when every permit granting it masks
//! it (the strongest of their methods). The response filter, `policy explain`, `policy test` and
//! `policy diff` all read the same plan.

use std::collections::HashMap;
use std::sync::{Arc, OnceLock, RwLock};

use super::model::{FieldPath, MaskMethod, Permit};

/// A node's index in its plan.
pub type NodeId = u32;

/// The root: the response body itself.
pub const ROOT: NodeId = 0;

/// How a node's value reaches the caller.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// Not granted (something below may be).
    Hidden,
    Clear,
    Masked(MaskMethod),
}

/// The compiled fields and masks of one decision.
#[derive(Clone, Debug, PartialEq)]
pub struct FieldPlan {
    nodes: Vec<Node>,
    /// The nodes that are a permit's field or mask path, by name: the order of
    /// [`FieldPlan::fields`] and of a report's names.
    named: Vec<NodeId>,
}

#[derive(Clone, Debug, PartialEq)]
struct Node {
    /// The path as policies write it (`records[].amount`); empty for the root.
    name: Box<str>,
    /// Object members below, sorted by key.
    members: Vec<(Box<str>, NodeId)>,
    /// Every array element (`[]`).
    elements: Option<NodeId>,
    access: Access,
    /// A granted path lies strictly below (what a hidden container is opened for).
    grants_below: bool,
    /// Where values at or below this node are reported: the nearest permit path at or above it.
    owner: NodeId,
}

/// One permit's share of a plan: its fields and its masks.
pub type PermitFields<'a> = (&'a [FieldPath], &'a [(FieldPath, MaskMethod)]);

impl FieldPlan {
    /// Compiles the fields and masks of the matching permits.
    pub fn compile<'a>(permits: impl IntoIterator<Item = PermitFields<'a>>) -> Self {
        let mut trie = Trie::default();
        let mut count = 0;
        for (index, (fields, masks)) in permits.into_iter().enumerate() {
            count = index + 1;
            for field in fields {
                let node = trie.insert(field);
                trie.fields_at[node].push(index);
            }
            for (path, method) in masks {
                let node = trie.insert(path);
                trie.masks_at[node].push((index, *method));
            }
        }
        trie.resolve(count)
    }

    /// Each granted permit path with its mask (`None`: in clear), sorted by path.
    pub fn fields(&self) -> impl Iterator<Item = (&str, Option<MaskMethod>)> {
        self.named
            .iter()
            .filter_map(|id| self.node(*id))
            .filter_map(|n| match n.access {
                Access::Hidden => None,
                Access::Clear => Some((&*n.name, None)),
                Access::Masked(m) => Some((&*n.name, Some(m))),
            })
    }

    /// A node's access.
    pub fn access(&self, id: NodeId) -> Access {
        self.node(id).map_or(Access::Hidden, |n| n.access)
    }

    /// Whether a granted path lies strictly below `id`.
    pub fn grants_below(&self, id: NodeId) -> bool {
        self.node(id).is_some_and(|n| n.grants_below)
    }

    /// Whether any permit path lies strictly below `id`: a granted container is then opened
    /// rather than passed (or masked) whole.
    pub fn has_paths_below(&self, id: NodeId) -> bool {
        self.node(id)
            .is_some_and(|n| !n.members.is_empty() || n.elements.is_some())
    }

    /// The node of member `key` of `id`'s object, if a permit path goes through it.
    pub fn member(&self, id: NodeId, key: &str) -> Option<NodeId> {
        let members = &self.node(id)?.members;
        members
            .binary_search_by(|(k, _)| (**k).cmp(key))
            .ok()
            .and_then(|i| members.get(i))
            .map(|(_, child)| *child)
    }

    /// The node of the elements of `id`'s array, if a permit path goes through them.
    pub fn elements(&self, id: NodeId) -> Option<NodeId> {
        self.node(id)?.elements
    }

    /// Where a value at or below granted node `id` is reported.
    pub fn owner(&self, id: NodeId) -> NodeId {
        self.node(id).map_or(id, |n| n.owner)
    }

    /// An empty report for this plan.
    pub fn report(&self) -> FieldReport {
        FieldReport {
            clear: vec![0; self.nodes.len().div_ceil(64)],
            masked: vec![0; self.nodes.len().div_ceil(64)],
        }
    }

    /// The names of a report's fields, each list sorted: `(returned, masked)`; the returned
    /// ones include the masked ones (they are returned, masked).
    pub fn names<'a>(&'a self, report: &FieldReport) -> (Vec<&'a str>, Vec<&'a str>) {
        let pick = |set: &dyn Fn(NodeId) -> bool| {
            self.named
                .iter()
                .filter(|id| set(**id))
                .filter_map(|id| self.node(*id))
                .map(|n| &*n.name)
                .collect()
        };
        (
            pick(&|id| is_set(&report.clear, id) || is_set(&report.masked, id)),
            pick(&|id| is_set(&report.masked, id)),
        )
    }

    fn node(&self, id: NodeId) -> Option<&Node> {
        self.nodes.get(id as usize)
    }
}

/// The plans of an item's decisions, compiled on first use and kept with the item (so once per
/// policy snapshot): one per permit, and one per combination of matching permits (at most
/// [`MAX_COMBINATIONS`] kept; others are compiled per decision). A clone starts empty, so an item
/// cloned and changed never uses its original's plans; an item's permits must not change after
/// its first decision.
#[derive(Default)]
pub struct Plans {
    single: OnceLock<Vec<Arc<FieldPlan>>>,
    /// By the bit set of the matching permits' indices (items of at most 64 permits).
    combined: RwLock<HashMap<u64, Arc<FieldPlan>>>,
}

/// Combinations of matching permits whose plan an item keeps.
pub const MAX_COMBINATIONS: usize = 64;

impl Plans {
    /// The plan of the permits of `permits` at `matching` (indices, ascending).
    pub fn of(&self, permits: &[Permit], matching: &[usize]) -> Arc<FieldPlan> {
        let compile = || {
            Arc::new(FieldPlan::compile(
                matching
                    .iter()
                    .filter_map(|i| permits.get(*i))
                    .map(|p| (&*p.fields, &*p.mask)),
            ))
        };
        if let [one] = matching {
            let single = self.single.get_or_init(|| {
                permits
                    .iter()
                    .map(|p| Arc::new(FieldPlan::compile([(&*p.fields, &*p.mask)])))
                    .collect()
            });
            return single.get(*one).cloned().unwrap_or_else(compile);
        }
        let Some(key) = matching
            .iter()
            .try_fold(0u64, |bits, i| (*i < 64).then(|| bits | 1 << i))
        else {
            return compile();
        };
        if let Some(plan) = self.combined.read().ok().and_then(|m| m.get(&key).cloned()) {
            return plan;
        }
        let plan = compile();
        if let Ok(mut map) = self.combined.write() {
            if map.len() < MAX_COMBINATIONS {
                map.insert(key, plan.clone());
            }
        }
        plan
    }
}

impl Clone for Plans {
    fn clone(&self) -> Self {
        Self::default()
    }
}

/// Plans are derived from the item's permits: they never make two items differ.
impl PartialEq for Plans {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl std::fmt::Debug for Plans {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Plans(…)")
    }
}

/// What a filtered body returned, per plan node: a bit set, named only for the audit record.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FieldReport {
    clear: Vec<u64>,
    masked: Vec<u64>,
}

impl FieldReport {
    /// A value owned by `owner` was returned in clear.
    pub fn clear(&mut self, owner: NodeId) {
        set(&mut self.clear, owner);
    }

    /// A value owned by `owner` was returned masked.
    pub fn masked(&mut self, owner: NodeId) {
        set(&mut self.masked, owner);
    }
}

fn set(bits: &mut [u64], id: NodeId) {
    if let Some(word) = bits.get_mut(id as usize / 64) {
        *word |= 1 << (id % 64);
    }
}

fn is_set(bits: &[u64], id: NodeId) -> bool {
    bits.get(id as usize / 64)
        .is_some_and(|word| word & (1 << (id % 64)) != 0)
}

/// The trie while it is built: which permit names which path. Node ids grow downwards (a
/// parent is made before its children).
#[derive(Default)]
struct Trie {
    nodes: Vec<Node>,
    /// Per node: the permits whose field it is.
    fields_at: Vec<Vec<usize>>,
    /// Per node: the permits that mask it, and how.
    masks_at: Vec<Vec<(usize, MaskMethod)>>,
}

impl Trie {
    fn add(&mut self, name: String) -> NodeId {
        let id = NodeId::try_from(self.nodes.len()).unwrap_or(NodeId::MAX);
        self.nodes.push(Node {
            name: name.into(),
            members: Vec::new(),
            elements: None,
            access: Access::Hidden,
            grants_below: false,
            owner: id,
        });
        self.fields_at.push(Vec::new());
        self.masks_at.push(Vec::new());
        id
    }

    /// The node of `path`, made with its ancestors when missing.
    fn insert(&mut self, path: &FieldPath) -> usize {
        if self.nodes.is_empty() {
            self.add(String::new());
        }
        let mut at = ROOT as usize;
        for segment in path.segments() {
            let parent = &self.nodes[at];
            let existing = if segment == "[]" {
                parent.elements
            } else {
                parent
                    .members
                    .iter()
                    .find(|(k, _)| **k == **segment)
                    .map(|(_, id)| *id)
            };
            let child = match existing {
                Some(id) => id,
                None => {
                    let name = render_child(&self.nodes[at].name, segment);
                    let id = self.add(name);
                    let parent = &mut self.nodes[at];
                    if segment == "[]" {
                        parent.elements = Some(id);
                    } else {
                        parent.members.push((segment.as_str().into(), id));
                    }
                    id
                }
            };
            at = child as usize;
        }
        at
    }

    /// Resolves every node's access from the permits that grant and mask it or an ancestor,
    /// where each node reports, and which nodes have a granted path below.
    fn resolve(mut self, permits: usize) -> FieldPlan {
        if self.nodes.is_empty() {
            self.add(String::new());
        }
        let named: Vec<bool> = (0..self.nodes.len())
            .map(|i| !self.fields_at[i].is_empty() || !self.masks_at[i].is_empty())
            .collect();
        // downwards (a parent's id is below its children's): per permit, whether it grants at
        // or above the node and its strongest mask there
        let mut standing = vec![vec![(false, None::<MaskMethod>); permits]; self.nodes.len()];
        for at in 0..self.nodes.len() {
            let mut here = std::mem::take(&mut standing[at]);
            for p in &self.fields_at[at] {
                here[*p].0 = true;
            }
            for (p, method) in &self.masks_at[at] {
                here[*p].1 = here[*p].1.max(Some(*method));
            }
            let granting: Vec<Option<MaskMethod>> = here
                .iter()
                .filter(|(granted, _)| *granted)
                .map(|(_, mask)| *mask)
                .collect();
            let clear = granting.iter().any(Option::is_none);
            self.nodes[at].access = match granting.iter().flatten().max() {
                _ if granting.is_empty() => Access::Hidden,
                Some(strongest) if !clear => Access::Masked(*strongest),
                _ => Access::Clear,
            };
            let owner = self.nodes[at].owner;
            let children: Vec<usize> = self.children(at).collect();
            for child in children {
                standing[child] = here.clone();
                if !named[child] {
                    self.nodes[child].owner = owner;
                }
            }
        }
        // upwards: a granted path strictly below
        for at in (0..self.nodes.len()).rev() {
            let below = self
                .children(at)
                .any(|c| !self.fields_at[c].is_empty() || self.nodes[c].grants_below);
            self.nodes[at].grants_below = below;
        }
        for node in &mut self.nodes {
            node.members.sort_by(|a, b| a.0.cmp(&b.0));
        }
        let mut order: Vec<NodeId> = (0..self.nodes.len())
            .filter(|i| named[*i])
            .filter_map(|i| NodeId::try_from(i).ok())
            .collect();
        order.sort_by(|a, b| {
            self.nodes[*a as usize]
                .name
                .cmp(&self.nodes[*b as usize].name)
        });
        FieldPlan {
            nodes: self.nodes,
            named: order,
        }
    }

    fn children(&self, at: usize) -> impl Iterator<Item = usize> + '_ {
        let node = &self.nodes[at];
        node.members
            .iter()
            .map(|(_, id)| *id)
            .chain(node.elements)
            .map(|id| id as usize)
    }
}

/// `records` + `[]` → `records[]`; `records[]` + `amount` → `records[].amount`.
fn render_child(parent: &str, segment: &str) -> String {
    if parent.is_empty() || segment == "[]" {
        format!("{parent}{segment}")
    } else {
        format!("{parent}.{segment}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::model::Origin;

    fn permit(fields: &[&str], mask: &[(&str, MaskMethod)]) -> Permit {
        Permit {
            id: fields.join("+"),
            callers: Vec::new(),
            purposes: Vec::new(),
            fields: fields
                .iter()
                .map(|f| FieldPath::parse(f).unwrap())
                .collect(),
            mask: mask
                .iter()
                .map(|(f, m)| (FieldPath::parse(f).unwrap(), *m))
                .collect(),
            rate: None,
            require_licence: None,
            valid_from: None,
            valid_until: None,
            origin: Origin::default(),
        }
    }

    #[test]
    fn plans_are_compiled_once_and_not_cloned() {
        let permits = [
            permit(&["a", "b"], &[("b", MaskMethod::Name)]),
            permit(&["b"], &[]),
        ];
        let plans = Plans::default();
        let one = plans.of(&permits, &[0]);
        assert!(Arc::ptr_eq(&one, &plans.of(&permits, &[0])));
        let both = plans.of(&permits, &[0, 1]);
        assert!(Arc::ptr_eq(&both, &plans.of(&permits, &[0, 1])));
        assert_eq!(
            both.fields().collect::<Vec<_>>(),
            [("a", None), ("b", None)]
        );
        assert_eq!(
            one.fields().collect::<Vec<_>>(),
            [("a", None), ("b", Some(MaskMethod::Name))]
        );
        let fresh = plans.clone();
        assert!(!Arc::ptr_eq(&one, &fresh.of(&permits, &[0])));
        assert_eq!(*one, *fresh.of(&permits, &[0]));
    }
}
