//! The window desk over real TLS without a browser: the client-certificate rule, the headers and
//! assets, checks through the same path as `POST /v1/licences/verify` (audit record, metrics,
//! verdict cache), no full holder id in any answer, and what it refuses. The browser itself is
//! in `desk_browser.rs`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "test code: a failure here is a failed test"
)]

#[path = "common/gateway.rs"]
mod common;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use http_body_util::Full;
use hyper::body::Bytes;
use hyper::{Request, StatusCode};
use serde_json::Value;

use common::{
    admin_get, assert_no_inline_script, config, config_in, connector, metric, send, start, Pki,
    Reply,
};

const WUHAN: &str = "420100-GOV_SERVICE";
const FORM: &str = "application/x-www-form-urlencoded";

fn request(method: &str, path: &str, headers: &[(&str, &str)], body: &str) -> Request<Full<Bytes>> {
    let mut b = Request::builder().method(method).uri(path);
    if !headers.iter().any(|(k, _)| k.eq_ignore_ascii_case("host")) {
        b = b.header("host", "localhost");
    }
    for (k, v) in headers {
        b = b.header(*k, *v);
    }
    b.body(Full::new(Bytes::from(body.to_owned()))).unwrap()
}

fn form(licence: &[u8]) -> String {
    format!("licence={}", String::from_utf8_lossy(licence).trim())
}

fn html(reply: &Reply) -> String {
    String::from_utf8_lossy(&reply.body).into_owned()
}

fn holder_id(licence: &[u8]) -> String {
    let text = String::from_utf8_lossy(licence);
    let payload = text.trim().split('.').nth(1).unwrap();
    let claims: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap();
    claims["holder"]["id"].as_str().unwrap().to_owned()
}

fn audit_lines(path: &std::path::Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_desk_needs_a_department_certificate() {
    let pki = Pki::shared();
    let work = tempfile::tempdir().unwrap();
    let cfg = config_in(&pki.dir, work.path());
    let audit = cfg.audit.path.clone().unwrap();
    let server = start(cfg).await;
    let addr = server.public_addr();
    for (who, status) in [
        (None, StatusCode::UNAUTHORIZED),
        (Some(pki.extra("wrong-city")), StatusCode::FORBIDDEN),
        (Some(pki.extra("unknown-dept")), StatusCode::FORBIDDEN),
    ] {
        let tls = connector(&pki.dir, who.as_ref());
        for req in [
            request("GET", "/desk/", &[], ""),
            request(
                "POST",
                "/desk/verify",
                &[("content-type", FORM)],
                &form(&pki.licence("ID_CARD.jws")),
            ),
        ] {
            let reply = send(&tls, addr, req).await.unwrap();
            assert_eq!(reply.status, status, "{who:?}");
            assert_eq!(reply.headers["content-type"], "text/html; charset=utf-8");
            assert!(reply.headers.contains_key("content-security-policy"));
            let page = html(&reply);
            assert!(
                page.contains("证书") && page.contains("certificate"),
                "{page}"
            );
            assert!(!page.contains("data-verdict"));
        }
    }
    assert!(audit_lines(&audit).is_empty(), "nothing was checked");
    server.handle().shutdown();
    server.wait().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_page_its_headers_and_assets() {
    let pki = Pki::shared();
    let server = start(config(&pki.dir)).await;
    let addr = server.public_addr();
    let tls = connector(&pki.dir, Some(&pki.client(WUHAN)));
    let redirect = send(&tls, addr, request("GET", "/desk", &[], ""))
        .await
        .unwrap();
    assert_eq!(redirect.status, StatusCode::SEE_OTHER);
    assert_eq!(redirect.headers["location"], "/desk/");

    let page = send(&tls, addr, request("GET", "/desk/", &[], ""))
        .await
        .unwrap();
    assert_eq!(page.status, StatusCode::OK);
    let h = &page.headers;
    assert_eq!(h["cache-control"], "no-store");
    assert_eq!(h["x-frame-options"], "DENY");
    assert_eq!(h["x-content-type-options"], "nosniff");
    assert_eq!(h["referrer-policy"], "no-referrer");
    assert!(!h.contains_key("set-cookie"));
    let csp = h["content-security-policy"].to_str().unwrap();
    for directive in [
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "frame-ancestors 'none'",
        "form-action 'self'",
        "base-uri 'none'",
    ] {
        assert!(csp.contains(directive), "{directive} in {csp}");
    }
    assert!(!csp.contains("unsafe") && !csp.contains("http"), "{csp}");
    let text = html(&page);
    assert_no_inline_script(&text);
    assert!(
        !text.contains("http://") && !text.contains("https://"),
        "no outside resource"
    );
    assert!(text.contains("<html lang=\"zh-CN\">"));
    assert!(text.contains("<label for=\"licence\">扫码枪扫描或粘贴电子证照 <span lang=\"en\">"));
    assert!(text.contains("aria-live=\"polite\""));
    assert!(text.contains("data-city=\"420100\""));

    let js = send(&tls, addr, request("GET", "/desk/assets/jsQR.js", &[], ""))
        .await
        .unwrap();
    assert_eq!(js.status, StatusCode::OK);
    assert_eq!(js.headers["content-type"], "text/javascript; charset=utf-8");
    assert_eq!(
        tongban::crypto::hex(&tongban::crypto::sha256(&js.body)),
        "bc40c8a15196236b2314db0856f72ca0b49980cd5413b8c852a7349f5fee0859",
        "jsQR 1.4.0 as published"
    );
    let licence = send(
        &tls,
        addr,
        request("GET", "/desk/assets/jsQR.LICENSE", &[], ""),
    )
    .await
    .unwrap();
    assert!(html(&licence).contains("Apache License"));
    for (method, path, status) in [
        ("GET", "/desk/assets/nothing.js", StatusCode::NOT_FOUND),
        ("GET", "/desk/elsewhere", StatusCode::NOT_FOUND),
        ("PUT", "/desk/", StatusCode::METHOD_NOT_ALLOWED),
        ("GET", "/desk/verify", StatusCode::METHOD_NOT_ALLOWED),
    ] {
        let reply = send(&tls, addr, request(method, path, &[], ""))
            .await
            .unwrap();
        assert_eq!(reply.status, status, "{method} {path}");
    }
    server.handle().shutdown();
    server.wait().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn checks_go_through_the_api_path_and_never_show_the_full_id() {
    let pki = Pki::shared();
    let work = tempfile::tempdir().unwrap();
    let cfg = config_in(&pki.dir, work.path());
    let audit = cfg.audit.path.clone().unwrap();
    let server = start(cfg).await;
    let addr = server.public_addr();
    let tls = connector(&pki.dir, Some(&pki.client(WUHAN)));
    let licence = pki.licence("ID_CARD.jws");
    let id = holder_id(&licence);
    let metrics = || async {
        String::from_utf8_lossy(&admin_get(server.admin_addr(), "/metrics").await.body).into_owned()
    };

    for round in 0..2 {
        let reply = send(
            &tls,
            addr,
            request(
                "POST",
                "/desk/verify",
                &[("content-type", FORM)],
                &form(&licence),
            ),
        )
        .await
        .unwrap();
        assert_eq!(reply.status, StatusCode::OK);
        assert_eq!(reply.headers["cache-control"], "no-store");
        let page = html(&reply);
        assert!(page.contains("data-verdict=\"valid\""), "{page}");
        assert!(page.contains("居民身份证"));
        let masked = format!(
            "{}{}{}",
            &id[..6],
            "*".repeat(id.len() - 10),
            &id[id.len() - 4..]
        );
        assert!(page.contains(&masked), "masked as id_number");
        assert!(!page.contains(&id), "no full id in round {round}");
        assert!(
            !page.contains(String::from_utf8_lossy(&licence).trim()),
            "the licence is not echoed"
        );
        assert!(reply.headers.contains_key("x-request-id"));
    }
    // the same as the API: one audit record per check, metrics, the verdict cache
    let records = audit_lines(&audit);
    assert_eq!(records.len(), 2);
    for r in &records {
        assert_eq!(r["kind"], "licence_verification");
        assert_eq!(r["decision"], "valid");
        assert_eq!(r["ltype"], "ID_CARD");
        assert_eq!(r["caller"]["city"], "420100");
        assert_eq!(r["caller"]["department"], "GOV_SERVICE");
        assert!(
            !r.to_string().contains(&id),
            "the audit holds only the keyed hash"
        );
        assert_eq!(r["subject"].as_str().unwrap().len(), 64);
    }
    let text = metrics().await;
    assert_eq!(
        metric(
            &text,
            "tongban_licence_verifications_total{ltype=\"ID_CARD\",result=\"valid\"}"
        ),
        2.0
    );
    assert_eq!(metric(&text, "tongban_licence_cache_misses_total"), 1.0);
    assert_eq!(metric(&text, "tongban_licence_cache_hits_total"), 1.0);

    // an invalid one: every code with its meaning; verified for the caller's city
    let reply = send(
        &tls,
        addr,
        request(
            "POST",
            "/desk/verify",
            &[("content-type", FORM)],
            &form(&pki.licence("invalid/tampered.jws")),
        ),
    )
    .await
    .unwrap();
    let page = html(&reply);
    assert!(page.contains("data-verdict=\"invalid\""));
    assert!(page.contains("<code>SIGNATURE_INVALID</code> <span class=\"meaning\">签名验证失败"));
    assert!(!page.contains(&holder_id(&pki.licence("invalid/tampered.jws"))));
    let stats = admin_get(server.admin_addr(), "/stats").await.json();
    assert_eq!(stats["verifications"]["total"], 3);
    assert_eq!(stats["verifications"]["invalid"], 1);
    server.handle().shutdown();
    server.wait().await;
}

/// Headers, body, the status and what the page says.
type Refusal<'a> = (Vec<(&'a str, &'a str)>, &'a str, StatusCode, &'a str);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_the_desk_refuses() {
    let pki = Pki::shared();
    let work = tempfile::tempdir().unwrap();
    let mut cfg = config_in(&pki.dir, work.path());
    cfg.limits.max_body_bytes = 80 * 1024;
    let audit = cfg.audit.path.clone().unwrap();
    let server = start(cfg).await;
    let addr = server.public_addr();
    let port = addr.port().to_string();
    let tls = connector(&pki.dir, Some(&pki.client(WUHAN)));
    let good = form(&pki.licence("ID_CARD.jws"));
    let this_origin = format!("https://localhost:{port}");
    let host = format!("localhost:{port}");
    let big = format!("licence={}", "A".repeat(100 * 1024));
    let cases: [Refusal; 6] = [
        (
            vec![("content-type", FORM), ("origin", "https://evil.example")],
            &good,
            StatusCode::FORBIDDEN,
            "拒绝跨站提交",
        ),
        (
            vec![("content-type", FORM), ("sec-fetch-site", "cross-site")],
            &good,
            StatusCode::FORBIDDEN,
            "拒绝跨站提交",
        ),
        (
            vec![("content-type", "application/json")],
            &good,
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "请通过页面表单提交",
        ),
        (
            vec![("content-type", FORM)],
            "licence=+++",
            StatusCode::BAD_REQUEST,
            "请扫描或粘贴",
        ),
        (
            vec![("content-type", FORM)],
            "other=1",
            StatusCode::BAD_REQUEST,
            "请扫描或粘贴",
        ),
        (
            vec![("content-type", FORM)],
            &big,
            StatusCode::PAYLOAD_TOO_LARGE,
            "内容过长",
        ),
    ];
    for (headers, body, status, says) in cases {
        let reply = send(&tls, addr, request("POST", "/desk/verify", &headers, body))
            .await
            .unwrap();
        assert_eq!(reply.status, status, "{headers:?}");
        let page = html(&reply);
        assert!(page.contains(says), "{says} in {page}");
        assert!(!page.contains("data-verdict"));
    }
    assert!(
        audit_lines(&audit).is_empty(),
        "nothing refused was checked"
    );
    // the page's own origin (as a browser sends it) is accepted
    let reply = send(
        &tls,
        addr,
        request(
            "POST",
            "/desk/verify",
            &[
                ("content-type", FORM),
                ("host", &host),
                ("origin", &this_origin),
                ("sec-fetch-site", "same-origin"),
            ],
            &good,
        ),
    )
    .await
    .unwrap();
    assert!(html(&reply).contains("data-verdict=\"valid\""));
    assert_eq!(audit_lines(&audit).len(), 1);
    server.handle().shutdown();
    server.wait().await;
}
