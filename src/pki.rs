//! Test and demo PKI made by code: city root and intermediate CAs, licence-signing,
//! TLS client and server certificates, CRLs, and a trust-directory writer, in every algorithm
//! of the contract (SM2 included; mixed chains too: a child is signed in its issuer's algorithm).
//!
//! Keys are random (RSA keys are fixed, see `src/pki/keys/README.md`); everything else
//! (serials, names, dates) is deterministic given the [`CertSpec`]. Nothing here checks
//! that a certificate makes sense: tests need the broken ones too. Certificates and CRLs are
//! built with RustCrypto `x509-cert` ([`build`]) and signed with [`crate::crypto`].

use std::net::IpAddr;

mod build;
mod crl;
pub mod demo;
mod encoding;
mod issued;
mod trust_dir;

pub use crl::{Crl, Reason, RevokedCert};
pub use encoding::{pem_encode, rsa1024_spki_der};
pub use issued::Issued;
pub use trust_dir::{RevokedLicence, TrustDirWriter};

#[cfg(test)]
use encoding::pem_decode;
use encoding::{RSA2048_A_PEM, RSA2048_B_PEM};

use crate::crypto::{Algorithm, KeyError, KeyType, PrivateKey};

#[cfg(test)]
mod tests;

pub use crate::time::UnixTime;

/// OID of the X.520 `organizationIdentifier` attribute (2.5.4.97).
pub const OID_ORGANIZATION_IDENTIFIER: &[u64] = &[2, 5, 4, 97];

/// Errors of this module.
#[derive(Debug, thiserror::Error)]
pub enum PkiError {
    /// A key could not be made or read.
    #[error("key: {0}")]
    Key(#[from] KeyError),
    /// A Unix time that a certificate cannot carry (before 1970, beyond 9999).
    #[error("unix time {0} is out of range")]
    Time(UnixTime),
    /// A CRL that [`Issued::crl`] refuses to sign (see [`Issued::crl_unchecked`]).
    #[error("refusing to sign the CRL: {0}")]
    Crl(&'static str),
    /// A SubjectPublicKeyInfo that could not be parsed or is of an unsupported algorithm.
    #[error("unsupported or malformed subject public key info: {0}")]
    Spki(String),
    /// A PEM blob that could not be decoded.
    #[error("malformed pem: {0}")]
    Pem(String),
    /// The raw signing primitive failed.
    #[error("signing failed: {0}")]
    Sign(String),
}

/// Key material of a certificate's subject key; also fixes the signature algorithm of
/// everything that key signs ([`Algorithm::default_for`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeyAlg {
    /// ECDSA P-256, signs with ecdsa-with-SHA256.
    P256,
    /// ECDSA P-384, signs with ecdsa-with-SHA384.
    P384,
    /// Ed25519.
    Ed25519,
    /// RSA 2048 key "a" (committed), signs with sha256WithRSAEncryption (PKCS#1 v1.5).
    Rsa2048,
    /// RSA 2048 key "b" (committed), a second distinct RSA key.
    Rsa2048B,
    /// SM2 (国密), signs with SM2-with-SM3 and the signer ID `1234567812345678`.
    Sm2,
}

impl KeyAlg {
    /// All variants.
    pub const ALL: [KeyAlg; 6] = [
        KeyAlg::P256,
        KeyAlg::P384,
        KeyAlg::Ed25519,
        KeyAlg::Rsa2048,
        KeyAlg::Rsa2048B,
        KeyAlg::Sm2,
    ];

    /// The key family.
    pub fn key_type(self) -> KeyType {
        match self {
            KeyAlg::P256 => KeyType::P256,
            KeyAlg::P384 => KeyType::P384,
            KeyAlg::Ed25519 => KeyType::Ed25519,
            KeyAlg::Rsa2048 | KeyAlg::Rsa2048B => KeyType::Rsa,
            KeyAlg::Sm2 => KeyType::Sm2,
        }
    }

    /// The algorithm this key signs certificates, CRLs and licences with.
    pub fn algorithm(self) -> Algorithm {
        Algorithm::default_for(self.key_type())
    }

    /// Dotted OID of the signature algorithm this key signs certificates and CRLs with.
    pub fn signature_oid(self) -> &'static str {
        self.algorithm().x509_oid().unwrap_or_default()
    }

    fn private_key(self) -> Result<PrivateKey, PkiError> {
        Ok(match self {
            KeyAlg::Rsa2048 => PrivateKey::from_pkcs8_pem(RSA2048_A_PEM)?,
            KeyAlg::Rsa2048B => PrivateKey::from_pkcs8_pem(RSA2048_B_PEM)?,
            other => PrivateKey::generate(other.key_type())?,
        })
    }
}

/// What the basicConstraints extension says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CaKind {
    /// basicConstraints CA=true, optional pathLenConstraint.
    Ca {
        /// pathLenConstraint; `None` = absent.
        path_len: Option<u8>,
    },
    /// basicConstraints present with CA=false.
    EndEntity,
    /// No basicConstraints extension at all.
    NoBasicConstraints,
}

/// keyUsage bits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeyUsage {
    /// digitalSignature (bit 0).
    DigitalSignature,
    /// nonRepudiation / contentCommitment (bit 1).
    NonRepudiation,
    /// keyEncipherment (bit 2).
    KeyEncipherment,
    /// keyCertSign (bit 5).
    KeyCertSign,
    /// cRLSign (bit 6).
    CrlSign,
}

/// extendedKeyUsage purposes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ExtKeyUsage {
    /// id-kp-serverAuth.
    ServerAuth,
    /// id-kp-clientAuth.
    ClientAuth,
}

/// Subject name. Written in the order L, O, OU, organizationIdentifier, CN, all as UTF8String.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Subject {
    /// commonName.
    pub cn: String,
    /// localityName: 6-digit city division code, e.g. `420100`.
    pub city: Option<String>,
    /// organizationalUnitName: department kind code, e.g. `MARKET_REG`.
    pub dept: Option<String>,
    /// organizationName, e.g. `武汉市市场监督管理局`.
    pub org: Option<String>,
    /// organizationIdentifier (2.5.4.97): 18-char unified social credit code.
    pub org_id: Option<String>,
}

impl Subject {
    /// A subject with only a CN.
    pub fn cn(cn: &str) -> Self {
        Subject {
            cn: cn.to_owned(),
            city: None,
            dept: None,
            org: None,
            org_id: None,
        }
    }
}

/// Everything needed to make one certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertSpec {
    /// Subject name.
    pub subject: Subject,
    /// Subject key algorithm.
    pub key_alg: KeyAlg,
    /// basicConstraints.
    pub ca: CaKind,
    /// None = no keyUsage extension.
    pub key_usage: Option<Vec<KeyUsage>>,
    /// Validity start.
    pub not_before: UnixTime,
    /// Validity end.
    pub not_after: UnixTime,
    /// Serial number (constructors derive it from the name and validity).
    pub serial: u64,
    /// DNS names for a TLS server certificate (empty otherwise).
    pub san_dns: Vec<String>,
    /// IP addresses for a TLS server certificate (empty otherwise).
    pub san_ip: Vec<IpAddr>,
    /// Extended key usage (empty = extension absent).
    pub ext_key_usage: Vec<ExtKeyUsage>,
}

impl CertSpec {
    fn base(
        subject: Subject,
        ca: CaKind,
        usage: Vec<KeyUsage>,
        nb: UnixTime,
        na: UnixTime,
    ) -> Self {
        let serial = deterministic_serial(&subject, nb, na);
        CertSpec {
            subject,
            key_alg: KeyAlg::P256,
            ca,
            key_usage: Some(usage),
            not_before: nb,
            not_after: na,
            serial,
            san_dns: Vec::new(),
            san_ip: Vec::new(),
            ext_key_usage: Vec::new(),
        }
    }

    /// A city root CA: P-256, CA without pathLen, keyCertSign+cRLSign, subject L + CN.
    pub fn root(city: &str, cn: &str, not_before: UnixTime, not_after: UnixTime) -> Self {
        let subject = Subject {
            city: Some(city.to_owned()),
            ..Subject::cn(cn)
        };
        Self::base(
            subject,
            CaKind::Ca { path_len: None },
            vec![KeyUsage::KeyCertSign, KeyUsage::CrlSign],
            not_before,
            not_after,
        )
    }

    /// An intermediate CA: like [`CertSpec::root`] but with pathLen 0.
    pub fn intermediate(city: &str, cn: &str, not_before: UnixTime, not_after: UnixTime) -> Self {
        let mut spec = Self::root(city, cn, not_before, not_after);
        spec.ca = CaKind::Ca { path_len: Some(0) };
        spec
    }

    /// A licence signer: end entity, digitalSignature+nonRepudiation, full department
    /// subject with CN `<city>-<dept>-signer`.
    pub fn signer(
        city: &str,
        dept: &str,
        org: &str,
        org_id: &str,
        not_before: UnixTime,
        not_after: UnixTime,
    ) -> Self {
        let subject = Subject {
            cn: format!("{city}-{dept}-signer"),
            city: Some(city.to_owned()),
            dept: Some(dept.to_owned()),
            org: Some(org.to_owned()),
            org_id: Some(org_id.to_owned()),
        };
        Self::base(
            subject,
            CaKind::EndEntity,
            vec![KeyUsage::DigitalSignature, KeyUsage::NonRepudiation],
            not_before,
            not_after,
        )
    }

    /// A department's TLS client: end entity, digitalSignature, EKU clientAuth,
    /// CN `<city>-<dept>-client`.
    pub fn client(
        city: &str,
        dept: &str,
        org: &str,
        org_id: Option<&str>,
        not_before: UnixTime,
        not_after: UnixTime,
    ) -> Self {
        let subject = Subject {
            cn: format!("{city}-{dept}-client"),
            city: Some(city.to_owned()),
            dept: Some(dept.to_owned()),
            org: Some(org.to_owned()),
            org_id: org_id.map(str::to_owned),
        };
        let mut spec = Self::base(
            subject,
            CaKind::EndEntity,
            vec![KeyUsage::DigitalSignature],
            not_before,
            not_after,
        );
        spec.ext_key_usage = vec![ExtKeyUsage::ClientAuth];
        spec
    }

    /// A TLS server: end entity, digitalSignature, EKU serverAuth, SANs as given;
    /// CN is the first DNS name, else the first IP, else `tongban-server`.
    pub fn server(dns: &[&str], ips: &[IpAddr], not_before: UnixTime, not_after: UnixTime) -> Self {
        let cn = dns
            .first()
            .map(|d| (*d).to_owned())
            .or_else(|| ips.first().map(ToString::to_string))
            .unwrap_or_else(|| "tongban-server".to_owned());
        let mut spec = Self::base(
            Subject::cn(&cn),
            CaKind::EndEntity,
            vec![KeyUsage::DigitalSignature],
            not_before,
            not_after,
        );
        spec.san_dns = dns.iter().map(|d| (*d).to_owned()).collect();
        spec.san_ip = ips.to_vec();
        spec.ext_key_usage = vec![ExtKeyUsage::ServerAuth];
        // the serial must also depend on the SANs, not only on the CN
        spec.serial = deterministic_serial_with(&spec.subject, not_before, not_after, &{
            let mut extra = spec.san_dns.join(",");
            for ip in ips {
                extra.push(',');
                extra.push_str(&ip.to_string());
            }
            extra
        });
        spec
    }

    /// Builder-style: replace the key algorithm.
    pub fn with_key_alg(mut self, key_alg: KeyAlg) -> Self {
        self.key_alg = key_alg;
        self
    }

    /// Builder-style: replace the serial.
    pub fn with_serial(mut self, serial: u64) -> Self {
        self.serial = serial;
        self
    }
}

/// Serial derived from the subject and validity: SHA-256 of them, 63 bits, never 0.
pub fn deterministic_serial(subject: &Subject, not_before: UnixTime, not_after: UnixTime) -> u64 {
    deterministic_serial_with(subject, not_before, not_after, "")
}

fn deterministic_serial_with(subject: &Subject, nb: UnixTime, na: UnixTime, extra: &str) -> u64 {
    let opt = |o: &Option<String>| o.clone().unwrap_or_default();
    let input = format!(
        "{}\u{0}{}\u{0}{}\u{0}{}\u{0}{}\u{0}{nb}\u{0}{na}\u{0}{extra}",
        subject.cn,
        opt(&subject.city),
        opt(&subject.dept),
        opt(&subject.org),
        opt(&subject.org_id)
    );
    let digest = ring::digest::digest(&ring::digest::SHA256, input.as_bytes());
    let first: [u8; 8] = digest
        .as_ref()
        .get(..8)
        .and_then(|head| head.try_into().ok())
        .unwrap_or_default();
    (u64::from_be_bytes(first) & 0x7fff_ffff_ffff_ffff).max(1)
}
