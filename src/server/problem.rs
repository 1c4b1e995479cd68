//! Errors of the HTTP API and the one place they become a status, a problem document
//! (RFC 9457, contract section 5) and, for an exchange, the audit `decision` and metric label.

use hyper::StatusCode;
use serde::Serialize;

use crate::audit::Outcome;
use crate::policy::decide::DenyReason;

/// Everything a `/v1` request can fail with (admin routes answer plainly).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    BadRequest(String),
    #[error("a client certificate is required for `{path}`")]
    NoClientCert { path: String },
    /// The verified certificate does not name a caller we serve (our extension, see the README).
    #[error("{0}")]
    CallerNotTrusted(String),
    #[error("no route `{path}`")]
    NotFound { path: String },
    #[error("`{method}` is not allowed on `{path}`; use {allowed}")]
    MethodNotAllowed {
        method: String,
        path: String,
        allowed: &'static str,
    },
    #[error("the body exceeds {limit} bytes")]
    BodyTooLarge { limit: usize },
    #[error("a batch of {len} licences exceeds the limit of {max}")]
    BatchTooLarge { len: usize, max: usize },
    /// Our extension: a body whose media type the route does not take.
    #[error("media type `{got}` is not accepted; send {expected}")]
    UnsupportedMediaType { got: String, expected: &'static str },
    #[error("the `X-Purpose` header is required")]
    MissingPurpose,
    #[error("bad path {0}")]
    BadPath(String),
    /// The policy refused the exchange (contract section 4). `detail` names the item or method
    /// where that helps; `allow` is the item's methods for `Allow` when the method is refused.
    #[error("{detail}")]
    Denied {
        reason: DenyReason,
        detail: String,
        allow: Option<String>,
    },
    #[error("rate limit reached; retry after {retry_after} s")]
    RateLimited { retry_after: u64 },
    #[error("{0}")]
    UpstreamError(String),
    #[error("the upstream did not answer within {0} ms")]
    UpstreamTimeout(u64),
    /// The cluster's database cannot take the request's audit record (or decide its rate
    /// limit) now (contract section 9); the reason stays in the gateway's log.
    #[error("audit unavailable: {0}")]
    AuditUnavailable(String),
    #[error("internal error: {0}")]
    Internal(String),
}

/// How an error shows outside: its status, problem `code` and `title`, and the audit `decision`
/// (also the metric label) of an exchange that ends in it: `deny` when the policy or its rate
/// limit refused, `error` otherwise.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Class {
    pub status: StatusCode,
    pub code: &'static str,
    pub title: &'static str,
    pub outcome: Outcome,
}

/// The only mapping of an error to the outside.
pub fn classify(err: &ApiError) -> Class {
    let class = |status, code, title, outcome| Class {
        status,
        code,
        title,
        outcome,
    };
    use Outcome::{Deny, Error};
    match err {
        ApiError::BadRequest(_) => {
            class(StatusCode::BAD_REQUEST, "BAD_REQUEST", "Bad request", Error)
        }
        ApiError::NoClientCert { .. } => class(
            StatusCode::UNAUTHORIZED,
            "NO_CLIENT_CERT",
            "Client certificate required",
            Error,
        ),
        ApiError::CallerNotTrusted(_) => class(
            StatusCode::FORBIDDEN,
            "CALLER_NOT_TRUSTED",
            "Client certificate not accepted for its city",
            Error,
        ),
        ApiError::NotFound { .. } => class(StatusCode::NOT_FOUND, "NOT_FOUND", "Not found", Error),
        ApiError::MethodNotAllowed { .. } => class(
            StatusCode::METHOD_NOT_ALLOWED,
            "METHOD_NOT_ALLOWED",
            "Method not allowed",
            Error,
        ),
        ApiError::BodyTooLarge { .. } | ApiError::BatchTooLarge { .. } => class(
            StatusCode::PAYLOAD_TOO_LARGE,
            "BODY_TOO_LARGE",
            "Request body too large",
            Error,
        ),
        ApiError::UnsupportedMediaType { .. } => class(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "UNSUPPORTED_MEDIA_TYPE",
            "Unsupported media type",
            Error,
        ),
        ApiError::MissingPurpose => class(
            StatusCode::BAD_REQUEST,
            "MISSING_PURPOSE",
            "Purpose required",
            Error,
        ),
        ApiError::BadPath(_) => class(StatusCode::BAD_REQUEST, "BAD_PATH", "Bad path", Error),
        ApiError::Denied { reason, .. } => {
            let (status, title) = match reason {
                DenyReason::UnknownItem => (StatusCode::NOT_FOUND, "Unknown service item"),
                DenyReason::MethodNotAllowed => {
                    (StatusCode::METHOD_NOT_ALLOWED, "Method not allowed")
                }
                DenyReason::ForbiddenByPolicy => (StatusCode::FORBIDDEN, "Forbidden by policy"),
                DenyReason::LicenceRequired => (StatusCode::FORBIDDEN, "Subject licence required"),
                DenyReason::NoMatchingPermit => (StatusCode::FORBIDDEN, "No matching permit"),
            };
            class(status, reason.code(), title, Deny)
        }
        ApiError::RateLimited { .. } => class(
            StatusCode::TOO_MANY_REQUESTS,
            "RATE_LIMITED",
            "Rate limit reached",
            Deny,
        ),
        ApiError::UpstreamError(_) => class(
            StatusCode::BAD_GATEWAY,
            "UPSTREAM_ERROR",
            "Upstream error",
            Error,
        ),
        ApiError::UpstreamTimeout(_) => class(
            StatusCode::GATEWAY_TIMEOUT,
            "UPSTREAM_TIMEOUT",
            "Upstream timeout",
            Error,
        ),
        ApiError::AuditUnavailable(_) => class(
            StatusCode::SERVICE_UNAVAILABLE,
            "AUDIT_UNAVAILABLE",
            "Audit unavailable",
            Error,
        ),
        ApiError::Internal(_) => class(
            StatusCode::INTERNAL_SERVER_ERROR,
            "INTERNAL",
            "Internal server error",
            Error,
        ),
    }
}

/// The problem document.
#[derive(Debug, Serialize)]
pub struct Problem<'a> {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub title: &'static str,
    pub status: u16,
    pub code: &'static str,
    pub detail: String,
    pub request_id: &'a str,
}

impl ApiError {
    /// The status and the serialized problem document for `request_id`.
    pub fn to_problem(&self, request_id: &str) -> (StatusCode, Vec<u8>) {
        let Class {
            status,
            code,
            title,
            ..
        } = classify(self);
        let detail = match self {
            // never echo internals to a caller
            ApiError::Internal(_) => "the request could not be completed".to_owned(),
            ApiError::AuditUnavailable(_) => {
                "the audit record of this request cannot be written now, so nothing was \
                 answered; retry shortly (another gateway may take it)"
                    .to_owned()
            }
            other => other.to_string(),
        };
        let problem = Problem {
            kind: "about:blank",
            title,
            status: status.as_u16(),
            code,
            detail,
            request_id,
        };
        let body = serde_json::to_vec(&problem).unwrap_or_else(|_| b"{}".to_vec());
        (status, body)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn denied(reason: DenyReason) -> ApiError {
        ApiError::Denied {
            reason,
            detail: "x".into(),
            allow: None,
        }
    }

    #[test]
    fn every_variant_maps_to_its_status_code_and_outcome() {
        use Outcome::{Deny, Error};
        let cases = [
            (ApiError::BadRequest("x".into()), 400, "BAD_REQUEST", Error),
            (
                ApiError::NoClientCert { path: "/v1".into() },
                401,
                "NO_CLIENT_CERT",
                Error,
            ),
            (
                ApiError::CallerNotTrusted("x".into()),
                403,
                "CALLER_NOT_TRUSTED",
                Error,
            ),
            (
                ApiError::NotFound { path: "/".into() },
                404,
                "NOT_FOUND",
                Error,
            ),
            (
                ApiError::MethodNotAllowed {
                    method: "GET".into(),
                    path: "/v1/licences/verify".into(),
                    allowed: "POST",
                },
                405,
                "METHOD_NOT_ALLOWED",
                Error,
            ),
            (
                ApiError::BodyTooLarge { limit: 1 },
                413,
                "BODY_TOO_LARGE",
                Error,
            ),
            (
                ApiError::BatchTooLarge { len: 2, max: 1 },
                413,
                "BODY_TOO_LARGE",
                Error,
            ),
            (
                ApiError::UnsupportedMediaType {
                    got: "a/b".into(),
                    expected: "x",
                },
                415,
                "UNSUPPORTED_MEDIA_TYPE",
                Error,
            ),
            (ApiError::MissingPurpose, 400, "MISSING_PURPOSE", Error),
            (ApiError::BadPath("..".into()), 400, "BAD_PATH", Error),
            (denied(DenyReason::UnknownItem), 404, "UNKNOWN_ITEM", Deny),
            (
                denied(DenyReason::MethodNotAllowed),
                405,
                "METHOD_NOT_ALLOWED",
                Deny,
            ),
            (
                denied(DenyReason::ForbiddenByPolicy),
                403,
                "FORBIDDEN_BY_POLICY",
                Deny,
            ),
            (
                denied(DenyReason::LicenceRequired),
                403,
                "LICENCE_REQUIRED",
                Deny,
            ),
            (
                denied(DenyReason::NoMatchingPermit),
                403,
                "NO_MATCHING_PERMIT",
                Deny,
            ),
            (
                ApiError::RateLimited { retry_after: 3 },
                429,
                "RATE_LIMITED",
                Deny,
            ),
            (
                ApiError::UpstreamError("down".into()),
                502,
                "UPSTREAM_ERROR",
                Error,
            ),
            (
                ApiError::UpstreamTimeout(5000),
                504,
                "UPSTREAM_TIMEOUT",
                Error,
            ),
            (ApiError::Internal("boom".into()), 500, "INTERNAL", Error),
            (
                ApiError::AuditUnavailable("db down".into()),
                503,
                "AUDIT_UNAVAILABLE",
                Error,
            ),
        ];
        for (err, status, code, outcome) in cases {
            let class = classify(&err);
            assert_eq!(
                (class.status.as_u16(), class.code, class.outcome),
                (status, code, outcome),
                "{err:?}"
            );
            let (_, body) = err.to_problem("rid-1");
            let json: serde_json::Value = serde_json::from_slice(&body).unwrap();
            assert_eq!(json["status"], status);
            assert_eq!(json["code"], code);
            assert_eq!(json["request_id"], "rid-1");
            assert!(json["title"].is_string() && json["detail"].is_string());
        }
    }

    #[test]
    fn internal_details_stay_inside() {
        let (_, body) = ApiError::Internal("secret path /etc".into()).to_problem("r");
        assert!(!String::from_utf8(body).unwrap().contains("/etc"));
        let (_, body) =
            ApiError::AuditUnavailable("db.internal:5432 refused".into()).to_problem("r");
        assert!(!String::from_utf8(body).unwrap().contains("db.internal"));
    }
}
