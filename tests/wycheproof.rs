//! Every Wycheproof vector of the five licence signature algorithms, through the licence
//! signature path exactly as the verifier calls it:
//!
//! group `publicKeyDer` (SPKI) → [`PublicKey::from_spki_der`] → for each test,
//! base64url(sig) → [`verify`]`(alg, &key, msg, sig_b64)`.
//!
//! `valid` must verify, `invalid` must not, and each `acceptable` vector must match the
//! documented [`ACCEPTABLE`] table, so a change of behaviour (e.g. a ring upgrade) is noticed.
//! A group whose key does not decode counts as "rejected" for each of its tests; a `valid`
//! test in such a group is a failure like any other.
//!
//! Vectors: `tests/data/wycheproof/` (C2SP/wycheproof `testvectors_v1/`, see the README
//! there). Summary of the edge cases and where they are:
//!
//! - CVE-2022-21449 ("psychic signatures", r = 0 or s = 0): ES256 and ES384 tcId 11–59
//!   (every pair of r, s ∈ {0, 1, n, n − 1, n + 1, p, p + 1}, incl. r = s = 0) and the
//!   "s == 0" vector (ES256 tcId 153, ES384 tcId 181); all `invalid`.
//! - Out-of-range r / s: `RangeCheck` (r + n, s + n, r + 256·n, s + 256·n; tcId 2, 3, 7, 8),
//!   `IntegerOverflow` (r or s + 2²⁵⁶ / 2³⁸⁴ and + 2³²⁰ / 2⁴⁴⁸; tcId 5, 6, 9, 10), the r, s ∈
//!   {n, n + 1, p, p + 1} pairs above, "r too large" (ES256 116, ES384 148), "r / s is larger
//!   than n" (ES256 136–137, ES384 164–165), and r not reduced mod n / r + n overflowing
//!   (ES256 254–260, ES384 272–278); all `invalid`.
//! - Wrong-length P1363 signatures: `SignatureSize` (2, 16, 26, 32 and 40 bytes instead of
//!   64 / 96), and the `RangeCheck` / `IntegerOverflow` vectors above, which are 1 to 18
//!   bytes too long; ring's `*_FIXED` algorithms take exactly 2 × 32 / 2 × 48 bytes.
//! - Ed25519 small-order points: these vectors have no small-order *public key* (all 78
//!   group keys are of prime order, checked when the table below was written). Small-order
//!   *R* is covered: tcId 10–19 (R = identity / order-4 points with S ∈ {0, 1, L, …}) and
//!   tcId 60 (R = 0), and mixed-order R (R with a torsion component) by the `InvalidEncoding`
//!   bit-flip vectors (e.g. tcId 42, 47, 49, 51–53, 57, 62); all `invalid`. Non-canonical
//!   S (S ≥ L, malleability) is `SignatureMalleability` tcId 63–70 and `InvalidKtv` tcId 85;
//!   non-decodable R is tcId 20–29, 61, 151; wrong lengths are `TruncatedSignature`,
//!   `SignatureWithGarbage`, `CompressedSignature`.
//! - RSA PKCS#1 v1.5: BER / malformed DigestInfo, wrong hash, encryption padding, signature
//!   ≥ n, 0, 1, n − 1, PSS signatures under RS256 (`WrongPrimitive`); the one `acceptable`
//!   vector is tcId 8 (DigestInfo without the NULL parameter, flag `MissingNull`).
//! - RSA PSS (sLen 32 = hash length, which is what ring's `RSA_PSS_2048_8192_SHA256`
//!   requires): modified signatures / padding and a PKCS#1 v1.5 signature under PS256.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "test code: a failure here is a failed test"
)]

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use serde::Deserialize;
use tongban::crypto::{verify, Algorithm, PublicKey, Signature};

const ES256_FILE: &str = "ecdsa_secp256r1_sha256_p1363_test.json";
const ES384_FILE: &str = "ecdsa_secp384r1_sha384_p1363_test.json";
const EDDSA_FILE: &str = "ed25519_test.json";
const RS256_FILE: &str = "rsa_signature_2048_sha256_test.json";
const PS256_FILE: &str = "rsa_pss_2048_sha256_mgf1_32_test.json";

/// Sum of `numberOfTests` over the five files.
const TOTAL_VECTORS: usize = 1060;

/// Our documented verdict for every class of `acceptable` vector in the five files:
/// (file, Wycheproof flag, accepted by the licence path?, why). Each `acceptable` vector must
/// carry exactly one listed flag of its file, and each row must match at least one vector.
const ACCEPTABLE: &[(&str, &str, bool, &str)] = &[(
    RS256_FILE,
    "MissingNull",
    false,
    "ring builds the expected EM with the NULL parameter (as in RFC 8017 §9.2) and compares \
     it, so a DigestInfo without the NULL is rejected; mainstream signers emit the NULL",
)];

/// Vectors where the licence path disagrees with Wycheproof and the decision is pending:
/// (file, tcId). The test fails on any other disagreement, and also if a listed vector starts
/// agreeing (so the entry is removed). Empty: no disagreement was found.
const KNOWN_FAILURES: &[(&str, u64)] = &[];

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct VectorFile {
    algorithm: String,
    number_of_tests: usize,
    test_groups: Vec<Group>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Group {
    #[serde(rename = "type")]
    kind: String,
    public_key_der: String,
    #[serde(default)]
    sha: Option<String>,
    #[serde(default)]
    mgf_sha: Option<String>,
    #[serde(default)]
    s_len: Option<usize>,
    tests: Vec<Case>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Case {
    tc_id: u64,
    comment: String,
    flags: Vec<String>,
    msg: String,
    sig: String,
    result: Expected,
}

#[derive(Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
enum Expected {
    Valid,
    Invalid,
    Acceptable,
}

/// What one file's vectors must look like, so a wrong file↔alg mapping cannot pass silently.
struct Spec {
    file: &'static str,
    alg: Algorithm,
    algorithm: &'static str,
    group_type: &'static str,
    sha: Option<&'static str>,
    /// (mgfSha, sLen) for PSS.
    pss: Option<(&'static str, usize)>,
}

#[derive(Default)]
struct Counts {
    total: usize,
    valid: usize,
    valid_accepted: usize,
    invalid: usize,
    invalid_rejected: usize,
    acceptable_accepted: usize,
    acceptable_rejected: usize,
    /// Tests whose group key did not decode (counted as rejected).
    key_rejected: usize,
}

impl fmt::Display for Counts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "total {}, valid accepted {}/{}, invalid rejected {}/{}, \
             acceptable accepted {} / rejected {}, tests under an undecodable key {}",
            self.total,
            self.valid_accepted,
            self.valid,
            self.invalid_rejected,
            self.invalid,
            self.acceptable_accepted,
            self.acceptable_rejected,
            self.key_rejected
        )
    }
}

fn hex(s: &str) -> Vec<u8> {
    assert!(s.len().is_multiple_of(2), "odd-length hex {s:?}");
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex"))
        .collect()
}

fn run(spec: &Spec) -> Counts {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/wycheproof")
        .join(spec.file);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    let file: VectorFile = serde_json::from_str(&text).expect("Wycheproof JSON");
    assert_eq!(file.algorithm, spec.algorithm, "{}", spec.file);

    let mut counts = Counts::default();
    let mut unexpected = Vec::new();
    let mut known_seen = Vec::new();
    let mut acceptable_rows_used = vec![false; ACCEPTABLE.len()];
    // (flag, accepted) → tcIds, for the report.
    let mut acceptable_seen: BTreeMap<(String, bool), Vec<u64>> = BTreeMap::new();

    for group in &file.test_groups {
        assert_eq!(group.kind, spec.group_type, "{}", spec.file);
        assert_eq!(group.sha.as_deref(), spec.sha, "{}", spec.file);
        if let Some((mgf_sha, s_len)) = spec.pss {
            assert_eq!(group.mgf_sha.as_deref(), Some(mgf_sha), "{}", spec.file);
            assert_eq!(group.s_len, Some(s_len), "{}", spec.file);
        }
        // The same SPKI decoding as for a signer certificate's key.
        let key = PublicKey::from_spki_der(&hex(&group.public_key_der));

        for case in &group.tests {
            counts.total += 1;
            let msg = hex(&case.msg);
            let sig_b64 = URL_SAFE_NO_PAD.encode(hex(&case.sig));
            let outcome = match &key {
                Ok(key) => {
                    verify(spec.alg, key, &msg, Signature::Jws(&sig_b64)).map_err(|e| e.to_string())
                }
                Err(e) => {
                    counts.key_rejected += 1;
                    Err(format!("key does not decode: {e}"))
                }
            };
            let accepted = outcome.is_ok();

            let wanted = match case.result {
                Expected::Valid => {
                    counts.valid += 1;
                    counts.valid_accepted += usize::from(accepted);
                    true
                }
                Expected::Invalid => {
                    counts.invalid += 1;
                    counts.invalid_rejected += usize::from(!accepted);
                    false
                }
                Expected::Acceptable => {
                    if accepted {
                        counts.acceptable_accepted += 1;
                    } else {
                        counts.acceptable_rejected += 1;
                    }
                    let rows: Vec<usize> = ACCEPTABLE
                        .iter()
                        .enumerate()
                        .filter(|(_, (file, flag, _, _))| {
                            *file == spec.file && case.flags.iter().any(|f| f == flag)
                        })
                        .map(|(i, _)| i)
                        .collect();
                    let [row] = rows[..] else {
                        unexpected.push(format!(
                            "tcId {} (acceptable, flags {:?}, {:?}): {} rows of the ACCEPTABLE \
                             table match, exactly one is required; our verdict: {}",
                            case.tc_id,
                            case.flags,
                            case.comment,
                            rows.len(),
                            verdict(&outcome)
                        ));
                        continue;
                    };
                    acceptable_rows_used[row] = true;
                    let (_, flag, expected, _) = ACCEPTABLE[row];
                    acceptable_seen
                        .entry((flag.to_string(), accepted))
                        .or_default()
                        .push(case.tc_id);
                    expected
                }
            };

            let known = KNOWN_FAILURES.contains(&(spec.file, case.tc_id));
            if known {
                known_seen.push(case.tc_id);
            }
            match (accepted == wanted, known) {
                (true, false) | (false, true) => {}
                (false, false) => unexpected.push(format!(
                    "tcId {} ({:?}, flags {:?}, {:?}): expected {}, got {}",
                    case.tc_id,
                    case.result,
                    case.flags,
                    case.comment,
                    if wanted { "accepted" } else { "rejected" },
                    verdict(&outcome)
                )),
                (true, true) => unexpected.push(format!(
                    "tcId {} is listed in KNOWN_FAILURES but now gets the expected verdict; \
                     remove it from the list",
                    case.tc_id
                )),
            }
        }
    }

    for (row, (file, flag, _, _)) in ACCEPTABLE.iter().enumerate() {
        if *file == spec.file && !acceptable_rows_used[row] {
            unexpected.push(format!(
                "ACCEPTABLE row for flag {flag:?} matches no vector of this file"
            ));
        }
    }
    for (file, tc_id) in KNOWN_FAILURES {
        if *file == spec.file && !known_seen.contains(tc_id) {
            unexpected.push(format!("KNOWN_FAILURES tcId {tc_id} is not in this file"));
        }
    }

    eprintln!("{} ({}): {counts}", spec.file, spec.alg);
    for ((flag, accepted), ids) in &acceptable_seen {
        eprintln!(
            "  acceptable {flag}: {} tcId {ids:?}",
            if *accepted { "accepted" } else { "rejected" }
        );
    }
    if !KNOWN_FAILURES.is_empty() {
        eprintln!("  known failures (pending decision): {known_seen:?}");
    }
    assert!(
        unexpected.is_empty(),
        "{}: {} unexpected verdict(s):\n{}",
        spec.file,
        unexpected.len(),
        unexpected.join("\n")
    );
    assert_eq!(
        counts.total, file.number_of_tests,
        "{}: numberOfTests",
        spec.file
    );
    counts
}

fn verdict(outcome: &Result<(), String>) -> String {
    match outcome {
        Ok(()) => "accepted".into(),
        Err(e) => format!("rejected ({e})"),
    }
}

const ES256: Spec = Spec {
    file: ES256_FILE,
    alg: Algorithm::EcdsaSha256,
    algorithm: "ECDSA",
    group_type: "EcdsaP1363Verify",
    sha: Some("SHA-256"),
    pss: None,
};
const ES384: Spec = Spec {
    file: ES384_FILE,
    alg: Algorithm::EcdsaSha384,
    algorithm: "ECDSA",
    group_type: "EcdsaP1363Verify",
    sha: Some("SHA-384"),
    pss: None,
};
const EDDSA: Spec = Spec {
    file: EDDSA_FILE,
    alg: Algorithm::Ed25519,
    algorithm: "EDDSA",
    group_type: "EddsaVerify",
    sha: None,
    pss: None,
};
const RS256: Spec = Spec {
    file: RS256_FILE,
    alg: Algorithm::RsaPkcs1Sha256,
    algorithm: "RSASSA-PKCS1-v1_5",
    group_type: "RsassaPkcs1Verify",
    sha: Some("SHA-256"),
    pss: None,
};
const PS256: Spec = Spec {
    file: PS256_FILE,
    alg: Algorithm::RsaPssSha256,
    algorithm: "RSASSA-PSS",
    group_type: "RsassaPssVerify",
    sha: Some("SHA-256"),
    pss: Some(("SHA-256", 32)),
};

#[test]
fn wycheproof_es256_p256_sha256_p1363() {
    run(&ES256);
}

#[test]
fn wycheproof_es384_p384_sha384_p1363() {
    run(&ES384);
}

#[test]
fn wycheproof_eddsa_ed25519() {
    run(&EDDSA);
}

#[test]
fn wycheproof_rs256_rsa2048_pkcs1_sha256() {
    run(&RS256);
}

#[test]
fn wycheproof_ps256_rsa2048_pss_sha256_mgf1_32() {
    run(&PS256);
}

/// The five files are all there is: their `numberOfTests` add up to 1,060. (Each file's own
/// count is checked against the vectors it holds by its test above.)
#[test]
fn wycheproof_total_is_1060() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/wycheproof");
    let total: usize = [ES256_FILE, ES384_FILE, EDDSA_FILE, RS256_FILE, PS256_FILE]
        .iter()
        .map(|f| {
            let text = std::fs::read_to_string(dir.join(f)).expect("vector file");
            let v: serde_json::Value = serde_json::from_str(&text).expect("JSON");
            let n = v["numberOfTests"].as_u64().expect("numberOfTests");
            let counted: usize = v["testGroups"]
                .as_array()
                .expect("testGroups")
                .iter()
                .map(|g| g["tests"].as_array().expect("tests").len())
                .sum();
            assert_eq!(counted as u64, n, "{f}");
            counted
        })
        .sum();
    assert_eq!(total, TOTAL_VECTORS);
}
