//! The mask methods of contract section 4: each replaces hidden characters with `*`, or with a
//! keyed hash.

use ring::hmac;
use serde_json::Value;

use super::model::MaskMethod;
use crate::crypto::hex;

/// The per-deployment key of the `hash` mask (HMAC-SHA256); never printed.
pub struct MaskKey(hmac::Key);

impl MaskKey {
    pub fn new(secret: &[u8]) -> Self {
        Self(hmac::Key::new(hmac::HMAC_SHA256, secret))
    }

    /// A value equal for equal keys that tells nothing of the key (the cluster compares nodes').
    pub fn check_value(&self) -> String {
        crate::crypto::digest::key_check_value(&self.0)
    }
}

impl std::fmt::Debug for MaskKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MaskKey(…)")
    }
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
}
