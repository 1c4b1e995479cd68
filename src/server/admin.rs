//! The admin listener (plain HTTP, loopback by default): `/metrics`, `/healthz`, `/readyz` (503
//! while draining, and in a cluster while the database is away), and the statistics centre
//! ([`super::screen`]: `/stats`, `/stats/events`, `/screen`).

use std::sync::Arc;

use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::header::{HeaderValue, ALLOW, CONTENT_TYPE};
use hyper::{Method, Request, Response, StatusCode};

use super::screen;
use super::state::State;
use super::web::{boxed, Body};

/// Answers one admin request.
pub fn handle(state: &Arc<State>, req: &Request<Incoming>) -> Response<Body> {
    let path = req.uri().path();
    let known = matches!(path, "/metrics" | "/healthz" | "/readyz") || screen::owns(path);
    if !known {
        return boxed(text(StatusCode::NOT_FOUND, "not found\n"));
    }
    if req.method() != Method::GET && req.method() != Method::HEAD {
        let mut r = text(StatusCode::METHOD_NOT_ALLOWED, "method not allowed\n");
        r.headers_mut()
            .insert(ALLOW, HeaderValue::from_static("GET, HEAD"));
        return boxed(r);
    }
    if screen::owns(path) {
        return screen::handle(state, req);
    }
    boxed(match path {
        "/metrics" => {
            if let Some(cluster) = &state.cluster {
                cluster.observe_pool();
            }
            let entries = i64::try_from(state.cache.len()).unwrap_or(i64::MAX);
            state.metrics.cache_entries.set(entries);
            state
                .metrics
                .observe_crls(state.snapshot().verifier.trust(), state.clock.now());
            let mut r = text(StatusCode::OK, &state.metrics.render());
            r.headers_mut().insert(
                CONTENT_TYPE,
                HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
            );
            r
        }
        "/readyz" if state.is_draining() => text(StatusCode::SERVICE_UNAVAILABLE, "draining\n"),
        "/readyz" if !state.is_ready() => {
            text(StatusCode::SERVICE_UNAVAILABLE, "database unavailable\n")
        }
        _ => text(StatusCode::OK, "ok\n"),
    })
}

fn text(status: StatusCode, body: &str) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::from(body.to_owned())));
    *r.status_mut() = status;
    r.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    r
}
