//! Private keys (PKCS#8) that sign certificates, CRLs and JWS objects: `tongban licence issue`,
//! `tongban policy sign`, the demo and the test PKI. ring signs, but for SM2 (`sm2`).

use ::sm2::dsa::signature::Signer;
use ::sm2::dsa::SigningKey as Sm2SigningKey;
use ::sm2::pkcs8::der::{Decode, Encode};
use ::sm2::pkcs8::{EncodePrivateKey, EncodePublicKey, ObjectIdentifier, PrivateKeyInfoRef};
use ring::rand::{SecureRandom, SystemRandom};
use ring::signature::{
    self as rs, EcdsaKeyPair, EcdsaSigningAlgorithm, Ed25519KeyPair, KeyPair, RsaKeyPair,
};
use x509_cert::der::asn1::{AnyRef, BitString};
use x509_cert::der::Any;
use x509_cert::spki::{AlgorithmIdentifierOwned, SubjectPublicKeyInfoOwned};

use super::alg::{Algorithm, Form};
use super::key::{KeyType, PublicKey};
use super::sm2::{DEFAULT_DISTID, OID_SM2};

const OID_EC_PUBLIC_KEY: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
const OID_P256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.3.1.7");
const OID_P384: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.132.0.34");
const OID_ED25519: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.101.112");
const OID_RSA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");
const OID_SM2_KEY: ObjectIdentifier = ObjectIdentifier::new_unwrap(OID_SM2);

/// Why a key could not be read, made or used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    #[error("not a PEM `PRIVATE KEY` (PKCS#8): {0}")]
    Pem(String),
    #[error("not a readable PKCS#8 private key: {0}")]
    Pkcs8(String),
    #[error("PKCS#8 key algorithm {0} is not one of P-256, P-384, Ed25519, RSA, SM2")]
    UnknownAlgorithm(String),
    #[error("cannot generate {0} keys (RSA keys come from files)")]
    CannotGenerate(&'static str),
    #[error("{key} keys cannot sign `{alg}`")]
    Mismatch { alg: Algorithm, key: &'static str },
    #[error("signing failed")]
    Sign,
}

/// A private key with its PKCS#8 and SubjectPublicKeyInfo encodings.
pub struct PrivateKey {
    inner: Inner,
    pkcs8: Vec<u8>,
    spki: Vec<u8>,
}

enum Inner {
    /// ring binds an ECDSA key pair to one signing algorithm: one pair per signature form.
    Ecdsa {
        x509: Box<EcdsaKeyPair>,
        jws: Box<EcdsaKeyPair>,
        key_type: KeyType,
    },
    Ed25519(Ed25519KeyPair),
    Rsa(RsaKeyPair),
    Sm2(Box<Sm2SigningKey>),
}

impl PrivateKey {
    /// A fresh random key (not RSA: the test PKI's RSA keys are committed files).
    pub fn generate(key_type: KeyType) -> Result<Self, KeyError> {
        let rng = SystemRandom::new();
        let pkcs8 = match key_type {
            KeyType::P256 | KeyType::P384 => {
                let (x509, _) = ecdsa_algs(key_type);
                EcdsaKeyPair::generate_pkcs8(x509, &rng)
                    .map_err(|_| KeyError::Sign)?
                    .as_ref()
                    .to_vec()
            }
            KeyType::Ed25519 => Ed25519KeyPair::generate_pkcs8(&rng)
                .map_err(|_| KeyError::Sign)?
                .as_ref()
                .to_vec(),
            KeyType::Sm2 => loop {
                let mut bytes = [0u8; 32];
                rng.fill(&mut bytes).map_err(|_| KeyError::Sign)?;
                if let Ok(secret) = ::sm2::SecretKey::from_slice(&bytes) {
                    break secret
                        .to_pkcs8_der()
                        .map_err(|e| KeyError::Pkcs8(e.to_string()))?
                        .as_bytes()
                        .to_vec();
                }
            },
            KeyType::Rsa => return Err(KeyError::CannotGenerate("RSA")),
        };
        Self::from_pkcs8_der(&pkcs8)
    }

    /// Reads a PEM `PRIVATE KEY` (PKCS#8), as `openssl genpkey` writes it.
    pub fn from_pkcs8_pem(pem: &str) -> Result<Self, KeyError> {
        let (_, parsed) = x509_parser::pem::parse_x509_pem(pem.as_bytes())
            .map_err(|e| KeyError::Pem(e.to_string()))?;
        if parsed.label != "PRIVATE KEY" {
            return Err(KeyError::Pem(format!(
                "found `{}`; convert it with `openssl pkcs8 -topk8 -nocrypt`",
                parsed.label
            )));
        }
        Self::from_pkcs8_der(&parsed.contents)
    }

    /// Reads a DER PKCS#8 key of any of the contract's families. An SM2 key may name its
    /// algorithm `id-ecPublicKey` with the SM2 curve (OpenSSL 3) or the SM2 OID itself.
    pub fn from_pkcs8_der(der: &[u8]) -> Result<Self, KeyError> {
        let bad = |e: &dyn std::fmt::Display| KeyError::Pkcs8(e.to_string());
        let info = PrivateKeyInfoRef::from_der(der).map_err(|e| bad(&e))?;
        let alg = info.algorithm.oid;
        let curve = info.algorithm.parameters_oid().ok();
        let rng = SystemRandom::new();
        let inner = if alg == OID_ED25519 {
            Inner::Ed25519(Ed25519KeyPair::from_pkcs8_maybe_unchecked(der).map_err(|e| bad(&e))?)
        } else if alg == OID_RSA {
            Inner::Rsa(RsaKeyPair::from_pkcs8(der).map_err(|e| bad(&e))?)
        } else if alg == OID_SM2_KEY || (alg == OID_EC_PUBLIC_KEY && curve == Some(OID_SM2_KEY)) {
            let secret = ::sm2::SecretKey::from_sec1_der(info.private_key.as_bytes())
                .map_err(|e| bad(&e))?;
            let key = Sm2SigningKey::new(DEFAULT_DISTID, &secret).map_err(|e| bad(&e))?;
            Inner::Sm2(Box::new(key))
        } else if alg == OID_EC_PUBLIC_KEY && (curve == Some(OID_P256) || curve == Some(OID_P384)) {
            let key_type = if curve == Some(OID_P256) {
                KeyType::P256
            } else {
                KeyType::P384
            };
            let (x509, jws) = ecdsa_algs(key_type);
            Inner::Ecdsa {
                x509: Box::new(EcdsaKeyPair::from_pkcs8(x509, der, &rng).map_err(|e| bad(&e))?),
                jws: Box::new(EcdsaKeyPair::from_pkcs8(jws, der, &rng).map_err(|e| bad(&e))?),
                key_type,
            }
        } else {
            let name = match curve {
                Some(c) => format!("{alg} ({c})"),
                None => alg.to_string(),
            };
            return Err(KeyError::UnknownAlgorithm(name));
        };
        let spki = inner.spki().map_err(|e| bad(&e))?;
        Ok(Self {
            inner,
            pkcs8: der.to_vec(),
            spki,
        })
    }

    pub fn key_type(&self) -> KeyType {
        match &self.inner {
            Inner::Ecdsa { key_type, .. } => *key_type,
            Inner::Ed25519(_) => KeyType::Ed25519,
            Inner::Rsa(_) => KeyType::Rsa,
            Inner::Sm2(_) => KeyType::Sm2,
        }
    }

    /// PKCS#8 DER.
    pub fn pkcs8_der(&self) -> &[u8] {
        &self.pkcs8
    }

    /// The public key as a DER SubjectPublicKeyInfo (SM2: `id-ecPublicKey` with the SM2 curve).
    pub fn spki_der(&self) -> &[u8] {
        &self.spki
    }

    /// The public key.
    pub fn public_key(&self) -> PublicKey {
        PublicKey::from_spki_der(&self.spki)
            .unwrap_or_else(|e| PublicKey::Unsupported(format!("own key: {e}")))
    }

    /// Signs `message` with `alg` in `form`: raw signature bytes (for a JWS, base64url them).
    pub fn sign(&self, alg: Algorithm, form: Form, message: &[u8]) -> Result<Vec<u8>, KeyError> {
        let rng = SystemRandom::new();
        let mismatch = || KeyError::Mismatch {
            alg,
            key: self.key_type().name(),
        };
        match (&self.inner, alg) {
            (
                Inner::Ecdsa {
                    x509,
                    jws,
                    key_type,
                },
                _,
            ) if alg == Algorithm::default_for(*key_type) => {
                let pair = if form == Form::X509 { x509 } else { jws };
                let sig = pair.sign(&rng, message).map_err(|_| KeyError::Sign)?;
                Ok(sig.as_ref().to_vec())
            }
            (Inner::Ed25519(pair), Algorithm::Ed25519) => Ok(pair.sign(message).as_ref().to_vec()),
            (Inner::Rsa(pair), _) => {
                let padding: &'static dyn rs::RsaEncoding = match alg {
                    Algorithm::RsaPkcs1Sha256 => &rs::RSA_PKCS1_SHA256,
                    Algorithm::RsaPkcs1Sha384 => &rs::RSA_PKCS1_SHA384,
                    Algorithm::RsaPkcs1Sha512 => &rs::RSA_PKCS1_SHA512,
                    Algorithm::RsaPssSha256 => &rs::RSA_PSS_SHA256,
                    _ => return Err(mismatch()),
                };
                let mut sig = vec![0; pair.public().modulus_len()];
                pair.sign(padding, &rng, message, &mut sig)
                    .map_err(|_| KeyError::Sign)?;
                Ok(sig)
            }
            (Inner::Sm2(key), Algorithm::Sm2Sm3) => {
                let sig: ::sm2::dsa::Signature =
                    key.try_sign(message).map_err(|_| KeyError::Sign)?;
                Ok(match form {
                    Form::X509 => sig.to_der().to_vec(),
                    Form::Jws => sig.to_bytes().to_vec(),
                })
            }
            _ => Err(mismatch()),
        }
    }
}

impl Inner {
    fn spki(&self) -> Result<Vec<u8>, String> {
        let ec =
            |curve: ObjectIdentifier, point: &[u8]| spki_der(OID_EC_PUBLIC_KEY, Some(curve), point);
        match self {
            Self::Ecdsa { x509, key_type, .. } => {
                let curve = if *key_type == KeyType::P256 {
                    OID_P256
                } else {
                    OID_P384
                };
                ec(curve, x509.public_key().as_ref())
            }
            Self::Ed25519(pair) => spki_der(OID_ED25519, None, pair.public_key().as_ref()),
            Self::Rsa(pair) => spki_der_null(OID_RSA, pair.public().as_ref()),
            Self::Sm2(key) => key
                .verifying_key()
                .to_public_key_der()
                .map(|d| d.as_bytes().to_vec())
                .map_err(|e| e.to_string()),
        }
    }
}

/// The ASN.1 (X.509) and fixed (JWS) ECDSA signing algorithms of a curve.
fn ecdsa_algs(
    key_type: KeyType,
) -> (
    &'static EcdsaSigningAlgorithm,
    &'static EcdsaSigningAlgorithm,
) {
    if key_type == KeyType::P384 {
        (
            &rs::ECDSA_P384_SHA384_ASN1_SIGNING,
            &rs::ECDSA_P384_SHA384_FIXED_SIGNING,
        )
    } else {
        (
            &rs::ECDSA_P256_SHA256_ASN1_SIGNING,
            &rs::ECDSA_P256_SHA256_FIXED_SIGNING,
        )
    }
}

fn spki_der(
    alg: ObjectIdentifier,
    param: Option<ObjectIdentifier>,
    key: &[u8],
) -> Result<Vec<u8>, String> {
    let parameters = param
        .map(|p| Any::encode_from(&p))
        .transpose()
        .map_err(|e| e.to_string())?;
    encode_spki(
        AlgorithmIdentifierOwned {
            oid: alg,
            parameters,
        },
        key,
    )
}

/// RSA's algorithm identifier carries an explicit NULL.
fn spki_der_null(alg: ObjectIdentifier, key: &[u8]) -> Result<Vec<u8>, String> {
    let parameters = Some(AnyRef::NULL.into());
    encode_spki(
        AlgorithmIdentifierOwned {
            oid: alg,
            parameters,
        },
        key,
    )
}

fn encode_spki(algorithm: AlgorithmIdentifierOwned, key: &[u8]) -> Result<Vec<u8>, String> {
    let subject_public_key = BitString::from_bytes(key).map_err(|e| e.to_string())?;
    SubjectPublicKeyInfoOwned {
        algorithm,
        subject_public_key,
    }
    .to_der()
    .map_err(|e| e.to_string())
}
