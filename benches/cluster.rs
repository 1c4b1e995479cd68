//! Several gateways on one PostgreSQL, measured (`cargo bench --bench cluster`): a private
//! PostgreSQL 15 (fsync and synchronous_commit on, as in production), real `tongban serve`
//! processes and a keep-alive load from this process, on loopback.
//!
//! 1. Exchanges through one gateway with the audit in its file (fsynced every 100 ms, or before
//!    each answer) against the audit in the database (committed before each answer), alternating
//!    in the same run: requests per second, latency, and CPU per exchange of the gateway and of
//!    PostgreSQL (from `/proc`, user + system); the same with a global rate decision per
//!    exchange, and with more connections (bigger group commits). The floor under every commit,
//!    the database's WAL flush on this disk, is measured beside them.
//! 2. Audit records per second against the group-commit batch size (`[cluster] max_batch`), many
//!    requests appending at once through the library's [`AuditChain`].
//! 3. Rate-limit decisions: latency p50/p99, one caller at a time and 16 at once on one bucket
//!    and on 16 buckets.
//!
//! Without `--bench` (as `cargo test --all-targets` runs it) it only says so and exits.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "test code: a failure here is a failed test"
)]

#[path = "../tests/common/cluster.rs"]
mod cluster_common;
#[path = "../tests/common/gateway.rs"]
mod gateway;
#[path = "../tests/common/postgres.rs"]
mod postgres;

use std::sync::Arc;
use std::time::{Duration, Instant};

use cluster_common::{Answer, Gateway, Load, World, METERED, QUERY};
use postgres::Postgres;
use tongban::audit::{CallerId, Outcome, Record, Sink};
use tongban::cluster::Cluster;
use tongban::policy::model::Rate;
use tongban::server::config::ClusterConfig;

const WARMUP: Duration = Duration::from_secs(1);
const MEASURE: Duration = Duration::from_secs(5);
const ROUNDS: usize = 3;
const CONNECTIONS: usize = 16;

/// Where a gateway of the exchange bench writes its records.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Audit {
    /// The file, fsynced every 100 ms (the default).
    File,
    /// The file, fsynced before each answer (`flush_interval_ms = 0`).
    FileSynced,
    Database,
}

fn main() {
    if !std::env::args().any(|a| a == "--bench") {
        println!("cluster bench: run with `cargo bench --bench cluster`");
        return;
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    tracing_subscriber::fmt()
        .with_env_filter("warn")
        .with_writer(std::io::stderr)
        .init();
    rt.block_on(async {
        let pg = Postgres::start_with(&[("fsync", "on"), ("synchronous_commit", "on")]);
        println!(
            "PostgreSQL 15, fsync on, on {} CPUs ({}); release build; {CONNECTIONS} connections, \
             {ROUNDS} rounds of {MEASURE:?} after {WARMUP:?} warm-up",
            std::thread::available_parallelism().map_or(0, |n| n.get()),
            cpu_model()
        );
        let world = World::with_postgres(pg).await;
        commit_floor(&world).await;
        exchanges(&world).await;
        group_commit(&world).await;
        rate_decisions(&world).await;
    });
}

/// One measured run of the load on one gateway.
struct Run {
    requests: usize,
    errors: usize,
    seconds: f64,
    gateway_cpu: f64,
    database_cpu: f64,
    p50: Duration,
    p99: Duration,
}

impl Run {
    fn per_second(&self) -> f64 {
        self.requests as f64 / self.seconds
    }
    fn gateway_us(&self) -> f64 {
        self.gateway_cpu * 1e6 / self.requests as f64
    }
    fn database_us(&self) -> f64 {
        self.database_cpu * 1e6 / self.requests as f64
    }
}

async fn exchanges(world: &World) {
    println!("\n## Exchanges through one gateway: audit file against the database (medians)\n");
    println!("| audit | item | connections | req/s | p50 ms | p99 ms | gateway CPU µs/req | PostgreSQL CPU µs/req | errors |");
    println!("|---|---|---:|---:|---:|---:|---:|---:|---:|");
    let modes = [
        ("file, fsync every 100 ms", QUERY, Audit::File, CONNECTIONS),
        (
            "file, fsync before each answer",
            QUERY,
            Audit::FileSynced,
            CONNECTIONS,
        ),
        ("database", QUERY, Audit::Database, CONNECTIONS),
        (
            "database + global rate",
            METERED,
            Audit::Database,
            CONNECTIONS,
        ),
        ("database", QUERY, Audit::Database, 4 * CONNECTIONS),
    ];
    let mut runs: Vec<Vec<Run>> = modes.iter().map(|_| Vec::new()).collect();
    for round in 0..ROUNDS {
        for (i, (name, item, audit, connections)) in modes.iter().enumerate() {
            let node = format!("bench-{i}-{round}");
            let config = world.config(&node, *audit == Audit::Database, "");
            if *audit == Audit::FileSynced {
                let text = std::fs::read_to_string(&config).unwrap();
                let synced = text.replace(
                    "-audit.jsonl\"\n",
                    "-audit.jsonl\"\nflush_interval_ms = 0\n",
                );
                assert_ne!(text, synced);
                std::fs::write(&config, synced).unwrap();
            }
            let gw = Gateway::spawn(&node, &config).await;
            let run = measure(world, &gw, item, *connections).await;
            eprintln!(
                "round {round} {name}: {:.0} req/s, gateway {:.1} µs, database {:.1} µs",
                run.per_second(),
                run.gateway_us(),
                run.database_us()
            );
            runs[i].push(run);
            gw.stop().await;
        }
    }
    for ((name, item, _, connections), runs) in modes.iter().zip(&runs) {
        let med = |f: &dyn Fn(&Run) -> f64| median(runs.iter().map(f).collect());
        println!(
            "| {name} | `{item}` | {connections} | {:.0} | {:.2} | {:.2} | {:.1} | {:.1} | {} |",
            med(&|r| r.per_second()),
            med(&|r| r.p50.as_secs_f64() * 1e3),
            med(&|r| r.p99.as_secs_f64() * 1e3),
            med(&|r| r.gateway_us()),
            med(&|r| r.database_us()),
            runs.iter().map(|r| r.errors).sum::<usize>()
        );
    }
}

async fn measure(world: &World, gw: &Gateway, item: &str, connections: usize) -> Run {
    let load = Load::start(&world.tls, &[gw], connections, item, "warm");
    tokio::time::sleep(WARMUP).await;
    let skip = load.answers().len();
    let pid: u32 = gw.process.pid.parse().unwrap();
    let pg = world.pg.pid().unwrap();
    let (g0, d0, t0) = (cpu_of(&[pid]), cpu_of(&family(pg)), Instant::now());
    tokio::time::sleep(MEASURE).await;
    let (g1, d1, seconds) = (
        cpu_of(&[pid]),
        cpu_of(&family(pg)),
        t0.elapsed().as_secs_f64(),
    );
    let answers: Vec<Answer> = load.answers().split_off(skip);
    load.finish().await;
    let mut latencies: Vec<Duration> = answers.iter().map(|a| a.latency).collect();
    latencies.sort();
    Run {
        requests: answers.len(),
        errors: answers.iter().filter(|a| a.status != 200).count(),
        seconds,
        gateway_cpu: g1 - g0,
        database_cpu: d1 - d0,
        p50: percentile(&latencies, 0.50),
        p99: percentile(&latencies, 0.99),
    }
}

/// The latency of committing one small row, one commit at a time: the WAL flush every COMMIT
/// waits for on this disk (the floor under every audit commit).
async fn commit_floor(world: &World) {
    let (client, connection) = tokio_postgres::connect(&world.pg.conn(), tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(connection);
    client
        .batch_execute("CREATE TABLE IF NOT EXISTS bench_floor (x int)")
        .await
        .unwrap();
    let mut latencies = Vec::new();
    let until = Instant::now() + Duration::from_secs(2);
    while Instant::now() < until {
        let started = Instant::now();
        client
            .execute("INSERT INTO bench_floor VALUES (1)", &[])
            .await
            .unwrap();
        latencies.push(started.elapsed());
    }
    latencies.sort();
    println!(
        "\nCommit floor (one row, one commit at a time, WAL flushed): p50 {:.2} ms, p99 {:.2} ms ({} commits/s)",
        percentile(&latencies, 0.5).as_secs_f64() * 1e3,
        percentile(&latencies, 0.99).as_secs_f64() * 1e3,
        latencies.len() / 2
    );
}

async fn group_commit(world: &World) {
    println!("\n## Audit records per second against the group-commit batch size\n");
    println!(
        "{} appenders at once, each a record at a time and waiting for its COMMIT (the append's latency); {MEASURE:?} per size.\n",
        APPENDERS
    );
    println!("| max_batch | records/s | mean records per COMMIT | append p50 ms | append p99 ms | PostgreSQL CPU µs/record | refused |");
    println!("|---:|---:|---:|---:|---:|---:|---:|");
    for max_batch in [1usize, 4, 16, 64, 256, 512] {
        let registry = prometheus::Registry::new();
        let config = ClusterConfig {
            max_batch,
            ..ClusterConfig::new(world.pg.conn(), format!("batch-{max_batch}"))
        };
        let cluster = Cluster::start(&config, &registry).await.unwrap();
        let chain = cluster.chain().clone();
        let postgres = family(world.pg.pid().unwrap());
        let cpu_before = cpu_of(&postgres);
        let until = Instant::now() + MEASURE;
        let mut tasks = Vec::new();
        for a in 0..APPENDERS {
            let chain = chain.clone();
            tasks.push(tokio::spawn(async move {
                let (mut n, mut errors) = (0u64, 0u64);
                let mut latencies = Vec::new();
                while Instant::now() < until {
                    let record = record(&format!("{a}-{n}"));
                    let started = Instant::now();
                    match chain.append(std::slice::from_ref(&record)).await {
                        Ok(()) => latencies.push(started.elapsed()),
                        Err(_) => errors += 1,
                    }
                    n += 1;
                }
                (latencies, errors)
            }));
        }
        let started = Instant::now();
        let (mut latencies, mut errors) = (Vec::new(), 0);
        for t in tasks {
            let (l, e) = t.await.unwrap();
            latencies.extend(l);
            errors += e;
        }
        let seconds = started.elapsed().as_secs_f64();
        let database_cpu = cpu_of(&postgres) - cpu_before;
        latencies.sort();
        let text = prometheus::TextEncoder::new()
            .encode_to_string(&registry.gather())
            .unwrap();
        let batches = gateway::metric(&text, "tongban_audit_batch_records_count");
        let records = gateway::metric(&text, "tongban_audit_batch_records_sum");
        println!(
            "| {max_batch} | {:.0} | {:.1} | {:.2} | {:.2} | {:.1} | {errors} |",
            latencies.len() as f64 / seconds,
            records / batches,
            percentile(&latencies, 0.5).as_secs_f64() * 1e3,
            percentile(&latencies, 0.99).as_secs_f64() * 1e3,
            database_cpu * 1e6 / latencies.len().max(1) as f64,
        );
    }
}

/// Requests appending at once in the group-commit bench.
const APPENDERS: usize = 256;

fn record(id: &str) -> Record {
    Record::exchange(
        id,
        CallerId::new("420200", "HOUSING_FUND", "11420200MB0000000X"),
        "HPF-DEPOSIT-QUERY",
        "HPF_WITHDRAWAL",
        Outcome::Permit,
    )
    .rules(["hpf-withdrawal-any-city"])
    .fields(
        [
            "account.status",
            "account.balance",
            "holder.name",
            "holder.id_number",
        ],
        ["holder.id_number"],
    )
    .latency_ms(12)
}

async fn rate_decisions(world: &World) {
    println!("\n## Rate-limit decisions (one statement each)\n");
    println!("| callers at once | buckets | decisions/s | p50 ms | p99 ms |");
    println!("|---:|---:|---:|---:|---:|");
    let registry = prometheus::Registry::new();
    let config = ClusterConfig {
        pool_size: 16,
        ..ClusterConfig::new(world.pg.conn(), "rate-bench")
    };
    let cluster = Arc::new(Cluster::start(&config, &registry).await.unwrap());
    let rate = Rate::parse("1000000/s").unwrap();
    for (callers, buckets) in [(1usize, 1usize), (16, 1), (16, 16)] {
        let until = Instant::now() + MEASURE;
        let mut tasks = Vec::new();
        for c in 0..callers {
            let cluster = cluster.clone();
            let org = format!("org-{}", c % buckets);
            tasks.push(tokio::spawn(async move {
                let mut latencies = Vec::new();
                while Instant::now() < until {
                    let started = Instant::now();
                    let decision = cluster.rate().take(&org, "ITEM", rate).await.unwrap();
                    assert!(decision.is_ok());
                    latencies.push(started.elapsed());
                }
                latencies
            }));
        }
        let started = Instant::now();
        let mut latencies = Vec::new();
        for t in tasks {
            latencies.extend(t.await.unwrap());
        }
        let seconds = started.elapsed().as_secs_f64();
        latencies.sort();
        println!(
            "| {callers} | {buckets} | {:.0} | {:.3} | {:.3} |",
            latencies.len() as f64 / seconds,
            percentile(&latencies, 0.5).as_secs_f64() * 1e3,
            percentile(&latencies, 0.99).as_secs_f64() * 1e3,
        );
    }
}

fn percentile(sorted: &[Duration], q: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = ((sorted.len() - 1) as f64 * q).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(|a, b| a.total_cmp(b));
    values.get(values.len() / 2).copied().unwrap_or(0.0)
}

/// User + system CPU seconds of the processes `pids` so far (`/proc/PID/stat`).
fn cpu_of(pids: &[u32]) -> f64 {
    let ticks: u64 = pids
        .iter()
        .filter_map(|pid| std::fs::read_to_string(format!("/proc/{pid}/stat")).ok())
        .filter_map(|stat| {
            // fields after the command's closing parenthesis; utime and stime are the 12th and 13th
            let rest = stat.rsplit_once(')')?.1;
            let fields: Vec<&str> = rest.split_whitespace().collect();
            Some(fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?)
        })
        .sum();
    ticks as f64 / clock_ticks()
}

/// `pid` and its children (PostgreSQL's backends).
fn family(pid: u32) -> Vec<u32> {
    let mut pids = vec![pid];
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(child) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let parent = std::fs::read_to_string(format!("/proc/{child}/stat"))
            .ok()
            .and_then(|s| {
                s.rsplit_once(')')
                    .and_then(|(_, rest)| rest.split_whitespace().nth(1)?.parse::<u32>().ok())
            });
        if parent == Some(pid) {
            pids.push(child);
        }
    }
    pids
}

fn clock_ticks() -> f64 {
    std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok())
        .unwrap_or(100.0)
}

fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("model name"))
                .map(|l| l.trim_start_matches([' ', '\t', ':']).to_owned())
        })
        .unwrap_or_default()
}
