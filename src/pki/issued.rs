//! [`Issued`]: a certificate with its private key.

use std::fmt;

use rcgen::{CertificateParams, Issuer, KeyPair, PublicKeyData};

use super::crl::crl_signed_by;
use super::encoding::{pem_encode, ForeignPublicKey};
use super::{CertSpec, Crl, KeyAlg, PkiError, RevokedCert, UnixTime};

/// A certificate with its private key; can issue children and CRLs.
pub struct Issued {
    spec: CertSpec,
    params: CertificateParams,
    key: KeyPair,
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
        let params = spec.params(false)?;
        let key = spec.key_alg.key_pair()?;
        let cert = params.self_signed(&key)?;
        Ok(Issued {
            spec: spec.clone(),
            params,
            key,
            cert_der: cert.der().to_vec(),
        })
    }

    /// A child signed by `self`, whatever `self`'s basicConstraints and keyUsage say.
    pub fn issue(&self, spec: &CertSpec) -> Result<Issued, PkiError> {
        let params = spec.params(true)?;
        let key = spec.key_alg.key_pair()?;
        let issuer = Issuer::from_params(&self.params, &self.key);
        let cert = params.signed_by(&key, &issuer)?;
        Ok(Issued {
            spec: spec.clone(),
            params,
            key,
            cert_der: cert.der().to_vec(),
        })
    }

    /// A child carrying the public key `spki_der` (DER SubjectPublicKeyInfo; RSA, P-256,
    /// P-384 or Ed25519), signed by `self`; returns the child's DER. `spec.key_alg` is ignored.
    pub fn issue_with_public_key(
        &self,
        spec: &CertSpec,
        spki_der: &[u8],
    ) -> Result<Vec<u8>, PkiError> {
        let params = spec.params(true)?;
        let public_key = ForeignPublicKey::from_spki_der(spki_der)?;
        let issuer = Issuer::from_params(&self.params, &self.key);
        Ok(params.signed_by(&public_key, &issuer)?.der().to_vec())
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
        self.key.serialized_der()
    }

    /// Private key, PKCS#8 PEM (`PRIVATE KEY`).
    pub fn key_pem(&self) -> String {
        pem_encode("PRIVATE KEY", self.key.serialized_der())
    }

    /// Subject public key, DER SubjectPublicKeyInfo.
    pub fn spki_der(&self) -> Vec<u8> {
        self.key.subject_public_key_info()
    }

    /// Key algorithm.
    pub fn key_alg(&self) -> KeyAlg {
        self.spec.key_alg
    }

    /// A v2 CRL signed by `self`. Fails if `self` has a keyUsage without cRLSign, or if
    /// `next_update <= this_update` (rcgen's checks); see [`Issued::crl_unchecked`].
    pub fn crl(
        &self,
        revoked: &[RevokedCert],
        this_update: UnixTime,
        next_update: UnixTime,
        crl_number: u64,
    ) -> Result<Crl, PkiError> {
        let issuer = Issuer::from_params(&self.params, &self.key);
        crl_signed_by(&issuer, revoked, this_update, next_update, crl_number)
    }

    /// Like [`Issued::crl`] but also when `self`'s keyUsage lacks cRLSign (negative tests).
    pub fn crl_unchecked(
        &self,
        revoked: &[RevokedCert],
        this_update: UnixTime,
        next_update: UnixTime,
        crl_number: u64,
    ) -> Result<Crl, PkiError> {
        let mut params = self.params.clone();
        params.key_usages.clear();
        let issuer = Issuer::new(params, &self.key);
        crl_signed_by(&issuer, revoked, this_update, next_update, crl_number)
    }
}
