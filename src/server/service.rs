//! The public HTTP API (contract section 5): routing, the caller check, bodies and verdicts;
//! `/desk` goes to [`super::desk`].

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::header::{HeaderValue, ALLOW, CONNECTION, CONTENT_LENGTH, CONTENT_TYPE, RETRY_AFTER};
use hyper::{Method, Request, Response, StatusCode, Version};
use rustls::pki_types::CertificateDer;

use super::caller::{Caller, Judged};
use super::desk;
use super::exchange;
use super::problem::ApiError;
use super::request_id::{self, X_REQUEST_ID};
use super::state::State;
use crate::audit::{self, Record};
use crate::licence::Verdict;

/// Route of single verification.
pub const VERIFY: &str = "/v1/licences/verify";
/// Route of batch verification.
pub const VERIFY_BATCH: &str = "/v1/licences/verify-batch";

/// One TLS connection: its verified client certificates and the caller judged from them.
pub struct Connection {
    state: Arc<State>,
    peer: Option<Vec<CertificateDer<'static>>>,
    /// The caller judged under the snapshot generation it holds; judged again after a reload.
    caller: Mutex<Option<(u64, Judged)>>,
}

impl Connection {
    pub fn new(state: Arc<State>, peer: Option<Vec<CertificateDer<'static>>>) -> Self {
        Self {
            state,
            peer,
            caller: Mutex::new(None),
        }
    }

    /// Answers one request; never fails (errors become problem documents).
    pub async fn handle(self: Arc<Self>, req: Request<Incoming>) -> Response<Full<Bytes>> {
        let started = Instant::now();
        let request_id = request_id::from_request(&req);
        let method = req.method().clone();
        let version = req.version();
        let path = log_path(req.uri().path());
        let (mut response, caller) = match self.route(req, &request_id).await {
            Ok((r, caller)) => (r, caller),
            Err((e, caller)) => {
                let (status, body) = e.to_problem(&request_id);
                if status.is_server_error() {
                    tracing::error!(request_id = %request_id, error = %e, "request failed");
                }
                let r = Response::builder()
                    .status(status)
                    .header(CONTENT_TYPE, "application/problem+json");
                let r = match &e {
                    ApiError::MethodNotAllowed { allowed, .. } => r.header(ALLOW, *allowed),
                    ApiError::Denied {
                        allow: Some(allowed),
                        ..
                    } => r.header(ALLOW, allowed.as_str()),
                    ApiError::RateLimited { retry_after } => r.header(RETRY_AFTER, *retry_after),
                    // an HTTP/1.1 client past the limit is not read further than the drain
                    ApiError::BodyTooLarge { .. } if version < Version::HTTP_2 => {
                        r.header(CONNECTION, "close")
                    }
                    _ => r,
                };
                (
                    r.body(Full::new(Bytes::from(body))).unwrap_or_default(),
                    caller,
                )
            }
        };
        if let Ok(v) = HeaderValue::from_str(&request_id) {
            response.headers_mut().insert(X_REQUEST_ID, v);
        }
        tracing::info!(
            request_id = %request_id,
            method = %method,
            path = %path,
            status = response.status().as_u16(),
            caller_city = caller.as_ref().map(|c| c.city.as_str()).unwrap_or("-"),
            caller_department = caller.as_ref().map(|c| c.department.as_str()).unwrap_or("-"),
            elapsed_ms = started.elapsed().as_millis() as u64,
            "request"
        );
        response
    }

    async fn route(
        &self,
        req: Request<Incoming>,
        request_id: &str,
    ) -> Result<(Response<Full<Bytes>>, Option<Arc<Caller>>), (ApiError, Option<Arc<Caller>>)> {
        let path = req.uri().path().to_owned();
        if desk::owns(&path) {
            return Ok(desk::handle(self, req, request_id).await);
        }
        if !path.starts_with("/v1/") {
            discard_body(req.into_body());
            return Err((ApiError::NotFound { path }, None));
        }
        let caller = match self.caller(&path) {
            Ok(c) => c,
            Err(e) => {
                discard_body(req.into_body());
                return Err((e, None));
            }
        };
        let with = |e| (e, Some(caller.clone()));
        if path.starts_with(exchange::EXCHANGE_PREFIX) {
            return exchange::handle(&self.state, req, &caller, request_id)
                .await
                .map(|r| (r, Some(caller.clone())))
                .map_err(with);
        }
        let batch = match path.as_str() {
            VERIFY => false,
            VERIFY_BATCH => true,
            _ => {
                discard_body(req.into_body());
                return Err(with(ApiError::NotFound { path }));
            }
        };
        if req.method() != Method::POST {
            let method = req.method().to_string();
            discard_body(req.into_body());
            return Err(with(ApiError::MethodNotAllowed {
                method,
                path,
                allowed: "POST",
            }));
        }
        let body = if batch {
            self.verify_batch(req, &caller, request_id).await
        } else {
            self.verify_one(req, &caller, request_id).await
        }
        .map_err(with)?;
        let response = Response::builder()
            .status(StatusCode::OK)
            .header(CONTENT_TYPE, "application/json")
            .body(Full::new(Bytes::from(body)))
            .map_err(|e| with(ApiError::Internal(e.to_string())))?;
        Ok((response, Some(caller)))
    }

    pub(super) fn state(&self) -> &Arc<State> {
        &self.state
    }

    /// The caller of this connection, judged under the snapshot in force.
    pub(super) fn caller(&self, path: &str) -> Result<Arc<Caller>, ApiError> {
        let Some(peer) = &self.peer else {
            return Err(ApiError::NoClientCert {
                path: path.to_owned(),
            });
        };
        let snapshot = self.state.snapshot();
        let mut slot = self
            .caller
            .lock()
            .map_err(|_| ApiError::Internal("caller lock poisoned".into()))?;
        let now = self.state.clock.now();
        let judged = match slot.as_ref() {
            Some((generation, judged))
                if *generation == snapshot.generation
                    && !judged.as_ref().is_ok_and(|c| c.judgement_expired(now)) =>
            {
                judged.clone()
            }
            _ => {
                let judged = snapshot.caller(peer, now);
                if let Err(why) = &judged {
                    tracing::warn!(reason = %why, "client certificate refused");
                }
                *slot = Some((snapshot.generation, judged.clone()));
                judged
            }
        };
        judged.map_err(ApiError::CallerNotTrusted)
    }

    async fn verify_one(
        &self,
        req: Request<Incoming>,
        caller: &Caller,
        request_id: &str,
    ) -> Result<Vec<u8>, ApiError> {
        check_media_type(
            &req,
            &["application/jose", "text/plain"],
            "application/jose or text/plain",
        )?;
        let body = read_body(req, self.state.config.limits.max_body_bytes).await?;
        let licence = body.trim_ascii().to_vec();
        if licence.is_empty() {
            return Err(ApiError::BadRequest("the body holds no licence".into()));
        }
        let verdicts = self.verify_all(vec![licence], caller, request_id).await?;
        let verdict = verdicts
            .first()
            .ok_or_else(|| ApiError::Internal("no verdict".into()))?;
        serde_json::to_vec(verdict).map_err(|e| ApiError::Internal(e.to_string()))
    }

    async fn verify_batch(
        &self,
        req: Request<Incoming>,
        caller: &Caller,
        request_id: &str,
    ) -> Result<Vec<u8>, ApiError> {
        check_media_type(&req, &["application/json"], "application/json")?;
        let limits = &self.state.config.limits;
        let body = read_body(req, limits.max_batch_body_bytes).await?;
        let licences = parse_batch(&body, limits.max_batch)?;
        let verdicts = self.verify_all(licences, caller, request_id).await?;
        serde_json::to_vec(&verdicts).map_err(|e| ApiError::Internal(e.to_string()))
    }

    /// Verifies through the cache; one audit record per licence, written before the answer.
    /// A single licence is verified here (one verification, ~40–60 µs, is within what a task
    /// may run between awaits, and the hand-off to another thread would cost ~10 µs more);
    /// a batch goes to the blocking pool.
    pub(super) async fn verify_all(
        &self,
        licences: Vec<Vec<u8>>,
        caller: &Caller,
        request_id: &str,
    ) -> Result<Vec<Verdict>, ApiError> {
        self.state.check_audit_available()?;
        let state = self.state.clone();
        let city = caller.city.clone();
        let started = Instant::now();
        let verdicts = match licences.as_slice() {
            [one] => vec![state.verify_cached(one, &city)],
            _ => tokio::task::spawn_blocking(move || {
                licences
                    .iter()
                    .map(|licence| state.verify_cached(licence, &city))
                    .collect::<Vec<_>>()
            })
            .await
            .map_err(|e| ApiError::Internal(format!("verification task failed: {e}")))?,
        };
        let latency = started.elapsed().as_millis() as u64;
        let who = audit::CallerId::new(
            caller.city.clone(),
            caller.department.clone(),
            caller.org.clone(),
        );
        let mut records = Vec::with_capacity(verdicts.len());
        for verdict in &verdicts {
            let decision = if verdict.valid {
                audit::Outcome::Valid
            } else {
                audit::Outcome::Invalid
            };
            let mut record = Record::licence_verification(
                request_id,
                who.clone(),
                verdict.ltype.clone(),
                verdict.lid.clone(),
                decision,
            )
            .status(200)
            .latency_ms(latency);
            if let Some(first) = verdict.errors.first() {
                record = record.error_code(first.code.as_str());
            }
            if let Some(id) = verdict.holder.as_ref().and_then(|h| h.id.as_deref()) {
                record = record.subject(self.state.audit_key.personal_id(id));
            }
            records.push(record);
        }
        self.state.audit_all(&records).await?;
        Ok(verdicts)
    }
}

/// The licences of a verify-batch body: a JSON array of at most `max` strings, each trimmed.
pub fn parse_batch(body: &[u8], max: usize) -> Result<Vec<Vec<u8>>, ApiError> {
    let licences: Vec<String> = serde_json::from_slice(body).map_err(|e| {
        ApiError::BadRequest(format!("the body must be a JSON array of strings: {e}"))
    })?;
    if licences.len() > max {
        return Err(ApiError::BatchTooLarge {
            len: licences.len(),
            max,
        });
    }
    Ok(licences
        .into_iter()
        .map(|l| l.as_bytes().trim_ascii().to_vec())
        .collect())
}

/// The path as logged: an exchange's path after the item may carry personal identifiers
/// (`/persons/420106…`), so only the route and the item are kept.
fn log_path(path: &str) -> String {
    match path.strip_prefix(exchange::EXCHANGE_PREFIX) {
        Some(rest) => {
            let item: String = rest
                .split('/')
                .next()
                .unwrap_or_default()
                .chars()
                .take(64)
                .collect();
            format!("{}{item}/…", exchange::EXCHANGE_PREFIX)
        }
        None => path.chars().take(128).collect(),
    }
}

/// Refuses a body whose `Content-Type` is present and not one of `accepted` (parameters ignored).
pub(super) fn check_media_type(
    req: &Request<Incoming>,
    accepted: &[&str],
    expected: &'static str,
) -> Result<(), ApiError> {
    let Some(value) = req.headers().get(CONTENT_TYPE) else {
        return Ok(());
    };
    let text = value.to_str().unwrap_or_default();
    let essence = text.split(';').next().unwrap_or_default().trim();
    if accepted.iter().any(|a| a.eq_ignore_ascii_case(essence)) {
        Ok(())
    } else {
        Err(ApiError::UnsupportedMediaType {
            got: text.chars().take(100).collect(),
            expected,
        })
    }
}

/// How long a refused request's body is read and dropped after the answer.
const DISCARD_TIMEOUT: Duration = Duration::from_secs(5);

/// The most of a refused request's body that is read and dropped after the answer. A body
/// declared larger is not read at all: its stream is reset (HTTP/2 `RST_STREAM(NO_ERROR)` after
/// the answer, RFC 9113 section 8.1) or its connection closed (HTTP/1.1).
pub const MAX_DRAINED_BODY_BYTES: u64 = 16 * 1024 * 1024;

/// Reads and drops, in the background, the rest of the body of a request answered without it,
/// so that a client still sending sees the answer rather than a reset: the stream ends cleanly
/// (HTTP/2, where curl before 8 takes even a `NO_ERROR` reset for a failure) or the connection
/// stays open (HTTP/1.1). Bounded by [`MAX_DRAINED_BODY_BYTES`] and [`DISCARD_TIMEOUT`]; past
/// either, the body is dropped. Nothing is kept: the cost is the bandwidth.
pub(super) fn discard_body(mut body: Incoming) {
    // outside a runtime (a body dropped at shutdown) it is simply dropped
    let Ok(runtime) = tokio::runtime::Handle::try_current() else {
        return;
    };
    runtime.spawn(async move {
        let drain = async {
            let mut read = 0u64;
            while let Some(Ok(frame)) = body.frame().await {
                read += frame.data_ref().map_or(0, |d| d.len() as u64);
                if read > MAX_DRAINED_BODY_BYTES {
                    break;
                }
            }
        };
        let _ = tokio::time::timeout(DISCARD_TIMEOUT, drain).await;
    });
}

/// Reads at most `limit` bytes of body; more is 413, and the rest is discarded after the answer
/// ([`discard_body`]) unless it is declared over [`MAX_DRAINED_BODY_BYTES`].
pub(super) async fn read_body(req: Request<Incoming>, limit: usize) -> Result<Bytes, ApiError> {
    let declared = req
        .headers()
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let mut body = req.into_body();
    if let Some(n) = declared.filter(|n| *n > limit as u64) {
        if n <= MAX_DRAINED_BODY_BYTES {
            discard_body(body);
        }
        return Err(ApiError::BodyTooLarge { limit });
    }
    let mut collected = Vec::new();
    while let Some(frame) = body.frame().await {
        let frame =
            frame.map_err(|e| ApiError::BadRequest(format!("cannot read the body: {e}")))?;
        let Some(data) = frame.data_ref() else {
            continue;
        };
        if collected.len() + data.len() > limit {
            discard_body(body);
            return Err(ApiError::BodyTooLarge { limit });
        }
        collected.extend_from_slice(data);
    }
    Ok(Bytes::from(collected))
}

#[cfg(test)]
mod tests {
    #[test]
    fn exchange_paths_are_logged_without_what_follows_the_item() {
        assert_eq!(
            super::log_path("/v1/exchange/HPF-X/persons/420106199001011234"),
            "/v1/exchange/HPF-X/…"
        );
        assert_eq!(
            super::log_path("/v1/licences/verify"),
            "/v1/licences/verify"
        );
    }
}
