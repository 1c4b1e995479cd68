//! The fuzz targets' bodies and their seed corpora, shared by the fuzzer binaries
//! (`fuzz/fuzz_targets/`) and by the smoke test that CI runs (`tests/fuzz_smoke.rs` includes
//! this file). Every target feeds untrusted bytes to the parser the gateway uses on them and
//! checks what must hold whatever the input; a panic anywhere is a finding.
//!
//! The fixed material (trust store, catalog, policies, keys) is the demo PKI of `certs/demo`,
//! made by code (`tongban pki demo`); the seeds are made from it by [`seeds`].

#![allow(
    clippy::panic,
    clippy::indexing_slicing,
    reason = "a fuzz harness: missing fixed material is a broken set-up, and a panic is a finding"
)]

use std::collections::HashSet;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use serde_json::{json, Value};
use tongban::audit;
use tongban::catalog::Catalog;
use tongban::crypto::{self, Algorithm, Form, PrivateKey, PublicKey, Signature};
use tongban::licence::issue::{LicenceSigner, SignerHeader};
use tongban::licence::Verifier;
use tongban::policy::filter::filter;
use tongban::policy::mask::MaskKey;
use tongban::policy::plan::FieldPlan;
use tongban::policy::{lint, AccessRequest, Party, PolicySet};
use tongban::server::service::parse_batch;
use tongban::server::Config;
use tongban::stats::{self, Resolver};
use tongban::trust::cert::Cert;
use tongban::trust::chain;
use tongban::trust::crl::Crl;

/// A target's body: it takes any bytes and panics only on a finding.
pub type Target = fn(&[u8]);

/// Every target: its name (the fuzzer binary and corpus folder) and its body.
pub const TARGETS: [(&str, Target); 9] = [
    ("licence", licence),
    ("x5c", x5c),
    ("crl", crl),
    ("batch", batch),
    ("policy", policy),
    ("config", config),
    ("filter", upstream_json),
    ("audit", audit_lines),
    ("sm2", sm2),
];

/// The time every target judges at: within the demo PKI's validity, fixed for repeatability.
const NOW: i64 = 1_767_225_600; // 2026-01-01T00:00:00Z
/// The verifying city (Huangshi): it recognises the demo licences of every city.
const CITY: &str = "420200";

/// A whole licence through the verifier: splitting, header and payload JSON, `x5c` or `kid`,
/// chains, CRLs, signatures (SM2 included) and every claim check.
pub fn licence(data: &[u8]) {
    let verdict = fixture().verifier.verify(data, CITY, NOW);
    assert_eq!(verdict.valid, verdict.errors.is_empty());
    assert!(serde_json::to_vec(&verdict).is_ok());
}

/// One DER certificate as an `x5c` entry brings it: parsed, its own signature checked, and a
/// chain built from it to Wuhan's anchors (through the demo intermediate).
pub fn x5c(data: &[u8]) {
    let Ok(cert) = Cert::from_der(data) else {
        return;
    };
    let _ = (cert.identity(), cert.kid(), cert.is_ca(), cert.key_usage());
    let _ = cert.verify_signed_by(cert.key());
    let trust = fixture().verifier.trust();
    if let Some(city) = trust.city("420100") {
        let _ = chain::build(&Arc::new(cert), &[], city);
    }
}

/// A DER CRL: parsed, looked up, and its signature checked against Wuhan's issuing CA.
pub fn crl(data: &[u8]) {
    let Ok(crl) = Crl::from_der(data, "fuzz") else {
        return;
    };
    let _ = (
        crl.is_stale(NOW),
        crl.lookup(&[1]),
        crl.lookup(data.get(..8).unwrap_or(data)),
    );
    if let Some(city) = fixture().verifier.trust().city("420100") {
        for ca in city.anchors.iter().chain(&city.intermediates) {
            let _ = crl.verify_signed_by(ca.key());
        }
    }
}

/// The body of `POST /v1/licences/verify-batch`, and the first licences of it verified.
pub fn batch(data: &[u8]) {
    if let Ok(licences) = parse_batch(data, 1000) {
        for licence in licences.iter().take(4) {
            let verdict = fixture().verifier.verify(licence, CITY, NOW);
            assert_eq!(verdict.valid, verdict.errors.is_empty());
        }
    }
}

/// A policy file: loading (every check of contract section 4), the lint, and a decision.
pub fn policy(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let f = fixture();
    let files = [("fuzz.toml".to_owned(), text.to_owned())];
    let Ok(set) = PolicySet::parse(&files, &f.catalog, Some(&f.upstreams)) else {
        return;
    };
    let today = tongban::policy::today_cst(NOW);
    let _ = lint::lint(set.items(), today);
    let caller = Party {
        city: "420100".into(),
        department: "HOUSING_FUND".into(),
    };
    for item in set.items() {
        let decision = set.decide(&AccessRequest {
            caller: &caller,
            item: &item.id,
            method: "GET",
            purpose: "HPF_WITHDRAWAL",
            today,
            licence: None,
        });
        let _ = decision.rules();
    }
}

/// The server configuration file.
pub fn config(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let (config, problems) = Config::parse_all(text, Path::new("/nonexistent"), "fuzz.toml");
    assert!(config.is_some() || !problems.is_empty());
}

/// An upstream's answer, filtered and masked while parsed, as the exchange does it: what comes
/// out is JSON, and the filter accepts exactly what serde_json accepts.
pub fn upstream_json(data: &[u8]) {
    let f = fixture();
    let parsed = serde_json::from_slice::<Value>(data).is_ok();
    match filter(data, &f.plan, &f.mask_key) {
        Ok((answer, _)) => {
            assert!(parsed, "the filter took what serde_json refuses");
            assert!(serde_json::from_slice::<Value>(&answer).is_ok());
        }
        Err(_) => assert!(!parsed, "the filter refused what serde_json takes"),
    }
}

/// Audit log lines, as `tongban audit verify` and the statistics' rebuild at start read them.
pub fn audit_lines(data: &[u8]) {
    let f = fixture();
    let path = scratch_file();
    if fs::write(&path, data).is_err() {
        return;
    }
    let _ = audit::verify_files(std::slice::from_ref(&path));
    let names = Resolver {
        catalog: &f.catalog,
        policies: &f.policies,
    };
    let _ = stats::rebuild(&path, NOW, &names);
}

/// National cryptography: an SPKI, a PKCS#8 private key, and SM2 signatures in both forms.
/// Layout: `[selector][key length][key][signature length][signature][message]`; a short input
/// is a key alone.
pub fn sm2(data: &[u8]) {
    let (selector, rest) = data.split_first().unwrap_or((&0, data));
    let (key, rest) = take_prefixed(rest, 2);
    let (signature, message) = take_prefixed(rest, 1);
    if selector & 1 == 1 {
        if let Ok(private) = PrivateKey::from_pkcs8_der(key) {
            let public = private.public_key();
            if private.key_type() == crypto::KeyType::Sm2 {
                let alg = Algorithm::Sm2Sm3;
                for form in [Form::Jws, Form::X509] {
                    if let Ok(sig) = private.sign(alg, form, message) {
                        let b64 = URL_SAFE_NO_PAD.encode(&sig);
                        let sig = match form {
                            Form::Jws => Signature::Jws(&b64),
                            Form::X509 => Signature::X509(&sig),
                        };
                        assert!(crypto::verify(alg, &public, message, sig).is_ok());
                    }
                }
            }
        }
        return;
    }
    let Ok(public) = PublicKey::from_spki_der(key) else {
        return;
    };
    let jws = URL_SAFE_NO_PAD.encode(signature);
    let text = std::str::from_utf8(signature).unwrap_or(&jws);
    for sig in [
        Signature::X509(signature),
        Signature::Jws(&jws),
        Signature::Jws(text),
    ] {
        let _ = crypto::verify(Algorithm::Sm2Sm3, &public, message, sig);
    }
}

/// Splits `data` at a big-endian length of `width` bytes that precedes the part.
fn take_prefixed(data: &[u8], width: usize) -> (&[u8], &[u8]) {
    let Some((len, rest)) = data.split_at_checked(width) else {
        return (data, &[]);
    };
    let len = len.iter().fold(0usize, |n, b| n << 8 | usize::from(*b));
    rest.split_at_checked(len).unwrap_or((rest, &[]))
}

/// The fixed material of every target, loaded once per process.
pub struct Fixture {
    pub verifier: Verifier,
    pub catalog: Catalog,
    pub policies: PolicySet,
    pub upstreams: HashSet<String>,
    pub plan: FieldPlan,
    pub mask_key: MaskKey,
}

/// The repository's root (the fuzz crate sits one level below it).
pub fn repo_root() -> PathBuf {
    let here = Path::new(env!("CARGO_MANIFEST_DIR"));
    if here.join("certs/demo").is_dir() {
        here.to_owned()
    } else {
        here.join("..")
    }
}

/// The demo trust directory, the shipped policies, and the grant of a shipped permit.
pub fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let root = repo_root();
        let policies_dir = root.join("policies");
        let verifier = Verifier::load(&root.join("certs/demo/trust"), Some(&policies_dir))
            .unwrap_or_else(|e| panic!("demo trust directory: {e}"));
        let catalog = Catalog::load(&policies_dir).unwrap_or_else(|e| panic!("catalog: {e}"));
        let policies = PolicySet::load(&policies_dir, &catalog, None)
            .unwrap_or_else(|e| panic!("shipped policies: {e}"));
        let upstreams = policies
            .items()
            .iter()
            .map(|i| i.upstream.clone())
            .collect();
        let plan = shipped_plan(&policies);
        Fixture {
            verifier,
            catalog,
            policies,
            upstreams,
            plan,
            mask_key: MaskKey::new(b"fuzz mask key of thirty-two bytes"),
        }
    })
}

/// The plan of every permit of every shipped item at once: all paths and masks.
fn shipped_plan(policies: &PolicySet) -> FieldPlan {
    FieldPlan::compile(
        policies
            .items()
            .iter()
            .flat_map(|item| &item.permits)
            .map(|p| (&p.fields[..], &p.mask[..])),
    )
}

/// A file of this process for the audit target (the audit log is a file by contract), in
/// memory where there is a tmpfs (ten times the executions of a disk).
fn scratch_file() -> PathBuf {
    static PATH: OnceLock<PathBuf> = OnceLock::new();
    PATH.get_or_init(|| {
        let shm = Path::new("/dev/shm");
        let base = if shm.is_dir() {
            shm.to_owned()
        } else {
            std::env::temp_dir()
        };
        let dir = base.join(format!("tongban-fuzz-{}", std::process::id()));
        let _ = fs::create_dir_all(&dir);
        dir.join("audit.jsonl")
    })
    .clone()
}

/// Removes this process's scratch file of the audit target.
pub fn remove_scratch() {
    if let Some(dir) = scratch_file().parent() {
        let _ = fs::remove_dir_all(dir);
    }
}

/// The seed corpus of each target, made from the demo PKI, the shipped policies and samples.
pub fn seeds(target: &str) -> Vec<Vec<u8>> {
    let root = repo_root();
    match target {
        "licence" => licence_seeds(&root),
        "x5c" => certificate_seeds(&root),
        "crl" => pem_files(&root.join("certs/demo/trust"), "crls", "X509 CRL"),
        "batch" => {
            let licences = licence_seeds(&root);
            let texts: Vec<String> = licences
                .iter()
                .take(3)
                .map(|l| String::from_utf8_lossy(l).into_owned())
                .collect();
            vec![
                serde_json::to_vec(&texts).unwrap_or_default(),
                b"[]".to_vec(),
                br#"["a.b.c", " x "]"#.to_vec(),
            ]
        }
        "policy" => files_under(&root.join("policies/items"), "toml"),
        "config" => vec![
            fs::read(root.join("src/cli/init/tongban.toml")).unwrap_or_default(),
            CONFIG_SEED.as_bytes().to_vec(),
        ],
        "filter" => files_under(&root.join("policies/samples"), "json"),
        "audit" => vec![audit_seed()],
        "sm2" => sm2_seeds(&root),
        _ => Vec::new(),
    }
}

const CONFIG_SEED: &str = r#"[listen]
public = "127.0.0.1:8443"
admin = "127.0.0.1:9100"
[tls]
cert = "server-chain.pem"
key = "server.key"
[trust]
dir = "trust"
[policies]
dir = "policies"
[audit]
path = "audit.jsonl"
flush_interval_ms = 100
[upstreams.hpf-xianning]
url = "http://127.0.0.1:18080"
timeout_ms = 5000
[limits]
max_connections = 1024
[cache]
max_entries = 10
"#;

/// The demo licences (x5c form), the same re-signed in kid form, and a few hostile shapes.
fn licence_seeds(root: &Path) -> Vec<Vec<u8>> {
    let dir = root.join("certs/demo/licences");
    let mut seeds = files_under(&dir, "jws");
    // kid form: re-sign the payloads of some demo licences with their department's key
    for (city, dept, ltype) in [
        ("421100", "MARKET_REG", "BUSINESS_LICENCE"), // SM2
        ("420100", "MARKET_REG", "BUSINESS_LICENCE"), // P-256 through an intermediate
        ("420200", "PUBLIC_SECURITY", "ID_CARD"),     // Ed25519
    ] {
        let signers = root.join("certs/demo/signers");
        let (Ok(cert), Ok(key), Ok(jws)) = (
            fs::read_to_string(signers.join(format!("{city}-{dept}.pem"))),
            fs::read_to_string(signers.join(format!("{city}-{dept}.key"))),
            fs::read_to_string(dir.join(format!("{ltype}.jws"))),
        ) else {
            continue;
        };
        let Some(payload) = jws
            .split('.')
            .nth(1)
            .and_then(|p| URL_SAFE_NO_PAD.decode(p).ok())
            .and_then(|p| serde_json::from_slice::<Value>(&p).ok())
        else {
            continue;
        };
        let mut payload = payload;
        if let Some(cert) = pem_ders(&cert, "CERTIFICATE").first() {
            if let Some(org) = Cert::from_der(cert)
                .ok()
                .and_then(|c| c.identity().org_id.clone())
            {
                payload["iss"] = json!(org);
            }
            if let Ok(signer) =
                LicenceSigner::new(&key, std::slice::from_ref(cert), None, SignerHeader::Kid)
            {
                if let Ok(licence) = signer.sign(&payload) {
                    seeds.push(licence.into_bytes());
                }
            }
        }
    }
    let b64 = |v: &Value| URL_SAFE_NO_PAD.encode(v.to_string());
    let payload = b64(&json!({"lid": "x", "ltype": "ID_CARD", "iss": "y", "iat": 0, "fields": {}}));
    for header in [
        json!({"alg": "none", "typ": "elicence+jws"}),
        json!({"alg": "HS256", "typ": "elicence+jws", "kid": "AAAAAAAAAAA"}),
        json!({"alg": "SM2", "typ": "elicence+jws", "x5c": ["AA=="], "crit": ["x"]}),
    ] {
        seeds.push(format!("{}.{payload}.", b64(&header)).into_bytes());
        seeds.push(format!("{}.{payload}.AAAA", b64(&header)).into_bytes());
    }
    seeds
}

/// Every demo certificate (anchors, intermediates, signers, clients, server).
fn certificate_seeds(root: &Path) -> Vec<Vec<u8>> {
    let demo = root.join("certs/demo");
    let mut seeds = pem_files(&demo.join("trust"), "roots.pem", "CERTIFICATE");
    seeds.extend(pem_files(
        &demo.join("trust"),
        "intermediates",
        "CERTIFICATE",
    ));
    for sub in ["signers", "clients", "server"] {
        for file in files_under(&demo.join(sub), "pem") {
            seeds.extend(pem_ders(&String::from_utf8_lossy(&file), "CERTIFICATE"));
        }
    }
    seeds.sort();
    seeds.dedup();
    // a seed per key family is enough for the mutator; keep the corpus small
    seeds.truncate(64);
    seeds
}

/// SPKIs and PKCS#8 keys of the SM2 cities' signers, with signatures over a message.
fn sm2_seeds(root: &Path) -> Vec<Vec<u8>> {
    let mut seeds = Vec::new();
    let signers = root.join("certs/demo/signers");
    for name in [
        "421100-MARKET_REG",
        "421200-HOUSING_FUND",
        "420100-MARKET_REG",
    ] {
        let (Ok(cert), Ok(key)) = (
            fs::read_to_string(signers.join(format!("{name}.pem"))),
            fs::read_to_string(signers.join(format!("{name}.key"))),
        ) else {
            continue;
        };
        let Ok(private) = PrivateKey::from_pkcs8_pem(&key) else {
            continue;
        };
        let message = b"eyJhbGciOiJTTTIifQ.e30";
        let spki = pem_ders(&cert, "CERTIFICATE")
            .first()
            .and_then(|der| Cert::from_der(der).ok())
            .map(|_| private.spki_der().to_vec())
            .unwrap_or_default();
        let alg = Algorithm::default_for(private.key_type());
        for form in [Form::Jws, Form::X509] {
            let sig = private.sign(alg, form, message).unwrap_or_default();
            seeds.push(framed(0, &spki, &sig, message));
        }
        seeds.push(framed(1, private.pkcs8_der(), &[], message));
    }
    seeds
}

fn framed(selector: u8, key: &[u8], signature: &[u8], message: &[u8]) -> Vec<u8> {
    let mut out = vec![selector];
    out.extend(u16::try_from(key.len()).unwrap_or(0).to_be_bytes());
    out.extend(key);
    out.push(u8::try_from(signature.len()).unwrap_or(0));
    out.extend(signature);
    out.extend(message);
    out
}

/// A small intact audit chain, written by the real writer.
fn audit_seed() -> Vec<u8> {
    let dir = std::env::temp_dir().join(format!("tongban-fuzz-seed-{}", std::process::id()));
    let _ = fs::create_dir_all(&dir);
    let path = dir.join("audit.jsonl");
    let _ = fs::remove_file(&path);
    if let Ok(log) = audit::AuditLog::open(&path, audit::AuditOptions::default()) {
        let caller = audit::CallerId::new("420100", "HOUSING_FUND", "org");
        let record = audit::Record::exchange(
            "req-1",
            caller.clone(),
            "HPF-DEPOSIT-QUERY",
            "HPF_WITHDRAWAL",
            audit::Outcome::Permit,
        )
        .status(200);
        let _ = log.append(&record);
        let verification = audit::Record::licence_verification(
            "req-2",
            caller,
            Some("ID_CARD".into()),
            None,
            audit::Outcome::Valid,
        );
        let _ = log.append(&verification);
        let _ = log.sync();
    }
    let bytes = fs::read(&path).unwrap_or_default();
    let _ = fs::remove_dir_all(&dir);
    bytes
}

/// The DER blocks of `label` in every PEM file at `<dir>/<city>/<sub>` (a file or a folder).
fn pem_files(dir: &Path, sub: &str, label: &str) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let Ok(cities) = fs::read_dir(dir) else {
        return out;
    };
    let mut cities: Vec<PathBuf> = cities.flatten().map(|e| e.path()).collect();
    cities.sort();
    for city in cities {
        let at = city.join(sub);
        let texts = if at.is_dir() {
            files_under(&at, "pem")
        } else {
            fs::read(&at).into_iter().collect()
        };
        for text in texts {
            out.extend(pem_ders(&String::from_utf8_lossy(&text), label));
        }
    }
    out
}

/// The DER blocks of `label` in a PEM text.
fn pem_ders(text: &str, label: &str) -> Vec<Vec<u8>> {
    let begin = format!("-----BEGIN {label}-----");
    let end = format!("-----END {label}-----");
    text.split(begin.as_str())
        .skip(1)
        .filter_map(|block| block.split(end.as_str()).next())
        .filter_map(|b64| {
            STANDARD
                .decode(b64.split_whitespace().collect::<String>())
                .ok()
        })
        .collect()
}

/// The files ending in `.ext` under `dir` (any depth), sorted.
fn files_under(dir: &Path, ext: &str) -> Vec<Vec<u8>> {
    let mut paths = Vec::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        for entry in fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = entry.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|e| e == ext) {
                paths.push(p);
            }
        }
    }
    paths.sort();
    paths.iter().filter_map(|p| fs::read(p).ok()).collect()
}
