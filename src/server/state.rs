//! The server's shared state and the part of it a reload replaces.
//!
//! A [`Snapshot`] (verifier + TLS configuration built from the same trust directory) is swapped
//! as a whole; requests and handshakes take the current one, so a reload never drops a
//! connection. The verdict cache is keyed by snapshot generation and emptied on reload.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use tokio_rustls::TlsAcceptor;

use super::cache::VerdictCache;
use super::config::Config;
use super::metrics::{Metrics, RELOAD_TRUST_POLICIES};
use super::tls::{self, ServerIdentity, TlsError};
use crate::licence::verify::LoadError;
use crate::licence::Verifier;
use crate::time::Clock;

/// What one generation of trust and policies gives the server.
pub struct Snapshot {
    pub generation: u64,
    pub verifier: Arc<Verifier>,
    pub acceptor: TlsAcceptor,
}

/// Why trust and policies could not be (re)loaded; the previous snapshot stays in force.
#[derive(Debug, thiserror::Error)]
pub enum LoadSnapshotError {
    #[error("{0}")]
    Verifier(#[from] LoadError),
    #[error("{0}")]
    Tls(#[from] TlsError),
    #[error("the reload task failed: {0}")]
    Task(String),
}

/// Shared by every connection.
pub struct State {
    pub config: Config,
    pub metrics: Metrics,
    pub cache: VerdictCache,
    pub clock: Arc<dyn Clock>,
    identity: ServerIdentity,
    snapshot: RwLock<Arc<Snapshot>>,
    next_generation: AtomicU64,
    draining: AtomicBool,
    /// Serializes reloads so two SIGHUPs cannot interleave.
    reload_lock: tokio::sync::Mutex<()>,
}

impl State {
    /// Loads everything for the first time.
    pub fn new(
        config: Config,
        identity: ServerIdentity,
        metrics: Metrics,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, LoadSnapshotError> {
        let snapshot = build_snapshot(&config, &identity, 1)?;
        Ok(Self {
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
            build_snapshot(&state.config, &state.identity, generation)
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
}

fn build_snapshot(
    config: &Config,
    identity: &ServerIdentity,
    generation: u64,
) -> Result<Snapshot, LoadSnapshotError> {
    let verifier = Verifier::load(&config.trust_dir, config.policies_dir.as_deref())?;
    for notice in verifier.trust().notices() {
        tracing::warn!(notice = %notice, "trust directory notice");
    }
    let tls = tls::server_config(identity, verifier.trust())?;
    Ok(Snapshot {
        generation,
        verifier: Arc::new(verifier),
        acceptor: TlsAcceptor::from(tls),
    })
}
