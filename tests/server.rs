//! The gateway over real TLS with real client certificates, on ephemeral ports.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "test code: a failure here is a failed test"
)]

#[path = "common/gateway.rs"]
mod common;

use std::time::Duration;

use http_body_util::Full;
use hyper::body::Bytes;
use hyper::{Request, StatusCode};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use common::{admin_get, config, connector, curl_post, metric, post, send, start, Pki};

const VERIFY: &str = "/v1/licences/verify";
const BATCH: &str = "/v1/licences/verify-batch";
const WUHAN: &str = "420100-GOV_SERVICE";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_client_certificate_gets_401_with_a_request_id() {
    let pki = Pki::shared();
    let server = start(config(&pki.dir)).await;
    let anonymous = connector(&pki.dir, None);
    let reply = send(
        &anonymous,
        server.public_addr(),
        post(VERIFY, "application/jose", "x"),
    )
    .await
    .unwrap();
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    assert_eq!(reply.headers["content-type"], "application/problem+json");
    let problem = reply.json();
    assert_eq!(problem["code"], "NO_CLIENT_CERT");
    assert_eq!(problem["status"], 401);
    assert_eq!(
        problem["request_id"].as_str().unwrap(),
        reply.headers["x-request-id"].to_str().unwrap()
    );
    // a caller's request id is echoed
    let mut req = post(BATCH, "application/json", "[]");
    req.headers_mut()
        .insert("x-request-id", "trace-42".parse().unwrap());
    let reply = send(&anonymous, server.public_addr(), req).await.unwrap();
    assert_eq!(reply.headers["x-request-id"], "trace-42");
    assert_eq!(reply.json()["request_id"], "trace-42");
    // outside /v1 there is nothing
    let reply = send(
        &anonymous,
        server.public_addr(),
        post("/", "text/plain", ""),
    )
    .await
    .unwrap();
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn untrusted_and_wrong_city_certificates_are_refused() {
    let pki = Pki::shared();
    let server = start(config(&pki.dir)).await;
    let licence = pki.licence("BUSINESS_LICENCE.jws");
    // a CA of no city: rustls refuses the handshake
    let stranger = connector(&pki.dir, Some(&pki.extra("untrusted")));
    let refused = send(
        &stranger,
        server.public_addr(),
        post(VERIFY, "application/jose", licence.clone()),
    )
    .await;
    assert!(refused.is_err(), "{refused:?}");
    // a Huangshi anchor vouching for L=420100: TLS passes (union of anchors), the API says 403
    let impostor = connector(&pki.dir, Some(&pki.extra("wrong-city")));
    let reply = send(
        &impostor,
        server.public_addr(),
        post(VERIFY, "application/jose", licence.clone()),
    )
    .await
    .unwrap();
    assert_eq!(reply.status, StatusCode::FORBIDDEN);
    assert_eq!(reply.json()["code"], "CALLER_NOT_TRUSTED");
    assert!(reply.json()["detail"].as_str().unwrap().contains("420100"));
    // an unknown department kind
    let astrologer = connector(&pki.dir, Some(&pki.extra("unknown-dept")));
    let reply = send(
        &astrologer,
        server.public_addr(),
        post(VERIFY, "application/jose", licence.clone()),
    )
    .await
    .unwrap();
    assert_eq!(reply.status, StatusCode::FORBIDDEN);
    // the same anchor vouching for its own city is fine (no organizationIdentifier needed)
    let huangshi = connector(&pki.dir, Some(&pki.extra("huangshi-no-org-id")));
    let reply = send(
        &huangshi,
        server.public_addr(),
        post(VERIFY, "application/jose", licence),
    )
    .await
    .unwrap();
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.json()["verified_for_city"], "420200");
    let metrics = admin_get(server.admin_addr(), "/metrics").await;
    let text = String::from_utf8_lossy(&metrics.body);
    assert!(
        metric(&text, "tongban_tls_handshake_failures_total") >= 1.0,
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_1_1_is_refused_and_tls_1_2_accepted() {
    let pki = Pki::shared();
    let server = start(config(&pki.dir)).await;
    let addr = server.public_addr().to_string();
    let s_client = move |version: &'static str| {
        let addr = addr.clone();
        async move {
            tokio::task::spawn_blocking(move || {
                std::process::Command::new("openssl")
                    .args(["s_client", "-connect", &addr, version])
                    .args(["-cipher", "DEFAULT@SECLEVEL=0"])
                    .stdin(std::process::Stdio::null())
                    .output()
            })
            .await
            .unwrap()
        }
    };
    let Ok(old) = s_client("-tls1_1").await else {
        eprintln!("skipped: `openssl` is not installed");
        return;
    };
    let text =
        String::from_utf8_lossy(&old.stdout).to_string() + &String::from_utf8_lossy(&old.stderr);
    if text.contains("no protocols available") {
        eprintln!("skipped: this openssl cannot offer TLS 1.1");
        return;
    }
    assert!(!old.status.success(), "{text}");
    assert!(
        text.contains("Cipher is (NONE)") && text.contains("alert"),
        "{text}"
    );
    // the same probe with TLS 1.2 gets through, so the refusal above is about the version
    let new = s_client("-tls1_2").await.unwrap();
    let text = String::from_utf8_lossy(&new.stdout);
    assert!(
        text.contains("Protocol  : TLSv1.2") && !text.contains("Cipher is (NONE)"),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verifies_single_licences_and_batches_in_order() {
    let pki = Pki::shared();
    let server = start(config(&pki.dir)).await;
    let wuhan = connector(&pki.dir, Some(&pki.client(WUHAN)));
    let addr = server.public_addr();

    let reply = send(
        &wuhan,
        addr,
        post(
            VERIFY,
            "application/jose",
            pki.licence("BUSINESS_LICENCE.jws"),
        ),
    )
    .await
    .unwrap();
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.headers["content-type"], "application/json");
    assert!(reply.headers.contains_key("x-request-id"));
    let v = reply.json();
    assert_eq!(v["valid"], true, "{v}");
    assert_eq!(v["ltype"], "BUSINESS_LICENCE");
    assert_eq!(v["verified_for_city"], "420100");
    assert_eq!(v["cached"], false);

    let reply = send(
        &wuhan,
        addr,
        post(VERIFY, "text/plain", pki.licence("invalid/tampered.jws")),
    )
    .await
    .unwrap();
    let v = reply.json();
    assert_eq!(v["valid"], false);
    assert_eq!(v["errors"][0]["code"], "SIGNATURE_INVALID", "{v}");

    let batch: Vec<String> = [
        "invalid/expired.jws",
        "BUSINESS_LICENCE.jws",
        "not a licence",
        "BIRTH_MEDICAL_CERT.jws",
    ]
    .iter()
    .map(|f| {
        if f.ends_with(".jws") {
            String::from_utf8(pki.licence(f)).unwrap()
        } else {
            f.to_string()
        }
    })
    .collect();
    let reply = send(
        &wuhan,
        addr,
        post(
            BATCH,
            "application/json",
            serde_json::to_vec(&batch).unwrap(),
        ),
    )
    .await
    .unwrap();
    assert_eq!(reply.status, StatusCode::OK);
    let verdicts = reply.json();
    let verdicts = verdicts.as_array().unwrap();
    assert_eq!(verdicts.len(), 4);
    assert_eq!(verdicts[0]["errors"][0]["code"], "LICENCE_EXPIRED");
    assert_eq!(verdicts[1]["ltype"], "BUSINESS_LICENCE");
    assert_eq!(verdicts[1]["valid"], true);
    assert_eq!(verdicts[2]["errors"][0]["code"], "MALFORMED");
    assert_eq!(verdicts[3]["ltype"], "BIRTH_MEDICAL_CERT");

    // bad requests
    let reply = send(&wuhan, addr, post(BATCH, "application/json", "{\"a\":1}"))
        .await
        .unwrap();
    assert_eq!(
        (reply.status, reply.json()["code"].clone()),
        (StatusCode::BAD_REQUEST, "BAD_REQUEST".into())
    );
    let reply = send(&wuhan, addr, post(VERIFY, "application/jose", "  \n"))
        .await
        .unwrap();
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    let reply = send(&wuhan, addr, post(VERIFY, "image/png", "x"))
        .await
        .unwrap();
    assert_eq!(reply.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let get = Request::get(VERIFY)
        .header("host", "localhost")
        .body(Full::new(Bytes::new()))
        .unwrap();
    let reply = send(&wuhan, addr, get).await.unwrap();
    assert_eq!(reply.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(reply.headers["allow"], "POST");
    assert_eq!(reply.json()["code"], "METHOD_NOT_ALLOWED");
    let reply = send(&wuhan, addr, post("/v1/nothing", "text/plain", ""))
        .await
        .unwrap();
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_bodies_and_batches_get_413() {
    let pki = Pki::shared();
    let mut config = config(&pki.dir);
    config.limits.max_batch = 2;
    let server = start(config).await;
    let wuhan = connector(&pki.dir, Some(&pki.client(WUHAN)));
    let addr = server.public_addr();
    // a declared length over the limit is refused before any body is read
    let head = format!(
        "POST {VERIFY} HTTP/1.1\r\nhost: localhost\r\ncontent-type: application/jose\r\ncontent-length: {}\r\n\r\n",
        200 * 1024
    );
    let text = raw_exchange(&wuhan, addr, head.into_bytes()).await;
    assert!(text.starts_with("HTTP/1.1 413"), "{text}");
    assert!(text.contains("\"code\":\"BODY_TOO_LARGE\""), "{text}");
    // a chunked body is cut off once it passes the limit
    let chunk = vec![b'a'; 64 * 1024];
    let mut raw = format!(
        "POST {VERIFY} HTTP/1.1\r\nhost: localhost\r\ncontent-type: application/jose\r\ntransfer-encoding: chunked\r\n\r\n"
    )
    .into_bytes();
    for _ in 0..3 {
        raw.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
        raw.extend_from_slice(&chunk);
        raw.extend_from_slice(b"\r\n");
    }
    raw.extend_from_slice(b"0\r\n\r\n");
    let text = raw_exchange(&wuhan, addr, raw).await;
    assert!(text.starts_with("HTTP/1.1 413"), "{text}");
    let three = serde_json::to_vec(&["a", "b", "c"]).unwrap();
    let reply = send(&wuhan, addr, post(BATCH, "application/json", three))
        .await
        .unwrap();
    assert_eq!(reply.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert!(reply.json()["detail"]
        .as_str()
        .unwrap()
        .contains("limit of 2"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cache_hits_are_marked_and_counted() {
    let pki = Pki::shared();
    let server = start(config(&pki.dir)).await;
    let wuhan = connector(&pki.dir, Some(&pki.client(WUHAN)));
    let licence = pki.licence("BUSINESS_LICENCE.jws");
    let first = send(
        &wuhan,
        server.public_addr(),
        post(VERIFY, "application/jose", licence.clone()),
    )
    .await
    .unwrap();
    let second = send(
        &wuhan,
        server.public_addr(),
        post(VERIFY, "application/jose", licence.clone()),
    )
    .await
    .unwrap();
    assert_eq!(first.json()["cached"], false);
    assert_eq!(second.json()["cached"], true);
    // another verifying city is another key
    let xianning = connector(&pki.dir, Some(&pki.client("421200-GOV_SERVICE")));
    let other = send(
        &xianning,
        server.public_addr(),
        post(VERIFY, "application/jose", licence),
    )
    .await
    .unwrap();
    assert_eq!(other.json()["cached"], false);
    let text = String::from_utf8(
        admin_get(server.admin_addr(), "/metrics")
            .await
            .body
            .to_vec(),
    )
    .unwrap();
    assert_eq!(
        metric(&text, "tongban_licence_cache_hits_total"),
        1.0,
        "{text}"
    );
    assert_eq!(
        metric(&text, "tongban_licence_cache_misses_total"),
        2.0,
        "{text}"
    );
    assert_eq!(
        metric(
            &text,
            "tongban_licence_verifications_total{ltype=\"BUSINESS_LICENCE\",result=\"valid\"}"
        ),
        3.0,
        "{text}"
    );
    assert_eq!(
        admin_get(server.admin_addr(), "/healthz").await.status,
        StatusCode::OK
    );
    assert_eq!(
        admin_get(server.admin_addr(), "/readyz").await.status,
        StatusCode::OK
    );
    assert_eq!(
        admin_get(server.admin_addr(), "/nope").await.status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn good_reload_empties_the_cache_and_bad_reload_keeps_the_old_state() {
    let pki = Pki::shared();
    let temp = tempfile::tempdir().unwrap();
    let dir = pki.copy(&temp.path().join("pki"));
    let server = start(config(&dir)).await;
    let handle = server.handle();
    let wuhan = connector(&dir, Some(&pki.client(WUHAN)));
    let addr = server.public_addr();
    let licence = pki.licence("BUSINESS_LICENCE.jws");
    let verify = || post(VERIFY, "application/jose", licence.clone());

    // keep one connection open across the reloads: it must not be dropped
    let tls = common::tls_connect(&wuhan, addr).await.unwrap();
    let (mut kept, conn) = hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(tls))
        .await
        .unwrap();
    tokio::spawn(conn);
    assert_eq!(
        kept.send_request(verify()).await.unwrap().status(),
        StatusCode::OK
    );

    send(&wuhan, addr, verify()).await.unwrap();
    assert_eq!(
        send(&wuhan, addr, verify()).await.unwrap().json()["cached"],
        true
    );
    handle.reload().await.expect("good reload");
    assert_eq!(
        send(&wuhan, addr, verify()).await.unwrap().json()["cached"],
        false
    );

    // break Wuhan's anchors: the reload fails and the previous trust stays in force
    std::fs::write(dir.join("trust/420100/roots.pem"), "not a certificate").unwrap();
    let err = handle.reload().await.expect_err("bad reload");
    assert!(err.to_string().contains("roots.pem"), "{err}");
    let reply = send(&wuhan, addr, verify()).await.unwrap();
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.json()["valid"], true);
    kept.ready().await.unwrap();
    assert_eq!(
        kept.send_request(verify()).await.unwrap().status(),
        StatusCode::OK
    );

    let text = String::from_utf8(
        admin_get(server.admin_addr(), "/metrics")
            .await
            .body
            .to_vec(),
    )
    .unwrap();
    assert_eq!(
        metric(
            &text,
            "tongban_reloads_total{result=\"ok\",what=\"trust_policies\"}"
        ),
        1.0,
        "{text}"
    );
    assert_eq!(
        metric(
            &text,
            "tongban_reloads_total{result=\"error\",what=\"trust_policies\"}"
        ),
        1.0,
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_finishes_the_request_in_flight() {
    let pki = Pki::shared();
    let server = start(config(&pki.dir)).await;
    let handle = server.handle();
    let addr = server.public_addr();
    let admin = server.admin_addr();
    let wuhan = connector(&pki.dir, Some(&pki.client(WUHAN)));
    let licence = pki.licence("BUSINESS_LICENCE.jws");
    let (head, tail) = licence.split_at(licence.len() / 2);

    // a request whose body is only half sent when the shutdown starts
    let mut tls = common::tls_connect(&wuhan, addr).await.unwrap();
    let headers = format!(
        "POST {VERIFY} HTTP/1.1\r\nhost: localhost\r\ncontent-type: application/jose\r\ncontent-length: {}\r\n\r\n",
        licence.len()
    );
    tls.write_all(headers.as_bytes()).await.unwrap();
    tls.write_all(head).await.unwrap();
    tls.flush().await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;

    handle.shutdown();
    assert_eq!(
        admin_get(admin, "/readyz").await.status,
        StatusCode::SERVICE_UNAVAILABLE
    );
    tokio::time::sleep(Duration::from_millis(200)).await;
    // no new connections
    assert!(common::tls_connect(&wuhan, addr).await.is_err());

    tls.write_all(tail).await.unwrap();
    tls.flush().await.unwrap();
    let mut response = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(10), tls.read_to_end(&mut response)).await;
    let text = String::from_utf8_lossy(&response);
    assert!(text.starts_with("HTTP/1.1 200"), "{text}");
    assert!(text.contains("\"valid\":true"), "{text}");
    tokio::time::timeout(Duration::from_secs(10), server.wait())
        .await
        .expect("the server stops once drained");
}

/// Writes `bytes` on a fresh TLS connection (write errors ignored: the server may answer early)
/// and returns everything read back.
async fn raw_exchange(
    connector: &tokio_rustls::TlsConnector,
    addr: std::net::SocketAddr,
    bytes: Vec<u8>,
) -> String {
    let tls = common::tls_connect(connector, addr).await.unwrap();
    let (mut reader, mut writer) = tokio::io::split(tls);
    let writing = tokio::spawn(async move {
        let _ = writer.write_all(&bytes).await;
        let _ = writer.flush().await;
        writer
    });
    let mut response = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(10), reader.read_to_end(&mut response)).await;
    drop(writing);
    String::from_utf8_lossy(&response).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_reloads_on_sighup_and_exits_0_on_sigterm() {
    let pki = Pki::shared();
    let temp = tempfile::tempdir().unwrap();
    let dir = pki.copy(&temp.path().join("pki"));
    let config_path = common::write_serve_config(&dir, "");
    let common::ServeProcess {
        mut child,
        pid,
        public,
        admin,
    } = common::spawn_serve(&config_path).await;
    let wuhan = connector(&dir, Some(&pki.client(WUHAN)));
    let licence = pki.licence("BUSINESS_LICENCE.jws");
    let reply = send(&wuhan, public, post(VERIFY, "application/jose", licence))
        .await
        .unwrap();
    assert_eq!(reply.json()["valid"], true);

    let kill = |signal: &'static str| {
        let pid = pid.clone();
        std::process::Command::new("kill")
            .args([signal, &pid])
            .status()
            .unwrap()
    };
    assert!(kill("-HUP").success());
    let mut reloaded = false;
    for _ in 0..50 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let text = String::from_utf8(admin_get(admin, "/metrics").await.body.to_vec()).unwrap();
        if metric(
            &text,
            "tongban_reloads_total{result=\"ok\",what=\"trust_policies\"}",
        ) == 1.0
        {
            reloaded = true;
            break;
        }
    }
    assert!(reloaded, "SIGHUP did not reload");
    assert!(kill("-TERM").success());
    let status = tokio::time::timeout(Duration::from_secs(20), child.wait())
        .await
        .expect("the server exits after SIGTERM")
        .unwrap();
    assert!(status.success(), "{status:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http2_is_negotiated_by_alpn() {
    let pki = Pki::shared();
    let server = start(config(&pki.dir)).await;
    let h2 = common::connector_with_alpn(&pki.dir, Some(&pki.client(WUHAN)), vec![b"h2".to_vec()]);
    let tls = common::tls_connect(&h2, server.public_addr())
        .await
        .unwrap();
    assert_eq!(tls.get_ref().1.alpn_protocol(), Some(&b"h2"[..]));
    let (mut sender, conn) = hyper::client::conn::http2::handshake(
        hyper_util::rt::TokioExecutor::new(),
        hyper_util::rt::TokioIo::new(tls),
    )
    .await
    .unwrap();
    tokio::spawn(conn);
    let req = Request::post(format!("https://localhost{VERIFY}"))
        .header("content-type", "application/jose")
        .body(Full::new(Bytes::from(pki.licence("BUSINESS_LICENCE.jws"))))
        .unwrap();
    let response = sender.send_request(req).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.version(), hyper::Version::HTTP_2);
}

/// Sessions resume by default (rustls' TLS 1.3 tickets); `[tls] session_resumption = false`
/// makes every connection a full handshake with the client certificate (benches/compare's
/// handshake scenario relies on it).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn session_resumption_can_be_turned_off() {
    let pki = Pki::shared();
    for resumption in [true, false] {
        let server = start(tongban::server::config::Config {
            tls_session_resumption: resumption,
            ..config(&pki.dir)
        })
        .await;
        // one client configuration, so one session cache, for both connections
        let client = connector(&pki.dir, Some(&pki.client(WUHAN)));
        let first = send(
            &client,
            server.public_addr(),
            post(VERIFY, "application/jose", "x"),
        )
        .await
        .unwrap();
        assert_eq!(first.status, StatusCode::OK);
        let second = common::tls_connect(&client, server.public_addr())
            .await
            .unwrap();
        let expected = if resumption {
            rustls::HandshakeKind::Resumed
        } else {
            rustls::HandshakeKind::Full
        };
        assert_eq!(
            second.get_ref().1.handshake_kind(),
            Some(expected),
            "resumption {resumption}"
        );
    }
}

/// The demo's SM2 cities (Huanggang, Xianning) sign licences with SM2 and call the gateway with
/// P-256 TLS certificates under a TLS root beside their SM2 root (rustls has no SM2): their
/// callers connect, and SM2 licences verify for any city, cached like any other.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sm2_cities_call_through_their_tls_root_and_sm2_licences_verify() {
    use base64::Engine as _;
    let pki = Pki::shared();
    let server = start(config(&pki.dir)).await;
    let addr = server.public_addr();
    let sm2_licences: Vec<Vec<u8>> = std::fs::read_dir(pki.dir.join("licences"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "jws"))
        .map(|p| std::fs::read(p).unwrap())
        .filter(|jws| {
            let header = jws.split(|b| *b == b'.').next().unwrap();
            let header = base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(header)
                .unwrap();
            serde_json::from_slice::<serde_json::Value>(&header).unwrap()["alg"] == "SM2"
        })
        .collect();
    assert!(
        sm2_licences.len() >= 20,
        "{} SM2 demo licences",
        sm2_licences.len()
    );
    for (caller, city) in [("421200-HOUSING_FUND", "421200"), (WUHAN, "420100")] {
        let client = connector(&pki.dir, Some(&pki.client(caller)));
        for jws in &sm2_licences {
            for cached in [false, true] {
                let reply = send(&client, addr, post(VERIFY, "application/jose", jws.clone()))
                    .await
                    .unwrap();
                assert_eq!(reply.status, StatusCode::OK, "{caller}");
                let v = reply.json();
                assert_eq!(v["valid"], true, "{caller}: {v}");
                assert_eq!(v["verified_for_city"], city);
                if caller == WUHAN {
                    assert_eq!(v["cached"], cached, "{v}");
                }
            }
        }
    }
}

/// An over-limit body sent by curl over HTTP/2 (where it saw a stream error, exit 92, when the
/// body was dropped) and over HTTP/1.1 gets its 413 problem, declared or not.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_bodies_over_http2_get_413() {
    let pki = Pki::shared();
    let server = start(config(&pki.dir)).await;
    let addr = server.public_addr();
    let id = pki.client(WUHAN);
    // declared and drained (200 KiB), declared and too large to drain (3 MiB), and sent with
    // no length at all (curl reads it from a pipe)
    let cases = [
        (200 * 1024, false),
        (3 * 1024 * 1024, false),
        (300 * 1024, true),
    ];
    for ((size, from_pipe), http) in cases.into_iter().flat_map(|c| [(c, "2"), (c, "1.1")]) {
        let headers = ["content-type: application/jose"];
        let (status, stdout, stderr) = curl_post(
            &pki.dir,
            &id,
            (addr, VERIFY),
            &headers,
            size,
            from_pipe,
            http,
        )
        .await;
        assert!(
            status.success(),
            "{size} bytes: curl {:?}: {stderr}{stdout}",
            status.code()
        );
        let (problem, status) = stdout.rsplit_once('\n').unwrap();
        assert_eq!(status, format!("413 {http}"), "{size} bytes: {stdout}");
        let problem: serde_json::Value = serde_json::from_str(problem).unwrap();
        assert_eq!(problem["code"], "BODY_TOO_LARGE", "{size} bytes");
    }
}
