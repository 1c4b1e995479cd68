//! The window desk and the hall screen in a real headless Chromium (Debian `chromium` and
//! `chromium-driver`), the browser presenting the workstation's client certificate itself.
//!
//! Covered: the three ways in (the scanner's typing and a paste into the field, an uploaded
//! image of the QR code, the camera fed a video of one), valid, tampered, expired and garbage
//! licences, the masked id and no full id anywhere in the DOM, keyboard-only use, no CSP
//! violation and nothing stored; the screen updating itself without a reload. Screenshots go to
//! a temporary folder, or to `docs/images/` with `UPDATE_SCREENSHOTS=1`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "test code: a failure here is a failed test"
)]

#[path = "common/browser.rs"]
mod browser;
#[path = "common/gateway.rs"]
mod gateway;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde_json::{json, Value};

use browser::{write_y4m, Browser, Launch};
use gateway::{admin_get, config_in, connector, post, send, Pki};
use tongban::audit::{AuditLog, AuditOptions, CallerId, Outcome, Record};
use tongban::catalog::Catalog;
use tongban::policy::synthetic::Rng;
use tongban::policy::PolicySet;
use tongban::server::config::Upstream;
use tongban::server::demo::qr::KidSigners;
use tongban::time::{parse_rfc3339, FixedClock};

const WUHAN: &str = "420100-GOV_SERVICE";

fn repo(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)
}

/// The holder id in a licence's payload.
fn holder_id(licence: &str) -> String {
    let payload = licence.trim().split('.').nth(1).unwrap();
    let claims: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap();
    claims["holder"]["id"].as_str().unwrap().to_owned()
}

/// Where screenshots go: `docs/images/` when asked to update them, else a temporary folder.
fn screenshot_dir(temp: &Path) -> PathBuf {
    if std::env::var_os("UPDATE_SCREENSHOTS").is_some_and(|v| v == "1") {
        repo("docs/images")
    } else {
        temp.to_path_buf()
    }
}

fn save_png(dir: &Path, name: &str, png: &[u8]) {
    assert!(
        png.starts_with(b"\x89PNG\r\n\x1a\n") && png.len() > 10_000,
        "{name}: a PNG"
    );
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(dir.join(name), png).unwrap();
}

/// The shipped policies (71 items in 18 categories), their upstreams all configured (never
/// called here), and a day of records already in the audit log: the screen starts with them.
fn config_with_a_busy_morning(pki: &Path, work: &Path) -> tongban::server::Config {
    let catalog = Catalog::embedded().unwrap();
    let policies = PolicySet::load(&repo("policies"), &catalog, None).unwrap();
    let mut c = config_in(pki, work);
    c.policies_dir = Some(repo("policies"));
    for item in policies.items() {
        c.upstreams.insert(
            item.upstream.clone(),
            Upstream {
                url: "http://127.0.0.1:9".into(),
                timeout: std::time::Duration::from_secs(1),
                ca: None,
            },
        );
    }
    let log = AuditLog::open(c.audit.path.as_ref().unwrap(), AuditOptions::default()).unwrap();
    let cities: Vec<&str> = catalog.cities().iter().map(|c| c.code.as_str()).collect();
    let types = catalog.licence_types();
    let mut rng = Rng::new(7);
    // a few busy items and cities, as in a real hall: the lower indexes more often
    let mut skewed = |n: usize| {
        let bound = rng.below(n) + 1;
        rng.below(bound)
    };
    for i in 0..1_200 {
        let item = &policies.items()[skewed(policies.items().len())];
        let city = cities[skewed(cities.len())];
        let decision = if i % 9 == 0 {
            Outcome::Deny
        } else {
            Outcome::Permit
        };
        let caller = CallerId::new(city, "GOV_SERVICE", "org");
        log.append(&Record::exchange("r", caller, &item.id, "P", decision))
            .unwrap();
    }
    for i in 0..800 {
        let t = &types[skewed(24)];
        let valid = i % 11 != 0;
        let decision = if valid {
            Outcome::Valid
        } else {
            Outcome::Invalid
        };
        let caller = CallerId::new(cities[skewed(cities.len())], "GOV_SERVICE", "org");
        log.append(&Record::licence_verification(
            "r",
            caller,
            Some(t.code.clone()),
            None,
            decision,
        ))
        .unwrap();
    }
    c
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_desk_and_the_screen_in_headless_chromium() {
    let pki = Pki::shared();
    let work = tempfile::tempdir().unwrap();
    let shots = screenshot_dir(work.path());
    let clock = parse_rfc3339("2026-12-02T10:30:00+08:00").unwrap();
    let server = tongban::server::start_with_clock(
        config_with_a_busy_morning(&pki.dir, work.path()),
        Arc::new(FixedClock(clock)),
    )
    .await
    .expect("the gateway starts");
    let origin = format!("https://127.0.0.1:{}", server.public_addr().port());
    let admin = server.admin_addr();

    // licences: kid form for the QR codes, the demo's invalid ones as they are
    let signers = KidSigners::load(&pki.dir).unwrap();
    let kid = |ltype: &str| {
        let x5c = String::from_utf8(pki.licence(&format!("{ltype}.jws"))).unwrap();
        signers.kid_form(x5c.trim()).unwrap()
    };
    let business = kid("BUSINESS_LICENCE");
    let id_card = kid("ID_CARD");
    let driving = kid("DRIVING_LICENCE");
    let tampered = String::from_utf8(pki.licence("invalid/tampered.jws")).unwrap();
    // valid, with a warning: the holder's id fails its check digit (signed that way)
    let warned = {
        let x5c = String::from_utf8(pki.licence("ID_CARD.jws")).unwrap();
        let parts: Vec<&str> = x5c.trim().split('.').collect();
        let mut claims: Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
        let id = claims["holder"]["id"].as_str().unwrap().to_owned();
        let last = if id.ends_with('0') { "1" } else { "0" };
        claims["holder"]["id"] = json!(format!("{}{last}", &id[..id.len() - 1]));
        let forged = format!(
            "{}.{}.{}",
            parts[0],
            URL_SAFE_NO_PAD.encode(claims.to_string()),
            parts[2]
        );
        signers.kid_form(&forged).unwrap()
    };
    let expired = String::from_utf8(pki.licence("invalid/expired.jws")).unwrap();
    let upload = work.path().join("id-card-qr.png");
    std::fs::write(
        &upload,
        tongban::qr::encode(id_card.as_bytes())
            .unwrap()
            .png()
            .unwrap(),
    )
    .unwrap();
    let video = write_y4m(&work.path().join("camera.y4m"), 640, 480, {
        let code = tongban::qr::encode(driving.as_bytes()).unwrap();
        let (side, pixels) = code.luma(4);
        (side, Box::leak(pixels.into_boxed_slice()))
    });

    let client = pki.client(WUHAN);
    let b = Browser::launch(Launch {
        client: Some((&client.cert, &client.key)),
        origin: Some(origin.clone()),
        trust_ca: Some(&pki.dir.join("server/ca.pem")),
        camera: Some(&video),
        window: (1280, 1200),
    })
    .await;

    // the page, with the workstation's certificate chosen by the browser itself
    b.goto(&format!("{origin}/desk/")).await;
    b.set_viewport(1280, 1000).await;
    let city = b
        .wait_for(
            "the desk page",
            "return document.getElementById('station-city')?.dataset.city",
        )
        .await;
    assert_eq!(city, "420100", "the verifying city is the caller's");
    assert_eq!(
        b.script("return document.activeElement.id", json!([]))
            .await,
        "licence",
        "the field has the focus"
    );
    b.wait_for(
        "the script",
        "return !document.getElementById('scan').hidden",
    )
    .await;
    // keyboard only: the tab order is field, verify, photo, camera
    let mut order = Vec::new();
    for _ in 0..3 {
        b.keys("\u{E004}").await;
        order.push(
            b.script(
                "const e = document.activeElement; return e.id || e.type",
                json!([]),
            )
            .await,
        );
    }
    assert_eq!(order, [json!("submit"), json!("photo"), json!("camera")]);
    b.script("document.getElementById('licence').focus()", json!([]))
        .await;

    /// Empties the result, runs `act`, and waits for the new verdict card.
    async fn check(b: &Browser, what: &str, act: impl std::future::Future<Output = ()>) -> Value {
        b.script(
            "document.getElementById('result').replaceChildren()",
            json!([]),
        )
        .await;
        act.await;
        b.wait_for(
            what,
            "const v = document.getElementById('verdict'); return v && {verdict: v.dataset.verdict, \
             ltype: v.querySelector('[data-field=ltype]').innerText, \
             id: v.querySelector('[data-field=holder-id]').innerText, \
             codes: Array.from(v.querySelectorAll('[data-code]'), e => e.dataset.code), \
             text: v.innerText, \
             focus: document.activeElement.id, field: document.getElementById('licence').value}",
        )
        .await
    }

    // 1. the handheld scanner types the licence, then Enter
    let field = b.find("#licence").await;
    let v = check(&b, "a scanned licence", async {
        b.type_into(&field, &business).await;
        b.keys("\u{E007}").await;
    })
    .await;
    assert_eq!(v["verdict"], "valid", "{v}");
    assert!(v["ltype"].as_str().unwrap().contains("营业执照"), "{v}");
    let full = holder_id(&business);
    let masked = format!(
        "{}{}{}",
        &full[..6],
        "*".repeat(full.len() - 10),
        &full[full.len() - 4..]
    );
    assert!(v["id"].as_str().unwrap().contains(&masked), "{v}");
    assert_eq!(v["codes"], json!([]));
    assert_eq!(
        (v["focus"].as_str(), v["field"].as_str()),
        (Some("licence"), Some(""))
    );
    let text = v["text"].as_str().unwrap();
    for fact in [
        "武汉市",
        "有效",
        "Valid",
        "2026-12-02 10:30:00",
        "2025-06-01",
        "2035-06",
    ] {
        assert!(text.contains(fact), "`{fact}` in {text}");
    }
    assert!(!b.source().await.contains(&full), "no full id in the DOM");
    save_png(&shots, "desk-valid.png", &b.screenshot().await);

    // 2. a tampered licence, pasted
    let paste = |licence: String| {
        let b = &b;
        async move {
            b.script(
                "const f = document.getElementById('licence'); f.focus(); \
                 document.execCommand('insertText', false, arguments[0]); \
                 f.form.requestSubmit()",
                json!([licence]),
            )
            .await;
        }
    };
    let v = check(&b, "a tampered licence", paste(tampered.clone())).await;
    assert_eq!(v["verdict"], "invalid", "{v}");
    assert!(
        v["codes"]
            .as_array()
            .unwrap()
            .contains(&json!("SIGNATURE_INVALID")),
        "{v}"
    );
    let text = v["text"].as_str().unwrap();
    assert!(
        text.contains("签名验证失败") && text.contains("无效"),
        "{text}"
    );
    assert!(!b.source().await.contains(&holder_id(&tampered)));
    save_png(&shots, "desk-invalid.png", &b.screenshot().await);

    // 3. expired, and garbage
    let v = check(&b, "an expired licence", paste(expired.clone())).await;
    assert_eq!(v["verdict"], "invalid");
    assert_eq!(v["codes"], json!(["LICENCE_EXPIRED"]), "{v}");
    assert!(v["text"].as_str().unwrap().contains("证照已过有效期"));
    let v = check(&b, "garbage", paste("这不是证照 not a licence".into())).await;
    assert_eq!(v["verdict"], "invalid");
    assert_eq!(v["codes"], json!(["MALFORMED"]), "{v}");

    // a warning: still valid, amber, the code with its meaning
    let v = check(&b, "a licence with a warning", paste(warned.clone())).await;
    assert_eq!(v["verdict"], "valid", "{v}");
    assert_eq!(v["codes"], json!(["HOLDER_ID_CHECK"]), "{v}");
    assert!(v["text"].as_str().unwrap().contains("请注意警告"));
    let amber = b
        .script(
            "const v = document.getElementById('verdict'); \
             return [v.classList.contains('warn'), v.dataset.warnings, getComputedStyle(v).borderTopColor]",
            json!([]),
        )
        .await;
    assert_eq!(amber, json!([true, "1", "rgb(138, 83, 0)"]), "amber");
    assert!(!b.source().await.contains(&holder_id(&warned)));

    // 4. an uploaded image of the QR code
    let photo = b.find("#photo").await;
    let v = check(&b, "an uploaded QR image", async {
        b.type_into(&photo, upload.to_str().unwrap()).await;
    })
    .await;
    assert_eq!(v["verdict"], "valid", "{v}");
    assert!(v["ltype"].as_str().unwrap().contains("居民身份证"), "{v}");
    assert!(!b.source().await.contains(&holder_id(&id_card)));

    // 5. the camera (Chromium's fake device showing the QR code), started from the keyboard
    let v = check(&b, "the camera", async {
        b.script("document.getElementById('camera').focus()", json!([]))
            .await;
        b.keys("\u{E007}").await;
    })
    .await;
    assert_eq!(v["verdict"], "valid", "{v}");
    assert!(v["ltype"].as_str().unwrap().contains("机动车驾驶证"), "{v}");
    assert_eq!(
        b.script(
            "return [document.getElementById('camera').getAttribute('aria-pressed'), \
             document.getElementById('preview').hidden]",
            json!([])
        )
        .await,
        json!(["false", true]),
        "the camera stops once it has read a code"
    );

    // nothing kept in the browser, nothing refused by the Content-Security-Policy
    let kept = b
        .script(
            "return [localStorage.length, sessionStorage.length, document.cookie]",
            json!([]),
        )
        .await;
    assert_eq!(kept, json!([0, 0, ""]));
    let refused = b.console_errors().await;
    assert!(refused.is_empty(), "console errors: {refused:?}");

    // the six checks went through the API's path: audit, metrics
    let metrics = String::from_utf8_lossy(&admin_get(admin, "/metrics").await.body).into_owned();
    assert!(
        metrics.contains(
            "tongban_licence_verifications_total{ltype=\"BUSINESS_LICENCE\",result=\"valid\"} 1"
        ),
        "{metrics}"
    );

    // the hall screen: today's figures, updated without a reload
    b.goto(&format!("http://{admin}/screen")).await;
    b.set_viewport(1920, 1080).await;
    b.wait_for(
        "the live stream",
        "return document.getElementById('live').dataset.live === 'true'",
    )
    .await;
    let before = b
        .script("window.__probe = 'same page'; return document.getElementById('total-verifications').innerText", json!([]))
        .await;
    let before: u64 = before.as_str().unwrap().replace(',', "").parse().unwrap();
    assert!(
        before >= 806,
        "the rebuilt morning and the desk's six checks: {before}"
    );
    let tls = connector(&pki.dir, Some(&client));
    let reply = send(
        &tls,
        server.public_addr(),
        post("/v1/licences/verify", "application/jose", business.clone()),
    )
    .await
    .unwrap();
    assert_eq!(reply.status, 200);
    let after = b
        .wait_for(
            "the screen to update",
            &format!(
                "const n = document.getElementById('total-verifications').innerText.replace(/,/g, ''); \
                 return Number(n) === {} && window.__probe",
                before + 1
            ),
        )
        .await;
    assert_eq!(after, "same page", "updated in place, not reloaded");
    let flows = b
        .script(
            "return document.querySelectorAll('#flows tbody tr').length",
            json!([]),
        )
        .await;
    assert_eq!(flows, 9);
    assert!(b.console_errors().await.is_empty());
    save_png(&shots, "screen.png", &b.screenshot().await);

    drop(b);
    server.handle().shutdown();
    server.wait().await;
}
