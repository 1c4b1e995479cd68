//! Compact JWS (RFC 7515) splitting and the protected header of a licence, with size and
//! nesting limits applied before any parsing.

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use serde_json::{Map, Value};

use super::verdict::{Code, Finding};
use crate::crypto::alg::JWS_NAMES;
use crate::crypto::Algorithm;
use crate::trust::chain::MAX_CHAIN_LEN;

/// Largest licence accepted, surrounding whitespace excluded (contract section 2).
pub const MAX_LICENCE_BYTES: usize = 64 * 1024;
/// Deepest JSON nesting accepted in header or payload; licences are shallow, attackers are not.
pub const MAX_JSON_DEPTH: usize = 16;
/// The `typ` every licence carries.
pub const LICENCE_TYP: &str = "elicence+jws";

/// The three parts of a compact JWS, still encoded.
#[derive(Clone, Copy, Debug)]
pub struct Compact<'a> {
    pub header_b64: &'a str,
    pub payload_b64: &'a str,
    /// `header.payload`: the bytes the signature covers.
    pub signing_input: &'a [u8],
    pub signature_b64: &'a str,
}

/// How the header names the signer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SignerRef {
    /// `x5c`: DER certificates, signer first.
    X5c(Vec<Vec<u8>>),
    /// `kid`: 8 bytes of the signer certificate's SHA-256.
    Kid([u8; 8]),
    /// A `kid` that cannot name any certificate, as given.
    BadKid(String),
    /// Neither `x5c` nor `kid`.
    Missing,
}

/// The protected header as far as it could be read.
#[derive(Clone, Debug)]
pub struct Header {
    pub alg: Option<Algorithm>,
    pub signer: SignerRef,
}

/// Splits a licence into its parts, or says what is wrong with its shape.
pub fn split(input: &[u8]) -> Result<Compact<'_>, String> {
    let trimmed = input.trim_ascii();
    if trimmed.len() > MAX_LICENCE_BYTES {
        return Err(format!(
            "licence of {} bytes exceeds the limit of {MAX_LICENCE_BYTES}",
            trimmed.len()
        ));
    }
    if trimmed.is_empty() {
        return Err("empty input".into());
    }
    let text = std::str::from_utf8(trimmed)
        .ok()
        .filter(|t| t.is_ascii())
        .ok_or("a compact JWS is ASCII; the input is not")?;
    let mut parts = text.split('.');
    let (Some(header_b64), Some(payload_b64), Some(signature_b64), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(format!(
            "a compact JWS has 3 dot-separated parts; this has {}",
            text.split('.').count()
        ));
    };
    // An empty signature part is still a compact JWS (an unsecured one, RFC 7515 appendix A.5):
    // its header is read, so that `alg: none` is refused as an algorithm, and with a supported
    // `alg` the empty signature does not verify (`SIGNATURE_INVALID`).
    for (name, part, may_be_empty) in [
        ("header", header_b64, false),
        ("payload", payload_b64, false),
        ("signature", signature_b64, true),
    ] {
        if part.is_empty() && !may_be_empty {
            return Err(format!("the {name} part is empty"));
        }
        if let Some(bad) = part
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || *c == '-' || *c == '_'))
        {
            return Err(format!("the {name} part has `{bad}`, outside base64url"));
        }
    }
    let signing_input = text
        .get(..header_b64.len() + 1 + payload_b64.len())
        .unwrap_or_default()
        .as_bytes();
    Ok(Compact {
        header_b64,
        payload_b64,
        signing_input,
        signature_b64,
    })
}

/// Decodes base64url and parses a JSON object within the nesting limit.
pub fn decode_json_object(part: &str, what: &str) -> Result<Map<String, Value>, String> {
    let bytes = URL_SAFE_NO_PAD
        .decode(part)
        .map_err(|e| format!("the {what} is not valid base64url: {e}"))?;
    if !depth_within(&bytes, MAX_JSON_DEPTH) {
        return Err(format!(
            "the {what} nests JSON deeper than {MAX_JSON_DEPTH} levels"
        ));
    }
    match serde_json::from_slice::<Value>(&bytes) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(format!("the {what} is JSON but not an object")),
        Err(e) => Err(format!("the {what} is not valid JSON: {e}")),
    }
}

/// Reads the protected header, which must carry `typ`. Errors are `MALFORMED` unless they say otherwise; the header is
/// returned whenever it decoded, so that independent checks can still run.
pub fn parse_header(header_b64: &str, typ: &str) -> (Option<Header>, Vec<Finding>) {
    let mut findings = Vec::new();
    let map = match decode_json_object(header_b64, "header") {
        Ok(m) => m,
        Err(e) => return (None, vec![Finding::new(Code::Malformed, e)]),
    };
    let mut malformed = |msg: String| findings.push(Finding::new(Code::Malformed, msg));
    if map.contains_key("crit") {
        malformed("the header has `crit`; no critical extension is understood".into());
    }
    match map.get("typ") {
        Some(Value::String(t)) if t == typ => {}
        Some(Value::String(t)) => malformed(format!("`typ` is `{t}`, not `{typ}`")),
        Some(_) => malformed("`typ` is not a string".into()),
        None => malformed(format!("`typ` is missing (must be `{typ}`)")),
    }
    let alg = match map.get("alg") {
        Some(Value::String(name)) => {
            let alg = Algorithm::from_jws(name);
            if alg.is_none() {
                findings.push(Finding::new(
                    Code::UnsupportedAlgorithm,
                    format!(
                        "`alg` `{}` is not one of {}",
                        truncate(name),
                        JWS_NAMES.join(", ")
                    ),
                ));
            }
            alg
        }
        Some(_) => {
            findings.push(Finding::new(Code::Malformed, "`alg` is not a string"));
            None
        }
        None => {
            findings.push(Finding::new(Code::Malformed, "`alg` is missing"));
            None
        }
    };
    let signer = match (map.get("x5c"), map.get("kid")) {
        (Some(x5c), _) => match decode_x5c(x5c) {
            Ok(certs) => SignerRef::X5c(certs),
            Err(finding) => {
                findings.push(finding);
                SignerRef::Missing
            }
        },
        (None, Some(Value::String(kid))) => match URL_SAFE_NO_PAD.decode(kid) {
            Ok(bytes) => match <[u8; 8]>::try_from(bytes.as_slice()) {
                Ok(kid) => SignerRef::Kid(kid),
                Err(_) => SignerRef::BadKid(truncate(kid)),
            },
            Err(_) => SignerRef::BadKid(truncate(kid)),
        },
        (None, Some(_)) => {
            findings.push(Finding::new(Code::Malformed, "`kid` is not a string"));
            SignerRef::Missing
        }
        (None, None) => SignerRef::Missing,
    };
    (Some(Header { alg, signer }), findings)
}

fn decode_x5c(x5c: &Value) -> Result<Vec<Vec<u8>>, Finding> {
    let Value::Array(items) = x5c else {
        return Err(Finding::new(Code::Malformed, "`x5c` is not an array"));
    };
    if items.is_empty() {
        return Err(Finding::new(Code::Malformed, "`x5c` is empty"));
    }
    // one more than a chain may hold: an anchor repeated at the end is allowed
    if items.len() > MAX_CHAIN_LEN + 1 {
        return Err(Finding::new(
            Code::ChainUntrusted,
            format!(
                "`x5c` holds {} certificates; a chain holds at most {MAX_CHAIN_LEN}",
                items.len()
            ),
        ));
    }
    items
        .iter()
        .enumerate()
        .map(|(i, item)| {
            let Value::String(b64) = item else {
                return Err(Finding::new(
                    Code::Malformed,
                    format!("`x5c[{i}]` is not a string"),
                ));
            };
            STANDARD.decode(b64).map_err(|e| {
                Finding::new(
                    Code::Malformed,
                    format!("`x5c[{i}]` is not standard base64: {e}"),
                )
            })
        })
        .collect()
}

/// Whether JSON text nests arrays and objects at most `max` deep (strings are skipped).
fn depth_within(json: &[u8], max: usize) -> bool {
    let (mut depth, mut in_string, mut escaped) = (0usize, false, false);
    for &b in json {
        if in_string {
            match (escaped, b) {
                (true, _) => escaped = false,
                (false, b'\\') => escaped = true,
                (false, b'"') => in_string = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                if depth > max {
                    return false;
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    true
}

/// User input quoted in messages is cut to a readable length.
pub fn truncate(s: &str) -> String {
    const MAX: usize = 64;
    match s.char_indices().nth(MAX) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_limits_and_shape() {
        assert!(split(b"a.b.c").is_ok());
        assert!(split(b"  a.b.c\n").is_ok());
        assert!(split(b"a.b").unwrap_err().contains("3 dot-separated parts"));
        assert!(split(b"a.b.c.d").is_err());
        assert!(split(b"a..c")
            .unwrap_err()
            .contains("payload part is empty"));
        assert!(split(b".b.c").unwrap_err().contains("header part is empty"));
        assert_eq!(split(b"a.b.").unwrap().signature_b64, "");
        assert!(split(b"a.b=.c").unwrap_err().contains("outside base64url"));
        assert!(split("a.b.\u{4e2d}".as_bytes())
            .unwrap_err()
            .contains("ASCII"));
        let big = vec![b'a'; MAX_LICENCE_BYTES + 1];
        assert!(split(&big).unwrap_err().contains("exceeds"));
    }

    #[test]
    fn depth_limit() {
        assert!(depth_within(b"{\"a\":[1,{\"b\":2}]}", 3));
        assert!(!depth_within(b"[[[[1]]]]", 3));
        assert!(depth_within(b"{\"a\":\"[[[[[[\"}", 1));
        assert!(depth_within(b"{\"a\":\"\\\"[[[[\"}", 1));
    }

    #[test]
    fn truncate_is_char_safe() {
        let long = "通".repeat(100);
        assert_eq!(truncate(&long).chars().count(), 65);
        assert_eq!(truncate("ab"), "ab");
    }
}
