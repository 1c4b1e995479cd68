//! The statistics centre on the admin listener (统计中心, contract section 5): `GET /stats` (today's
//! figures as JSON), `GET /stats/events` (server-sent events: the figures again whenever they
//! change) and `GET /screen` (the hall's electronic screen, 电子屏, with its assets).
//!
//! The figures come from [`crate::stats`]. An event stream looks for a change every
//! [`EVENT_TICK`] and ends as soon as the gateway starts draining, so an open screen never
//! holds up a SIGTERM; the screen then reconnects (to another gateway behind the balancer).

mod page;

use std::convert::Infallible;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use http_body_util::channel::{Channel, Sender};
use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::header::{HeaderName, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};

use super::state::State;
use super::web::{self, boxed, Asset, Body};
use crate::stats::day_of;

/// `GET /stats`.
pub const STATS: &str = "/stats";
/// `GET /stats/events`.
pub const EVENTS: &str = "/stats/events";
/// `GET /screen`.
pub const SCREEN: &str = "/screen";
/// Prefix of the screen's assets.
const ASSETS: &str = "/screen/";

/// How often an event stream looks for new figures (the screen promises 2 s).
pub const EVENT_TICK: Duration = Duration::from_millis(250);
/// A comment line this often keeps idle streams open through proxies and finds closed ones.
const KEEPALIVE: Duration = Duration::from_secs(15);
/// Most event streams open at once (screens in the halls and dashboards; beyond, 503).
const MAX_EVENT_STREAMS: usize = 64;
/// What the browser waits before reconnecting a dropped stream.
const RETRY_MS: u64 = 2000;

static ASSET_FILES: [Asset; 3] = [
    Asset {
        name: "screen.css",
        content_type: "text/css; charset=utf-8",
        bytes: include_bytes!("screen/assets/screen.css"),
    },
    Asset {
        name: "icon.svg",
        content_type: "image/svg+xml",
        bytes: include_bytes!("desk/assets/icon.svg"),
    },
    Asset {
        name: "screen.js",
        content_type: "text/javascript; charset=utf-8",
        bytes: include_bytes!("screen/assets/screen.js"),
    },
];

/// Whether `path` is one of the statistics centre's.
pub fn owns(path: &str) -> bool {
    matches!(path, STATS | EVENTS | SCREEN) || path.starts_with(ASSETS)
}

/// Answers a `GET`/`HEAD` of one of [`owns`]'s paths.
pub fn handle(state: &Arc<State>, req: &Request<Incoming>) -> Response<Body> {
    let path = req.uri().path();
    match path {
        STATS => {
            let report = state.stats.report(state.audit_clock.now());
            let body = serde_json::to_vec(&report).unwrap_or_default();
            let mut r = Response::new(Full::new(Bytes::from(body)));
            web::secure(&mut r, "application/json", None);
            boxed(r)
        }
        EVENTS if req.method() == Method::HEAD => {
            boxed(event_headers(web::text(StatusCode::OK, "")))
        }
        EVENTS => events(state),
        SCREEN => {
            let now = state.audit_clock.now();
            let report = state.stats.report(now);
            let snapshot = state.snapshot();
            let html = page::render(
                &report,
                state.stats.version(),
                now,
                snapshot.verifier.catalog(),
            );
            boxed(web::page(StatusCode::OK, html, web::SCREEN_CSP))
        }
        _ => match path
            .strip_prefix(ASSETS)
            .and_then(|name| Asset::find(&ASSET_FILES, name))
        {
            Some(asset) => boxed(web::asset(asset)),
            None => boxed(web::text(StatusCode::NOT_FOUND, "not found\n")),
        },
    }
}

/// Open event streams.
static OPEN_STREAMS: AtomicUsize = AtomicUsize::new(0);

/// `GET /stats/events`: `event: stats` with the figures now and at every change.
fn events(state: &Arc<State>) -> Response<Body> {
    if state.is_draining() {
        return boxed(web::text(StatusCode::SERVICE_UNAVAILABLE, "draining\n"));
    }
    let Some(slot) = StreamSlot::take() else {
        return boxed(web::text(
            StatusCode::SERVICE_UNAVAILABLE,
            "too many open event streams\n",
        ));
    };
    let (tx, body) = Channel::<Bytes, Infallible>::new(2);
    tokio::spawn(stream(state.clone(), tx, slot));
    let mut r = Response::new(body.boxed());
    web::secure(&mut r, "text/event-stream; charset=utf-8", None);
    event_headers(r)
}

fn event_headers<B>(mut r: Response<B>) -> Response<B> {
    let h = r.headers_mut();
    h.insert(
        hyper::header::CONTENT_TYPE,
        HeaderValue::from_static("text/event-stream; charset=utf-8"),
    );
    // the connection ends with the stream (a draining gateway closes it; the browser reconnects)
    h.insert(hyper::header::CONNECTION, HeaderValue::from_static("close"));
    // nginx and the like must not buffer the stream
    h.insert(
        HeaderName::from_static("x-accel-buffering"),
        HeaderValue::from_static("no"),
    );
    r
}

/// One stream's place among [`MAX_EVENT_STREAMS`]; given back when the stream ends.
struct StreamSlot;

impl StreamSlot {
    fn take() -> Option<Self> {
        OPEN_STREAMS
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < MAX_EVENT_STREAMS).then_some(n + 1)
            })
            .ok()
            .map(|_| StreamSlot)
    }
}

impl Drop for StreamSlot {
    fn drop(&mut self) {
        OPEN_STREAMS.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Sends the figures when they change; ends when the client goes or the gateway drains.
async fn stream(state: Arc<State>, mut tx: Sender<Bytes, Infallible>, _slot: StreamSlot) {
    let mut sent: Option<(u64, i32)> = None;
    let mut last_write = Instant::now();
    let mut tick = tokio::time::interval(EVENT_TICK);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        if state.is_draining() {
            return;
        }
        let now = state.audit_clock.now();
        let current = (state.stats.version(), day_of(now));
        let frame = if sent != Some(current) {
            let report = state.stats.report(now);
            let json = serde_json::to_string(&report).unwrap_or_default();
            let retry = if sent.is_none() {
                format!("retry: {RETRY_MS}\n")
            } else {
                String::new()
            };
            sent = Some(current);
            format!("{retry}event: stats\nid: {}\ndata: {json}\n\n", current.0)
        } else if last_write.elapsed() >= KEEPALIVE {
            ": keepalive\n\n".to_owned()
        } else {
            continue;
        };
        // a client that reads nothing for this long is gone
        match tokio::time::timeout(KEEPALIVE, tx.send_data(Bytes::from(frame))).await {
            Ok(Ok(())) => {}
            _ => return,
        }
        last_write = Instant::now();
    }
}
