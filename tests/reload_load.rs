//! 100 SIGHUP reloads of a real `tongban serve` while clients keep exchanging data and
//! verifying licences over kept-alive and new connections: not one request fails. A reload
//! with a broken policy file keeps the last good set and is counted as an error.
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
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::{Request, StatusCode};
use hyper_util::rt::TokioIo;

use common::{admin_get, connector, metric, policies_with, post, spawn_serve, Pki};

const CALLER: &str = "420100-GOV_SERVICE";
const RELOADS: u64 = 100;
const WORKERS: usize = 4;

const POLICY: &str = r#"
[[item]]
id = "HPF-RELOAD"
name = "住房公积金缴存信息核验"
category = "住房公积金"
provider = "421200/HOUSING_FUND"
upstream = "hpf"
methods = ["GET"]
fields = ["account.status"]
legal_basis = "测试"

[[item.permit]]
id = "gov-service"
callers = ["*/GOV_SERVICE"]
purposes = ["TEST"]
fields = ["account.status"]
"#;

/// Requests that succeeded and those that did not (with the first few reasons).
#[derive(Default)]
struct Tally {
    ok: AtomicU64,
    failed: AtomicU64,
    reasons: Mutex<Vec<String>>,
}

impl Tally {
    fn fail(&self, why: String) {
        self.failed.fetch_add(1, Ordering::Relaxed);
        let mut reasons = self.reasons.lock().unwrap();
        if reasons.len() < 10 {
            reasons.push(why);
        }
    }
}

/// One worker: 20 requests per connection, then a new connection; exchange and verify in turn.
async fn worker(
    public: SocketAddr,
    dir: std::path::PathBuf,
    licence: Vec<u8>,
    stop: Arc<AtomicBool>,
    tally: Arc<Tally>,
) {
    let client = connector(&dir, Some(&Pki::shared().client(CALLER)));
    while !stop.load(Ordering::Relaxed) {
        let tls = match common::tls_connect(&client, public).await {
            Ok(tls) => tls,
            Err(e) => {
                tally.fail(format!("connect: {e}"));
                continue;
            }
        };
        let Ok((mut sender, conn)) = hyper::client::conn::http1::handshake(TokioIo::new(tls)).await
        else {
            tally.fail("http handshake".into());
            continue;
        };
        tokio::spawn(conn);
        for i in 0..20 {
            let req = if i % 2 == 0 {
                Request::get("/v1/exchange/HPF-RELOAD/accounts/1")
                    .header("host", "localhost")
                    .header("x-purpose", "TEST")
                    .body(Full::new(Bytes::new()))
                    .unwrap()
            } else {
                post("/v1/licences/verify", "application/jose", licence.clone())
            };
            let want = if i % 2 == 0 {
                &br#"{"account":{"status":"normal"}}"#[..]
            } else {
                &br#""valid":true"#[..]
            };
            match sender.send_request(req).await {
                Ok(r) if r.status() == StatusCode::OK => {
                    let body = r.into_body().collect().await.map(|b| b.to_bytes());
                    match body {
                        Ok(b) if b.windows(want.len()).any(|w| w == want) => {
                            tally.ok.fetch_add(1, Ordering::Relaxed);
                        }
                        other => tally.fail(format!("body: {other:?}")),
                    }
                }
                Ok(r) => tally.fail(format!("status {}", r.status())),
                Err(e) => {
                    tally.fail(format!("request: {e}"));
                    break;
                }
            }
        }
    }
}

async fn reloads(admin: SocketAddr, result: &str) -> f64 {
    let text = String::from_utf8_lossy(&admin_get(admin, "/metrics").await.body).into_owned();
    metric(
        &text,
        &format!("tongban_reloads_total{{result=\"{result}\",what=\"trust_policies\"}}"),
    )
}

/// Sends SIGHUP and waits until the reload counter of `result` reaches `want`.
async fn hup_and_wait(pid: &str, admin: SocketAddr, result: &str, want: f64) -> Duration {
    let started = Instant::now();
    assert!(std::process::Command::new("kill")
        .args(["-HUP", pid])
        .status()
        .unwrap()
        .success());
    while reloads(admin, result).await < want {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "reload {want} ({result}) not done"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    started.elapsed()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hundred_reloads_under_load_fail_no_request() {
    let pki = Pki::shared();
    let temp = tempfile::tempdir().unwrap();
    let dir = pki.copy(&temp.path().join("pki"));
    let policies = policies_with(temp.path(), POLICY);
    let upstream = common::json_upstream(r#"{"account":{"status":"normal","no":"x"}}"#).await;
    let config_path = common::write_serve_config(
        &dir,
        &format!(
            "\n[policies]\ndir = \"{}\"\n\n[upstreams.hpf]\nurl = \"http://{upstream}\"\ntimeout_ms = 5000\n",
            policies.display()
        ),
    );
    let serve = spawn_serve(&config_path).await;
    let licence = pki.licence("BUSINESS_LICENCE.jws");
    let stop = Arc::new(AtomicBool::new(false));
    let tally = Arc::new(Tally::default());
    let workers: Vec<_> = (0..WORKERS)
        .map(|_| {
            tokio::spawn(worker(
                serve.public,
                dir.clone(),
                licence.clone(),
                stop.clone(),
                tally.clone(),
            ))
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let started = Instant::now();
    let mut longest = Duration::ZERO;
    for n in 1..=RELOADS {
        longest = longest.max(hup_and_wait(&serve.pid, serve.admin, "ok", n as f64).await);
    }
    let reload_time = started.elapsed();
    let during_reloads = tally.ok.load(Ordering::Relaxed);
    // a broken policy file: the reload fails, the last good set stays in force
    let broken = policies.join("items/broken.toml");
    std::fs::write(&broken, "[[item]]\nid = \"BROKEN\"\nthis is not TOML\n").unwrap();
    hup_and_wait(&serve.pid, serve.admin, "error", 1.0).await;
    let before = tally.ok.load(Ordering::Relaxed);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        tally.ok.load(Ordering::Relaxed) > before,
        "served after a failed reload"
    );
    std::fs::remove_file(&broken).unwrap();
    hup_and_wait(&serve.pid, serve.admin, "ok", (RELOADS + 1) as f64).await;
    stop.store(true, Ordering::Relaxed);
    for w in workers {
        w.await.unwrap();
    }
    let (ok, failed) = (
        tally.ok.load(Ordering::Relaxed),
        tally.failed.load(Ordering::Relaxed),
    );
    eprintln!(
        "{RELOADS} reloads in {reload_time:?} (longest {longest:?}); {during_reloads} requests \
         answered during them, {ok} in all, {failed} failed"
    );
    assert_eq!(failed, 0, "{:?}", tally.reasons.lock().unwrap());
    assert!(
        during_reloads >= RELOADS,
        "too little load: {during_reloads}"
    );
    assert_eq!(reloads(serve.admin, "error").await, 1.0);
}
