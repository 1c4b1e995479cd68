//! Response filtering: keep the granted paths of a JSON body and mask what the policy says.

use std::collections::BTreeSet;

use ring::hmac;
use serde_json::{Map, Value};

use super::decide::{Grant, PermitGrant};
use super::model::{FieldPath, MaskMethod};
use crate::crypto::hex;

/// The per-deployment key of the `hash` mask (HMAC-SHA256); never printed.
pub struct MaskKey(hmac::Key);

impl MaskKey {
    pub fn new(secret: &[u8]) -> Self {
        Self(hmac::Key::new(hmac::HMAC_SHA256, secret))
    }
}

impl std::fmt::Debug for MaskKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MaskKey(…)")
    }
}

/// Names (paths with `[]` for array elements) of what a filtered body returned in clear and masked.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FilterReport {
    pub returned: BTreeSet<String>,
    pub masked: BTreeSet<String>,
}

/// Applies a mask method to a value (non-strings are masked as their JSON text).
pub fn mask_value(method: MaskMethod, value: &Value, key: &MaskKey) -> Value {
    let text = match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    Value::String(mask_text(method, &text, key))
}

/// Masks a string; short values that would show everything are starred entirely.
pub fn mask_text(method: MaskMethod, text: &str, key: &MaskKey) -> String {
    let chars: Vec<char> = text.chars().collect();
    let keep = |head: usize, tail: usize| -> String {
        if chars.len() <= head + tail {
            return "*".repeat(chars.len().max(1));
        }
        let hidden = chars.len() - head - tail;
        let mut out: String = chars.iter().take(head).collect();
        out.push_str(&"*".repeat(hidden));
        out.extend(chars.iter().skip(head + hidden));
        out
    };
    match method {
        MaskMethod::Redact => "***".to_owned(),
        MaskMethod::IdNumber => keep(6, 4),
        MaskMethod::Phone => keep(3, 4),
        MaskMethod::Name => match chars.split_first() {
            Some((first, rest)) if !rest.is_empty() => format!("{first}{}", "*".repeat(rest.len())),
            _ => "*".to_owned(),
        },
        MaskMethod::Hash => hex(hmac::sign(&key.0, text.as_bytes()).as_ref()),
    }
}

/// Keeps only what `grant` allows of `body`, masked as it says.
pub fn filter(body: &Value, grant: &Grant, key: &MaskKey) -> (Value, FilterReport) {
    let mut report = FilterReport::default();
    let mut path = Vec::new();
    let out = walk(body, &mut path, &grant.permits, key, &mut report)
        .unwrap_or(Value::Object(Map::new()));
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

/// `["records", "[]", "amount"]` → `records[].amount`.
fn render(path: &[String]) -> String {
    let mut out = String::new();
    for seg in path {
        if seg != "[]" && !out.is_empty() {
            out.push('.');
        }
        out.push_str(seg);
    }
    out
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
                report.returned.insert(render(path));
                Some(value.clone())
            }
            (false, Some(method)) => {
                report.masked.insert(render(path));
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn key() -> MaskKey {
        MaskKey::new(b"test key")
    }

    #[test]
    fn masks_of_the_contract() {
        let k = key();
        assert_eq!(
            mask_text(MaskMethod::IdNumber, "420106199001011234", &k),
            "420106********1234"
        );
        assert_eq!(mask_text(MaskMethod::Name, "张三丰", &k), "张**");
        assert_eq!(
            mask_text(MaskMethod::Phone, "13812341234", &k),
            "138****1234"
        );
        assert_eq!(mask_text(MaskMethod::Redact, "anything", &k), "***");
        let h = mask_text(MaskMethod::Hash, "420106199001011234", &k);
        assert_eq!(h.len(), 64);
        assert!(h
            .bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()));
        assert_ne!(
            h,
            mask_text(
                MaskMethod::Hash,
                "420106199001011234",
                &MaskKey::new(b"other")
            )
        );
        // never plain SHA-256
        let plain =
            hex(ring::digest::digest(&ring::digest::SHA256, b"420106199001011234").as_ref());
        assert_ne!(h, plain);
        // short values are starred entirely, non-strings masked as JSON text
        assert_eq!(mask_text(MaskMethod::Phone, "1234", &k), "****");
        assert_eq!(
            mask_value(MaskMethod::Phone, &json!(13812341234u64), &k),
            json!("138****1234")
        );
    }

    type Spec<'a> = (&'a [&'a str], &'a [(&'a str, MaskMethod)]);

    fn grant(permits: &[Spec<'_>]) -> Grant {
        Grant {
            permits: permits
                .iter()
                .map(|(fields, mask)| PermitGrant {
                    fields: fields
                        .iter()
                        .map(|f| FieldPath::parse(f).unwrap())
                        .collect(),
                    mask: mask
                        .iter()
                        .map(|(f, m)| (FieldPath::parse(f).unwrap(), *m))
                        .collect(),
                })
                .collect(),
        }
    }

    #[test]
    fn keeps_granted_paths_and_arrays() {
        let body = json!({
            "account": {"no": "A1", "status": "正常", "balance": 1200.5},
            "holder": {"name": "张三", "id_number": "420106199001011234", "phone": "13812341234"},
            "records": [{"amount": 1, "date": "2025-01"}, {"amount": 2, "date": "2025-02"}],
            "secret": "x"
        });
        let g = grant(&[(
            &["account.status", "holder", "records[].amount"],
            &[("holder.id_number", MaskMethod::IdNumber)],
        )]);
        let (out, report) = filter(&body, &g, &key());
        assert_eq!(
            out,
            json!({
                "account": {"status": "正常"},
                "holder": {"name": "张三", "id_number": "420106********1234", "phone": "13812341234"},
                "records": [{"amount": 1}, {"amount": 2}]
            })
        );
        assert!(report.masked.contains("holder.id_number"));
        assert!(report.returned.contains("records[].amount"));
    }

    #[test]
    fn a_field_is_masked_only_if_every_granting_permit_masks_it() {
        let body = json!({"holder": {"name": "张三", "id_number": "420106199001011234"}});
        let masked = (
            &["holder.name", "holder.id_number"][..],
            &[
                ("holder.name", MaskMethod::Name),
                ("holder.id_number", MaskMethod::IdNumber),
            ][..],
        );
        let clear_name = (&["holder.name"][..], &[][..]);
        let (out, _) = filter(&body, &grant(&[masked]), &key());
        assert_eq!(
            out,
            json!({"holder": {"name": "张*", "id_number": "420106********1234"}})
        );
        let (out, _) = filter(&body, &grant(&[masked, clear_name]), &key());
        assert_eq!(
            out,
            json!({"holder": {"name": "张三", "id_number": "420106********1234"}})
        );
    }

    #[test]
    fn a_masked_object_is_masked_whole() {
        let body = json!({"address": {"city": "武汉", "street": "中山大道1号"}});
        let (out, _) = filter(
            &body,
            &grant(&[(&["address"], &[("address", MaskMethod::Redact)])]),
            &key(),
        );
        assert_eq!(out, json!({"address": "***"}));
    }
}
