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
            return if raw.len() == 32 {
                Self::Ed25519(raw)
            } else {
                Self::Unsupported(format!("Ed25519 key of {} bytes", raw.len()))
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
