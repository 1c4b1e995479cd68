//! The operations files under `docs/operations/`: the Prometheus alert rules pass `promtool check
//! rules` and their unit tests (`promtool test rules`, Debian package `prometheus`), and every
//! metric the Grafana dashboard and the rules name is one the gateway really exports (read from a
//! live `/metrics` after traffic that makes every family appear: of a gateway alone and of one in
//! a cluster, on a private PostgreSQL), while every family exported is on the dashboard.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "test code: a failure here is a failed test"
)]

#[path = "common/gateway.rs"]
mod common;
#[path = "common/postgres.rs"]
mod postgres;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use http_body_util::Full;
use hyper::body::Bytes;
use hyper::Request;
use serde_json::Value;
use tokio::io::AsyncWriteExt;

use common::{admin_get, config, config_in, connector, policies_with, post, send, start, Pki};
use tongban::server::config::{AuditConfig, ClusterConfig, Upstream};

fn ops(file: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("docs/operations")
        .join(file)
}

fn promtool(args: &[&str]) -> String {
    let out = Command::new("promtool")
        .args(args)
        .current_dir(ops(""))
        .output()
        .unwrap_or_else(|e| {
            panic!("promtool (Debian package `prometheus`, installed by .ci/run) is needed: {e}")
        });
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "promtool {args:?}:\n{text}");
    text
}

#[test]
fn promtool_checks_and_tests_the_alert_rules() {
    let checked = promtool(&["check", "rules", "alerts.yml"]);
    assert!(checked.contains("SUCCESS: 12 rules found"), "{checked}");
    let tested = promtool(&["test", "rules", "alerts.test.yml"]);
    assert!(tested.contains("SUCCESS"), "{tested}");
    // every rule has a unit test that fires it
    let rules = std::fs::read_to_string(ops("alerts.yml")).unwrap();
    let tests = std::fs::read_to_string(ops("alerts.test.yml")).unwrap();
    for name in rules
        .lines()
        .filter_map(|l| l.trim().strip_prefix("- alert: "))
    {
        assert!(
            tests.contains(&format!(
                "alertname: {name}\n        exp_alerts:\n          - "
            )),
            "{name} is never fired by alerts.test.yml"
        );
    }
}

#[test]
fn the_dashboard_provisions_with_a_datasource_variable() {
    let dash: Value =
        serde_json::from_str(&std::fs::read_to_string(ops("grafana-dashboard.json")).unwrap())
            .unwrap();
    assert!(
        dash.get("__inputs").is_none(),
        "provisioning cannot fill __inputs"
    );
    let vars = dash["templating"]["list"].as_array().unwrap();
    assert!(vars.iter().any(|v| v["type"] == "datasource"
        && v["name"] == "datasource"
        && v["query"] == "prometheus"));
    let mut ids = BTreeSet::new();
    for panel in dash["panels"].as_array().unwrap() {
        assert!(
            ids.insert(panel["id"].as_u64().unwrap()),
            "unique panel ids"
        );
        if panel["type"] == "row" {
            continue;
        }
        assert_eq!(
            panel["datasource"]["uid"], "${datasource}",
            "{}",
            panel["title"]
        );
        for t in panel["targets"].as_array().unwrap() {
            assert_eq!(t["datasource"]["uid"], "${datasource}");
            assert!(
                t["expr"].as_str().unwrap().contains("$instance"),
                "{}",
                t["expr"]
            );
        }
    }
}

/// Every `tongban_…` name in `text`.
fn names_in(text: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    let mut rest = text;
    while let Some(at) = rest.find("tongban_") {
        let tail = &rest[at..];
        let end = tail
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(tail.len());
        names.insert(tail[..end].to_owned());
        rest = &tail[end..];
    }
    names
}

const POLICY: &str = r#"
[[item]]
id = "OPS-DEAD"
name = "上游不可用"
category = "测试"
provider = "421200/HOUSING_FUND"
upstream = "dead"
methods = ["GET"]
fields = ["a"]
legal_basis = "测试"

[[item.permit]]
id = "gov"
callers = ["*/GOV_SERVICE"]
purposes = ["TEST"]
fields = ["a"]
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_metric_named_is_exported_and_every_family_is_on_the_dashboard() {
    let pki = Pki::shared();
    let work = tempfile::tempdir().unwrap();
    let mut cfg = config_in(&pki.dir, work.path());
    cfg.policies_dir = Some(policies_with(work.path(), POLICY));
    cfg.upstreams.insert(
        "dead".into(),
        Upstream {
            url: "http://127.0.0.1:9".into(),
            timeout: Duration::from_millis(500),
            ca: None,
        },
    );
    let server = start(cfg).await;
    let addr = server.public_addr();
    // traffic that makes every labelled family appear
    let tls = connector(&pki.dir, Some(&pki.client("420100-GOV_SERVICE")));
    let exchange = Request::get("/v1/exchange/OPS-DEAD/x")
        .header("host", "localhost")
        .header("x-purpose", "TEST")
        .body(Full::new(Bytes::new()))
        .unwrap();
    assert_eq!(send(&tls, addr, exchange).await.unwrap().status, 502);
    let garbage = send(
        &tls,
        addr,
        post("/v1/licences/verify", "application/jose", "x"),
    )
    .await
    .unwrap();
    assert_eq!(garbage.json()["errors"][0]["code"], "MALFORMED");
    server.handle().reload().await.unwrap();
    let mut junk = tokio::net::TcpStream::connect(addr).await.unwrap();
    junk.write_all(b"GET / HTTP/1.1\r\n\r\n").await.unwrap();
    drop(junk);

    let mut text = String::from_utf8_lossy(&admin_get(server.admin_addr(), "/metrics").await.body)
        .into_owned();
    server.handle().shutdown();
    server.wait().await;

    // a gateway of a cluster exports the database's families too
    let pg = postgres::Postgres::start();
    let mut cfg = config_in(&pki.dir, work.path());
    cfg.audit.path = None;
    cfg.cluster = Some(ClusterConfig::new(pg.conn(), "ops-1"));
    let clustered = start(cfg).await;
    let reply = send(
        &tls,
        clustered.public_addr(),
        post("/v1/licences/verify", "application/jose", "x"),
    )
    .await
    .unwrap();
    assert_eq!(reply.status, 200);
    let cluster_text =
        String::from_utf8_lossy(&admin_get(clustered.admin_addr(), "/metrics").await.body)
            .into_owned();
    assert_eq!(common::metric(&cluster_text, "tongban_db_up"), 1.0);
    assert_eq!(
        common::metric(&cluster_text, "tongban_audit_batch_records_count"),
        1.0
    );
    assert_eq!(
        common::metric(&cluster_text, "tongban_db_pool_max_connections"),
        8.0
    );
    assert!(
        !text.contains("tongban_db_"),
        "only a cluster's gateway has them"
    );
    text.push_str(&cluster_text);
    clustered.handle().shutdown();
    clustered.wait().await;

    let families: BTreeSet<String> = text
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .filter_map(|l| l.split_whitespace().next())
        .map(str::to_owned)
        .collect();
    let mut exported = families.clone();
    for f in &families {
        if text.contains(&format!("# TYPE {f} histogram")) {
            for suffix in ["_bucket", "_sum", "_count"] {
                exported.insert(format!("{f}{suffix}"));
            }
        }
    }
    let dashboard = std::fs::read_to_string(ops("grafana-dashboard.json")).unwrap();
    let rules = std::fs::read_to_string(ops("alerts.yml")).unwrap();
    let tests = std::fs::read_to_string(ops("alerts.test.yml")).unwrap();
    for (file, text) in [
        ("grafana-dashboard.json", &dashboard),
        ("alerts.yml", &rules),
        ("alerts.test.yml", &tests),
    ] {
        let named = names_in(text);
        assert!(!named.is_empty());
        let unknown: Vec<_> = named.difference(&exported).collect();
        assert!(
            unknown.is_empty(),
            "{file} names metrics tongban does not export: {unknown:?}"
        );
    }
    let on_dashboard = names_in(&dashboard);
    for family in &families {
        let covered = on_dashboard.iter().any(|n| {
            n == family
                || n.strip_prefix(family.as_str())
                    .is_some_and(|s| ["_bucket", "_sum", "_count"].contains(&s))
        });
        assert!(covered, "{family} is not on the dashboard");
    }
    assert!(families.len() >= 21, "{families:?}");
}

/// A record that cannot be written refuses its request and is counted (the alert
/// `TongbanAuditWriteFailing` watches the counter); the statistics do not count it.
#[cfg(target_os = "linux")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audit_write_failures_are_counted() {
    let pki = Pki::shared();
    let mut cfg = config(&pki.dir);
    // every write to /dev/full fails (ENOSPC)
    cfg.audit = AuditConfig::at("/dev/full".into());
    let server = start(cfg).await;
    let tls = connector(&pki.dir, Some(&pki.client("420100-GOV_SERVICE")));
    let reply = send(
        &tls,
        server.public_addr(),
        post(
            "/v1/licences/verify",
            "application/jose",
            pki.licence("ID_CARD.jws"),
        ),
    )
    .await
    .unwrap();
    assert_eq!(reply.status, 500);
    assert_eq!(reply.json()["code"], "INTERNAL");
    let text = String::from_utf8_lossy(&admin_get(server.admin_addr(), "/metrics").await.body)
        .into_owned();
    assert_eq!(
        common::metric(&text, "tongban_audit_write_failures_total"),
        1.0
    );
    let stats = admin_get(server.admin_addr(), "/stats").await.json();
    assert_eq!(stats["verifications"]["total"], 0);
    server.handle().shutdown();
    server.wait().await;
}
