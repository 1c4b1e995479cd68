//! Public keys from SubjectPublicKeyInfo.

use x509_parser::oid_registry::{
    OID_EC_P256, OID_KEY_TYPE_EC_PUBLIC_KEY, OID_NIST_EC_P384, OID_PKCS1_RSAENCRYPTION,
    OID_SIG_ED25519,
};
use x509_parser::prelude::{FromDer, SubjectPublicKeyInfo};
use x509_parser::public_key::PublicKey as ParsedKey;

use super::sm2::{oid_sm2, Sm2Key};

/// Smallest RSA modulus accepted anywhere (contract sections 1 and 2).
pub const MIN_RSA_BITS: usize = 2048;

/// The key families of the contract.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum KeyType {
    P256,
    P384,
    Ed25519,
    Rsa,
    Sm2,
}

impl KeyType {
    /// A short name, for messages.
    pub fn name(self) -> &'static str {
        match self {
            Self::P256 => "P-256",
            Self::P384 => "P-384",
            Self::Ed25519 => "Ed25519",
            Self::Rsa => "RSA",
            Self::Sm2 => "SM2",
        }
    }
}

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
    /// An SM2 key, prepared for verification.
    Sm2(Sm2Key),
    /// Any other key (DSA, other curves, …): never verifies anything.
    Unsupported(String),
}

impl PublicKey {
    /// Decodes a DER SubjectPublicKeyInfo.
    pub fn from_spki_der(der: &[u8]) -> Result<Self, String> {
        let (_, spki) = SubjectPublicKeyInfo::from_der(der).map_err(|e| e.to_string())?;
        Self::from_spki(&spki)
    }

    /// Decodes a parsed SubjectPublicKeyInfo. An SM2 key is `id-ecPublicKey` with the SM2
    /// curve, or has the SM2 OID as its algorithm (contract section 1); an SM2 key that is not a
    /// point of the curve is an error (broken material, reported where it was found). Keys of
    /// other families the contract does not accept are [`PublicKey::Unsupported`].
    pub fn from_spki(spki: &SubjectPublicKeyInfo<'_>) -> Result<Self, String> {
        let alg = &spki.algorithm.algorithm;
        let raw = spki.subject_public_key.data.as_ref();
        if *alg == OID_SIG_ED25519 {
            return Ok(match raw.len() {
                32 if ed25519_small_order(raw) => {
                    Self::Unsupported("Ed25519 key of small order".into())
                }
                32 => Self::Ed25519(raw.to_vec()),
                n => Self::Unsupported(format!("Ed25519 key of {n} bytes")),
            });
        }
        if *alg == oid_sm2() {
            return Sm2Key::from_sec1(raw).map(Self::Sm2);
        }
        if *alg == OID_KEY_TYPE_EC_PUBLIC_KEY {
            let curve = spki
                .algorithm
                .parameters
                .as_ref()
                .and_then(|p| p.as_oid().ok());
            return match curve {
                Some(c) if c == oid_sm2() => Sm2Key::from_sec1(raw).map(Self::Sm2),
                Some(c) if c == OID_EC_P256 => Ok(Self::P256(raw.to_vec())),
                Some(c) if c == OID_NIST_EC_P384 => Ok(Self::P384(raw.to_vec())),
                Some(c) => Ok(Self::Unsupported(format!("EC curve {c}"))),
                None => Ok(Self::Unsupported("EC key without a named curve".into())),
            };
        }
        if *alg == OID_PKCS1_RSAENCRYPTION {
            return Ok(match spki.parsed() {
                Ok(ParsedKey::RSA(rsa)) => Self::Rsa {
                    bits: rsa.key_size(),
                    pkcs1: raw.to_vec(),
                },
                _ => Self::Unsupported("malformed RSA key".into()),
            });
        }
        Ok(Self::Unsupported(format!("key algorithm {alg}")))
    }

    /// The key's family; `None` for an unsupported key.
    pub fn key_type(&self) -> Option<KeyType> {
        Some(match self {
            Self::P256(_) => KeyType::P256,
            Self::P384(_) => KeyType::P384,
            Self::Ed25519(_) => KeyType::Ed25519,
            Self::Rsa { .. } => KeyType::Rsa,
            Self::Sm2(_) => KeyType::Sm2,
            Self::Unsupported(_) => return None,
        })
    }

    /// A short name of the key type, for messages.
    pub fn kind(&self) -> &'static str {
        self.key_type().map_or("unsupported", KeyType::name)
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
    let Ok(key) = <&[u8; 32]>::try_from(key) else {
        return false;
    };
    let (body, [last]) = key.split_at(31) else {
        return false;
    };
    ED25519_SMALL_ORDER.iter().any(|bad| {
        let (bad_body, [bad_last]) = bad.split_at(31) else {
            return false;
        };
        body == bad_body && last & 0x7f == *bad_last
    })
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
