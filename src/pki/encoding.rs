//! PEM/DER helpers and the committed RSA test keys.

use rcgen::{
    PublicKeyData, SignatureAlgorithm, PKCS_ECDSA_P256_SHA256, PKCS_ECDSA_P384_SHA384,
    PKCS_ED25519, PKCS_RSA_SHA256,
};

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

/// A public key known only from its SubjectPublicKeyInfo.
pub(super) struct ForeignPublicKey {
    alg: &'static SignatureAlgorithm,
    raw: Vec<u8>,
}

impl PublicKeyData for ForeignPublicKey {
    fn der_bytes(&self) -> &[u8] {
        &self.raw
    }
    fn algorithm(&self) -> &'static SignatureAlgorithm {
        self.alg
    }
}

impl ForeignPublicKey {
    /// Accepts RSA, EC P-256/P-384 and Ed25519 SPKIs that rcgen re-encodes byte for byte.
    pub(super) fn from_spki_der(spki_der: &[u8]) -> Result<Self, PkiError> {
        use x509_parser::prelude::FromDer;
        let (rest, spki) = x509_parser::x509::SubjectPublicKeyInfo::from_der(spki_der)
            .map_err(|e| PkiError::Spki(e.to_string()))?;
        if !rest.is_empty() {
            return Err(PkiError::Spki("trailing bytes".into()));
        }
        let raw = spki.subject_public_key.as_ref().to_vec();
        for alg in [
            &PKCS_RSA_SHA256,
            &PKCS_ECDSA_P256_SHA256,
            &PKCS_ECDSA_P384_SHA384,
            &PKCS_ED25519,
        ] {
            let candidate = ForeignPublicKey {
                alg,
                raw: raw.clone(),
            };
            if candidate.subject_public_key_info() == spki_der {
                return Ok(candidate);
            }
        }
        Err(PkiError::Spki(format!(
            "algorithm {} not supported",
            spki.algorithm.algorithm.to_id_string()
        )))
    }
}
