//! The audit record: the facts of one decision, and the line that carries them.
//!
//! A line is `{"seq":…,"ts":…,"prev":…,` followed by the [`Record`]'s fields in declaration order,
//! every key always present (`null` when it does not apply), so the same facts always give the
//! same bytes. No field values are ever logged, only field names. A record of a cluster's chain
//! (contract section 9) carries its gateway's `"node":…` after `prev`; a file's records do not.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::crypto::hex;

/// What kind of decision a record is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// An `/v1/exchange/{item}/…` request under the data-sharing policies.
    Exchange,
    /// A licence verification (`/v1/licences/verify`, one record per licence of a batch).
    LicenceVerification,
}

impl Kind {
    pub const ALL: [Kind; 2] = [Kind::Exchange, Kind::LicenceVerification];

    /// The name in a line (`exchange`, `licence_verification`).
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Exchange => "exchange",
            Kind::LicenceVerification => "licence_verification",
        }
    }

    /// The kind named `name` in a line.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == name)
    }
}

/// A record's `decision`: `permit`/`deny`/`error` for exchanges, `valid`/`invalid` for licences.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Permit,
    Deny,
    Error,
    Valid,
    Invalid,
}

impl Outcome {
    pub const ALL: [Outcome; 5] = [
        Outcome::Permit,
        Outcome::Deny,
        Outcome::Error,
        Outcome::Valid,
        Outcome::Invalid,
    ];

    /// The outcome named `name` in a record.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|d| d.as_str() == name)
    }

    /// The name in the record, also the `decision` label of the exchange metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Permit => "permit",
            Self::Deny => "deny",
            Self::Error => "error",
            Self::Valid => "valid",
            Self::Invalid => "invalid",
        }
    }
}

/// The calling organisation as recorded, from its client certificate (contract section 1).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CallerId {
    /// The city's 6-digit division code (certificate `L`).
    pub city: String,
    /// The department kind code (certificate `OU`).
    pub department: String,
    /// The organizationIdentifier, else the hex SHA-256 of the client certificate.
    pub org: String,
}

impl CallerId {
    pub fn new(
        city: impl Into<String>,
        department: impl Into<String>,
        org: impl Into<String>,
    ) -> Self {
        CallerId {
            city: city.into(),
            department: department.into(),
            org: org.into(),
        }
    }
}

/// A keyed hash (HMAC-SHA256, 64 lower-case hex characters) of a personal identifier, made by
/// [`AuditKey::personal_id`](super::AuditKey::personal_id). The identifier itself never reaches
/// the log.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct PersonalId(String);

impl PersonalId {
    /// Wraps 32 hash bytes.
    pub(super) fn from_digest(bytes: &[u8]) -> Self {
        PersonalId(hex(bytes))
    }

    /// The 64 hex characters.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for PersonalId {
    type Error = String;

    fn try_from(text: String) -> Result<Self, String> {
        if is_hash_hex(&text) {
            Ok(PersonalId(text))
        } else {
            Err("a personal id hash is 64 lower-case hex characters".into())
        }
    }
}

impl From<PersonalId> for String {
    fn from(id: PersonalId) -> String {
        id.0
    }
}

impl fmt::Display for PersonalId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The facts of one decision. Build one with [`Record::exchange`] or
/// [`Record::licence_verification`] and the chained setters; the writer adds `seq`, `ts`, `prev`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Record {
    pub kind: Kind,
    /// `X-Request-Id` (the caller's or the generated one).
    pub request_id: String,
    pub caller: CallerId,
    /// The item id (exchange).
    pub item: Option<String>,
    /// The licence type code (licence verification).
    pub ltype: Option<String>,
    /// The licence identifier (licence verification).
    pub lid: Option<String>,
    /// `X-Purpose` (exchange).
    pub purpose: Option<String>,
    pub decision: Outcome,
    /// The problem or verdict code when the decision is not a plain permit/valid.
    pub error_code: Option<String>,
    /// Ids of the rules that determined the decision.
    pub rules: Vec<String>,
    /// Names (dot paths) of the fields sent back to the caller.
    pub fields_returned: Vec<String>,
    /// Names of the returned fields that were masked.
    pub fields_masked: Vec<String>,
    /// The HTTP status answered.
    pub status: u16,
    pub latency_ms: u64,
    /// The data subject (licence holder, queried person), keyed-hashed.
    pub subject: Option<PersonalId>,
}

/// Every key of a line, in order: the chain envelope, then the [`Record`]'s fields.
pub const LINE_KEYS: [&str; 18] = [
    "seq",
    "ts",
    "prev",
    "kind",
    "request_id",
    "caller",
    "item",
    "ltype",
    "lid",
    "purpose",
    "decision",
    "error_code",
    "rules",
    "fields_returned",
    "fields_masked",
    "status",
    "latency_ms",
    "subject",
];

impl Record {
    /// An exchange decision on `item` for `purpose`; status 200, no rules or fields yet.
    pub fn exchange(
        request_id: impl Into<String>,
        caller: CallerId,
        item: impl Into<String>,
        purpose: impl Into<String>,
        decision: Outcome,
    ) -> Self {
        Record {
            item: Some(item.into()),
            purpose: Some(purpose.into()),
            ..Record::bare(Kind::Exchange, request_id.into(), caller, decision)
        }
    }

    /// A licence verification of licence `lid` of type `ltype`; status 200.
    pub fn licence_verification(
        request_id: impl Into<String>,
        caller: CallerId,
        ltype: Option<String>,
        lid: Option<String>,
        decision: Outcome,
    ) -> Self {
        Record {
            ltype,
            lid,
            ..Record::bare(
                Kind::LicenceVerification,
                request_id.into(),
                caller,
                decision,
            )
        }
    }

    fn bare(kind: Kind, request_id: String, caller: CallerId, decision: Outcome) -> Self {
        Record {
            kind,
            request_id,
            caller,
            item: None,
            ltype: None,
            lid: None,
            purpose: None,
            decision,
            error_code: None,
            rules: Vec::new(),
            fields_returned: Vec::new(),
            fields_masked: Vec::new(),
            status: 200,
            latency_ms: 0,
            subject: None,
        }
    }

    pub fn error_code(mut self, code: impl Into<String>) -> Self {
        self.error_code = Some(code.into());
        self
    }

    pub fn rules<S: Into<String>>(mut self, ids: impl IntoIterator<Item = S>) -> Self {
        self.rules = ids.into_iter().map(Into::into).collect();
        self
    }

    pub fn fields<R, M>(
        mut self,
        returned: impl IntoIterator<Item = R>,
        masked: impl IntoIterator<Item = M>,
    ) -> Self
    where
        R: Into<String>,
        M: Into<String>,
    {
        self.fields_returned = returned.into_iter().map(Into::into).collect();
        self.fields_masked = masked.into_iter().map(Into::into).collect();
        self
    }

    pub fn status(mut self, status: u16) -> Self {
        self.status = status;
        self
    }

    pub fn latency_ms(mut self, ms: u64) -> Self {
        self.latency_ms = ms;
        self
    }

    pub fn subject(mut self, subject: PersonalId) -> Self {
        self.subject = Some(subject);
        self
    }
}

/// The key of a cluster record's gateway, after `prev` (contract section 9); never in a file's.
pub const NODE_KEY: &str = "node";

/// A record's fields as the end of its line: `,"kind":…}` (the record serialized as a struct,
/// its `{` turned into a `,`). Made before the chain is taken: appenders wait for each other
/// only while the envelope is written.
pub fn line_fields(record: &Record) -> Result<Vec<u8>, serde_json::Error> {
    let mut fields = serde_json::to_vec(record)?;
    if let Some(brace) = fields.first_mut() {
        *brace = b',';
    }
    Ok(fields)
}

/// The line's bytes, newline included: `{"seq":…,"ts":…,"prev":…` then `fields` (from
/// [`line_fields`]); `ts` (RFC 3339) and `prev` (hex) need no escaping. serde_json escapes every control character, so the only newline is the
/// last byte whatever the strings hold.
pub(super) fn format_line(seq: u64, ts: &str, prev: &str, fields: &[u8]) -> Vec<u8> {
    format_node_line(seq, ts, prev, None, fields)
}

/// As [`format_line`], in the chain of the cluster gateway `node` when given (a node name,
/// [`is_node_name`], needs no escaping either).
pub fn format_node_line(
    seq: u64,
    ts: &str,
    prev: &str,
    node: Option<&str>,
    fields: &[u8],
) -> Vec<u8> {
    let mut line = Vec::with_capacity(fields.len() + ts.len() + prev.len() + 64);
    line.extend_from_slice(b"{\"seq\":");
    line.extend_from_slice(seq.to_string().as_bytes());
    line.extend_from_slice(b",\"ts\":\"");
    line.extend_from_slice(ts.as_bytes());
    line.extend_from_slice(b"\",\"prev\":\"");
    line.extend_from_slice(prev.as_bytes());
    line.push(b'"');
    if let Some(node) = node {
        line.extend_from_slice(b",\"node\":\"");
        line.extend_from_slice(node.as_bytes());
        line.push(b'"');
    }
    line.extend_from_slice(fields);
    line.push(b'\n');
    line
}

/// A gateway's name in a cluster (`[cluster] node`): 1 to 64 of `A-Z a-z 0-9 . _ -`.
pub fn is_node_name(text: &str) -> bool {
    (1..=64).contains(&text.len())
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

/// 64 lower-case hex characters (a SHA-256 or HMAC-SHA256 output).
pub(super) fn is_hash_hex(text: &str) -> bool {
    text.len() == 64 && text.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Record {
        Record::exchange(
            "req-1",
            CallerId::new("420100", "HOUSING_FUND", "91420100MA4K0000X1"),
            "HPF-DEPOSIT-QUERY",
            "HPF_WITHDRAWAL",
            Outcome::Permit,
        )
        .rules(["hpf-withdrawal-any-city"])
        .fields(["account.status", "holder.id_number"], ["holder.id_number"])
        .latency_ms(12)
    }

    fn line(seq: u64, ts: &str, prev: &str, record: &Record) -> Vec<u8> {
        format_line(seq, ts, prev, &line_fields(record).unwrap())
    }

    #[test]
    fn a_node_follows_prev_and_names_match_serde() {
        let fields = line_fields(&sample()).unwrap();
        let line = format_node_line(2, "t", "p", Some("gw-1"), &fields);
        let text = String::from_utf8(line).unwrap();
        assert!(
            text.starts_with("{\"seq\":2,\"ts\":\"t\",\"prev\":\"p\",\"node\":\"gw-1\",\"kind\"")
        );
        let value: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(value[NODE_KEY], "gw-1");
        for kind in Kind::ALL {
            assert_eq!(serde_json::to_value(kind).unwrap(), kind.as_str());
            assert_eq!(Kind::from_name(kind.as_str()), Some(kind));
        }
        for outcome in Outcome::ALL {
            assert_eq!(serde_json::to_value(outcome).unwrap(), outcome.as_str());
            assert_eq!(Outcome::from_name(outcome.as_str()), Some(outcome));
        }
        assert_eq!(Outcome::from_name("maybe"), None);
    }

    #[test]
    fn line_has_every_key_in_order() {
        let line = line(7, "2025-06-15T00:00:00Z", &"0".repeat(64), &sample());
        assert_eq!(line.last(), Some(&b'\n'));
        let text = std::str::from_utf8(&line).unwrap();
        let mut at = 0;
        for key in LINE_KEYS {
            let found = text[at..].find(&format!("\"{key}\":")).unwrap_or_else(|| {
                panic!("`{key}` missing or out of order in {text}");
            });
            at += found;
        }
        assert!(text.contains("\"ltype\":null"));
        assert!(text.starts_with("{\"seq\":7,\"ts\":\"2025-06-15T00:00:00Z\",\"prev\":\"000"));
    }

    #[test]
    fn same_facts_same_bytes_and_round_trip() {
        let a = line(1, "t", "p", &sample());
        let b = line(1, "t", "p", &sample());
        assert_eq!(a, b);
        let mut value: serde_json::Map<String, serde_json::Value> =
            serde_json::from_slice(&a).unwrap();
        for k in ["seq", "ts", "prev"] {
            value.remove(k);
        }
        let back: Record = serde_json::from_value(value.into()).unwrap();
        assert_eq!(back, sample());
    }

    #[test]
    fn control_characters_cannot_split_a_line() {
        let record = Record {
            request_id: "a\nb\r\u{2028}c".into(),
            ..sample()
        };
        let line = line(1, "t", "p", &record);
        assert_eq!(line.iter().filter(|&&b| b == b'\n').count(), 1);
    }

    #[test]
    fn personal_id_only_from_hash_hex() {
        assert!(PersonalId::try_from("ab".repeat(32)).is_ok());
        assert!(PersonalId::try_from("AB".repeat(32)).is_err());
        assert!(PersonalId::try_from("420106199001011234".to_string()).is_err());
    }
}
