//! Callers' certificates against their city's CRLs: refused at the handshake when revoked, on
//! the next request when a reload revokes an open connection, and under `stale_crls`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "test code: a failure here is a failed test"
)]

#[path = "common/gateway.rs"]
mod common;

use std::path::PathBuf;

use http_body_util::BodyExt;
use hyper::StatusCode;
use hyper_util::rt::TokioIo;

use common::{admin_get, config, connector, metric, post, send, start, ClientId, Pki, DAY};
use tongban::pki::{CertSpec, Issued};
use tongban::pki::{Reason, RevokedCert};
use tongban::server::config::StaleCrls;

const VERIFY: &str = "/v1/licences/verify";

/// A private copy of the test PKI with one more Wuhan TLS root (cRLSign) and two clients of it.
struct Revocable {
    _temp: tempfile::TempDir,
    dir: PathBuf,
    root: Issued,
    kept: ClientId,
    revoked: ClientId,
    revoked_serial: u64,
    now: i64,
}

impl Revocable {
    fn new() -> Self {
        let temp = tempfile::tempdir().unwrap();
        let dir = Pki::shared().copy(&temp.path().join("pki"));
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        let root = Issued::self_signed(&CertSpec::root(
            "420100",
            "Wuhan callers' CA (revocation test)",
            now - DAY,
            now + DAY,
        ))
        .unwrap();
        let roots = dir.join("trust/420100/roots.pem");
        let mut pem = std::fs::read_to_string(&roots).unwrap();
        pem.push_str(&root.cert_pem());
        std::fs::write(&roots, pem).unwrap();
        let client = |dept: &str, serial: u64| {
            let spec =
                CertSpec::client("420100", dept, "武汉市测试部门", None, now - DAY, now + DAY)
                    .with_serial(serial);
            let issued = root.issue(&spec).unwrap();
            let id = ClientId {
                cert: dir.join(format!("{dept}.pem")),
                key: dir.join(format!("{dept}.key")),
            };
            std::fs::write(&id.cert, issued.cert_pem()).unwrap();
            std::fs::write(&id.key, issued.key_pem()).unwrap();
            id
        };
        let kept = client("HRSS", 7001);
        let revoked = client("TAX", 7002);
        let r = Revocable {
            _temp: temp,
            dir,
            root,
            kept,
            revoked,
            revoked_serial: 7002,
            now,
        };
        r.write_crl(&[], now - DAY, now + DAY);
        r
    }

    /// Replaces the callers' CA's CRL.
    fn write_crl(&self, revoked: &[u64], this_update: i64, next_update: i64) {
        let entries: Vec<RevokedCert> = revoked
            .iter()
            .map(|&serial| RevokedCert {
                serial,
                revoked_at: self.now - 3600,
                reason: Some(Reason::KeyCompromise),
            })
            .collect();
        let crl = self
            .root
            .crl(&entries, this_update, next_update, this_update as u64)
            .unwrap();
        let crls = self.dir.join("trust/420100/crls");
        std::fs::write(crls.join("callers-ca.pem"), crl.pem()).unwrap();
    }

    fn config(&self, stale: StaleCrls) -> tongban::server::Config {
        tongban::server::Config {
            stale_crls: stale,
            ..config(&self.dir)
        }
    }
}

/// The TLS alert a client gets (in TLS 1.3 the server's verdict on the client certificate
/// arrives after the client's Finished, so it is read with the first bytes).
async fn tls_refusal(connector: &tokio_rustls::TlsConnector, addr: std::net::SocketAddr) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut tls = match common::tls_connect(connector, addr).await {
        Ok(tls) => tls,
        Err(e) => return e.to_string(),
    };
    let _ = tls
        .write_all(b"GET / HTTP/1.1\r\nhost: localhost\r\n\r\n")
        .await;
    let mut buf = [0u8; 512];
    match tls.read(&mut buf).await {
        Ok(n) => panic!("answered: {:?}", String::from_utf8_lossy(&buf[..n])),
        Err(e) => e.to_string(),
    }
}

/// A kept-alive HTTP/1.1 connection as `id`, whose first verify request is served.
async fn served_connection(
    r: &Revocable,
    id: &ClientId,
    addr: std::net::SocketAddr,
) -> hyper::client::conn::http1::SendRequest<http_body_util::Full<hyper::body::Bytes>> {
    let tls = common::tls_connect(&connector(&r.dir, Some(id)), addr)
        .await
        .unwrap();
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tls))
        .await
        .unwrap();
    tokio::spawn(conn);
    let first = sender
        .send_request(post(VERIFY, "application/jose", "x"))
        .await
        .unwrap();
    assert_eq!(first.status(), StatusCode::OK);
    first.into_body().collect().await.unwrap();
    sender
}

/// The next request on `sender` gets 403 `CALLER_NOT_TRUSTED` whose detail says `why`.
async fn refused_on_next_request(
    sender: &mut hyper::client::conn::http1::SendRequest<http_body_util::Full<hyper::body::Bytes>>,
    why: &str,
) {
    let second = sender
        .send_request(post(VERIFY, "application/jose", "x"))
        .await
        .unwrap();
    assert_eq!(second.status(), StatusCode::FORBIDDEN);
    let body = second.into_body().collect().await.unwrap().to_bytes();
    let problem: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(problem["code"], "CALLER_NOT_TRUSTED");
    assert!(
        problem["detail"].as_str().unwrap().contains(why),
        "{problem}"
    );
}

/// Waits until the Unix time is past `t`.
async fn wait_past(t: i64) {
    while time::OffsetDateTime::now_utc().unix_timestamp() <= t {
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoked_caller_is_refused_at_the_handshake() {
    let r = Revocable::new();
    r.write_crl(&[r.revoked_serial], r.now - DAY, r.now + DAY);
    let server = start(r.config(StaleCrls::Warn)).await;
    let addr = server.public_addr();
    let kept = connector(&r.dir, Some(&r.kept));
    let reply = send(&kept, addr, post(VERIFY, "application/jose", "x"))
        .await
        .unwrap();
    assert_eq!(reply.status, StatusCode::OK);
    let revoked = connector(&r.dir, Some(&r.revoked));
    let error = tls_refusal(&revoked, addr).await;
    assert!(error.contains("CertificateRevoked"), "{error}");
    // the server counts the failure after its alert is on the wire: wait for it (up to 5 s)
    let mut text = String::new();
    for _ in 0..100 {
        let metrics = admin_get(server.admin_addr(), "/metrics").await;
        text = String::from_utf8_lossy(&metrics.body).into_owned();
        if metric(&text, "tongban_tls_handshake_failures_total") >= 1.0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(metric(&text, "tongban_tls_handshake_failures_total") >= 1.0);
    // the city's earliest nextUpdate is exported
    let next = metric(
        &text,
        "tongban_trust_crl_next_update_seconds{city=\"420100\"}",
    );
    assert!(next > 0.0 && next <= (r.now + DAY) as f64, "{next}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_open_connection_revoked_by_a_reload_is_refused_on_its_next_request() {
    let r = Revocable::new();
    let server = start(r.config(StaleCrls::Warn)).await;
    let addr = server.public_addr();
    let client = connector(&r.dir, Some(&r.revoked));
    let mut sender = served_connection(&r, &r.revoked, addr).await;
    r.write_crl(&[r.revoked_serial], r.now - 60, r.now + DAY);
    server.handle().reload().await.unwrap();
    refused_on_next_request(&mut sender, "revoked (keyCompromise)").await;
    // and a new connection does not get through the handshake
    assert!(tls_refusal(&client, addr)
        .await
        .contains("CertificateRevoked"));
    // the other caller of the same CA is still served
    let kept = connector(&r.dir, Some(&r.kept));
    let reply = send(&kept, addr, post(VERIFY, "application/jose", "x"))
        .await
        .unwrap();
    assert_eq!(reply.status, StatusCode::OK);
}

/// Under `stale_crls = "refuse"`, a connection opened while its CA's CRL was fresh is refused
/// on its first request after the CRL's nextUpdate, with no reload (the judgement of a
/// connection's caller holds only until then).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crl_going_stale_refuses_an_open_connection_on_its_next_request() {
    let r = Revocable::new();
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let next_update = now + 2;
    r.write_crl(&[], now - 60, next_update);
    let server = start(r.config(StaleCrls::Refuse)).await;
    let mut sender = served_connection(&r, &r.kept, server.public_addr()).await;
    // stale from the second after nextUpdate
    wait_past(next_update).await;
    refused_on_next_request(&mut sender, "past its nextUpdate").await;
}

/// A connection kept open past its client certificate's notAfter is refused on its next request.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_outliving_its_certificate_is_refused_on_its_next_request() {
    let r = Revocable::new();
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let not_after = now + 2;
    let spec = CertSpec::client(
        "420100",
        "HRSS",
        "武汉市测试部门",
        None,
        now - DAY,
        not_after,
    )
    .with_serial(7003);
    let issued = r.root.issue(&spec).unwrap();
    let id = ClientId {
        cert: r.dir.join("short.pem"),
        key: r.dir.join("short.key"),
    };
    std::fs::write(&id.cert, issued.cert_pem()).unwrap();
    std::fs::write(&id.key, issued.key_pem()).unwrap();
    let server = start(r.config(StaleCrls::Refuse)).await;
    let mut sender = served_connection(&r, &id, server.public_addr()).await;
    wait_past(not_after).await;
    refused_on_next_request(&mut sender, "has expired").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stale_crl_warns_by_default_and_refuses_when_configured() {
    let r = Revocable::new();
    r.write_crl(&[], r.now - 2 * DAY, r.now - DAY);
    let warn = start(r.config(StaleCrls::Warn)).await;
    let kept = connector(&r.dir, Some(&r.kept));
    let reply = send(
        &kept,
        warn.public_addr(),
        post(VERIFY, "application/jose", "x"),
    )
    .await
    .unwrap();
    assert_eq!(reply.status, StatusCode::OK);
    let metrics = admin_get(warn.admin_addr(), "/metrics").await;
    let text = String::from_utf8_lossy(&metrics.body);
    assert!(metric(&text, "tongban_trust_stale_crls") >= 1.0);
    assert_eq!(
        metric(
            &text,
            "tongban_trust_crl_next_update_seconds{city=\"420100\"}"
        ),
        (r.now - DAY) as f64
    );
    let refuse = start(r.config(StaleCrls::Refuse)).await;
    let error = tls_refusal(&kept, refuse.public_addr()).await;
    // and `config check` says so before the gateway starts
    let path = common::write_serve_config(&r.dir, "");
    let text = std::fs::read_to_string(&path).unwrap().replace(
        "[trust]\ndir = \"trust\"\n",
        "[trust]\ndir = \"trust\"\nstale_crls = \"refuse\"\n",
    );
    std::fs::write(&path, text).unwrap();
    let checked = tongban::server::config::check::check(&path).unwrap();
    assert!(
        checked
            .notices
            .iter()
            .any(|n| n
                .contains("callers-ca.pem: past its nextUpdate, and `stale_crls = \"refuse\"`")),
        "{:?}",
        checked.notices
    );
    assert!(error.contains("alert"), "{error}");
    // callers of CAs whose CRLs are fresh (or that publish none) are not concerned
    let wuhan = connector(&r.dir, Some(&Pki::shared().client("420100-GOV_SERVICE")));
    let reply = send(
        &wuhan,
        refuse.public_addr(),
        post(VERIFY, "application/jose", "x"),
    )
    .await
    .unwrap();
    assert_eq!(reply.status, StatusCode::OK);
}
