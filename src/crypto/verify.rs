//! The one signature check: certificates, CRLs, licences and policy sets all come here.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jsonwebtoken::{crypto as jwt, DecodingKey};
use ring::signature::{self as rs, UnparsedPublicKey, VerificationAlgorithm};

use super::alg::Algorithm;
use super::key::{PublicKey, MIN_RSA_BITS};

/// A signature as it comes.
#[derive(Clone, Copy, Debug)]
pub enum Signature<'a> {
    /// An X.509 signature value (certificates, CRLs): DER for ECDSA and SM2.
    X509(&'a [u8]),
    /// The signature part of a compact JWS, still base64url: `r‖s` for ECDSA and SM2.
    Jws(&'a str),
}

/// Why a signature was not accepted.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    /// An X.509 signature algorithm outside the certificate profile.
    #[error("signature algorithm not accepted by the certificate profile")]
    UnsupportedAlgorithm,
    /// The algorithm needs another kind of key (e.g. `SM2` with a P-256 key, `ES256` with an SM2 key).
    #[error("`{alg}` cannot be used with a {key} key")]
    KeyMismatch { alg: Algorithm, key: &'static str },
    #[error("RSA key of {bits} bits; at least {MIN_RSA_BITS} are required")]
    KeyTooWeak { bits: usize },
    #[error("the signature does not verify with the key")]
    Invalid,
    /// An X.509 SM2 signature that verifies only with the empty signer ID: refused, but said.
    #[error(
        "the SM2 signature was made with an empty signer ID (OpenSSL's default), not \
         `1234567812345678`: sign with `-sigopt distid:1234567812345678`"
    )]
    Sm2EmptySignerId,
}

/// Checks `signature` over `message` with `key` for `alg`. The key family must fit the
/// algorithm; in a JWS, ES256 needs P-256 and ES384 P-384 (RFC 7518), while a certificate may
/// pair either curve with either hash.
pub fn verify(
    alg: Algorithm,
    key: &PublicKey,
    message: &[u8],
    signature: Signature<'_>,
) -> Result<(), SignatureError> {
    if let PublicKey::Rsa { bits, .. } = key {
        if *bits < MIN_RSA_BITS && is_rsa(alg) {
            return Err(SignatureError::KeyTooWeak { bits: *bits });
        }
    }
    let accepted = match signature {
        Signature::X509(sig) => verify_x509(alg, key, message, sig)?,
        Signature::Jws(sig_b64) => verify_jws(alg, key, message, sig_b64)?,
    };
    if accepted {
        Ok(())
    } else {
        Err(SignatureError::Invalid)
    }
}

fn is_rsa(alg: Algorithm) -> bool {
    matches!(
        alg,
        Algorithm::RsaPkcs1Sha256
            | Algorithm::RsaPkcs1Sha384
            | Algorithm::RsaPkcs1Sha512
            | Algorithm::RsaPssSha256
    )
}

fn mismatch(alg: Algorithm, key: &PublicKey) -> SignatureError {
    SignatureError::KeyMismatch {
        alg,
        key: key.kind(),
    }
}

/// ring for the international algorithms, `sm2` for SM2.
fn verify_x509(
    alg: Algorithm,
    key: &PublicKey,
    message: &[u8],
    sig: &[u8],
) -> Result<bool, SignatureError> {
    use Algorithm as A;
    let (ring_alg, raw): (&'static dyn VerificationAlgorithm, &[u8]) = match (alg, key) {
        (A::Sm2Sm3, PublicKey::Sm2(k)) => {
            // a failed certificate or CRL link gets a second check to say why (links are
            // resolved once per trust load or per licence header, never per licence)
            let valid = k.verify_der(message, sig);
            if !valid && k.made_with_empty_distid(message, sig) {
                return Err(SignatureError::Sm2EmptySignerId);
            }
            return Ok(valid);
        }
        (A::RsaPssSha256, _) => return Err(SignatureError::UnsupportedAlgorithm),
        (A::EcdsaSha256, PublicKey::P256(k)) => (&rs::ECDSA_P256_SHA256_ASN1, k),
        (A::EcdsaSha384, PublicKey::P256(k)) => (&rs::ECDSA_P256_SHA384_ASN1, k),
        (A::EcdsaSha256, PublicKey::P384(k)) => (&rs::ECDSA_P384_SHA256_ASN1, k),
        (A::EcdsaSha384, PublicKey::P384(k)) => (&rs::ECDSA_P384_SHA384_ASN1, k),
        (A::Ed25519, PublicKey::Ed25519(k)) => (&rs::ED25519, k),
        (A::RsaPkcs1Sha256, PublicKey::Rsa { pkcs1, .. }) => {
            (&rs::RSA_PKCS1_2048_8192_SHA256, pkcs1)
        }
        (A::RsaPkcs1Sha384, PublicKey::Rsa { pkcs1, .. }) => {
            (&rs::RSA_PKCS1_2048_8192_SHA384, pkcs1)
        }
        (A::RsaPkcs1Sha512, PublicKey::Rsa { pkcs1, .. }) => {
            (&rs::RSA_PKCS1_2048_8192_SHA512, pkcs1)
        }
        _ => return Err(mismatch(alg, key)),
    };
    Ok(UnparsedPublicKey::new(ring_alg, raw)
        .verify(message, sig)
        .is_ok())
}

/// jsonwebtoken's ring backend for the international algorithms, `sm2` for SM2.
fn verify_jws(
    alg: Algorithm,
    key: &PublicKey,
    message: &[u8],
    sig_b64: &str,
) -> Result<bool, SignatureError> {
    use jsonwebtoken::Algorithm as J;
    use Algorithm as A;
    let (jwt_alg, decoding) = match (alg, key) {
        (A::Sm2Sm3, PublicKey::Sm2(k)) => {
            return Ok(URL_SAFE_NO_PAD
                .decode(sig_b64)
                .is_ok_and(|rs| k.verify_fixed(message, &rs)))
        }
        (A::EcdsaSha256, PublicKey::P256(point)) => (J::ES256, DecodingKey::from_ec_der(point)),
        (A::EcdsaSha384, PublicKey::P384(point)) => (J::ES384, DecodingKey::from_ec_der(point)),
        (A::Ed25519, PublicKey::Ed25519(raw)) => (J::EdDSA, DecodingKey::from_ed_der(raw)),
        (A::RsaPkcs1Sha256, PublicKey::Rsa { pkcs1, .. }) => {
            (J::RS256, DecodingKey::from_rsa_der(pkcs1))
        }
        (A::RsaPssSha256, PublicKey::Rsa { pkcs1, .. }) => {
            (J::PS256, DecodingKey::from_rsa_der(pkcs1))
        }
        _ => return Err(mismatch(alg, key)),
    };
    Ok(jwt::verify(sig_b64, message, &decoding, jwt_alg).unwrap_or(false))
}
