//! Every problem of a configuration, of the files it names and of the policies it loads, all at
//! once (`tongban config check`, and `tongban serve` before it starts).
//!
//! The checks read what the gateway would read at start and build what it would build (server
//! identity, TLS configuration, trust store, catalog, recognition, policies with their
//! upstreams, secrets, upstream CA roots), but open no listener and write no file.

use std::collections::{BTreeSet, HashSet};
use std::path::Path;

use super::{Config, ConfigError, StaleCrls};
use crate::audit::key::read_secret;
use crate::catalog::{Catalog, Problem};
use crate::policy::{signing, PolicySet};
use crate::recognition::Recognition;
use crate::server::state::{AUDIT_KEY, MASK_KEY};
use crate::server::tls::{self, ServerIdentity, TlsError};
use crate::server::upstream::client_tls;
use crate::time::{Clock, SystemClock, UnixTime};
use crate::trust::TrustStore;

/// Part of the subject of every certificate `tongban init` makes for trying: such an anchor or
/// server certificate is noticed, never refused.
pub const TRIAL_MARK: &str = "tongban init trial";

/// A configuration that passed every check.
#[derive(Debug)]
pub struct Checked {
    pub config: Config,
    /// Data-exchange items the policies define.
    pub items: usize,
    /// Things that do not stop the gateway but deserve a look: trial material in use.
    pub notices: Vec<String>,
    /// The trust directory's own notices (the gateway logs them whenever it loads it).
    pub trust_notices: Vec<String>,
}

/// Every problem found, and the upstream names the policies use that the configuration lacks.
#[derive(Debug, Default)]
pub struct Findings {
    pub problems: Vec<Problem>,
    pub missing_upstreams: BTreeSet<String>,
}

/// Checks the configuration at `path` and everything it names.
/// `Err(ConfigError::Read)`: the file itself cannot be read; `Err(ConfigError::Invalid)`: every
/// problem found.
pub fn check(path: &Path) -> Result<Checked, ConfigError> {
    let (checked, findings) = check_all(path)?;
    match checked {
        Some(checked) if findings.problems.is_empty() => Ok(checked),
        _ => Err(ConfigError::Invalid(findings.problems)),
    }
}

/// As [`check`], with the findings beside the result (for the command's hints).
pub fn check_all(path: &Path) -> Result<(Option<Checked>, Findings), ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let base = path.parent().unwrap_or(Path::new("."));
    let (config, problems) = Config::parse_all(&text, base, &path.display().to_string());
    let mut findings = Findings {
        problems,
        ..Findings::default()
    };
    let Some(config) = config else {
        return Ok((None, findings));
    };
    let mut notices = Vec::new();
    let mut trust_notices = Vec::new();
    let items = check_files(&config, &mut findings, &mut notices, &mut trust_notices);
    Ok((
        Some(Checked {
            config,
            items,
            notices,
            trust_notices,
        }),
        findings,
    ))
}

/// The files and directories `config` names; returns the number of items loaded.
fn check_files(
    config: &Config,
    findings: &mut Findings,
    notices: &mut Vec<String>,
    trust_notices: &mut Vec<String>,
) -> usize {
    let problems = &mut findings.problems;
    let identity = match ServerIdentity::load(&config.tls_cert, &config.tls_key) {
        Ok(identity) => {
            if identity.is_trial() {
                notices.push(format!(
                    "{}: a trial server certificate made by `tongban init`: replace it with one \
                     your CA issues before production",
                    config.tls_cert.display()
                ));
            }
            Some(identity)
        }
        Err(e) => {
            problems.push(tls_problem(&e));
            None
        }
    };
    let catalog = match &config.policies_dir {
        Some(dir) => Catalog::load(dir),
        None => Catalog::embedded(),
    };
    let (catalog, own_catalog) = match catalog {
        Ok(c) => (Some(c), true),
        // the trust directory is still checked, against the catalog built into the binary
        Err(e) => {
            problems.extend(e.problems);
            (Catalog::embedded().ok(), false)
        }
    };
    let mut items = 0;
    if let Some(catalog) = &catalog {
        let recognition = match &config.policies_dir {
            Some(dir) => Recognition::load(dir, catalog),
            None => Recognition::embedded(catalog),
        };
        if let (Err(e), true) = (recognition, own_catalog) {
            problems.extend(e.problems);
        }
        let trust = match TrustStore::load(&config.trust_dir, catalog) {
            Ok(store) => {
                trust_notices.extend(store.notices().iter().cloned());
                notices.extend(
                    store
                        .all_anchors()
                        .filter(|(_, anchor)| anchor.subject_text().contains(TRIAL_MARK))
                        .map(|(city, anchor)| {
                            format!(
                                "{}: anchor `{}` is a trial root made by `tongban init`: replace it \
                                 with your city's CA before production",
                                config.trust_dir.join(city).join("roots.pem").display(),
                                anchor.subject_text()
                            )
                        }),
                );
                if config.stale_crls == StaleCrls::Refuse {
                    notices.extend(stale_crl_notices(&store, SystemClock.now()));
                }
                Some(store)
            }
            Err(e) => {
                problems.extend(
                    e.problems
                        .iter()
                        .map(|p| trust_problem(&config.trust_dir, p)),
                );
                None
            }
        };
        if let (Some(identity), Some(trust)) = (&identity, &trust) {
            if let Err(e) = tls::server_config(
                identity,
                trust,
                config.tls_session_resumption,
                config.stale_crls,
            ) {
                problems.push(tls_problem(&e));
            }
        }
        if let Some(dir) = config.policies_dir.as_ref().filter(|_| own_catalog) {
            if config.require_signed_policies {
                if let Some(trust) = &trust {
                    let now = SystemClock.now();
                    if let Err(e) =
                        signing::verify(dir, trust, catalog, &config.policy_signers, now)
                    {
                        problems.push(Problem::new(
                            &dir.join(signing::SIGNATURE_FILE).display().to_string(),
                            0,
                            format!("policy set signature: {e}"),
                        ));
                    }
                }
            }
            let defined: HashSet<String> = config.upstreams.keys().cloned().collect();
            match PolicySet::load(dir, catalog, Some(&defined)) {
                Ok(set) => items = set.items().len(),
                Err(e) => {
                    problems.extend(e.problems);
                    // which names are missing, for the hint (the loader lists them per item)
                    if let Ok(set) = PolicySet::load(dir, catalog, None) {
                        findings.missing_upstreams = set
                            .items()
                            .iter()
                            .map(|i| i.upstream.clone())
                            .filter(|u| !defined.contains(u))
                            .collect();
                    }
                }
            }
        }
    }
    let problems = &mut findings.problems;
    for (file, kind) in [
        (&config.mask_key_file, MASK_KEY),
        (&config.audit.key_file, AUDIT_KEY),
    ] {
        if let Some(file) = file {
            if let Err(e) = read_secret(file, kind.what) {
                problems.push(Problem::new(
                    &file.display().to_string(),
                    0,
                    format!("{}: {}", e.what, e.source),
                ));
            }
        }
    }
    for (name, upstream) in &config.upstreams {
        if let Err(why) = client_tls(upstream) {
            problems.push(Problem::new(
                &upstream
                    .ca
                    .as_deref()
                    .unwrap_or(Path::new("[upstreams]"))
                    .display()
                    .to_string(),
                0,
                format!("upstream `{name}`: {why}"),
            ));
        }
    }
    match (&config.cluster, &config.audit.path) {
        (Some(cluster), path) => {
            // the connection string's syntax and node name were checked with the file; here
            // what it names: the TLS roots, the password file (no connection is made: `serve`
            // connects at start)
            for e in crate::cluster::Database::problems(cluster) {
                problems.push(Problem::new("[cluster]", 0, e.to_string()));
            }
            if let Some(path) = path {
                notices.push(format!(
                    "{}: not used: with [cluster] the audit records go to the database",
                    path.display()
                ));
            }
            // a database that hangs must be answered (503) before a caller's upstream timeout
            if let Some((name, upstream)) = config
                .upstreams
                .iter()
                .min_by_key(|(_, u)| u.timeout)
                .filter(|(_, u)| u.timeout <= cluster.timeout)
            {
                notices.push(format!(
                    "[cluster] timeout_ms = {} is not under upstream `{name}`'s timeout_ms = {}: \
                     a hanging database would answer 503 only after it",
                    cluster.timeout.as_millis(),
                    upstream.timeout.as_millis()
                ));
            }
        }
        (None, Some(path)) => {
            let audit_dir = match path.parent() {
                Some(p) if !p.as_os_str().is_empty() => p,
                _ => Path::new("."),
            };
            if !audit_dir.is_dir() {
                problems.push(Problem::new(
                    &path.display().to_string(),
                    0,
                    format!(
                        "audit log: the folder `{}` does not exist",
                        audit_dir.display()
                    ),
                ));
            }
        }
        // reported with the file
        (None, None) => {}
    }
    items
}

/// A TLS error as a problem of the file it concerns.
fn tls_problem(e: &TlsError) -> Problem {
    match e {
        TlsError::Chain { path, reason } => Problem::new(
            &path.display().to_string(),
            0,
            format!("server certificate chain: {reason}"),
        ),
        TlsError::Key { path, reason } => Problem::new(
            &path.display().to_string(),
            0,
            format!("server key: {reason}"),
        ),
        other => Problem::new("[tls]", 0, other.to_string()),
    }
}

/// A trust-directory problem (`<path>: <message>`) as a problem of its file.
fn trust_problem(dir: &Path, text: &str) -> Problem {
    match text.split_once(": ") {
        Some((file, message)) if Path::new(file).starts_with(dir) => Problem::new(file, 0, message),
        _ => Problem::new(&dir.display().to_string(), 0, text),
    }
}

/// Under `stale_crls = "refuse"`, each CRL already past its nextUpdate: its CA's callers will be
/// refused from the start.
fn stale_crl_notices(trust: &TrustStore, now: UnixTime) -> Vec<String> {
    trust
        .city_codes()
        .into_iter()
        .filter_map(|code| trust.city(code))
        .flat_map(|city| &city.crls)
        .filter(|c| c.crl.is_stale(now))
        .map(|c| {
            format!(
                "{}: past its nextUpdate, and `stale_crls = \"refuse\"`: the callers of its CA \
                 will be refused until a fresh CRL is loaded",
                c.crl.source()
            )
        })
        .collect()
}
