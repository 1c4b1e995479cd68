//! PEM/DER helpers and the committed RSA test keys.

use super::PkiError;

pub(super) const RSA2048_A_PEM: &str = include_str!("keys/rsa2048-a.pk8.pem");
pub(super) const RSA2048_B_PEM: &str = include_str!("keys/rsa2048-b.pk8.pem");
pub(super) const RSA1024_SPKI_PEM: &str = include_str!("keys/rsa1024.spki.pem");

/// PEM-encode `der` under `label` (64-column base64, `\n` line ends).
pub fn pem_encode(label: &str, der: &[u8]) -> String {
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for chunk in b64.as_bytes().chunks(64) {
        out.push_str(&String::from_utf8_lossy(chunk));
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

pub(super) fn pem_decode(pem: &str) -> Result<Vec<u8>, PkiError> {
    let (_, parsed) = x509_parser::pem::parse_x509_pem(pem.as_bytes())
        .map_err(|e| PkiError::Pem(e.to_string()))?;
    Ok(parsed.contents)
}

/// DER SubjectPublicKeyInfo of the committed, too-weak RSA 1024 key.
pub fn rsa1024_spki_der() -> Vec<u8> {
    // the file is committed and checked by a test, so this cannot fail in practice
    pem_decode(RSA1024_SPKI_PEM).unwrap_or_default()
}
