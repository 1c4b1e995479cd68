//! SHA-256 (ring).

use ring::digest::{Context, SHA256};

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
