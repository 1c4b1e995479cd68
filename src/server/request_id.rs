//! `X-Request-Id`: the caller's when it is a sane token, else a fresh random one.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;

use hyper::Request;
use ring::rand::{SecureRandom, SystemRandom};

/// The header, echoed on every response.
pub const X_REQUEST_ID: &str = "x-request-id";
/// Longest caller-chosen id kept; longer ones are replaced (they end up in logs).
pub const MAX_REQUEST_ID_LEN: usize = 128;

/// The request's id.
pub fn from_request<B>(req: &Request<B>) -> String {
    req.headers()
        .get(X_REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .filter(|v| is_acceptable(v))
        .map_or_else(generate, str::to_owned)
}

fn is_acceptable(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= MAX_REQUEST_ID_LEN
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.:/+=".contains(&b))
}

/// 32 hex digits: 64 random bits drawn once per process, then a 64-bit sequence number (unique
/// within the process and, with overwhelming likelihood, across restarts; no system call per id).
pub fn generate() -> String {
    static PREFIX: OnceLock<[u8; 8]> = OnceLock::new();
    static SEQ: AtomicU64 = AtomicU64::new(0);
    let prefix = PREFIX.get_or_init(|| {
        let mut bytes = [0u8; 8];
        // SystemRandom fails only if the OS has no randomness; the sequence still tells ids apart
        let _ = SystemRandom::new().fill(&mut bytes);
        bytes
    });
    let mut bytes = [0u8; 16];
    bytes[..8].copy_from_slice(prefix);
    bytes[8..].copy_from_slice(&SEQ.fetch_add(1, Ordering::Relaxed).to_be_bytes());
    crate::crypto::hex(&bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caller_ids_are_kept_when_sane() {
        let req = Request::builder()
            .header(X_REQUEST_ID, "abc-123")
            .body(())
            .unwrap();
        assert_eq!(from_request(&req), "abc-123");
        let bad = Request::builder()
            .header(X_REQUEST_ID, "a b\"c")
            .body(())
            .unwrap();
        let id = from_request(&bad);
        assert_eq!(id.len(), 32);
        assert_ne!(generate(), generate());
    }
}
