//! tongban's policy decision beside Cedar's `is_authorized` (the `cedar-policy` crate, a
//! dev-dependency used here only) on the same rules: generated policy sets of 10, 1,000 and
//! 10,000 rules, and the platform's 1,062 items.
//!
//! `cargo bench --bench cedar`
//!
//! # What a "rule" is
//!
//! A rule is one permit or forbid: one Cedar policy. The sets come from
//! [`tongban::policy::synthetic::generate`] (the seed of `benches/policy.rs`), cut at the item
//! where the rule count reaches the size, the last item's surplus rules dropped (forbids first),
//! so the counts are exact. An item has 3–6 permits and sometimes a forbid, about 4.8 rules, so
//! 1,000 rules are about 200 items and the platform's 1,062 items about 5,100 rules. Every bench
//! id names both counts: `policy_vs_cedar/cedar/1000-rules-209-items/permit`.
//!
//! # The translation
//!
//! Entities: each caller is `Caller::"CITY/DEPT"`, a member of `City::"CITY"` and
//! `Department::"DEPT"`, so a caller pattern is one entity: `C/D` → `Caller::"C/D"`, `*/D` →
//! `Department::"D"`, `C/*` → `City::"C"` (`*/*` leaves the principal open). Actions are the
//! methods (`Action::"GET"`), resources the items (`Item::"HPF-0002-WH"`); the context carries
//! `purpose`, `today` (days since 1970-01-01, as tongban counts) and `licence` when the request
//! has a verified one.
//!
//! Each tongban permit becomes one Cedar `permit`:
//!
//! ```text
//! permit (principal in Department::"HOUSING_FUND", action == Action::"GET",
//!         resource == Item::"HPF-0002-WH")
//! when { context.purpose == "HPF_WITHDRAWAL" && context has licence
//!        && context.licence == "ID_CARD" && 20200 <= context.today && context.today <= 20600 };
//! ```
//!
//! with `principal in [Caller::"…", Caller::"…"]` in `when` for several caller patterns, and
//! `["A", "B"].contains(context.purpose)` for several purposes; each forbid becomes one `forbid`
//! on the same principal, action and resource, with its purposes when it has them. The action is
//! the item's methods, because tongban refuses a method the item does not offer before it looks
//! at any rule.
//!
//! Equivalent: the decision (permit or deny) and the rules that determine it (the matching
//! permits of a permit, the matching forbids of a forbid's deny): the set-up checks both on a
//! few hundred requests of every size, permits and denies, and panics at the first difference.
//! Not equivalent: tongban's deny reasons (Cedar has none, and no "licence required" hint), and
//! the rest of a tongban permit: rate limits and field masks decide what a granted response
//! looks like, not whether it is granted, so they stay out of the Cedar policies. Cedar answers
//! a request the Cedar way, evaluating every policy of the set; a deployment could keep one
//! Cedar policy set per item instead, and `cedar-by-item` measures that.
//!
//! The requests: `permit`, one that the first permit of the first item grants (the same at every
//! size), and `deny`, the same with a purpose no rule names. Only the decision is timed: both
//! requests (tongban's, Cedar's with its context) are built before, as are the entities. A
//! tongban permit also works out the granted fields, masks and rate; Cedar's does not.
//!
//! The translation is in `cedar/translate.rs`, the set-up check in `cedar/equivalence.rs`.

#[path = "cedar/equivalence.rs"]
mod equivalence;
#[path = "cedar/translate.rs"]
mod translate;

use cedar_policy as cedar;
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use tongban::policy::model::{Day, Item, Part, Party};
use tongban::policy::synthetic::{generate, CITIES, DEFAULT_ITEMS};
use tongban::policy::{AccessRequest, PolicySet};

use equivalence::check_equivalence;
use translate::{cedar_request, CedarSet};

/// The seed of `benches/policy.rs`.
const SEED: u64 = 7;
/// Requests per size on which both deciders must agree.
const EQUIVALENCE_REQUESTS: usize = 300;
/// A department that no rule names.
const OUTSIDER: &str = "OUTSIDER";

fn bench(c: &mut Criterion) {
    let mut sizes = vec![
        Size::Rules(10),
        Size::Rules(1_000),
        Size::Items(DEFAULT_ITEMS),
        Size::Rules(10_000),
    ];
    // `cargo test --all-targets` runs this once in a debug build, where Cedar takes 50 ms a
    // call at 10,000 rules: that smoke test keeps the small sets (`cargo bench` passes --bench)
    if !std::env::args().any(|a| a == "--bench") {
        sizes.truncate(2);
    }
    let mut group = c.benchmark_group("policy_vs_cedar");
    group.warm_up_time(std::time::Duration::from_secs(1));
    for size in sizes {
        let fixture = Fixture::new(size);
        let label = &fixture.label;
        check_equivalence(&fixture, EQUIVALENCE_REQUESTS);
        let permit = fixture.bench_request();
        let deny = OwnedRequest {
            purpose: "NO_SUCH_PURPOSE".into(),
            ..permit.clone()
        };
        let authorizer = cedar::Authorizer::new();
        let (cedar_permit, cedar_deny) = (cedar_request(&permit), cedar_request(&deny));
        let item_policies = &fixture.cedar.by_item[&permit.item];

        group.sample_size(50);
        group.measurement_time(std::time::Duration::from_secs(2));
        for (name, req) in [("permit", &permit), ("deny", &deny)] {
            let req = req.as_request();
            group.bench_function(
                BenchmarkId::new("tongban", format!("{label}/{name}")),
                |b| b.iter(|| fixture.set.decide(&req)),
            );
        }
        group.bench_function(
            BenchmarkId::new("cedar-by-item", format!("{label}/permit")),
            |b| {
                b.iter(|| {
                    authorizer.is_authorized(&cedar_permit, item_policies, &fixture.cedar.entities)
                })
            },
        );
        // every policy of the set is evaluated: milliseconds a call at 10,000
        if fixture.rules >= 1_000 {
            group.sample_size(10);
            group.measurement_time(std::time::Duration::from_secs(3));
        }
        for (name, req) in [("permit", &cedar_permit), ("deny", &cedar_deny)] {
            group.bench_function(BenchmarkId::new("cedar", format!("{label}/{name}")), |b| {
                b.iter(|| {
                    authorizer.is_authorized(req, &fixture.cedar.policies, &fixture.cedar.entities)
                })
            });
        }
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);

/// How big a set is: exactly this many rules, or this many items.
#[derive(Clone, Copy)]
enum Size {
    Rules(usize),
    Items(usize),
}

/// One policy set, as tongban loads it and as Cedar policies.
struct Fixture {
    /// `<rules>-rules-<items>-items`.
    label: String,
    rules: usize,
    set: PolicySet,
    cedar: CedarSet,
}

impl Fixture {
    fn new(size: Size) -> Self {
        let items = match size {
            Size::Items(n) => generate(n, SEED),
            // every item has at least 3 rules, so `n` items are more than enough
            Size::Rules(n) => first_rules(generate(n, SEED), n),
        };
        let rules = rules(&items);
        let label = format!("{rules}-rules-{}-items", items.len());
        let cedar = CedarSet::translate(&items);
        assert_eq!(
            cedar.policies.policies().count(),
            rules,
            "one Cedar policy per rule"
        );
        Self {
            label,
            rules,
            set: PolicySet::from_items(items),
            cedar,
        }
    }

    /// A request that the first permit of the first item grants: the same at every size (a
    /// tongban decision costs the rules of the item asked for, Cedar's every policy of the set).
    fn bench_request(&self) -> OwnedRequest {
        let item = &self.set.items()[0];
        let permit = &item.permits[0];
        let pattern = &permit.callers[0];
        let req = OwnedRequest {
            caller: Party {
                city: fill(&pattern.city, CITIES[0].0),
                department: fill(&pattern.department, "HRSS"),
            },
            item: item.id.clone(),
            method: item.methods[0].clone(),
            purpose: permit.purposes[0].clone(),
            today: permit.valid_from.unwrap_or(20_000),
            licence: permit.require_licence.clone(),
        };
        assert!(
            self.set.decide(&req.as_request()).is_permit(),
            "the bench request is granted"
        );
        req
    }
}

fn rules(items: &[Item]) -> usize {
    items
        .iter()
        .map(|i| i.permits.len() + i.forbids.len())
        .sum()
}

/// The leading items holding exactly `n` rules: the last one loses its surplus, forbids first
/// (the surplus is less than its rules, so a permit stays).
fn first_rules(items: Vec<Item>, n: usize) -> Vec<Item> {
    let mut out = Vec::new();
    let mut count = 0;
    for item in items {
        if count >= n {
            break;
        }
        count += item.permits.len() + item.forbids.len();
        out.push(item);
    }
    let last = out.last_mut().expect("n > 0");
    while count > n {
        if last.forbids.pop().is_none() {
            last.permits.pop();
        }
        count -= 1;
    }
    assert!(!last.permits.is_empty() && rules(&out) == n);
    out
}

fn fill(part: &Part, any: &str) -> String {
    match part {
        Part::Is(v) => v.clone(),
        Part::Any => any.to_owned(),
    }
}

/// A request that owns its strings.
#[derive(Clone, Debug)]
struct OwnedRequest {
    caller: Party,
    item: String,
    method: String,
    purpose: String,
    today: Day,
    licence: Option<String>,
}

impl OwnedRequest {
    fn as_request(&self) -> AccessRequest<'_> {
        AccessRequest {
            caller: &self.caller,
            item: &self.item,
            method: &self.method,
            purpose: &self.purpose,
            today: self.today,
            licence: self.licence.as_deref(),
        }
    }
}
