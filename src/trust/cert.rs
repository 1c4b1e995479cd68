//! A parsed X.509 certificate reduced to the facts the verifier needs, owned and cheap to share.

use std::borrow::Cow;
use std::fmt;

use x509_parser::oid_registry::Oid;
use x509_parser::prelude::{AttributeTypeAndValue, FromDer, X509Certificate, X509Name};

use crate::crypto::{self, hex, sha256, Algorithm, PublicKey, Signature, SignatureError};
use crate::time::UnixTime;

/// `organizationIdentifier` (2.5.4.97), DER content bytes.
const OID_ORGANIZATION_IDENTIFIER: &[u8] = &[0x55, 0x04, 0x61];

/// The department identity in a certificate's subject (contract section 1).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Identity {
    /// `L`: the city's division code.
    pub city: Option<String>,
    /// `OU`: the department kind.
    pub department: Option<String>,
    /// `O`: the organisation's name.
    pub org_name: Option<String>,
    /// `organizationIdentifier`: the organisation's USCC.
    pub org_id: Option<String>,
}

/// basicConstraints as found in the certificate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BasicConstraints {
    pub ca: bool,
    pub path_len: Option<u32>,
}

/// keyUsage bits the profile looks at.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct KeyUsage {
    pub digital_signature: bool,
    pub non_repudiation: bool,
    pub key_cert_sign: bool,
    pub crl_sign: bool,
}

/// A certificate, parsed once.
#[derive(Clone)]
pub struct Cert {
    der: Vec<u8>,
    fingerprint: [u8; 32],
    tbs: Vec<u8>,
    /// `None`: a signature algorithm outside the certificate profile.
    sig_alg: Option<Algorithm>,
    signature: Vec<u8>,
    subject: Vec<u8>,
    issuer: Vec<u8>,
    subject_text: String,
    issuer_text: String,
    serial: Vec<u8>,
    not_before: UnixTime,
    not_after: UnixTime,
    basic_constraints: Option<BasicConstraints>,
    key_usage: Option<KeyUsage>,
    key: PublicKey,
    identity: Identity,
}

/// A certificate that could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a readable X.509 certificate: {0}")]
pub struct CertParseError(pub String);

impl Cert {
    /// Parses one DER certificate; trailing bytes are an error.
    pub fn from_der(der: &[u8]) -> Result<Self, CertParseError> {
        let (rest, x509) =
            X509Certificate::from_der(der).map_err(|e| CertParseError(e.to_string()))?;
        if !rest.is_empty() {
            return Err(CertParseError(format!(
                "{} bytes after the certificate",
                rest.len()
            )));
        }
        let tbs = &x509.tbs_certificate;
        let basic_constraints = tbs
            .basic_constraints()
            .map_err(|e| CertParseError(format!("basicConstraints: {e}")))?
            .map(|ext| BasicConstraints {
                ca: ext.value.ca,
                path_len: ext.value.path_len_constraint,
            });
        let key_usage = tbs
            .key_usage()
            .map_err(|e| CertParseError(format!("keyUsage: {e}")))?
            .map(|ext| KeyUsage {
                digital_signature: ext.value.digital_signature(),
                non_repudiation: ext.value.non_repudiation(),
                key_cert_sign: ext.value.key_cert_sign(),
                crl_sign: ext.value.crl_sign(),
            });
        Ok(Self {
            der: der.to_vec(),
            fingerprint: sha256(der),
            tbs: tbs.as_ref().to_vec(),
            sig_alg: Algorithm::from_x509_oid(&x509.signature_algorithm.algorithm),
            signature: x509.signature_value.data.to_vec(),
            subject: tbs.subject.as_raw().to_vec(),
            issuer: tbs.issuer.as_raw().to_vec(),
            subject_text: tbs.subject.to_string(),
            issuer_text: tbs.issuer.to_string(),
            serial: strip_leading_zeros(tbs.raw_serial()).to_vec(),
            not_before: tbs.validity.not_before.timestamp(),
            not_after: tbs.validity.not_after.timestamp(),
            basic_constraints,
            key_usage,
            key: PublicKey::from_spki(tbs.public_key())
                .map_err(|e| CertParseError(format!("subject public key: {e}")))?,
            identity: identity_of(&tbs.subject),
        })
    }

    pub fn der(&self) -> &[u8] {
        &self.der
    }
    /// SHA-256 over the DER.
    pub fn fingerprint(&self) -> &[u8; 32] {
        &self.fingerprint
    }
    /// The `kid` of the contract: the first 8 bytes of the fingerprint.
    pub fn kid(&self) -> [u8; 8] {
        let mut kid = [0; 8];
        kid.copy_from_slice(&self.fingerprint[..8]);
        kid
    }
    /// Raw DER of the subject name.
    pub fn subject(&self) -> &[u8] {
        &self.subject
    }
    /// Raw DER of the issuer name.
    pub fn issuer(&self) -> &[u8] {
        &self.issuer
    }
    /// The subject as an RFC 4514-like string, for messages.
    pub fn subject_text(&self) -> &str {
        &self.subject_text
    }
    /// The issuer as an RFC 4514-like string, for messages.
    pub fn issuer_text(&self) -> &str {
        &self.issuer_text
    }
    /// Serial number, big-endian without leading zero bytes.
    pub fn serial(&self) -> &[u8] {
        &self.serial
    }
    pub fn not_before(&self) -> UnixTime {
        self.not_before
    }
    pub fn not_after(&self) -> UnixTime {
        self.not_after
    }
    pub fn is_valid_at(&self, at: UnixTime) -> bool {
        self.not_before <= at && at <= self.not_after
    }
    pub fn basic_constraints(&self) -> Option<BasicConstraints> {
        self.basic_constraints
    }
    /// basicConstraints present with CA=true.
    pub fn is_ca(&self) -> bool {
        self.basic_constraints.is_some_and(|b| b.ca)
    }
    pub fn key_usage(&self) -> Option<KeyUsage> {
        self.key_usage
    }
    pub fn key(&self) -> &PublicKey {
        &self.key
    }
    pub fn identity(&self) -> &Identity {
        &self.identity
    }

    /// Checks that `issuer` signed this certificate, in the algorithm of the issuer's key.
    pub fn verify_signed_by(&self, issuer: &PublicKey) -> Result<(), SignatureError> {
        let alg = self.sig_alg.ok_or(SignatureError::UnsupportedAlgorithm)?;
        crypto::verify(alg, issuer, &self.tbs, Signature::X509(&self.signature))
    }
}

impl fmt::Debug for Cert {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Cert")
            .field("subject", &self.subject_text)
            .field("serial", &hex(&self.serial))
            .finish_non_exhaustive()
    }
}

impl PartialEq for Cert {
    fn eq(&self, other: &Self) -> bool {
        self.der == other.der
    }
}
impl Eq for Cert {}

/// Big-endian integer bytes without leading zeros (serials compare equal however encoded).
pub fn strip_leading_zeros(bytes: &[u8]) -> &[u8] {
    let first = bytes.iter().position(|b| *b != 0).unwrap_or(bytes.len());
    bytes.get(first..).unwrap_or_default()
}

fn identity_of(name: &X509Name<'_>) -> Identity {
    let org_id_oid = Oid::new(Cow::Borrowed(OID_ORGANIZATION_IDENTIFIER));
    Identity {
        city: first_str(name.iter_locality()),
        department: first_str(name.iter_organizational_unit()),
        org_name: first_str(name.iter_organization()),
        org_id: first_str(name.iter_by_oid(&org_id_oid)),
    }
}

fn first_str<'a, 'b: 'a>(
    mut attrs: impl Iterator<Item = &'a AttributeTypeAndValue<'b>>,
) -> Option<String> {
    attrs
        .next()
        .and_then(|a| a.as_str().ok())
        .map(str::to_owned)
}
