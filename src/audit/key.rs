//! The per-deployment audit key and the keyed hash of personal identifiers.

use std::fmt;
use std::path::{Path, PathBuf};

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use ring::hmac;

use super::record::PersonalId;
use crate::crypto::decode_hex;

/// Shortest accepted key: 256 bits, the HMAC-SHA256 block strength.
pub const AUDIT_KEY_MIN_BYTES: usize = 32;

/// Longest accepted key file: a key is a few dozen characters of text.
const KEY_FILE_MAX_BYTES: u64 = 4096;

/// The deployment's secret for [`AuditKey::personal_id`]. Its `Debug` never shows the key, and it
/// has no `Display`.
pub struct AuditKey(hmac::Key);

/// Why a key cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("{len} bytes, at least {AUDIT_KEY_MIN_BYTES} required")]
    TooShort { len: usize },
    #[error("neither hex nor base64")]
    Encoding,
    #[error("larger than {KEY_FILE_MAX_BYTES} bytes")]
    FileTooLarge,
    #[error("{0}")]
    Io(#[source] std::io::Error),
}

/// A secret file that cannot be used, named with what it is for (`mask key`, `audit key`).
#[derive(Debug, thiserror::Error)]
#[error("{what} `{}`: {source}", .path.display())]
pub struct SecretFileError {
    pub what: &'static str,
    pub path: PathBuf,
    #[source]
    pub source: KeyError,
}

/// The bytes of a secret written as hex (tried first) or standard base64, at least
/// [`AUDIT_KEY_MIN_BYTES`] long; surrounding whitespace is ignored.
pub fn parse_secret(text: &str) -> Result<Vec<u8>, KeyError> {
    let text = text.trim();
    let bytes = if text.len().is_multiple_of(2) && text.bytes().all(|b| b.is_ascii_hexdigit()) {
        decode_hex(text).ok_or(KeyError::Encoding)?
    } else {
        STANDARD.decode(text).map_err(|_| KeyError::Encoding)?
    };
    if bytes.len() < AUDIT_KEY_MIN_BYTES {
        return Err(KeyError::TooShort { len: bytes.len() });
    }
    Ok(bytes)
}

/// A secret read from a (small) file, `what` naming its use in errors; see [`parse_secret`].
pub fn read_secret(path: &Path, what: &'static str) -> Result<Vec<u8>, SecretFileError> {
    let read = || {
        let len = std::fs::metadata(path).map_err(KeyError::Io)?.len();
        if len > KEY_FILE_MAX_BYTES {
            return Err(KeyError::FileTooLarge);
        }
        parse_secret(&std::fs::read_to_string(path).map_err(KeyError::Io)?)
    };
    read().map_err(|source| SecretFileError {
        what,
        path: path.to_owned(),
        source,
    })
}

impl AuditKey {
    /// A key from raw bytes (at least [`AUDIT_KEY_MIN_BYTES`]).
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, KeyError> {
        if bytes.len() < AUDIT_KEY_MIN_BYTES {
            return Err(KeyError::TooShort { len: bytes.len() });
        }
        Ok(AuditKey(hmac::Key::new(hmac::HMAC_SHA256, bytes)))
    }

    /// A key from its text: hex (tried first: an even number of hex digits) or standard base64;
    /// surrounding whitespace is ignored.
    pub fn from_secret(text: &str) -> Result<Self, KeyError> {
        Self::from_bytes(&parse_secret(text)?)
    }

    /// A key from a file holding its text (see [`AuditKey::from_secret`]).
    pub fn from_file(path: &Path) -> Result<Self, SecretFileError> {
        let bytes = read_secret(path, "audit key")?;
        Self::from_bytes(&bytes).map_err(|source| SecretFileError {
            what: "audit key",
            path: path.to_owned(),
            source,
        })
    }

    /// The keyed hash of a personal identifier (resident id, subject id): HMAC-SHA256 over the
    /// identifier trimmed and ASCII-upper-cased (so `…123x` and `…123X` are one person), as 64
    /// lower-case hex characters. Whoever holds the key can hash an id to find its records; nobody
    /// can go back from the hash to the id.
    pub fn personal_id(&self, id: &str) -> PersonalId {
        let normal = id.trim().to_ascii_uppercase();
        PersonalId::from_digest(hmac::sign(&self.0, normal.as_bytes()).as_ref())
    }

    /// A value equal for equal keys that tells nothing of the key (the cluster compares nodes').
    pub fn check_value(&self) -> String {
        crate::crypto::digest::key_check_value(&self.0)
    }
}

impl fmt::Debug for AuditKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AuditKey(<redacted>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEX_KEY: &str = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";

    #[test]
    fn hex_and_base64_give_the_same_key() {
        let bytes: Vec<u8> = (0u8..32).collect();
        let a = AuditKey::from_secret(HEX_KEY).unwrap();
        let b = AuditKey::from_secret(&format!("  {}\n", STANDARD.encode(&bytes))).unwrap();
        let c = AuditKey::from_bytes(&bytes).unwrap();
        let id = "42010619900101123X";
        assert_eq!(a.personal_id(id), b.personal_id(id));
        assert_eq!(a.personal_id(id), c.personal_id(id));
    }

    #[test]
    fn hash_is_hmac_sha256_of_the_normalised_id() {
        let key = AuditKey::from_secret(HEX_KEY).unwrap();
        let raw_key = decode_hex(HEX_KEY).unwrap();
        let expected = hmac::sign(
            &hmac::Key::new(hmac::HMAC_SHA256, &raw_key),
            b"42010619900101123X",
        );
        let hashed = key.personal_id(" 42010619900101123x ");
        assert_eq!(hashed.as_str(), crate::crypto::hex(expected.as_ref()));
        assert_eq!(hashed.as_str().len(), 64);
        assert_ne!(hashed, key.personal_id("420106199001011234"));
    }

    #[test]
    fn short_or_garbled_keys_are_refused() {
        assert!(matches!(
            AuditKey::from_bytes(&[1; 16]),
            Err(KeyError::TooShort { len: 16 })
        ));
        assert!(matches!(
            AuditKey::from_secret("not a key!"),
            Err(KeyError::Encoding)
        ));
    }

    #[test]
    fn debug_never_shows_the_key() {
        let key = AuditKey::from_secret(HEX_KEY).unwrap();
        let shown = format!("{key:?}");
        assert_eq!(shown, "AuditKey(<redacted>)");
        assert!(!shown.contains("0001"));
    }

    #[test]
    fn key_from_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.key");
        std::fs::write(&path, format!("{HEX_KEY}\n")).unwrap();
        assert!(AuditKey::from_file(&path).is_ok());
        let missing = AuditKey::from_file(&dir.path().join("none")).unwrap_err();
        assert!(matches!(missing.source, KeyError::Io(_)));
        assert!(missing.to_string().starts_with("audit key `"), "{missing}");
    }
}
