//! JWS signature algorithms of the contract and the one function that checks a licence
//! signature (jsonwebtoken's ring backend).

use std::fmt;

use jsonwebtoken::{crypto, Algorithm, DecodingKey};

use crate::trust::key::{PublicKey, MIN_RSA_BITS};

/// The licence signature algorithms the contract accepts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum JwsAlg {
    ES256,
    ES384,
    EdDSA,
    RS256,
    PS256,
}

/// Why a licence signature was not accepted.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("`{alg}` cannot be used with a {key} key")]
    KeyMismatch { alg: JwsAlg, key: &'static str },
    #[error("RSA key of {bits} bits; at least {MIN_RSA_BITS} are required")]
    KeyTooWeak { bits: usize },
    #[error("the signature does not verify with the signer certificate's key")]
    Invalid,
}

impl JwsAlg {
    /// Parses the header's `alg`; `None` for anything outside the contract (`none`, HMAC, …).
    pub fn parse(name: &str) -> Option<Self> {
        Some(match name {
            "ES256" => Self::ES256,
            "ES384" => Self::ES384,
            "EdDSA" => Self::EdDSA,
            "RS256" => Self::RS256,
            "PS256" => Self::PS256,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::ES256 => "ES256",
            Self::ES384 => "ES384",
            Self::EdDSA => "EdDSA",
            Self::RS256 => "RS256",
            Self::PS256 => "PS256",
        }
    }

    /// The algorithm a key signs with by default (RSA: RS256).
    pub fn for_key(key: &PublicKey) -> Option<Self> {
        match key {
            PublicKey::P256(_) => Some(Self::ES256),
            PublicKey::P384(_) => Some(Self::ES384),
            PublicKey::Ed25519(_) => Some(Self::EdDSA),
            PublicKey::Rsa { .. } => Some(Self::RS256),
            PublicKey::Unsupported(_) => None,
        }
    }

    pub(crate) fn jsonwebtoken(self) -> Algorithm {
        match self {
            Self::ES256 => Algorithm::ES256,
            Self::ES384 => Algorithm::ES384,
            Self::EdDSA => Algorithm::EdDSA,
            Self::RS256 => Algorithm::RS256,
            Self::PS256 => Algorithm::PS256,
        }
    }
}

impl fmt::Display for JwsAlg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Checks the JWS `signature_b64` (base64url, as in the compact form) over `signing_input`
/// with `key`, for the header's `alg`. The key family must match the algorithm.
pub fn verify(
    alg: JwsAlg,
    key: &PublicKey,
    signing_input: &[u8],
    signature_b64: &str,
) -> Result<(), SignatureError> {
    let decoding = match (alg, key) {
        (JwsAlg::ES256, PublicKey::P256(point)) | (JwsAlg::ES384, PublicKey::P384(point)) => {
            DecodingKey::from_ec_der(point)
        }
        (JwsAlg::EdDSA, PublicKey::Ed25519(raw)) => DecodingKey::from_ed_der(raw),
        (JwsAlg::RS256 | JwsAlg::PS256, PublicKey::Rsa { bits, .. }) if *bits < MIN_RSA_BITS => {
            return Err(SignatureError::KeyTooWeak { bits: *bits })
        }
        (JwsAlg::RS256 | JwsAlg::PS256, PublicKey::Rsa { pkcs1, .. }) => {
            DecodingKey::from_rsa_der(pkcs1)
        }
        (alg, key) => {
            return Err(SignatureError::KeyMismatch {
                alg,
                key: key.kind(),
            })
        }
    };
    match crypto::verify(signature_b64, signing_input, &decoding, alg.jsonwebtoken()) {
        Ok(true) => Ok(()),
        _ => Err(SignatureError::Invalid),
    }
}
