//! The Cedar side of `benches/cedar.rs`: tongban items as Cedar policies and entities, tongban
//! requests as Cedar requests (see that file's doc for the translation).

use std::collections::{BTreeSet, HashMap, HashSet};

use cedar_policy as cedar;
use tongban::policy::model::{CallerPattern, Item, Part};
use tongban::policy::synthetic::CITIES;

use super::{OwnedRequest, OUTSIDER};

/// The Cedar translation of a set of items.
pub(crate) struct CedarSet {
    pub(crate) policies: cedar::PolicySet,
    /// The same policies, one set per item.
    pub(crate) by_item: HashMap<String, cedar::PolicySet>,
    pub(crate) entities: cedar::Entities,
}

impl CedarSet {
    pub(crate) fn translate(items: &[Item]) -> Self {
        let mut policies = cedar::PolicySet::new();
        let mut by_item = HashMap::new();
        for item in items {
            let mut mine = cedar::PolicySet::new();
            for (id, text) in translate_item(item) {
                let policy = cedar::Policy::parse(Some(cedar::PolicyId::new(&id)), &text)
                    .unwrap_or_else(|e| panic!("Cedar does not parse {id}: {e}\n{text}"));
                policies.add(policy.clone()).expect("unique policy ids");
                mine.add(policy).expect("unique policy ids");
            }
            by_item.insert(item.id.clone(), mine);
        }
        Self {
            policies,
            by_item,
            entities: entities(items),
        }
    }
}

/// `(policy id, Cedar text)` for each rule of the item; the id is `<item>/<rule>`.
pub(crate) fn translate_item(item: &Item) -> Vec<(String, String)> {
    let resource = format!("resource == Item::{}", lit(&item.id));
    let action = match item.methods.as_slice() {
        [one] => format!("action == Action::{}", lit(one)),
        many => format!(
            "action in [{}]",
            list(many.iter().map(|m| entity("Action", m)))
        ),
    };
    let mut out = Vec::new();
    for p in &item.permits {
        let (principal, mut when) = principal(&p.callers);
        when.push(purpose(&p.purposes));
        if let Some(t) = &p.require_licence {
            when.push(format!(
                "context has licence && context.licence == {}",
                lit(t)
            ));
        }
        if let Some(from) = p.valid_from {
            when.push(format!("{from} <= context.today"));
        }
        if let Some(until) = p.valid_until {
            when.push(format!("context.today <= {until}"));
        }
        let text = format!(
            "permit ({principal}, {action}, {resource}) when {{ {} }};",
            when.join(" && ")
        );
        out.push((format!("{}/{}", item.id, p.id), text));
    }
    for f in &item.forbids {
        let (principal, mut when) = principal(&f.callers);
        if let Some(purposes) = &f.purposes {
            when.push(purpose(purposes));
        }
        let condition = if when.is_empty() {
            String::new()
        } else {
            format!(" when {{ {} }}", when.join(" && "))
        };
        out.push((
            format!("{}/{}", item.id, f.id),
            format!("forbid ({principal}, {action}, {resource}){condition};"),
        ));
    }
    out
}

/// The principal scope and the `when` conditions for a list of caller patterns.
fn principal(callers: &[CallerPattern]) -> (String, Vec<String>) {
    let groups: Option<Vec<String>> = callers.iter().map(group).collect();
    match groups.as_deref() {
        // `*/*` among them: everyone
        None => ("principal".into(), Vec::new()),
        Some([]) => ("principal".into(), vec!["false".into()]),
        Some([one]) => (format!("principal in {one}"), Vec::new()),
        Some(many) => (
            "principal".into(),
            vec![format!("principal in [{}]", many.join(", "))],
        ),
    }
}

/// The entity a caller pattern stands for (`None`: `*/*`, everyone).
fn group(pattern: &CallerPattern) -> Option<String> {
    match (&pattern.city, &pattern.department) {
        (Part::Any, Part::Any) => None,
        (Part::Is(c), Part::Any) => Some(entity("City", c)),
        (Part::Any, Part::Is(d)) => Some(entity("Department", d)),
        (Part::Is(c), Part::Is(d)) => Some(entity("Caller", &format!("{c}/{d}"))),
    }
}

fn purpose(purposes: &[String]) -> String {
    match purposes {
        [] => "false".into(),
        [one] => format!("context.purpose == {}", lit(one)),
        many => format!(
            "[{}].contains(context.purpose)",
            list(many.iter().map(|p| lit(p)))
        ),
    }
}

fn entity(ty: &str, id: &str) -> String {
    format!("{ty}::{}", lit(id))
}

/// A Cedar string literal: Rust's escapes (`\"`, `\\`, `\u{…}`) are Cedar's too.
fn lit(s: &str) -> String {
    format!("{s:?}")
}

fn list(xs: impl Iterator<Item = String>) -> String {
    xs.collect::<Vec<_>>().join(", ")
}

fn uid(ty: &str, id: &str) -> cedar::EntityUid {
    cedar::EntityUid::from_type_name_and_id(
        ty.parse().expect("entity type name"),
        cedar::EntityId::new(id),
    )
}

/// Every caller the requests use: each city with each department the rules name, and
/// [`OUTSIDER`]; each a member of its city and its department.
fn entities(items: &[Item]) -> cedar::Entities {
    let departments = departments(items);
    let mut all = Vec::new();
    for (city, _) in CITIES {
        all.push(cedar::Entity::new_no_attrs(
            uid("City", city),
            HashSet::new(),
        ));
        for d in &departments {
            let parents = HashSet::from([uid("City", city), uid("Department", d)]);
            all.push(cedar::Entity::new_no_attrs(
                uid("Caller", &format!("{city}/{d}")),
                parents,
            ));
        }
    }
    for d in &departments {
        all.push(cedar::Entity::new_no_attrs(
            uid("Department", d),
            HashSet::new(),
        ));
    }
    cedar::Entities::from_entities(all, None).expect("entities")
}

/// The departments the rules and providers name, and [`OUTSIDER`].
pub(crate) fn departments(items: &[Item]) -> BTreeSet<String> {
    let mut out = BTreeSet::from([OUTSIDER.to_owned()]);
    for item in items {
        out.insert(item.provider.department.clone());
        let patterns = item
            .permits
            .iter()
            .flat_map(|p| &p.callers)
            .chain(item.forbids.iter().flat_map(|f| &f.callers));
        for p in patterns {
            if let Part::Is(d) = &p.department {
                out.insert(d.clone());
            }
        }
    }
    out
}

pub(crate) fn cedar_request(req: &OwnedRequest) -> cedar::Request {
    let mut context = vec![
        (
            "purpose".to_owned(),
            cedar::RestrictedExpression::new_string(req.purpose.clone()),
        ),
        (
            "today".to_owned(),
            cedar::RestrictedExpression::new_long(req.today.into()),
        ),
    ];
    if let Some(t) = &req.licence {
        context.push((
            "licence".to_owned(),
            cedar::RestrictedExpression::new_string(t.clone()),
        ));
    }
    cedar::Request::new(
        uid(
            "Caller",
            &format!("{}/{}", req.caller.city, req.caller.department),
        ),
        uid("Action", &req.method),
        uid("Item", &req.item),
        cedar::Context::from_pairs(context).expect("context"),
        None,
    )
    .expect("request")
}
