//! The trust directory (contract section 3): each city's anchors, intermediates, known signers,
//! CRLs and licence revocation list, loaded and checked once, then shared read-only.
//!
//! ```text
//! <dir>/<city>/roots.pem  intermediates/*.pem  signers/*.pem  crls/*  revoked-licences.json
//! ```

pub mod cert;
pub mod chain;
pub mod crl;

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::Deserialize;
use x509_parser::pem::Pem;

use crate::catalog::Catalog;
use crate::crypto::SignatureError;
use crate::time::{parse_rfc3339, UnixTime};
use cert::Cert;
use crl::{Crl, Revocation};

/// Largest trust file read (a PEM bundle or CRL); bounds memory on a misconfigured directory.
const MAX_TRUST_FILE_BYTES: u64 = 16 * 1024 * 1024;

/// One city's trust material.
#[derive(Debug, Default)]
pub struct CityTrust {
    pub anchors: Vec<Arc<Cert>>,
    pub intermediates: Vec<Arc<Cert>>,
    pub crls: Vec<CityCrl>,
    pub revoked_licences: HashMap<String, RevokedLicence>,
    /// (certificate, issuer) fingerprint pairs among the city's CAs whose signature was checked
    /// at load time; chain building does not check them again.
    pub verified_links: HashSet<([u8; 32], [u8; 32])>,
}

/// A CRL with the fingerprints of the city CAs whose key verified it at load time.
#[derive(Debug)]
pub struct CityCrl {
    pub crl: Crl,
    pub verified_by: Vec<[u8; 32]>,
}

/// An entry of `revoked-licences.json`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RevokedLicence {
    pub revoked_at: UnixTime,
    pub reason: String,
}

/// All cities' trust material.
#[derive(Debug, Default)]
pub struct TrustStore {
    cities: HashMap<String, CityTrust>,
    by_kid: HashMap<[u8; 8], Vec<Arc<Cert>>>,
    notices: Vec<String>,
}

/// Everything wrong with a trust directory, one problem per line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrustError {
    pub problems: Vec<String>,
}

impl fmt::Display for TrustError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "trust directory has {} problem(s):", self.problems.len())?;
        for p in &self.problems {
            write!(f, "\n  {p}")?;
        }
        Ok(())
    }
}

impl std::error::Error for TrustError {}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RevokedLicenceFile {
    lid: String,
    revoked_at: String,
    #[serde(default)]
    reason: String,
}

impl TrustStore {
    /// Loads `dir`; every problem is reported at once. Problems that leave the store usable
    /// (a CRL that does not verify, an anchor that is not a CA) are `notices`, not errors.
    pub fn load(dir: &Path, catalog: &Catalog) -> Result<Self, TrustError> {
        let mut problems = Vec::new();
        let mut store = Self::default();
        let entries = match fs::read_dir(dir) {
            Ok(e) => e,
            Err(e) => {
                return Err(TrustError {
                    problems: vec![format!(
                        "{}: cannot read the trust directory: {e}",
                        dir.display()
                    )],
                })
            }
        };
        let mut city_dirs: Vec<PathBuf> =
            entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
        city_dirs.sort();
        for path in city_dirs.iter().filter(|p| p.is_dir()) {
            let code = path
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or_default();
            if catalog.city(code).is_none() {
                problems.push(format!(
                    "{}: `{code}` is not a city of the catalog",
                    path.display()
                ));
                continue;
            }
            let city = store.load_city(path, code, &mut problems);
            store.cities.insert(code.to_owned(), city);
        }
        if store.cities.values().all(|c| c.anchors.is_empty()) {
            problems.push(format!(
                "{}: no trust anchor in any city (an empty trust store trusts nothing)",
                dir.display()
            ));
        }
        if problems.is_empty() {
            Ok(store)
        } else {
            Err(TrustError { problems })
        }
    }

    /// The trust material of a city, if the directory has it.
    pub fn city(&self, code: &str) -> Option<&CityTrust> {
        self.cities.get(code)
    }

    /// Every city code present, sorted.
    pub fn city_codes(&self) -> Vec<&str> {
        let mut codes: Vec<&str> = self.cities.keys().map(String::as_str).collect();
        codes.sort_unstable();
        codes
    }

    /// Signer certificates (from every city's `signers/`) whose `kid` is `kid`.
    pub fn signers_by_kid(&self, kid: &[u8; 8]) -> &[Arc<Cert>] {
        self.by_kid.get(kid).map(Vec::as_slice).unwrap_or_default()
    }

    /// Things found at load time that did not stop it (reported by the loader's caller).
    pub fn notices(&self) -> &[String] {
        &self.notices
    }

    /// Every city's anchors, for the TLS client-certificate verifier.
    pub fn all_anchors(&self) -> impl Iterator<Item = (&str, &Arc<Cert>)> {
        self.cities
            .iter()
            .flat_map(|(code, c)| c.anchors.iter().map(move |a| (code.as_str(), a)))
    }

    fn load_city(&mut self, dir: &Path, code: &str, problems: &mut Vec<String>) -> CityTrust {
        let mut city = CityTrust::default();
        let roots = dir.join("roots.pem");
        if roots.exists() {
            city.anchors = read_certs(&roots, problems);
            if city.anchors.is_empty() {
                problems.push(format!("{}: holds no certificate", roots.display()));
            }
        } else {
            problems.push(format!(
                "{}: missing (every city directory needs its anchors)",
                roots.display()
            ));
        }
        for anchor in &city.anchors {
            if !anchor.is_ca() {
                self.notices.push(format!(
                    "{}: anchor `{}` is not a CA; nothing chains to it",
                    roots.display(),
                    anchor.subject_text()
                ));
            }
        }
        for file in list_files(&dir.join("intermediates"), problems) {
            city.intermediates.extend(read_certs(&file, problems));
        }
        city.verified_links = verified_links(&city);
        for file in list_files(&dir.join("signers"), problems) {
            for signer in read_certs(&file, problems) {
                self.by_kid.entry(signer.kid()).or_default().push(signer);
            }
        }
        for file in list_files(&dir.join("crls"), problems) {
            for crl in read_crls(&file, problems) {
                if let Some(c) = self.check_crl(crl, code, &city) {
                    city.crls.push(c);
                }
            }
        }
        let revoked = dir.join("revoked-licences.json");
        if revoked.exists() {
            city.revoked_licences = read_revoked(&revoked, problems);
        }
        city
    }

    /// Keeps a CRL that verifies with a same-named CA of the city, or whose issuer the city does
    /// not hold (then checked against the chain's issuer when used); drops one that fails.
    fn check_crl(&mut self, crl: Crl, code: &str, city: &CityTrust) -> Option<CityCrl> {
        let named: Vec<&Arc<Cert>> = city
            .anchors
            .iter()
            .chain(&city.intermediates)
            .filter(|ca| ca.subject() == crl.issuer())
            .collect();
        let checks: Vec<([u8; 32], Result<(), SignatureError>)> = named
            .iter()
            .map(|ca| (*ca.fingerprint(), crl.verify_signed_by(ca.key())))
            .collect();
        let verified_by: Vec<[u8; 32]> = checks
            .iter()
            .filter(|(_, r)| r.is_ok())
            .map(|(f, _)| *f)
            .collect();
        if !named.is_empty() && verified_by.is_empty() {
            let why = checks
                .iter()
                .find_map(|(_, r)| {
                    r.as_ref()
                        .err()
                        .filter(|e| **e == SignatureError::Sm2EmptySignerId)
                })
                .map(|e| format!(" ({e})"))
                .unwrap_or_default();
            self.notices.push(format!(
                "{}: signature does not verify with any CA of city {code} of that name{why}; CRL not used",
                crl.source()
            ));
            return None;
        }
        if named.is_empty() {
            self.notices.push(format!(
                "{}: issuer is not among city {code}'s CAs; checked against the chain's issuer when used",
                crl.source()
            ));
        }
        Some(CityCrl { crl, verified_by })
    }
}

/// Checks once which of the city's intermediates are signed by which of its CAs.
fn verified_links(city: &CityTrust) -> HashSet<([u8; 32], [u8; 32])> {
    let cas: Vec<&Arc<Cert>> = city.anchors.iter().chain(&city.intermediates).collect();
    let mut links = HashSet::new();
    for child in &city.intermediates {
        for ca in cas
            .iter()
            .filter(|ca| ca.subject() == child.issuer() && ca.fingerprint() != child.fingerprint())
        {
            if child.verify_signed_by(ca.key()).is_ok() {
                links.insert((*child.fingerprint(), *ca.fingerprint()));
            }
        }
    }
    links
}

impl CityTrust {
    /// The CRLs that speak for certificates issued by `issuer`: same issuer name and signed with
    /// its key.
    pub fn crls_for<'a>(&'a self, issuer: &'a Cert) -> impl Iterator<Item = &'a Crl> + 'a {
        self.crls
            .iter()
            .filter(|c| c.crl.issuer() == issuer.subject())
            .filter(|c| {
                if c.verified_by.is_empty() {
                    c.crl.verify_signed_by(issuer.key()).is_ok()
                } else {
                    c.verified_by.contains(issuer.fingerprint())
                }
            })
            .map(|c| &c.crl)
    }
}

/// What a city's CRLs say of a chain.
#[derive(Debug, Default)]
pub struct RevocationStatus<'a> {
    /// The CRLs consulted that are past their nextUpdate (each once).
    pub stale: Vec<&'a Crl>,
    /// The certificates of the chain revoked at the time asked, with their CRL entry.
    pub revoked: Vec<(&'a Cert, &'a Revocation)>,
    /// The first moment one of the consulted CRLs not yet stale becomes stale (just after its
    /// nextUpdate): when this judgement may change without a reload.
    pub next_stale: Option<UnixTime>,
}

impl CityTrust {
    /// Checks every link of `chain` (signer or caller first, anchor last) against the CRLs of
    /// its issuer: revoked at `at` (the rule of [`Revocation::revokes_at`]), stale at `now`.
    pub fn revocation<'a>(
        &'a self,
        chain: &'a [Arc<Cert>],
        at: UnixTime,
        now: UnixTime,
    ) -> RevocationStatus<'a> {
        let mut status = RevocationStatus::default();
        for pair in chain.windows(2) {
            let [cert, issuer] = pair else { continue };
            for crl in self.crls_for(issuer) {
                if crl.is_stale(now) {
                    if !status.stale.iter().any(|s| std::ptr::eq(*s, crl)) {
                        status.stale.push(crl);
                    }
                } else if let Some(next) = crl.next_update() {
                    let stale_from = next.saturating_add(1);
                    status.next_stale =
                        Some(status.next_stale.map_or(stale_from, |n| n.min(stale_from)));
                }
                if let Some(entry) = crl.lookup(cert.serial()).filter(|e| e.revokes_at(at)) {
                    status.revoked.push((cert, entry));
                }
            }
        }
        status
    }
}

fn read_bounded(path: &Path, problems: &mut Vec<String>) -> Option<Vec<u8>> {
    match fs::metadata(path) {
        Ok(m) if m.len() > MAX_TRUST_FILE_BYTES => {
            problems.push(format!(
                "{}: larger than {MAX_TRUST_FILE_BYTES} bytes",
                path.display()
            ));
            return None;
        }
        Err(e) => {
            problems.push(format!("{}: {e}", path.display()));
            return None;
        }
        Ok(_) => {}
    }
    fs::read(path)
        .map_err(|e| problems.push(format!("{}: {e}", path.display())))
        .ok()
}

/// Regular files of a directory, sorted; a missing directory is empty.
fn list_files(dir: &Path, problems: &mut Vec<String>) -> Vec<PathBuf> {
    let Ok(entries) = fs::read_dir(dir) else {
        if dir.exists() {
            problems.push(format!("{}: cannot read the directory", dir.display()));
        }
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.is_file()
                && !p
                    .file_name()
                    .is_some_and(|n| n.to_string_lossy().starts_with('.'))
        })
        .collect();
    files.sort();
    files
}

/// Every certificate of a PEM file (DER files hold one certificate).
fn read_certs(path: &Path, problems: &mut Vec<String>) -> Vec<Arc<Cert>> {
    let Some(bytes) = read_bounded(path, problems) else {
        return Vec::new();
    };
    let mut certs = Vec::new();
    for (i, der) in pem_or_der(&bytes, "CERTIFICATE", path, problems)
        .into_iter()
        .enumerate()
    {
        match Cert::from_der(&der) {
            Ok(c) => certs.push(Arc::new(c)),
            Err(e) => problems.push(format!("{} (certificate {}): {e}", path.display(), i + 1)),
        }
    }
    certs
}

fn read_crls(path: &Path, problems: &mut Vec<String>) -> Vec<Crl> {
    let Some(bytes) = read_bounded(path, problems) else {
        return Vec::new();
    };
    let source = path.display().to_string();
    pem_or_der(&bytes, "X509 CRL", path, problems)
        .into_iter()
        .filter_map(|der| {
            Crl::from_der(&der, &source)
                .map_err(|e| problems.push(e))
                .ok()
        })
        .collect()
}

/// The DER blocks of a PEM file with the given label, or the file itself when it is DER.
fn pem_or_der(bytes: &[u8], label: &str, path: &Path, problems: &mut Vec<String>) -> Vec<Vec<u8>> {
    // DER starts with a SEQUENCE tag; PEM with text
    if bytes.first() == Some(&0x30) {
        return vec![bytes.to_vec()];
    }
    let mut blocks = Vec::new();
    for pem in Pem::iter_from_buffer(bytes) {
        match pem {
            Ok(p) if p.label == label => blocks.push(p.contents),
            Ok(p) => problems.push(format!(
                "{}: unexpected PEM block `{}` (want `{label}`)",
                path.display(),
                p.label
            )),
            Err(e) => {
                problems.push(format!("{}: bad PEM: {e}", path.display()));
                break;
            }
        }
    }
    blocks
}

fn read_revoked(path: &Path, problems: &mut Vec<String>) -> HashMap<String, RevokedLicence> {
    let Some(bytes) = read_bounded(path, problems) else {
        return HashMap::new();
    };
    let entries: Vec<RevokedLicenceFile> = match serde_json::from_slice(&bytes) {
        Ok(e) => e,
        Err(e) => {
            problems.push(format!("{}: {e}", path.display()));
            return HashMap::new();
        }
    };
    let mut out = HashMap::new();
    for (i, entry) in entries.into_iter().enumerate() {
        match parse_rfc3339(&entry.revoked_at) {
            Ok(revoked_at) => {
                out.insert(
                    entry.lid,
                    RevokedLicence {
                        revoked_at,
                        reason: entry.reason,
                    },
                );
            }
            Err(e) => problems.push(format!("{} (entry {}): {e}", path.display(), i + 1)),
        }
    }
    out
}
