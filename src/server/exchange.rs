//! `ANY /v1/exchange/{item}/{path…}` (contract sections 4 and 5): the policy decision, the
//! forward to the item's upstream, response filtering and masking, and the audit record that is
//! written before any answer leaves.

use std::sync::Arc;
use std::time::Instant;

use http_body_util::{BodyExt, Full, Limited};
use hyper::body::{Bytes, Incoming};
use hyper::header::{HeaderName, HeaderValue, CONTENT_LENGTH, CONTENT_TYPE};
use hyper::{HeaderMap, Request, Response, StatusCode};
use serde_json::Value;

use super::caller::{Caller, CALLER_HEADERS};
use super::problem::ApiError;
use super::request_id::X_REQUEST_ID;
use super::state::State;
use crate::audit::{self, PersonalId, Record};
use crate::licence::jws::truncate;
use crate::policy::decide::{Decision, DenyReason};
use crate::policy::filter::{filter, FilterReport};
use crate::policy::model::Caller as PolicyCaller;
use crate::policy::{today_cst, Request as PolicyRequest};

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

/// What an exchange came to, for the audit record and metrics.
struct Outcome {
    item_known: bool,
    rules: Vec<String>,
    report: FilterReport,
}

/// Answers one exchange request. Every path out writes its audit record first; if that write
/// fails, the answer is a 500 (503 in a cluster) and no data leaves.
pub async fn handle(
    state: &Arc<State>,
    req: Request<Incoming>,
    caller: &Caller,
    request_id: &str,
) -> Result<Response<Full<Bytes>>, ApiError> {
    let started = Instant::now();
    let raw_path = req.uri().path().to_owned();
    let purpose = header_text(req.headers(), X_PURPOSE).filter(|p| !p.trim().is_empty());
    let mut outcome = Outcome {
        item_known: false,
        rules: Vec::new(),
        report: FilterReport::default(),
    };
    let mut subject = None;
    let (parts, body) = req.into_parts();
    let mut body = Some(body);
    let (item_id, result) = match split_path(&raw_path) {
        Ok((item_id, rest)) => {
            let result = exchange(
                state,
                &parts,
                &mut body,
                caller,
                request_id,
                &item_id,
                &rest,
                purpose.as_deref(),
                &mut outcome,
                &mut subject,
            )
            .await;
            (item_id, result)
        }
        Err(e) => (String::new(), Err(e)),
    };
    // an answer given before the body was forwarded: read and drop it first, so that clients
    // that send the whole body before reading see the answer rather than a reset connection
    if let Some(unread) = body.take() {
        super::service::discard_body(unread, state.config.limits.max_body_bytes).await;
    }
    let (status, decision, error_code) = match &result {
        Ok(r) => (r.status(), audit::Decision::Permit, None),
        Err(e) => {
            let (status, code, _) = super::problem::classify(e);
            let refused = matches!(
                e,
                ApiError::Denied(_)
                    | ApiError::UnknownItem(_)
                    | ApiError::ItemMethodNotAllowed { .. }
                    | ApiError::RateLimited { .. }
            );
            (
                status,
                if refused {
                    audit::Decision::Deny
                } else {
                    audit::Decision::Error
                },
                Some(code),
            )
        }
    };
    let label = if outcome.item_known {
        item_id.as_str()
    } else {
        "unknown"
    };
    let metric_decision = match decision {
        audit::Decision::Permit => "permit",
        audit::Decision::Deny => "deny",
        _ => "error",
    };
    state
        .metrics
        .exchange_requests
        .with_label_values(&[label, &caller.city, metric_decision])
        .inc();
    state
        .metrics
        .exchange_request_duration
        .observe(started.elapsed().as_secs_f64());
    let mut record = Record::exchange(
        request_id,
        audit::Caller::new(
            caller.city.clone(),
            caller.department.clone(),
            caller.org.clone(),
        ),
        if outcome.item_known {
            item_id.clone()
        } else {
            truncate(&item_id)
        },
        purpose.as_deref().map(truncate).unwrap_or_default(),
        decision,
    )
    .rules(outcome.rules.clone())
    .fields(
        outcome.report.returned.iter().cloned(),
        outcome.report.masked.iter().cloned(),
    )
    .status(status.as_u16())
    .latency_ms(started.elapsed().as_millis() as u64);
    if let Some(code) = error_code {
        record = record.error_code(code);
    }
    if let Some(s) = subject {
        record = record.subject(s);
    }
    state.audit(&record).await?;
    result
}

/// `item` and the rest of the path; refuses traversal and encoded separators (never forwarded).
fn split_path(path: &str) -> Result<(String, String), ApiError> {
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
    Ok((item.to_owned(), rest.to_owned()))
}

#[allow(clippy::too_many_arguments)]
async fn exchange(
    state: &Arc<State>,
    parts: &hyper::http::request::Parts,
    body: &mut Option<Incoming>,
    caller: &Caller,
    request_id: &str,
    item_id: &str,
    rest: &str,
    purpose: Option<&str>,
    outcome: &mut Outcome,
    subject: &mut Option<PersonalId>,
) -> Result<Response<Full<Bytes>>, ApiError> {
    let snapshot = state.snapshot();
    let item = snapshot.policies.item(item_id);
    outcome.item_known = item.is_some();
    let Some(purpose) = purpose else {
        return Err(ApiError::MissingPurpose);
    };
    // the subject's licence, verified for the caller's city (through the verdict cache)
    let licence_type = match header_text(&parts.headers, X_SUBJECT_LICENCE) {
        Some(jws) => {
            // one verification, on this task as for `POST /v1/licences/verify`
            let verdict = state.verify_cached(jws.trim().as_bytes(), &caller.city);
            if let Some(id) = verdict.holder.as_ref().and_then(|h| h.id.as_deref()) {
                *subject = Some(state.audit_key.personal_id(id));
            }
            if verdict.valid {
                verdict.ltype
            } else {
                None
            }
        }
        None => None,
    };
    let policy_caller = PolicyCaller {
        city: caller.city.clone(),
        department: caller.department.clone(),
    };
    let method = parts.method.as_str().to_owned();
    let decision = snapshot.policies.decide(&PolicyRequest {
        caller: &policy_caller,
        item: item_id,
        method: &method,
        purpose,
        today: today_cst(state.clock.now()),
        licence: licence_type.as_deref(),
    });
    let (grant, rate) = match decision {
        Decision::Deny { reason, rules } => {
            outcome.rules = rules;
            return Err(match reason {
                DenyReason::UnknownItem => ApiError::UnknownItem(truncate(item_id)),
                DenyReason::MethodNotAllowed => ApiError::ItemMethodNotAllowed {
                    method,
                    allowed: item.map(|i| i.methods.join(", ")).unwrap_or_default(),
                },
                other => ApiError::Denied(other),
            });
        }
        Decision::Permit { rules, grant, rate } => {
            outcome.rules = rules;
            (grant, rate)
        }
    };
    let Some(item) = item else {
        return Err(ApiError::UnknownItem(truncate(item_id)));
    };
    if let Some(rate) = rate {
        state.limit(&caller.org, item_id, rate).await?;
    }
    let upstream = state.upstreams.get(&item.upstream).ok_or_else(|| {
        ApiError::UpstreamError(format!("upstream `{}` is not configured", item.upstream))
    })?;
    let uri = upstream
        .uri(rest, parts.uri.query())
        .map_err(ApiError::BadPath)?;
    let limit = state.config.limits.max_body_bytes;
    if content_length(&parts.headers).is_some_and(|n| n > limit as u64) {
        return Err(ApiError::BodyTooLarge { limit });
    }
    let body = body
        .take()
        .ok_or_else(|| ApiError::Internal("the request body was already taken".into()))?;
    let mut upstream_req = Request::builder().method(parts.method.clone()).uri(uri);
    if let Some(headers) = upstream_req.headers_mut() {
        for (name, value) in &parts.headers {
            let n = name.as_str();
            if !DROPPED_HEADERS.contains(&n) && !CALLER_HEADERS.contains(&n) {
                headers.append(name.clone(), value.clone());
            }
        }
        for (name, value) in caller.upstream_headers() {
            headers.insert(name, value.clone());
        }
        let mut set = |name: &'static str, value: &str| {
            if let Ok(v) = HeaderValue::from_str(value) {
                headers.insert(HeaderName::from_static(name), v);
            }
        };
        set(X_PURPOSE, purpose);
        set("x-request-id", request_id);
    }
    let body = Limited::new(body, limit)
        .map_err(|e| e as Box<dyn std::error::Error + Send + Sync>)
        .boxed();
    let upstream_req = upstream_req
        .body(body)
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    let item_label = item.id.clone();
    let upstream_error = |kind: &str| {
        state
            .metrics
            .upstream_errors
            .with_label_values(&[&item_label, kind])
            .inc()
    };
    let max_response = state.config.limits.max_response_bytes;
    let call = async {
        let response = upstream.client.request(upstream_req).await?;
        let (parts, body) = response.into_parts();
        let bytes = Limited::new(body, max_response)
            .collect()
            .await
            .map(|c| c.to_bytes());
        Ok::<_, hyper_util::client::legacy::Error>((parts, bytes))
    };
    let (parts, bytes) = match tokio::time::timeout(upstream.timeout, call).await {
        Err(_) => {
            upstream_error("timeout");
            return Err(ApiError::UpstreamTimeout(
                upstream.timeout.as_millis() as u64
            ));
        }
        Ok(Err(e)) => {
            if source_is_limit(&e) {
                return Err(ApiError::BodyTooLarge { limit });
            }
            upstream_error("connect");
            return Err(ApiError::UpstreamError(format!(
                "the upstream did not answer: {e}"
            )));
        }
        Ok(Ok(x)) => x,
    };
    let bytes = bytes.map_err(|e| {
        let kind = if e.is::<http_body_util::LengthLimitError>() {
            "too_large"
        } else {
            "body"
        };
        upstream_error(kind);
        ApiError::UpstreamError(format!("the upstream response could not be read ({kind})"))
    })?;
    let is_json = parts
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
        upstream_error("not_json");
        return Err(ApiError::UpstreamError(
            "the upstream answered with something other than JSON".into(),
        ));
    }
    let value: Value = serde_json::from_slice(&bytes).map_err(|_| {
        upstream_error("bad_json");
        ApiError::UpstreamError("the upstream answered with invalid JSON".into())
    })?;
    let (filtered, report) = filter(&value, &grant, &state.mask_key);
    outcome.report = report;
    let body = serde_json::to_vec(&filtered).map_err(|e| ApiError::Internal(e.to_string()))?;
    let status = if parts.status.is_informational() {
        StatusCode::BAD_GATEWAY
    } else {
        parts.status
    };
    Response::builder()
        .status(status)
        .header(CONTENT_TYPE, "application/json")
        .header(X_REQUEST_ID, request_id)
        .body(Full::new(Bytes::from(body)))
        .map_err(|e| ApiError::Internal(e.to_string()))
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

fn source_is_limit(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = cur {
        if err.is::<http_body_util::LengthLimitError>() {
            return true;
        }
        cur = err.source();
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_that_could_escape_are_refused() {
        assert_eq!(
            split_path("/v1/exchange/HPF/accounts/42").unwrap(),
            ("HPF".into(), "accounts/42".into())
        );
        assert_eq!(
            split_path("/v1/exchange/HPF").unwrap(),
            ("HPF".into(), String::new())
        );
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
