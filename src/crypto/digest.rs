//! SHA-256 and HMAC check values (ring).

use ring::digest::{Context, SHA256};
use ring::hmac;

/// SHA-256 digest as an array.
pub fn sha256(data: &[u8]) -> [u8; 32] {
    sha256_of([data])
}

/// SHA-256 of the concatenation of `parts` (callers delimit them when that matters).
pub fn sha256_of<'a>(parts: impl IntoIterator<Item = &'a [u8]>) -> [u8; 32] {
    let mut ctx = Context::new(&SHA256);
    for part in parts {
        ctx.update(part);
    }
    let mut out = [0; 32];
    out.copy_from_slice(ctx.finish().as_ref());
    out
}

/// A check value of an HMAC key: the first 16 bytes of its HMAC-SHA256 of a fixed text, as hex.
/// Two equal values mean the same key; the value tells nothing of the key.
pub fn key_check_value(key: &hmac::Key) -> String {
    let tag = hmac::sign(key, b"tongban key check value");
    super::hex::hex(tag.as_ref().get(..16).unwrap_or_default())
}
