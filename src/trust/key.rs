//! Public keys from SubjectPublicKeyInfo and certificate/CRL signature checks (ring only).

use ring::signature::{self as rs, UnparsedPublicKey, VerificationAlgorithm};
use x509_parser::oid_registry::{
    Oid, OID_EC_P256, OID_KEY_TYPE_EC_PUBLIC_KEY, OID_NIST_EC_P384, OID_PKCS1_RSAENCRYPTION,
    OID_PKCS1_SHA256WITHRSA, OID_PKCS1_SHA384WITHRSA, OID_PKCS1_SHA512WITHRSA,
    OID_SIG_ECDSA_WITH_SHA256, OID_SIG_ECDSA_WITH_SHA384, OID_SIG_ED25519,
};
use x509_parser::prelude::{FromDer, SubjectPublicKeyInfo};
use x509_parser::public_key::PublicKey as ParsedKey;

/// Smallest RSA modulus accepted anywhere (contract sections 1 and 2).
pub const MIN_RSA_BITS: usize = 2048;

/// A public key of one of the families the contract accepts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PublicKey {
    /// Uncompressed SEC1 point on P-256.
    P256(Vec<u8>),
    /// Uncompressed SEC1 point on P-384.
    P384(Vec<u8>),
    /// Raw 32-byte Ed25519 key.
    Ed25519(Vec<u8>),
    /// PKCS#1 RSAPublicKey DER and the modulus size in bits.
    Rsa { pkcs1: Vec<u8>, bits: usize },
    /// Any other key (DSA, other curves, …): never verifies anything.
    Unsupported(String),
}

/// A signature algorithm of a certificate or CRL.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CertSigAlg {
    EcdsaSha256,
    EcdsaSha384,
    Ed25519,
    RsaPkcs1Sha256,
    RsaPkcs1Sha384,
    RsaPkcs1Sha512,
    Unsupported,
}

/// Why a certificate or CRL signature was not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CertSigError {
    #[error("signature algorithm not accepted by the certificate profile")]
    UnsupportedAlgorithm,
    #[error("issuer key of type {0} cannot make a signature of this algorithm")]
    KeyMismatch(&'static str),
    #[error("issuer RSA key has {0} bits, under {MIN_RSA_BITS}")]
    KeyTooWeak(usize),
    #[error("signature does not verify with the issuer's key")]
    Invalid,
}

impl PublicKey {
    /// Decodes a DER SubjectPublicKeyInfo.
    pub fn from_spki_der(der: &[u8]) -> Result<Self, String> {
        let (_, spki) = SubjectPublicKeyInfo::from_der(der).map_err(|e| e.to_string())?;
        Ok(Self::from_spki(&spki))
    }

    /// Decodes a parsed SubjectPublicKeyInfo.
    pub fn from_spki(spki: &SubjectPublicKeyInfo<'_>) -> Self {
        let alg = &spki.algorithm.algorithm;
        let raw = spki.subject_public_key.data.to_vec();
        if *alg == OID_SIG_ED25519 {
            return match raw.len() {
                32 if ed25519_small_order(&raw) => {
                    Self::Unsupported("Ed25519 key of small order".into())
                }
                32 => Self::Ed25519(raw),
                n => Self::Unsupported(format!("Ed25519 key of {n} bytes")),
            };
        }
        if *alg == OID_KEY_TYPE_EC_PUBLIC_KEY {
            let curve = spki
                .algorithm
                .parameters
                .as_ref()
                .and_then(|p| p.as_oid().ok());
            return match curve {
                Some(c) if c == OID_EC_P256 => Self::P256(raw),
                Some(c) if c == OID_NIST_EC_P384 => Self::P384(raw),
                Some(c) => Self::Unsupported(format!("EC curve {c}")),
                None => Self::Unsupported("EC key without a named curve".into()),
            };
        }
        if *alg == OID_PKCS1_RSAENCRYPTION {
            return match spki.parsed() {
                Ok(ParsedKey::RSA(rsa)) => Self::Rsa {
                    bits: rsa.key_size(),
                    pkcs1: raw,
                },
                _ => Self::Unsupported("malformed RSA key".into()),
            };
        }
        Self::Unsupported(format!("key algorithm {alg}"))
    }

    /// A short name of the key type, for messages.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::P256(_) => "P-256",
            Self::P384(_) => "P-384",
            Self::Ed25519(_) => "Ed25519",
            Self::Rsa { .. } => "RSA",
            Self::Unsupported(_) => "unsupported",
        }
    }

    /// Checks a certificate or CRL signature made with this (issuer) key.
    pub fn verify_cert_signature(
        &self,
        alg: CertSigAlg,
        message: &[u8],
        signature: &[u8],
    ) -> Result<(), CertSigError> {
        let (ring_alg, key): (&'static dyn VerificationAlgorithm, &[u8]) = match (alg, self) {
            (CertSigAlg::Unsupported, _) => return Err(CertSigError::UnsupportedAlgorithm),
            (_, Self::Rsa { bits, .. }) if *bits < MIN_RSA_BITS => {
                return Err(CertSigError::KeyTooWeak(*bits))
            }
            (CertSigAlg::EcdsaSha256, Self::P256(k)) => (&rs::ECDSA_P256_SHA256_ASN1, k),
            (CertSigAlg::EcdsaSha384, Self::P256(k)) => (&rs::ECDSA_P256_SHA384_ASN1, k),
            (CertSigAlg::EcdsaSha256, Self::P384(k)) => (&rs::ECDSA_P384_SHA256_ASN1, k),
            (CertSigAlg::EcdsaSha384, Self::P384(k)) => (&rs::ECDSA_P384_SHA384_ASN1, k),
            (CertSigAlg::Ed25519, Self::Ed25519(k)) => (&rs::ED25519, k),
            (CertSigAlg::RsaPkcs1Sha256, Self::Rsa { pkcs1, .. }) => {
                (&rs::RSA_PKCS1_2048_8192_SHA256, pkcs1)
            }
            (CertSigAlg::RsaPkcs1Sha384, Self::Rsa { pkcs1, .. }) => {
                (&rs::RSA_PKCS1_2048_8192_SHA384, pkcs1)
            }
            (CertSigAlg::RsaPkcs1Sha512, Self::Rsa { pkcs1, .. }) => {
                (&rs::RSA_PKCS1_2048_8192_SHA512, pkcs1)
            }
            (_, key) => return Err(CertSigError::KeyMismatch(key.kind())),
        };
        UnparsedPublicKey::new(ring_alg, key)
            .verify(message, signature)
            .map_err(|_| CertSigError::Invalid)
    }
}

/// Encodings (sign bit ignored) of the Ed25519 points of small order (libsodium's list). ring
/// accepts such keys, and with them forged signatures verify for any message.
const ED25519_SMALL_ORDER: [[u8; 32]; 7] = [
    [0; 32],
    [
        1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
        0, 0,
    ],
    [
        0x26, 0xe8, 0x95, 0x8f, 0xc2, 0xb2, 0x27, 0xb0, 0x45, 0xc3, 0xf4, 0x89, 0xf2, 0xef, 0x98,
        0xf0, 0xd5, 0xdf, 0xac, 0x05, 0xd3, 0xc6, 0x33, 0x39, 0xb1, 0x38, 0x02, 0x88, 0x6d, 0x53,
        0xfc, 0x05,
    ],
    [
        0xc7, 0x17, 0x6a, 0x70, 0x3d, 0x4d, 0xd8, 0x4f, 0xba, 0x3c, 0x0b, 0x76, 0x0d, 0x10, 0x67,
        0x0f, 0x2a, 0x20, 0x53, 0xfa, 0x2c, 0x39, 0xcc, 0xc6, 0x4e, 0xc7, 0xfd, 0x77, 0x92, 0xac,
        0x03, 0x7a,
    ],
    ed25519_high(0xec),
    ed25519_high(0xed),
    ed25519_high(0xee),
];

/// `first, 0xff × 30, 0x7f`: p − 1, p and p + 1.
const fn ed25519_high(first: u8) -> [u8; 32] {
    let mut k = [0xff; 32];
    k[0] = first;
    k[31] = 0x7f;
    k
}

fn ed25519_small_order(key: &[u8]) -> bool {
    ED25519_SMALL_ORDER
        .iter()
        .any(|bad| key.len() == 32 && key[..31] == bad[..31] && (key[31] & 0x7f) == bad[31])
}

impl CertSigAlg {
    /// Maps a signatureAlgorithm OID; anything outside the profile is `Unsupported`.
    pub fn from_oid(oid: &Oid<'_>) -> Self {
        if *oid == OID_SIG_ECDSA_WITH_SHA256 {
            Self::EcdsaSha256
        } else if *oid == OID_SIG_ECDSA_WITH_SHA384 {
            Self::EcdsaSha384
        } else if *oid == OID_SIG_ED25519 {
            Self::Ed25519
        } else if *oid == OID_PKCS1_SHA256WITHRSA {
            Self::RsaPkcs1Sha256
        } else if *oid == OID_PKCS1_SHA384WITHRSA {
            Self::RsaPkcs1Sha384
        } else if *oid == OID_PKCS1_SHA512WITHRSA {
            Self::RsaPkcs1Sha512
        } else {
            Self::Unsupported
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_order_ed25519_keys_are_refused() {
        assert!(ed25519_small_order(&ED25519_SMALL_ORDER[1]));
        let mut signed = ED25519_SMALL_ORDER[0];
        signed[31] |= 0x80;
        assert!(ed25519_small_order(&signed));
        assert!(!ed25519_small_order(&[9; 32]));
        // the identity point as an SPKI: refused, so no signature verifies with it
        let mut spki = vec![
            0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00,
        ];
        spki.extend_from_slice(&ED25519_SMALL_ORDER[1]);
        assert!(matches!(
            PublicKey::from_spki_der(&spki),
            Ok(PublicKey::Unsupported(_))
        ));
    }
}
