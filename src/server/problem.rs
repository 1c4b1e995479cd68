//! Errors of the HTTP API and the one place they become a status and a problem document
//! (RFC 9457, contract section 5).

use hyper::StatusCode;

use crate::policy::decide::DenyReason;
use serde::Serialize;

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
    #[error("no service item `{0}`")]
    UnknownItem(String),
    #[error("`{method}` is not a method of this item; use {allowed}")]
    ItemMethodNotAllowed { method: String, allowed: String },
    /// The policy refused (forbid, no permit, licence required).
    #[error("{}", denial_text(*.0))]
    Denied(DenyReason),
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

fn denial_text(reason: DenyReason) -> &'static str {
    match reason {
        DenyReason::ForbiddenByPolicy => "a policy rule forbids this caller this item",
        DenyReason::LicenceRequired => {
            "a verified licence of the data subject is required (`X-Subject-Licence`)"
        }
        _ => "no policy rule permits this caller this item for this purpose",
    }
}

/// Status, problem `code` and `title` of an error: the only mapping to the outside.
pub fn classify(err: &ApiError) -> (StatusCode, &'static str, &'static str) {
    match err {
        ApiError::BadRequest(_) => (StatusCode::BAD_REQUEST, "BAD_REQUEST", "Bad request"),
        ApiError::NoClientCert { .. } => (
            StatusCode::UNAUTHORIZED,
            "NO_CLIENT_CERT",
            "Client certificate required",
        ),
        ApiError::CallerNotTrusted(_) => (
            StatusCode::FORBIDDEN,
            "CALLER_NOT_TRUSTED",
            "Client certificate not accepted for its city",
        ),
        ApiError::NotFound { .. } => (StatusCode::NOT_FOUND, "NOT_FOUND", "Not found"),
        ApiError::MethodNotAllowed { .. } => (
            StatusCode::METHOD_NOT_ALLOWED,
            "METHOD_NOT_ALLOWED",
            "Method not allowed",
        ),
        ApiError::BodyTooLarge { .. } | ApiError::BatchTooLarge { .. } => (
            StatusCode::PAYLOAD_TOO_LARGE,
            "BODY_TOO_LARGE",
            "Request body too large",
        ),
        ApiError::UnsupportedMediaType { .. } => (
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "UNSUPPORTED_MEDIA_TYPE",
            "Unsupported media type",
        ),
        ApiError::MissingPurpose => (
            StatusCode::BAD_REQUEST,
            "MISSING_PURPOSE",
            "Purpose required",
        ),
        ApiError::BadPath(_) => (StatusCode::BAD_REQUEST, "BAD_PATH", "Bad path"),
        ApiError::UnknownItem(_) => (
            StatusCode::NOT_FOUND,
            "UNKNOWN_ITEM",
            "Unknown service item",
        ),
        ApiError::ItemMethodNotAllowed { .. } => (
            StatusCode::METHOD_NOT_ALLOWED,
            "METHOD_NOT_ALLOWED",
            "Method not allowed",
        ),
        ApiError::Denied(DenyReason::ForbiddenByPolicy) => (
            StatusCode::FORBIDDEN,
            "FORBIDDEN_BY_POLICY",
            "Forbidden by policy",
        ),
        ApiError::Denied(DenyReason::LicenceRequired) => (
            StatusCode::FORBIDDEN,
            "LICENCE_REQUIRED",
            "Subject licence required",
        ),
        ApiError::Denied(DenyReason::UnknownItem) => (
            StatusCode::NOT_FOUND,
            "UNKNOWN_ITEM",
            "Unknown service item",
        ),
        ApiError::Denied(DenyReason::MethodNotAllowed) => (
            StatusCode::METHOD_NOT_ALLOWED,
            "METHOD_NOT_ALLOWED",
            "Method not allowed",
        ),
        ApiError::Denied(DenyReason::NoMatchingPermit) => (
            StatusCode::FORBIDDEN,
            "NO_MATCHING_PERMIT",
            "No matching permit",
        ),
        ApiError::RateLimited { .. } => (
            StatusCode::TOO_MANY_REQUESTS,
            "RATE_LIMITED",
            "Rate limit reached",
        ),
        ApiError::UpstreamError(_) => (StatusCode::BAD_GATEWAY, "UPSTREAM_ERROR", "Upstream error"),
        ApiError::UpstreamTimeout(_) => (
            StatusCode::GATEWAY_TIMEOUT,
            "UPSTREAM_TIMEOUT",
            "Upstream timeout",
        ),
        ApiError::AuditUnavailable(_) => (
            StatusCode::SERVICE_UNAVAILABLE,
            "AUDIT_UNAVAILABLE",
            "Audit unavailable",
        ),
        ApiError::Internal(_) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            "INTERNAL",
            "Internal server error",
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
        let (status, code, title) = classify(self);
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

    #[test]
    fn every_variant_maps_to_its_status_and_code() {
        let cases = [
            (ApiError::BadRequest("x".into()), 400, "BAD_REQUEST"),
            (
                ApiError::NoClientCert { path: "/v1".into() },
                401,
                "NO_CLIENT_CERT",
            ),
            (
                ApiError::CallerNotTrusted("x".into()),
                403,
                "CALLER_NOT_TRUSTED",
            ),
            (ApiError::NotFound { path: "/".into() }, 404, "NOT_FOUND"),
            (
                ApiError::MethodNotAllowed {
                    method: "GET".into(),
                    path: "/v1/licences/verify".into(),
                    allowed: "POST",
                },
                405,
                "METHOD_NOT_ALLOWED",
            ),
            (ApiError::BodyTooLarge { limit: 1 }, 413, "BODY_TOO_LARGE"),
            (
                ApiError::BatchTooLarge { len: 2, max: 1 },
                413,
                "BODY_TOO_LARGE",
            ),
            (
                ApiError::UnsupportedMediaType {
                    got: "a/b".into(),
                    expected: "x",
                },
                415,
                "UNSUPPORTED_MEDIA_TYPE",
            ),
            (ApiError::MissingPurpose, 400, "MISSING_PURPOSE"),
            (ApiError::BadPath("..".into()), 400, "BAD_PATH"),
            (ApiError::UnknownItem("X".into()), 404, "UNKNOWN_ITEM"),
            (
                ApiError::ItemMethodNotAllowed {
                    method: "PUT".into(),
                    allowed: "GET".into(),
                },
                405,
                "METHOD_NOT_ALLOWED",
            ),
            (
                ApiError::Denied(DenyReason::ForbiddenByPolicy),
                403,
                "FORBIDDEN_BY_POLICY",
            ),
            (
                ApiError::Denied(DenyReason::LicenceRequired),
                403,
                "LICENCE_REQUIRED",
            ),
            (
                ApiError::Denied(DenyReason::NoMatchingPermit),
                403,
                "NO_MATCHING_PERMIT",
            ),
            (
                ApiError::Denied(DenyReason::UnknownItem),
                404,
                "UNKNOWN_ITEM",
            ),
            (
                ApiError::Denied(DenyReason::MethodNotAllowed),
                405,
                "METHOD_NOT_ALLOWED",
            ),
            (
                ApiError::RateLimited { retry_after: 3 },
                429,
                "RATE_LIMITED",
            ),
            (
                ApiError::UpstreamError("down".into()),
                502,
                "UPSTREAM_ERROR",
            ),
            (ApiError::UpstreamTimeout(5000), 504, "UPSTREAM_TIMEOUT"),
            (ApiError::Internal("boom".into()), 500, "INTERNAL"),
            (
                ApiError::AuditUnavailable("db down".into()),
                503,
                "AUDIT_UNAVAILABLE",
            ),
        ];
        for (err, status, code) in cases {
            let (s, c, _) = classify(&err);
            assert_eq!((s.as_u16(), c), (status, code), "{err:?}");
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
