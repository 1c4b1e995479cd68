//! The set-up check of `benches/cedar.rs`: tongban and Cedar decide a few hundred generated
//! requests alike.

use std::collections::BTreeSet;

use cedar_policy as cedar;
use tongban::policy::model::{Day, Item, Part, Party};
use tongban::policy::synthetic::{Rng, CITIES};
use tongban::policy::{Decision, DenyReason};

use super::translate::{cedar_request, departments, translate_item};
use super::{Fixture, OwnedRequest};

/// Decides `n` generated requests both ways and panics at the first that tongban and Cedar
/// decide differently, or that Cedar meets an error on (an erroring policy is skipped, which
/// would hide a bad translation).
pub(crate) fn check_equivalence(fixture: &Fixture, n: usize) {
    let authorizer = cedar::Authorizer::new();
    let requests = sample_requests(fixture.set.items(), n);
    let (mut permits, mut forbidden, mut denies) = (0, 0, 0);
    for req in &requests {
        let ours = fixture.set.decide(&req.as_request());
        let theirs = authorizer.is_authorized(
            &cedar_request(req),
            &fixture.cedar.policies,
            &fixture.cedar.entities,
        );
        let errors: Vec<String> = theirs
            .diagnostics()
            .errors()
            .map(ToString::to_string)
            .collect();
        assert!(
            errors.is_empty(),
            "{}: Cedar errors on {req:?}: {errors:?}",
            fixture.label
        );
        let cedar_rules: BTreeSet<String> = theirs
            .diagnostics()
            .reason()
            .map(ToString::to_string)
            .collect();
        let our_rules: BTreeSet<String> = match &ours {
            Decision::Permit { rules, .. }
            | Decision::Deny {
                reason: DenyReason::ForbiddenByPolicy,
                rules,
            } => rules.iter().map(|r| format!("{}/{r}", req.item)).collect(),
            // Cedar has no other kind of determining rule on a deny
            Decision::Deny { .. } => BTreeSet::new(),
        };
        let allowed = theirs.decision() == cedar::Decision::Allow;
        if ours.is_permit() != allowed || our_rules != cedar_rules {
            let cedar_text = fixture.set.item(&req.item).map(translate_item);
            panic!(
                "{}: tongban and Cedar disagree on {req:?}:\n  tongban: {ours:?}\n  \
                 Cedar: {:?} by {cedar_rules:?}\n  the item's Cedar policies: {cedar_text:#?}",
                fixture.label,
                theirs.decision()
            );
        }
        match ours {
            Decision::Permit { .. } => permits += 1,
            Decision::Deny {
                reason: DenyReason::ForbiddenByPolicy,
                ..
            } => forbidden += 1,
            Decision::Deny { .. } => denies += 1,
        }
    }
    // both sides of the decision are exercised, forbids included
    assert!(
        permits >= n / 5 && denies >= n / 5 && forbidden > 0,
        "{}: too one-sided a sample: {permits} permits, {forbidden} forbidden, {denies} other denies",
        fixture.label
    );
    eprintln!(
        "{}: tongban and Cedar agree on {n} requests ({permits} permit, {forbidden} forbidden, \
         {denies} other deny), determining rules included",
        fixture.label
    );
}

/// Requests near the rules: most start from a permit or forbid of a random item and match it,
/// and about half of those are then changed in one respect (caller, purpose, method, day,
/// licence, item) so that they may miss.
fn sample_requests(items: &[Item], n: usize) -> Vec<OwnedRequest> {
    let mut rng = Rng::new(0xCEDA);
    let departments: Vec<String> = departments(items).into_iter().collect();
    let purposes: Vec<&String> = items
        .iter()
        .flat_map(|i| &i.permits)
        .flat_map(|p| &p.purposes)
        .collect();
    let licences: Vec<&String> = items
        .iter()
        .flat_map(|i| &i.permits)
        .filter_map(|p| p.require_licence.as_ref())
        .collect();
    let city = |rng: &mut Rng| rng.pick(&CITIES).0.to_owned();
    let fill_with = |part: &Part, any: String| match part {
        Part::Is(v) => v.clone(),
        Part::Any => any,
    };
    (0..n)
        .map(|_| {
            let item = rng.pick(items);
            let mut req = OwnedRequest {
                caller: Party {
                    city: city(&mut rng),
                    department: rng.pick(&departments).clone(),
                },
                item: item.id.clone(),
                method: rng.pick(&item.methods).clone(),
                purpose: (*rng.pick(&purposes)).clone(),
                today: 20_000 + rng.below(1_000) as Day,
                licence: None,
            };
            if !item.forbids.is_empty() && rng.chance(20) {
                let f = rng.pick(&item.forbids);
                let pattern = rng.pick(&f.callers);
                req.caller = Party {
                    city: fill_with(&pattern.city, city(&mut rng)),
                    department: fill_with(&pattern.department, rng.pick(&departments).clone()),
                };
                if let Some(ps) = &f.purposes {
                    req.purpose = rng.pick(ps).clone();
                }
            } else if rng.chance(90) {
                let p = rng.pick(&item.permits);
                let pattern = rng.pick(&p.callers);
                req.caller = Party {
                    city: fill_with(&pattern.city, city(&mut rng)),
                    department: fill_with(&pattern.department, rng.pick(&departments).clone()),
                };
                req.purpose = rng.pick(&p.purposes).clone();
                let from = p.valid_from.unwrap_or(20_000);
                let until = p.valid_until.unwrap_or(from + 1_000);
                req.today = from + rng.below((until - from + 1) as usize) as Day;
                req.licence = p.require_licence.clone();
            }
            if rng.chance(50) {
                match rng.below(7) {
                    0 => req.caller.city = city(&mut rng),
                    1 => req.caller.department = rng.pick(&departments).clone(),
                    2 => req.purpose = (*rng.pick(&purposes)).clone(),
                    3 => req.method = rng.pick(&["GET", "POST", "DELETE"]).to_string(),
                    4 => req.today += if rng.chance(50) { -400 } else { 400 },
                    5 => {
                        req.licence = if rng.chance(50) {
                            None
                        } else {
                            Some((*rng.pick(&licences)).clone())
                        }
                    }
                    _ => {
                        req.item = if rng.chance(50) {
                            "NO-SUCH-ITEM".into()
                        } else {
                            rng.pick(items).id.clone()
                        }
                    }
                }
            }
            req
        })
        .collect()
}
