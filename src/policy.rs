//! Data-sharing policies (contract section 4): which city department may call which service
//! item, for which purpose, seeing which fields, masked how, how often.
//!
//! - [`model`]: the validated types;
//! - [`load`]: reading `policies/items/**/*.toml` with every error's file and line;
//! - [`decide`]: the decision, deny by default, with the determining rule ids;
//! - [`plan`]: the fields and masks of a permit decision, compiled into one path trie;
//! - [`filter`]: response filtering by a plan; [`mask`]: the mask methods;
//! - [`rate`]: token buckets per calling organisation and item;
//! - [`cases`]: policy test cases (request → expected decision);
//! - [`lint`], [`diff`], [`signing`]: the security teams' tools;
//! - [`synthetic`]: a full-scale generated policy set for benchmarks.

pub mod cases;
pub mod decide;
pub mod diff;
pub mod filter;
pub mod lint;
pub mod load;
pub mod mask;
pub mod model;
pub mod plan;
pub mod rate;
pub mod signing;
pub mod synthetic;

use std::collections::{HashMap, HashSet};
use std::path::Path;

use crate::catalog::Catalog;
pub use decide::{AccessRequest, Decision, DenyReason};
pub use load::PolicyError;
pub use model::{Item, Party};

/// A loaded policy set, indexed by item id: a decision costs in proportion to the rules of the
/// one item asked for, never to the number of items.
#[derive(Debug, Default)]
pub struct PolicySet {
    items: Vec<Item>,
    by_id: HashMap<String, usize>,
}

impl PolicySet {
    /// Loads `<dir>/items/**/*.toml`; `upstreams` are the configured upstream names (`None`: not
    /// checked).
    pub fn load(
        dir: &Path,
        catalog: &Catalog,
        upstreams: Option<&HashSet<String>>,
    ) -> Result<Self, PolicyError> {
        let files = load::read_dir(dir)?;
        Self::parse(&files, catalog, upstreams)
    }

    /// From `(file name, text)` pairs.
    pub fn parse(
        files: &[(String, String)],
        catalog: &Catalog,
        upstreams: Option<&HashSet<String>>,
    ) -> Result<Self, PolicyError> {
        Ok(Self::from_items(load::parse_files(
            files, catalog, upstreams,
        )?))
    }

    pub fn from_items(items: Vec<Item>) -> Self {
        let by_id = items
            .iter()
            .enumerate()
            .map(|(i, item)| (item.id.clone(), i))
            .collect();
        Self { items, by_id }
    }

    pub fn item(&self, id: &str) -> Option<&Item> {
        self.by_id.get(id).and_then(|i| self.items.get(*i))
    }

    pub fn items(&self) -> &[Item] {
        &self.items
    }

    /// The decision for a request (see [`decide::decide`]); an unknown item is denied.
    pub fn decide(&self, req: &AccessRequest<'_>) -> Decision {
        self.item(req.item)
            .map_or_else(Decision::unknown_item, |item| decide::decide(item, req))
    }
}

/// Today in China Standard Time (UTC+8), as days since 1970-01-01.
pub fn today_cst(now: crate::time::UnixTime) -> model::Day {
    ((now + 8 * 3600).div_euclid(86_400)) as model::Day
}
