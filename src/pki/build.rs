//! Certificates and CRLs as DER, in every algorithm of the contract (SM2 included): the
//! structures come from RustCrypto `x509-cert`, the signatures from [`crate::crypto`].

use std::str::FromStr;
use std::time::Duration;

use ::sm2::dsa::signature::{Error as SignatureError, Keypair, Signer as SignerTrait};
use x509_cert::attr::AttributeTypeAndValue;
use x509_cert::builder::{Builder, CertificateBuilder, Profile as BuilderProfile};
use x509_cert::certificate::{Rfc5280, TbsCertificate, Version};
use x509_cert::crl::{CertificateList, RevokedCert as CrlEntry, TbsCertList};
use x509_cert::der::asn1::{
    BitString, GeneralizedTime, Ia5String, OctetString, UtcTime, Utf8StringRef,
};
use x509_cert::der::{Any, Decode, Document, Encode};
use x509_cert::ext::pkix::crl::CrlNumber;
use x509_cert::ext::pkix::name::GeneralName;
use x509_cert::ext::pkix::{
    AuthorityKeyIdentifier, BasicConstraints, CrlReason, ExtendedKeyUsage, KeyUsage, KeyUsages,
    SubjectAltName, SubjectKeyIdentifier,
};
use x509_cert::ext::{Extension, ToExtension};
use x509_cert::name::{Name, RdnSequence, RelativeDistinguishedName};
use x509_cert::serial_number::SerialNumber;
use x509_cert::spki::der::oid::AssociatedOid;
use x509_cert::spki::{
    AlgorithmIdentifierOwned, DynSignatureAlgorithmIdentifier, EncodePublicKey, ObjectIdentifier,
    SignatureBitStringEncoding, SubjectPublicKeyInfoOwned, SubjectPublicKeyInfoRef,
};
use x509_cert::time::{Time, Validity};

use super::{CaKind, CertSpec, ExtKeyUsage, KeyUsage as Usage, PkiError, Subject, UnixTime};
use crate::crypto::{sha256, Algorithm, Form, PrivateKey};

const OID_L: &str = "2.5.4.7";
const OID_O: &str = "2.5.4.10";
const OID_OU: &str = "2.5.4.11";
const OID_ORG_ID: &str = "2.5.4.97";
const OID_CN: &str = "2.5.4.3";
const OID_SERVER_AUTH: &str = "1.3.6.1.5.5.7.3.1";
const OID_CLIENT_AUTH: &str = "1.3.6.1.5.5.7.3.2";
/// RSA signature algorithm identifiers carry an explicit NULL; the others no parameters.
const RSA_ALGS: [Algorithm; 3] = [
    Algorithm::RsaPkcs1Sha256,
    Algorithm::RsaPkcs1Sha384,
    Algorithm::RsaPkcs1Sha512,
];

/// Who signs: its name and its key.
pub(super) struct Signer<'a> {
    pub name: &'a Name,
    pub key: &'a PrivateKey,
}

/// A certificate for `spec` carrying `subject_spki`, signed by `issuer` in the algorithm of
/// `issuer`'s key (self-signed: `issuer` is the subject itself and no AKI is written).
pub(super) fn certificate(
    spec: &CertSpec,
    subject_spki: &[u8],
    issuer: &Signer<'_>,
    with_aki: bool,
) -> Result<Vec<u8>, PkiError> {
    let spki = SubjectPublicKeyInfoOwned::from_der(subject_spki)
        .map_err(|e| PkiError::Spki(e.to_string()))?;
    let profile = Profile {
        subject: name(&spec.subject)?,
        issuer: issuer.name.clone(),
        extensions: extensions(spec, subject_spki, issuer.key.spki_der(), with_aki)?,
    };
    let validity = Validity::new(time(spec.not_before)?, time(spec.not_after)?);
    let builder = CertificateBuilder::new(
        profile,
        SerialNumber::new(&spec.serial.to_be_bytes()).map_err(der_err)?,
        validity,
        spki,
    )
    .map_err(der_err)?;
    let signer = CertSigner {
        key: issuer.key,
        alg: Algorithm::default_for(issuer.key.key_type()),
    };
    builder
        .build::<_, RawSignature>(&signer)
        .map_err(der_err)?
        .to_der()
        .map_err(der_err)
}

/// The names and extensions of one certificate (x509-cert asks them of a profile).
struct Profile {
    subject: Name,
    issuer: Name,
    extensions: Vec<Extension>,
}

impl BuilderProfile for Profile {
    fn get_issuer(&self, _subject: &Name) -> Name {
        self.issuer.clone()
    }
    fn get_subject(&self) -> Name {
        self.subject.clone()
    }
    fn build_extensions(
        &self,
        _spk: SubjectPublicKeyInfoRef<'_>,
        _issuer_spk: SubjectPublicKeyInfoRef<'_>,
        _tbs: &TbsCertificate,
    ) -> x509_cert::builder::Result<Vec<Extension>> {
        Ok(self.extensions.clone())
    }
}

/// [`PrivateKey`] in the shape x509-cert's builder signs with.
struct CertSigner<'a> {
    key: &'a PrivateKey,
    alg: Algorithm,
}

/// A signature value as [`PrivateKey::sign`] makes it for X.509.
struct RawSignature(Vec<u8>);

/// A public key known by its SubjectPublicKeyInfo.
#[derive(Clone)]
struct Spki(Vec<u8>);

impl Keypair for CertSigner<'_> {
    type VerifyingKey = Spki;
    fn verifying_key(&self) -> Spki {
        Spki(self.key.spki_der().to_vec())
    }
}

impl EncodePublicKey for Spki {
    fn to_public_key_der(&self) -> x509_cert::spki::Result<Document> {
        Ok(Document::from_der(&self.0)?)
    }
}

impl DynSignatureAlgorithmIdentifier for CertSigner<'_> {
    fn signature_algorithm_identifier(&self) -> x509_cert::spki::Result<AlgorithmIdentifierOwned> {
        algorithm_identifier(self.alg).map_err(|_| x509_cert::spki::Error::KeyMalformed)
    }
}

impl SignerTrait<RawSignature> for CertSigner<'_> {
    fn try_sign(&self, msg: &[u8]) -> Result<RawSignature, SignatureError> {
        self.key
            .sign(self.alg, Form::X509, msg)
            .map(RawSignature)
            .map_err(|_| SignatureError::new())
    }
}

impl SignatureBitStringEncoding for RawSignature {
    fn to_bitstring(&self) -> x509_cert::der::Result<BitString> {
        BitString::from_bytes(&self.0)
    }
}

/// One CRL entry: serial, revocation time and reason code (`None`: no reasonCode extension).
pub(super) struct Entry {
    pub serial: u64,
    pub revoked_at: UnixTime,
    pub reason: Option<u8>,
}

/// A v2 CRL with a CRL number and authorityKeyIdentifier, signed by `issuer`.
pub(super) fn crl(
    issuer: &Signer<'_>,
    entries: &[Entry],
    this_update: UnixTime,
    next_update: UnixTime,
    crl_number: u64,
) -> Result<Vec<u8>, PkiError> {
    let alg = Algorithm::default_for(issuer.key.key_type());
    let revoked = entries
        .iter()
        .map(|e| {
            let reason = e
                .reason
                .map(|code| ext(false, &reason(code)?))
                .transpose()?;
            Ok(CrlEntry {
                serial_number: SerialNumber::<Rfc5280>::new(&e.serial.to_be_bytes())
                    .map_err(der_err)?,
                revocation_date: time(e.revoked_at)?,
                crl_entry_extensions: reason.map(|r| vec![r]),
            })
        })
        .collect::<Result<Vec<_>, PkiError>>()?;
    let number =
        CrlNumber(x509_cert::der::asn1::Uint::new(&crl_number.to_be_bytes()).map_err(der_err)?);
    let crl_extensions = vec![
        ext(false, &number)?,
        ext(false, &aki(issuer.key.spki_der())?)?,
    ];
    let tbs = TbsCertList {
        version: Version::V2,
        signature: algorithm_identifier(alg)?,
        issuer: issuer.name.clone(),
        this_update: time(this_update)?,
        next_update: Some(time(next_update)?),
        revoked_certificates: (!revoked.is_empty()).then_some(revoked),
        crl_extensions: Some(crl_extensions),
    };
    let tbs_der = tbs.to_der().map_err(der_err)?;
    let signature = issuer
        .key
        .sign(alg, Form::X509, &tbs_der)
        .map_err(|e| PkiError::Sign(e.to_string()))?;
    let signature = BitString::from_bytes(&signature).map_err(der_err)?;
    CertificateList {
        signature_algorithm: tbs.signature.clone(),
        tbs_cert_list: tbs,
        signature,
    }
    .to_der()
    .map_err(der_err)
}

/// The subject as L, O, OU, organizationIdentifier, CN, all UTF8String.
pub(super) fn name(subject: &Subject) -> Result<Name, PkiError> {
    let attrs = [
        (OID_L, subject.city.as_deref()),
        (OID_O, subject.org.as_deref()),
        (OID_OU, subject.dept.as_deref()),
        (OID_ORG_ID, subject.org_id.as_deref()),
        (OID_CN, Some(subject.cn.as_str())),
    ];
    let mut rdns = RdnSequence::default();
    for (oid, value) in attrs {
        let Some(value) = value else { continue };
        let value =
            Any::encode_from(&Utf8StringRef::new(value).map_err(der_err)?).map_err(der_err)?;
        let atv = AttributeTypeAndValue {
            oid: oid_of(oid)?,
            value,
        };
        rdns.push(RelativeDistinguishedName::try_from(vec![atv]).map_err(der_err)?);
    }
    Ok(Name::hazmat_from_rdn_sequence(rdns))
}

fn extensions(
    spec: &CertSpec,
    subject_spki: &[u8],
    issuer_spki: &[u8],
    with_aki: bool,
) -> Result<Vec<Extension>, PkiError> {
    let mut out = Vec::new();
    match spec.ca {
        CaKind::Ca { path_len } => out.push(ext(
            true,
            &BasicConstraints {
                ca: true,
                path_len_constraint: path_len,
            },
        )?),
        CaKind::EndEntity => out.push(ext(
            true,
            &BasicConstraints {
                ca: false,
                path_len_constraint: None,
            },
        )?),
        CaKind::NoBasicConstraints => {}
    }
    if let Some(usages) = &spec.key_usage {
        let mut flags = x509_cert::der::flagset::FlagSet::<KeyUsages>::default();
        for u in usages {
            flags |= match u {
                Usage::DigitalSignature => KeyUsages::DigitalSignature,
                Usage::NonRepudiation => KeyUsages::NonRepudiation,
                Usage::KeyEncipherment => KeyUsages::KeyEncipherment,
                Usage::KeyCertSign => KeyUsages::KeyCertSign,
                Usage::CrlSign => KeyUsages::CRLSign,
            };
        }
        out.push(ext(true, &KeyUsage(flags))?);
    }
    if !spec.ext_key_usage.is_empty() {
        let purposes = spec
            .ext_key_usage
            .iter()
            .map(|p| {
                oid_of(match p {
                    ExtKeyUsage::ServerAuth => OID_SERVER_AUTH,
                    ExtKeyUsage::ClientAuth => OID_CLIENT_AUTH,
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        out.push(ext(false, &ExtendedKeyUsage(purposes))?);
    }
    if !spec.san_dns.is_empty() || !spec.san_ip.is_empty() {
        let mut names = Vec::new();
        for dns in &spec.san_dns {
            names.push(GeneralName::DnsName(
                Ia5String::new(dns.as_str()).map_err(der_err)?,
            ));
        }
        for ip in &spec.san_ip {
            let octets = match ip {
                std::net::IpAddr::V4(v4) => v4.octets().to_vec(),
                std::net::IpAddr::V6(v6) => v6.octets().to_vec(),
            };
            names.push(GeneralName::IpAddress(
                OctetString::new(octets).map_err(der_err)?,
            ));
        }
        out.push(ext(false, &SubjectAltName(names))?);
    }
    let ski = SubjectKeyIdentifier(OctetString::new(key_id(subject_spki)).map_err(der_err)?);
    out.push(ext(false, &ski)?);
    if with_aki {
        out.push(ext(false, &aki(issuer_spki)?)?);
    }
    Ok(out)
}

/// An extension with its criticality as given.
fn ext<T: AssociatedOid + Encode>(critical: bool, value: &T) -> Result<Extension, PkiError> {
    (critical, value)
        .to_extension(&Name::default(), &[])
        .map_err(der_err)
}

fn aki(issuer_spki: &[u8]) -> Result<AuthorityKeyIdentifier, PkiError> {
    Ok(AuthorityKeyIdentifier {
        key_identifier: Some(OctetString::new(key_id(issuer_spki)).map_err(der_err)?),
        authority_cert_issuer: None,
        authority_cert_serial_number: None,
    })
}

/// Key identifier: the first 20 bytes of SHA-256 over the SubjectPublicKeyInfo.
fn key_id(spki: &[u8]) -> Vec<u8> {
    sha256(spki)[..20].to_vec()
}

fn reason(code: u8) -> Result<CrlReason, PkiError> {
    Ok(match code {
        0 => CrlReason::Unspecified,
        1 => CrlReason::KeyCompromise,
        2 => CrlReason::CaCompromise,
        3 => CrlReason::AffiliationChanged,
        4 => CrlReason::Superseded,
        5 => CrlReason::CessationOfOperation,
        6 => CrlReason::CertificateHold,
        8 => CrlReason::RemoveFromCRL,
        9 => CrlReason::PrivilegeWithdrawn,
        10 => CrlReason::AaCompromise,
        other => return Err(PkiError::Sign(format!("no CRL reason {other}"))),
    })
}

fn algorithm_identifier(alg: Algorithm) -> Result<AlgorithmIdentifierOwned, PkiError> {
    let oid = alg
        .x509_oid()
        .ok_or_else(|| PkiError::Sign(format!("`{alg}` has no X.509 form")))?;
    Ok(AlgorithmIdentifierOwned {
        oid: oid_of(oid)?,
        parameters: RSA_ALGS.contains(&alg).then_some(Any::null()),
    })
}

/// UTCTime through 2049, GeneralizedTime after (RFC 5280 4.1.2.5).
fn time(t: UnixTime) -> Result<Time, PkiError> {
    /// 2050-01-01T00:00:00Z.
    const GENERALIZED_FROM: UnixTime = 2_524_608_000;
    let since_epoch = Duration::from_secs(u64::try_from(t).map_err(|_| PkiError::Time(t))?);
    if t < GENERALIZED_FROM {
        UtcTime::from_unix_duration(since_epoch).map(Time::UtcTime)
    } else {
        GeneralizedTime::from_unix_duration(since_epoch).map(Time::GeneralTime)
    }
    .map_err(|_| PkiError::Time(t))
}

fn oid_of(dotted: &str) -> Result<ObjectIdentifier, PkiError> {
    ObjectIdentifier::from_str(dotted).map_err(|e| PkiError::Sign(e.to_string()))
}

fn der_err(e: impl std::fmt::Display) -> PkiError {
    PkiError::Sign(format!("DER encoding: {e}"))
}
