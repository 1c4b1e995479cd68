//! Policy decisions against generated policy sets of 10, 1,062 (the platform's scale) and 10,000
//! items: a decision costs the rules of one item, so the times should be flat.
//!
//! `cargo bench --bench policy`

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use tongban::policy::model::Party;
use tongban::policy::synthetic::{generate, DEFAULT_ITEMS};
use tongban::policy::{AccessRequest, Decision, PolicySet};

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("policy_decision");
    for size in [10, DEFAULT_ITEMS, 10_000] {
        let set = PolicySet::from_items(generate(size, 7));
        // requests that a permit of a middle item grants (the common case), and a deny
        let item = &set.items()[size / 2];
        let permit = &item.permits[0];
        let caller = match (&permit.callers[0].city, &permit.callers[0].department) {
            (tongban::policy::model::Part::Is(c), tongban::policy::model::Part::Is(d)) => Party {
                city: c.clone(),
                department: d.clone(),
            },
            (tongban::policy::model::Part::Is(c), _) => Party {
                city: c.clone(),
                department: "HRSS".into(),
            },
            (_, tongban::policy::model::Part::Is(d)) => Party {
                city: "420100".into(),
                department: d.clone(),
            },
            _ => Party {
                city: "420100".into(),
                department: "HRSS".into(),
            },
        };
        let licence = permit.require_licence.clone();
        let today = permit.valid_from.unwrap_or(20_000);
        let req = AccessRequest {
            caller: &caller,
            item: &item.id,
            method: &item.methods[0],
            purpose: &permit.purposes[0],
            today,
            licence: licence.as_deref(),
        };
        let granted = matches!(set.decide(&req), Decision::Permit { .. });
        group.bench_with_input(
            BenchmarkId::new(if granted { "permit" } else { "decide" }, size),
            &req,
            |b, req| b.iter(|| set.decide(req)),
        );
        let deny = AccessRequest {
            purpose: "NO_SUCH_PURPOSE",
            ..req.clone()
        };
        group.bench_with_input(BenchmarkId::new("deny", size), &deny, |b, req| {
            b.iter(|| set.decide(req))
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
