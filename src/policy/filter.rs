//! Response filtering: keep what a decision's [`FieldPlan`] grants of a JSON body, masked as it
//! says, while parsing it. The body is never built as a tree: serde_json's parser is driven by
//! the plan, granted values are written straight into the answer, everything else is only
//! checked. The whole body is checked as strictly as `serde_json::from_slice` would (the same
//! parser: syntax, UTF-8, escapes, number range, nesting at most 127 deep), and the answer keeps
//! the upstream's order of members.

use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::Serialize;

use super::mask::{mask_text, MaskKey};
use super::model::MaskMethod;
use super::plan::{Access, FieldPlan, FieldReport, NodeId, ROOT};

/// The upstream's body is not JSON.
#[derive(Debug, thiserror::Error)]
#[error("the body is not JSON: {0}")]
pub struct NotJson(#[from] serde_json::Error);

/// Keeps only what `plan` grants of `body`: the answer's bytes (`{}` when nothing is granted)
/// and which of the plan's fields it holds.
pub fn filter(
    body: &[u8],
    plan: &FieldPlan,
    key: &MaskKey,
) -> Result<(Vec<u8>, FieldReport), NotJson> {
    let mut ctx = Ctx {
        plan,
        key,
        out: Vec::with_capacity(body.len().min(INITIAL_CAPACITY)),
        report: plan.report(),
    };
    let mut de = serde_json::Deserializer::from_slice(body);
    let kept = At {
        ctx: &mut ctx,
        place: Place::Node(ROOT),
    }
    .deserialize(&mut de)?;
    de.end()?;
    if !kept {
        ctx.out.clear();
        ctx.out.extend_from_slice(b"{}");
    }
    Ok((ctx.out, ctx.report))
}

/// The answer buffer's first allocation at most (it grows with what is kept).
const INITIAL_CAPACITY: usize = 64 * 1024;

struct Ctx<'p> {
    plan: &'p FieldPlan,
    key: &'p MaskKey,
    out: Vec<u8>,
    report: FieldReport,
}

/// Where a value stands in the plan.
#[derive(Clone, Copy)]
enum Place {
    /// On a node of the plan.
    Node(NodeId),
    /// Below granted node `owner`, on no path of the plan: `owner`'s access applies.
    Inside(NodeId),
}

/// What happens to a value at a place.
enum Treatment {
    /// Scalars are dropped; a container is opened for what lies below and kept if any is.
    Hidden(NodeId),
    /// Passed as it is.
    Clear,
    /// Masked whole (a container as its JSON text).
    Masked(MaskMethod),
    /// Granted, with plan paths below: a container is opened; a scalar is `access`'s.
    Opened { node: NodeId, access: Access },
}

impl Ctx<'_> {
    fn treatment(&self, place: Place) -> (Treatment, NodeId) {
        let (node, access, opened) = match place {
            Place::Node(id) => (id, self.plan.access(id), self.plan.has_paths_below(id)),
            Place::Inside(owner) => (owner, self.plan.access(owner), false),
        };
        let owner = self.plan.owner(node);
        let treatment = match access {
            Access::Hidden => Treatment::Hidden(node),
            _ if opened => Treatment::Opened { node, access },
            Access::Clear => Treatment::Clear,
            Access::Masked(method) => Treatment::Masked(method),
        };
        (treatment, owner)
    }

    /// The place of a member or element below `node` (`child` its plan node, if any), `None`
    /// when nothing of it can be kept.
    fn below(&self, child: Option<NodeId>, node: NodeId, granted: bool) -> Option<Place> {
        match child {
            Some(c) if self.plan.access(c) != Access::Hidden || self.plan.grants_below(c) => {
                Some(Place::Node(c))
            }
            Some(_) => None,
            None => granted.then(|| Place::Inside(self.plan.owner(node))),
        }
    }
}

/// Filters the value at a place into the answer; `true` when something of it was written.
struct At<'c, 'p> {
    ctx: &'c mut Ctx<'p>,
    place: Place,
}

impl<'de> DeserializeSeed<'de> for At<'_, '_> {
    type Value = bool;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<bool, D::Error> {
        d.deserialize_any(self)
    }
}

impl At<'_, '_> {
    fn scalar(self, value: Scalar<'_>) -> bool {
        let (treatment, owner) = self.ctx.treatment(self.place);
        let access = match treatment {
            Treatment::Hidden(_) => Access::Hidden,
            Treatment::Clear => Access::Clear,
            Treatment::Masked(m) => Access::Masked(m),
            Treatment::Opened { access, .. } => access,
        };
        match access {
            Access::Hidden => false,
            Access::Clear => {
                value.write(&mut self.ctx.out);
                self.ctx.report.clear(owner);
                true
            }
            Access::Masked(method) => {
                let mut text = Vec::new();
                let text = match value {
                    Scalar::Str(s) | Scalar::Plain(s) => s,
                    other => {
                        other.write(&mut text);
                        std::str::from_utf8(&text).unwrap_or_default()
                    }
                };
                write(&mut self.ctx.out, &mask_text(method, text, self.ctx.key));
                self.ctx.report.masked(owner);
                true
            }
        }
    }

    /// A container at this place: opened, passed or masked whole as its treatment says.
    fn container<'de, C: Container<'de>>(self, container: C) -> Result<bool, C::Error> {
        let (treatment, owner) = self.ctx.treatment(self.place);
        match treatment {
            Treatment::Clear => {
                if container.copy(&mut self.ctx.out)? {
                    self.ctx.report.clear(owner);
                }
                Ok(true)
            }
            Treatment::Masked(method) => {
                let mut text = Vec::new();
                container.copy(&mut text)?;
                let text = std::str::from_utf8(&text).unwrap_or_default();
                write(&mut self.ctx.out, &mask_text(method, text, self.ctx.key));
                self.ctx.report.masked(owner);
                Ok(true)
            }
            Treatment::Hidden(node) => container.open(self.ctx, node, false),
            Treatment::Opened { node, .. } => container.open(self.ctx, node, true),
        }
    }
}

impl<'de> Visitor<'de> for At<'_, '_> {
    type Value = bool;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<bool, E> {
        Ok(self.scalar(Scalar::Bool(v)))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<bool, E> {
        Ok(self.scalar(Scalar::I64(v)))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<bool, E> {
        Ok(self.scalar(Scalar::U64(v)))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<bool, E> {
        Ok(self.scalar(Scalar::F64(v)))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<bool, E> {
        Ok(self.scalar(Scalar::Str(v)))
    }

    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<bool, E> {
        Ok(self.scalar(Scalar::Plain(v)))
    }

    fn visit_unit<E: de::Error>(self) -> Result<bool, E> {
        Ok(self.scalar(Scalar::Null))
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<bool, A::Error> {
        self.container(Object(map))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<bool, A::Error> {
        self.container(Array(seq))
    }
}

/// A JSON scalar as the parser gave it.
#[derive(Clone, Copy)]
enum Scalar<'a> {
    Null,
    Bool(bool),
    I64(i64),
    U64(u64),
    F64(f64),
    Str(&'a str),
    /// A string that had no escape in the body: it holds no `"`, `\` nor control character
    /// (the parser refuses those unescaped), so serde_json would write it as it is.
    Plain(&'a str),
}

impl Scalar<'_> {
    /// Its JSON text, as serde_json writes it.
    fn write(self, out: &mut Vec<u8>) {
        match self {
            Scalar::Null => out.extend_from_slice(b"null"),
            Scalar::Bool(v) => write(out, &v),
            Scalar::I64(v) => write(out, &v),
            Scalar::U64(v) => write(out, &v),
            Scalar::F64(v) => write(out, &v),
            Scalar::Str(v) => write(out, v),
            Scalar::Plain(v) => write_plain(out, v),
        }
    }
}

/// A string known to need no escape, quoted.
fn write_plain(out: &mut Vec<u8>, text: &str) {
    out.reserve(text.len() + 2);
    out.push(b'"');
    out.extend_from_slice(text.as_bytes());
    out.push(b'"');
}

/// A member name as serde_json writes it.
fn write_key(out: &mut Vec<u8>, key: &Key<'_>) {
    match key {
        Key::Plain(plain) => write_plain(out, plain),
        Key::Escaped(text) => write(out, text.as_str()),
    }
    out.push(b':');
}

/// Writes `value` as serde_json does (strings escaped, numbers by itoa and ryu).
fn write<T: Serialize + ?Sized>(out: &mut Vec<u8>, value: &T) {
    // writing into a Vec cannot fail, and every value here serializes
    let _ = serde_json::to_writer(out, value);
}

/// An object or array being parsed.
trait Container<'de> {
    type Error: de::Error;

    /// Writes it as compact JSON; `true` when it holds a scalar.
    fn copy(self, out: &mut Vec<u8>) -> Result<bool, Self::Error>;

    /// Writes what the plan keeps of it below `node`; `granted`: the container itself is
    /// granted (kept even when nothing inside is). `true` when something was written.
    fn open(self, ctx: &mut Ctx<'_>, node: NodeId, granted: bool) -> Result<bool, Self::Error>;
}

struct Object<A>(A);
struct Array<A>(A);

impl<'de, A: MapAccess<'de>> Container<'de> for Object<A> {
    type Error = A::Error;

    fn copy(mut self, out: &mut Vec<u8>) -> Result<bool, A::Error> {
        out.push(b'{');
        let mut scalar = false;
        let mut first = true;
        while let Some(key) = self.0.next_key_seed(KeySeed)? {
            if !first {
                out.push(b',');
            }
            first = false;
            write_key(out, &key);
            scalar |= self.0.next_value_seed(Copy(out))?;
        }
        out.push(b'}');
        Ok(scalar)
    }

    fn open(mut self, ctx: &mut Ctx<'_>, node: NodeId, granted: bool) -> Result<bool, A::Error> {
        let start = ctx.out.len();
        ctx.out.push(b'{');
        let mut empty = true;
        while let Some(key) = self.0.next_key_seed(KeySeed)? {
            let child = ctx.plan.member(node, &key);
            let Some(place) = ctx.below(child, node, granted) else {
                self.0.next_value::<Skip>()?;
                continue;
            };
            let member = ctx.out.len();
            if !empty {
                ctx.out.push(b',');
            }
            write_key(&mut ctx.out, &key);
            if self.0.next_value_seed(At { ctx, place })? {
                empty = false;
            } else {
                ctx.out.truncate(member);
            }
        }
        ctx.out.push(b'}');
        let kept = granted || !empty;
        if !kept {
            ctx.out.truncate(start);
        }
        Ok(kept)
    }
}

impl<'de, A: SeqAccess<'de>> Container<'de> for Array<A> {
    type Error = A::Error;

    fn copy(mut self, out: &mut Vec<u8>) -> Result<bool, A::Error> {
        out.push(b'[');
        let mut scalar = false;
        let mut first = true;
        loop {
            let comma = out.len();
            if !first {
                out.push(b',');
            }
            match self.0.next_element_seed(Copy(out))? {
                Some(s) => scalar |= s,
                None => {
                    out.truncate(comma);
                    break;
                }
            }
            first = false;
        }
        out.push(b']');
        Ok(scalar)
    }

    fn open(mut self, ctx: &mut Ctx<'_>, node: NodeId, granted: bool) -> Result<bool, A::Error> {
        let start = ctx.out.len();
        ctx.out.push(b'[');
        let mut empty = true;
        // (a granted array always has a place for its elements)
        let Some(place) = ctx.below(ctx.plan.elements(node), node, granted) else {
            while self.0.next_element::<Skip>()?.is_some() {}
            ctx.out.truncate(start);
            return Ok(false);
        };
        loop {
            let element = ctx.out.len();
            if !empty {
                ctx.out.push(b',');
            }
            match self.0.next_element_seed(At { ctx, place })? {
                Some(true) => empty = false,
                Some(false) => ctx.out.truncate(element),
                None => {
                    ctx.out.truncate(element);
                    break;
                }
            }
        }
        ctx.out.push(b']');
        let kept = granted || !empty;
        if !kept {
            ctx.out.truncate(start);
        }
        Ok(kept)
    }
}

/// A member's name: borrowed from the body when it had no escape (then it needs none, see
/// [`Scalar::Plain`]), else unescaped.
enum Key<'de> {
    Plain(&'de str),
    Escaped(String),
}

impl std::ops::Deref for Key<'_> {
    type Target = str;

    fn deref(&self) -> &str {
        match self {
            Key::Plain(text) => text,
            Key::Escaped(text) => text,
        }
    }
}

struct KeySeed;

impl<'de> DeserializeSeed<'de> for KeySeed {
    type Value = Key<'de>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Key<'de>, D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for KeySeed {
    type Value = Key<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a member name")
    }

    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Key<'de>, E> {
        Ok(Key::Plain(v))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Key<'de>, E> {
        Ok(Key::Escaped(v.to_owned()))
    }
}

/// Copies a value as compact JSON; `true` when it is or holds a scalar.
struct Copy<'a>(&'a mut Vec<u8>);

impl<'de> DeserializeSeed<'de> for Copy<'_> {
    type Value = bool;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<bool, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Copy<'_> {
    type Value = bool;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<bool, E> {
        Scalar::Bool(v).write(self.0);
        Ok(true)
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<bool, E> {
        Scalar::I64(v).write(self.0);
        Ok(true)
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<bool, E> {
        Scalar::U64(v).write(self.0);
        Ok(true)
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<bool, E> {
        Scalar::F64(v).write(self.0);
        Ok(true)
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<bool, E> {
        Scalar::Str(v).write(self.0);
        Ok(true)
    }

    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<bool, E> {
        Scalar::Plain(v).write(self.0);
        Ok(true)
    }

    fn visit_unit<E: de::Error>(self) -> Result<bool, E> {
        Scalar::Null.write(self.0);
        Ok(true)
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<bool, A::Error> {
        Object(map).copy(self.0)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<bool, A::Error> {
        Array(seq).copy(self.0)
    }
}

/// Checks a value and drops it. Unlike serde's `IgnoredAny`, it reads every value as
/// `serde_json::Value` would (numbers out of range are errors there too).
struct Skip;

impl<'de> de::Deserialize<'de> for Skip {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Skip, D::Error> {
        d.deserialize_any(Skip)
    }
}

impl<'de> Visitor<'de> for Skip {
    type Value = Skip;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Skip, E> {
        Ok(Skip)
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Skip, E> {
        Ok(Skip)
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Skip, E> {
        Ok(Skip)
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Skip, E> {
        Ok(Skip)
    }

    fn visit_str<E: de::Error>(self, _: &str) -> Result<Skip, E> {
        Ok(Skip)
    }

    fn visit_unit<E: de::Error>(self) -> Result<Skip, E> {
        Ok(Skip)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Skip, A::Error> {
        while map.next_entry::<IgnoredKey, Skip>()?.is_some() {}
        Ok(Skip)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Skip, A::Error> {
        while seq.next_element::<Skip>()?.is_some() {}
        Ok(Skip)
    }
}

/// A member name, checked and dropped.
struct IgnoredKey;

impl<'de> de::Deserialize<'de> for IgnoredKey {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<IgnoredKey, D::Error> {
        d.deserialize_str(IgnoredAny).map(|_| IgnoredKey)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::model::{FieldPath, MaskMethod};
    use serde_json::{json, Value};

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

    fn run(body: &Value, plan: &FieldPlan) -> (Value, FieldReport) {
        let (out, report) = filter(body.to_string().as_bytes(), plan, &key()).unwrap();
        (serde_json::from_slice(&out).unwrap(), report)
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
        let (out, report) = run(&body, &p);
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
        let (out, _) = run(&body, &plan(&[masked]));
        assert_eq!(
            out,
            json!({"holder": {"name": "张*", "id_number": "420106********1234"}})
        );
        let (out, _) = run(&body, &plan(&[masked, clear_name]));
        assert_eq!(
            out,
            json!({"holder": {"name": "张三", "id_number": "420106********1234"}})
        );
    }

    #[test]
    fn a_masked_object_is_masked_whole_and_numbers_as_their_text() {
        let body =
            json!({"address": {"city": "武汉", "street": "中山大道1号"}, "phone": 13812341234u64});
        let p = plan(&[(
            &["address", "phone"],
            &[
                ("address", MaskMethod::Redact),
                ("phone", MaskMethod::Phone),
            ],
        )]);
        let (out, report) = run(&body, &p);
        assert_eq!(out, json!({"address": "***", "phone": "138****1234"}));
        assert_eq!(p.names(&report).1, ["address", "phone"]);
    }

    #[test]
    fn nothing_granted_is_an_empty_object() {
        let p = plan(&[(&["a.b"], &[])]);
        for body in [
            json!([1, 2]),
            json!("x"),
            json!({"a": 1}),
            json!({"c": {"b": 1}}),
            json!({"a": []}),
        ] {
            assert_eq!(run(&body, &p).0, json!({}), "{body}");
        }
    }

    #[test]
    fn an_object_key_of_brackets_is_no_array_element() {
        // the tree filter before the plan took a member named `[]` for the elements of `a[]`
        let p = plan(&[(&["a[]"], &[])]);
        assert_eq!(run(&json!({"a": {"[]": 1}}), &p).0, json!({}));
        assert_eq!(run(&json!({"a": [1]}), &p).0, json!({"a": [1]}));
    }

    #[test]
    fn the_upstreams_order_escapes_and_numbers_are_kept() {
        let p = plan(&[(&["z", "a", "k\"ey"], &[])]);
        let body = br#" { "z" : 1.50, "drop": [1, {"x": null}], "a": "\u00e9\n", "k\"ey": -0 } "#;
        let (out, _) = filter(body, &p, &key()).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            r#"{"z":1.5,"a":"é\n","k\"ey":-0.0}"#
        );
    }

    #[test]
    fn what_serde_json_refuses_is_refused_even_where_nothing_is_kept() {
        let p = plan(&[(&["a"], &[])]);
        let deep = |n: usize| format!("{{\"b\":{}1{}}}", "[".repeat(n), "]".repeat(n));
        for bad in [
            "",
            "{",
            r#"{"a":1}x"#,
            r#"{"b":1e400}"#,
            r#"{"b":"\ud800"}"#,
            "{\"b\":\"\u{1}\"}",
            r#"{"b":01}"#,
            r#"{"b":[1,]}"#,
            r#"{"a":1,}"#,
            &deep(127),
        ] {
            assert!(
                serde_json::from_str::<Value>(bad).is_err(),
                "serde_json takes {bad:?}"
            );
            assert!(filter(bad.as_bytes(), &p, &key()).is_err(), "{bad:?}");
        }
        assert!(filter(deep(126).as_bytes(), &p, &key()).is_ok());
        assert!(filter(b"{\"b\":\xff}", &p, &key()).is_err());
    }
}
