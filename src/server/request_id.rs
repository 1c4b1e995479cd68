//! `X-Request-Id`: the caller's when it is a sane token, else a fresh random one.

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

/// 128 random bits in hex.
pub fn generate() -> String {
    let mut bytes = [0u8; 16];
    // SystemRandom fails only if the OS has no randomness; an all-zero id is still an id
    let _ = SystemRandom::new().fill(&mut bytes);
    crate::trust::cert::hex(&bytes)
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
