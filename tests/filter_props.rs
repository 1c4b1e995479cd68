//! The streaming filter and its field plan against the tree filter the gateway ran before them
//! (`filter_props/reference.rs`, over `serde_json::Value`): on random JSON and random permits
//! they return the same bytes and report the same fields; the streaming filter refuses exactly
//! what `serde_json::from_slice` refuses; and `FieldPlan::fields` (what `policy explain`,
//! `policy test` and `policy diff` show) says what the filter does.

#[path = "filter_props/reference.rs"]
mod reference;

use std::collections::BTreeSet;

use proptest::prelude::*;
use serde_json::{Map, Value};

use tongban::policy::filter::filter;
use tongban::policy::mask::{mask_value, MaskKey};
use tongban::policy::model::{FieldPath, MaskMethod};
use tongban::policy::plan::FieldPlan;

/// Paths permits grant and mask: nested, overlapping, through arrays.
const PATHS: [&str; 12] = [
    "a", "a.b", "a.c", "b", "b.c.d", "c[]", "c[].a", "c[].b.a", "d[][]", "d[][].a", "e.a.b", "f",
];
/// Paths permits mask: fewer, so that masks meet on the same values.
const MASK_PATHS: [&str; 6] = ["a", "a.b", "b", "c[]", "c[].a", "d[][]"];
/// Object keys of the random bodies: the paths' segments (the first ones more often) and
/// strangers.
const KEYS: [&str; 11] = ["a", "a", "b", "b", "c", "d", "e", "f", "a", "g", "é\"\\\n"];
const MASKS: [MaskMethod; 5] = [
    MaskMethod::Redact,
    MaskMethod::IdNumber,
    MaskMethod::Name,
    MaskMethod::Phone,
    MaskMethod::Hash,
];

type Permit = (Vec<FieldPath>, Vec<(FieldPath, MaskMethod)>);

fn path() -> impl Strategy<Value = FieldPath> {
    prop::sample::select(PATHS.to_vec()).prop_map(|p| FieldPath::parse(p).unwrap())
}

fn permit() -> impl Strategy<Value = Permit> {
    let mask_path =
        prop::sample::select(MASK_PATHS.to_vec()).prop_map(|p| FieldPath::parse(p).unwrap());
    (
        prop::collection::vec(path(), 1..4),
        prop::collection::vec((mask_path, prop::sample::select(MASKS.to_vec())), 0..3),
    )
}

fn scalar() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        (-1e6f64..1e6).prop_map(Value::from),
        "[a-z0-9张三\"\\\\\n\u{1F600}]{0,20}".prop_map(Value::String),
    ]
}

fn json() -> impl Strategy<Value = Value> {
    scalar().prop_recursive(6, 64, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            prop::collection::vec((prop::sample::select(KEYS.to_vec()), inner), 0..6).prop_map(
                |members| Value::Object(
                    members
                        .into_iter()
                        .map(|(k, v)| (k.to_owned(), v))
                        .collect()
                )
            ),
        ]
    })
}

/// Bodies shaped like the paths, so that most permits find something.
fn body() -> impl Strategy<Value = Value> {
    json().prop_map(|v| match v {
        Value::Object(_) => v,
        other => {
            let mut map = Map::new();
            map.insert("a".into(), other);
            Value::Object(map)
        }
    })
}

fn plan(permits: &[Permit]) -> FieldPlan {
    FieldPlan::compile(permits.iter().map(|(f, m)| (f.as_slice(), m.as_slice())))
}

fn reference_grants(permits: &[Permit]) -> Vec<reference::PermitGrant> {
    permits
        .iter()
        .map(|(fields, mask)| reference::PermitGrant {
            fields: fields.clone(),
            mask: mask.clone(),
        })
        .collect()
}

/// The name the plan reports a returned leaf under: the deepest permit path above it.
fn owner(leaf: &[String], permits: &[Permit]) -> String {
    permits
        .iter()
        .flat_map(|(f, m)| f.iter().chain(m.iter().map(|(p, _)| p)))
        .filter(|p| leaf.starts_with(p.segments()))
        .max_by_key(|p| p.segments().len())
        .map(ToString::to_string)
        .unwrap_or_default()
}

fn key() -> MaskKey {
    MaskKey::new(b"filter props")
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 3000, ..ProptestConfig::default() })]

    #[test]
    fn the_plan_filters_as_the_tree_filter_did(
        body in body(),
        permits in prop::collection::vec(permit(), 1..4),
        pretty in any::<bool>(),
    ) {
        let key = key();
        let text = if pretty { serde_json::to_vec_pretty(&body) } else { serde_json::to_vec(&body) };
        let text = text.unwrap();
        // the reference gets the body as the gateway did: parsed by serde_json (whose float
        // parsing may differ from the generated value in the last digit)
        let parsed: Value = serde_json::from_slice(&text).unwrap();
        let (expected, expected_report) = reference::filter(&parsed, &reference_grants(&permits), &key);
        let plan = plan(&permits);
        let (got, report) = filter(&text, &plan, &key).unwrap();
        // the same bytes: the tests build serde_json with `preserve_order`, so the reference
        // keeps the upstream's order of members too
        prop_assert_eq!(
            String::from_utf8(got).unwrap(),
            serde_json::to_string(&expected).unwrap()
        );
        let (returned, masked) = plan.names(&report);
        let owners = |leaves: &BTreeSet<Vec<String>>| -> Vec<String> {
            leaves.iter().map(|l| owner(l, &permits)).collect::<BTreeSet<_>>().into_iter().collect()
        };
        let all = expected_report.returned.union(&expected_report.masked).cloned().collect();
        prop_assert_eq!(returned, owners(&all));
        prop_assert_eq!(masked, owners(&expected_report.masked));
    }

    #[test]
    fn what_serde_json_refuses_is_refused(
        body in body(),
        permits in prop::collection::vec(permit(), 1..4),
        edits in prop::collection::vec((any::<prop::sample::Index>(), 0u8..3, any::<u8>()), 1..4),
    ) {
        let mut text = serde_json::to_vec(&body).unwrap();
        for (at, op, byte) in edits {
            let byte = b"{}[]\",:0123456789.eE+-tnul\\ ax\xff\x01"[usize::from(byte) % 28];
            match op {
                0 if !text.is_empty() => { text.remove(at.index(text.len())); }
                1 => text.insert(at.index(text.len() + 1), byte),
                _ if !text.is_empty() => { let i = at.index(text.len()); text[i] = byte; }
                _ => {}
            }
        }
        let parsed = serde_json::from_slice::<Value>(&text).is_ok();
        let filtered = filter(&text, &plan(&permits), &key()).is_ok();
        prop_assert_eq!(filtered, parsed, "{}", String::from_utf8_lossy(&text));
    }

    #[test]
    fn the_listed_fields_are_what_the_filter_does(
        permits in prop::collection::vec(permit(), 1..4),
    ) {
        let key = key();
        let plan = plan(&permits);
        for (name, mask) in plan.fields() {
            // a body with one string at the field's path, every array of one element
            let path = FieldPath::parse(name).unwrap();
            let leaf = Value::String("4201061990".into());
            let body = path.segments().iter().rev().fold(leaf.clone(), |inner, seg| {
                if seg == "[]" {
                    Value::Array(vec![inner])
                } else {
                    let mut map = Map::new();
                    map.insert(seg.clone(), inner);
                    Value::Object(map)
                }
            });
            let (out, _) = filter(body.to_string().as_bytes(), &plan, &key).unwrap();
            let out: Value = serde_json::from_slice(&out).unwrap();
            let got = path.segments().iter().try_fold(&out, |v, seg| {
                if seg == "[]" { v.get(0) } else { v.get(seg.as_str()) }
            });
            let expected = mask.map_or(leaf.clone(), |m| mask_value(m, &leaf, &key));
            prop_assert_eq!(got, Some(&expected), "{} in {}", name, out);
        }
    }
}

/// A field is listed with its mask even when it is only a mask path below a granted one.
#[test]
fn mask_paths_below_a_granted_path_are_listed() {
    let holder = FieldPath::parse("holder").unwrap();
    let id = FieldPath::parse("holder.id_number").unwrap();
    let fields = [holder];
    let masks = [(id, MaskMethod::IdNumber)];
    let plan = FieldPlan::compile([(&fields[..], &masks[..])]);
    let listed: Vec<_> = plan.fields().collect();
    assert_eq!(
        listed,
        [
            ("holder", None),
            ("holder.id_number", Some(MaskMethod::IdNumber))
        ]
    );
}
