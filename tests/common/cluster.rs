//! Helpers of the cluster tests: a private PostgreSQL, a real JSON upstream, gateways as real
//! `tongban serve` processes sharing the database, and a keep-alive load of exchanges.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use serde_json::{json, Value};
use tokio::net::TcpListener;
use tokio_rustls::TlsConnector;

use super::gateway::{connector, tls_connect, Pki, Reply, ServeProcess};
use super::postgres::Postgres;

/// The calling department of the tests (it has an organizationIdentifier).
pub const CALLER: &str = "420100-GOV_SERVICE";
/// An item without a rate limit.
pub const QUERY: &str = "CLUSTER-QUERY";
/// An item limited to [`RATE`].
pub const LIMITED: &str = "CLUSTER-RATE";
/// The limited item's rate: a bucket of `RATE_COUNT` refilled at `RATE_COUNT` per second.
pub const RATE_COUNT: u32 = 50;
pub const RATE: &str = "50/s";
/// An item with a rate limit no load reaches: every request takes a rate decision and passes.
pub const METERED: &str = "CLUSTER-METERED";

fn policy() -> String {
    let item = |id: &str, rate: &str| {
        format!(
            r#"
[[item]]
id = "{id}"
name = "集群测试 {id}"
category = "住房公积金"
provider = "421200/HOUSING_FUND"
upstream = "hpf"
methods = ["GET"]
fields = ["account.status", "account.balance"]
legal_basis = "测试"

[[item.permit]]
id = "gov"
callers = ["*/GOV_SERVICE"]
purposes = ["TEST"]
fields = ["account.status", "account.balance"]
{rate}
"#
        )
    };
    item(QUERY, "")
        + &item(LIMITED, &format!("rate = \"{RATE}\""))
        + &item(METERED, "rate = \"1000000/s\"")
}

/// One test's world: the database, the PKI and policies in a folder, the upstream.
pub struct World {
    pub pg: Postgres,
    pub work: tempfile::TempDir,
    pub upstream: SocketAddr,
    /// Requests the upstream has received.
    pub upstream_requests: Arc<AtomicU64>,
    pub tls: TlsConnector,
}

impl World {
    pub async fn new() -> World {
        Self::with_postgres(Postgres::start()).await
    }

    pub async fn with_postgres(pg: Postgres) -> World {
        let work = tempfile::tempdir().unwrap();
        let pki = Pki::shared();
        pki.copy(&work.path().join("pki"));
        super::gateway::policies_with(work.path(), &policy());
        let upstream_requests = Arc::new(AtomicU64::new(0));
        let upstream = upstream(upstream_requests.clone()).await;
        World {
            pg,
            tls: connector(&work.path().join("pki"), Some(&pki.client(CALLER))),
            work,
            upstream,
            upstream_requests,
        }
    }

    pub fn pki_dir(&self) -> PathBuf {
        self.work.path().join("pki")
    }

    /// The configuration of gateway `node`: with the cluster's database when `cluster`, else
    /// an audit file of its own. `extra` goes into `[cluster]`.
    pub fn config(&self, node: &str, cluster: bool, extra: &str) -> PathBuf {
        let path = self.work.path().join(format!("{node}.toml"));
        let audit = if cluster {
            format!(
                "[cluster]\ndatabase = \"{}\"\nnode = \"{node}\"\ntimeout_ms = 1500\n{extra}\n",
                self.pg.conn()
            )
        } else {
            format!("[audit]\npath = \"{node}-audit.jsonl\"\n")
        };
        std::fs::write(
            &path,
            format!(
                "[listen]\npublic = \"127.0.0.1:0\"\nadmin = \"127.0.0.1:0\"\n\n\
                 [tls]\ncert = \"pki/server/server-chain.pem\"\nkey = \"pki/server/server.key\"\n\n\
                 [trust]\ndir = \"pki/trust\"\n\n[policies]\ndir = \"policies\"\n\n{audit}\n\
                 [upstreams.hpf]\nurl = \"http://{}\"\ntimeout_ms = 3000\n",
                self.upstream
            ),
        )
        .unwrap();
        path
    }

    /// Gateway `node` of the cluster, running.
    pub async fn gateway(&self, node: &str) -> Gateway {
        let config = self.config(node, true, "");
        Gateway::spawn(node, &config).await
    }

    /// The cluster's three gateways `gw-1`, `gw-2`, `gw-3`, running.
    pub async fn three(&self) -> [Gateway; 3] {
        [
            self.gateway("gw-1").await,
            self.gateway("gw-2").await,
            self.gateway("gw-3").await,
        ]
    }

    /// `tongban ARGS…` in the work folder.
    pub fn tongban(&self, args: &[&str]) -> std::process::Output {
        std::process::Command::new(env!("CARGO_BIN_EXE_tongban"))
            .args(args)
            .current_dir(self.work.path())
            .output()
            .unwrap()
    }

    /// `tongban audit export` of `node` into a file; the file.
    pub fn export(&self, node: &str) -> PathBuf {
        let out = self.work.path().join(format!("{node}-export.jsonl"));
        let conn = self.pg.conn();
        let done = self.tongban(&[
            "audit",
            "export",
            "--database",
            &conn,
            "--node",
            node,
            "--out",
            out.to_str().unwrap(),
        ]);
        assert!(done.status.success(), "export {node}: {}", stderr(&done));
        out
    }

    /// `tongban audit verify --database`: its exit code, stdout and stderr.
    pub fn verify_database(&self) -> (i32, String, String) {
        let conn = self.pg.conn();
        let out = self.tongban(&["audit", "verify", "--database", &conn]);
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr(&out),
        )
    }
}

pub fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// A running `tongban serve`.
pub struct Gateway {
    pub node: String,
    pub process: ServeProcess,
}

impl Gateway {
    pub async fn spawn(node: &str, config: &Path) -> Gateway {
        Gateway {
            node: node.to_owned(),
            process: super::gateway::spawn_serve(config).await,
        }
    }

    pub fn public(&self) -> SocketAddr {
        self.process.public
    }

    pub fn admin(&self) -> SocketAddr {
        self.process.admin
    }

    /// `kill -9`, and reaped.
    pub async fn kill(mut self) {
        std::process::Command::new("kill")
            .args(["-9", &self.process.pid])
            .status()
            .unwrap();
        let _ = self.process.child.wait().await;
    }

    /// SIGTERM, and waits for it to drain and exit.
    pub async fn stop(mut self) {
        std::process::Command::new("kill")
            .args(["-TERM", &self.process.pid])
            .status()
            .unwrap();
        let _ = tokio::time::timeout(Duration::from_secs(30), self.process.child.wait()).await;
    }

    /// The status of `GET /readyz`.
    pub async fn ready(&self) -> u16 {
        super::gateway::admin_get(self.admin(), "/readyz")
            .await
            .status
            .as_u16()
    }

    pub async fn stats(&self) -> Value {
        super::gateway::admin_get(self.admin(), "/stats")
            .await
            .json()
    }

    pub async fn metrics(&self) -> String {
        String::from_utf8_lossy(
            &super::gateway::admin_get(self.admin(), "/metrics")
                .await
                .body,
        )
        .into_owned()
    }
}

/// A real upstream: JSON for every path, each request counted in `requests`.
async fn upstream(requests: Arc<AtomicU64>) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                return;
            };
            let requests = requests.clone();
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |_req: Request<Incoming>| {
                    requests.fetch_add(1, Ordering::Relaxed);
                    async {
                        let body =
                            json!({"account": {"status": "正常", "balance": 1234.5, "no": "x"}});
                        Ok::<_, Infallible>(
                            Response::builder()
                                .header("content-type", "application/json")
                                .body(Full::new(Bytes::from(body.to_string())))
                                .unwrap(),
                        )
                    }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(tcp), service)
                    .await;
            });
        }
    });
    addr
}

/// `GET /v1/exchange/{item}/accounts/1` with `X-Request-Id: id`.
pub fn exchange(item: &str, id: &str) -> Request<Full<Bytes>> {
    Request::get(format!("/v1/exchange/{item}/accounts/1"))
        .header("host", "localhost")
        .header("x-purpose", "TEST")
        .header("x-request-id", id)
        .body(Full::new(Bytes::new()))
        .unwrap()
}

/// One answer of a load.
#[derive(Clone, Debug)]
pub struct Answer {
    pub id: String,
    pub node: String,
    pub status: u16,
    /// The problem's `code` of an error.
    pub code: Option<String>,
    /// When it came, from the start of the load.
    pub at: Duration,
    pub latency: Duration,
}

/// Requests sent over keep-alive connections by several workers until stopped.
pub struct Load {
    stop: Arc<AtomicBool>,
    answers: Arc<Mutex<Vec<Answer>>>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
    pub started: Instant,
}

impl Load {
    /// `workers` workers per gateway, each on its own connection, asking for `item`; ids are
    /// `{tag}-{node}-{worker}-{n}`.
    pub fn start(
        tls: &TlsConnector,
        gateways: &[&Gateway],
        workers: usize,
        item: &str,
        tag: &str,
    ) -> Load {
        let stop = Arc::new(AtomicBool::new(false));
        let answers = Arc::new(Mutex::new(Vec::new()));
        let started = Instant::now();
        let mut tasks = Vec::new();
        for gateway in gateways {
            for w in 0..workers {
                let (stop, answers, tls) = (stop.clone(), answers.clone(), tls.clone());
                let (node, addr, item) = (gateway.node.clone(), gateway.public(), item.to_owned());
                let prefix = format!("{tag}-{node}-{w}");
                tasks.push(tokio::spawn(async move {
                    worker(tls, addr, node, item, prefix, stop, answers, started).await
                }));
            }
        }
        Load {
            stop,
            answers,
            tasks,
            started,
        }
    }

    /// The answers so far.
    pub fn answers(&self) -> Vec<Answer> {
        self.answers.lock().unwrap().clone()
    }

    /// Waits until `pred` holds of the answers (at most `within`).
    pub async fn until(&self, within: Duration, pred: impl Fn(&[Answer]) -> bool) {
        let deadline = Instant::now() + within;
        loop {
            if pred(&self.answers.lock().unwrap()) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "the load did not get there in {within:?}"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Stops the workers (each finishes its request) and returns every answer.
    pub async fn finish(self) -> Vec<Answer> {
        self.stop.store(true, Ordering::Relaxed);
        for t in self.tasks {
            let _ = t.await;
        }
        let answers = self.answers.lock().unwrap().clone();
        answers
    }
}

#[allow(clippy::too_many_arguments)]
async fn worker(
    tls: TlsConnector,
    addr: SocketAddr,
    node: String,
    item: String,
    prefix: String,
    stop: Arc<AtomicBool>,
    answers: Arc<Mutex<Vec<Answer>>>,
    started: Instant,
) {
    let mut n = 0u64;
    let mut sender = None;
    while !stop.load(Ordering::Relaxed) {
        if sender.is_none() {
            match connect(&tls, addr).await {
                Ok(s) => sender = Some(s),
                Err(_) => {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            }
        }
        let Some(s) = sender.as_mut() else { continue };
        n += 1;
        let id = format!("{prefix}-{n}");
        let sent = Instant::now();
        let reply = async {
            s.ready().await?;
            let response = s.send_request(exchange(&item, &id)).await?;
            let (parts, body) = response.into_parts();
            let body = body.collect().await?.to_bytes();
            Ok::<_, hyper::Error>(Reply {
                status: parts.status,
                headers: parts.headers,
                body,
            })
        };
        match tokio::time::timeout(Duration::from_secs(10), reply).await {
            Ok(Ok(reply)) => {
                let code = (!reply.status.is_success())
                    .then(|| serde_json::from_slice::<Value>(&reply.body).ok())
                    .flatten()
                    .and_then(|v| v["code"].as_str().map(str::to_owned));
                answers.lock().unwrap().push(Answer {
                    id,
                    node: node.clone(),
                    status: reply.status.as_u16(),
                    code,
                    at: started.elapsed(),
                    latency: sent.elapsed(),
                });
            }
            // no answer: the connection broke (a killed gateway); try a new one
            _ => sender = None,
        }
    }
}

type Sender = hyper::client::conn::http1::SendRequest<Full<Bytes>>;

async fn connect(tls: &TlsConnector, addr: SocketAddr) -> Result<Sender, String> {
    let stream = tls_connect(tls, addr).await.map_err(|e| e.to_string())?;
    let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| e.to_string())?;
    tokio::spawn(conn);
    Ok(sender)
}

/// The request ids of an exported chain with how often each appears, and the chain's seqs.
pub fn chain_ids(file: &Path) -> (BTreeMap<String, usize>, Vec<u64>) {
    let mut ids = BTreeMap::new();
    let mut seqs = Vec::new();
    for line in std::fs::read_to_string(file).unwrap().lines() {
        let v: Value = serde_json::from_str(line).unwrap();
        *ids.entry(v["request_id"].as_str().unwrap().to_owned())
            .or_default() += 1;
        seqs.push(v["seq"].as_u64().unwrap());
    }
    (ids, seqs)
}
