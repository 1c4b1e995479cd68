//! [`Issued`]: a certificate with its private key.

use std::fmt;

use x509_cert::name::Name;

use super::build::{self, Signer};
use super::encoding::pem_encode;
use super::{CertSpec, Crl, KeyAlg, KeyUsage, PkiError, RevokedCert, UnixTime};
use crate::crypto::PrivateKey;

/// A certificate with its private key; can issue children and CRLs.
pub struct Issued {
    spec: CertSpec,
    name: Name,
    key: PrivateKey,
    cert_der: Vec<u8>,
}

impl fmt::Debug for Issued {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Issued")
            .field("subject", &self.spec.subject)
            .field("serial", &self.spec.serial)
            .field("key_alg", &self.spec.key_alg)
            .finish_non_exhaustive()
    }
}

impl Issued {
    /// A self-signed certificate (no authorityKeyIdentifier).
    pub fn self_signed(spec: &CertSpec) -> Result<Issued, PkiError> {
        let key = spec.key_alg.private_key()?;
        let name = build::name(&spec.subject)?;
        let signer = Signer {
            name: &name,
            key: &key,
        };
        let cert_der = build::certificate(spec, key.spki_der(), &signer, false)?;
        Ok(Issued {
            spec: spec.clone(),
            name,
            key,
            cert_der,
        })
    }

    /// A child signed by `self` in `self`'s algorithm, whatever `self`'s basicConstraints and
    /// keyUsage say.
    pub fn issue(&self, spec: &CertSpec) -> Result<Issued, PkiError> {
        let key = spec.key_alg.private_key()?;
        let cert_der = build::certificate(spec, key.spki_der(), &self.signer(), true)?;
        Ok(Issued {
            spec: spec.clone(),
            name: build::name(&spec.subject)?,
            key,
            cert_der,
        })
    }

    /// A child carrying the public key `spki_der` (any DER SubjectPublicKeyInfo), signed by
    /// `self`; returns the child's DER. `spec.key_alg` is ignored.
    pub fn issue_with_public_key(
        &self,
        spec: &CertSpec,
        spki_der: &[u8],
    ) -> Result<Vec<u8>, PkiError> {
        build::certificate(spec, spki_der, &self.signer(), true)
    }

    fn signer(&self) -> Signer<'_> {
        Signer {
            name: &self.name,
            key: &self.key,
        }
    }

    /// The spec this certificate was made from.
    pub fn spec(&self) -> &CertSpec {
        &self.spec
    }

    /// Certificate, DER.
    pub fn cert_der(&self) -> &[u8] {
        &self.cert_der
    }

    /// Certificate, PEM (`CERTIFICATE`).
    pub fn cert_pem(&self) -> String {
        pem_encode("CERTIFICATE", &self.cert_der)
    }

    /// Private key, PKCS#8 DER.
    pub fn key_pkcs8_der(&self) -> &[u8] {
        self.key.pkcs8_der()
    }

    /// Private key, PKCS#8 PEM (`PRIVATE KEY`).
    pub fn key_pem(&self) -> String {
        pem_encode("PRIVATE KEY", self.key.pkcs8_der())
    }

    /// Subject public key, DER SubjectPublicKeyInfo.
    pub fn spki_der(&self) -> Vec<u8> {
        self.key.spki_der().to_vec()
    }

    /// Key algorithm.
    pub fn key_alg(&self) -> KeyAlg {
        self.spec.key_alg
    }

    /// A v2 CRL signed by `self`. Refuses when `self` has a keyUsage without cRLSign, or when
    /// `next_update <= this_update`; see [`Issued::crl_unchecked`].
    pub fn crl(
        &self,
        revoked: &[RevokedCert],
        this_update: UnixTime,
        next_update: UnixTime,
        crl_number: u64,
    ) -> Result<Crl, PkiError> {
        let usages = self.spec.key_usage.as_deref();
        if usages.is_some_and(|u| !u.contains(&KeyUsage::CrlSign)) {
            return Err(PkiError::Crl("the issuer's keyUsage lacks cRLSign"));
        }
        if next_update <= this_update {
            return Err(PkiError::Crl("nextUpdate is not after thisUpdate"));
        }
        self.crl_unchecked(revoked, this_update, next_update, crl_number)
    }

    /// Like [`Issued::crl`] but whatever `self`'s keyUsage and the dates say (negative tests).
    pub fn crl_unchecked(
        &self,
        revoked: &[RevokedCert],
        this_update: UnixTime,
        next_update: UnixTime,
        crl_number: u64,
    ) -> Result<Crl, PkiError> {
        let entries: Vec<build::Entry> = revoked
            .iter()
            .map(|r| build::Entry {
                serial: r.serial,
                revoked_at: r.revoked_at,
                // RFC 5280 5.3.1: `unspecified` is never written
                reason: r.reason.map(|r| r.code()).filter(|code| *code != 0),
            })
            .collect();
        let der = build::crl(
            &self.signer(),
            &entries,
            this_update,
            next_update,
            crl_number,
        )?;
        Ok(Crl::from_der(der))
    }
}
