//! The data exchange's upstreams: HTTP/1.1 (or HTTPS with the upstream's own roots, ring only)
//! over kept-alive connections.
//!
//! A request takes an idle connection of its upstream (or makes one), drives it on its own task
//! (no connection task, no hand-off between threads), reads the answer whole and gives the
//! connection back when it can carry another request. The idle connections are one stack per
//! upstream, locked only to push or pop one (per-thread stacks were tried: tasks move between
//! the runtime's workers, so one worker's stack drained while the other's overflowed, and new
//! connections kept being made). The path prefix and `Host` are made once
//! per upstream; a bodiless request sends no body at all; one deadline covers the connection,
//! the request and the whole answer.

use std::collections::HashMap;
use std::future::{poll_fn, Future};
use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use http_body_util::{BodyExt, Limited};
use hyper::body::{Body, Bytes, Frame, Incoming, SizeHint};
use hyper::client::conn::http1;
use hyper::header::{HeaderValue, HOST};
use hyper::http::response::Parts;
use hyper::{Request, Uri};
use hyper_util::rt::TokioIo;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;
use tokio_rustls::TlsConnector;

use super::config::Upstream as UpstreamConfig;
use super::service::discard_body;

/// Idle connections kept per upstream; enough for the gateway's concurrency.
const MAX_IDLE: usize = 512;
/// Idle connections are not used again after this long.
const IDLE_TIMEOUT: Duration = Duration::from_secs(60);
/// A bodiless request on a connection idle longer than this is sent again on a new connection
/// when the upstream turns out to have closed the old one (it may not have seen it yet).
const STALE_AFTER: Duration = Duration::from_secs(1);

/// Why an upstream could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum UpstreamSetupError {
    #[error("upstream `{name}`: {why}")]
    Invalid { name: String, why: String },
}

/// Why an upstream call failed.
#[derive(Debug, thiserror::Error)]
pub enum CallError {
    #[error("no answer within {0:?}")]
    Timeout(Duration),
    #[error("cannot connect: {0}")]
    Connect(io::Error),
    /// The caller's body went over its limit while it was sent.
    #[error("the request body is too large")]
    BodyTooLarge,
    #[error("the upstream did not answer: {0}")]
    Http(hyper::Error),
    #[error("the answer is larger than {0} bytes")]
    AnswerTooLarge(usize),
    #[error("the answer could not be read: {0}")]
    Body(String),
}

/// One upstream.
pub struct Upstream {
    /// Kept-alive connections, the most recently used last.
    idle: Mutex<Vec<Conn>>,
    /// `host:port`, resolved at each new connection.
    address: String,
    host: HeaderValue,
    /// The URL's path without its trailing slash.
    prefix: String,
    tls: Option<(TlsConnector, ServerName<'static>)>,
    pub timeout: Duration,
}

/// Every configured upstream, by name.
#[derive(Default)]
pub struct Upstreams {
    by_name: HashMap<String, Arc<Upstream>>,
}

impl Upstreams {
    pub fn new(
        config: &std::collections::BTreeMap<String, UpstreamConfig>,
    ) -> Result<Self, UpstreamSetupError> {
        let mut by_name = HashMap::new();
        for (name, u) in config {
            let bad = |why: String| UpstreamSetupError::Invalid {
                name: name.clone(),
                why,
            };
            let uri: Uri = u.url.parse().map_err(|e| bad(format!("url: {e}")))?;
            let https = uri.scheme_str() == Some("https");
            let authority = uri
                .authority()
                .ok_or_else(|| bad("url has no host".into()))?;
            let port = authority.port_u16().unwrap_or(if https { 443 } else { 80 });
            let host = authority
                .host()
                .trim_start_matches('[')
                .trim_end_matches(']');
            let tls = if https {
                let name = ServerName::try_from(host.to_owned())
                    .map_err(|e| bad(format!("url host: {e}")))?;
                Some((
                    TlsConnector::from(Arc::new(client_tls(u).map_err(bad)?)),
                    name,
                ))
            } else {
                None
            };
            by_name.insert(
                name.clone(),
                Arc::new(Upstream {
                    idle: Mutex::new(Vec::new()),
                    address: if host.contains(':') {
                        format!("[{host}]:{port}")
                    } else {
                        format!("{host}:{port}")
                    },
                    host: HeaderValue::from_str(authority.as_str())
                        .map_err(|e| bad(format!("url host: {e}")))?,
                    prefix: uri.path().trim_end_matches('/').to_owned(),
                    tls,
                    timeout: u.timeout,
                }),
            );
        }
        Ok(Self { by_name })
    }

    pub fn get(&self, name: &str) -> Option<Arc<Upstream>> {
        self.by_name.get(name).cloned()
    }
}

/// The answer, read whole.
pub struct Answer {
    pub parts: Parts,
    pub body: Bytes,
}

impl Upstream {
    /// The request-target upstream for the caller's remaining path and query.
    pub fn target(&self, rest: &str, query: Option<&str>) -> Result<Uri, String> {
        let mut text =
            String::with_capacity(self.prefix.len() + rest.len() + query.map_or(0, str::len) + 2);
        text.push_str(&self.prefix);
        text.push('/');
        text.push_str(rest);
        if let Some(q) = query {
            text.push('?');
            text.push_str(q);
        }
        Uri::from_maybe_shared(Bytes::from(text)).map_err(|e| e.to_string())
    }

    /// Sends `req` (origin-form target, `Host` set here) and reads the answer, at most
    /// `max_answer` bytes, all within the upstream's timeout.
    pub async fn call(
        &self,
        mut req: Request<UpstreamBody>,
        max_answer: usize,
    ) -> Result<Answer, CallError> {
        req.headers_mut().insert(HOST, self.host.clone());
        let deadline = tokio::time::Instant::now() + self.timeout;
        tokio::time::timeout_at(deadline, self.exchange(req, max_answer))
            .await
            .unwrap_or(Err(CallError::Timeout(self.timeout)))
    }

    async fn exchange(
        &self,
        mut req: Request<UpstreamBody>,
        max_answer: usize,
    ) -> Result<Answer, CallError> {
        loop {
            let (mut conn, reused) = match self.take_idle() {
                Some(conn) => (conn, true),
                None => (self.connect().await?, false),
            };
            let spare = (reused
                && conn.idle_since.elapsed() > STALE_AFTER
                && matches!(req.body(), UpstreamBody::Empty))
            .then(|| bodiless_copy(&req));
            let sent = conn.send.try_send_request(req);
            let response = match conn.drive(sent).await {
                Ok(response) => response,
                // a kept connection the upstream had closed: the request goes on a new one
                // if it did not leave, or if it was bodiless and nothing came back
                Err(mut e) if reused && e.message().is_some() => {
                    req = e
                        .take_message()
                        .ok_or_else(|| CallError::Http(e.into_error()))?;
                    continue;
                }
                Err(e) => {
                    let error = e.into_error();
                    match spare {
                        Some(spare) if error.is_incomplete_message() => {
                            req = spare;
                            continue;
                        }
                        _ if limit_hit(&error) => return Err(CallError::BodyTooLarge),
                        _ => return Err(CallError::Http(error)),
                    }
                }
            };
            let (parts, body) = response.into_parts();
            let body = conn.drive(Limited::new(body, max_answer).collect()).await;
            let body = match body {
                Ok(collected) => collected.to_bytes(),
                Err(e) if e.is::<http_body_util::LengthLimitError>() => {
                    return Err(CallError::AnswerTooLarge(max_answer))
                }
                Err(e) => return Err(CallError::Body(e.to_string())),
            };
            conn.settle();
            if conn.send.is_ready() {
                self.put_idle(conn);
            }
            return Ok(Answer { parts, body });
        }
    }

    /// The most recently kept usable connection; stale ones are closed.
    fn take_idle(&self) -> Option<Conn> {
        loop {
            let mut conn = self
                .idle
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .pop()?;
            if conn.usable() {
                return Some(conn);
            }
        }
    }

    fn put_idle(&self, mut conn: Conn) {
        conn.idle_since = Instant::now();
        let surplus = {
            let mut idle = self.idle.lock().unwrap_or_else(PoisonError::into_inner);
            if idle.len() < MAX_IDLE {
                idle.push(conn);
                None
            } else {
                Some(conn)
            }
        };
        // closed outside the lock
        drop(surplus);
    }

    async fn connect(&self) -> Result<Conn, CallError> {
        let tcp = TcpStream::connect(self.address.as_str())
            .await
            .map_err(CallError::Connect)?;
        tcp.set_nodelay(true).map_err(CallError::Connect)?;
        let stream = match &self.tls {
            None => Stream::Plain(tcp),
            Some((connector, name)) => Stream::Tls(Box::new(
                connector
                    .connect(name.clone(), tcp)
                    .await
                    .map_err(CallError::Connect)?,
            )),
        };
        let (send, connection) = http1::handshake(TokioIo::new(stream))
            .await
            .map_err(CallError::Http)?;
        Ok(Conn {
            send,
            connection,
            done: false,
            idle_since: Instant::now(),
        })
    }
}

/// A connection and its request sender, driven by the task that uses it.
struct Conn {
    send: http1::SendRequest<UpstreamBody>,
    connection: http1::Connection<TokioIo<Stream>, UpstreamBody>,
    /// The connection future has completed (closed or failed): never poll it again.
    done: bool,
    idle_since: Instant,
}

impl Conn {
    /// Runs `work` while driving the connection.
    async fn drive<F: Future>(&mut self, work: F) -> F::Output {
        let mut work = std::pin::pin!(work);
        poll_fn(|cx| {
            if let Poll::Ready(out) = work.as_mut().poll(cx) {
                return Poll::Ready(out);
            }
            self.poll_connection(cx);
            // the connection may have delivered what `work` waits for
            work.as_mut().poll(cx)
        })
        .await
    }

    fn poll_connection(&mut self, cx: &mut Context<'_>) {
        if !self.done && Pin::new(&mut self.connection).poll(cx).is_ready() {
            self.done = true;
        }
    }

    /// Polls the connection once without waiting, so that it takes in what happened since it
    /// was last polled (the end of an answer, the upstream closing it).
    fn settle(&mut self) {
        let mut cx = Context::from_waker(std::task::Waker::noop());
        self.poll_connection(&mut cx);
    }

    fn usable(&mut self) -> bool {
        self.settle();
        !self.done && self.send.is_ready() && self.idle_since.elapsed() < IDLE_TIMEOUT
    }
}

/// A bodiless request again.
fn bodiless_copy(req: &Request<UpstreamBody>) -> Request<UpstreamBody> {
    let mut copy = Request::new(UpstreamBody::Empty);
    *copy.method_mut() = req.method().clone();
    *copy.uri_mut() = req.uri().clone();
    *copy.headers_mut() = req.headers().clone();
    copy
}

/// Whether the request body's size limit ended the exchange.
fn limit_hit(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = cur {
        if err.is::<CallerBodyTooLarge>() {
            return true;
        }
        cur = err.source();
    }
    false
}

/// The body sent upstream: none, or the caller's, streamed under the size limit.
pub enum UpstreamBody {
    Empty,
    /// The caller's body (`None` once it ended) and how many more bytes of it may pass.
    Streamed {
        body: Option<Incoming>,
        left: usize,
    },
}

impl UpstreamBody {
    /// The caller's `body`, of which at most `limit` bytes go upstream.
    pub fn streamed(body: Incoming, limit: usize) -> UpstreamBody {
        UpstreamBody::Streamed {
            body: Some(body),
            left: limit,
        }
    }
}

/// The caller's body went past `max_body_bytes` on its way upstream.
#[derive(Debug)]
struct CallerBodyTooLarge;

impl std::fmt::Display for CallerBodyTooLarge {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the request body is over the limit")
    }
}

impl std::error::Error for CallerBodyTooLarge {}

impl Body for UpstreamBody {
    type Data = Bytes;
    type Error = Box<dyn std::error::Error + Send + Sync>;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let UpstreamBody::Streamed { body, left } = self.get_mut() else {
            return Poll::Ready(None);
        };
        let Some(inner) = body.as_mut() else {
            return Poll::Ready(None);
        };
        Poll::Ready(match std::task::ready!(Pin::new(inner).poll_frame(cx)) {
            Some(Ok(frame)) => {
                let len = frame.data_ref().map_or(0, Bytes::len);
                match left.checked_sub(len) {
                    Some(rest) => {
                        *left = rest;
                        Some(Ok(frame))
                    }
                    // the rest of it is drained when this body is dropped
                    None => Some(Err(Box::new(CallerBodyTooLarge))),
                }
            }
            Some(Err(e)) => Some(Err(Box::new(e))),
            None => {
                *body = None;
                None
            }
        })
    }

    fn is_end_stream(&self) -> bool {
        match self {
            UpstreamBody::Empty => true,
            UpstreamBody::Streamed { body, .. } => body.as_ref().is_none_or(Body::is_end_stream),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            UpstreamBody::Streamed {
                body: Some(body), ..
            } => body.size_hint(),
            _ => SizeHint::with_exact(0),
        }
    }
}

/// A caller's body not read to its end (over the limit, or the upstream failed or answered
/// early) is drained after the answer, so that a client still sending sees the answer rather
/// than a reset (HTTP/2) or a closed connection.
impl Drop for UpstreamBody {
    fn drop(&mut self) {
        if let UpstreamBody::Streamed { body, .. } = self {
            if let Some(rest) = body.take().filter(|b| !b.is_end_stream()) {
                discard_body(rest);
            }
        }
    }
}

/// Plain TCP or TLS to the upstream.
enum Stream {
    Plain(TcpStream),
    Tls(Box<TlsStream<TcpStream>>),
}

impl AsyncRead for Stream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Stream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_write(cx, buf),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_write_vectored(cx, bufs),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_write_vectored(cx, bufs),
        }
    }

    fn is_write_vectored(&self) -> bool {
        match self {
            Stream::Plain(s) => s.is_write_vectored(),
            Stream::Tls(s) => s.is_write_vectored(),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_flush(cx),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }
}

/// TLS to an upstream trusts only the roots named by its `ca` (ring provider, TLS 1.2+,
/// HTTP/1.1 by ALPN).
pub(crate) fn client_tls(u: &UpstreamConfig) -> Result<rustls::ClientConfig, String> {
    let mut roots = rustls::RootCertStore::empty();
    if let Some(ca) = &u.ca {
        let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(ca)
            .map_err(|e| format!("ca `{}`: {e}", ca.display()))?
            .collect::<Result<_, _>>()
            .map_err(|e| format!("ca `{}`: {e}", ca.display()))?;
        for cert in certs {
            roots
                .add(cert)
                .map_err(|e| format!("ca `{}`: {e}", ca.display()))?;
        }
    } else if u.url.starts_with("https://") {
        return Err("an https upstream needs `ca` (the PEM roots to trust)".into());
    }
    let mut config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_protocol_versions(&[&rustls::version::TLS12, &rustls::version::TLS13])
    .map_err(|e| e.to_string())?
    .with_root_certificates(roots)
    .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(config)
}
