//! The demo's sample upstreams: one small HTTP server on loopback that answers for every
//! upstream named by the policies, with the realistic bodies of `policies/samples/<ITEM>.json`.

use std::collections::{BTreeMap, HashMap};
use std::convert::Infallible;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::{Map, Value};
use tokio::net::TcpListener;

use crate::policy::{Item, PolicySet};
use crate::server::config::Upstream;

/// Upstream timeout in the demo.
const SAMPLE_TIMEOUT: Duration = Duration::from_secs(5);

/// Starts the sample server; returns the upstream configuration pointing every upstream name
/// of `policies` at it (`/u/<name>/…`).
pub async fn start(
    policies: &PolicySet,
    samples_dir: &Path,
    listen: std::net::SocketAddr,
) -> std::io::Result<BTreeMap<String, Upstream>> {
    let listener = TcpListener::bind(listen).await?;
    let addr = listener.local_addr()?;
    let bodies = Arc::new(bodies(policies.items(), samples_dir));
    tokio::spawn(serve(listener, bodies.clone()));
    Ok(bodies
        .keys()
        .map(|name| {
            (
                name.clone(),
                Upstream {
                    url: format!("http://{addr}/u/{name}"),
                    timeout: SAMPLE_TIMEOUT,
                    ca: None,
                },
            )
        })
        .collect())
}

/// Per upstream name, the merged samples of its items (an upstream serves several items; the
/// gateway keeps only what each item's permit grants).
fn bodies(items: &[Item], samples_dir: &Path) -> HashMap<String, Bytes> {
    let mut merged: HashMap<String, Map<String, Value>> = HashMap::new();
    for item in items {
        let sample = std::fs::read(samples_dir.join(format!("{}.json", item.id)))
            .ok()
            .and_then(|b| serde_json::from_slice::<Value>(&b).ok());
        let entry = merged.entry(item.upstream.clone()).or_default();
        if let Some(Value::Object(map)) = sample {
            for (k, v) in map {
                entry.entry(k).or_insert(v);
            }
        }
    }
    merged
        .into_iter()
        .map(|(name, map)| (name, Bytes::from(Value::Object(map).to_string())))
        .collect()
}

async fn serve(listener: TcpListener, bodies: Arc<HashMap<String, Bytes>>) {
    loop {
        let Ok((tcp, _)) = listener.accept().await else {
            return;
        };
        let bodies = bodies.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |req: Request<Incoming>| {
                let bodies = bodies.clone();
                async move { Ok::<_, Infallible>(answer(&req, &bodies)) }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(tcp), service)
                .await;
        });
    }
}

fn answer(req: &Request<Incoming>, bodies: &HashMap<String, Bytes>) -> Response<Full<Bytes>> {
    let name = req
        .uri()
        .path()
        .strip_prefix("/u/")
        .and_then(|p| p.split('/').next())
        .unwrap_or_default();
    let (status, body) = match bodies.get(name) {
        Some(b) => (StatusCode::OK, b.clone()),
        None => (
            StatusCode::NOT_FOUND,
            Bytes::from_static(b"{\"error\":\"no such upstream\"}"),
        ),
    };
    Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(Full::new(body))
        .unwrap_or_default()
}
