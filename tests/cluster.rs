//! Several gateways on one PostgreSQL (contract section 9), with real `tongban serve` processes
//! and a private PostgreSQL (15 or newer) started by each test (`tests/common/postgres.rs`).
//!
//! The scenarios run one at a time (they share two cores with the gateways they start):
//! - three gateways: exchanges spread over them, every answered request id once in the exported
//!   chains, every chain verifying (database and exported file), the statistics of the whole
//!   cluster on every node; a second process with a running node's name refused; `kill -9` of
//!   one node under load loses no answered record, and the node restarted with its name resumes
//!   its chain; changed, deleted and forked rows named by `audit verify --database`;
//! - the global rate limit held within 2 % of one gateway's count, where three in-process
//!   limiters permit about three times as much;
//! - the database stopped under load (503 `AUDIT_UNAVAILABLE`, `/readyz` 503, no 2xx without
//!   its record) and started again (service back within 10 s, no gateway restarted);
//! - TLS to the database with the configured roots, and a wrong root refused;
//! - migrations recorded, and a database that is newer or was migrated differently refused.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "test code: a failure here is a failed test"
)]

#[path = "common/cluster.rs"]
mod cluster_common;
#[path = "common/gateway.rs"]
mod gateway;
#[path = "common/postgres.rs"]
mod postgres;

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};
use tokio::sync::Mutex;

use cluster_common::{chain_ids, exchange, stderr, Answer, Gateway, Load, World, LIMITED, QUERY};
use gateway::{post, send, Pki};

/// One scenario at a time (each starts a database and several gateways on two cores).
static SERIAL: Mutex<()> = Mutex::const_new(());

/// Every answer's id appears exactly once in the union of the exported chains.
fn assert_recorded_once(world: &World, nodes: &[&str], answers: &[Answer]) -> usize {
    let mut seen = std::collections::BTreeMap::new();
    for node in nodes {
        let (ids, seqs) = chain_ids(&world.export(node));
        assert_eq!(
            seqs,
            (1..=seqs.len() as u64).collect::<Vec<_>>(),
            "{node}: seq 1..n"
        );
        for (id, n) in ids {
            *seen.entry(id).or_insert(0) += n;
        }
    }
    let missing: Vec<&str> = answers
        .iter()
        .filter(|a| !seen.contains_key(&a.id))
        .map(|a| a.id.as_str())
        .collect();
    assert!(missing.is_empty(), "answered but not recorded: {missing:?}");
    let twice: Vec<(&String, &usize)> = seen.iter().filter(|(_, n)| **n > 1).collect();
    assert!(twice.is_empty(), "recorded more than once: {twice:?}");
    seen.len()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_gateways_one_chain_each() {
    let _serial = SERIAL.lock().await;
    let world = World::new().await;
    let [gw1, gw2, gw3] = world.three().await;
    for g in [&gw1, &gw2, &gw3] {
        assert_eq!(g.ready().await, 200, "{} ready", g.node);
    }

    // exchanges spread over the nodes, and a licence verified on each
    let load = Load::start(&world.tls, &[&gw1, &gw2, &gw3], 2, QUERY, "spread");
    load.until(Duration::from_secs(60), |a| a.len() >= 300)
        .await;
    let spread = load.finish().await;
    assert!(
        spread.iter().all(|a| a.status == 200),
        "{:?}",
        spread.iter().find(|a| a.status != 200)
    );
    let pki = Pki::shared();
    for g in [&gw1, &gw2, &gw3] {
        let reply = send(
            &world.tls,
            g.public(),
            post(
                "/v1/licences/verify",
                "application/jose",
                pki.licence("ID_CARD.jws"),
            ),
        )
        .await
        .unwrap();
        assert_eq!(reply.status, 200);
    }
    let recorded = assert_recorded_once(&world, &["gw-1", "gw-2", "gw-3"], &spread);
    assert_eq!(
        recorded,
        spread.len() + 3,
        "the exchanges and the three verifications"
    );
    for node in ["gw-1", "gw-2", "gw-3"] {
        let n = spread.iter().filter(|a| a.node == node).count();
        assert!(n >= 50, "{node} answered {n} of {}", spread.len());
        let file = world.export(node);
        let out = world.tongban(&["audit", "verify", file.to_str().unwrap()]);
        assert!(out.status.success(), "{node}: {}", stderr(&out));
    }
    let (code, out, err) = world.verify_database();
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("3 node(s), 3 intact, 0 broken"), "{out}");

    // every node shows the whole cluster's day
    tokio::time::sleep(Duration::from_millis(1500)).await;
    for g in [&gw1, &gw2, &gw3] {
        let stats = g.stats().await;
        assert_eq!(
            stats["exchanges"]["total"],
            spread.len(),
            "{}: {stats}",
            g.node
        );
        assert_eq!(
            stats["exchanges"]["by_category"]["住房公积金"],
            spread.len()
        );
        assert_eq!(stats["verifications"]["total"], 3, "{}: {stats}", g.node);
        assert_eq!(stats["verifications"]["by_ltype"]["ID_CARD"], 3);
    }

    // a second process with a running node's name is refused
    let second = world.config("gw-1", true, "");
    let started = Instant::now();
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_tongban"))
        .args(["serve", "--config", second.to_str().unwrap()])
        .output()
        .await
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("node `gw-1` is already running"),
        "{}",
        stderr(&out)
    );
    assert!(started.elapsed() < Duration::from_secs(15));
    assert_eq!(gw1.ready().await, 200, "the running gw-1 serves on");

    // kill -9 of one node under load: nothing answered is lost
    let load = Load::start(&world.tls, &[&gw1, &gw2, &gw3], 2, QUERY, "kill");
    load.until(Duration::from_secs(60), |a| {
        a.iter().filter(|x| x.node == "gw-2").count() >= 100
    })
    .await;
    gw2.kill().await;
    let killed_at = load.started.elapsed();
    load.until(Duration::from_secs(60), |a| {
        a.iter().filter(|x| x.at > killed_at).count() >= 100
    })
    .await;
    let under_kill = load.finish().await;
    assert!(under_kill.iter().all(|a| a.status == 200));
    let before = chain_ids(&world.export("gw-2")).1.len() as u64;
    // restarted with its name, it resumes its chain
    let gw2 = world.gateway("gw-2").await;
    for n in 0..5 {
        let reply = send(
            &world.tls,
            gw2.public(),
            exchange(QUERY, &format!("resumed-{n}")),
        )
        .await
        .unwrap();
        assert_eq!(reply.status, 200);
    }
    let (ids, seqs) = chain_ids(&world.export("gw-2"));
    assert_eq!(seqs.len() as u64, before + 5);
    assert!(ids.contains_key("resumed-0"));
    let all: Vec<Answer> = spread.iter().chain(&under_kill).cloned().collect();
    assert_recorded_once(&world, &["gw-1", "gw-2", "gw-3"], &all);
    let (code, out, err) = world.verify_database();
    assert_eq!(code, 0, "after kill -9 and restart: {out}{err}");
    eprintln!(
        "kill -9: gw-2 had {before} records; {} answers in all, none lost",
        all.len()
    );

    // the table refuses changes; someone with the owner's rights going round it is found
    let changed = world.pg.psql(
        "tongban",
        "SELECT count(*) FROM tongban_audit WHERE node = 'gw-1' AND seq = 5",
    );
    assert_eq!(changed, "1");
    let refused = std::process::Command::new(postgres::bin("psql"))
        .args([
            "-h",
            "127.0.0.1",
            "-p",
            &world.pg.port.to_string(),
            "-U",
            "tongban",
            "-d",
            "tongban",
        ])
        .args([
            "-c",
            "DELETE FROM tongban_audit WHERE node = 'gw-1' AND seq = 5",
        ])
        .output()
        .unwrap();
    assert!(!refused.status.success());
    assert!(
        stderr(&refused).contains("append-only"),
        "{}",
        stderr(&refused)
    );
    world.pg.psql(
        "tongban",
        "SET session_replication_role = replica; \
         UPDATE tongban_audit SET line = replace(line, '\"status\":200', '\"status\":201') \
         WHERE node = 'gw-1' AND seq = 5; \
         DELETE FROM tongban_audit WHERE node = 'gw-2' AND seq = 7; \
         ALTER TABLE tongban_audit DROP CONSTRAINT tongban_audit_one_successor; \
         INSERT INTO tongban_audit (node, seq, ts, prev, hash, line) \
         SELECT node, (SELECT max(seq) + 1 FROM tongban_audit WHERE node = 'gw-3'), ts, prev, hash, line \
         FROM tongban_audit WHERE node = 'gw-3' AND seq = 3",
    );
    let (code, out, err) = world.verify_database();
    assert_eq!(code, 1, "{out}{err}");
    assert!(out.contains("3 node(s), 0 intact, 3 broken"), "{out}");
    assert!(
        err.contains("node `gw-1` seq 5: record changed: its line no longer hashes"),
        "{err}"
    );
    assert!(
        err.contains("node `gw-2` seq 8: gap: record(s) 7..7 missing"),
        "{err}"
    );
    assert!(
        err.contains("node `gw-3`") && err.contains("fork: records 3, "),
        "{err}"
    );
    // a NULL written where the schema had NOT NULL is a break named, not a crash of the check
    world.pg.psql(
        "tongban",
        "SET session_replication_role = replica; \
         ALTER TABLE tongban_audit ALTER COLUMN line DROP NOT NULL; \
         UPDATE tongban_audit SET line = NULL WHERE node = 'gw-1' AND seq = 6",
    );
    let (code, out, err) = world.verify_database();
    assert_eq!(code, 1, "{out}{err}");
    assert!(err.contains("node `gw-1` seq 6: "), "{err}");
    for g in [gw1, gw2, gw3] {
        g.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_rate_limit_holds_across_gateways() {
    let _serial = SERIAL.lock().await;
    let world = World::new().await;
    let window = Duration::from_secs(5);
    let rate = f64::from(cluster_common::RATE_COUNT);
    // one gateway's bucket over the window: the burst, then one request every 1/rate s
    let single = |elapsed: Duration| rate + elapsed.as_secs_f64() * rate;

    let gws = world.three().await;
    let load = Load::start(
        &world.tls,
        &gws.iter().collect::<Vec<_>>(),
        3,
        LIMITED,
        "global",
    );
    tokio::time::sleep(window).await;
    let answers = load.finish().await;
    let (permitted, elapsed) = permitted_in(&answers);
    let expected = single(elapsed);
    let ratio = permitted as f64 / expected;
    eprintln!(
        "global: {permitted} permitted of {} in {elapsed:?} over 3 gateways; one gateway: {expected:.1}; ratio {ratio:.4}",
        answers.len()
    );
    assert!(
        answers.len() as f64 > 1.5 * expected,
        "the load must exceed the rate: {} requests",
        answers.len()
    );
    assert!(
        (ratio - 1.0).abs() <= 0.02,
        "global limit off by more than 2 %: {ratio}"
    );
    let limited = answers.iter().filter(|a| a.status == 429).count();
    assert_eq!(limited + permitted, answers.len(), "only 200 and 429");
    assert!(answers
        .iter()
        .filter(|a| a.status == 429)
        .all(|a| a.code.as_deref() == Some("RATE_LIMITED")));
    for g in gws {
        g.stop().await;
    }

    // the same load on three gateways alone: each its own bucket
    let mut alone = Vec::new();
    for node in ["solo-1", "solo-2", "solo-3"] {
        alone.push(Gateway::spawn(node, &world.config(node, false, "")).await);
    }
    let load = Load::start(
        &world.tls,
        &alone.iter().collect::<Vec<_>>(),
        3,
        LIMITED,
        "local",
    );
    tokio::time::sleep(window).await;
    let answers = load.finish().await;
    let (permitted_alone, elapsed) = permitted_in(&answers);
    let times = permitted_alone as f64 / single(elapsed);
    eprintln!("in-process: {permitted_alone} permitted in {elapsed:?} over 3 gateways: {times:.2}× one gateway's");
    assert!(
        times > 2.5,
        "three in-process limiters permit about 3×: {times}"
    );
    for g in alone {
        g.stop().await;
    }
}

/// The 200s of a load and the time from its first request to its last answer.
fn permitted_in(answers: &[Answer]) -> (usize, Duration) {
    let first = answers
        .iter()
        .map(|a| a.at.saturating_sub(a.latency))
        .min()
        .unwrap_or_default();
    let last = answers.iter().map(|a| a.at).max().unwrap_or_default();
    (
        answers.iter().filter(|a| a.status == 200).count(),
        last - first,
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_database_going_away_and_coming_back() {
    let _serial = SERIAL.lock().await;
    let mut world = World::new().await;
    let gws = world.three().await;
    let load = Load::start(
        &world.tls,
        &gws.iter().collect::<Vec<_>>(),
        2,
        QUERY,
        "outage",
    );
    load.until(Duration::from_secs(60), |a| a.len() >= 100)
        .await;
    let stopping = load.started.elapsed();
    world.pg.stop();
    let stopped = load.started.elapsed();
    // every node out of the balancer, and refusing
    let deadline = Instant::now() + Duration::from_secs(5);
    for g in &gws {
        while g.ready().await != 503 {
            assert!(Instant::now() < deadline, "{}: /readyz still 200", g.node);
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    // down for two seconds at least: the idle pings and the pool meet it too
    tokio::time::sleep(Duration::from_secs(2)).await;
    let forwarded_before = world.upstream_requests.load(Ordering::Relaxed);
    let measured_from = load.started.elapsed();
    load.until(Duration::from_secs(10), |a| {
        a.iter()
            .filter(|x| x.at > measured_from && x.status == 503)
            .count()
            >= 30
    })
    .await;
    let down_until = load.started.elapsed();
    // nothing reached the upstream while no record could be written (the item has no rate, so
    // only the up-front check stops it)
    assert_eq!(
        world.upstream_requests.load(Ordering::Relaxed),
        forwarded_before,
        "requests forwarded while the database was away"
    );
    let restarted = Instant::now();
    world.pg.restart();
    let mut back = Vec::new();
    for g in &gws {
        while g.ready().await != 200 {
            assert!(
                restarted.elapsed() < Duration::from_secs(10),
                "{}: not back in 10 s",
                g.node
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        back.push(restarted.elapsed());
    }
    let restart_at = load.started.elapsed();
    load.until(Duration::from_secs(10), |a| {
        gws.iter().all(|g| {
            a.iter()
                .any(|x| x.node == g.node && x.at > restart_at && x.status == 200)
        })
    })
    .await;
    let served_again = restarted.elapsed();
    let answers = load.finish().await;
    assert!(served_again < Duration::from_secs(10), "{served_again:?}");

    // while the database was away: refusals only, as problem documents, quickly
    let during: Vec<&Answer> = answers
        .iter()
        .filter(|a| a.at > stopped && a.at.saturating_sub(a.latency) < down_until)
        .collect();
    assert!(during
        .iter()
        .all(|a| a.status != 200 || a.at.saturating_sub(a.latency) < stopped));
    let refused: Vec<&&Answer> = during.iter().filter(|a| a.status != 200).collect();
    assert!(refused.len() >= 30);
    assert!(
        refused
            .iter()
            .all(|a| a.status == 503 && a.code.as_deref() == Some("AUDIT_UNAVAILABLE")),
        "{:?}",
        refused.iter().find(|a| a.status != 503)
    );
    let slowest = refused.iter().map(|a| a.latency).max().unwrap();
    assert!(
        slowest < Duration::from_secs(3),
        "within the upstream timeout: {slowest:?}"
    );
    // no 2xx without its record
    let ok: Vec<Answer> = answers
        .iter()
        .filter(|a| a.status == 200)
        .cloned()
        .collect();
    assert_recorded_once(&world, &["gw-1", "gw-2", "gw-3"], &ok);
    let (code, out, err) = world.verify_database();
    assert_eq!(code, 0, "{out}{err}");
    let metrics = gws[0].metrics().await;
    assert!(
        gateway::metric(&metrics, "tongban_db_reconnects_total") >= 1.0,
        "{metrics}"
    );
    assert_eq!(gateway::metric(&metrics, "tongban_db_up"), 1.0);
    eprintln!(
        "outage: stopped {:?} after the start ({:?} to stop), {} refused with 503 (slowest {slowest:?}), \
         ready again after {back:?}, serving after {served_again:?}",
        stopping,
        stopped - stopping,
        refused.len()
    );
    for g in gws {
        g.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_to_the_database() {
    let _serial = SERIAL.lock().await;
    use tongban::pki::{CertSpec, Issued};
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let (nb, na) = (now - 3600, now + 86_400);
    let ca = Issued::self_signed(&CertSpec::root("420100", "database root", nb, na)).unwrap();
    let server = ca
        .issue(&CertSpec::server(
            &["localhost"],
            &["127.0.0.1".parse().unwrap()],
            nb,
            na,
        ))
        .unwrap();
    let pg = postgres::Postgres::start();
    let cert = pg.server_file("server.crt", server.cert_pem().as_bytes(), 0o644);
    let key = pg.server_file("server.key", server.key_pem().as_bytes(), 0o600);
    for setting in [
        format!("ssl_cert_file = '{}'", cert.display()),
        format!("ssl_key_file = '{}'", key.display()),
        "ssl = on".to_owned(),
    ] {
        pg.psql("postgres", &format!("ALTER SYSTEM SET {setting}"));
    }
    pg.psql("postgres", "SELECT pg_reload_conf()");
    let world = World::with_postgres(pg).await;
    let roots = world.work.path().join("db-ca.pem");
    std::fs::write(&roots, ca.cert_pem()).unwrap();
    let config = world.config("gw-tls", true, "ca = \"db-ca.pem\"");
    let gw = Gateway::spawn("gw-tls", &config).await;
    let reply = send(&world.tls, gw.public(), exchange(QUERY, "over-tls"))
        .await
        .unwrap();
    assert_eq!(reply.status, 200);
    let ssl = world.pg.psql(
        "tongban",
        "SELECT bool_and(s.ssl) || ' ' || count(*) FROM pg_stat_ssl s JOIN pg_stat_activity a USING (pid) \
         WHERE a.application_name LIKE 'tongban gw-tls%'",
    );
    let (all_tls, n) = ssl.split_once(' ').unwrap();
    assert_eq!(all_tls, "true", "{ssl}");
    assert!(
        n.parse::<u32>().unwrap() >= 2,
        "the writer and the pool: {ssl}"
    );
    gw.stop().await;

    // a root that did not issue the database's certificate: refused at start, clearly
    let stranger =
        Issued::self_signed(&CertSpec::root("420100", "not the database's", nb, na)).unwrap();
    std::fs::write(&roots, stranger.cert_pem()).unwrap();
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_tongban"))
        .args(["serve", "--config", config.to_str().unwrap()])
        .output()
        .await
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("cannot reach the cluster database")
            && stderr(&out).contains("UnknownIssuer"),
        "{}",
        stderr(&out)
    );
    // and the command line speaks TLS too
    let conn = world.pg.conn();
    let out = world.tongban(&[
        "audit",
        "verify",
        "--database",
        &conn,
        "--database-ca",
        roots.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    std::fs::write(&roots, ca.cert_pem()).unwrap();
    let out = world.tongban(&[
        "audit",
        "verify",
        "--database",
        &conn,
        "--database-ca",
        roots.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("node `gw-tls`: 1 records"));
}

/// A node whose mask key or audit key differs from the cluster's refuses to start (its masked
/// values and keyed hashes would differ from the other nodes'), naming the secret and the node.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_with_other_secrets_is_refused() {
    let _serial = SERIAL.lock().await;
    let world = World::new().await;
    let gw1 = world.gateway("gw-1").await;
    for (section, key) in [("[policies]\n", "mask_key_file"), ("[audit]\n", "key_file")] {
        let config = world.config("gw-2", true, "");
        let other = world.work.path().join("other.key");
        std::fs::write(&other, "ab".repeat(32)).unwrap();
        let text = std::fs::read_to_string(&config).unwrap();
        let text = if text.contains(section) {
            text.replace(section, &format!("{section}{key} = \"other.key\"\n"))
        } else {
            format!("{text}\n{section}{key} = \"other.key\"\n")
        };
        std::fs::write(&config, text).unwrap();
        let out = world.tongban(&["serve", "--config", config.to_str().unwrap()]);
        assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
        let secret = if key == "mask_key_file" {
            "mask key"
        } else {
            "audit key"
        };
        assert!(
            stderr(&out).contains(&format!(
                "this gateway's {secret} differs from the one node `gw-1` recorded"
            )),
            "{}",
            stderr(&out)
        );
    }
    // with the cluster's keys it starts
    let gw2 = world.gateway("gw-2").await;
    gw2.stop().await;
    gw1.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrations_are_recorded_and_a_foreign_schema_refused() {
    let _serial = SERIAL.lock().await;
    let world = World::new().await;
    let gw = world.gateway("gw-1").await;
    gw.stop().await;
    let versions = world.pg.psql(
        "tongban",
        "SELECT string_agg(version || ':' || name, ',' ORDER BY version) FROM tongban_schema",
    );
    assert_eq!(versions, "1:audit,2:rate_limits,3:secrets");
    // started again: nothing to apply
    let gw = world.gateway("gw-1").await;
    gw.stop().await;
    assert_eq!(
        world
            .pg
            .psql("tongban", "SELECT count(*) FROM tongban_schema"),
        "3"
    );

    let refused = |expect: &str| {
        let out = world.tongban(&[
            "serve",
            "--config",
            world.config("gw-1", true, "").to_str().unwrap(),
        ]);
        assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
        assert!(stderr(&out).contains(expect), "{}", stderr(&out));
    };
    world.pg.psql(
        "tongban",
        "UPDATE tongban_schema SET sha256 = repeat('0', 64) WHERE version = 2",
    );
    refused("migration 2 (rate_limits) applied to this database differs");
    world.pg.psql(
        "tongban",
        "UPDATE tongban_schema SET sha256 = (SELECT sha256 FROM tongban_schema WHERE version = 1) WHERE version = 2; \
         INSERT INTO tongban_schema (version, name, sha256) VALUES (4, 'future', repeat('0', 64))",
    );
    refused("the schema is at version 4 (future), newer than this gateway's 3");

    // config check knows [cluster]
    let config = world.config("gw-9", true, "");
    let out = world.tongban(&["config", "check", config.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(!stderr(&out).contains("notice"), "{}", stderr(&out));
    let slow = std::fs::read_to_string(&config)
        .unwrap()
        .replace("timeout_ms = 1500", "timeout_ms = 3000");
    std::fs::write(&config, slow).unwrap();
    let out = world.tongban(&["config", "check", config.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("notice: [cluster] timeout_ms = 3000 is not under upstream `hpf`'s"),
        "{}",
        stderr(&out)
    );
    let bad = std::fs::read_to_string(&config).unwrap().replace(
        "node = \"gw-9\"",
        "node = \"gw 9\"\nca = \"missing.pem\"\npassword_file = \"missing.pass\"",
    );
    std::fs::write(&config, bad).unwrap();
    let out = world.tongban(&["config", "check", config.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("cluster.node: `gw 9` is not a node name"),
        "{text}"
    );
    // every problem at once: both missing files, not the first
    assert!(
        text.contains("missing.pem: the database's TLS roots"),
        "{text}"
    );
    assert!(
        text.contains("missing.pass: the database password"),
        "{text}"
    );
}
