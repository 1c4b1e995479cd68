//! The verifier: every check of contract section 2, each independent failure reported.

use std::path::Path;
use std::sync::Arc;

use moka::sync::Cache;
use serde_json::Value;

use super::claims::{Claims, IdType};
use super::jws::{self, Compact, SignerRef};
use super::verdict::{Code, Finding, HolderInfo, IssuerInfo, Judgement, Verdict};
use crate::catalog::{Catalog, CatalogError};
use crate::checkdigit;
use crate::crypto::{self, Algorithm, Signature, SignatureError};
use crate::lid::Lid;
use crate::recognition::{Recognition, RecognitionError};
use crate::time::{format_rfc3339, UnixTime};
use crate::trust::cert::{Cert, Identity};
use crate::trust::chain;
use crate::trust::{TrustError, TrustStore};

/// How far in the future `iat` may lie before the licence is `ISSUED_IN_FUTURE` (clock skew).
pub const MAX_ISSUE_SKEW_SECS: i64 = 5 * 60;
/// Bytes of protected headers whose signer resolution is kept (headers repeat per signer).
const SIGNER_CACHE_BYTES: u64 = 16 * 1024 * 1024;

/// Verifies licences against one trust store, catalog and recognition table. Cheap to share;
/// built anew on reload, so nothing cached here outlives the trust it was derived from.
pub struct Verifier {
    catalog: Arc<Catalog>,
    trust: Arc<TrustStore>,
    recognition: Arc<Recognition>,
    signers: Cache<Arc<str>, Arc<Resolved>>,
}

/// What a protected header resolves to; independent of the payload and of time.
struct Resolved {
    findings: Vec<Finding>,
    alg: Option<Algorithm>,
    /// The signer certificates to try, in order (several only for an ambiguous `kid`).
    candidates: Vec<Candidate>,
}

struct Candidate {
    signer: Arc<Cert>,
    /// The signer's department, as verdicts show it.
    issuer: Arc<IssuerInfo>,
    /// Signing-profile and chain findings, judged once per signer.
    findings: Vec<Finding>,
    /// Signer first, anchor last, when a chain to the signer's city was found.
    chain: Option<Vec<Arc<Cert>>>,
}

/// Why the verifier's inputs could not be loaded; each lists all its problems.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("{0}")]
    Catalog(#[from] CatalogError),
    #[error("{0}")]
    Recognition(#[from] RecognitionError),
    #[error("{0}")]
    Trust(#[from] TrustError),
}

impl Verifier {
    /// Loads the catalog and recognition table from `policies` (the copies compiled into the
    /// binary when `None`) and the trust directory.
    pub fn load(trust_dir: &Path, policies: Option<&Path>) -> Result<Self, LoadError> {
        let catalog = match policies {
            Some(dir) => Catalog::load(dir)?,
            None => Catalog::embedded()?,
        };
        let recognition = match policies {
            Some(dir) => Recognition::load(dir, &catalog)?,
            None => Recognition::embedded(&catalog)?,
        };
        let trust = TrustStore::load(trust_dir, &catalog)?;
        Ok(Self::new(
            Arc::new(catalog),
            Arc::new(trust),
            Arc::new(recognition),
        ))
    }

    pub fn new(
        catalog: Arc<Catalog>,
        trust: Arc<TrustStore>,
        recognition: Arc<Recognition>,
    ) -> Self {
        let signers = Cache::builder()
            .weigher(|k: &Arc<str>, _v: &Arc<Resolved>| {
                u32::try_from(k.len() + 1024).unwrap_or(u32::MAX)
            })
            .max_capacity(SIGNER_CACHE_BYTES)
            .build();
        Self {
            catalog,
            trust,
            recognition,
            signers,
        }
    }

    pub fn catalog(&self) -> &Catalog {
        &self.catalog
    }

    pub fn trust(&self) -> &TrustStore {
        &self.trust
    }

    /// Verifies `input` (a compact JWS) for the verifying `city` at `now`.
    pub fn verify(&self, input: &[u8], city: &str, now: UnixTime) -> Verdict {
        let mut verdict = Verdict::new(city);
        let compact = match jws::split(input) {
            Ok(c) => c,
            Err(msg) => {
                verdict.errors.push(Finding::new(Code::Malformed, msg));
                return verdict;
            }
        };
        let resolved = self.resolve(compact.header_b64);
        let mut findings = resolved.findings.clone();
        let claims = match jws::decode_json_object(compact.payload_b64, "payload") {
            Ok(map) => {
                let (claims, malformed) = Claims::read(&map);
                findings.extend(malformed);
                Some(claims)
            }
            Err(msg) => {
                findings.push(Finding::new(Code::Malformed, msg));
                None
            }
        };
        let signer = check_signature(&resolved, &compact, &mut findings);
        if let Some(candidate) = signer {
            verdict.issuer = Some(candidate.issuer.clone());
            findings.extend(candidate.findings.iter().cloned());
        }
        if let Some(claims) = &claims {
            self.check_claims(claims, signer, city, now, &mut findings);
            self.describe(claims, &mut verdict);
        }
        let (warnings, errors) = findings.into_iter().partition(|f| f.code.is_warning());
        verdict.errors = errors;
        verdict.warnings = warnings;
        verdict.valid = verdict.errors.is_empty();
        verdict
    }

    /// The verdict on `input` for `city` whose [`Judgement`] an earlier [`verify`](Self::verify)
    /// of the same bytes gave: only the licence's own text is read again (no signature, chain or
    /// time checks), exactly as `verify` reads it.
    pub fn reassemble(&self, input: &[u8], city: &str, judgement: &Judgement) -> Verdict {
        let mut verdict = Verdict::new(city);
        let claims = jws::split(input)
            .ok()
            .and_then(|compact| jws::decode_json_object(compact.payload_b64, "payload").ok());
        if let Some(map) = claims {
            self.describe(&Claims::read(&map).0, &mut verdict);
        }
        verdict.issuer = judgement.issuer.clone();
        let (warnings, errors) = judgement
            .findings
            .iter()
            .cloned()
            .partition(|f| f.code.is_warning());
        verdict.errors = errors;
        verdict.warnings = warnings;
        verdict.valid = verdict.errors.is_empty();
        verdict
    }

    /// What a verdict shows of the licence's own text: lid, type, holder and times.
    fn describe(&self, claims: &Claims, verdict: &mut Verdict) {
        verdict.lid = claims.lid.clone();
        verdict.ltype = claims.ltype.clone();
        verdict.ltype_name = claims
            .ltype
            .as_deref()
            .and_then(|t| self.catalog.licence_type(t))
            .map(|t| t.name_zh.clone());
        verdict.holder = claims.holder.as_ref().map(|h| HolderInfo {
            name: h.name.clone(),
            id: h.id.clone(),
            id_type: h.id_type.clone(),
        });
        verdict.iat = claims.iat;
        verdict.nbf = claims.nbf.or(claims.iat);
        verdict.exp = claims.exp;
    }

    /// Resolves a protected header to its signer candidates, through the cache.
    fn resolve(&self, header_b64: &str) -> Arc<Resolved> {
        if let Some(hit) = self.signers.get(header_b64) {
            return hit;
        }
        let resolved = Arc::new(self.resolve_uncached(header_b64));
        self.signers.insert(Arc::from(header_b64), resolved.clone());
        resolved
    }

    fn resolve_uncached(&self, header_b64: &str) -> Resolved {
        let (header, mut findings) = jws::parse_header(header_b64, jws::LICENCE_TYP);
        let Some(header) = header else {
            return Resolved {
                findings,
                alg: None,
                candidates: Vec::new(),
            };
        };
        let candidates = match header.signer {
            SignerRef::X5c(ders) => {
                let mut certs = Vec::with_capacity(ders.len());
                for (i, der) in ders.iter().enumerate() {
                    match Cert::from_der(der) {
                        Ok(c) => certs.push(Arc::new(c)),
                        Err(e) => {
                            findings.push(Finding::new(Code::Malformed, format!("`x5c[{i}]`: {e}")))
                        }
                    }
                }
                if certs.len() == ders.len() {
                    match certs.split_first() {
                        Some((signer, extra)) => vec![self.candidate(signer, extra)],
                        None => Vec::new(),
                    }
                } else {
                    Vec::new()
                }
            }
            SignerRef::Kid(kid) => {
                let known = self.trust.signers_by_kid(&kid);
                if known.is_empty() {
                    findings.push(Finding::new(
                        Code::UnknownSigner,
                        "`kid` matches no signer certificate of the trust directory",
                    ));
                }
                known.iter().map(|s| self.candidate(s, &[])).collect()
            }
            SignerRef::BadKid(kid) => {
                findings.push(Finding::new(
                    Code::UnknownSigner,
                    format!(
                        "`kid` `{kid}` is not the base64url of 8 bytes, so it names no certificate"
                    ),
                ));
                Vec::new()
            }
            SignerRef::Missing => {
                if !findings
                    .iter()
                    .any(|f| matches!(f.code, Code::Malformed | Code::ChainUntrusted))
                {
                    findings.push(Finding::new(
                        Code::UnknownSigner,
                        "the header has neither `x5c` nor `kid`",
                    ));
                }
                Vec::new()
            }
        };
        Resolved {
            findings,
            alg: header.alg,
            candidates,
        }
    }

    /// Judges a signer certificate against the signing profile and builds its chain.
    fn candidate(&self, signer: &Arc<Cert>, extra: &[Arc<Cert>]) -> Candidate {
        let mut findings = Vec::new();
        let id = signer.identity();
        let mut profile = Vec::new();
        if signer.is_ca() {
            profile.push("it is a CA (basicConstraints CA=true)".to_owned());
        }
        for (attr, value) in [
            ("L", &id.city),
            ("OU", &id.department),
            ("organizationIdentifier", &id.org_id),
        ] {
            if value.is_none() {
                profile.push(format!("its subject has no `{attr}`"));
            }
        }
        if signer
            .key_usage()
            .is_some_and(|ku| !ku.digital_signature && !ku.non_repudiation)
        {
            profile
                .push("its keyUsage allows neither digitalSignature nor nonRepudiation".to_owned());
        }
        if !profile.is_empty() {
            findings.push(Finding::new(
                Code::SignerNotEligible,
                format!(
                    "signer `{}` cannot sign licences: {}",
                    signer.subject_text(),
                    profile.join("; ")
                ),
            ));
        }
        let chain = match id.city.as_deref() {
            None => {
                findings.push(Finding::new(
                    Code::ChainUntrusted,
                    "the signer names no city (`L`), so no city's anchors apply",
                ));
                None
            }
            Some(code) if self.catalog.city(code).is_none() => {
                findings.push(Finding::new(
                    Code::ChainUntrusted,
                    format!(
                        "the signer's city `{}` is not a city of the catalog",
                        jws::truncate(code)
                    ),
                ));
                None
            }
            Some(code) => match self.trust.city(code) {
                None => {
                    findings.push(Finding::new(
                        Code::ChainUntrusted,
                        format!("the trust directory has no anchors for city {code}"),
                    ));
                    None
                }
                Some(city) => match chain::build(signer, extra, city) {
                    Ok(chain) => Some(chain.certs),
                    Err(e) => {
                        findings.push(Finding::new(
                            Code::ChainUntrusted,
                            format!("no chain to an anchor of city {code}: {e}"),
                        ));
                        None
                    }
                },
            },
        };
        Candidate {
            signer: signer.clone(),
            issuer: Arc::new(issuer_info(id)),
            findings,
            chain,
        }
    }

    /// The checks that need the payload (and, where given, the signer).
    fn check_claims(
        &self,
        claims: &Claims,
        signer: Option<&Candidate>,
        verifying_city: &str,
        now: UnixTime,
        findings: &mut Vec<Finding>,
    ) {
        let identity = signer.map(|s| s.signer.identity());
        let issuing_city = identity.and_then(|i| i.city.as_deref());
        if let (Some(candidate), Some(iat)) = (signer, claims.iat) {
            if let Some(chain) = &candidate.chain {
                self.check_chain_at(chain, issuing_city.unwrap_or_default(), iat, now, findings);
            }
        }
        let ltype = claims
            .ltype
            .as_deref()
            .map(|code| (code, self.catalog.licence_type(code)));
        if let Some((code, None)) = ltype {
            findings.push(Finding::new(
                Code::UnknownLicenceType,
                format!("`ltype` `{}` is not in the catalog", jws::truncate(code)),
            ));
        }
        let known_type = ltype.and_then(|(_, t)| t);
        if let (Some(t), Some(dept)) = (known_type, identity.and_then(|i| i.department.as_deref()))
        {
            if !t.issuer_kinds.iter().any(|k| k == dept) {
                findings.push(Finding::new(
                    Code::IssuerNotAuthorized,
                    format!(
                        "a `{dept}` department may not issue `{}` (issuers: {})",
                        t.code,
                        t.issuer_kinds.join(", ")
                    ),
                ));
            }
        }
        if let (Some(iss), Some(org_id)) = (
            claims.iss.as_deref(),
            identity.and_then(|i| i.org_id.as_deref()),
        ) {
            if iss != org_id {
                findings.push(Finding::new(
                    Code::IssuerMismatch,
                    format!(
                        "`iss` `{}` differs from the signer's organizationIdentifier `{org_id}`",
                        jws::truncate(iss)
                    ),
                ));
            }
        }
        if let Some(lid) = claims.lid.as_deref() {
            match Lid::parse(lid) {
                Err(e) => findings.push(Finding::new(Code::LidInvalid, format!("`lid`: {e}"))),
                Ok(parsed) => {
                    if let Some(t) = known_type.filter(|t| t.type_code != parsed.type_code) {
                        findings.push(Finding::new(
                            Code::LidInvalid,
                            format!(
                                "`lid` type code `{}` is not `{}`, the code of `{}`",
                                parsed.type_code, t.type_code, t.code
                            ),
                        ));
                    }
                    if let Some(iss) = claims.iss.as_deref().filter(|iss| *iss != parsed.issuer) {
                        findings.push(Finding::new(
                            Code::IssuerMismatch,
                            format!(
                                "`lid` issuer `{}` differs from `iss` `{}`",
                                parsed.issuer,
                                jws::truncate(iss)
                            ),
                        ));
                    }
                }
            }
        }
        if let (Some(t), Some(fields)) = (known_type, &claims.fields) {
            let missing: Vec<&str> = t
                .required_fields
                .iter()
                .filter(|f| !fields.contains_key(*f))
                .map(String::as_str)
                .collect();
            let mistyped: Vec<&str> = t
                .required_fields
                .iter()
                .filter(|f| {
                    fields
                        .get(*f)
                        .is_some_and(|v| !matches!(v, Value::String(_)))
                })
                .map(String::as_str)
                .collect();
            let mut problems = Vec::new();
            if !missing.is_empty() {
                problems.push(format!("missing {}", quote_list(&missing)));
            }
            if !mistyped.is_empty() {
                problems.push(format!("not strings: {}", quote_list(&mistyped)));
            }
            if !problems.is_empty() {
                findings.push(Finding::new(
                    Code::SchemaViolation,
                    format!("`fields` of a `{}`: {}", t.code, problems.join("; ")),
                ));
            }
        }
        check_holder_id(claims, findings);
        check_times(claims, now, findings);
        if let (Some(lid), Some(city)) = (
            claims.lid.as_deref(),
            issuing_city.and_then(|c| self.trust.city(c)),
        ) {
            if let Some(revoked) = city
                .revoked_licences
                .get(lid)
                .filter(|r| r.revoked_at <= now)
            {
                findings.push(Finding::new(
                    Code::LicenceRevoked,
                    format!(
                        "revoked by city {} on {} ({})",
                        issuing_city.unwrap_or_default(),
                        format_rfc3339(revoked.revoked_at),
                        revoked.reason
                    ),
                ));
            }
        }
        if let (Some(t), Some(issuer)) = (known_type, issuing_city) {
            if !self.recognition.recognises(verifying_city, issuer, &t.code) {
                findings.push(Finding::new(
                    Code::NotRecognized,
                    format!(
                        "city {verifying_city} does not recognise `{}` issued by city {issuer}",
                        t.code
                    ),
                ));
            }
        }
    }

    /// Validity of every chain certificate at `iat` and revocation by the issuing city's CRLs.
    fn check_chain_at(
        &self,
        chain: &[Arc<Cert>],
        city: &str,
        iat: UnixTime,
        now: UnixTime,
        findings: &mut Vec<Finding>,
    ) {
        for cert in chain.iter().filter(|c| !c.is_valid_at(iat)) {
            findings.push(Finding::new(
                Code::CertNotValidAtIssuance,
                format!(
                    "certificate `{}` is valid from {} to {}, not at issuance {}",
                    cert.subject_text(),
                    format_rfc3339(cert.not_before()),
                    format_rfc3339(cert.not_after()),
                    format_rfc3339(iat)
                ),
            ));
        }
        let Some(city) = self.trust.city(city) else {
            return;
        };
        let status = city.revocation(chain, iat, now);
        for crl in status.stale {
            findings.push(Finding::new(
                Code::CrlStale,
                format!("CRL `{}` is past its nextUpdate", crl.source()),
            ));
        }
        for (cert, entry) in status.revoked {
            findings.push(Finding::new(
                Code::CertRevoked,
                format!(
                    "certificate `{}` is revoked ({}) since {}",
                    cert.subject_text(),
                    entry.reason_name(),
                    format_rfc3339(entry.revoked_at)
                ),
            ));
        }
    }
}

/// Tries each candidate's key; returns the one that verified, else the first (for reporting).
fn check_signature<'r>(
    resolved: &'r Resolved,
    compact: &Compact<'_>,
    findings: &mut Vec<Finding>,
) -> Option<&'r Candidate> {
    let first = resolved.candidates.first()?;
    let Some(alg) = resolved.alg else {
        return Some(first);
    };
    let mut first_error = None;
    for candidate in &resolved.candidates {
        match crypto::verify(
            alg,
            candidate.signer.key(),
            compact.signing_input,
            Signature::Jws(compact.signature_b64),
        ) {
            Ok(()) => return Some(candidate),
            Err(e) => {
                first_error.get_or_insert(e);
            }
        }
    }
    let tried = resolved.candidates.len();
    let finding = match first_error {
        Some(e @ SignatureError::KeyMismatch { .. }) => {
            Finding::new(Code::UnsupportedAlgorithm, e.to_string())
        }
        Some(e @ SignatureError::KeyTooWeak { .. }) => {
            Finding::new(Code::KeyTooWeak, e.to_string())
        }
        _ if tried > 1 => Finding::new(
            Code::SignatureInvalid,
            format!("the signature verifies with none of the {tried} certificates the `kid` names"),
        ),
        _ => Finding::new(
            Code::SignatureInvalid,
            "the signature does not verify with the signer certificate's key",
        ),
    };
    findings.push(finding);
    Some(first)
}

fn check_holder_id(claims: &Claims, findings: &mut Vec<Finding>) {
    let Some(id) = claims.holder.as_ref().and_then(|h| h.id.as_deref()) else {
        return;
    };
    let (valid, what) = match claims.id_type() {
        Some(IdType::Uscc) => (
            checkdigit::uscc_valid(id),
            "unified social credit code (GB 32100)",
        ),
        Some(IdType::IdNumber) => (
            checkdigit::resident_id_valid(id),
            "resident identity number (GB 11643)",
        ),
        _ => return,
    };
    if !valid {
        // the id itself is personal data: name the rule, never the value
        findings.push(Finding::new(
            Code::HolderIdCheck,
            format!("the holder's {what} fails its check digit"),
        ));
    }
}

fn check_times(claims: &Claims, now: UnixTime, findings: &mut Vec<Finding>) {
    if let Some(nbf) = claims.nbf.or(claims.iat).filter(|nbf| now < *nbf) {
        findings.push(Finding::new(
            Code::LicenceNotYetValid,
            format!("valid from {}", format_rfc3339(nbf)),
        ));
    }
    if let Some(exp) = claims.exp.filter(|exp| now >= *exp) {
        findings.push(Finding::new(
            Code::LicenceExpired,
            format!("expired at {}", format_rfc3339(exp)),
        ));
    }
    if let Some(iat) = claims
        .iat
        .filter(|iat| *iat > now.saturating_add(MAX_ISSUE_SKEW_SECS))
    {
        findings.push(Finding::new(
            Code::IssuedInFuture,
            format!(
                "issued at {}, more than {MAX_ISSUE_SKEW_SECS} s after now",
                format_rfc3339(iat)
            ),
        ));
    }
}

fn issuer_info(id: &Identity) -> IssuerInfo {
    IssuerInfo {
        city: id.city.clone(),
        department: id.department.clone(),
        org_id: id.org_id.clone(),
        org_name: id.org_name.clone(),
    }
}

fn quote_list(items: &[&str]) -> String {
    items
        .iter()
        .map(|i| format!("`{i}`"))
        .collect::<Vec<_>>()
        .join(", ")
}
