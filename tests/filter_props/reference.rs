//! The tree filter the gateway ran before the field plan (commit 3912226, `policy::filter`),
//! kept as the reference the plan's filter must agree with. It parses nothing itself: it walks a
//! `serde_json::Value`, and reports each returned leaf's own path.

use std::collections::BTreeSet;

use serde_json::{Map, Value};

use tongban::policy::mask::{mask_value, MaskKey};
use tongban::policy::model::{FieldPath, MaskMethod};

/// One matching permit's paths and masks.
#[derive(Clone, Debug)]
pub struct PermitGrant {
    pub fields: Vec<FieldPath>,
    pub mask: Vec<(FieldPath, MaskMethod)>,
}

/// The paths (segments, `[]` for array elements) of what a filtered body returned in clear and
/// masked.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FilterReport {
    pub returned: BTreeSet<Vec<String>>,
    pub masked: BTreeSet<Vec<String>>,
}

/// Keeps only what `permits` allow of `body`, masked as they say.
pub fn filter(body: &Value, permits: &[PermitGrant], key: &MaskKey) -> (Value, FilterReport) {
    let mut report = FilterReport::default();
    let mut path = Vec::new();
    let out = walk(body, &mut path, permits, key, &mut report).unwrap_or(Value::Object(Map::new()));
    (out, report)
}

/// How one permit stands at a node.
enum Standing {
    /// Grants the node; `Some` when a mask applies at or above it.
    Granted(Option<MaskMethod>),
    /// Grants something below the node.
    Below,
    Nothing,
}

fn standing(p: &PermitGrant, path: &[String]) -> Standing {
    let covers = |f: &FieldPath| path.starts_with(f.segments());
    if p.fields.iter().any(covers) {
        let mask = p
            .mask
            .iter()
            .filter(|(m, _)| covers(m))
            .map(|(_, method)| *method)
            .max();
        Standing::Granted(mask)
    } else if p.fields.iter().any(|f| f.segments().starts_with(path)) {
        Standing::Below
    } else {
        Standing::Nothing
    }
}

/// Whether any permit names a grant or mask path strictly below `path`.
fn deeper_rules(permits: &[PermitGrant], path: &[String]) -> bool {
    permits.iter().any(|p| {
        p.fields
            .iter()
            .chain(p.mask.iter().map(|(m, _)| m))
            .any(|f| f.segments().len() > path.len() && f.segments().starts_with(path))
    })
}

fn walk(
    value: &Value,
    path: &mut Vec<String>,
    permits: &[PermitGrant],
    key: &MaskKey,
    report: &mut FilterReport,
) -> Option<Value> {
    let standings: Vec<Standing> = permits.iter().map(|p| standing(p, path)).collect();
    let clear = standings
        .iter()
        .any(|s| matches!(s, Standing::Granted(None)));
    let masked = standings
        .iter()
        .filter_map(|s| match s {
            Standing::Granted(m) => *m,
            _ => None,
        })
        .max();
    let below = standings.iter().any(|s| matches!(s, Standing::Below));
    let granted = clear || masked.is_some();
    if !granted && !below {
        return None;
    }
    let is_container = matches!(value, Value::Object(_) | Value::Array(_));
    if !is_container || (!clear && granted && !deeper_rules(permits, path)) {
        return match (clear, masked) {
            (true, _) => {
                report.returned.insert(path.clone());
                Some(value.clone())
            }
            (false, Some(method)) => {
                report.masked.insert(path.clone());
                Some(mask_value(method, value, key))
            }
            (false, None) => None,
        };
    }
    match value {
        Value::Object(map) => {
            let mut out = Map::new();
            for (k, v) in map {
                path.push(k.clone());
                if let Some(kept) = walk(v, path, permits, key, report) {
                    out.insert(k.clone(), kept);
                }
                path.pop();
            }
            (granted || !out.is_empty()).then_some(Value::Object(out))
        }
        Value::Array(items) => {
            path.push("[]".to_owned());
            let out: Vec<Value> = items
                .iter()
                .filter_map(|v| walk(v, path, permits, key, report))
                .collect();
            path.pop();
            (granted || !out.is_empty()).then_some(Value::Array(out))
        }
        _ => None,
    }
}
