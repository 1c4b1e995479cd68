//! The licence payload (contract section 2), read claim by claim so that one bad claim does not
//! hide the others.

use serde_json::{Map, Value};

use super::jws::truncate;
use super::verdict::{Code, Finding};

/// How the holder is identified.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IdType {
    /// Unified social credit code (GB 32100).
    Uscc,
    /// Resident identity number (GB 11643).
    IdNumber,
    Other,
}

impl IdType {
    fn parse(s: &str) -> Option<Self> {
        match s {
            "USCC" => Some(Self::Uscc),
            "ID_NUMBER" => Some(Self::IdNumber),
            "OTHER" => Some(Self::Other),
            _ => None,
        }
    }
}

/// The holder claim; members that could not be read are `None`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Holder {
    pub name: Option<String>,
    pub id: Option<String>,
    pub id_type: Option<String>,
}

/// The claims that could be read; each missing or mistyped claim gave a `MALFORMED` finding.
#[derive(Clone, Debug, Default)]
pub struct Claims {
    pub lid: Option<String>,
    pub ltype: Option<String>,
    pub iss: Option<String>,
    pub holder: Option<Holder>,
    pub iat: Option<i64>,
    /// `nbf` as given; the verifier defaults it to `iat`.
    pub nbf: Option<i64>,
    pub exp: Option<i64>,
    pub fields: Option<Map<String, Value>>,
}

impl Claims {
    /// Reads the claims from the payload object.
    pub fn read(payload: &Map<String, Value>) -> (Self, Vec<Finding>) {
        let mut findings = Vec::new();
        let mut bad = |msg: String| findings.push(Finding::new(Code::Malformed, msg));
        let claims = Claims {
            lid: string(payload, "lid", true, &mut bad),
            ltype: string(payload, "ltype", true, &mut bad),
            iss: string(payload, "iss", true, &mut bad),
            holder: holder(payload, &mut bad),
            iat: time(payload, "iat", true, &mut bad),
            nbf: time(payload, "nbf", false, &mut bad),
            exp: time(payload, "exp", false, &mut bad),
            fields: match payload.get("fields") {
                Some(Value::Object(f)) => Some(f.clone()),
                Some(_) => {
                    bad("claim `fields` is not an object".into());
                    None
                }
                None => {
                    bad("claim `fields` is missing".into());
                    None
                }
            },
        };
        (claims, findings)
    }

    /// The holder's id type, when the holder claim is complete and well-formed.
    pub fn id_type(&self) -> Option<IdType> {
        self.holder
            .as_ref()?
            .id_type
            .as_deref()
            .and_then(IdType::parse)
    }
}

fn string(
    map: &Map<String, Value>,
    name: &str,
    required: bool,
    bad: &mut impl FnMut(String),
) -> Option<String> {
    match map.get(name) {
        Some(Value::String(s)) => Some(s.clone()),
        Some(_) => {
            bad(format!("claim `{name}` is not a string"));
            None
        }
        None if required => {
            bad(format!("claim `{name}` is missing"));
            None
        }
        None => None,
    }
}

/// NumericDate claims are whole seconds; fractions and out-of-range numbers are refused.
fn time(
    map: &Map<String, Value>,
    name: &str,
    required: bool,
    bad: &mut impl FnMut(String),
) -> Option<i64> {
    match map.get(name) {
        Some(Value::Number(n)) => {
            let secs = n.as_i64();
            if secs.is_none() {
                bad(format!(
                    "claim `{name}` is not a whole number of seconds: `{n}`"
                ));
            }
            secs
        }
        Some(_) => {
            bad(format!("claim `{name}` is not a number"));
            None
        }
        None if required => {
            bad(format!("claim `{name}` is missing"));
            None
        }
        None => None,
    }
}

fn holder(map: &Map<String, Value>, bad: &mut impl FnMut(String)) -> Option<Holder> {
    let obj = match map.get("holder") {
        Some(Value::Object(o)) => o,
        Some(_) => {
            bad("claim `holder` is not an object".into());
            return None;
        }
        None => {
            bad("claim `holder` is missing".into());
            return None;
        }
    };
    let mut member = |key: &str| {
        string(obj, key, true, &mut |m: String| {
            bad(m.replace("claim `", "claim `holder."))
        })
    };
    let holder = Holder {
        name: member("name"),
        id: member("id"),
        id_type: member("id_type"),
    };
    if let Some(t) = holder
        .id_type
        .as_deref()
        .filter(|t| IdType::parse(t).is_none())
    {
        bad(format!(
            "claim `holder.id_type` is `{}`, not one of USCC, ID_NUMBER, OTHER",
            truncate(t)
        ));
    }
    Some(holder)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn read(v: Value) -> (Claims, Vec<String>) {
        let (c, f) = Claims::read(v.as_object().unwrap());
        (c, f.into_iter().map(|f| f.message).collect())
    }

    #[test]
    fn every_missing_claim_is_named() {
        let (_, msgs) = read(json!({}));
        for claim in ["lid", "ltype", "iss", "holder", "iat", "fields"] {
            assert!(
                msgs.iter()
                    .any(|m| m.contains(&format!("`{claim}` is missing"))),
                "{claim}: {msgs:?}"
            );
        }
        assert_eq!(msgs.len(), 6);
    }

    #[test]
    fn wrong_types_are_named() {
        let (c, msgs) = read(json!({
            "lid": 1, "ltype": "ID_CARD", "iss": "x", "iat": 1.5, "nbf": "soon",
            "holder": {"name": "张三", "id": 7, "id_type": "PASSPORT"}, "fields": []
        }));
        assert_eq!(c.ltype.as_deref(), Some("ID_CARD"));
        assert!(msgs.iter().any(|m| m.contains("`lid` is not a string")));
        assert!(msgs
            .iter()
            .any(|m| m.contains("`iat` is not a whole number")));
        assert!(msgs.iter().any(|m| m.contains("`nbf` is not a number")));
        assert!(msgs
            .iter()
            .any(|m| m.contains("`holder.id` is not a string")));
        assert!(msgs
            .iter()
            .any(|m| m.contains("`holder.id_type` is `PASSPORT`")));
        assert!(msgs.iter().any(|m| m.contains("`fields` is not an object")));
    }
}
