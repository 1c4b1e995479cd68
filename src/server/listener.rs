//! Accept loops: the TLS listener (handshake timeout, connection limit, HTTP/1 and HTTP/2 with a
//! header read timeout, no first request within it closes) and the admin listener (its own
//! connection limit and header timeout); failed accepts are logged and retried after a pause; on
//! shutdown, stop accepting and drain.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, OwnedSemaphorePermit, Semaphore};

use super::admin;
use super::service::Connection;
use super::state::State;

/// Most concurrent HTTP/2 streams per connection: bounds the work one connection can queue.
const MAX_CONCURRENT_STREAMS: u32 = 64;
/// Most header bytes in one HTTP/2 request: our requests carry a handful of headers.
const MAX_HEADER_LIST_BYTES: u32 = 64 * 1024;
/// Most open connections on the admin listener: a few scrapers, probes and hall screens (whose
/// event streams are bounded apart), never a crowd.
pub const MAX_ADMIN_CONNECTIONS: usize = 256;
/// Pause after a failed accept before the next one.
const ACCEPT_RETRY_PAUSE: std::time::Duration = std::time::Duration::from_millis(50);

/// Serves both listeners until `shutdown` turns true, then drains.
pub async fn run(
    state: Arc<State>,
    public: TcpListener,
    admin: TcpListener,
    shutdown: watch::Receiver<bool>,
) {
    // the admin listener keeps answering (`/readyz` says 503) until the drain is over
    let admin_task = tokio::spawn(admin_loop(state.clone(), admin));
    public_loop(state, public, shutdown).await;
    admin_task.abort();
}

async fn public_loop(
    state: Arc<State>,
    listener: TcpListener,
    mut shutdown: watch::Receiver<bool>,
) {
    let limits = state.config.limits.clone();
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let graceful = GracefulShutdown::new();
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout);
    builder
        .http2()
        .timer(TokioTimer::new())
        .max_concurrent_streams(MAX_CONCURRENT_STREAMS)
        .max_header_list_size(MAX_HEADER_LIST_BYTES);
    loop {
        let (tcp, peer, permit) = tokio::select! {
            accepted = accept(&listener, &slots, "public") => match accepted {
                Some(accepted) => accepted,
                None => break,
            },
            _ = stopped(&mut shutdown) => break,
        };
        let state = state.clone();
        let acceptor = state.snapshot().acceptor.clone();
        let watcher = graceful.watcher();
        let builder = builder.clone();
        let limits = limits.clone();
        tokio::spawn(async move {
            let _permit = permit;
            state.metrics.open_connections.inc();
            let tls =
                match tokio::time::timeout(limits.handshake_timeout, acceptor.accept(tcp)).await {
                    Ok(Ok(tls)) => Some(tls),
                    Ok(Err(e)) => {
                        tracing::info!(peer = %peer, error = %e, "TLS handshake failed");
                        None
                    }
                    Err(_) => {
                        tracing::info!(peer = %peer, "TLS handshake timed out");
                        None
                    }
                };
            if let Some(tls) = tls {
                let certs = tls.get_ref().1.peer_certificates().map(<[_]>::to_vec);
                let conn = Arc::new(Connection::new(state.clone(), certs));
                let requested = Arc::new(AtomicBool::new(false));
                let service = service_fn({
                    let requested = requested.clone();
                    move |req| {
                        requested.store(true, Ordering::Relaxed);
                        let conn = conn.clone();
                        async move { Ok::<_, Infallible>(conn.handle(req).await) }
                    }
                });
                let serving = builder
                    .serve_connection(TokioIo::new(tls), service)
                    .into_owned();
                let serving = watcher.watch(serving);
                tokio::pin!(serving);
                // hyper's header timeout starts with an HTTP/1 request's first byte; a client
                // silent after TLS (or an HTTP/2 one that never sends its preface) would hold
                // its slot for ever: no first request within the header timeout closes it
                let ended = tokio::select! {
                    r = &mut serving => Some(r),
                    () = tokio::time::sleep(limits.header_read_timeout) => None,
                };
                let ended = match ended {
                    Some(r) => r,
                    None if requested.load(Ordering::Relaxed) => serving.await,
                    None => {
                        tracing::info!(peer = %peer, "no request within the header read timeout");
                        Ok(())
                    }
                };
                if let Err(e) = ended {
                    tracing::debug!(peer = %peer, error = %e, "connection ended with an error");
                }
            } else {
                state.metrics.tls_handshake_failures.inc();
            }
            state.metrics.open_connections.dec();
        });
    }
    drop(listener);
    tracing::info!(
        connections = graceful.count(),
        "stopped accepting; draining in-flight requests"
    );
    if tokio::time::timeout(limits.drain_timeout, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("drain timeout reached; cutting off the remaining connections");
    }
}

async fn admin_loop(state: Arc<State>, listener: TcpListener) {
    let slots = Arc::new(Semaphore::new(MAX_ADMIN_CONNECTIONS));
    let mut builder = auto::Builder::new(TokioExecutor::new()).http1_only();
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(state.config.limits.header_read_timeout);
    while let Some((tcp, _, permit)) = accept(&listener, &slots, "admin").await {
        let state = state.clone();
        let builder = builder.clone();
        tokio::spawn(async move {
            let _permit = permit;
            let service = service_fn(move |req| {
                let r = admin::handle(&state, &req);
                async move { Ok::<_, Infallible>(r) }
            });
            let _ = builder.serve_connection(TokioIo::new(tcp), service).await;
        });
    }
}

/// Waits for a free connection slot, then accepts the next connection. A failed accept (e.g.
/// out of file descriptors) is logged and retried after a pause instead of spinning; `None`
/// once the slots are closed.
async fn accept(
    listener: &TcpListener,
    slots: &Arc<Semaphore>,
    which: &'static str,
) -> Option<(TcpStream, SocketAddr, OwnedSemaphorePermit)> {
    let permit = slots.clone().acquire_owned().await.ok()?;
    loop {
        match listener.accept().await {
            Ok((tcp, peer)) => return Some((tcp, peer, permit)),
            Err(e) => {
                tracing::warn!(listener = which, error = %e, "accept failed");
                tokio::time::sleep(ACCEPT_RETRY_PAUSE).await;
            }
        }
    }
}

/// Resolves once shutdown is asked for (or its sender is gone).
async fn stopped(shutdown: &mut watch::Receiver<bool>) {
    let _ = shutdown.wait_for(|stop| *stop).await;
}
