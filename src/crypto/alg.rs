//! The signature algorithms of the contract, for X.509 (certificates, CRLs) and JWS (licences,
//! policy sets) alike.

use std::fmt;

use x509_parser::oid_registry::{
    Oid, OID_PKCS1_SHA256WITHRSA, OID_PKCS1_SHA384WITHRSA, OID_PKCS1_SHA512WITHRSA,
    OID_SIG_ECDSA_WITH_SHA256, OID_SIG_ECDSA_WITH_SHA384, OID_SIG_ED25519,
};

use super::key::KeyType;
use super::sm2::OID_SM2_WITH_SM3;

/// A signature algorithm: a key family with its hash. Which key it needs is [`verify`]'s
/// business (super::verify).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Algorithm {
    /// ECDSA with SHA-256: X.509 ecdsa-with-SHA256; JWS `ES256` (P-256 only).
    EcdsaSha256,
    /// ECDSA with SHA-384: X.509 ecdsa-with-SHA384; JWS `ES384` (P-384 only).
    EcdsaSha384,
    /// Ed25519: X.509 id-Ed25519; JWS `EdDSA`.
    Ed25519,
    /// RSA PKCS#1 v1.5 with SHA-256: X.509 sha256WithRSAEncryption; JWS `RS256`.
    RsaPkcs1Sha256,
    /// RSA PKCS#1 v1.5 with SHA-384 (X.509 only).
    RsaPkcs1Sha384,
    /// RSA PKCS#1 v1.5 with SHA-512 (X.509 only).
    RsaPkcs1Sha512,
    /// RSA-PSS with SHA-256 (JWS `PS256` only).
    RsaPssSha256,
    /// SM2 with SM3 (GB/T 32918.2, signer ID `1234567812345678`): X.509 SM2-with-SM3
    /// (1.2.156.10197.1.501); JWS `SM2`.
    Sm2Sm3,
}

/// How a signature is encoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Form {
    /// X.509 and CRLs: ECDSA and SM2 as DER `SEQUENCE { r, s }`.
    X509,
    /// JWS (RFC 7518): ECDSA and SM2 as fixed-width big-endian `r‖s`.
    Jws,
}

/// The JWS `alg` names the contract accepts, in the order messages list them.
pub const JWS_NAMES: [&str; 6] = ["ES256", "ES384", "EdDSA", "RS256", "PS256", "SM2"];

impl Algorithm {
    /// Maps a certificate's or CRL's signatureAlgorithm; `None` outside the profile.
    pub fn from_x509_oid(oid: &Oid<'_>) -> Option<Self> {
        Some(if *oid == OID_SIG_ECDSA_WITH_SHA256 {
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
        } else if oid.to_id_string() == OID_SM2_WITH_SM3 {
            Self::Sm2Sm3
        } else {
            return None;
        })
    }

    /// The dotted signatureAlgorithm OID, for algorithms the X.509 profile accepts.
    pub fn x509_oid(self) -> Option<&'static str> {
        Some(match self {
            Self::EcdsaSha256 => "1.2.840.10045.4.3.2",
            Self::EcdsaSha384 => "1.2.840.10045.4.3.3",
            Self::Ed25519 => "1.3.101.112",
            Self::RsaPkcs1Sha256 => "1.2.840.113549.1.1.11",
            Self::RsaPkcs1Sha384 => "1.2.840.113549.1.1.12",
            Self::RsaPkcs1Sha512 => "1.2.840.113549.1.1.13",
            Self::Sm2Sm3 => OID_SM2_WITH_SM3,
            Self::RsaPssSha256 => return None,
        })
    }

    /// Parses a JWS header's `alg`; `None` for anything outside the contract (`none`, HMAC, …).
    pub fn from_jws(name: &str) -> Option<Self> {
        Some(match name {
            "ES256" => Self::EcdsaSha256,
            "ES384" => Self::EcdsaSha384,
            "EdDSA" => Self::Ed25519,
            "RS256" => Self::RsaPkcs1Sha256,
            "PS256" => Self::RsaPssSha256,
            "SM2" => Self::Sm2Sm3,
            _ => return None,
        })
    }

    /// The JWS `alg` name, for algorithms a licence may use.
    pub fn jws_name(self) -> Option<&'static str> {
        Some(match self {
            Self::EcdsaSha256 => "ES256",
            Self::EcdsaSha384 => "ES384",
            Self::Ed25519 => "EdDSA",
            Self::RsaPkcs1Sha256 => "RS256",
            Self::RsaPssSha256 => "PS256",
            Self::Sm2Sm3 => "SM2",
            Self::RsaPkcs1Sha384 | Self::RsaPkcs1Sha512 => return None,
        })
    }

    /// The algorithm a key of this type signs with by default (RSA: PKCS#1 v1.5 with SHA-256).
    pub fn default_for(key: KeyType) -> Self {
        match key {
            KeyType::P256 => Self::EcdsaSha256,
            KeyType::P384 => Self::EcdsaSha384,
            KeyType::Ed25519 => Self::Ed25519,
            KeyType::Rsa => Self::RsaPkcs1Sha256,
            KeyType::Sm2 => Self::Sm2Sm3,
        }
    }

    /// A short name for messages: the JWS name where there is one.
    pub fn name(self) -> &'static str {
        match self {
            Self::RsaPkcs1Sha384 => "RSA PKCS#1 SHA-384",
            Self::RsaPkcs1Sha512 => "RSA PKCS#1 SHA-512",
            other => other.jws_name().unwrap_or("?"),
        }
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    const ALL: [Algorithm; 8] = [
        Algorithm::EcdsaSha256,
        Algorithm::EcdsaSha384,
        Algorithm::Ed25519,
        Algorithm::RsaPkcs1Sha256,
        Algorithm::RsaPkcs1Sha384,
        Algorithm::RsaPkcs1Sha512,
        Algorithm::RsaPssSha256,
        Algorithm::Sm2Sm3,
    ];

    #[test]
    fn names_and_oids_round_trip() {
        for alg in ALL {
            if let Some(name) = alg.jws_name() {
                assert_eq!(Algorithm::from_jws(name), Some(alg));
                assert!(JWS_NAMES.contains(&name));
            }
            if let Some(oid) = alg.x509_oid() {
                let oid = Oid::from_str(oid).unwrap();
                assert_eq!(Algorithm::from_x509_oid(&oid), Some(alg));
            }
        }
        for name in ["none", "HS256", "es256", "SM2-SM3", ""] {
            assert_eq!(Algorithm::from_jws(name), None, "{name}");
        }
    }
}
