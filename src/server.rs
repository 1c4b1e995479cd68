//! The gateway server: TLS and mTLS termination, the licence verification API, the data
//! exchange, the window desk, the statistics centre, the verdict cache, metrics, reload and
//! graceful shutdown.
//!
//! # Layout
//! - [`config`]: the configuration file, and [`config::check`]: every problem of it and of the
//!   files it names at once (`tongban config check`, and `serve` before it starts);
//! - [`tls`]: rustls configuration (ring, TLS 1.2/1.3, ALPN, client certificates checked
//!   against the cities' anchors and CRLs);
//! - [`caller`]: the calling department, from the verified client certificate only (its own
//!   city's chain and CRLs, judged again after each reload);
//! - [`service`]: the public listener's routes; [`problem`]: their errors as RFC 9457
//!   documents, audit decisions and metric labels; [`request_id`]: `X-Request-Id`;
//! - [`exchange`]: `/v1/exchange/…` (authorise → forward → answer); [`upstream`]: the upstreams'
//!   HTTP clients;
//! - [`desk`]: the window desk (`/desk/`, 核验台) for clerks, under the `/v1` certificate rule;
//! - [`admin`]: the admin listener; [`screen`]: its statistics centre (`/stats`, the event
//!   stream, the hall screen `/screen`); [`web`]: what the two pages share (escaping, security
//!   headers, compiled-in assets);
//! - [`cache`]: the verdict cache; [`metrics`]: Prometheus;
//! - [`state`]: shared state and reload; [`listener`]: accept loops, limits and draining;
//! - [`demo`]: `tongban demo`.
//!
//! [`start`] binds both listeners and returns a [`Running`] server whose [`Handle`] reloads and
//! shuts it down without signals (tests); [`serve`] wires SIGHUP, SIGTERM and SIGINT to it.

pub mod admin;
pub mod cache;
pub mod caller;
pub mod config;
pub mod demo;
pub mod desk;
pub mod exchange;
pub mod listener;
pub mod metrics;
pub mod problem;
pub mod request_id;
pub mod screen;
pub mod service;
pub mod state;
pub mod tls;
pub mod upstream;
pub mod web;

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

pub use config::Config;
pub use state::{LoadSnapshotError, State};

use crate::cluster::Cluster;
use crate::time::{Clock, SystemClock};
use metrics::Metrics;
use tls::{ServerIdentity, TlsError};

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error(transparent)]
    Config(#[from] config::ConfigError),
    #[error(transparent)]
    Tls(#[from] TlsError),
    #[error("cannot load trust and policies: {0}")]
    Load(#[from] LoadSnapshotError),
    #[error("cannot listen on {addr} ({what}): {source}")]
    Bind {
        what: &'static str,
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("cannot register metrics: {0}")]
    Metrics(#[from] prometheus::Error),
    #[error("cannot install the signal handlers: {0}")]
    Signals(std::io::Error),
    #[error(transparent)]
    Cluster(#[from] crate::cluster::ClusterError),
}

/// A started server.
pub struct Running {
    public: SocketAddr,
    admin: SocketAddr,
    handle: Handle,
    task: JoinHandle<()>,
}

/// Reloads and stops a running server; cheap to clone.
#[derive(Clone)]
pub struct Handle {
    state: Arc<State>,
    shutdown: Arc<watch::Sender<bool>>,
}

impl Running {
    /// The bound address of the TLS listener.
    pub fn public_addr(&self) -> SocketAddr {
        self.public
    }

    /// The bound address of the admin listener.
    pub fn admin_addr(&self) -> SocketAddr {
        self.admin
    }

    pub fn handle(&self) -> Handle {
        self.handle.clone()
    }

    /// Waits until the server has stopped and drained.
    pub async fn wait(self) {
        let _ = self.task.await;
    }
}

impl Handle {
    /// Reloads trust and policies; the previous ones stay in force on error.
    pub async fn reload(&self) -> Result<u64, LoadSnapshotError> {
        self.state.reload().await
    }

    /// Stops accepting, then drains in-flight requests (at most the drain timeout).
    pub fn shutdown(&self) {
        self.state.start_draining();
        let _ = self.shutdown.send(true);
    }

    pub fn state(&self) -> &Arc<State> {
        &self.state
    }
}

/// Loads everything, binds both listeners and starts serving with the system clock.
pub async fn start(config: Config) -> Result<Running, ServerError> {
    start_with_clock(config, Arc::new(SystemClock)).await
}

/// As [`start`], judging licence validity at the time `clock` gives.
pub async fn start_with_clock(
    config: Config,
    clock: Arc<dyn Clock>,
) -> Result<Running, ServerError> {
    let identity = ServerIdentity::load(&config.tls_cert, &config.tls_key)?;
    let metrics = Metrics::new()?;
    let cluster = match &config.cluster {
        Some(c) => Some(Arc::new(Cluster::start(c, metrics.registry()).await?)),
        None => None,
    };
    let state = {
        let config = config.clone();
        let cluster = cluster.clone();
        tokio::task::spawn_blocking(move || State::new(config, identity, metrics, clock, cluster))
            .await
            .map_err(|e| LoadSnapshotError::Task(e.to_string()))??
    };
    let state = Arc::new(state);
    if let (Some(cluster), Some(c)) = (&cluster, &config.cluster) {
        let secrets = [
            ("mask key", state.mask_key.check_value()),
            ("audit key", state.audit_key.check_value()),
        ];
        cluster.check_same_secrets(&c.node, &secrets).await?;
    }
    if let Some(cluster) = &cluster {
        // the figures are there before the first request, then follow the cluster
        state::refresh_cluster_figures(&state, cluster).await;
        tokio::spawn(state::follow_cluster_figures(Arc::downgrade(&state)));
    }
    let public = bind("public", config.public).await?;
    let admin = bind("admin", config.admin).await?;
    let public_addr = local_addr("public", &public, config.public)?;
    let admin_addr = local_addr("admin", &admin, config.admin)?;
    let (tx, rx) = watch::channel(false);
    let task = tokio::spawn(listener::run(state.clone(), public, admin, rx));
    tracing::info!(public = %public_addr, admin = %admin_addr, "tongban listening");
    Ok(Running {
        public: public_addr,
        admin: admin_addr,
        handle: Handle {
            state,
            shutdown: Arc::new(tx),
        },
        task,
    })
}

/// `tongban serve --config FILE`: checks the configuration and everything it names (every
/// problem at once, [`config::check`]), then runs until SIGTERM or SIGINT; SIGHUP reloads.
pub async fn serve(config_path: &Path) -> Result<(), ServerError> {
    let path = config_path.to_path_buf();
    let checked = tokio::task::spawn_blocking(move || config::check::check(&path))
        .await
        .map_err(|e| LoadSnapshotError::Task(e.to_string()))??;
    for notice in &checked.notices {
        tracing::warn!(notice = %notice, "configuration notice");
    }
    let running = start(checked.config).await?;
    let handle = running.handle();
    tokio::spawn(signals(handle)?);
    running.wait().await;
    tracing::info!("tongban stopped");
    Ok(())
}

/// The signal loop: SIGHUP reloads, SIGTERM and SIGINT shut down.
#[cfg(unix)]
pub(crate) fn signals(
    handle: Handle,
) -> Result<impl std::future::Future<Output = ()> + Send + 'static, ServerError> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut hup = signal(SignalKind::hangup()).map_err(ServerError::Signals)?;
    let mut term = signal(SignalKind::terminate()).map_err(ServerError::Signals)?;
    let mut int = signal(SignalKind::interrupt()).map_err(ServerError::Signals)?;
    Ok(async move {
        loop {
            tokio::select! {
                _ = hup.recv() => {
                    tracing::info!("SIGHUP: reloading trust and policies");
                    let _ = handle.reload().await;
                }
                _ = term.recv() => {
                    tracing::info!("SIGTERM: draining");
                    handle.shutdown();
                    return;
                }
                _ = int.recv() => {
                    tracing::info!("SIGINT: draining");
                    handle.shutdown();
                    return;
                }
            }
        }
    })
}

#[cfg(not(unix))]
pub(crate) fn signals(
    handle: Handle,
) -> Result<impl std::future::Future<Output = ()> + Send + 'static, ServerError> {
    Ok(async move {
        let _ = tokio::signal::ctrl_c().await;
        handle.shutdown();
    })
}

async fn bind(what: &'static str, addr: SocketAddr) -> Result<TcpListener, ServerError> {
    TcpListener::bind(addr)
        .await
        .map_err(|source| ServerError::Bind { what, addr, source })
}

fn local_addr(
    what: &'static str,
    listener: &TcpListener,
    addr: SocketAddr,
) -> Result<SocketAddr, ServerError> {
    listener
        .local_addr()
        .map_err(|source| ServerError::Bind { what, addr, source })
}
