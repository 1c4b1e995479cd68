//! `ANY /v1/exchange/{item}/{path…}` (contract sections 4 and 5) in three stages that return
//! values: `authorise` (path, purpose, subject licence, policy decision, rate limit), `forward`
//! (the request to the item's upstream and its answer) and `answer` (that answer filtered and
//! masked by the decision's field plan). What the audit record needs gathers in a `Trail`, from
//! which [`handle`] writes the record before any answer leaves.

use std::sync::Arc;
use std::time::Instant;

use http_body_util::Full;
use hyper::body::{Body, Bytes, Incoming};
use hyper::header::{HeaderName, HeaderValue, CONTENT_LENGTH, CONTENT_TYPE};
use hyper::http::request::Parts;
use hyper::{HeaderMap, Request, Response, StatusCode};

use super::caller::{Caller, CALLER_HEADERS};
use super::problem::{classify, ApiError};
use super::request_id::X_REQUEST_ID;
use super::service::discard_body;
use super::state::{Snapshot, State};
use super::upstream::{Answer, CallError, UpstreamBody};
use crate::audit::{self, Outcome, PersonalId, Record};
use crate::licence::jws::truncate;
use crate::policy::decide::{decide, AccessRequest, Decision, DenyReason};
use crate::policy::filter::filter;
use crate::policy::plan::{FieldPlan, FieldReport};
use crate::policy::{today_cst, Item, Party};

/// Route prefix of the data exchange.
pub const EXCHANGE_PREFIX: &str = "/v1/exchange/";
pub const X_PURPOSE: &str = "x-purpose";
pub const X_SUBJECT_LICENCE: &str = "x-subject-licence";
/// Hop-by-hop and gateway headers never forwarded upstream.
const DROPPED_HEADERS: [&str; 11] = [
    "connection",
    "keep-alive",
    "proxy-connection",
    "transfer-encoding",
    "te",
    "trailer",
    "upgrade",
    "host",
    X_PURPOSE,
    X_SUBJECT_LICENCE,
    "x-request-id",
];

/// Answers one exchange request. Every path out writes its audit record first; if that write
/// fails, the answer is a 500 (503 in a cluster) and no data leaves. In a cluster whose database
/// is away nothing is forwarded: 503 at once.
pub async fn handle(
    state: &Arc<State>,
    req: Request<Incoming>,
    caller: &Caller,
    request_id: &str,
) -> Result<Response<Full<Bytes>>, ApiError> {
    let started = Instant::now();
    if let Err(e) = state.check_audit_available() {
        discard_body(req.into_body());
        return Err(e);
    }
    let (parts, body) = req.into_parts();
    let snapshot = state.snapshot();
    let (trail, permitted) = authorise(state, &snapshot, &parts, caller).await;
    let (trail, result) = match permitted {
        Err(e) => {
            // answered before the body was forwarded: it is read and dropped after the answer,
            // so that clients that send the whole body before reading see it, not a reset
            discard_body(body);
            (trail, Err(e))
        }
        Ok(permitted) => {
            let result = match forward(state, &permitted, &parts, body, caller, request_id).await {
                Ok(upstream) => answer(state, &permitted, upstream, request_id),
                Err(e) => Err(e),
            };
            match result {
                Ok((response, report)) => {
                    (trail.with_fields(permitted.fields, report), Ok(response))
                }
                Err(e) => (trail, Err(e)),
            }
        }
    };
    let (status, outcome, code) = match &result {
        Ok(response) => (response.status(), Outcome::Permit, None),
        Err(e) => {
            let class = classify(e);
            (class.status, class.outcome, Some(class.code))
        }
    };
    let label = if trail.known { &trail.item } else { "unknown" };
    state
        .metrics
        .exchange_requests
        .with_label_values(&[label, &caller.city, outcome.as_str()])
        .inc();
    state
        .metrics
        .exchange_request_duration
        .observe(started.elapsed().as_secs_f64());
    let mut record = Record::exchange(
        request_id,
        audit::CallerId::new(
            caller.city.clone(),
            caller.department.clone(),
            caller.org.clone(),
        ),
        trail.item,
        trail.purpose,
        outcome,
    )
    .rules(trail.rules)
    .status(status.as_u16())
    .latency_ms(started.elapsed().as_millis() as u64);
    if let Some((plan, report)) = &trail.fields {
        let (returned, masked) = plan.names(report);
        record = record.fields(returned, masked);
    }
    if let Some(code) = code {
        record = record.error_code(code);
    }
    if let Some(subject) = trail.subject {
        record = record.subject(subject);
    }
    state.audit(&record).await?;
    result
}

/// What the audit record of an exchange says besides its outcome, gathered stage by stage.
#[derive(Default)]
struct Trail {
    /// The item id asked for (cut short when no policy defines it).
    item: String,
    /// Whether a policy defines the item (else the metric label is `unknown`).
    known: bool,
    /// `X-Purpose`, cut short.
    purpose: String,
    /// The rules that determined the decision.
    rules: Vec<String>,
    /// The subject licence's holder, keyed-hashed.
    subject: Option<PersonalId>,
    /// What the answer returned, by the plan that filtered it.
    fields: Option<(Arc<FieldPlan>, FieldReport)>,
}

impl Trail {
    fn with_fields(self, plan: Arc<FieldPlan>, report: FieldReport) -> Self {
        Self {
            fields: Some((plan, report)),
            ..self
        }
    }
}

/// An exchange the policy permits.
struct Permitted<'s> {
    item: &'s Item,
    /// The path after the item, forwarded.
    rest: String,
    purpose: String,
    fields: Arc<FieldPlan>,
}

/// The first stage: the path, the purpose, the subject licence, the decision and the rate limit;
/// the trail says what was found whatever the result.
async fn authorise<'s>(
    state: &State,
    snapshot: &'s Snapshot,
    parts: &Parts,
    caller: &Caller,
) -> (Trail, Result<Permitted<'s>, ApiError>) {
    let purpose = header_text(&parts.headers, X_PURPOSE).filter(|p| !p.trim().is_empty());
    let mut trail = Trail {
        purpose: purpose.as_deref().map(truncate).unwrap_or_default(),
        ..Trail::default()
    };
    let (item_id, rest) = match split_path(parts.uri.path()) {
        Ok(split) => split,
        Err(e) => return (trail, Err(e)),
    };
    let item = snapshot.policies.item(item_id);
    trail.known = item.is_some();
    trail.item = if trail.known {
        item_id.to_owned()
    } else {
        truncate(item_id)
    };
    let Some(purpose) = purpose else {
        return (trail, Err(ApiError::MissingPurpose));
    };
    // the subject's licence, verified for the caller's city (through the verdict cache), on
    // this task as for `POST /v1/licences/verify`
    let licence = header_text(&parts.headers, X_SUBJECT_LICENCE).and_then(|jws| {
        let verdict = state.verify_cached(jws.trim().as_bytes(), &caller.city);
        if let Some(id) = verdict.holder.as_ref().and_then(|h| h.id.as_deref()) {
            trail.subject = Some(state.audit_key.personal_id(id));
        }
        verdict.valid.then_some(verdict.ltype).flatten()
    });
    let method = parts.method.as_str();
    let Some(item) = item else {
        let unknown = denial(DenyReason::UnknownItem, &trail.item, &[], method);
        return (trail, Err(unknown));
    };
    let decision = decide(
        item,
        &AccessRequest {
            caller: &Party {
                city: caller.city.clone(),
                department: caller.department.clone(),
            },
            item: item_id,
            method,
            purpose: &purpose,
            today: today_cst(state.clock.now()),
            licence: licence.as_deref(),
        },
    );
    let (fields, rate) = match decision {
        Decision::Deny { reason, rules } => {
            trail.rules = rules;
            return (trail, Err(denial(reason, item_id, &item.methods, method)));
        }
        Decision::Permit {
            rules,
            fields,
            rate,
        } => {
            trail.rules = rules;
            (fields, rate)
        }
    };
    if let Some(rate) = rate {
        if let Err(e) = state.limit(&caller.org, item_id, rate).await {
            return (trail, Err(e));
        }
    }
    let permitted = Permitted {
        item,
        rest: rest.to_owned(),
        purpose,
        fields,
    };
    (trail, Ok(permitted))
}

/// The problem for a policy's refusal of item `item` (whose methods are `methods`).
fn denial(reason: DenyReason, item: &str, methods: &[String], method: &str) -> ApiError {
    let (detail, allow) = match reason {
        DenyReason::UnknownItem => (format!("no service item `{item}`"), None),
        DenyReason::MethodNotAllowed => {
            let allowed = methods.join(", ");
            (
                format!("`{method}` is not a method of this item; use {allowed}"),
                Some(allowed),
            )
        }
        DenyReason::ForbiddenByPolicy => (
            "a policy rule forbids this caller this item".to_owned(),
            None,
        ),
        DenyReason::LicenceRequired => (
            "a verified licence of the data subject is required (`X-Subject-Licence`)".to_owned(),
            None,
        ),
        DenyReason::NoMatchingPermit => (
            "no policy rule permits this caller this item for this purpose".to_owned(),
            None,
        ),
    };
    ApiError::Denied {
        reason,
        detail,
        allow,
    }
}

/// `item` and the rest of the path; refuses traversal and encoded separators (never forwarded).
fn split_path(path: &str) -> Result<(&str, &str), ApiError> {
    let tail = path.strip_prefix(EXCHANGE_PREFIX).unwrap_or_default();
    let (item, rest) = tail.split_once('/').unwrap_or((tail, ""));
    let bad = |why: &str| ApiError::BadPath(format!("`{}`: {why}", truncate(path)));
    if item.is_empty() {
        return Err(bad("no item"));
    }
    for segment in std::iter::once(item).chain(rest.split('/')) {
        let lower = segment.to_ascii_lowercase();
        if segment == "." || segment == ".." {
            return Err(bad("dot segments are not allowed"));
        }
        if ["%2e", "%2f", "%5c", "%00"]
            .iter()
            .any(|e| lower.contains(e))
            || segment.contains('\\')
        {
            return Err(bad(
                "encoded dots, slashes, backslashes and NULs are not allowed",
            ));
        }
    }
    if rest.contains("//") {
        return Err(bad("empty path segments are not allowed"));
    }
    Ok((item, rest))
}

/// The second stage: the request to the item's upstream, with the caller's headers from its
/// certificate, and the answer read whole (at most `max_response_bytes`).
async fn forward(
    state: &State,
    permitted: &Permitted<'_>,
    parts: &Parts,
    body: Incoming,
    caller: &Caller,
    request_id: &str,
) -> Result<Answer, ApiError> {
    let limit = state.config.limits.max_body_bytes;
    let item = permitted.item;
    let prepared = state
        .upstreams
        .get(&item.upstream)
        .ok_or_else(|| {
            ApiError::UpstreamError(format!("upstream `{}` is not configured", item.upstream))
        })
        .and_then(|upstream| {
            let target = upstream
                .target(&permitted.rest, parts.uri.query())
                .map_err(ApiError::BadPath)?;
            if content_length(&parts.headers).is_some_and(|n| n > limit as u64) {
                return Err(ApiError::BodyTooLarge { limit });
            }
            Ok((upstream, target))
        });
    let (upstream, target) = match prepared {
        Ok(prepared) => prepared,
        Err(e) => {
            discard_body(body);
            return Err(e);
        }
    };
    let body = if body.is_end_stream() {
        UpstreamBody::Empty
    } else {
        UpstreamBody::streamed(body, limit)
    };
    let mut req = Request::new(body);
    *req.method_mut() = parts.method.clone();
    *req.uri_mut() = target;
    let headers = req.headers_mut();
    headers.reserve(parts.headers.len() + CALLER_HEADERS.len() + 2);
    for (name, value) in &parts.headers {
        let n = name.as_str();
        if !DROPPED_HEADERS.contains(&n) && !CALLER_HEADERS.contains(&n) {
            headers.append(name.clone(), value.clone());
        }
    }
    for (name, value) in caller.upstream_headers() {
        headers.insert(name, value.clone());
    }
    for (name, value) in [
        (X_PURPOSE, permitted.purpose.as_str()),
        (X_REQUEST_ID, request_id),
    ] {
        if let Ok(v) = HeaderValue::from_str(value) {
            headers.insert(HeaderName::from_static(name), v);
        }
    }
    let max_response = state.config.limits.max_response_bytes;
    upstream.call(req, max_response).await.map_err(|e| {
        let kind = match &e {
            CallError::BodyTooLarge => return ApiError::BodyTooLarge { limit },
            CallError::Timeout(t) => {
                upstream_failed(state, item, "timeout");
                return ApiError::UpstreamTimeout(t.as_millis() as u64);
            }
            CallError::Connect(_) | CallError::Http(_) => "connect",
            CallError::AnswerTooLarge(_) => "too_large",
            CallError::Body(_) => "body",
        };
        upstream_failed(state, item, kind);
        match kind {
            "connect" => ApiError::UpstreamError(format!("the upstream did not answer: {e}")),
            _ => {
                ApiError::UpstreamError(format!("the upstream response could not be read ({kind})"))
            }
        }
    })
}

/// The third stage: the upstream's JSON answer filtered and masked by the decision's plan.
fn answer(
    state: &State,
    permitted: &Permitted<'_>,
    upstream: Answer,
    request_id: &str,
) -> Result<(Response<Full<Bytes>>, FieldReport), ApiError> {
    let is_json = upstream
        .parts
        .headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| {
            v.split(';')
                .next()
                .unwrap_or_default()
                .trim()
                .to_ascii_lowercase()
        })
        .is_some_and(|t| {
            t == "application/json" || (t.starts_with("application/") && t.ends_with("+json"))
        });
    if !is_json {
        upstream_failed(state, permitted.item, "not_json");
        return Err(ApiError::UpstreamError(
            "the upstream answered with something other than JSON".into(),
        ));
    }
    let (body, report) =
        filter(&upstream.body, &permitted.fields, &state.mask_key).map_err(|_| {
            upstream_failed(state, permitted.item, "bad_json");
            ApiError::UpstreamError("the upstream answered with invalid JSON".into())
        })?;
    let status = if upstream.parts.status.is_informational() {
        StatusCode::BAD_GATEWAY
    } else {
        upstream.parts.status
    };
    let response = Response::builder()
        .status(status)
        .header(CONTENT_TYPE, "application/json")
        .header(X_REQUEST_ID, request_id)
        .body(Full::new(Bytes::from(body)))
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    Ok((response, report))
}

/// Counts an upstream failure of `kind` for `item`.
fn upstream_failed(state: &State, item: &Item, kind: &str) {
    state
        .metrics
        .upstream_errors
        .with_label_values(&[&item.id, kind])
        .inc();
}

fn header_text(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

fn content_length(headers: &HeaderMap) -> Option<u64> {
    headers
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_that_could_escape_are_refused() {
        assert_eq!(
            split_path("/v1/exchange/HPF/accounts/42").unwrap(),
            ("HPF", "accounts/42")
        );
        assert_eq!(split_path("/v1/exchange/HPF").unwrap(), ("HPF", ""));
        for bad in [
            "/v1/exchange/HPF/../admin",
            "/v1/exchange/HPF/./x",
            "/v1/exchange/HPF/%2e%2e/admin",
            "/v1/exchange/HPF/.%2E/admin",
            "/v1/exchange/HPF/a%2fb",
            "/v1/exchange/HPF/a%5Cb",
            "/v1/exchange/HPF/a\\b",
            "/v1/exchange/HPF/a//b",
            "/v1/exchange/",
            "/v1/exchange/..",
        ] {
            assert!(
                matches!(split_path(bad), Err(ApiError::BadPath(_))),
                "{bad}"
            );
        }
    }
}
