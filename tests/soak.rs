//! Soak (not in CI: `#[ignore]`): a real `tongban serve` under ten minutes of mixed load —
//! verifications, batches, exchanges, refused requests, HTTP/2, kept-alive and new connections —
//! with the server process's resident memory and open descriptors sampled every 10 s; after
//! the warm-up both must stay within 5 % of each other.
//!
//! `cargo test --test soak -- --ignored --nocapture` (`SOAK_SECS`, default 600).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "test code: a failure here is a failed test"
)]

#[path = "common/gateway.rs"]
mod common;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::{Request, StatusCode};
use hyper_util::rt::{TokioExecutor, TokioIo};

use common::{connector, connector_with_alpn, policies_with, post, spawn_serve, Pki};

const CALLER: &str = "420100-GOV_SERVICE";
const SAMPLE_EVERY: Duration = Duration::from_secs(10);
/// Samples taken before the figures are judged (the cache and pools fill up first).
const WARM_UP: Duration = Duration::from_secs(120);
const TOLERANCE: f64 = 0.05;

const POLICY: &str = r#"
[[item]]
id = "SOAK"
name = "住房公积金缴存信息核验"
category = "住房公积金"
provider = "421200/HOUSING_FUND"
upstream = "hpf"
methods = ["GET"]
fields = ["account.status", "holder.id_number"]
legal_basis = "测试"

[[item.permit]]
id = "gov-service"
callers = ["*/GOV_SERVICE"]
purposes = ["TEST"]
fields = ["account.status", "holder.id_number"]
mask = { "holder.id_number" = "id_number" }
"#;

fn exchange() -> Request<Full<Bytes>> {
    Request::get("/v1/exchange/SOAK/accounts/1")
        .header("host", "localhost")
        .header("x-purpose", "TEST")
        .body(Full::new(Bytes::new()))
        .unwrap()
}

/// The mix, by worker: what each request is and the status it must get.
fn request(worker: usize, i: u64, licences: &[Vec<u8>]) -> (Request<Full<Bytes>>, StatusCode) {
    let licence = licences[(i as usize) % licences.len()].clone();
    match (worker + i as usize) % 6 {
        0 | 1 => (exchange(), StatusCode::OK),
        2 => (
            post("/v1/licences/verify", "application/jose", licence),
            StatusCode::OK,
        ),
        3 => {
            let batch: Vec<String> = licences
                .iter()
                .take(10)
                .map(|l| String::from_utf8_lossy(l).into_owned())
                .collect();
            let body = serde_json::to_vec(&batch).unwrap();
            (
                post("/v1/licences/verify-batch", "application/json", body),
                StatusCode::OK,
            )
        }
        4 => (
            // refused: no purpose
            Request::get("/v1/exchange/SOAK/accounts/1")
                .header("host", "localhost")
                .body(Full::new(Bytes::new()))
                .unwrap(),
            StatusCode::BAD_REQUEST,
        ),
        _ => (
            post("/v1/licences/verify", "application/jose", "garbage"),
            StatusCode::OK,
        ),
    }
}

#[derive(Default)]
struct Tally {
    ok: AtomicU64,
    failed: AtomicU64,
}

/// HTTP/1.1: `per_connection` requests on each connection (1: a new connection every time).
async fn h1_worker(
    n: usize,
    public: SocketAddr,
    per_connection: u64,
    licences: Arc<Vec<Vec<u8>>>,
    stop: Arc<AtomicBool>,
    tally: Arc<Tally>,
) {
    let pki = Pki::shared();
    let client = connector(&pki.dir, Some(&pki.client(CALLER)));
    let mut i = 0u64;
    while !stop.load(Ordering::Relaxed) {
        let Ok(tls) = common::tls_connect(&client, public).await else {
            tally.failed.fetch_add(1, Ordering::Relaxed);
            continue;
        };
        let Ok((mut sender, conn)) = hyper::client::conn::http1::handshake(TokioIo::new(tls)).await
        else {
            tally.failed.fetch_add(1, Ordering::Relaxed);
            continue;
        };
        tokio::spawn(conn);
        for _ in 0..per_connection {
            i += 1;
            let (req, want) = request(n, i, &licences);
            let ok = match sender.send_request(req).await {
                Ok(r) => r.status() == want && r.into_body().collect().await.is_ok(),
                Err(_) => false,
            };
            let counter = if ok { &tally.ok } else { &tally.failed };
            counter.fetch_add(1, Ordering::Relaxed);
            if stop.load(Ordering::Relaxed) {
                break;
            }
        }
    }
}

/// HTTP/2: one connection, requests in turn on its streams, reconnecting every 500 requests.
async fn h2_worker(
    n: usize,
    public: SocketAddr,
    licences: Arc<Vec<Vec<u8>>>,
    stop: Arc<AtomicBool>,
    tally: Arc<Tally>,
) {
    let pki = Pki::shared();
    let client = connector_with_alpn(&pki.dir, Some(&pki.client(CALLER)), vec![b"h2".to_vec()]);
    let mut i = 0u64;
    while !stop.load(Ordering::Relaxed) {
        let Ok(tls) = common::tls_connect(&client, public).await else {
            tally.failed.fetch_add(1, Ordering::Relaxed);
            continue;
        };
        let Ok((mut sender, conn)) =
            hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(tls)).await
        else {
            tally.failed.fetch_add(1, Ordering::Relaxed);
            continue;
        };
        tokio::spawn(conn);
        for _ in 0..500 {
            i += 1;
            let (req, want) = request(n, i, &licences);
            let (mut parts, body) = req.into_parts();
            parts.uri = format!("https://localhost{}", parts.uri).parse().unwrap();
            let ok = match sender.send_request(Request::from_parts(parts, body)).await {
                Ok(r) => r.status() == want && r.into_body().collect().await.is_ok(),
                Err(_) => false,
            };
            let counter = if ok { &tally.ok } else { &tally.failed };
            counter.fetch_add(1, Ordering::Relaxed);
            if stop.load(Ordering::Relaxed) {
                break;
            }
        }
    }
}

/// Resident memory (KiB) and open descriptors of a process.
fn sample(pid: &str) -> (u64, usize) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let rss = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap();
    let fds = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap()
        .count();
    (rss, fds)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "ten minutes: run by hand (see the module's doc)"]
async fn ten_minutes_of_mixed_load_keep_memory_and_descriptors_flat() {
    let duration = Duration::from_secs(
        std::env::var("SOAK_SECS")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(600),
    );
    let pki = Pki::shared();
    let temp = tempfile::tempdir().unwrap();
    let dir = pki.copy(&temp.path().join("pki"));
    let policies = policies_with(temp.path(), POLICY);
    let upstream = common::json_upstream(
        r#"{"account":{"status":"normal"},"holder":{"id_number":"420106199001011234"},"x":"y"}"#,
    )
    .await;
    let config = common::write_serve_config(
        &dir,
        &format!(
            "\n[policies]\ndir = \"{}\"\n\n[upstreams.hpf]\nurl = \"http://{upstream}\"\ntimeout_ms = 5000\n",
            policies.display()
        ),
    );
    let serve = spawn_serve(&config).await;
    let mut licences: Vec<Vec<u8>> = std::fs::read_dir(dir.join("licences"))
        .unwrap()
        .flatten()
        .filter(|e| e.path().extension().is_some_and(|x| x == "jws"))
        .map(|e| std::fs::read(e.path()).unwrap())
        .collect();
    licences.sort();
    let licences = Arc::new(licences);
    let stop = Arc::new(AtomicBool::new(false));
    let tally = Arc::new(Tally::default());
    let mut workers = Vec::new();
    for (n, per_connection) in [(0, 1000), (1, 1000), (2, 50), (3, 1)].into_iter() {
        workers.push(tokio::spawn(h1_worker(
            n,
            serve.public,
            per_connection,
            licences.clone(),
            stop.clone(),
            tally.clone(),
        )));
    }
    workers.push(tokio::spawn(h2_worker(
        4,
        serve.public,
        licences.clone(),
        stop.clone(),
        tally.clone(),
    )));
    let started = Instant::now();
    let mut samples = Vec::new();
    eprintln!(
        "{:>6} {:>10} {:>6} {:>10} {:>8}",
        "t (s)", "RSS (KiB)", "fds", "requests", "failed"
    );
    while started.elapsed() < duration {
        tokio::time::sleep(SAMPLE_EVERY).await;
        let (rss, fds) = sample(&serve.pid);
        let t = started.elapsed();
        let (ok, failed) = (
            tally.ok.load(Ordering::Relaxed),
            tally.failed.load(Ordering::Relaxed),
        );
        eprintln!(
            "{:>6} {rss:>10} {fds:>6} {:>10} {failed:>8}",
            t.as_secs(),
            ok + failed
        );
        samples.push((t, rss, fds));
    }
    stop.store(true, Ordering::Relaxed);
    for w in workers {
        w.await.unwrap();
    }
    let after: Vec<_> = samples.iter().filter(|(t, _, _)| *t > WARM_UP).collect();
    assert!(
        after.len() >= 3,
        "too short to judge: {} samples after the warm-up",
        after.len()
    );
    let spread = |values: Vec<f64>| {
        let (min, max) = values
            .iter()
            .fold((f64::MAX, f64::MIN), |(a, b), v| (a.min(*v), b.max(*v)));
        (min, max, (max - min) / min)
    };
    let (rss_min, rss_max, rss_spread) = spread(after.iter().map(|s| s.1 as f64).collect());
    let (fd_min, fd_max, fd_spread) = spread(after.iter().map(|s| s.2 as f64).collect());
    let (ok, failed) = (
        tally.ok.load(Ordering::Relaxed),
        tally.failed.load(Ordering::Relaxed),
    );
    eprintln!(
        "after the warm-up: RSS {rss_min}–{rss_max} KiB ({:.1} %), descriptors {fd_min}–{fd_max} ({:.1} %); \
         {ok} requests answered as expected, {failed} not, in {:?}",
        rss_spread * 100.0,
        fd_spread * 100.0,
        started.elapsed()
    );
    assert_eq!(failed, 0);
    assert!(rss_spread <= TOLERANCE, "RSS not flat");
    assert!(fd_spread <= TOLERANCE, "descriptors not flat");
}
