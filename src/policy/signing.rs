//! Signed policy sets: a detached JWS (`<dir>/policy-set.jws`) over a manifest of every policy
//! file's SHA-256, signed by a security team whose certificate chains to its city's anchor.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::catalog::Catalog;
use crate::crypto::{self, hex, sha256, Signature};
use crate::licence::issue::{LicenceSigner, SignerHeader};
use crate::licence::jws::{self, SignerRef};
use crate::time::UnixTime;
use crate::trust::cert::Cert;
use crate::trust::{chain, TrustStore};

/// The signature file, beside the policy files it covers.
pub const SIGNATURE_FILE: &str = "policy-set.jws";
/// The `typ` of a policy-set signature.
pub const POLICY_SET_TYP: &str = "policy-set+jws";
/// Department kinds whose certificates may sign policy sets by default (政务服务和大数据管理局).
pub const DEFAULT_SIGNER_DEPARTMENTS: [&str; 1] = ["GOV_SERVICE"];

/// Why a policy set is not signed as it must be.
#[derive(Debug, thiserror::Error)]
pub enum SigningError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("signing: {0}")]
    Sign(String),
    #[error("{SIGNATURE_FILE} is not a valid signature: {0}")]
    BadSignature(String),
    #[error("the signer `{subject}` may not sign policy sets: {why}")]
    Signer { subject: String, why: String },
    #[error("the policy files differ from the signed manifest: {0}")]
    Mismatch(String),
}

#[derive(Debug, Serialize, Deserialize, PartialEq, Eq)]
struct Manifest {
    files: BTreeMap<String, String>,
    signed_at: UnixTime,
}

/// What a verified signature says.
#[derive(Debug, Clone)]
pub struct SignedSet {
    pub signer: String,
    pub files: usize,
    pub signed_at: UnixTime,
}

/// Every file under `dir` (relative, `/`-separated) with its SHA-256, except the signature file
/// and hidden files.
pub fn manifest(dir: &Path) -> Result<BTreeMap<String, String>, SigningError> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let entries = std::fs::read_dir(&d).map_err(io(&d))?;
        for entry in entries.flatten() {
            let path = entry.path();
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.starts_with('.') {
                continue;
            }
            if path.is_dir() {
                stack.push(path);
            } else if name != SIGNATURE_FILE || d != dir {
                let bytes = std::fs::read(&path).map_err(io(&path))?;
                let rel = path
                    .strip_prefix(dir)
                    .unwrap_or(&path)
                    .components()
                    .map(|c| c.as_os_str().to_string_lossy())
                    .collect::<Vec<_>>()
                    .join("/");
                out.insert(rel, hex(&sha256(&bytes)));
            }
        }
    }
    Ok(out)
}

/// Signs the policy files of `dir` with a security team's key; writes `dir/policy-set.jws`.
pub fn sign(
    dir: &Path,
    key_pem: &str,
    chain: &[Vec<u8>],
    now: UnixTime,
) -> Result<SignedSet, SigningError> {
    let files = manifest(dir)?;
    let signer = LicenceSigner::with_typ(key_pem, chain, None, SignerHeader::X5c, POLICY_SET_TYP)
        .map_err(|e| SigningError::Sign(e.to_string()))?;
    let manifest = Manifest {
        files,
        signed_at: now,
    };
    let payload = serde_json::to_value(&manifest).map_err(|e| SigningError::Sign(e.to_string()))?;
    let jws = signer
        .sign(&payload)
        .map_err(|e| SigningError::Sign(e.to_string()))?;
    let path = dir.join(SIGNATURE_FILE);
    std::fs::write(&path, format!("{jws}\n")).map_err(io(&path))?;
    let subject = chain
        .first()
        .and_then(|d| Cert::from_der(d).ok())
        .map(|c| c.subject_text().to_owned())
        .unwrap_or_default();
    Ok(SignedSet {
        signer: subject,
        files: manifest.files.len(),
        signed_at: now,
    })
}

/// Checks `dir/policy-set.jws`: a valid signature by a certificate of an allowed department kind
/// that chains to its city's anchor and is valid `now`, over exactly the files now in `dir`.
pub fn verify(
    dir: &Path,
    trust: &TrustStore,
    catalog: &Catalog,
    departments: &[String],
    now: UnixTime,
) -> Result<SignedSet, SigningError> {
    let path = dir.join(SIGNATURE_FILE);
    let text = std::fs::read(&path).map_err(io(&path))?;
    let compact = jws::split(&text).map_err(SigningError::BadSignature)?;
    let (header, findings) = jws::parse_header(compact.header_b64, POLICY_SET_TYP);
    if let Some(f) = findings.first() {
        return Err(SigningError::BadSignature(f.message.clone()));
    }
    let (Some(alg), SignerRef::X5c(ders)) = header
        .map(|h| (h.alg, h.signer))
        .unwrap_or((None, SignerRef::Missing))
    else {
        return Err(SigningError::BadSignature(
            "the header needs `alg` and `x5c`".into(),
        ));
    };
    let certs: Vec<Arc<Cert>> = ders
        .iter()
        .map(|d| {
            Cert::from_der(d)
                .map(Arc::new)
                .map_err(|e| SigningError::BadSignature(e.to_string()))
        })
        .collect::<Result<_, _>>()?;
    let Some((signer, extra)) = certs.split_first() else {
        return Err(SigningError::BadSignature("`x5c` is empty".into()));
    };
    crypto::verify(
        alg,
        signer.key(),
        compact.signing_input,
        Signature::Jws(compact.signature_b64),
    )
    .map_err(|e| SigningError::BadSignature(e.to_string()))?;
    let subject = signer.subject_text().to_owned();
    let refuse = |why: String| SigningError::Signer {
        subject: subject.clone(),
        why,
    };
    let id = signer.identity();
    let dept = id.department.as_deref().unwrap_or_default();
    if !departments.iter().any(|d| d == dept) {
        return Err(refuse(format!(
            "department `{dept}` is not one of {}",
            departments.join(", ")
        )));
    }
    let city_code = id
        .city
        .as_deref()
        .filter(|c| catalog.city(c).is_some())
        .ok_or_else(|| refuse("no known city (`L`)".into()))?;
    let city = trust
        .city(city_code)
        .ok_or_else(|| refuse(format!("no anchors for city {city_code}")))?;
    let chain = chain::build(signer, extra, city).map_err(|e| refuse(e.to_string()))?;
    if let Some(c) = chain.certs.iter().find(|c| !c.is_valid_at(now)) {
        return Err(refuse(format!(
            "certificate `{}` is not valid now",
            c.subject_text()
        )));
    }
    let payload = jws::decode_json_object(compact.payload_b64, "payload")
        .map_err(SigningError::BadSignature)?;
    let signed: Manifest = serde_json::from_value(serde_json::Value::Object(payload))
        .map_err(|e| SigningError::BadSignature(e.to_string()))?;
    let present = manifest(dir)?;
    let mut problems = Vec::new();
    for (file, hash) in &present {
        match signed.files.get(file) {
            None => problems.push(format!("`{file}` added")),
            Some(h) if h != hash => problems.push(format!("`{file}` changed")),
            _ => {}
        }
    }
    problems.extend(
        signed
            .files
            .keys()
            .filter(|f| !present.contains_key(*f))
            .map(|f| format!("`{f}` removed")),
    );
    if !problems.is_empty() {
        return Err(SigningError::Mismatch(problems.join(", ")));
    }
    Ok(SignedSet {
        signer: subject,
        files: present.len(),
        signed_at: signed.signed_at,
    })
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> SigningError + '_ {
    move |source| SigningError::Io {
        path: path.to_path_buf(),
        source,
    }
}
