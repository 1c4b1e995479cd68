//! Differential test of SM2 (国密) verification against the `openssl` command
//! (docs/conformance.md, "SM2 against openssl").
//!
//! A seeded generator builds SM2 and mixed SM2/P-256 chains with `tongban::pki`, CRLs and
//! licences, each case with one fault (sometimes two) or none: another or an empty signer ID,
//! a DER signature where `r‖s` belongs, 63/65-byte signatures, r or s zero or ≥ n, `alg` against
//! the key both ways, a same-name CA with another key, a non-CA intermediate, a CA without
//! keyCertSign, certificates expired or not yet valid at `iat`, certificates and CRLs signed with
//! an empty signer ID, revocations by SM2 CRLs, CRLs signed by another key. Each case is judged
//! by `Verifier` on a trust directory and by an openssl oracle; both must agree on valid or
//! invalid and share a reason.
//!
//! OpenSSL 3.0 cannot judge a multi-level SM2 chain in one `openssl verify` (the signer ID reaches
//! one link only) nor an SM2 CRL (`-crl_check` ignores the signer ID), so the oracle judges each
//! object on its own:
//! - each link (child, issuer): `openssl verify -partial_chain -CAfile issuer -attime <iat> child`,
//!   with `-vfyopt distid:1234567812345678` exactly when the issuer's key is SM2 (it breaks
//!   ECDSA links) and `-purpose smimesign` for the signer: signature, both certificates' validity
//!   at `iat`, the issuer acting as a CA;
//! - each CRL: its signature by `openssl pkeyutl -verify -rawin` over the TBS with the issuer's
//!   certificate, its entries from `openssl crl -text`, then the contract's revocation-date rule;
//! - the licence: the signer's key type from `openssl x509 -text` against the header `alg`, the
//!   contract's 64-byte rule, then `openssl pkeyutl -verify` over the JWS signing input (`r‖s`
//!   as DER).
//!
//! Every signature made with another signer ID or in DER also gets a control run: openssl accepts
//! it with that ID (or form). So each such case is a genuine signature with one parameter wrong,
//! which is the interoperability trap it shows (OpenSSL's default is an empty ID).
//!
//! `TONGBAN_SM2_DIFF_CASES` and `TONGBAN_SM2_DIFF_SEED` override the case count and seed;
//! `TONGBAN_DIFF_VERBOSE=1` prints every case.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "test code: a failure here is a failed test"
)]

#[path = "common/differential.rs"]
mod differential;

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::fmt::Write as _;
use std::fs;
use std::path::Path;
use std::time::Instant;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde_json::Value;
use x509_cert::der::asn1::UintRef;
use x509_cert::der::{Any, Decode, Encode, Tag};

use differential::{
    case_draft, crl_by, env_or, expire_before_iat, openssl, openssl_version, our_code_for,
    parse_openssl_errors, run_on_workers, signer_spec, start_after_iat, verbose, window, Rng, CITY,
    DAY, IAT, NOW,
};
use tongban::catalog::Catalog;
use tongban::crypto::sm2::DEFAULT_DISTID;
use tongban::crypto::{Algorithm, PrivateKey};
use tongban::licence::issue::{sign_parts, LicenceSigner, SignerHeader};
use tongban::pki::{
    CaKind, CertSpec, Issued, KeyAlg, KeyUsage, Reason, RevokedCert, TrustDirWriter, UnixTime,
};
use tongban::trust::cert::Cert;
use tongban::{Code, Verifier};

const DEFAULT_CASES: usize = 120;
const DEFAULT_SEED: u64 = 0x5d2a_3e07_c1b9_4f61;
/// The SM2 group order n.
const SM2_N: &str = "FFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFF7203DF6B21C6052B53BBF40939D54123";
/// The codes a case can give: everything else about the licence is valid.
const CASE_CODES: [Code; 6] = [
    Code::ChainUntrusted,
    Code::CertNotValidAtIssuance,
    Code::CertRevoked,
    Code::SignerNotEligible,
    Code::SignatureInvalid,
    Code::UnsupportedAlgorithm,
];

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    Valid,
    // the licence signature
    OtherSignerId,
    EmptySignerId,
    DerSignature,
    Short63,
    Long65,
    ScalarOutOfRange,
    Tampered,
    Sm2HeaderOverP256Key,
    Es256HeaderOverSm2Key,
    // certificates
    SameNameOtherKey,
    IntermediateNotCa,
    CaWithoutKeyCertSign,
    Expired,
    NotYetValid,
    CertEmptySignerId,
    // CRLs
    Revoked,
    CrlEmptySignerId,
    CrlOtherKey,
}

impl Kind {
    /// A fault of the licence signature or its `alg`.
    fn is_licence_fault(self) -> bool {
        matches!(
            self,
            Kind::OtherSignerId
                | Kind::EmptySignerId
                | Kind::DerSignature
                | Kind::Short63
                | Kind::Long65
                | Kind::ScalarOutOfRange
                | Kind::Tampered
                | Kind::Sm2HeaderOverP256Key
                | Kind::Es256HeaderOverSm2Key
        )
    }
}

/// Case `i` takes the kind at `i % len` of this deck (each kind repeated by its weight), so every
/// kind appears in every run of 30 cases or more.
const DECK: [(Kind, usize); 19] = [
    (Kind::Valid, 4),
    (Kind::OtherSignerId, 1),
    (Kind::EmptySignerId, 1),
    (Kind::DerSignature, 1),
    (Kind::Short63, 1),
    (Kind::Long65, 1),
    (Kind::ScalarOutOfRange, 2),
    (Kind::Tampered, 1),
    (Kind::Sm2HeaderOverP256Key, 1),
    (Kind::Es256HeaderOverSm2Key, 1),
    (Kind::SameNameOtherKey, 2),
    (Kind::IntermediateNotCa, 1),
    (Kind::CaWithoutKeyCertSign, 1),
    (Kind::Expired, 2),
    (Kind::NotYetValid, 1),
    (Kind::CertEmptySignerId, 2),
    (Kind::Revoked, 4),
    (Kind::CrlEmptySignerId, 1),
    (Kind::CrlOtherKey, 1),
];

/// Kinds a case may carry as a second fault (certificates and CRLs only: one licence fault each).
const SECOND: [Kind; 7] = [
    Kind::Expired,
    Kind::NotYetValid,
    Kind::Revoked,
    Kind::SameNameOtherKey,
    Kind::IntermediateNotCa,
    Kind::CaWithoutKeyCertSign,
    Kind::CertEmptySignerId,
];

/// How a certificate or CRL is signed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Signing {
    /// By its issuer, SM2 with the signer ID of the contract.
    Genuine,
    /// By its issuer's SM2 key with an empty signer ID (OpenSSL's default without `distid:`).
    EmptyId,
    /// By an impostor: the issuer's name, another key (of the issuer's algorithm or the other one).
    Impostor { same_alg: bool },
}

/// The licence's signature fault.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum LicenceFault {
    None,
    /// Signed with this signer ID instead of the contract's.
    SignerId(&'static str),
    /// The DER `SEQUENCE { r, s }` of a good signature.
    Der,
    /// 63 bytes: the first or the last byte dropped.
    Drop {
        first: bool,
    },
    /// 65 bytes: a zero in front, or this byte after.
    Extra {
        prepend: bool,
        byte: u8,
    },
    /// r or s replaced.
    Scalar {
        r: bool,
        value: ScalarValue,
    },
    /// One bit of a good signature flipped.
    FlipBit(usize),
    /// The header's `alg` replaced, the licence signed again with the key's own algorithm.
    Alg(&'static str),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ScalarValue {
    Zero,
    N,
    NPlusOne,
    AllOnes,
}

/// One chain certificate: index 0 is the signer, `n + 1` the root.
struct Slot {
    spec: CertSpec,
    signed: Signing,
    /// Intermediates: in `x5c`, else in the trust directory's `intermediates/`.
    in_x5c: bool,
}

/// A CRL of the CA at some chain index.
struct CrlPlan {
    /// (chain index of the revoked certificate, or `None` for an unrelated serial; reason; date).
    entries: Vec<(Option<usize>, Option<Reason>, UnixTime)>,
    signed: Signing,
    this_update: UnixTime,
}

struct Case {
    id: usize,
    kinds: Vec<Kind>,
    desc: Vec<String>,
    slots: Vec<Slot>,
    /// By chain index (0, the signer, never has one).
    crls: Vec<Option<CrlPlan>>,
    licence: LicenceFault,
    kid: bool,
}

fn other_alg(alg: KeyAlg) -> KeyAlg {
    if alg == KeyAlg::Sm2 {
        KeyAlg::P256
    } else {
        KeyAlg::Sm2
    }
}

fn alg_name(alg: KeyAlg) -> &'static str {
    match alg {
        KeyAlg::Sm2 => "SM2",
        KeyAlg::P256 => "P-256",
        _ => "other",
    }
}

fn when(at: UnixTime) -> &'static str {
    match at.cmp(&IAT) {
        std::cmp::Ordering::Less => "before",
        std::cmp::Ordering::Equal => "at",
        std::cmp::Ordering::Greater => "after",
    }
}

fn generate(id: usize, kind: Kind, rng: &mut Rng) -> Case {
    let mut kinds = vec![kind];
    if rng.chance(20) {
        let second = rng.pick(&SECOND);
        if second != kind {
            kinds.push(second);
        }
    }
    let mut n = rng.pick(&[0, 1, 1, 2]);
    if kinds.contains(&Kind::IntermediateNotCa) {
        n = n.max(1);
    }
    let root_ix = n + 1;
    let (nb, na) = window(rng);
    // a licence fault needs an SM2 signer (but `SM2` over a P-256 key); other cases sometimes
    // have a P-256 signer (ES256 licences) under SM2 CAs
    let signer_alg =
        if kind == Kind::Sm2HeaderOverP256Key || (!kind.is_licence_fault() && rng.chance(15)) {
            KeyAlg::P256
        } else {
            KeyAlg::Sm2
        };
    let ca_alg = |rng: &mut Rng| {
        if rng.chance(70) {
            KeyAlg::Sm2
        } else {
            KeyAlg::P256
        }
    };
    let mut specs = vec![signer_spec(nb, na, rng).with_key_alg(signer_alg)];
    for k in 1..=n {
        let mut spec = CertSpec::intermediate(
            CITY,
            &format!("case {id} 签发CA {k}"),
            nb + rng.span(0, 10) * DAY,
            na - rng.span(0, 10) * DAY,
        )
        .with_key_alg(ca_alg(rng));
        spec.ca = CaKind::Ca {
            path_len: Some((k - 1) as u8),
        };
        specs.push(spec);
    }
    specs.push(CertSpec::root(CITY, &format!("case {id} 根CA"), nb, na).with_key_alg(ca_alg(rng)));
    let slots = specs
        .into_iter()
        .enumerate()
        .map(|(i, spec)| Slot {
            spec: spec.with_serial(rng.next() >> 2 | 1),
            signed: Signing::Genuine,
            in_x5c: i > 0 && i <= n && rng.chance(60),
        })
        .collect();
    let mut case = Case {
        id,
        kinds: kinds.clone(),
        desc: Vec::new(),
        slots,
        crls: (0..=root_ix).map(|_| None).collect(),
        licence: LicenceFault::None,
        kid: rng.chance(20),
    };
    for (nth, kind) in kinds.into_iter().enumerate() {
        mutate(&mut case, kind, nth > 0, rng);
    }
    // some CAs publish a CRL that revokes nothing of the chain
    for j in 1..=root_ix {
        if case.crls[j].is_none() && rng.chance(20) {
            let entries = if rng.chance(50) {
                vec![(None, Some(Reason::KeyCompromise), IAT - DAY)]
            } else {
                Vec::new()
            };
            case.crls[j] = Some(CrlPlan {
                entries,
                signed: Signing::Genuine,
                this_update: NOW - DAY,
            });
            case.desc.push(format!("CA {j} publishes an unrelated CRL"));
        }
    }
    if case.kid {
        for slot in &mut case.slots {
            slot.in_x5c = false;
        }
        case.desc.push("kid header".into());
    }
    let shape: Vec<&str> = case
        .slots
        .iter()
        .rev()
        .map(|s| alg_name(s.spec.key_alg))
        .collect();
    case.desc.insert(0, shape.join(" → "));
    case
}

/// Applies one fault; a second fault that would undo the first is skipped.
fn mutate(case: &mut Case, kind: Kind, second: bool, rng: &mut Rng) {
    let root_ix = case.slots.len() - 1;
    let n = root_ix - 1;
    let slots = &mut case.slots;
    let desc = &mut case.desc;
    match kind {
        Kind::Valid => {}
        Kind::OtherSignerId => {
            let id = rng.pick(&[
                "ALICE123@YAHOO.COM",
                "1234567812345679",
                "12345678123456781234567812345678",
                "11420100MB12345671",
            ]);
            case.licence = LicenceFault::SignerId(id);
            desc.push(format!("licence signed with signer ID {id:?}"));
        }
        Kind::EmptySignerId => {
            case.licence = LicenceFault::SignerId("");
            desc.push("licence signed with an empty signer ID".into());
        }
        Kind::DerSignature => {
            case.licence = LicenceFault::Der;
            desc.push("licence signature in DER".into());
        }
        Kind::Short63 => {
            let first = rng.chance(50);
            case.licence = LicenceFault::Drop { first };
            desc.push(format!(
                "licence signature of 63 bytes ({} byte dropped)",
                if first { "first" } else { "last" }
            ));
        }
        Kind::Long65 => {
            let prepend = rng.chance(50);
            let byte = rng.next() as u8;
            case.licence = LicenceFault::Extra { prepend, byte };
            desc.push(format!(
                "licence signature of 65 bytes ({})",
                if prepend {
                    "zero in front"
                } else {
                    "a byte after"
                }
            ));
        }
        Kind::ScalarOutOfRange => {
            let r = rng.chance(50);
            let value = rng.pick(&[
                ScalarValue::Zero,
                ScalarValue::N,
                ScalarValue::NPlusOne,
                ScalarValue::AllOnes,
            ]);
            case.licence = LicenceFault::Scalar { r, value };
            desc.push(format!(
                "licence signature with {} = {value:?}",
                if r { "r" } else { "s" }
            ));
        }
        Kind::Tampered => {
            let bit = rng.below(512);
            case.licence = LicenceFault::FlipBit(bit);
            desc.push(format!("licence signature bit {bit} flipped"));
        }
        Kind::Sm2HeaderOverP256Key => {
            case.licence = LicenceFault::Alg("SM2");
            desc.push("alg SM2 over a P-256 key".into());
        }
        Kind::Es256HeaderOverSm2Key => {
            case.licence = LicenceFault::Alg("ES256");
            desc.push("alg ES256 over an SM2 key".into());
        }
        Kind::SameNameOtherKey => {
            let i = rng.below(n + 1);
            if second && slots[i].signed != Signing::Genuine {
                return;
            }
            let same_alg = rng.chance(70);
            slots[i].signed = Signing::Impostor { same_alg };
            desc.push(format!(
                "cert {i} signed by a same-name CA with another key ({} algorithm)",
                if same_alg { "same" } else { "other" }
            ));
        }
        Kind::IntermediateNotCa => {
            let i = 1 + rng.below(n);
            slots[i].spec.ca = CaKind::EndEntity;
            desc.push(format!("intermediate {i} CA=false"));
        }
        Kind::CaWithoutKeyCertSign => {
            let i = 1 + rng.below(n + 1);
            slots[i].spec.key_usage = Some(vec![KeyUsage::CrlSign, KeyUsage::DigitalSignature]);
            desc.push(format!("CA {i} keyUsage without keyCertSign"));
        }
        Kind::Expired => {
            let i = rng.below(n + 2);
            expire_before_iat(&mut slots[i].spec, rng);
            desc.push(format!("cert {i} expired before iat"));
        }
        Kind::NotYetValid => {
            let i = rng.below(n + 2);
            start_after_iat(&mut slots[i].spec, rng);
            desc.push(format!("cert {i} not yet valid at iat"));
        }
        Kind::CertEmptySignerId => {
            let i = rng.below(n + 1);
            if second && slots[i].signed != Signing::Genuine {
                return;
            }
            slots[i + 1].spec.key_alg = KeyAlg::Sm2;
            slots[i].signed = Signing::EmptyId;
            desc.push(format!("cert {i} signed with an empty signer ID"));
        }
        Kind::Revoked => {
            let target = rng.below(n + 1);
            let j = target + 1;
            if case.crls[j]
                .as_ref()
                .is_some_and(|c| c.signed != Signing::Genuine)
            {
                return;
            }
            if rng.chance(80) {
                slots[j].spec.key_alg = KeyAlg::Sm2;
            }
            let reason = rng.pick(&[
                None,
                Some(Reason::KeyCompromise),
                Some(Reason::Superseded),
                Some(Reason::CessationOfOperation),
                Some(Reason::AffiliationChanged),
            ]);
            let at = match rng.below(10) {
                0 => IAT,
                1..=4 => IAT - rng.span(1, 100 * DAY),
                _ => IAT + rng.span(1, 100 * DAY),
            };
            desc.push(format!(
                "cert {target} revoked ({}) {} iat by a CRL of CA {j}",
                reason.map_or_else(|| "no reason".to_owned(), |r| format!("{r:?}")),
                when(at)
            ));
            let this_update = if rng.chance(50) {
                at.max(IAT)
            } else {
                NOW - DAY
            };
            case.crls[j]
                .get_or_insert_with(|| CrlPlan {
                    entries: Vec::new(),
                    signed: Signing::Genuine,
                    this_update,
                })
                .entries
                .push((Some(target), reason, at));
        }
        Kind::CrlEmptySignerId | Kind::CrlOtherKey => {
            let target = rng.below(n + 1);
            let j = target + 1;
            slots[j].spec.key_alg = KeyAlg::Sm2;
            let signed = if kind == Kind::CrlEmptySignerId {
                Signing::EmptyId
            } else {
                Signing::Impostor { same_alg: true }
            };
            case.crls[j] = Some(CrlPlan {
                entries: vec![(Some(target), Some(Reason::KeyCompromise), IAT - DAY)],
                signed,
                this_update: NOW - DAY,
            });
            desc.push(format!(
                "cert {target} revoked (keyCompromise) by a CRL of CA {j} signed {}",
                if kind == Kind::CrlEmptySignerId {
                    "with an empty signer ID"
                } else {
                    "by a same-name CA with another key"
                }
            ));
        }
    }
}

// ---- DER and SM2 helpers (RustCrypto `der` and `sm2`, not tongban's parser) ----

/// A signed X.509 object (`SEQUENCE { tbs, algorithm, BIT STRING }`): the TBS DER and the
/// signature bytes.
fn split_signed(der: &[u8]) -> (Vec<u8>, Vec<u8>) {
    let parts = Vec::<Any>::from_der(der).expect("a signed X.509 object");
    assert_eq!(parts.len(), 3, "certificate or CRL with three parts");
    let tbs = parts[0].to_der().expect("tbs encodes");
    let sig = parts[2].value()[1..].to_vec(); // after the unused-bits byte
    (tbs, sig)
}

/// The same object signed again by `signer`'s SM2 key with `distid`.
fn resign_sm2(der: &[u8], signer: &Issued, distid: &str) -> Vec<u8> {
    let mut parts = Vec::<Any>::from_der(der).expect("a signed X.509 object");
    let tbs = parts[0].to_der().expect("tbs encodes");
    let sig = sm2_sign(signer.key_pkcs8_der(), distid, &tbs).to_der();
    let bits = [&[0u8][..], sig.as_bytes()].concat();
    parts[2] = Any::new(Tag::BitString, bits).expect("bit string");
    parts.to_der().expect("object encodes")
}

fn sm2_sign(pkcs8: &[u8], distid: &str, message: &[u8]) -> ::sm2::dsa::Signature {
    use ::sm2::dsa::signature::Signer as _;
    use ::sm2::pkcs8::DecodePrivateKey as _;
    let secret = ::sm2::SecretKey::from_pkcs8_der(pkcs8).expect("SM2 key");
    ::sm2::dsa::SigningKey::new(distid, &secret)
        .expect("signing key")
        .sign(message)
}

/// DER `SEQUENCE { r, s }` of a 64-byte `r‖s`, whatever r and s are (zero and ≥ n included).
fn der_of_rs(rs: &[u8]) -> Vec<u8> {
    let ints: Vec<Any> = [&rs[..32], &rs[32..]]
        .iter()
        .map(|x| Any::encode_from(&UintRef::new(x).expect("uint")).expect("integer"))
        .collect();
    ints.to_der().expect("sequence encodes")
}

fn scalar(value: ScalarValue) -> Vec<u8> {
    let n = tongban::crypto::decode_hex(SM2_N).expect("n");
    match value {
        ScalarValue::Zero => vec![0; 32],
        ScalarValue::N => n,
        ScalarValue::NPlusOne => {
            let mut v = n;
            let last = v.len() - 1;
            v[last] += 1; // n ends in 0x23
            v
        }
        ScalarValue::AllOnes => vec![0xff; 32],
    }
}

// ---- building a case ----

/// A case's material as the verifier sees it.
struct Material {
    /// Certificates (DER) by chain index: a certificate signed again differs from `issued`'s.
    certs: Vec<Vec<u8>>,
    /// CRLs (DER) by the chain index of their CA.
    crls: Vec<Option<Vec<u8>>>,
    licence: String,
}

fn build(case: &Case, catalog: &Catalog) -> Material {
    let root_ix = case.slots.len() - 1;
    // certificates, top-down
    let mut issued = vec![Issued::self_signed(&case.slots[root_ix].spec).expect("root")];
    let mut certs = vec![issued[0].cert_der().to_vec()];
    for slot in case.slots[..root_ix].iter().rev() {
        let issuer = issued.last().expect("issuer");
        let (cert, der) = match slot.signed {
            Signing::Genuine => {
                let cert = issuer.issue(&slot.spec).expect("cert");
                let der = cert.cert_der().to_vec();
                (cert, der)
            }
            Signing::EmptyId => {
                let cert = issuer.issue(&slot.spec).expect("cert");
                let der = resign_sm2(cert.cert_der(), issuer, "");
                (cert, der)
            }
            Signing::Impostor { same_alg } => {
                let cert = impostor_of(issuer, same_alg)
                    .issue(&slot.spec)
                    .expect("cert");
                let der = cert.cert_der().to_vec();
                (cert, der)
            }
        };
        issued.push(cert);
        certs.push(der);
    }
    issued.reverse();
    certs.reverse();

    let crls = case
        .crls
        .iter()
        .enumerate()
        .map(|(j, plan)| {
            let plan = plan.as_ref()?;
            let entries: Vec<RevokedCert> = plan
                .entries
                .iter()
                .map(|(target, reason, at)| RevokedCert {
                    serial: match target {
                        Some(t) => case.slots[*t].spec.serial,
                        None => case.slots[j - 1].spec.serial ^ 0x0f0f_0000,
                    },
                    revoked_at: *at,
                    reason: *reason,
                })
                .collect();
            let ca = &issued[j];
            Some(match plan.signed {
                Signing::Genuine => crl_by(ca, &entries, plan.this_update, 7).der().to_vec(),
                Signing::EmptyId => {
                    resign_sm2(crl_by(ca, &entries, plan.this_update, 7).der(), ca, "")
                }
                Signing::Impostor { same_alg } => {
                    crl_by(&impostor_of(ca, same_alg), &entries, plan.this_update, 7)
                        .der()
                        .to_vec()
                }
            })
        })
        .collect();

    let mut x5c = vec![certs[0].clone()];
    x5c.extend(
        (1..root_ix)
            .filter(|i| case.slots[*i].in_x5c)
            .map(|i| certs[i].clone()),
    );
    let header = if case.kid {
        SignerHeader::Kid
    } else {
        SignerHeader::X5c
    };
    let signer = LicenceSigner::new(&issued[0].key_pem(), &x5c, None, header).expect("signer");
    let good = case_draft(case.id)
        .issue(catalog, &signer)
        .expect("licence signs");
    let licence = with_fault(&good, case.licence, &issued[0]);
    Material {
        certs,
        crls,
        licence,
    }
}

/// A CA with `ca`'s name and another key (of `ca`'s algorithm or the other one).
fn impostor_of(ca: &Issued, same_alg: bool) -> Issued {
    let mut spec = ca.spec().clone();
    if !same_alg {
        spec.key_alg = other_alg(spec.key_alg);
    }
    spec.serial ^= 0x5a5a;
    Issued::self_signed(&spec).expect("impostor")
}

/// The licence `good` with the case's signature fault.
fn with_fault(good: &str, fault: LicenceFault, signer: &Issued) -> String {
    let (input, sig_b64) = good.rsplit_once('.').expect("compact JWS");
    let good_sig = URL_SAFE_NO_PAD.decode(sig_b64).expect("base64url");
    let sig: Vec<u8> = match fault {
        LicenceFault::None => return good.to_owned(),
        LicenceFault::SignerId(id) => sm2_sign(signer.key_pkcs8_der(), id, input.as_bytes())
            .to_bytes()
            .to_vec(),
        LicenceFault::Der => sm2_sign(signer.key_pkcs8_der(), DEFAULT_DISTID, input.as_bytes())
            .to_der()
            .as_bytes()
            .to_vec(),
        LicenceFault::Drop { first } => {
            if first {
                good_sig[1..].to_vec()
            } else {
                good_sig[..63].to_vec()
            }
        }
        LicenceFault::Extra { prepend, byte } => {
            if prepend {
                [&[0u8][..], &good_sig].concat()
            } else {
                [&good_sig[..], &[byte]].concat()
            }
        }
        LicenceFault::Scalar { r, value } => {
            let (head, tail) = good_sig.split_at(32);
            if r {
                [&scalar(value)[..], tail].concat()
            } else {
                [head, &scalar(value)[..]].concat()
            }
        }
        LicenceFault::FlipBit(bit) => {
            let mut sig = good_sig.clone();
            sig[bit / 8] ^= 1 << (bit % 8);
            sig
        }
        LicenceFault::Alg(alg) => {
            let (header_b64, payload_b64) = input.split_once('.').expect("two parts");
            let mut header: Value =
                serde_json::from_slice(&URL_SAFE_NO_PAD.decode(header_b64).expect("b64"))
                    .expect("header");
            header["alg"] = Value::from(alg);
            let key = PrivateKey::from_pkcs8_pem(&signer.key_pem()).expect("key");
            let own = Algorithm::default_for(key.key_type());
            let payload = URL_SAFE_NO_PAD.decode(payload_b64).expect("b64");
            return sign_parts(
                &URL_SAFE_NO_PAD.encode(header.to_string()),
                &payload,
                &key,
                own,
            )
            .expect("signs");
        }
    };
    format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig))
}

// ---- our verdict ----

/// Our codes, and the chain indices of the CAs whose CRL we apply.
fn our_verdict(case: &Case, m: &Material, trust_dir: &Path) -> (Vec<(Code, String)>, Vec<usize>) {
    let trust = TrustDirWriter::new(trust_dir);
    let root_ix = case.slots.len() - 1;
    trust
        .add_root(CITY, &cert_pem(&m.certs[root_ix]))
        .expect("root");
    for i in (1..root_ix).filter(|i| !case.slots[*i].in_x5c) {
        trust
            .add_intermediate(CITY, &format!("ca-{i}"), &cert_pem(&m.certs[i]))
            .expect("intermediate");
    }
    if case.kid {
        trust
            .add_signer(CITY, "signer", &cert_pem(&m.certs[0]))
            .expect("signer");
    }
    for (j, crl) in m.crls.iter().enumerate() {
        if let Some(der) = crl {
            let pem = tongban::pki::pem_encode("X509 CRL", der);
            trust.add_crl(CITY, &format!("ca-{j}"), &pem).expect("crl");
        }
    }
    let verifier = Verifier::load(trust_dir, None).expect("trust dir loads");
    let verdict = verifier.verify(m.licence.as_bytes(), CITY, NOW);
    let ours: Vec<(Code, String)> = verdict
        .errors
        .iter()
        .map(|f| (f.code, f.message.clone()))
        .collect();
    assert!(
        ours.iter().all(|(c, _)| CASE_CODES.contains(c)),
        "case {}: only the chain and the signature may fail, got {ours:?}",
        case.id
    );
    // the CRLs the verifier applies to what each CA issued (at load or, for a CA it knows only
    // from `x5c`, when used)
    let city = verifier.trust().city(CITY).expect("the city loads");
    let used = (1..=root_ix)
        .filter(|j| {
            let ca = Cert::from_der(&m.certs[*j]).expect("our parse of the CA");
            let file = format!("crls/ca-{j}.pem");
            let applied = city.crls_for(&ca).any(|crl| crl.source().contains(&file));
            applied
        })
        .collect();
    (ours, used)
}

fn cert_pem(der: &[u8]) -> String {
    tongban::pki::pem_encode("CERTIFICATE", der)
}

// ---- the openssl oracle ----

/// The openssl side of one case: runs commands in `dir`, keeps a transcript and collects codes.
struct Oracle<'a> {
    case: &'a Case,
    dir: &'a Path,
    codes: Vec<(Code, String)>,
    /// (what, openssl agreed): the control runs with the wrong signer ID or form.
    controls: Vec<(String, bool)>,
    /// Chain indices of the CAs whose CRL signature openssl refuses.
    refused_crls: Vec<usize>,
    transcript: String,
    spawns: usize,
}

impl<'a> Oracle<'a> {
    fn judge(case: &'a Case, m: &Material, dir: &'a Path) -> Self {
        let mut o = Oracle {
            case,
            dir,
            codes: Vec::new(),
            controls: Vec::new(),
            refused_crls: Vec::new(),
            transcript: String::new(),
            spawns: 0,
        };
        for (i, der) in m.certs.iter().enumerate() {
            o.write(&format!("c{i}.pem"), cert_pem(der).as_bytes());
        }
        for i in 0..m.certs.len() - 1 {
            o.link(i, &m.certs[i]);
        }
        for (j, crl) in m.crls.iter().enumerate() {
            if let Some(der) = crl {
                o.crl(j, der);
            }
        }
        o.licence(&m.licence);
        o
    }

    fn alg_of(&self, i: usize) -> KeyAlg {
        self.case.slots[i].spec.key_alg
    }

    /// The link from certificate `i` to its issuer `i + 1`.
    fn link(&mut self, i: usize, der: &[u8]) {
        let (child, issuer) = (format!("c{i}.pem"), format!("c{}.pem", i + 1));
        let iat = IAT.to_string();
        let distid = format!("distid:{DEFAULT_DISTID}");
        let mut args = vec![
            "verify",
            "-no-CApath",
            "-no-CAstore",
            "-x509_strict",
            "-partial_chain",
            "-attime",
            &iat,
            "-CAfile",
            &issuer,
        ];
        if self.alg_of(i + 1) == KeyAlg::Sm2 {
            args.extend(["-vfyopt", &distid]);
        }
        if i == 0 {
            args.extend(["-purpose", "smimesign"]);
        }
        args.push(&child);
        let (ok, stdout, stderr) = self.run(&args);
        let errors = parse_openssl_errors(&stderr);
        if !(ok && stdout.contains(": OK")) && errors.is_empty() {
            let why = format!("link {i}: openssl fails without an error line");
            self.codes.push((Code::ChainUntrusted, why));
        }
        for (code, depth, msg) in errors {
            if let Some(ours) = our_code_for(code, depth) {
                let why = format!("link {i}: error {code} at {depth}: {msg}");
                self.codes.push((ours, why));
            }
        }
        if self.case.slots[i].signed == Signing::EmptyId {
            let name = format!("c{i}-tbs");
            self.write_signed(&name, der);
            let accepted = self.verifies(&issuer, KeyAlg::Sm2, None, &name);
            let what = format!("cert {i}: openssl without distid accepts its signature");
            self.controls.push((what, accepted));
        }
    }

    /// The CRL of the CA at chain index `j`: its signature, then its entry for certificate `j - 1`.
    fn crl(&mut self, j: usize, der: &[u8]) {
        let name = format!("crl{j}-tbs");
        self.write_signed(&name, der);
        let ca = format!("c{j}.pem");
        let alg = self.alg_of(j);
        let used = self.verifies(&ca, alg, sm2_distid(alg), &name);
        if self.case.crls[j].as_ref().map(|p| p.signed) == Some(Signing::EmptyId) {
            let accepted = self.verifies(&ca, KeyAlg::Sm2, None, &name);
            let what = format!("CRL of CA {j}: openssl without distid accepts its signature");
            self.controls.push((what, accepted));
        }
        if !used {
            self.refused_crls.push(j);
            return;
        }
        let file = format!("crl{j}.der");
        self.write(&file, der);
        let (ok, text, _) = self.run(&["crl", "-inform", "DER", "-in", &file, "-noout", "-text"]);
        assert!(ok, "case {}: openssl reads the CRL", self.case.id);
        let serial = u128::from(self.case.slots[j - 1].spec.serial);
        for entry in parse_crl_entries(&text) {
            if entry.serial == serial && entry.revokes_at(IAT) {
                let why = format!(
                    "cert {}: on the CRL of CA {j} ({}, {})",
                    j - 1,
                    entry.reason.as_deref().unwrap_or("no reason"),
                    entry.revoked_at
                );
                self.codes.push((Code::CertRevoked, why));
            }
        }
    }

    /// The licence signature, by the signer certificate `c0.pem`.
    fn licence(&mut self, licence: &str) {
        let (input, sig_b64) = licence.rsplit_once('.').expect("compact JWS");
        let header_b64 = input.split_once('.').expect("parts").0;
        let header: Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(header_b64).expect("b64"))
                .expect("header");
        let alg = header["alg"].as_str().unwrap_or_default().to_owned();
        let sig = URL_SAFE_NO_PAD.decode(sig_b64).expect("base64url");
        let (_, text, _) = self.run(&["x509", "-in", "c0.pem", "-noout", "-text"]);
        let key = if text.contains("ASN1 OID: SM2") {
            KeyAlg::Sm2
        } else if text.contains("ASN1 OID: prime256v1") {
            KeyAlg::P256
        } else {
            panic!("signer key neither SM2 nor P-256:\n{text}")
        };
        if !matches!(
            (alg.as_str(), key),
            ("SM2", KeyAlg::Sm2) | ("ES256", KeyAlg::P256)
        ) {
            let why = format!("alg {alg} with a {} key", alg_name(key));
            self.codes.push((Code::UnsupportedAlgorithm, why));
            return;
        }
        self.write("licence.msg", input.as_bytes());
        match self.case.licence {
            LicenceFault::SignerId(id) => {
                self.write("licence.sig", &der_of_rs(&sig));
                let with = (!id.is_empty()).then_some(id);
                let accepted = self.verifies("c0.pem", KeyAlg::Sm2, with, "licence");
                let what = format!("licence: openssl with signer ID {id:?} accepts its signature");
                self.controls.push((what, accepted));
            }
            LicenceFault::Der => {
                self.write("licence.sig", &sig);
                let accepted =
                    self.verifies("c0.pem", KeyAlg::Sm2, Some(DEFAULT_DISTID), "licence");
                let what = "licence: openssl accepts the DER signature as such".to_owned();
                self.controls.push((what, accepted));
            }
            _ => {}
        }
        if sig.len() != 64 {
            let why = format!("a {}-byte signature (the contract wants 64)", sig.len());
            self.codes.push((Code::SignatureInvalid, why));
            return;
        }
        self.write("licence.sig", &der_of_rs(&sig));
        if !self.verifies("c0.pem", key, sm2_distid(key), "licence") {
            let why = "openssl pkeyutl: the signature does not verify".to_owned();
            self.codes.push((Code::SignatureInvalid, why));
        }
    }

    /// (exit 0, stdout, stderr).
    fn run(&mut self, args: &[&str]) -> (bool, String, String) {
        let out = openssl(self.dir, args);
        self.spawns += 1;
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        let _ = writeln!(
            self.transcript,
            "$ openssl {}\n{stdout}{stderr}",
            args.join(" ")
        );
        (out.status.success(), stdout, stderr)
    }

    /// `openssl pkeyutl -verify` of `NAME.sig` (DER) over `NAME.msg` with the key of `cert`.
    fn verifies(&mut self, cert: &str, alg: KeyAlg, distid: Option<&str>, name: &str) -> bool {
        let (message, sig) = (format!("{name}.msg"), format!("{name}.sig"));
        let digest = if alg == KeyAlg::Sm2 { "sm3" } else { "sha256" };
        let mut args = vec![
            "pkeyutl", "-verify", "-certin", "-inkey", cert, "-rawin", "-in", &message, "-sigfile",
            &sig, "-digest", digest,
        ];
        let opt = distid.map(|id| format!("distid:{id}"));
        if let Some(opt) = &opt {
            args.extend(["-pkeyopt", opt]);
        }
        let (ok, stdout, _) = self.run(&args);
        ok && stdout.contains("Signature Verified Successfully")
    }

    /// `NAME.msg` and `NAME.sig`: the TBS and the signature of a certificate or CRL.
    fn write_signed(&self, name: &str, der: &[u8]) {
        let (tbs, sig) = split_signed(der);
        self.write(&format!("{name}.msg"), &tbs);
        self.write(&format!("{name}.sig"), &sig);
    }

    fn write(&self, name: &str, bytes: &[u8]) {
        fs::write(self.dir.join(name), bytes).expect("write");
    }
}

fn sm2_distid(alg: KeyAlg) -> Option<&'static str> {
    (alg == KeyAlg::Sm2).then_some(DEFAULT_DISTID)
}

// ---- one case ----

/// Everything a case produced, for the verdict and the report.
struct Outcome {
    id: usize,
    kinds: Vec<Kind>,
    desc: String,
    /// Key algorithms from the root down to the signer.
    shape: String,
    mixed: bool,
    ours: Vec<(Code, String)>,
    oracle: Vec<(Code, String)>,
    controls: Vec<(String, bool)>,
    /// (CA index, we use its CRL, openssl verifies its signature).
    crls_used: Vec<(usize, bool, bool)>,
    transcript: String,
    spawns: usize,
}

fn run_case(case: &Case, catalog: &Catalog) -> Outcome {
    let tmp = tempfile::tempdir().expect("tempdir");
    let m = build(case, catalog);
    let (ours, used) = our_verdict(case, &m, &tmp.path().join("trust"));
    let dir = tmp.path().join("openssl");
    fs::create_dir(&dir).expect("mkdir");
    let o = Oracle::judge(case, &m, &dir);
    let crls_used = (0..m.crls.len())
        .filter(|j| m.crls[*j].is_some())
        .map(|j| (j, used.contains(&j), !o.refused_crls.contains(&j)))
        .collect();
    Outcome {
        id: case.id,
        kinds: case.kinds.clone(),
        desc: case.desc.join("; "),
        shape: case.desc[0].clone(),
        mixed: case
            .slots
            .iter()
            .any(|s| s.spec.key_alg != case.slots[0].spec.key_alg),
        ours,
        oracle: o.codes,
        controls: o.controls,
        crls_used,
        transcript: o.transcript,
        spawns: o.spawns,
    }
}

/// One entry of `openssl crl -text`.
struct CrlEntry {
    serial: u128,
    revoked_at: UnixTime,
    reason: Option<String>,
}

impl CrlEntry {
    /// Contract section 2: keyCompromise or no reason revokes at any time, any other reason from
    /// its revocation date (at or before `iat`).
    fn revokes_at(&self, iat: UnixTime) -> bool {
        match self.reason.as_deref() {
            None | Some("Key Compromise") => true,
            Some(_) => self.revoked_at <= iat,
        }
    }
}

fn parse_crl_entries(text: &str) -> Vec<CrlEntry> {
    let format = time::macros::format_description!(
        "[month repr:short] [day padding:space] [hour]:[minute]:[second] [year] GMT"
    );
    let mut entries: Vec<CrlEntry> = Vec::new();
    let mut lines = text.lines().map(str::trim);
    while let Some(line) = lines.next() {
        if let Some(hex) = line.strip_prefix("Serial Number: ") {
            entries.push(CrlEntry {
                serial: u128::from_str_radix(hex, 16).expect("hex serial"),
                revoked_at: 0,
                reason: None,
            });
        } else if let Some(date) = line.strip_prefix("Revocation Date: ") {
            let at = time::PrimitiveDateTime::parse(date, &format)
                .unwrap_or_else(|e| panic!("revocation date {date:?}: {e}"));
            entries.last_mut().expect("entry").revoked_at = at.assume_utc().unix_timestamp();
        } else if line == "X509v3 CRL Reason Code:" {
            let reason = lines.next().expect("reason").to_owned();
            entries.last_mut().expect("entry").reason = Some(reason);
        }
    }
    entries
}

// ---- the test ----

/// The codes a fault can give (revocations: when the contract's rule revokes).
fn codes_of(kind: Kind) -> &'static [Code] {
    match kind {
        Kind::Valid | Kind::CrlEmptySignerId | Kind::CrlOtherKey => &[],
        Kind::OtherSignerId
        | Kind::EmptySignerId
        | Kind::DerSignature
        | Kind::Short63
        | Kind::Long65
        | Kind::ScalarOutOfRange
        | Kind::Tampered => &[Code::SignatureInvalid],
        Kind::Sm2HeaderOverP256Key | Kind::Es256HeaderOverSm2Key => &[Code::UnsupportedAlgorithm],
        Kind::SameNameOtherKey
        | Kind::IntermediateNotCa
        | Kind::CaWithoutKeyCertSign
        | Kind::CertEmptySignerId => &[Code::ChainUntrusted],
        Kind::Expired | Kind::NotYetValid => &[Code::CertNotValidAtIssuance],
        Kind::Revoked => &[Code::CertRevoked],
    }
}

/// `Ok(None)`: the same codes; `Ok(Some(note))`: both invalid, not with every code the same;
/// `Err(why)`: a disagreement.
///
/// Both sides must agree on valid or invalid and share a code, except in a case of two faults
/// where each side stops at another one (openssl stops at a certificate that is not yet valid;
/// we stop at the first broken link): then each side's codes must belong to the case's faults.
fn classify(o: &Outcome) -> Result<Option<&'static str>, String> {
    let ours: HashSet<Code> = o.ours.iter().map(|(c, _)| *c).collect();
    let theirs: HashSet<Code> = o.oracle.iter().map(|(c, _)| *c).collect();
    for (what, ok) in &o.controls {
        if !ok {
            return Err(format!("control failed: {what}"));
        }
    }
    for (j, ours_used, used) in &o.crls_used {
        if ours_used != used {
            return Err(format!(
                "CRL of CA {j}: we {} it, openssl {} its signature",
                if *ours_used { "use" } else { "drop" },
                if *used { "verifies" } else { "refuses" }
            ));
        }
    }
    if ours.is_empty() != theirs.is_empty() {
        return Err(format!(
            "validity differs: ours {ours:?}, openssl {theirs:?}"
        ));
    }
    if ours == theirs {
        return Ok(None);
    }
    if !ours.is_disjoint(&theirs) {
        return Ok(Some("a shared code"));
    }
    let faults: HashSet<Code> = o.kinds.iter().flat_map(|k| codes_of(*k)).copied().collect();
    if o.kinds.len() > 1 && ours.is_subset(&faults) && theirs.is_subset(&faults) {
        return Ok(Some("each side stops at another fault"));
    }
    Err(format!(
        "no shared reason: ours {ours:?}, openssl {theirs:?}"
    ))
}

#[test]
fn sm2_verdicts_agree_with_openssl() {
    let started = Instant::now();
    let version = openssl_version();
    let cases_wanted: usize = env_or("TONGBAN_SM2_DIFF_CASES", DEFAULT_CASES);
    let seed: u64 = env_or("TONGBAN_SM2_DIFF_SEED", DEFAULT_SEED);
    let cases = generate_all(seed, cases_wanted);
    let catalog = Catalog::embedded().expect("catalog");
    let outcomes = run_on_workers(&cases, |case| run_case(case, &catalog));

    let mut by_kind: BTreeMap<Kind, (usize, usize)> = BTreeMap::new();
    let mut shapes: BTreeMap<&str, usize> = BTreeMap::new();
    let (mut valid, mut invalid, mut exact, mut mixed, mut spawns) = (0, 0, 0, 0, 0);
    let mut crls = (0, 0);
    let mut controls = 0;
    let mut not_exact = String::new();
    let mut failures = String::new();
    let mut failure_count = 0;
    for o in &outcomes {
        let entry = by_kind.entry(o.kinds[0]).or_default();
        if o.ours.is_empty() {
            entry.0 += 1;
        } else {
            entry.1 += 1;
        }
        mixed += usize::from(o.mixed);
        *shapes.entry(o.shape.as_str()).or_default() += 1;
        spawns += o.spawns;
        controls += o.controls.len();
        for (_, used, _) in &o.crls_used {
            if *used {
                crls.0 += 1;
            } else {
                crls.1 += 1;
            }
        }
        match classify(o) {
            Ok(note) => {
                if o.ours.is_empty() {
                    valid += 1;
                } else {
                    invalid += 1;
                }
                if let Some(note) = note {
                    let _ = writeln!(
                        not_exact,
                        "  case {} [{}] ({note}): ours {:?}, openssl {:?}",
                        o.id,
                        o.desc,
                        o.ours.iter().map(|(c, _)| *c).collect::<Vec<_>>(),
                        o.oracle
                    );
                } else {
                    exact += 1;
                }
            }
            Err(why) => {
                failure_count += 1;
                let _ = writeln!(
                    failures,
                    "case {} [{}]: {why}\n  ours: {:?}\n  openssl: {:?}\n  {}",
                    o.id,
                    o.desc,
                    o.ours,
                    o.oracle,
                    o.transcript.trim().replace('\n', "\n  ")
                );
            }
        }
    }
    eprintln!("openssl SM2 differential: {version}, seed {seed:#x}");
    eprintln!(
        "cases: {} ({mixed} with mixed SM2/P-256 chains), agree: {} (both valid {valid}, \
         both invalid {invalid}; the same codes in {exact}), disagree: {failure_count}",
        outcomes.len(),
        valid + invalid
    );
    eprintln!(
        "CRLs: {} used by both, {} refused by both; control runs (openssl accepts the wrong \
         signer ID or form): {controls}; openssl runs: {spawns}",
        crls.0, crls.1
    );
    eprintln!("cases by first fault (valid / invalid):");
    for (kind, (v, i)) in &by_kind {
        eprintln!("  {:<24} {v:4} / {i:<4}", format!("{kind:?}"));
    }
    eprintln!("chains by key algorithm (root → … → signer):");
    for (shape, count) in &shapes {
        eprintln!("  {count:4}  {shape}");
    }
    eprintln!("both invalid, not with every code the same:\n{not_exact}");
    eprintln!("time: {:.1} s", started.elapsed().as_secs_f64());
    if verbose() {
        for o in &outcomes {
            eprintln!(
                "case {} [{}] ours {:?} openssl {:?}",
                o.id,
                o.desc,
                o.ours.iter().map(|(c, _)| *c).collect::<Vec<_>>(),
                o.oracle.iter().map(|(c, _)| *c).collect::<Vec<_>>()
            );
        }
    }
    assert_eq!(failure_count, 0, "disagreements:\n{failures}");
}

fn generate_all(seed: u64, count: usize) -> Vec<Case> {
    let deck: Vec<Kind> = DECK
        .iter()
        .flat_map(|(kind, weight)| std::iter::repeat_n(*kind, *weight))
        .collect();
    let mut rng = Rng::new(seed);
    (0..count)
        .map(|id| generate(id, deck[id % deck.len()], &mut rng))
        .collect()
}

#[test]
fn generator_is_deterministic_and_covers_every_kind() {
    let describe = |seed| {
        generate_all(seed, 60)
            .iter()
            .map(|c| c.desc.join("; "))
            .collect::<Vec<_>>()
    };
    assert_eq!(describe(DEFAULT_SEED), describe(DEFAULT_SEED));
    let kinds: BTreeSet<Kind> = generate_all(DEFAULT_SEED, 30)
        .iter()
        .map(|c| c.kinds[0])
        .collect();
    assert_eq!(kinds.len(), DECK.len());
}

#[test]
fn der_of_rs_encodes_any_scalar() {
    // r = 0, s = n: INTEGER 0 and a positive INTEGER with a leading zero byte
    let rs = [scalar(ScalarValue::Zero), scalar(ScalarValue::N)].concat();
    let der = der_of_rs(&rs);
    assert_eq!(&der[..7], &[0x30, 0x26, 0x02, 0x01, 0x00, 0x02, 0x21]);
    assert_eq!(der[7], 0x00);
    assert_eq!(&der[8..], &rs[32..]);
}

#[test]
fn crl_text_entries_parse() {
    let text = "Revoked Certificates:\n    Serial Number: 57FF\n        Revocation Date: Dec  2 \
                18:34:47 2026 GMT\n        CRL entry extensions:\n            X509v3 CRL Reason \
                Code: \n                Key Compromise\n    Serial Number: 0A\n        \
                Revocation Date: Jun 15 15:06:40 2025 GMT\n";
    let entries = parse_crl_entries(text);
    assert_eq!(entries.len(), 2);
    assert_eq!(entries[0].serial, 0x57ff);
    assert_eq!(entries[0].reason.as_deref(), Some("Key Compromise"));
    assert_eq!(entries[1].revoked_at, IAT);
    assert!(entries[1].reason.is_none());
}
