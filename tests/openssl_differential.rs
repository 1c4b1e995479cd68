//! Differential test of chain verdicts against `openssl verify` (docs/conformance.md).
//!
//! A seeded xorshift generator builds a few hundred certificate chains with `tongban::pki`
//! (x509-cert), each with one or two mutations (validity windows, CA flags, path length, key usage,
//! wrong issuer key, missing intermediate, CRL entries, depth, signing profile, city binding).
//! For each case a trust directory is written, a valid licence is signed with the leaf, and our
//! verdict (no chain code among `CHAIN_UNTRUSTED`, `CERT_NOT_VALID_AT_ISSUANCE`, `CERT_REVOKED`,
//! `SIGNER_NOT_ELIGIBLE`) is compared with `openssl verify -attime <iat> …`. Every disagreement
//! must be a documented deliberate difference, recognised from openssl's own error list.
//!
//! `TONGBAN_DIFF_CASES` and `TONGBAN_DIFF_SEED` override the case count and seed.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "test code: a failure here is a failed test"
)]

#[path = "common/differential.rs"]
mod differential;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::fs;
use std::time::Instant;

use differential::{
    case_draft, crl_by, env_or, expire_before_iat, openssl, openssl_version, our_code_for,
    parse_openssl_errors, run_on_workers, signer_spec, start_after_iat, verbose, window, Rng, CITY,
    DAY, IAT, NOW,
};

use tongban::catalog::Catalog;
use tongban::licence::issue::{LicenceSigner, SignerHeader};
use tongban::pki::demo::demo_org_id;
use tongban::pki::{
    CaKind, CertSpec, Issued, KeyAlg, KeyUsage, Reason, RevokedCert, TrustDirWriter, UnixTime,
};
use tongban::{Code, Verifier};

const DEFAULT_CASES: usize = 600;
const DEFAULT_SEED: u64 = 0x7f4a_7c15_9e37_79b9;
const OTHER_CITY: &str = "420200";
const CHAIN_CODES: [Code; 4] = [
    Code::ChainUntrusted,
    Code::CertNotValidAtIssuance,
    Code::CertRevoked,
    Code::SignerNotEligible,
];

// Deliberate differences, by name (the table of docs/conformance.md).
const D_CITY: &str = "city binding: the chain must end at an anchor of the signer's own city";
const D_PROFILE_CA: &str = "signing profile: a licence signer must not be a CA";
const D_PROFILE_OU: &str =
    "signing profile: a licence signer must carry L, OU, organizationIdentifier";
const D_NOT_AFTER: &str = "notAfter is inclusive (RFC 5280 4.1.2.5); openssl expires at notAfter";
const D_CRL_AT_IAT: &str =
    "openssl judges the CRL's own thisUpdate at -attime; we use the current CRL";
const D_REVOKED_LATER: &str =
    "revocation with a non-compromise reason dated after iat does not revoke (contract section 2)";
const D_CA_NO_KU: &str =
    "x509_strict wants keyUsage on every CA; the contract only needs keyCertSign when present";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Expired,
    NotYetValid,
    NotAfterIsIat,
    NotBeforeIsIat,
    IntermediateNotCa,
    NoBasicConstraints,
    PathLenIntermediate,
    PathLenRoot,
    CaWithoutKeyCertSign,
    SignerWithoutDigitalSignature,
    SignerKeyUsageVariant,
    WrongIssuerKey,
    MissingIntermediate,
    Revoked,
    ChainOfSix,
    SignerIsCa,
    SignerWithoutOu,
    CityMismatch,
    CaWithoutKeyUsage,
    AnchorInX5c,
    /// Benign: the intermediates are both in `x5c` and in the trust directory.
    IntermediatesTwice,
    /// Benign: the CRLs revoke some other serial, with every reason and date.
    UnrelatedCrlEntry,
}

/// (kind, weight).
const KINDS: [(Kind, usize); 22] = [
    (Kind::Expired, 10),
    (Kind::NotYetValid, 10),
    (Kind::NotAfterIsIat, 3),
    (Kind::NotBeforeIsIat, 6),
    (Kind::IntermediateNotCa, 6),
    (Kind::NoBasicConstraints, 6),
    (Kind::PathLenIntermediate, 6),
    (Kind::PathLenRoot, 3),
    (Kind::CaWithoutKeyCertSign, 6),
    (Kind::SignerWithoutDigitalSignature, 6),
    (Kind::SignerKeyUsageVariant, 8),
    (Kind::WrongIssuerKey, 8),
    (Kind::MissingIntermediate, 6),
    (Kind::Revoked, 18),
    (Kind::ChainOfSix, 4),
    (Kind::SignerIsCa, 2),
    (Kind::SignerWithoutOu, 2),
    (Kind::CityMismatch, 3),
    (Kind::CaWithoutKeyUsage, 2),
    (Kind::AnchorInX5c, 5),
    (Kind::IntermediatesTwice, 6),
    (Kind::UnrelatedCrlEntry, 8),
];

/// One chain certificate as generated: index 0 is the signer, `n + 1` the root.
struct Slot {
    spec: CertSpec,
    /// Signed by an impostor: same subject as the real issuer, another key.
    wrong_issuer_key: bool,
    /// Intermediates only: where the verifier finds it (x5c, else the trust dir); `None` = nowhere.
    in_x5c: Option<bool>,
}

#[derive(Clone, Debug)]
struct Revocation {
    /// Chain index of the revoked certificate (its issuer is `target + 1`).
    target: usize,
    reason: Option<Reason>,
    at: UnixTime,
    /// The entry names a serial of no chain certificate.
    unrelated: bool,
}

struct Case {
    id: usize,
    desc: Vec<String>,
    slots: Vec<Slot>,
    revocations: Vec<Revocation>,
    /// CRLs present at all (then one from every CA, or only the signer's issuer's).
    crls: Option<CrlPlan>,
    city_mismatch: bool,
    anchor_in_x5c: bool,
    intermediates_twice: bool,
}

#[derive(Clone, Copy, Debug)]
struct CrlPlan {
    /// Only the signer's issuer publishes a CRL (`-crl_check`), else every CA (`-crl_check_all`).
    leaf_only: bool,
    this_update: UnixTime,
}

fn draw_kind(rng: &mut Rng) -> Kind {
    let total: usize = KINDS.iter().map(|(_, w)| w).sum();
    let mut at = rng.below(total);
    for (kind, weight) in KINDS {
        if at < weight {
            return kind;
        }
        at -= weight;
    }
    Kind::Expired
}

fn algs(rng: &mut Rng) -> KeyAlg {
    rng.pick(&[
        KeyAlg::P256,
        KeyAlg::P384,
        KeyAlg::Ed25519,
        KeyAlg::Rsa2048,
        KeyAlg::Rsa2048B,
    ])
}

fn generate(id: usize, rng: &mut Rng) -> Case {
    let mut kinds = vec![draw_kind(rng)];
    if rng.chance(40) {
        let second = draw_kind(rng);
        if second != kinds[0] {
            kinds.push(second);
        }
    }
    let mut n = rng.below(3);
    for k in &kinds {
        n = match k {
            Kind::ChainOfSix => 4,
            Kind::PathLenIntermediate => n.max(2),
            Kind::IntermediateNotCa | Kind::MissingIntermediate | Kind::PathLenRoot => n.max(1),
            _ => n,
        };
    }
    let mut slots = Vec::with_capacity(n + 2);
    let (nb, na) = window(rng);
    slots.push(signer_spec(nb, na, rng));
    for k in 1..=n {
        let mut spec = CertSpec::intermediate(
            CITY,
            &format!("case {id} issuing CA {k}"),
            nb + rng.span(0, 10) * DAY,
            na - rng.span(0, 10) * DAY,
        );
        // pathLen: absent, exact, or with room to spare
        spec.ca = CaKind::Ca {
            path_len: match rng.below(3) {
                0 => None,
                1 => Some((k - 1) as u8),
                _ => Some(k as u8),
            },
        };
        slots.push(spec);
    }
    let mut root = CertSpec::root(CITY, &format!("case {id} root CA"), nb, na);
    if rng.chance(30) {
        root.ca = CaKind::Ca {
            path_len: Some(n as u8 + rng.below(2) as u8),
        };
    }
    slots.push(root);
    let mut slots: Vec<Slot> = slots
        .into_iter()
        .enumerate()
        .map(|(i, spec)| Slot {
            spec: spec
                .with_key_alg(algs(rng))
                .with_serial(rng.next() >> 2 | 1),
            wrong_issuer_key: false,
            in_x5c: (i > 0 && i <= n).then(|| rng.chance(60)),
        })
        .collect();
    let root_ix = n + 1;
    let mut case = Case {
        id,
        desc: vec![format!("{n} intermediate(s)")],
        slots: Vec::new(),
        revocations: Vec::new(),
        crls: None,
        city_mismatch: false,
        anchor_in_x5c: false,
        intermediates_twice: false,
    };
    let any_ca = |rng: &mut Rng| 1 + rng.below(n + 1);
    for kind in kinds {
        match kind {
            Kind::Expired => {
                let i = rng.below(n + 2);
                expire_before_iat(&mut slots[i].spec, rng);
                case.desc.push(format!("cert {i} expired before iat"));
            }
            Kind::NotYetValid => {
                let i = rng.below(n + 2);
                start_after_iat(&mut slots[i].spec, rng);
                case.desc.push(format!("cert {i} not yet valid at iat"));
            }
            Kind::NotAfterIsIat => {
                let i = rng.below(n + 2);
                slots[i].spec.not_after = IAT;
                case.desc.push(format!("cert {i} notAfter = iat"));
            }
            Kind::NotBeforeIsIat => {
                let i = rng.below(n + 2);
                slots[i].spec.not_before = IAT;
                case.desc.push(format!("cert {i} notBefore = iat"));
            }
            Kind::IntermediateNotCa => {
                let i = 1 + rng.below(n);
                slots[i].spec.ca = CaKind::EndEntity;
                case.desc.push(format!("intermediate {i} CA=false"));
            }
            Kind::NoBasicConstraints => {
                let i = any_ca(rng);
                slots[i].spec.ca = CaKind::NoBasicConstraints;
                case.desc.push(format!("CA {i} without basicConstraints"));
            }
            Kind::PathLenIntermediate => {
                let i = 2 + rng.below(n - 1);
                slots[i].spec.ca = CaKind::Ca { path_len: Some(0) };
                case.desc
                    .push(format!("intermediate {i} pathLen 0 above another"));
            }
            Kind::PathLenRoot => {
                let allowed = rng.below(n) as u8;
                slots[root_ix].spec.ca = CaKind::Ca {
                    path_len: Some(allowed),
                };
                case.desc.push(format!("root pathLen {allowed} over {n}"));
            }
            Kind::CaWithoutKeyCertSign => {
                let i = any_ca(rng);
                slots[i].spec.key_usage = Some(vec![KeyUsage::CrlSign, KeyUsage::DigitalSignature]);
                case.desc
                    .push(format!("CA {i} keyUsage without keyCertSign"));
            }
            Kind::SignerWithoutDigitalSignature => {
                slots[0].spec.key_usage = Some(vec![KeyUsage::KeyEncipherment]);
                case.desc
                    .push("signer keyUsage keyEncipherment only".into());
            }
            Kind::SignerKeyUsageVariant => {
                let (ku, what) = rng.pick(&[
                    (Some(&[KeyUsage::DigitalSignature][..]), "digitalSignature"),
                    (Some(&[KeyUsage::NonRepudiation][..]), "nonRepudiation"),
                    (None, "absent"),
                ]);
                slots[0].spec.key_usage = ku.map(<[KeyUsage]>::to_vec);
                case.desc.push(format!("signer keyUsage {what}"));
            }
            Kind::WrongIssuerKey => {
                let i = rng.below(n + 1);
                slots[i].wrong_issuer_key = true;
                case.desc.push(format!(
                    "cert {i} signed by a same-name CA with another key"
                ));
            }
            Kind::MissingIntermediate => {
                let i = 1 + rng.below(n);
                slots[i].in_x5c = None;
                case.desc.push(format!("intermediate {i} missing"));
            }
            Kind::Revoked => {
                let target = rng.below(n + 1);
                let reason = rng.pick(&[
                    None,
                    Some(Reason::KeyCompromise),
                    Some(Reason::CaCompromise),
                    Some(Reason::Superseded),
                    Some(Reason::CessationOfOperation),
                    Some(Reason::AffiliationChanged),
                    Some(Reason::CertificateHold),
                ]);
                let at = match rng.below(10) {
                    0 => IAT, // "at or before iat" includes iat itself
                    1..=5 => IAT - rng.span(1, 100 * DAY),
                    _ => IAT + rng.span(1, 100 * DAY),
                };
                case.desc.push(format!(
                    "cert {target} revoked ({reason:?}) {} iat",
                    match at.cmp(&IAT) {
                        std::cmp::Ordering::Less => "before",
                        std::cmp::Ordering::Equal => "at",
                        std::cmp::Ordering::Greater => "after",
                    }
                ));
                case.revocations.push(Revocation {
                    target,
                    reason,
                    at,
                    unrelated: false,
                });
            }
            Kind::ChainOfSix => case.desc.push("chain of 6".into()),
            Kind::SignerIsCa => {
                slots[0].spec.ca = CaKind::Ca { path_len: None };
                case.desc.push("signer is a CA".into());
            }
            Kind::SignerWithoutOu => {
                slots[0].spec.subject.dept = None;
                case.desc.push("signer without OU".into());
            }
            Kind::CityMismatch => {
                slots[0].spec.subject.city = Some(OTHER_CITY.into());
                slots[0].spec.subject.org_id = Some(demo_org_id(OTHER_CITY, 7));
                case.city_mismatch = true;
                case.desc.push("signer of another city".into());
            }
            Kind::CaWithoutKeyUsage => {
                let i = any_ca(rng);
                slots[i].spec.key_usage = None;
                case.desc.push(format!("CA {i} without keyUsage"));
            }
            Kind::AnchorInX5c => {
                case.anchor_in_x5c = true;
                case.desc.push("anchor repeated in x5c".into());
            }
            Kind::IntermediatesTwice => {
                case.intermediates_twice = true;
                case.desc
                    .push("intermediates in x5c and in the trust dir".into());
            }
            Kind::UnrelatedCrlEntry => {
                let target = rng.below(n + 1);
                let at = IAT + rng.span(-100 * DAY, 100 * DAY);
                case.revocations.push(Revocation {
                    target,
                    reason: Some(Reason::KeyCompromise),
                    at,
                    unrelated: true,
                });
                case.desc
                    .push(format!("issuer of cert {target} revokes another serial"));
            }
        }
    }
    // some cases carry (mostly empty) CRLs even without a revocation
    if !case.revocations.is_empty() || rng.chance(15) {
        let leaf_only = case.revocations.iter().all(|r| r.target == 0) && rng.chance(40);
        let this_update = if rng.chance(65) {
            IAT - rng.span(1, 10 * DAY)
        } else {
            NOW - DAY
        };
        case.crls = Some(CrlPlan {
            leaf_only,
            this_update,
        });
        case.desc.push(format!(
            "CRLs from {}, thisUpdate {} iat",
            if leaf_only {
                "the signer's issuer"
            } else {
                "every CA"
            },
            if this_update < IAT { "before" } else { "after" }
        ));
    }
    case.slots = slots;
    case
}

/// What one case produced.
struct Outcome {
    case_id: usize,
    desc: String,
    ours: Vec<(Code, String)>,
    openssl_ok: bool,
    openssl_errors: Vec<(u32, usize, String)>,
    openssl_cmd: String,
    openssl_output: String,
    algs: Vec<KeyAlg>,
    /// Chain index → (notAfter == iat, is a CA without keyUsage, revoked later with a
    /// non-compromise reason).
    facts: Vec<(bool, bool, bool)>,
    crl_after_iat: bool,
    city_mismatch: bool,
}

fn other_alg(alg: KeyAlg) -> KeyAlg {
    match alg {
        KeyAlg::Rsa2048 => KeyAlg::Rsa2048B,
        KeyAlg::Rsa2048B => KeyAlg::Rsa2048,
        other => other, // fresh random EC/Ed25519 keys differ anyway
    }
}

fn run_case(case: &Case, catalog: &Catalog) -> Outcome {
    let dir = tempfile::tempdir().expect("tempdir");
    let n = case.slots.len() - 2;
    let root_ix = n + 1;
    // issue top-down: root, intermediates n..1, signer
    let mut issued: Vec<Option<Issued>> = (0..case.slots.len()).map(|_| None).collect();
    let root = Issued::self_signed(&case.slots[root_ix].spec).expect("root");
    issued[root_ix] = Some(root);
    let mut impostors = Vec::new();
    for i in (0..root_ix).rev() {
        let issuer = issued[i + 1].as_ref().expect("issuer issued");
        let cert = if case.slots[i].wrong_issuer_key {
            let mut spec = issuer.spec().clone();
            spec.key_alg = other_alg(spec.key_alg);
            spec.serial ^= 0x5a5a;
            let impostor = Issued::self_signed(&spec).expect("impostor");
            let cert = impostor.issue(&case.slots[i].spec).expect("cert");
            impostors.push(impostor);
            cert
        } else {
            issuer.issue(&case.slots[i].spec).expect("cert")
        };
        issued[i] = Some(cert);
    }
    let issued: Vec<Issued> = issued.into_iter().map(|c| c.expect("issued")).collect();

    // trust directory and openssl inputs
    let trust_dir = dir.path().join("trust");
    let trust = TrustDirWriter::new(&trust_dir);
    let root_pem = issued[root_ix].cert_pem();
    trust.add_root(CITY, &root_pem).expect("write root");
    let mut roots_pem = root_pem.clone();
    if case.city_mismatch {
        let other = Issued::self_signed(&CertSpec::root(
            OTHER_CITY,
            &format!("case {} other city root", case.id),
            IAT - 1000 * DAY,
            IAT + 1000 * DAY,
        ))
        .expect("other root");
        trust
            .add_root(OTHER_CITY, &other.cert_pem())
            .expect("write");
        roots_pem.push_str(&other.cert_pem());
    }
    let mut x5c = vec![issued[0].cert_der().to_vec()];
    let mut untrusted_pem = String::new();
    for (i, cert) in issued.iter().enumerate().take(root_ix).skip(1) {
        let Some(in_x5c) = case.slots[i].in_x5c else {
            continue;
        };
        if in_x5c || case.intermediates_twice {
            x5c.push(cert.cert_der().to_vec());
        }
        if !in_x5c || case.intermediates_twice {
            trust
                .add_intermediate(CITY, &format!("ca-{i}"), &cert.cert_pem())
                .expect("write intermediate");
        }
        untrusted_pem.push_str(&cert.cert_pem());
    }
    if case.anchor_in_x5c {
        x5c.push(issued[root_ix].cert_der().to_vec());
        untrusted_pem.push_str(&root_pem);
    }
    let mut crls_pem = String::new();
    if let Some(plan) = case.crls {
        for (ca_ix, ca) in issued.iter().enumerate().skip(1) {
            if plan.leaf_only && ca_ix != 1 {
                continue;
            }
            let entries: Vec<RevokedCert> = case
                .revocations
                .iter()
                .filter(|r| r.target + 1 == ca_ix)
                .map(|r| RevokedCert {
                    serial: if r.unrelated {
                        case.slots[r.target].spec.serial ^ 0x0f0f_0000
                    } else {
                        case.slots[r.target].spec.serial
                    },
                    revoked_at: r.at,
                    reason: r.reason,
                })
                .collect();
            let crl = crl_by(ca, &entries, plan.this_update, 1 + ca_ix as u64);
            trust
                .add_crl(CITY, &format!("ca-{ca_ix}"), &crl.pem())
                .expect("write crl");
            crls_pem.push_str(&crl.pem());
        }
    }

    // the licence: valid in every respect but its chain
    let signer = LicenceSigner::new(&issued[0].key_pem(), &x5c, None, SignerHeader::X5c)
        .expect("licence signer");
    let licence = case_draft(case.id)
        .issue(catalog, &signer)
        .expect("licence signs");
    let verifier = Verifier::load(&trust_dir, None).expect("trust dir loads");
    let signer_city = case.slots[0].spec.subject.city.clone().unwrap_or_default();
    let verdict = verifier.verify(licence.as_bytes(), &signer_city, NOW);
    let stray: Vec<_> = verdict
        .errors
        .iter()
        .filter(|f| !CHAIN_CODES.contains(&f.code))
        .collect();
    assert!(
        stray.is_empty(),
        "case {}: the licence itself should be valid, got {stray:?}",
        case.id
    );
    let ours = verdict
        .errors
        .iter()
        .map(|f| (f.code, f.message.clone()))
        .collect();

    // openssl
    let files = dir.path();
    fs::write(files.join("roots.pem"), &roots_pem).expect("write");
    fs::write(files.join("signer.pem"), issued[0].cert_pem()).expect("write");
    let mut args: Vec<String> = [
        "verify",
        "-no-CApath",
        "-no-CAstore",
        "-x509_strict",
        "-purpose",
        "smimesign",
        "-verify_depth",
        "3",
        "-attime",
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect();
    args.push(IAT.to_string());
    args.extend(["-CAfile".into(), "roots.pem".into()]);
    if !untrusted_pem.is_empty() {
        fs::write(files.join("intermediates.pem"), &untrusted_pem).expect("write");
        args.extend(["-untrusted".into(), "intermediates.pem".into()]);
    }
    if let Some(plan) = case.crls {
        fs::write(files.join("crls.pem"), &crls_pem).expect("write");
        args.push(
            if plan.leaf_only {
                "-crl_check"
            } else {
                "-crl_check_all"
            }
            .into(),
        );
        args.extend(["-CRLfile".into(), "crls.pem".into()]);
    }
    args.push("signer.pem".into());
    let out = openssl(files, &args);
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let openssl_ok = out.status.success() && stdout.contains("signer.pem: OK");
    let openssl_errors = parse_openssl_errors(&stderr);

    let facts = (0..case.slots.len())
        .map(|i| {
            let spec = &case.slots[i].spec;
            let is_ca = matches!(spec.ca, CaKind::Ca { .. });
            let later = case.revocations.iter().any(|r| {
                r.target == i
                    && !r.unrelated
                    && r.at > IAT
                    && !matches!(
                        r.reason,
                        None | Some(Reason::KeyCompromise) | Some(Reason::CaCompromise)
                    )
            });
            (
                spec.not_after == IAT,
                is_ca && spec.key_usage.is_none(),
                later,
            )
        })
        .collect();
    Outcome {
        case_id: case.id,
        desc: case.desc.join("; "),
        ours,
        openssl_ok,
        openssl_errors,
        openssl_cmd: format!("openssl {}", args.join(" ")),
        openssl_output: format!("{stdout}{stderr}"),
        algs: case.slots.iter().map(|s| s.spec.key_alg).collect(),
        facts,
        crl_after_iat: case.crls.is_some_and(|p| p.this_update > IAT),
        city_mismatch: case.city_mismatch,
    }
}

/// Both reject: does some openssl error name the same kind of failure as one of our codes?
fn same_reason(o: &Outcome) -> bool {
    o.openssl_errors
        .iter()
        .filter_map(|(code, depth, _)| our_code_for(*code, *depth))
        .any(|c| o.ours.iter().any(|(ours, _)| *ours == c))
}

/// `Ok(reasons)` (empty = agreement) or `Err(why)` for an unexplained disagreement.
fn classify(o: &Outcome) -> Result<Vec<&'static str>, String> {
    let ours_ok = o.ours.is_empty();
    if ours_ok == o.openssl_ok {
        return Ok(Vec::new());
    }
    let mut reasons = Vec::new();
    if !ours_ok {
        // we reject, openssl accepts: each of our findings must be a documented strictness
        for (code, msg) in &o.ours {
            let problems: Vec<&str> = msg
                .rsplit_once("cannot sign licences: ")
                .map(|(_, p)| p.split("; ").collect())
                .unwrap_or_default();
            match code {
                Code::ChainUntrusted if o.city_mismatch => reasons.push(D_CITY),
                Code::SignerNotEligible if !problems.is_empty() => {
                    for problem in problems {
                        reasons.push(if problem.starts_with("it is a CA") {
                            D_PROFILE_CA
                        } else if problem.starts_with("its subject has no") {
                            D_PROFILE_OU
                        } else {
                            return Err(format!("we reject ({problem}), openssl accepts"));
                        });
                    }
                }
                _ => return Err(format!("we reject with {code:?} ({msg}), openssl accepts")),
            }
        }
    } else {
        // we accept, openssl rejects: each openssl error must be explained by the case
        if o.openssl_errors.is_empty() {
            return Err("openssl rejects without an error line".into());
        }
        for (code, depth, msg) in &o.openssl_errors {
            let (not_after_is_iat, ca_without_ku, revoked_later) =
                o.facts.get(*depth).copied().unwrap_or_default();
            let reason = match code {
                10 if not_after_is_iat => D_NOT_AFTER,
                11 if o.crl_after_iat => D_CRL_AT_IAT,
                23 if revoked_later => D_REVOKED_LATER,
                // 92 "CA cert does not include key usage extension", 81 "Path length given
                // without key usage keyCertSign": both x509_strict checks of a CA without keyUsage
                92 | 81 if ca_without_ku => D_CA_NO_KU,
                _ => {
                    return Err(format!(
                        "openssl error {code} at depth {depth} ({msg}), we accept"
                    ))
                }
            };
            reasons.push(reason);
        }
    }
    reasons.sort_unstable();
    reasons.dedup();
    Ok(reasons)
}

#[test]
fn chain_verdicts_agree_with_openssl() {
    let started = Instant::now();
    let version = openssl_version();
    let cases_wanted: usize = env_or("TONGBAN_DIFF_CASES", DEFAULT_CASES);
    let seed: u64 = env_or("TONGBAN_DIFF_SEED", DEFAULT_SEED);
    let mut rng = Rng::new(seed);
    let cases: Vec<Case> = (0..cases_wanted).map(|id| generate(id, &mut rng)).collect();
    let catalog = Catalog::embedded().expect("catalog");
    let outcomes = run_on_workers(&cases, |case| run_case(case, &catalog));

    let mut both_valid = 0;
    let mut both_invalid = 0;
    let mut other_reason = String::new();
    let mut other_reason_count = 0;
    let mut deliberate: BTreeMap<String, usize> = BTreeMap::new();
    let mut by_reason: BTreeMap<&str, usize> = BTreeMap::new();
    let mut per_alg: BTreeMap<String, usize> = BTreeMap::new();
    let mut unexplained = String::new();
    let mut unexplained_count = 0;
    for o in &outcomes {
        for alg in &o.algs {
            *per_alg.entry(format!("{alg:?}")).or_default() += 1;
        }
        match classify(o) {
            Ok(reasons) if reasons.is_empty() => {
                if o.openssl_ok {
                    both_valid += 1;
                } else {
                    both_invalid += 1;
                    if !same_reason(o) {
                        other_reason_count += 1;
                        let _ = writeln!(
                            other_reason,
                            "  case {} [{}]: ours {:?}, openssl {:?}",
                            o.case_id,
                            o.desc,
                            o.ours.iter().map(|(c, _)| *c).collect::<Vec<_>>(),
                            o.openssl_errors
                        );
                    }
                }
            }
            Ok(reasons) => {
                for r in &reasons {
                    *by_reason.entry(r).or_default() += 1;
                }
                *deliberate.entry(reasons.join(" + ")).or_default() += 1;
            }
            Err(why) => {
                unexplained_count += 1;
                let _ = writeln!(
                    unexplained,
                    "case {} [{}]: {why}\n  ours: {:?}\n  {}\n  {}",
                    o.case_id,
                    o.desc,
                    o.ours,
                    o.openssl_cmd,
                    o.openssl_output.trim().replace('\n', "\n  ")
                );
            }
        }
    }
    let deliberate_total: usize = deliberate.values().sum();
    eprintln!("openssl differential: {version}, seed {seed:#x}");
    eprintln!(
        "cases: {}, agree: {} (both valid {both_valid}, both invalid {both_invalid}), \
         deliberate differences: {deliberate_total}, unexplained: {unexplained_count}",
        outcomes.len(),
        both_valid + both_invalid
    );
    eprintln!("both invalid but for another kind of reason: {other_reason_count}\n{other_reason}");
    eprintln!("deliberate differences by reason:");
    for (reason, count) in &by_reason {
        eprintln!("  {count:4}  {reason}");
    }
    eprintln!("certificates by key algorithm: {per_alg:?}");
    eprintln!("time: {:.1} s", started.elapsed().as_secs_f64());
    if verbose() {
        for o in &outcomes {
            eprintln!(
                "case {} [{}] ours {:?} openssl {} {:?}",
                o.case_id,
                o.desc,
                o.ours.iter().map(|(c, _)| *c).collect::<Vec<_>>(),
                o.openssl_ok,
                o.openssl_errors
            );
        }
    }
    assert!(outcomes.len() >= 300 || cases_wanted < 300);
    assert_eq!(
        unexplained_count, 0,
        "unexplained disagreements:\n{unexplained}"
    );
}

#[test]
fn openssl_error_lines_parse() {
    let stderr = "CN = x\nerror 10 at 1 depth lookup: certificate has expired\n\
                  error signer.pem: verification failed\n";
    assert_eq!(
        parse_openssl_errors(stderr),
        vec![(10, 1, "certificate has expired".to_owned())]
    );
}

#[test]
fn generator_is_deterministic() {
    let describe = |seed| {
        let mut rng = Rng(seed);
        (0..50)
            .map(|id| generate(id, &mut rng).desc.join("; "))
            .collect::<Vec<_>>()
    };
    assert_eq!(describe(DEFAULT_SEED), describe(DEFAULT_SEED));
}
