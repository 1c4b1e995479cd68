//! Response filtering: keep what a decision's [`FieldPlan`] grants of a JSON body, masked as it
//! says, and report which of the plan's fields were returned.

use serde_json::{Map, Value};

use super::mask::{mask_value, MaskKey};
use super::plan::{Access, FieldPlan, FieldReport, NodeId, ROOT};

/// Keeps only what `plan` grants of `body`; a body granting nothing is `{}`.
pub fn filter(body: &Value, plan: &FieldPlan, key: &MaskKey) -> (Value, FieldReport) {
    let mut walk = Walk {
        plan,
        key,
        report: plan.report(),
    };
    let out = walk
        .at(body, Place::Node(ROOT))
        .unwrap_or(Value::Object(Map::new()));
    (out, walk.report)
}

/// Where a value stands in the plan.
#[derive(Clone, Copy)]
enum Place {
    /// On a node of the plan.
    Node(NodeId),
    /// Below granted node `owner`, on no path of the plan: `owner`'s access applies.
    Inside(NodeId),
}

struct Walk<'a> {
    plan: &'a FieldPlan,
    key: &'a MaskKey,
    report: FieldReport,
}

impl Walk<'_> {
    fn at(&mut self, value: &Value, place: Place) -> Option<Value> {
        let (node, access, opened) = match place {
            Place::Node(id) => (
                Some(id),
                self.plan.access(id),
                self.plan.has_paths_below(id),
            ),
            Place::Inside(owner) => (None, self.plan.access(owner), false),
        };
        let owner = match place {
            Place::Node(id) => self.plan.owner(id),
            Place::Inside(owner) => owner,
        };
        let is_container = matches!(value, Value::Object(_) | Value::Array(_));
        match access {
            Access::Hidden => {
                let id = node.filter(|id| self.plan.grants_below(*id))?;
                self.open(value, id, None)
            }
            _ if is_container && opened => self.open(value, node?, Some(owner)),
            Access::Clear => {
                if has_scalar(value) {
                    self.report.clear(owner);
                }
                Some(value.clone())
            }
            Access::Masked(method) => {
                self.report.masked(owner);
                Some(mask_value(method, value, self.key))
            }
        }
    }

    /// The container at `id`, its members and elements filtered; `granted_to` is `Some(owner)`
    /// when the container itself is granted (kept even if nothing inside is), `None` when only
    /// something below is.
    fn open(&mut self, value: &Value, id: NodeId, granted_to: Option<NodeId>) -> Option<Value> {
        let place = |child: Option<NodeId>| match (child, granted_to) {
            (Some(child), _) => Some(Place::Node(child)),
            (None, Some(owner)) => Some(Place::Inside(owner)),
            (None, None) => None,
        };
        let out = match value {
            Value::Object(map) => {
                let mut out = Map::new();
                for (k, v) in map {
                    let kept = place(self.plan.member(id, k)).and_then(|p| self.at(v, p));
                    if let Some(kept) = kept {
                        out.insert(k.clone(), kept);
                    }
                }
                (granted_to.is_some() || !out.is_empty()).then_some(Value::Object(out))
            }
            Value::Array(items) => {
                let element = place(self.plan.elements(id));
                let out: Vec<Value> = items
                    .iter()
                    .filter_map(|v| element.and_then(|p| self.at(v, p)))
                    .collect();
                (granted_to.is_some() || !out.is_empty()).then_some(Value::Array(out))
            }
            _ => None,
        };
        out
    }
}

/// Whether a value is or holds a string, number, boolean or null.
fn has_scalar(value: &Value) -> bool {
    match value {
        Value::Object(map) => map.values().any(has_scalar),
        Value::Array(items) => items.iter().any(has_scalar),
        _ => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::model::{FieldPath, MaskMethod};
    use serde_json::json;

    fn key() -> MaskKey {
        MaskKey::new(b"test key")
    }

    type Spec<'a> = (&'a [&'a str], &'a [(&'a str, MaskMethod)]);

    fn plan(permits: &[Spec<'_>]) -> FieldPlan {
        type Owned = (Vec<FieldPath>, Vec<(FieldPath, MaskMethod)>);
        let owned: Vec<Owned> = permits
            .iter()
            .map(|(fields, mask)| {
                (
                    fields
                        .iter()
                        .map(|f| FieldPath::parse(f).unwrap())
                        .collect(),
                    mask.iter()
                        .map(|(f, m)| (FieldPath::parse(f).unwrap(), *m))
                        .collect(),
                )
            })
            .collect();
        FieldPlan::compile(owned.iter().map(|(f, m)| (f.as_slice(), m.as_slice())))
    }

    #[test]
    fn keeps_granted_paths_and_arrays() {
        let body = json!({
            "account": {"no": "A1", "status": "正常", "balance": 1200.5},
            "holder": {"name": "张三", "id_number": "420106199001011234", "phone": "13812341234"},
            "records": [{"amount": 1, "date": "2025-01"}, {"amount": 2, "date": "2025-02"}],
            "secret": "x"
        });
        let p = plan(&[(
            &["account.status", "holder", "records[].amount"],
            &[("holder.id_number", MaskMethod::IdNumber)],
        )]);
        let (out, report) = filter(&body, &p, &key());
        assert_eq!(
            out,
            json!({
                "account": {"status": "正常"},
                "holder": {"name": "张三", "id_number": "420106********1234", "phone": "13812341234"},
                "records": [{"amount": 1}, {"amount": 2}]
            })
        );
        let (returned, masked) = p.names(&report);
        assert_eq!(
            returned,
            [
                "account.status",
                "holder",
                "holder.id_number",
                "records[].amount"
            ]
        );
        assert_eq!(masked, ["holder.id_number"]);
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
        let (out, _) = filter(&body, &plan(&[masked]), &key());
        assert_eq!(
            out,
            json!({"holder": {"name": "张*", "id_number": "420106********1234"}})
        );
        let (out, _) = filter(&body, &plan(&[masked, clear_name]), &key());
        assert_eq!(
            out,
            json!({"holder": {"name": "张三", "id_number": "420106********1234"}})
        );
    }

    #[test]
    fn a_masked_object_is_masked_whole() {
        let body = json!({"address": {"city": "武汉", "street": "中山大道1号"}});
        let p = plan(&[(&["address"], &[("address", MaskMethod::Redact)])]);
        let (out, report) = filter(&body, &p, &key());
        assert_eq!(out, json!({"address": "***"}));
        assert_eq!(p.names(&report).1, ["address"]);
    }

    #[test]
    fn nothing_granted_is_an_empty_object() {
        let p = plan(&[(&["a.b"], &[])]);
        for body in [
            json!([1, 2]),
            json!("x"),
            json!({"a": 1}),
            json!({"c": {"b": 1}}),
        ] {
            assert_eq!(filter(&body, &p, &key()).0, json!({}), "{body}");
        }
    }

    #[test]
    fn an_object_key_of_brackets_is_no_array_element() {
        // the tree filter before the plan took a member named `[]` for the elements of `a[]`
        let p = plan(&[(&["a[]"], &[])]);
        let body = json!({"a": {"[]": 1}});
        assert_eq!(filter(&body, &p, &key()).0, json!({}));
        assert_eq!(filter(&json!({"a": [1]}), &p, &key()).0, json!({"a": [1]}));
    }
}
