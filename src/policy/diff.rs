//! Semantic diff of two policy sets, exact over the finite space of callers (every city ×
//! every department kind), the purposes the rules name, and subject-licence states.

use std::collections::{BTreeMap, BTreeSet};

use super::decide::{decide, AccessRequest, Decision};
use super::model::{Day, Item, MaskMethod, Party, Rate};
use super::PolicySet;
use crate::catalog::Catalog;

/// One change, for one item, purpose and licence state, with the callers it applies to.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Change {
    pub item: String,
    pub purpose: String,
    /// The subject licence type presented (`None`: no licence).
    pub licence: Option<String>,
    pub kind: ChangeKind,
    pub callers: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum ChangeKind {
    /// Denied before, permitted now.
    AccessGained,
    /// Permitted before, denied now.
    AccessLost,
    FieldExposed {
        field: String,
        mask: Option<&'static str>,
    },
    FieldRemoved {
        field: String,
    },
    FieldUnmasked {
        field: String,
        was: &'static str,
    },
    FieldMasked {
        field: String,
        mask: &'static str,
    },
    RateChanged {
        from: Option<String>,
        to: Option<String>,
    },
}

impl ChangeKind {
    /// Whether the change widens what someone can see.
    pub fn widens(&self) -> bool {
        match self {
            ChangeKind::AccessGained
            | ChangeKind::FieldExposed { .. }
            | ChangeKind::FieldUnmasked { .. } => true,
            ChangeKind::RateChanged { from, to } => {
                from.is_some() && (to.is_none() || rate_of(to) > rate_of(from))
            }
            _ => false,
        }
    }

    pub fn describe(&self) -> String {
        match self {
            ChangeKind::AccessGained => "access gained".into(),
            ChangeKind::AccessLost => "access lost".into(),
            ChangeKind::FieldExposed { field, mask: None } => {
                format!("field `{field}` newly exposed in clear")
            }
            ChangeKind::FieldExposed {
                field,
                mask: Some(m),
            } => format!("field `{field}` newly exposed, masked ({m})"),
            ChangeKind::FieldRemoved { field } => format!("field `{field}` no longer returned"),
            ChangeKind::FieldUnmasked { field, was } => {
                format!("field `{field}` newly unmasked (was {was})")
            }
            ChangeKind::FieldMasked { field, mask } => {
                format!("field `{field}` now masked ({mask})")
            }
            ChangeKind::RateChanged { from, to } => {
                format!(
                    "rate {} → {}",
                    from.as_deref().unwrap_or("no limit"),
                    to.as_deref().unwrap_or("no limit")
                )
            }
        }
    }
}

fn rate_of(r: &Option<String>) -> f64 {
    r.as_deref()
        .and_then(Rate::parse)
        .map_or(f64::INFINITY, |r| r.per_second())
}

/// Rule-level changes: ids of permits and forbids added, removed or changed, per item.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RuleChanges {
    pub items_added: Vec<String>,
    pub items_removed: Vec<String>,
    /// (item, "permit"/"forbid", id, "added"/"removed"/"changed")
    pub rules: Vec<(String, &'static str, String, &'static str)>,
}

/// Everything that differs between `old` and `new` on `today`.
pub fn diff(
    old: &PolicySet,
    new: &PolicySet,
    catalog: &Catalog,
    today: Day,
) -> (RuleChanges, Vec<Change>) {
    let ids: BTreeSet<&str> = old
        .items()
        .iter()
        .chain(new.items())
        .map(|i| i.id.as_str())
        .collect();
    let mut rules = RuleChanges::default();
    let mut grouped: BTreeMap<(String, String, Option<String>, ChangeKind), Vec<String>> =
        BTreeMap::new();
    for id in ids {
        let (a, b) = (old.item(id), new.item(id));
        match (a, b) {
            (None, Some(_)) => rules.items_added.push(id.to_owned()),
            (Some(_), None) => rules.items_removed.push(id.to_owned()),
            (Some(a), Some(b)) => rule_changes(a, b, &mut rules),
            (None, None) => {}
        }
        let purposes: BTreeSet<&str> = a.into_iter().chain(b).flat_map(purposes_of).collect();
        let licences: BTreeSet<Option<&str>> = std::iter::once(None)
            .chain(a.into_iter().chain(b).flat_map(|i| {
                i.permits
                    .iter()
                    .filter_map(|p| p.require_licence.as_deref().map(Some))
            }))
            .collect();
        let method = a
            .or(b)
            .and_then(|i| i.methods.first())
            .map(String::as_str)
            .unwrap_or("GET");
        for purpose in &purposes {
            for licence in &licences {
                for city in catalog.cities() {
                    for dept in catalog.departments() {
                        let caller = Party {
                            city: city.code.clone(),
                            department: dept.code.clone(),
                        };
                        let req = AccessRequest {
                            caller: &caller,
                            item: id,
                            method,
                            purpose,
                            today,
                            licence: *licence,
                        };
                        let decide = |item: Option<&Item>| {
                            item.map_or_else(Decision::unknown_item, |i| decide(i, &req))
                        };
                        for kind in compare(&decide(a), &decide(b)) {
                            grouped
                                .entry((
                                    id.to_owned(),
                                    (*purpose).to_owned(),
                                    licence.map(str::to_owned),
                                    kind,
                                ))
                                .or_default()
                                .push(format!("{}/{}", city.code, dept.code));
                        }
                    }
                }
            }
        }
    }
    let all_cities = catalog.cities().len();
    let changes = grouped
        .into_iter()
        .map(|((item, purpose, licence, kind), callers)| Change {
            item,
            purpose,
            licence,
            kind,
            callers: compress(callers, all_cities),
        })
        .collect();
    (rules, changes)
}

fn purposes_of(item: &Item) -> impl Iterator<Item = &str> {
    item.permits
        .iter()
        .flat_map(|p| p.purposes.iter().map(String::as_str))
}

/// Callers that cover every city of a department become `*/DEPT`.
fn compress(callers: Vec<String>, all_cities: usize) -> Vec<String> {
    let mut by_dept: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for c in callers {
        if let Some((city, dept)) = c.split_once('/') {
            by_dept
                .entry(dept.to_owned())
                .or_default()
                .push(city.to_owned());
        }
    }
    let mut out = Vec::new();
    for (dept, cities) in by_dept {
        if cities.len() == all_cities {
            out.push(format!("*/{dept}"));
        } else {
            out.extend(cities.into_iter().map(|c| format!("{c}/{dept}")));
        }
    }
    out
}

fn compare(old: &Decision, new: &Decision) -> Vec<ChangeKind> {
    match (old, new) {
        (Decision::Deny { .. }, Decision::Permit { fields, .. }) => {
            let mut out = vec![ChangeKind::AccessGained];
            out.extend(fields.fields().map(|(f, m)| ChangeKind::FieldExposed {
                field: f.to_owned(),
                mask: m.map(MaskMethod::as_str),
            }));
            out
        }
        (Decision::Permit { .. }, Decision::Deny { .. }) => vec![ChangeKind::AccessLost],
        (
            Decision::Permit {
                fields: g1,
                rate: r1,
                ..
            },
            Decision::Permit {
                fields: g2,
                rate: r2,
                ..
            },
        ) => {
            let before: BTreeMap<String, Option<MaskMethod>> =
                g1.fields().map(|(f, m)| (f.to_owned(), m)).collect();
            let after: BTreeMap<String, Option<MaskMethod>> =
                g2.fields().map(|(f, m)| (f.to_owned(), m)).collect();
            let mut out = Vec::new();
            for (field, m) in &after {
                match before.get(field) {
                    None => out.push(ChangeKind::FieldExposed {
                        field: field.clone(),
                        mask: m.map(MaskMethod::as_str),
                    }),
                    Some(Some(was)) if m.is_none() => out.push(ChangeKind::FieldUnmasked {
                        field: field.clone(),
                        was: was.as_str(),
                    }),
                    Some(was) if was != m => {
                        if let Some(m) = m {
                            out.push(ChangeKind::FieldMasked {
                                field: field.clone(),
                                mask: m.as_str(),
                            });
                        }
                    }
                    _ => {}
                }
            }
            out.extend(
                before
                    .keys()
                    .filter(|f| !after.contains_key(*f))
                    .map(|f| ChangeKind::FieldRemoved { field: f.clone() }),
            );
            if r1 != r2 {
                out.push(ChangeKind::RateChanged {
                    from: r1.map(|r| r.to_string()),
                    to: r2.map(|r| r.to_string()),
                });
            }
            out
        }
        (Decision::Deny { .. }, Decision::Deny { .. }) => Vec::new(),
    }
}

fn rule_changes(a: &Item, b: &Item, out: &mut RuleChanges) {
    let permits = |i: &Item| {
        i.permits
            .iter()
            .map(|p| {
                (
                    p.id.clone(),
                    format!(
                        "{:?}",
                        (
                            &p.callers,
                            &p.purposes,
                            &p.fields,
                            &p.mask,
                            p.rate,
                            &p.require_licence,
                            p.valid_from,
                            p.valid_until
                        )
                    ),
                )
            })
            .collect::<BTreeMap<_, _>>()
    };
    let forbids = |i: &Item| {
        i.forbids
            .iter()
            .map(|f| (f.id.clone(), format!("{:?}", (&f.callers, &f.purposes))))
            .collect::<BTreeMap<_, _>>()
    };
    for (kind, before, after) in [
        ("permit", permits(a), permits(b)),
        ("forbid", forbids(a), forbids(b)),
    ] {
        for (id, body) in &after {
            match before.get(id) {
                None => out.rules.push((a.id.clone(), kind, id.clone(), "added")),
                Some(old) if old != body => {
                    out.rules.push((a.id.clone(), kind, id.clone(), "changed"))
                }
                _ => {}
            }
        }
        for id in before.keys().filter(|id| !after.contains_key(*id)) {
            out.rules.push((a.id.clone(), kind, id.clone(), "removed"));
        }
    }
}
