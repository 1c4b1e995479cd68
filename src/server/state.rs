//! The server's shared state and the part of it a reload replaces.
//!
//! A [`Snapshot`] (verifier + TLS configuration built from the same trust directory) is swapped
//! as a whole; requests and handshakes take the current one, so a reload never drops a
//! connection. The verdict cache is keyed by snapshot generation and emptied on reload.
//!
//! The audit records and the rate limits go where the deployment says: this gateway's file and
//! in-process buckets, or, with `[cluster]`, the cluster's database ([`crate::cluster`]);
//! [`State::audit`] and [`State::limit`] are the one way the API writes a record or takes from a
//! bucket either way.

use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, RwLock, Weak};
use std::time::Instant;

use moka::sync::Cache;
use ring::hkdf;
use rustls::pki_types::CertificateDer;
use tokio_rustls::TlsAcceptor;

use super::cache::VerdictCache;
use super::caller::{self, Judged};
use super::config::{Config, StaleCrls};
use super::metrics::{Metrics, RELOAD_TRUST_POLICIES};
use super::problem::ApiError;
use super::tls::{self, ServerIdentity, TlsError};
use super::upstream::{UpstreamSetupError, Upstreams};
use crate::audit::{AuditError, AuditKey, AuditLog, AuditOptions, Record, SecretFileError, Sink};
use crate::cluster::{self, Cluster};
use crate::crypto::sha256_of;
use crate::licence::verify::LoadError;
use crate::licence::{Verdict, Verifier};
use crate::policy::mask::MaskKey;
use crate::policy::model::Rate;
use crate::policy::rate::RateLimiter;
use crate::policy::{signing, PolicyError, PolicySet};
use crate::stats::{self, Fact, Resolver, Stats};
use crate::time::{Clock, SystemClock, UnixTime};

/// What one generation of trust and policies gives the server.
pub struct Snapshot {
    pub generation: u64,
    pub verifier: Arc<Verifier>,
    pub policies: Arc<PolicySet>,
    pub acceptor: TlsAcceptor,
    /// When this generation was loaded (the window desk shows the age of its trust data).
    pub loaded_at: UnixTime,
    /// Callers judged under this generation, by the SHA-256 of the presented chain: a client
    /// that reconnects is not parsed and chained again.
    callers: Cache<[u8; 32], Judged>,
    stale_crls: StaleCrls,
}

/// Distinct client certificate chains whose judgement a snapshot keeps (departments × cities
/// is in the hundreds).
const CALLER_CACHE_ENTRIES: u64 = 4096;

impl Snapshot {
    /// What names the statistics' facts under this generation.
    pub fn names(&self) -> Resolver<'_> {
        Resolver {
            catalog: self.verifier.catalog(),
            policies: &self.policies,
        }
    }

    /// The caller named by a verified client certificate chain (leaf first) at `now`, or why
    /// not; judged once per chain and generation, and again once the judgement's time is up
    /// ([`caller::Caller::judged_until`]).
    pub fn caller(&self, presented: &[CertificateDer<'_>], now: UnixTime) -> Judged {
        // length-prefixed: the key is one chain, not a concatenation
        let lengths: Vec<[u8; 8]> = presented
            .iter()
            .map(|c| (c.len() as u64).to_be_bytes())
            .collect();
        let key = sha256_of(
            presented
                .iter()
                .zip(&lengths)
                .flat_map(|(c, len)| [&len[..], &c[..]]),
        );
        if let Some(judged) = self.callers.get(&key) {
            if !judged.as_ref().is_ok_and(|c| c.judgement_expired(now)) {
                return judged;
            }
        }
        let v = &self.verifier;
        let judged = caller::identify(presented, v.trust(), v.catalog(), now, self.stale_crls)
            .map(Arc::new)
            .map_err(|e| e.to_string());
        self.callers.insert(key, judged.clone());
        judged
    }
}

/// Why trust and policies could not be (re)loaded; the previous snapshot stays in force.
#[derive(Debug, thiserror::Error)]
pub enum LoadSnapshotError {
    #[error("{0}")]
    Verifier(#[from] LoadError),
    #[error("{0}")]
    Tls(#[from] TlsError),
    #[error("{0}")]
    Policies(#[from] PolicyError),
    #[error("policy set signature: {0}")]
    Signature(#[from] signing::SigningError),
    #[error("the reload task failed: {0}")]
    Task(String),
    #[error("{0}")]
    Upstream(#[from] UpstreamSetupError),
    #[error("audit log: {0}")]
    Audit(#[from] AuditError),
    #[error("{0}")]
    Secret(#[from] SecretFileError),
    #[error("{0}")]
    ServerKey(String),
}

/// Shared by every connection.
pub struct State {
    pub config: Config,
    pub metrics: Metrics,
    pub cache: VerdictCache,
    pub clock: Arc<dyn Clock>,
    pub upstreams: Upstreams,
    /// Where the audit records go: the file, or the cluster's database.
    pub audit: Arc<dyn Sink>,
    /// The wall clock of audit records' `ts`, and so of the statistics' day.
    pub audit_clock: Arc<dyn Clock>,
    /// Today's figures (`/stats`, `/screen`): fed by every audit record written, or, in a
    /// cluster, read from the database ([`follow_cluster_figures`]).
    pub stats: Stats,
    /// Keyed hashes of personal identifiers in audit records.
    pub audit_key: AuditKey,
    /// The `hash` mask's key.
    pub mask_key: MaskKey,
    /// The in-process rate limiter (without `[cluster]`).
    pub rates: RateLimiter,
    /// Monotonic time origin of the rate limiter.
    pub started: tokio::time::Instant,
    /// With `[cluster]`: the audit chain, global rate limits and figures in the database.
    pub cluster: Option<Arc<Cluster>>,
    identity: ServerIdentity,
    snapshot: RwLock<Arc<Snapshot>>,
    next_generation: AtomicU64,
    draining: AtomicBool,
    /// Serializes reloads so two SIGHUPs cannot interleave.
    reload_lock: tokio::sync::Mutex<()>,
}

impl State {
    /// Loads everything for the first time. With `cluster` (started from `[cluster]`) the
    /// records go to its database; else the audit file is opened.
    pub fn new(
        config: Config,
        identity: ServerIdentity,
        metrics: Metrics,
        clock: Arc<dyn Clock>,
        cluster: Option<Arc<Cluster>>,
    ) -> Result<Self, LoadSnapshotError> {
        let snapshot = build_snapshot(&config, &identity, 1, clock.now())?;
        let upstreams = Upstreams::new(&config.upstreams)?;
        let audit_key = AuditKey::from_bytes(&secret(
            config.audit.key_file.as_deref(),
            &config.tls_key,
            AUDIT_KEY,
        )?)
        .map_err(|e| LoadSnapshotError::ServerKey(e.to_string()))?;
        let mask_key = MaskKey::new(&secret(
            config.mask_key_file.as_deref(),
            &config.tls_key,
            MASK_KEY,
        )?);
        let audit_clock: Arc<dyn Clock> = Arc::new(SystemClock);
        let (audit, stats): (Arc<dyn Sink>, Stats) = match (&cluster, &config.audit.path) {
            // the cluster's figures are read from the database once the state is up
            (Some(cluster), _) => (
                cluster.chain().clone(),
                Stats::new(stats::day_of(audit_clock.now()), Default::default()),
            ),
            (None, Some(path)) => {
                let options = AuditOptions {
                    flush_interval: config.audit.flush_interval,
                    max_bytes: config.audit.max_bytes,
                    clock: audit_clock.clone(),
                    ..AuditOptions::default()
                };
                let audit_log = AuditLog::open(path, options)?;
                for notice in audit_log.notices() {
                    tracing::warn!(notice = ?notice, "audit log notice");
                }
                let stats = rebuild_stats(path, &snapshot, audit_clock.now());
                (Arc::new(audit_log), stats)
            }
            (None, None) => {
                return Err(LoadSnapshotError::Audit(AuditError::Unavailable {
                    reason: "no `[audit] path` and no `[cluster]`".into(),
                }))
            }
        };
        Ok(Self {
            upstreams,
            audit,
            audit_clock,
            stats,
            audit_key,
            mask_key,
            rates: RateLimiter::default(),
            started: tokio::time::Instant::now(),
            cluster,
            cache: VerdictCache::new(&config.cache),
            config,
            metrics,
            clock,
            identity,
            snapshot: RwLock::new(Arc::new(snapshot)),
            next_generation: AtomicU64::new(2),
            draining: AtomicBool::new(false),
            reload_lock: tokio::sync::Mutex::new(()),
        })
    }

    /// The snapshot in force.
    pub fn snapshot(&self) -> Arc<Snapshot> {
        match self.snapshot.read() {
            Ok(s) => s.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// Rebuilds trust and policies from the configured directories; on failure the previous
    /// snapshot stays in force. Either way the outcome is counted and logged.
    pub async fn reload(self: &Arc<Self>) -> Result<u64, LoadSnapshotError> {
        let _guard = self.reload_lock.lock().await;
        let generation = self.next_generation.fetch_add(1, Ordering::Relaxed);
        let state = self.clone();
        let built = tokio::task::spawn_blocking(move || {
            build_snapshot(
                &state.config,
                &state.identity,
                generation,
                state.clock.now(),
            )
        })
        .await
        .unwrap_or_else(|e| Err(LoadSnapshotError::Task(e.to_string())));
        match built {
            Ok(snapshot) => {
                let snapshot = Arc::new(snapshot);
                match self.snapshot.write() {
                    Ok(mut s) => *s = snapshot,
                    Err(poisoned) => *poisoned.into_inner() = snapshot,
                }
                self.cache.clear();
                self.metrics.record_reload(RELOAD_TRUST_POLICIES, true);
                tracing::info!(generation, "reloaded trust and policies");
                Ok(generation)
            }
            Err(e) => {
                self.metrics.record_reload(RELOAD_TRUST_POLICIES, false);
                tracing::error!(error = %e, "reload failed; keeping the previous trust and policies");
                Err(e)
            }
        }
    }

    /// Marks the server as shutting down (`/readyz` answers 503).
    pub fn start_draining(&self) {
        self.draining.store(true, Ordering::Relaxed);
    }

    pub fn is_draining(&self) -> bool {
        self.draining.load(Ordering::Relaxed)
    }

    /// Verifies a licence for `city` now, through the verdict cache; counts it in the metrics.
    pub fn verify_cached(&self, licence: &[u8], city: &str) -> Verdict {
        let snapshot = self.snapshot();
        if let Some(hit) = self.hit(&snapshot, licence, city) {
            return hit;
        }
        let now = self.clock.now();
        self.metrics.cache_misses.inc();
        let verdict = snapshot.verifier.verify(licence, city, now);
        self.cache
            .insert(licence, city, snapshot.generation, &verdict, now);
        self.metrics
            .record_verdict(&verdict, snapshot.verifier.catalog());
        verdict
    }

    fn hit(&self, snapshot: &Snapshot, licence: &[u8], city: &str) -> Option<Verdict> {
        let judgement = self.cache.get(licence, city, snapshot.generation)?;
        let mut hit = snapshot.verifier.reassemble(licence, city, &judgement);
        hit.cached = true;
        self.metrics.cache_hits.inc();
        self.metrics
            .record_verdict(&hit, snapshot.verifier.catalog());
        Some(hit)
    }

    /// Whether the gateway can serve: not draining, and in a cluster its database is there.
    pub fn is_ready(&self) -> bool {
        !self.is_draining() && self.cluster.as_ref().is_none_or(|c| c.is_ready())
    }

    /// Refuses work up front while the cluster's database is away: no record could be written,
    /// so nothing may be forwarded or verified (503 `AUDIT_UNAVAILABLE` at once, not after the
    /// upstream's or the database's timeout).
    pub fn check_audit_available(&self) -> Result<(), ApiError> {
        match &self.cluster {
            Some(cluster) if !cluster.is_ready() => Err(ApiError::AuditUnavailable(
                "the cluster's database is not reachable".into(),
            )),
            _ => Ok(()),
        }
    }

    /// Writes an audit record (and counts it in today's figures); a failure means the answer
    /// must not be sent.
    pub async fn audit(&self, record: &Record) -> Result<(), ApiError> {
        self.audit_all(std::slice::from_ref(record)).await
    }

    /// Writes the records of one request, in order: 500 when the file refuses them, 503
    /// `AUDIT_UNAVAILABLE` when the cluster's database cannot take them now.
    pub async fn audit_all(&self, records: &[Record]) -> Result<(), ApiError> {
        match self.audit.append(records).await {
            Ok(()) => {
                // a cluster's figures are read back from its database, every node's records
                if self.cluster.is_none() {
                    let snapshot = self.snapshot();
                    let now = self.audit_clock.now();
                    for fact in records.iter().filter_map(Fact::of_record) {
                        self.stats.observe(fact, now, &snapshot.names());
                    }
                }
                Ok(())
            }
            Err(e) => {
                self.metrics
                    .audit_write_failures
                    .inc_by(records.len() as u64);
                tracing::error!(error = %e, "audit append failed; refusing to answer");
                Err(match e {
                    AuditError::Unavailable { reason } => ApiError::AuditUnavailable(reason),
                    other => ApiError::Internal(format!("audit log: {other}")),
                })
            }
        }
    }

    /// Takes one request of `org` on `item` from its bucket under `rate`: this gateway's, or
    /// the cluster's. 429 when the bucket is empty; 503 when the cluster cannot decide.
    pub async fn limit(&self, org: &str, item: &str, rate: Rate) -> Result<(), ApiError> {
        let decision = match &self.cluster {
            Some(cluster) => cluster.rate().take(org, item, rate).await.map_err(|e| {
                tracing::error!(error = %e, "rate-limit decision failed; refusing");
                ApiError::AuditUnavailable(e.to_string())
            })?,
            None => {
                let now = self.started.elapsed().as_secs_f64();
                self.rates.take(org, item, rate, now)
            }
        };
        decision.map_err(|retry_after| ApiError::RateLimited { retry_after })
    }
}

/// With `[cluster]`: reads the whole cluster's figures of the day into `state.stats` every
/// [`cluster::figures::REFRESH`] (and sweeps spent rate buckets now and then), until the state
/// is gone or drains. A failed read keeps the last figures.
pub async fn follow_cluster_figures(state: Weak<State>) {
    let mut tick = tokio::time::interval(cluster::figures::REFRESH);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut last_sweep = Instant::now();
    loop {
        tick.tick().await;
        let Some(state) = state.upgrade() else {
            return;
        };
        if state.is_draining() {
            return;
        }
        let Some(cluster) = state.cluster.clone() else {
            return;
        };
        refresh_cluster_figures(&state, &cluster).await;
        if last_sweep.elapsed() >= cluster::rate::SWEEP_INTERVAL {
            last_sweep = Instant::now();
            if let Err(e) = cluster.rate().sweep().await {
                tracing::debug!(error = %e, "rate buckets: sweep failed");
            }
        }
    }
}

/// One read of the cluster's figures into `state.stats`.
pub async fn refresh_cluster_figures(state: &State, cluster: &Cluster) {
    let now = state.audit_clock.now();
    let day = stats::day_of(now);
    let snapshot = state.snapshot();
    match cluster.figures(day, &snapshot.names()).await {
        Ok(figures) => state.stats.replace(day, figures),
        Err(e) => tracing::warn!(error = %e, "statistics: cannot read the cluster's figures"),
    }
}

/// Today's figures from the day's audit records (a restart does not zero the hall's screen). A
/// log that cannot be read leaves what was read, and says so: the gateway still serves.
fn rebuild_stats(path: &Path, snapshot: &Snapshot, now: UnixTime) -> Stats {
    let started = Instant::now();
    match stats::rebuild(path, now, &snapshot.names()) {
        Ok(r) => {
            if r.unreadable > 0 {
                tracing::warn!(
                    lines = r.unreadable,
                    "statistics: audit lines that are not records were skipped"
                );
            }
            tracing::info!(
                records = r.records,
                files = r.files.len(),
                elapsed_ms = started.elapsed().as_millis() as u64,
                "statistics: today's figures rebuilt from the audit log"
            );
            Stats::new(r.day, r.figures)
        }
        Err(e) => {
            tracing::error!(error = %e, "statistics: cannot read the audit log back; today's figures start from zero");
            Stats::new(stats::day_of(now), Default::default())
        }
    }
}

/// The deployment's secrets: what each is called in messages, and the HKDF purpose that
/// derives it from the server key when the configuration names no file.
pub struct SecretKind {
    pub what: &'static str,
    purpose: &'static str,
}

/// `[audit] key_file`: keyed hashes of personal identifiers.
pub const AUDIT_KEY: SecretKind = SecretKind {
    what: "audit key",
    purpose: "tongban audit personal ids",
};
/// `[policies] mask_key_file`: the `hash` mask.
pub const MASK_KEY: SecretKind = SecretKind {
    what: "mask key",
    purpose: "tongban hash mask",
};

/// A secret from its file, else derived from the server's private key (HKDF-SHA256 with the
/// kind's purpose): stable for a deployment, never printed, different for every purpose.
pub fn secret(
    file: Option<&Path>,
    server_key: &Path,
    kind: SecretKind,
) -> Result<Vec<u8>, LoadSnapshotError> {
    if let Some(file) = file {
        return Ok(crate::audit::key::read_secret(file, kind.what)?);
    }
    let purpose = kind.purpose;
    let ikm = std::fs::read(server_key)
        .map_err(|e| LoadSnapshotError::ServerKey(format!("{}: {e}", server_key.display())))?;
    let prk = hkdf::Salt::new(hkdf::HKDF_SHA256, b"tongban deployment secret").extract(&ikm);
    let info = [purpose.as_bytes()];
    let okm = prk
        .expand(&info, hkdf::HKDF_SHA256)
        .map_err(|_| LoadSnapshotError::ServerKey("key derivation failed".into()))?;
    let mut out = vec![0u8; 32];
    okm.fill(&mut out)
        .map_err(|_| LoadSnapshotError::ServerKey("key derivation failed".into()))?;
    Ok(out)
}

fn build_snapshot(
    config: &Config,
    identity: &ServerIdentity,
    generation: u64,
    now: crate::time::UnixTime,
) -> Result<Snapshot, LoadSnapshotError> {
    let verifier = Verifier::load(&config.trust_dir, config.policies_dir.as_deref())?;
    for notice in verifier.trust().notices() {
        tracing::warn!(notice = %notice, "trust directory notice");
    }
    let policies = match &config.policies_dir {
        Some(dir) => {
            if config.require_signed_policies {
                let set = signing::verify(
                    dir,
                    verifier.trust(),
                    verifier.catalog(),
                    &config.policy_signers,
                    now,
                )?;
                tracing::info!(signer = %set.signer, files = set.files, "policy set signature verified");
            }
            let upstreams = config.upstreams.keys().cloned().collect();
            PolicySet::load(dir, verifier.catalog(), Some(&upstreams))?
        }
        None => PolicySet::default(),
    };
    let tls = tls::server_config(
        identity,
        verifier.trust(),
        config.tls_session_resumption,
        config.stale_crls,
    )?;
    Ok(Snapshot {
        generation,
        verifier: Arc::new(verifier),
        policies: Arc::new(policies),
        acceptor: TlsAcceptor::from(tls),
        loaded_at: now,
        callers: Cache::new(CALLER_CACHE_ENTRIES),
        stale_crls: config.stale_crls,
    })
}
