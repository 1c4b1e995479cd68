//! Invariants of the decision: adding a permit never removes access, a matching forbid always
//! denies, an unknown item or caller is denied.

use proptest::prelude::*;
use tongban::policy::decide::{decide, AccessRequest, Decision, DenyReason};
use tongban::policy::model::{
    CallerPattern, FieldPath, Forbid, Item, MaskMethod, Origin, Part, Party, Permit, Rate,
};
use tongban::policy::plan::Plans;
use tongban::policy::PolicySet;

const CITIES: [&str; 3] = ["420100", "420200", "421200"];
const DEPTS: [&str; 3] = ["HOUSING_FUND", "TAX", "MARKET_REG"];
const PURPOSES: [&str; 3] = ["A", "B", "C"];
const FIELDS: [&str; 5] = ["a", "b", "b.c", "b.d", "e[].f"];
const MASKS: [MaskMethod; 5] = [
    MaskMethod::Redact,
    MaskMethod::IdNumber,
    MaskMethod::Name,
    MaskMethod::Phone,
    MaskMethod::Hash,
];

fn part(codes: &'static [&'static str]) -> impl Strategy<Value = Part> {
    prop_oneof![
        Just(Part::Any),
        prop::sample::select(codes).prop_map(|c| Part::Is(c.to_owned()))
    ]
}

fn pattern() -> impl Strategy<Value = CallerPattern> {
    (part(&CITIES), part(&DEPTS)).prop_map(|(city, department)| CallerPattern { city, department })
}

fn permit(n: usize) -> impl Strategy<Value = Permit> {
    (
        prop::collection::vec(pattern(), 1..3),
        prop::sample::subsequence(PURPOSES.to_vec(), 1..=3),
        prop::sample::subsequence(FIELDS.to_vec(), 1..=5),
        prop::collection::vec(
            (
                prop::sample::select(FIELDS.to_vec()),
                prop::sample::select(MASKS.to_vec()),
            ),
            0..3,
        ),
        prop::option::of((1u32..100, prop::sample::select(vec![1u32, 60, 3600]))),
        prop::option::of(Just("ID_CARD".to_owned())),
        prop::option::of((0i32..20, 0i32..20)),
    )
        .prop_map(
            move |(callers, purposes, fields, mask, rate, licence, window)| Permit {
                id: format!("p{n}"),
                callers,
                purposes: purposes.into_iter().map(str::to_owned).collect(),
                fields: fields
                    .iter()
                    .map(|f| FieldPath::parse(f).unwrap())
                    .collect(),
                mask: mask
                    .into_iter()
                    .map(|(f, m)| (FieldPath::parse(f).unwrap(), m))
                    .collect(),
                rate: rate.map(|(count, period_secs)| Rate { count, period_secs }),
                require_licence: licence,
                valid_from: window.map(|(a, b)| a.min(b)),
                valid_until: window.map(|(a, b)| a.max(b)),
                origin: Origin::default(),
            },
        )
}

fn forbid(n: usize) -> impl Strategy<Value = Forbid> {
    (
        prop::collection::vec(pattern(), 1..3),
        prop::option::of(prop::sample::subsequence(PURPOSES.to_vec(), 1..=2)),
    )
        .prop_map(move |(callers, purposes)| Forbid {
            id: format!("f{n}"),
            callers,
            purposes: purposes.map(|p| p.into_iter().map(str::to_owned).collect()),
            origin: Origin::default(),
        })
}

fn item() -> impl Strategy<Value = Item> {
    (
        prop::collection::vec(permit(0), 0..4),
        prop::collection::vec(forbid(0), 0..2),
    )
        .prop_map(|(mut permits, mut forbids)| {
            for (i, p) in permits.iter_mut().enumerate() {
                p.id = format!("p{i}");
            }
            for (i, f) in forbids.iter_mut().enumerate() {
                f.id = format!("f{i}");
            }
            Item {
                id: "ITEM".into(),
                name: "测试".into(),
                category: "测试".into(),
                provider: Party {
                    city: "420100".into(),
                    department: "TAX".into(),
                },
                upstream: "up".into(),
                methods: vec!["GET".into()],
                fields: FIELDS
                    .iter()
                    .map(|f| FieldPath::parse(f).unwrap())
                    .collect(),
                legal_basis: None,
                sensitive: None,
                permits,
                forbids,
                origin: Origin::default(),
                plans: Plans::default(),
            }
        })
}

#[derive(Debug, Clone)]
struct Req {
    caller: Party,
    purpose: String,
    today: i32,
    licence: bool,
}

fn request() -> impl Strategy<Value = Req> {
    (
        prop::sample::select(CITIES.to_vec()),
        prop::sample::select(DEPTS.to_vec()),
        prop::sample::select(PURPOSES.to_vec()),
        0i32..20,
        any::<bool>(),
    )
        .prop_map(|(c, d, p, today, licence)| Req {
            caller: Party {
                city: c.into(),
                department: d.into(),
            },
            purpose: p.into(),
            today,
            licence,
        })
}

fn run(item: &Item, r: &Req, name: &str) -> Decision {
    decide(
        item,
        &AccessRequest {
            caller: &r.caller,
            item: name,
            method: "GET",
            purpose: &r.purpose,
            today: r.today,
            licence: r.licence.then_some("ID_CARD"),
        },
    )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn adding_a_permit_never_removes_access(item in item(), extra in permit(99), r in request()) {
        let before = run(&item, &r, "ITEM");
        let mut more = item.clone();
        more.permits.push(extra);
        let after = run(&more, &r, "ITEM");
        if let Decision::Permit { fields: g1, rate: r1, .. } = &before {
            let Decision::Permit { fields: g2, rate: r2, .. } = &after else {
                return Err(TestCaseError::fail(format!("permit became {after:?}")));
            };
            let (f1, f2): (Vec<_>, Vec<_>) = (g1.fields().collect(), g2.fields().collect());
            for (path, mask) in &f1 {
                let now = f2.iter().find(|(p, _)| p == path);
                prop_assert!(now.is_some(), "field {} lost", path);
                if mask.is_none() {
                    prop_assert_eq!(now.and_then(|(_, m)| *m), None, "field {} became masked", path);
                }
            }
            match (r1, r2) {
                (None, Some(_)) => prop_assert!(false, "an unlimited rate became limited"),
                (Some(a), Some(b)) => prop_assert!(b.per_second() >= a.per_second()),
                _ => {}
            }
        }
    }

    #[test]
    fn a_matching_forbid_always_denies(item in item(), r in request(), with_purpose in any::<bool>()) {
        let mut forbidden = item.clone();
        forbidden.forbids.push(Forbid {
            id: "stop".into(),
            callers: vec![CallerPattern { city: Part::Is(r.caller.city.clone()), department: Part::Any }],
            purposes: with_purpose.then(|| vec![r.purpose.clone()]),
            origin: Origin::default(),
        });
        match run(&forbidden, &r, "ITEM") {
            Decision::Deny { reason: DenyReason::ForbiddenByPolicy, rules } => prop_assert!(rules.contains(&"stop".to_owned())),
            other => prop_assert!(false, "{other:?}"),
        }
    }

    #[test]
    fn unknown_items_and_callers_are_denied(item in item(), r in request()) {
        let set = PolicySet::from_items(vec![Item { id: "ITEM".into(), ..item.clone() }]);
        let asked = |id| set.decide(&AccessRequest {
            caller: &r.caller,
            item: id,
            method: "GET",
            purpose: &r.purpose,
            today: r.today,
            licence: r.licence.then_some("ID_CARD"),
        });
        let unknown = matches!(asked("NOPE"), Decision::Deny { reason: DenyReason::UnknownItem, .. });
        prop_assert!(unknown);
        prop_assert_eq!(asked("ITEM"), run(&item, &r, "ITEM"));
        let stranger = Req { caller: Party { city: "429006".into(), department: "VETERANS".into() }, ..r };
        // only `*/*` names every caller; without it, a caller no pattern names is denied
        let mut item = item;
        for p in &mut item.permits {
            p.callers.retain(|c| !c.is_everyone());
        }
        prop_assert!(!run(&item, &stranger, "ITEM").is_permit());
    }
}
