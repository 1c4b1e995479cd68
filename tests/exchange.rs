//! The data exchange end to end: real TLS with real client certificates into the gateway, real
//! HTTP upstreams on loopback, every status of contract section 5, and the audit log after it.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "test code: a failure here is a failed test"
)]

#[path = "common/gateway.rs"]
mod common;

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::{json, Value};
use tokio::net::TcpListener;

use common::{admin_get, config, connector, curl_post, metric, send, start, Pki};
use tongban::server::config::Upstream;

const CALLER: &str = "420100-GOV_SERVICE";
const ID_NUMBER: &str = "420106199001011234";

const POLICY: &str = r#"
[[item]]
id = "HPF-TEST"
name = "住房公积金缴存信息核验"
category = "住房公积金"
provider = "421200/HOUSING_FUND"
upstream = "hpf"
methods = ["GET", "POST"]
fields = ["account.status", "account.balance", "holder.name", "holder.id_number", "records[].amount", "received_bytes", "headers"]
legal_basis = "《住房公积金管理条例》"

[[item.permit]]
id = "gov-service"
callers = ["*/GOV_SERVICE"]
purposes = ["TEST"]
fields = ["account.status", "account.balance", "holder.name", "holder.id_number", "records[].amount", "received_bytes", "headers"]
mask = { "holder.id_number" = "id_number", "holder.name" = "name" }

[[item.forbid]]
id = "no-marketing"
callers = ["*/*"]
purposes = ["MARKETING"]

[[item]]
id = "LIMITED"
name = "限流测试"
category = "测试"
provider = "421200/HOUSING_FUND"
upstream = "hpf"
methods = ["GET"]
fields = ["account.status"]
legal_basis = "测试"

[[item.permit]]
id = "once-a-minute"
callers = ["420100/GOV_SERVICE"]
purposes = ["TEST"]
fields = ["account.status"]
rate = "1/min"

[[item]]
id = "WITH-LICENCE"
name = "需要身份证"
category = "测试"
provider = "421200/HOUSING_FUND"
upstream = "hpf"
methods = ["GET"]
fields = ["account.status"]
legal_basis = "测试"

[[item.permit]]
id = "needs-id-card"
callers = ["420100/GOV_SERVICE"]
purposes = ["TEST"]
fields = ["account.status"]
require_licence = "ID_CARD"

[[item]]
id = "DEAD"
name = "上游不可用"
category = "测试"
provider = "421200/HOUSING_FUND"
upstream = "dead"
methods = ["GET"]
fields = ["account.status"]
legal_basis = "测试"

[[item.permit]]
id = "any"
callers = ["420100/GOV_SERVICE"]
purposes = ["TEST"]
fields = ["account.status"]
"#;

/// What the upstream saw of the last request.
#[derive(Default)]
struct Seen {
    path: String,
    headers: BTreeMap<String, String>,
}

/// A real HTTP upstream: `/accounts/*` JSON, `/slow` (past the timeout), `/text` (not JSON),
/// `/big` (over the response limit), `POST /echo` (counts the body).
async fn upstream(seen: Arc<Mutex<Seen>>) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                return;
            };
            let seen = seen.clone();
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |req: Request<Incoming>| {
                    let seen = seen.clone();
                    async move { Ok::<_, Infallible>(answer(req, &seen).await) }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(tcp), service)
                    .await;
            });
        }
    });
    addr
}

async fn answer(req: Request<Incoming>, seen: &Mutex<Seen>) -> Response<Full<Bytes>> {
    let path = req.uri().to_string();
    {
        let mut s = seen.lock().unwrap();
        s.path = path.clone();
        s.headers = req
            .headers()
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or("").to_owned()))
            .collect();
    }
    let json = |v: Value| {
        Response::builder()
            .header("content-type", "application/json")
            .body(Full::new(Bytes::from(v.to_string())))
            .unwrap()
    };
    match req.uri().path() {
        "/slow" => {
            tokio::time::sleep(Duration::from_secs(3)).await;
            json(json!({"account": {"status": "late"}}))
        }
        "/text" => Response::builder()
            .header("content-type", "text/html")
            .body(Full::new(Bytes::from("<html>")))
            .unwrap(),
        "/big" => json(json!({"account": {"status": "x".repeat(300_000)}})),
        "/echo" => {
            let n = req
                .into_body()
                .collect()
                .await
                .map(|b| b.to_bytes().len())
                .unwrap_or(0);
            json(json!({"received_bytes": n, "secret": "never"}))
        }
        _ => json(json!({
            "account": {"no": "HPF-0001", "status": "正常", "balance": 12034.5},
            "holder": {"name": "张三丰", "id_number": ID_NUMBER, "phone": "13812341234"},
            "records": [{"amount": 1000, "date": "2025-01"}, {"amount": 1100, "date": "2025-02"}],
            "internal_note": "must not leave"
        })),
    }
}

fn gateway_config(pki_dir: &Path, work: &Path, upstream: SocketAddr) -> tongban::server::Config {
    let policies = work.join("policies");
    std::fs::create_dir_all(policies.join("catalog")).unwrap();
    std::fs::create_dir_all(policies.join("items")).unwrap();
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("policies/catalog");
    for f in ["cities.csv", "departments.csv", "licence-types.csv"] {
        std::fs::copy(root.join(f), policies.join("catalog").join(f)).unwrap();
    }
    std::fs::write(policies.join("items/test.toml"), POLICY).unwrap();
    let mut c = config(pki_dir);
    c.policies_dir = Some(policies);
    c.audit = tongban::server::config::AuditConfig::at(work.join("audit.jsonl"));
    c.limits.max_body_bytes = 64 * 1024;
    c.limits.max_response_bytes = 128 * 1024;
    c.upstreams.insert(
        "hpf".into(),
        Upstream {
            url: format!("http://{upstream}"),
            timeout: Duration::from_millis(800),
            ca: None,
        },
    );
    c.upstreams.insert(
        "dead".into(),
        Upstream {
            url: "http://127.0.0.1:9".into(),
            timeout: Duration::from_millis(800),
            ca: None,
        },
    );
    c
}

fn request(
    method: &str,
    path: &str,
    purpose: Option<&str>,
    body: impl Into<Bytes>,
) -> Request<Full<Bytes>> {
    let mut b = Request::builder()
        .method(method)
        .uri(path)
        .header("host", "localhost");
    if let Some(p) = purpose {
        b = b.header("x-purpose", p);
    }
    b.body(Full::new(body.into())).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_status_of_the_exchange() {
    let pki = Pki::shared();
    let work = tempfile::tempdir().unwrap();
    let seen = Arc::new(Mutex::new(Seen::default()));
    let up = upstream(seen.clone()).await;
    let server = start(gateway_config(&pki.dir, work.path(), up)).await;
    let addr = server.public_addr();
    let tls = connector(&pki.dir, Some(&pki.client(CALLER)));

    // 200: filtered and masked, headers set from the certificate only
    let mut req = request(
        "GET",
        "/v1/exchange/HPF-TEST/accounts/42?year=2025",
        Some("TEST"),
        "",
    );
    req.headers_mut()
        .insert("x-caller-city", "429006".parse().unwrap());
    req.headers_mut()
        .insert("x-caller-org", "forged".parse().unwrap());
    req.headers_mut()
        .insert("x-request-id", "trace-7".parse().unwrap());
    let reply = send(&tls, addr, req).await.unwrap();
    assert_eq!(reply.status, StatusCode::OK, "{:?}", reply.body);
    assert_eq!(reply.headers["x-request-id"], "trace-7");
    assert_eq!(
        reply.json(),
        json!({
            "account": {"status": "正常", "balance": 12034.5},
            "holder": {"name": "张**", "id_number": "420106********1234"},
            "records": [{"amount": 1000}, {"amount": 1100}]
        })
    );
    {
        let s = seen.lock().unwrap();
        assert_eq!(s.path, "/accounts/42?year=2025");
        assert_eq!(s.headers["x-caller-city"], "420100");
        assert_eq!(s.headers["x-caller-department"], "GOV_SERVICE");
        assert_ne!(s.headers["x-caller-org"], "forged");
        assert!(
            s.headers["x-caller-org-name"].starts_with("%E6%AD%A6%E6%B1%89"),
            "{:?}",
            s.headers
        );
        assert_eq!(s.headers["x-purpose"], "TEST");
        assert_eq!(s.headers["x-request-id"], "trace-7");
    }

    let status_of = |reply: &common::Reply| {
        (
            reply.status.as_u16(),
            reply.json()["code"].as_str().unwrap_or("").to_owned(),
        )
    };
    let cases: Vec<(Request<Full<Bytes>>, u16, &str)> = vec![
        (
            request("GET", "/v1/exchange/HPF-TEST/accounts/42", None, ""),
            400,
            "MISSING_PURPOSE",
        ),
        (
            request(
                "GET",
                "/v1/exchange/HPF-TEST/a/../../admin",
                Some("TEST"),
                "",
            ),
            400,
            "BAD_PATH",
        ),
        (
            request(
                "GET",
                "/v1/exchange/HPF-TEST/%2e%2e/admin",
                Some("TEST"),
                "",
            ),
            400,
            "BAD_PATH",
        ),
        (
            request("GET", "/v1/exchange/HPF-TEST/a%2Fb", Some("TEST"), ""),
            400,
            "BAD_PATH",
        ),
        (
            request(
                "GET",
                "/v1/exchange/HPF-TEST/accounts/42",
                Some("OTHER"),
                "",
            ),
            403,
            "NO_MATCHING_PERMIT",
        ),
        (
            request(
                "GET",
                "/v1/exchange/HPF-TEST/accounts/42",
                Some("MARKETING"),
                "",
            ),
            403,
            "FORBIDDEN_BY_POLICY",
        ),
        (
            request(
                "GET",
                "/v1/exchange/WITH-LICENCE/accounts/42",
                Some("TEST"),
                "",
            ),
            403,
            "LICENCE_REQUIRED",
        ),
        (
            request("GET", "/v1/exchange/NO-SUCH-ITEM/x", Some("TEST"), ""),
            404,
            "UNKNOWN_ITEM",
        ),
        (
            request(
                "DELETE",
                "/v1/exchange/HPF-TEST/accounts/42",
                Some("TEST"),
                "",
            ),
            405,
            "METHOD_NOT_ALLOWED",
        ),
        (
            request(
                "POST",
                "/v1/exchange/HPF-TEST/echo",
                Some("TEST"),
                vec![b'x'; 100 * 1024],
            ),
            413,
            "BODY_TOO_LARGE",
        ),
        (
            request("GET", "/v1/exchange/HPF-TEST/text", Some("TEST"), ""),
            502,
            "UPSTREAM_ERROR",
        ),
        (
            request("GET", "/v1/exchange/HPF-TEST/big", Some("TEST"), ""),
            502,
            "UPSTREAM_ERROR",
        ),
        (
            request("GET", "/v1/exchange/DEAD/x", Some("TEST"), ""),
            502,
            "UPSTREAM_ERROR",
        ),
        (
            request("GET", "/v1/exchange/HPF-TEST/slow", Some("TEST"), ""),
            504,
            "UPSTREAM_TIMEOUT",
        ),
    ];
    for (req, status, code) in cases {
        let path = req.uri().to_string();
        let reply = send(&tls, addr, req).await.unwrap();
        assert_eq!(
            status_of(&reply),
            (status, code.to_owned()),
            "{path}: {:?}",
            String::from_utf8_lossy(&reply.body)
        );
        assert_eq!(reply.headers["content-type"], "application/problem+json");
    }
    assert!(
        !seen.lock().unwrap().path.contains("admin"),
        "a bad path is never forwarded"
    );

    // a body under the limit is streamed through
    let reply = send(
        &tls,
        addr,
        request(
            "POST",
            "/v1/exchange/HPF-TEST/echo",
            Some("TEST"),
            vec![b'x'; 1000],
        ),
    )
    .await
    .unwrap();
    assert_eq!(reply.json(), json!({"received_bytes": 1000}));

    // 429 with Retry-After, per calling organisation and item
    let first = send(
        &tls,
        addr,
        request("GET", "/v1/exchange/LIMITED/x", Some("TEST"), ""),
    )
    .await
    .unwrap();
    assert_eq!(first.status, StatusCode::OK);
    let second = send(
        &tls,
        addr,
        request("GET", "/v1/exchange/LIMITED/x", Some("TEST"), ""),
    )
    .await
    .unwrap();
    assert_eq!(status_of(&second), (429, "RATE_LIMITED".into()));
    assert!(
        second.headers["retry-after"]
            .to_str()
            .unwrap()
            .parse::<u64>()
            .unwrap()
            >= 1
    );

    // LICENCE_REQUIRED lifts with the subject's verified identity card
    let mut req = request("GET", "/v1/exchange/WITH-LICENCE/x", Some("TEST"), "");
    req.headers_mut().insert(
        "x-subject-licence",
        String::from_utf8(pki.licence("ID_CARD.jws"))
            .unwrap()
            .trim()
            .parse()
            .unwrap(),
    );
    let reply = send(&tls, addr, req).await.unwrap();
    assert_eq!(reply.status, StatusCode::OK, "{:?}", reply.body);
    // a tampered licence does not
    let mut req = request("GET", "/v1/exchange/WITH-LICENCE/x", Some("TEST"), "");
    req.headers_mut().insert(
        "x-subject-licence",
        String::from_utf8(pki.licence("invalid/tampered.jws"))
            .unwrap()
            .trim()
            .parse()
            .unwrap(),
    );
    assert_eq!(
        status_of(&send(&tls, addr, req).await.unwrap()),
        (403, "LICENCE_REQUIRED".into())
    );

    // 401 without a certificate
    let anonymous = connector(&pki.dir, None);
    let reply = send(
        &anonymous,
        addr,
        request("GET", "/v1/exchange/HPF-TEST/x", Some("TEST"), ""),
    )
    .await
    .unwrap();
    assert_eq!(status_of(&reply), (401, "NO_CLIENT_CERT".into()));

    // metrics: bounded labels
    let metrics = admin_get(server.admin_addr(), "/metrics").await;
    let text = String::from_utf8_lossy(&metrics.body).into_owned();
    assert!(
        metric(
            &text,
            r#"tongban_exchange_requests_total{caller_city="420100",decision="permit",item="HPF-TEST"}"#
        ) >= 2.0,
        "{text}"
    );
    assert!(
        metric(
            &text,
            r#"tongban_exchange_requests_total{caller_city="420100",decision="deny",item="unknown"}"#
        ) >= 1.0
    );
    assert!(
        metric(
            &text,
            r#"tongban_upstream_errors_total{item="HPF-TEST",kind="timeout"}"#
        ) >= 1.0
    );
    assert!(!text.contains(ID_NUMBER));

    // the audit log: every decision, chained, no identifier in clear
    server.handle().shutdown();
    server.wait().await;
    let log = work.path().join("audit.jsonl");
    let summary = tongban::audit::verify(&log).unwrap();
    let text = std::fs::read_to_string(&log).unwrap();
    assert_eq!(summary.records, text.lines().count() as u64);
    assert!(summary.records >= 20, "{}", summary.records);
    assert!(!text.contains(ID_NUMBER) && !text.contains("张三丰"));
    let records: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let ok = records
        .iter()
        .find(|r| r["request_id"] == "trace-7")
        .unwrap();
    assert_eq!(ok["decision"], "permit");
    assert_eq!(ok["rules"], json!(["gov-service"]));
    assert_eq!(
        ok["fields_masked"],
        json!(["holder.id_number", "holder.name"])
    );
    // the policy's paths that the answer held, masked ones included
    assert_eq!(
        ok["fields_returned"],
        json!([
            "account.balance",
            "account.status",
            "holder.id_number",
            "holder.name",
            "records[].amount"
        ])
    );
    assert_eq!(ok["status"], 200);
    assert!(records
        .iter()
        .any(|r| r["error_code"] == "FORBIDDEN_BY_POLICY"
            && r["rules"] == json!(["no-marketing"])
            && r["decision"] == "deny"));
    assert!(records
        .iter()
        .any(|r| r["error_code"] == "UPSTREAM_TIMEOUT" && r["decision"] == "error"));
    let licensed = records
        .iter()
        .find(|r| r["item"] == "WITH-LICENCE" && r["status"] == 200)
        .unwrap();
    assert_eq!(licensed["subject"].as_str().unwrap().len(), 64);
}

/// `kill -9` under load: every request answered before the kill has its audit record.
/// A body over the limit on its way upstream (no length declared, so it is found out while it
/// streams) gets its 413 over HTTP/2 as over HTTP/1.1, not a reset; so does a declared one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_exchange_bodies_over_http2_get_413() {
    let pki = Pki::shared();
    let work = tempfile::tempdir().unwrap();
    let up = upstream(Arc::new(Mutex::new(Seen::default()))).await;
    let server = start(gateway_config(&pki.dir, work.path(), up)).await;
    let addr = server.public_addr();
    let id = pki.client(CALLER);
    let headers = ["x-purpose: TEST", "content-type: application/octet-stream"];
    for (size, from_pipe) in [
        (300 * 1024, true),
        (3 * 1024 * 1024, true),
        (300 * 1024, false),
    ] {
        for http in ["2", "1.1"] {
            let path = "/v1/exchange/HPF-TEST/echo";
            let (status, stdout, stderr) =
                curl_post(&pki.dir, &id, (addr, path), &headers, size, from_pipe, http).await;
            assert!(
                status.success(),
                "{size} bytes over {http}: curl {:?}: {stderr}{stdout}",
                status.code()
            );
            let (problem, status) = stdout.rsplit_once('\n').unwrap();
            assert_eq!(status, format!("413 {http}"), "{stdout}");
            let problem: Value = serde_json::from_str(problem).unwrap();
            assert_eq!(problem["code"], "BODY_TOO_LARGE");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_gateway_loses_no_answered_record() {
    let pki = Pki::shared();
    let work = tempfile::tempdir().unwrap();
    let dir = pki.copy(&work.path().join("pki"));
    let seen = Arc::new(Mutex::new(Seen::default()));
    let up = upstream(seen).await;
    gateway_config(&dir, work.path(), up); // writes the policies
    let config_path = work.path().join("gateway.toml");
    std::fs::write(
        &config_path,
        format!(
            "[listen]\npublic = \"127.0.0.1:0\"\nadmin = \"127.0.0.1:0\"\n\n[tls]\ncert = \"pki/server/server-chain.pem\"\nkey = \"pki/server/server.key\"\n\n\
             [trust]\ndir = \"pki/trust\"\n\n[policies]\ndir = \"policies\"\n\n[audit]\npath = \"audit.jsonl\"\nflush_interval_ms = 100\n\n\
             [upstreams.hpf]\nurl = \"http://{up}\"\n\n[upstreams.dead]\nurl = \"http://127.0.0.1:9\"\n"
        ),
    )
    .unwrap();
    let common::ServeProcess {
        mut child,
        pid,
        public,
        ..
    } = common::spawn_serve(&config_path).await;
    let answered = Arc::new(Mutex::new(Vec::<String>::new()));
    let tls = connector(&dir, Some(&pki.client(CALLER)));
    let mut tasks = Vec::new();
    for t in 0..6 {
        let (answered, tls) = (answered.clone(), tls.clone());
        tasks.push(tokio::spawn(async move {
            for n in 0..400 {
                let id = format!("kill-{t}-{n}");
                let mut req = request("GET", "/v1/exchange/HPF-TEST/accounts/1", Some("TEST"), "");
                req.headers_mut()
                    .insert("x-request-id", id.parse().unwrap());
                match send(&tls, public, req).await {
                    Ok(reply) if reply.status == StatusCode::OK => {
                        answered.lock().unwrap().push(id)
                    }
                    Ok(_) => {}
                    Err(_) => return,
                }
            }
        }));
    }
    // kill once a good number of answers is out, while requests are still in flight
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while answered.lock().unwrap().len() < 150 && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    std::process::Command::new("kill")
        .args(["-9", &pid])
        .status()
        .unwrap();
    for t in tasks {
        let _ = t.await;
    }
    let _ = child.wait().await;
    let answered = answered.lock().unwrap().clone();
    assert!(answered.len() >= 150, "{} answered", answered.len());
    // reopening recovers at most a torn last line; then the whole chain verifies
    let log = work.path().join("audit.jsonl");
    drop(tongban::audit::AuditLog::open(&log, tongban::audit::AuditOptions::default()).unwrap());
    let summary = tongban::audit::verify(&log).unwrap();
    let text = std::fs::read_to_string(&log).unwrap();
    let logged: std::collections::HashSet<String> = text
        .lines()
        .map(|l| {
            serde_json::from_str::<Value>(l).unwrap()["request_id"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    let lost: Vec<&String> = answered.iter().filter(|id| !logged.contains(*id)).collect();
    assert!(
        lost.is_empty(),
        "answered but not in the audit log: {lost:?}"
    );
    eprintln!(
        "{} answered before kill -9, {} records in the log, none lost",
        answered.len(),
        summary.records
    );
}

/// With `require_signed_policies`, only a set signed by a security team loads, and a tampered
/// set is refused on reload while the running one stays in force.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_signed_policy_sets_load() {
    let pki = Pki::shared();
    let work = tempfile::tempdir().unwrap();
    let seen = Arc::new(Mutex::new(Seen::default()));
    let up = upstream(seen).await;
    let mut config = gateway_config(&pki.dir, work.path(), up);
    config.require_signed_policies = true;
    let policies = config.policies_dir.clone().unwrap();
    // unsigned: the gateway does not start
    let Err(err) = tongban::server::start(config.clone()).await else {
        panic!("an unsigned set must be refused");
    };
    assert!(err.to_string().contains("policy-set.jws"), "{err}");
    // signed by the Wuhan security team: it starts and serves
    let chain = vec![pem_der(&pki.dir.join("security/420100-GOV_SERVICE.pem"))];
    let key = std::fs::read_to_string(pki.dir.join("security/420100-GOV_SERVICE.key")).unwrap();
    tongban::policy::signing::sign(&policies, &key, &chain, 1_800_000_000).unwrap();
    let server = start(config).await;
    let tls = connector(&pki.dir, Some(&pki.client(CALLER)));
    let ok = send(
        &tls,
        server.public_addr(),
        request("GET", "/v1/exchange/HPF-TEST/a", Some("TEST"), ""),
    )
    .await
    .unwrap();
    assert_eq!(ok.status, StatusCode::OK);
    // a file changed after signing: the reload fails and the signed set stays in force
    let file = policies.join("items/test.toml");
    std::fs::write(
        &file,
        std::fs::read_to_string(&file)
            .unwrap()
            .replace("\"TEST\"]", "\"TEST\", \"MORE\"]"),
    )
    .unwrap();
    let err = server
        .handle()
        .reload()
        .await
        .expect_err("tampered set refused");
    assert!(
        err.to_string().contains("`items/test.toml` changed"),
        "{err}"
    );
    let still = send(
        &tls,
        server.public_addr(),
        request("GET", "/v1/exchange/HPF-TEST/a", Some("MORE"), ""),
    )
    .await
    .unwrap();
    assert_eq!(still.json()["code"], "NO_MATCHING_PERMIT");
    // an added file fails too
    std::fs::write(&file, POLICY).unwrap();
    std::fs::write(policies.join("items/extra.toml"), "").unwrap();
    let err = server
        .handle()
        .reload()
        .await
        .expect_err("added file refused");
    assert!(
        err.to_string().contains("`items/extra.toml` added"),
        "{err}"
    );
}

fn pem_der(path: &Path) -> Vec<u8> {
    use rustls::pki_types::pem::PemObject;
    rustls::pki_types::CertificateDer::from_pem_file(path)
        .unwrap()
        .to_vec()
}

/// An HTTPS upstream, trusted through its own `ca` (not the cities' anchors).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_upstreams_are_trusted_by_their_own_roots() {
    use tongban::pki::{CertSpec, Issued};
    let pki = Pki::shared();
    let work = tempfile::tempdir().unwrap();
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let ca = Issued::self_signed(&CertSpec::root(
        "421200",
        "upstream CA",
        now - 3600,
        now + 86_400,
    ))
    .unwrap();
    let leaf = ca
        .issue(&CertSpec::server(
            &["localhost"],
            &[],
            now - 3600,
            now + 86_400,
        ))
        .unwrap();
    std::fs::write(work.path().join("upstream-ca.pem"), ca.cert_pem()).unwrap();
    // the upstream: rustls (ring) in front of the same JSON answers
    let server_config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(
        vec![rustls::pki_types::CertificateDer::from(
            leaf.cert_der().to_vec(),
        )],
        rustls::pki_types::PrivateKeyDer::try_from(leaf.key_pkcs8_der().to_vec()).unwrap(),
    )
    .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(server_config));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let seen = Arc::new(Mutex::new(Seen::default()));
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let (acceptor, seen) = (acceptor.clone(), seen.clone());
            tokio::spawn(async move {
                let Ok(tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let service = hyper::service::service_fn(move |req: Request<Incoming>| {
                    let seen = seen.clone();
                    async move { Ok::<_, Infallible>(answer(req, &seen).await) }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(tls), service)
                    .await;
            });
        }
    });
    let plain = upstream(Arc::new(Mutex::new(Seen::default()))).await;
    let mut config = gateway_config(&pki.dir, work.path(), plain);
    config.upstreams.insert(
        "hpf".into(),
        Upstream {
            url: format!("https://localhost:{port}"),
            timeout: Duration::from_secs(2),
            ca: Some(work.path().join("upstream-ca.pem")),
        },
    );
    let server = start(config.clone()).await;
    let tls = connector(&pki.dir, Some(&pki.client(CALLER)));
    let reply = send(
        &tls,
        server.public_addr(),
        request("GET", "/v1/exchange/HPF-TEST/accounts/1", Some("TEST"), ""),
    )
    .await
    .unwrap();
    assert_eq!(reply.status, StatusCode::OK, "{:?}", reply.body);
    assert_eq!(reply.json()["account"]["status"], "正常");
    // an upstream whose certificate the named roots do not vouch for: 502
    let other = Issued::self_signed(&CertSpec::root(
        "421200",
        "another CA",
        now - 3600,
        now + 86_400,
    ))
    .unwrap();
    std::fs::write(work.path().join("upstream-ca.pem"), other.cert_pem()).unwrap();
    let server = start(config).await;
    let reply = send(
        &tls,
        server.public_addr(),
        request("GET", "/v1/exchange/HPF-TEST/accounts/1", Some("TEST"), ""),
    )
    .await
    .unwrap();
    assert_eq!(reply.json()["code"], "UPSTREAM_ERROR");
}

/// An upstream that answers one request per connection and then closes it, without saying so
/// (no `Connection: close`): the gateway keeps the connection, finds it closed when it next
/// wants it, and uses a new one; no request gets a 502.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kept_connections_the_upstream_closed_are_not_used() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let up = listener.local_addr().unwrap();
    let connections = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counted = connections.clone();
    tokio::spawn(async move {
        while let Ok((mut tcp, _)) = listener.accept().await {
            counted.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            tokio::spawn(async move {
                let mut request = Vec::new();
                let mut buf = [0u8; 4096];
                while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                    match tcp.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => request.extend_from_slice(&buf[..n]),
                    }
                }
                let body = br#"{"account":{"status":"ok"}}"#;
                let head = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n",
                    body.len()
                );
                let _ = tcp.write_all(head.as_bytes()).await;
                let _ = tcp.write_all(body).await;
                tokio::time::sleep(Duration::from_millis(20)).await;
                // dropped: closed without notice
            });
        }
    });
    let pki = Pki::shared();
    let work = tempfile::tempdir().unwrap();
    let server = start(gateway_config(&pki.dir, work.path(), up)).await;
    let tls = connector(&pki.dir, Some(&pki.client(CALLER)));
    for pause in [0, 100, 1200, 50] {
        tokio::time::sleep(Duration::from_millis(pause)).await;
        let req = request("GET", "/v1/exchange/HPF-TEST/accounts/1", Some("TEST"), "");
        let reply = send(&tls, server.public_addr(), req).await.unwrap();
        assert_eq!(
            reply.status,
            StatusCode::OK,
            "after {pause} ms: {:?}",
            reply.body
        );
        assert_eq!(reply.json(), json!({"account": {"status": "ok"}}));
    }
    assert!(connections.load(std::sync::atomic::Ordering::SeqCst) >= 2);
}
