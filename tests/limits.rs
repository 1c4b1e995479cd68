//! Timeouts and limits against hostile peers, each answered per the contract within its
//! timeout and leaving no task or file descriptor behind: a client that never finishes its
//! handshake, one that sends its headers a byte a second, one that says nothing after TLS, more
//! clients than `max_connections`; an upstream that answers slowly, trickles its body, stops
//! mid-body, resets the connection, or sends 10 MiB.
//!
//! The tests run one at a time ([`SERIAL`]): descriptors are counted for the whole process.
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
use std::path::Path;
use std::time::{Duration, Instant};

use hyper::StatusCode;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use common::{admin_get, config, connector, metric, policies_with, send, start, Pki};
use tongban::server::config::Upstream;
use tongban::server::Running;

static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

const CALLER: &str = "420100-GOV_SERVICE";

/// Open file descriptors of this process.
fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").map_or(0, |d| d.count())
}

/// Tasks alive in this test's runtime (the server's included).
fn alive_tasks() -> usize {
    tokio::runtime::Handle::current()
        .metrics()
        .num_alive_tasks()
}

/// What the process holds before a scenario; [`Baseline::settled`] waits until it is back.
struct Baseline {
    fds: usize,
    tasks: usize,
}

impl Baseline {
    fn now() -> Self {
        Baseline {
            fds: open_fds(),
            tasks: alive_tasks(),
        }
    }

    /// Waits (at most 10 s: the drain of refused bodies lasts 5) until descriptors and tasks
    /// are back to the baseline; panics with the counts otherwise.
    async fn settled(&self, what: &str) {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let (fds, tasks) = (open_fds(), alive_tasks());
            if fds <= self.fds && tasks <= self.tasks {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "{what}: {fds} descriptors (before: {}), {tasks} tasks (before: {})",
                self.fds,
                self.tasks
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// Reads until the peer closes; how long it took and what came.
async fn until_closed<S: AsyncReadExt + Unpin>(
    stream: &mut S,
    limit: Duration,
) -> (Duration, Vec<u8>) {
    let started = Instant::now();
    let mut got = Vec::new();
    let _ = tokio::time::timeout(limit, stream.read_to_end(&mut got)).await;
    (started.elapsed(), got)
}

fn gateway(pki: &Pki, work: &Path) -> tongban::server::Config {
    let mut c = config(&pki.dir);
    c.audit = tongban::server::config::AuditConfig::at(work.join("audit.jsonl"));
    c.limits.handshake_timeout = Duration::from_millis(500);
    c.limits.header_read_timeout = Duration::from_secs(2);
    c
}

/// A warmed-up server: one full request went through, so lazily made state exists.
async fn warmed(config: tongban::server::Config) -> Running {
    let server = start(config).await;
    let client = connector(&Pki::shared().dir, Some(&Pki::shared().client(CALLER)));
    let reply = send(
        &client,
        server.public_addr(),
        common::post("/v1/licences/verify", "text/plain", "x"),
    )
    .await
    .unwrap();
    assert_eq!(reply.status, StatusCode::OK);
    tokio::time::sleep(Duration::from_millis(200)).await;
    server
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_handshake_that_never_finishes_is_dropped_at_the_handshake_timeout() {
    let _serial = SERIAL.lock().await;
    let pki = Pki::shared();
    let work = tempfile::tempdir().unwrap();
    let server = warmed(gateway(pki, work.path())).await;
    let before = Baseline::now();
    let failures = |text: &str| metric(text, "tongban_tls_handshake_failures_total");
    let text = String::from_utf8_lossy(&admin_get(server.admin_addr(), "/metrics").await.body)
        .into_owned();
    let failed_before = failures(&text);
    // nothing at all, and half a ClientHello
    for opening in [&b""[..], &[0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00][..]] {
        let mut tcp = TcpStream::connect(server.public_addr()).await.unwrap();
        tcp.write_all(opening).await.unwrap();
        let (took, _) = until_closed(&mut tcp, Duration::from_secs(5)).await;
        assert!(
            took >= Duration::from_millis(400) && took < Duration::from_millis(1500),
            "closed after {took:?}"
        );
        eprintln!(
            "handshake never finished ({} bytes sent): closed after {took:?}",
            opening.len()
        );
    }
    let text = String::from_utf8_lossy(&admin_get(server.admin_addr(), "/metrics").await.body)
        .into_owned();
    assert_eq!(failures(&text) - failed_before, 2.0);
    before.settled("stalled handshakes").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn headers_a_byte_a_second_and_silence_after_tls_are_cut_at_the_header_timeout() {
    let _serial = SERIAL.lock().await;
    let pki = Pki::shared();
    let work = tempfile::tempdir().unwrap();
    let server = warmed(gateway(pki, work.path())).await;
    let client = connector(&pki.dir, Some(&pki.client(CALLER)));
    let before = Baseline::now();
    // slowloris: each byte resets no timer; the whole head must be in within 2 s
    let mut tls = common::tls_connect(&client, server.public_addr())
        .await
        .unwrap();
    let head = b"POST /v1/licences/verify HTTP/1.1\r\nhost: localhost\r\n";
    let started = Instant::now();
    let mut closed_after = None;
    for byte in head {
        if tls.write_all(&[*byte]).await.is_err() {
            closed_after = Some(started.elapsed());
            break;
        }
        let mut probe = [0u8; 1];
        match tokio::time::timeout(Duration::from_secs(1), tls.read(&mut probe)).await {
            Ok(Ok(0)) | Ok(Err(_)) => {
                closed_after = Some(started.elapsed());
                break;
            }
            Ok(Ok(_)) => panic!("the server answered a request whose head never ended"),
            Err(_) => {}
        }
    }
    drop(tls);
    let took = closed_after.expect("a connection trickling its headers is closed");
    assert!(
        took >= Duration::from_millis(1900) && took < Duration::from_millis(3500),
        "closed after {took:?}"
    );
    eprintln!("headers a byte a second: closed after {took:?}");
    // a client that completes TLS and then says nothing, in HTTP/1.1 and in HTTP/2 (no preface)
    let h2 = common::connector_with_alpn(&pki.dir, Some(&pki.client(CALLER)), vec![b"h2".to_vec()]);
    for (alpn, client) in [("http/1.1", &client), ("h2", &h2)] {
        let mut tls = common::tls_connect(client, server.public_addr())
            .await
            .unwrap();
        let (took, _) = until_closed(&mut tls, Duration::from_secs(10)).await;
        assert!(
            took >= Duration::from_millis(1900) && took < Duration::from_millis(3500),
            "{alpn}: closed after {took:?}"
        );
        eprintln!("silent after TLS ({alpn}): closed after {took:?}");
    }
    before.settled("slow headers").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_beyond_max_connections_wait_for_a_free_slot() {
    let _serial = SERIAL.lock().await;
    let pki = Pki::shared();
    let work = tempfile::tempdir().unwrap();
    let mut config = gateway(pki, work.path());
    config.limits.max_connections = 3;
    config.limits.handshake_timeout = Duration::from_secs(5);
    config.limits.header_read_timeout = Duration::from_secs(30);
    let server = warmed(config).await;
    let client = connector(&pki.dir, Some(&pki.client(CALLER)));
    let addr = server.public_addr();
    let before = Baseline::now();
    let mut held = Vec::new();
    for _ in 0..3 {
        held.push(common::tls_connect(&client, addr).await.unwrap());
    }
    let text = String::from_utf8_lossy(&admin_get(server.admin_addr(), "/metrics").await.body)
        .into_owned();
    assert_eq!(metric(&text, "tongban_open_connections"), 3.0);
    // the fourth is not even accepted: its handshake cannot finish while the three are open
    let fourth = tokio::spawn({
        let client = client.clone();
        async move {
            let started = Instant::now();
            let reply = send(
                &client,
                addr,
                common::post("/v1/licences/verify", "text/plain", "x"),
            )
            .await;
            (started.elapsed(), reply)
        }
    });
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert!(!fourth.is_finished(), "a fourth connection was served");
    held.pop();
    let (waited, reply) = tokio::time::timeout(Duration::from_secs(5), fourth)
        .await
        .expect("served once a slot is free")
        .unwrap();
    assert_eq!(reply.unwrap().status, StatusCode::OK);
    assert!(waited >= Duration::from_millis(800), "{waited:?}");
    eprintln!(
        "fourth connection over max_connections = 3: served after {waited:?}, once one closed"
    );
    drop(held);
    before.settled("connection limit").await;
}

/// How the fault upstream behaves, by request path.
async fn fault_upstream() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut tcp, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut head = Vec::new();
                let mut buf = [0u8; 4096];
                while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                    match tcp.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => head.extend_from_slice(&buf[..n]),
                    }
                }
                let head = String::from_utf8_lossy(&head).into_owned();
                let path = head.split_whitespace().nth(1).unwrap_or("").to_owned();
                let json_head = |len: usize| {
                    format!("HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {len}\r\n\r\n")
                };
                match path.as_str() {
                    "/slow-head" => {
                        tokio::time::sleep(Duration::from_secs(5)).await;
                        let _ = tcp.write_all(json_head(2).as_bytes()).await;
                        let _ = tcp.write_all(b"{}").await;
                    }
                    "/slow-body" => {
                        let _ = tcp.write_all(json_head(100).as_bytes()).await;
                        for _ in 0..100 {
                            if tcp.write_all(b" ").await.is_err() {
                                return;
                            }
                            tokio::time::sleep(Duration::from_millis(100)).await;
                        }
                    }
                    "/cut" => {
                        let _ = tcp.write_all(json_head(1000).as_bytes()).await;
                        let _ = tcp.write_all(b"{\"account\": {\"status\": \"").await;
                    }
                    "/reset" => {
                        // SO_LINGER 0: the close is a TCP RST
                        let _ = tcp.set_zero_linger();
                        drop(tcp);
                    }
                    "/huge" => {
                        let size = 10 * 1024 * 1024;
                        let _ = tcp.write_all(json_head(size + 2).as_bytes()).await;
                        let _ = tcp.write_all(b"[\"").await;
                        let chunk = vec![b'a'; 64 * 1024];
                        for _ in 0..size / chunk.len() {
                            if tcp.write_all(&chunk).await.is_err() {
                                return;
                            }
                        }
                    }
                    _ => {
                        let _ = tcp.write_all(json_head(2).as_bytes()).await;
                        let _ = tcp.write_all(b"{}").await;
                    }
                }
            });
        }
    });
    addr
}

const FAULT_POLICY: &str = r#"
[[item]]
id = "FAULTS"
name = "故障上游"
category = "测试"
provider = "421200/HOUSING_FUND"
upstream = "faults"
methods = ["GET"]
fields = ["account.status"]
legal_basis = "测试"

[[item.permit]]
id = "gov-service"
callers = ["*/GOV_SERVICE"]
purposes = ["TEST"]
fields = ["account.status"]
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upstream_faults_are_answered_within_the_upstream_timeout() {
    let _serial = SERIAL.lock().await;
    let pki = Pki::shared();
    let work = tempfile::tempdir().unwrap();
    let upstream = fault_upstream().await;
    let mut config = gateway(pki, work.path());
    config.policies_dir = Some(policies_with(work.path(), FAULT_POLICY));
    let timeout = Duration::from_millis(1000);
    config.upstreams.insert(
        "faults".into(),
        Upstream {
            url: format!("http://{upstream}"),
            timeout,
            ca: None,
        },
    );
    let server = warmed(config).await;
    let client = connector(&pki.dir, Some(&pki.client(CALLER)));
    let addr = server.public_addr();
    let get = |path: &str| {
        hyper::Request::get(format!("/v1/exchange/FAULTS{path}"))
            .header("host", "localhost")
            .header("x-purpose", "TEST")
            .body(http_body_util::Full::new(hyper::body::Bytes::new()))
            .unwrap()
    };
    let reply = send(&client, addr, get("/ok")).await.unwrap();
    assert_eq!(reply.status, StatusCode::OK);
    let before = Baseline::now();
    for (path, status, code, within) in [
        ("/slow-head", 504, "UPSTREAM_TIMEOUT", timeout),
        ("/slow-body", 504, "UPSTREAM_TIMEOUT", timeout),
        ("/cut", 502, "UPSTREAM_ERROR", Duration::ZERO),
        ("/reset", 502, "UPSTREAM_ERROR", Duration::ZERO),
        ("/huge", 502, "UPSTREAM_ERROR", Duration::ZERO),
    ] {
        let started = Instant::now();
        let reply = send(&client, addr, get(path)).await.unwrap();
        let took = started.elapsed();
        assert_eq!(reply.status.as_u16(), status, "{path}: {:?}", reply.body);
        assert_eq!(reply.json()["code"], code, "{path}");
        // a timeout answers at its timeout; a fault as soon as it shows
        assert!(took >= within, "{path}: {took:?}");
        assert!(
            took < within + Duration::from_millis(700),
            "{path}: {took:?}"
        );
        eprintln!("upstream {path}: {status} {code} after {took:?}");
    }
    before.settled("upstream faults").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_admin_listener_has_its_own_connection_limit() {
    use tongban::server::listener::MAX_ADMIN_CONNECTIONS;
    let _serial = SERIAL.lock().await;
    let pki = Pki::shared();
    let work = tempfile::tempdir().unwrap();
    let mut config = gateway(pki, work.path());
    config.limits.header_read_timeout = Duration::from_secs(30);
    let server = warmed(config).await;
    let admin = server.admin_addr();
    let before = Baseline::now();
    let mut held = Vec::new();
    for _ in 0..MAX_ADMIN_CONNECTIONS {
        held.push(TcpStream::connect(admin).await.unwrap());
    }
    // one more is not served while every slot is taken, and is once one frees
    let scrape = tokio::spawn(async move { admin_get(admin, "/healthz").await.status });
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert!(
        !scrape.is_finished(),
        "served beyond {MAX_ADMIN_CONNECTIONS} connections"
    );
    held.pop();
    let status = tokio::time::timeout(Duration::from_secs(5), scrape)
        .await
        .expect("served once a slot is free")
        .unwrap();
    assert_eq!(status, StatusCode::OK);
    drop(held);
    before.settled("admin connection limit").await;
}
