//! Audit appends per second: group commit (fsync at most every 100 ms) against an fsync per
//! record, from 1 and from 8 threads, into a file on the build disk (`CARGO_TARGET_TMPDIR`, not a
//! tmpfs, so the fsyncs are real).
//!
//! Run with `cargo bench --bench audit`; criterion reports the throughput in appends/s.

use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use tongban::audit::{AuditKey, AuditLog, AuditOptions, CallerId, Outcome, Record};

fn record(key: &AuditKey) -> Record {
    Record::exchange(
        "0f6c3d2e-5b7a-4c1e-9d3f-2a8b6e4c1d7f",
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
    .subject(key.personal_id("42010619900101123X"))
}

/// Appends `total` records from `threads` threads and returns the elapsed time.
fn run(log: &Arc<AuditLog>, record: &Arc<Record>, threads: u64, total: u64) -> Duration {
    let per_thread = total.div_ceil(threads);
    let start = Instant::now();
    std::thread::scope(|scope| {
        for _ in 0..threads {
            scope.spawn(|| {
                for _ in 0..per_thread {
                    log.append(record).unwrap();
                }
            });
        }
    });
    start.elapsed()
}

fn bench(c: &mut Criterion) {
    let key = AuditKey::from_bytes(&[7; 32]).unwrap();
    let record = Arc::new(record(&key));
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let mut group = c.benchmark_group("audit_append");
    group.throughput(Throughput::Elements(1));
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(3));
    for (name, interval) in [
        ("group_commit_100ms", Duration::from_millis(100)),
        ("fsync_per_record", Duration::ZERO),
    ] {
        for threads in [1, 8] {
            let path = dir.path().join(format!("{name}-{threads}.jsonl"));
            let log = Arc::new(
                AuditLog::open(
                    &path,
                    AuditOptions {
                        flush_interval: interval,
                        ..AuditOptions::default()
                    },
                )
                .unwrap(),
            );
            group.bench_function(format!("{name}/{threads}_threads"), |b| {
                b.iter_custom(|iters| run(&log, &record, threads, iters))
            });
        }
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
