//! Test and demo PKI made by code: city root and intermediate CAs, licence-signing,
//! TLS client and server certificates, CRLs, and a trust-directory writer.
//!
//! Keys are random (RSA keys are fixed, see `src/pki/keys/README.md`); everything else
//! (serials, names, dates) is deterministic given the [`CertSpec`]. Nothing here checks
//! that a certificate makes sense: tests need the broken ones too.

use std::fmt;
use std::net::IpAddr;

use rcgen::{
    BasicConstraints, CertificateParams, CertificateRevocationListParams, DistinguishedName,
    DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyIdMethod, KeyPair, KeyUsagePurpose,
    PublicKeyData, RevocationReason, RevokedCertParams, SanType, SerialNumber, SignatureAlgorithm,
    PKCS_ECDSA_P256_SHA256, PKCS_ECDSA_P384_SHA384, PKCS_ED25519, PKCS_RSA_SHA256,
};
use time::OffsetDateTime;

mod trust_dir;

pub use trust_dir::TrustDirWriter;

#[cfg(test)]
mod tests;

/// Unix seconds; the project's time type.
pub type UnixTime = i64;

/// OID of the X.520 `organizationIdentifier` attribute (2.5.4.97).
pub const OID_ORGANIZATION_IDENTIFIER: &[u64] = &[2, 5, 4, 97];

const RSA2048_A_PEM: &str = include_str!("pki/keys/rsa2048-a.pk8.pem");
const RSA2048_B_PEM: &str = include_str!("pki/keys/rsa2048-b.pk8.pem");
const RSA1024_SPKI_PEM: &str = include_str!("pki/keys/rsa1024.spki.pem");

/// Errors of this module.
#[derive(Debug, thiserror::Error)]
pub enum PkiError {
    /// rcgen refused to build or sign something.
    #[error("certificate generation failed: {0}")]
    Rcgen(#[from] rcgen::Error),
    /// A Unix time that `time::OffsetDateTime` cannot represent.
    #[error("unix time {0} is out of range")]
    Time(UnixTime),
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

/// Key algorithm of a certificate's subject key; also fixes the signature algorithm of
/// everything that key signs.
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
}

impl KeyAlg {
    /// All variants.
    pub const ALL: [KeyAlg; 5] = [
        KeyAlg::P256,
        KeyAlg::P384,
        KeyAlg::Ed25519,
        KeyAlg::Rsa2048,
        KeyAlg::Rsa2048B,
    ];

    fn rcgen_alg(self) -> &'static SignatureAlgorithm {
        match self {
            KeyAlg::P256 => &PKCS_ECDSA_P256_SHA256,
            KeyAlg::P384 => &PKCS_ECDSA_P384_SHA384,
            KeyAlg::Ed25519 => &PKCS_ED25519,
            KeyAlg::Rsa2048 | KeyAlg::Rsa2048B => &PKCS_RSA_SHA256,
        }
    }

    /// Dotted OID of the signature algorithm this key signs certificates and CRLs with.
    pub fn signature_oid(self) -> &'static str {
        match self {
            KeyAlg::P256 => "1.2.840.10045.4.3.2",
            KeyAlg::P384 => "1.2.840.10045.4.3.3",
            KeyAlg::Ed25519 => "1.3.101.112",
            KeyAlg::Rsa2048 | KeyAlg::Rsa2048B => "1.2.840.113549.1.1.11",
        }
    }

    /// JWS `alg` header value for this key (RFC 7518 / RFC 8037).
    pub fn jws_alg(self) -> &'static str {
        match self {
            KeyAlg::P256 => "ES256",
            KeyAlg::P384 => "ES384",
            KeyAlg::Ed25519 => "EdDSA",
            KeyAlg::Rsa2048 | KeyAlg::Rsa2048B => "RS256",
        }
    }

    fn key_pair(self) -> Result<KeyPair, PkiError> {
        Ok(match self {
            KeyAlg::P256 | KeyAlg::P384 | KeyAlg::Ed25519 => {
                KeyPair::generate_for(self.rcgen_alg())?
            }
            KeyAlg::Rsa2048 => {
                KeyPair::from_pkcs8_pem_and_sign_algo(RSA2048_A_PEM, &PKCS_RSA_SHA256)?
            }
            KeyAlg::Rsa2048B => {
                KeyPair::from_pkcs8_pem_and_sign_algo(RSA2048_B_PEM, &PKCS_RSA_SHA256)?
            }
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

impl KeyUsage {
    fn rcgen(self) -> KeyUsagePurpose {
        match self {
            KeyUsage::DigitalSignature => KeyUsagePurpose::DigitalSignature,
            KeyUsage::NonRepudiation => KeyUsagePurpose::ContentCommitment,
            KeyUsage::KeyEncipherment => KeyUsagePurpose::KeyEncipherment,
            KeyUsage::KeyCertSign => KeyUsagePurpose::KeyCertSign,
            KeyUsage::CrlSign => KeyUsagePurpose::CrlSign,
        }
    }
}

/// extendedKeyUsage purposes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ExtKeyUsage {
    /// id-kp-serverAuth.
    ServerAuth,
    /// id-kp-clientAuth.
    ClientAuth,
}

impl ExtKeyUsage {
    fn rcgen(self) -> ExtendedKeyUsagePurpose {
        match self {
            ExtKeyUsage::ServerAuth => ExtendedKeyUsagePurpose::ServerAuth,
            ExtKeyUsage::ClientAuth => ExtendedKeyUsagePurpose::ClientAuth,
        }
    }
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

    fn distinguished_name(&self) -> DistinguishedName {
        let mut dn = DistinguishedName::new();
        if let Some(city) = &self.city {
            dn.push(DnType::LocalityName, city.as_str());
        }
        if let Some(org) = &self.org {
            dn.push(DnType::OrganizationName, org.as_str());
        }
        if let Some(dept) = &self.dept {
            dn.push(DnType::OrganizationalUnitName, dept.as_str());
        }
        if let Some(org_id) = &self.org_id {
            dn.push(
                DnType::CustomDnType(OID_ORGANIZATION_IDENTIFIER.to_vec()),
                org_id.as_str(),
            );
        }
        dn.push(DnType::CommonName, self.cn.as_str());
        dn
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

    fn params(&self, with_aki: bool) -> Result<CertificateParams, PkiError> {
        let mut p = CertificateParams::default();
        p.distinguished_name = self.subject.distinguished_name();
        p.not_before = unix_to_dt(self.not_before)?;
        p.not_after = unix_to_dt(self.not_after)?;
        p.serial_number = Some(SerialNumber::from(self.serial));
        p.is_ca = match self.ca {
            CaKind::Ca { path_len: None } => IsCa::Ca(BasicConstraints::Unconstrained),
            CaKind::Ca { path_len: Some(n) } => IsCa::Ca(BasicConstraints::Constrained(n)),
            CaKind::EndEntity => IsCa::ExplicitNoCa,
            CaKind::NoBasicConstraints => IsCa::NoCa,
        };
        p.key_usages = self.key_usage.iter().flatten().map(|u| u.rcgen()).collect();
        p.extended_key_usages = self.ext_key_usage.iter().map(|u| u.rcgen()).collect();
        let mut sans = Vec::with_capacity(self.san_dns.len() + self.san_ip.len());
        for dns in &self.san_dns {
            sans.push(SanType::DnsName(dns.as_str().try_into()?));
        }
        sans.extend(self.san_ip.iter().copied().map(SanType::IpAddress));
        p.subject_alt_names = sans;
        p.use_authority_key_identifier_extension = with_aki;
        p.key_identifier_method = KeyIdMethod::Sha256;
        Ok(p)
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
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest.as_ref()[..8]);
    (u64::from_be_bytes(first) & 0x7fff_ffff_ffff_ffff).max(1)
}

fn unix_to_dt(t: UnixTime) -> Result<OffsetDateTime, PkiError> {
    OffsetDateTime::from_unix_timestamp(t).map_err(|_| PkiError::Time(t))
}

/// PEM-encode `der` under `label` (64-column base64, `\n` line ends).
pub fn pem_encode(label: &str, der: &[u8]) -> String {
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for chunk in b64.as_bytes().chunks(64) {
        out.push_str(&String::from_utf8_lossy(chunk));
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

fn pem_decode(pem: &str) -> Result<Vec<u8>, PkiError> {
    let (_, parsed) = x509_parser::pem::parse_x509_pem(pem.as_bytes())
        .map_err(|e| PkiError::Pem(e.to_string()))?;
    Ok(parsed.contents)
}

/// DER SubjectPublicKeyInfo of the committed, too-weak RSA 1024 key.
pub fn rsa1024_spki_der() -> Vec<u8> {
    // the file is committed and checked by a test, so this cannot fail in practice
    pem_decode(RSA1024_SPKI_PEM).unwrap_or_default()
}

/// A public key known only from its SubjectPublicKeyInfo.
struct ForeignPublicKey {
    alg: &'static SignatureAlgorithm,
    raw: Vec<u8>,
}

impl PublicKeyData for ForeignPublicKey {
    fn der_bytes(&self) -> &[u8] {
        &self.raw
    }
    fn algorithm(&self) -> &'static SignatureAlgorithm {
        self.alg
    }
}

impl ForeignPublicKey {
    /// Accepts RSA, EC P-256/P-384 and Ed25519 SPKIs that rcgen re-encodes byte for byte.
    fn from_spki_der(spki_der: &[u8]) -> Result<Self, PkiError> {
        use x509_parser::prelude::FromDer;
        let (rest, spki) = x509_parser::x509::SubjectPublicKeyInfo::from_der(spki_der)
            .map_err(|e| PkiError::Spki(e.to_string()))?;
        if !rest.is_empty() {
            return Err(PkiError::Spki("trailing bytes".into()));
        }
        let raw = spki.subject_public_key.as_ref().to_vec();
        for alg in [
            &PKCS_RSA_SHA256,
            &PKCS_ECDSA_P256_SHA256,
            &PKCS_ECDSA_P384_SHA384,
            &PKCS_ED25519,
        ] {
            let candidate = ForeignPublicKey {
                alg,
                raw: raw.clone(),
            };
            if candidate.subject_public_key_info() == spki_der {
                return Ok(candidate);
            }
        }
        Err(PkiError::Spki(format!(
            "algorithm {} not supported",
            spki.algorithm.algorithm.to_id_string()
        )))
    }
}

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

    /// Signs `msg` as JWS does ([`KeyAlg::jws_alg`]): ECDSA as fixed-width `r || s`,
    /// Ed25519 raw, RSA PKCS#1 v1.5 SHA-256.
    pub fn jws_sign(&self, msg: &[u8]) -> Result<Vec<u8>, PkiError> {
        use ring::signature::{self, EcdsaKeyPair, Ed25519KeyPair, RsaKeyPair};
        let rng = ring::rand::SystemRandom::new();
        let der = self.key.serialized_der();
        let err = |e: &dyn fmt::Display| PkiError::Sign(e.to_string());
        match self.spec.key_alg {
            KeyAlg::P256 | KeyAlg::P384 => {
                let alg = if self.spec.key_alg == KeyAlg::P256 {
                    &signature::ECDSA_P256_SHA256_FIXED_SIGNING
                } else {
                    &signature::ECDSA_P384_SHA384_FIXED_SIGNING
                };
                let kp = EcdsaKeyPair::from_pkcs8(alg, der, &rng).map_err(|e| err(&e))?;
                let sig = kp.sign(&rng, msg).map_err(|e| err(&e))?;
                Ok(sig.as_ref().to_vec())
            }
            KeyAlg::Ed25519 => {
                let kp = Ed25519KeyPair::from_pkcs8_maybe_unchecked(der).map_err(|e| err(&e))?;
                Ok(kp.sign(msg).as_ref().to_vec())
            }
            KeyAlg::Rsa2048 | KeyAlg::Rsa2048B => {
                let kp = RsaKeyPair::from_pkcs8(der).map_err(|e| err(&e))?;
                let mut sig = vec![0u8; kp.public().modulus_len()];
                kp.sign(&signature::RSA_PKCS1_SHA256, &rng, msg, &mut sig)
                    .map_err(|e| err(&e))?;
                Ok(sig)
            }
        }
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

fn crl_signed_by(
    issuer: &Issuer<'_, &KeyPair>,
    revoked: &[RevokedCert],
    this_update: UnixTime,
    next_update: UnixTime,
    crl_number: u64,
) -> Result<Crl, PkiError> {
    let revoked_certs = revoked
        .iter()
        .map(|r| {
            Ok(RevokedCertParams {
                serial_number: SerialNumber::from(r.serial),
                revocation_time: unix_to_dt(r.revoked_at)?,
                reason_code: r.reason.map(Reason::rcgen),
                invalidity_date: None,
            })
        })
        .collect::<Result<Vec<_>, PkiError>>()?;
    let params = CertificateRevocationListParams {
        this_update: unix_to_dt(this_update)?,
        next_update: unix_to_dt(next_update)?,
        crl_number: SerialNumber::from(crl_number),
        issuing_distribution_point: None,
        revoked_certs,
        key_identifier_method: KeyIdMethod::Sha256,
    };
    Ok(Crl {
        der: params.signed_by(issuer)?.der().to_vec(),
    })
}

/// One CRL entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RevokedCert {
    /// Serial of the revoked certificate.
    pub serial: u64,
    /// revocationDate.
    pub revoked_at: UnixTime,
    /// reasonCode entry extension; `None` and `Some(Unspecified)` both omit it
    /// (rcgen follows RFC 5280 §5.3.1 and never writes `unspecified`).
    pub reason: Option<Reason>,
}

/// CRL reason codes (RFC 5280 §5.3.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Reason {
    /// unspecified (0); never written, see [`RevokedCert::reason`].
    Unspecified,
    /// keyCompromise (1).
    KeyCompromise,
    /// cACompromise (2).
    CaCompromise,
    /// affiliationChanged (3).
    AffiliationChanged,
    /// superseded (4).
    Superseded,
    /// cessationOfOperation (5).
    CessationOfOperation,
    /// certificateHold (6).
    CertificateHold,
}

impl Reason {
    /// The RFC 5280 integer code.
    pub fn code(self) -> u8 {
        self.rcgen() as u8
    }

    fn rcgen(self) -> RevocationReason {
        match self {
            Reason::Unspecified => RevocationReason::Unspecified,
            Reason::KeyCompromise => RevocationReason::KeyCompromise,
            Reason::CaCompromise => RevocationReason::CaCompromise,
            Reason::AffiliationChanged => RevocationReason::AffiliationChanged,
            Reason::Superseded => RevocationReason::Superseded,
            Reason::CessationOfOperation => RevocationReason::CessationOfOperation,
            Reason::CertificateHold => RevocationReason::CertificateHold,
        }
    }
}

/// A DER-encoded X.509 v2 CRL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Crl {
    der: Vec<u8>,
}

impl Crl {
    /// DER.
    pub fn der(&self) -> &[u8] {
        &self.der
    }

    /// PEM (`X509 CRL`).
    pub fn pem(&self) -> String {
        pem_encode("X509 CRL", &self.der)
    }
}
