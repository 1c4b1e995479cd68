//! The statistics centre's figures (统计中心, contract section 5): today's permitted exchanges by
//! category and by route between cities, and licence verifications by result and type. The day
//! is the calendar day in Asia/Shanghai (UTC+8, no daylight saving).
//!
//! One aggregator, [`Figures`], is fed [`Fact`]s taken from audit records: live, by the gateway
//! each time a record is written ([`Stats::observe`]), and at start by reading the day's records
//! back from the audit log, rotated files included ([`rebuild`]), so a restart does not zero the
//! hall's screen. Every figure is a count of audit records, so the screen never shows what the
//! audit log does not hold. A cluster (several gateways, one database) feeds the same
//! [`Figures::add`] from a query grouped by the same facts, with counts
//! ([`crate::cluster::figures`]), and puts the result in place with [`Stats::replace`].
//!
//! No personal data: the facts are an item, a caller city, a licence type and a result.

mod rebuild;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use serde::{Serialize, Serializer};

pub use rebuild::{rebuild, Rebuilt};

use crate::audit::{Kind, Outcome, Record};
use crate::catalog::Catalog;
use crate::policy::model::Day;
use crate::policy::{today_cst, PolicySet};
use crate::time::UnixTime;

/// The key of what cannot be named: an unreadable licence or an unknown type, an item no longer
/// in the policies.
pub const UNKNOWN: &str = "UNKNOWN";

/// What one audit record adds to the figures.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fact<'a> {
    /// A permitted exchange of `item` by a caller of `caller_city`.
    Exchange { item: &'a str, caller_city: &'a str },
    /// A licence verification: the type the licence claims (when readable) and the result.
    Verification { ltype: Option<&'a str>, valid: bool },
}

impl<'a> Fact<'a> {
    /// The fact of a record's parts; `None` when it adds nothing (an exchange not permitted).
    pub fn of(
        kind: Kind,
        decision: Outcome,
        caller_city: &'a str,
        item: Option<&'a str>,
        ltype: Option<&'a str>,
    ) -> Option<Self> {
        match (kind, decision) {
            (Kind::Exchange, Outcome::Permit) => Some(Fact::Exchange {
                item: item.unwrap_or(UNKNOWN),
                caller_city,
            }),
            (Kind::LicenceVerification, Outcome::Valid | Outcome::Invalid) => {
                Some(Fact::Verification {
                    ltype,
                    valid: decision == Outcome::Valid,
                })
            }
            _ => None,
        }
    }

    /// The fact of a record.
    pub fn of_record(record: &'a Record) -> Option<Self> {
        Self::of(
            record.kind,
            record.decision,
            &record.caller.city,
            record.item.as_deref(),
            record.ltype.as_deref(),
        )
    }
}

/// Names facts: an item's category and provider city, the licence types of the catalog. Only
/// names from these end up in the figures, so their size is bounded whatever the records hold.
#[derive(Clone, Copy)]
pub struct Resolver<'a> {
    pub catalog: &'a Catalog,
    pub policies: &'a PolicySet,
}

/// One day's figures (the contract's `exchanges` and `verifications`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Figures {
    pub exchanges: Exchanges,
    pub verifications: Verifications,
}

/// Permitted exchanges.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Exchanges {
    pub total: u64,
    /// By the item's `category` ([`UNKNOWN`] for an item no longer in the policies).
    pub by_category: BTreeMap<String, u64>,
    /// By (caller city, provider city); only between cities of the catalog.
    #[serde(serialize_with = "routes")]
    pub by_route: BTreeMap<(String, String), u64>,
}

/// Licence verifications.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Verifications {
    pub total: u64,
    pub valid: u64,
    pub invalid: u64,
    /// By licence type ([`UNKNOWN`] for an unreadable licence or a type not in the catalog).
    pub by_ltype: BTreeMap<String, u64>,
}

impl Figures {
    /// Adds `n` occurrences of `fact`.
    pub fn add(&mut self, fact: Fact<'_>, n: u64, names: &Resolver<'_>) {
        match fact {
            Fact::Exchange { item, caller_city } => {
                let e = &mut self.exchanges;
                e.total += n;
                let item = names.policies.item(item);
                let category = item.map_or(UNKNOWN, |i| i.category.as_str());
                *e.by_category.entry(category.to_owned()).or_default() += n;
                let from = names.catalog.city(caller_city);
                if let (Some(from), Some(item)) = (from, item) {
                    let to = item.provider.city.clone();
                    *e.by_route.entry((from.code.clone(), to)).or_default() += n;
                }
            }
            Fact::Verification { ltype, valid } => {
                let v = &mut self.verifications;
                v.total += n;
                if valid {
                    v.valid += n;
                } else {
                    v.invalid += n;
                }
                let ltype = ltype
                    .and_then(|t| names.catalog.licence_type(t))
                    .map_or(UNKNOWN, |t| t.code.as_str());
                *v.by_ltype.entry(ltype.to_owned()).or_default() += n;
            }
        }
    }
}

fn routes<S: Serializer>(
    routes: &BTreeMap<(String, String), u64>,
    s: S,
) -> Result<S::Ok, S::Error> {
    #[derive(Serialize)]
    struct Route<'a> {
        from: &'a str,
        to: &'a str,
        count: u64,
    }
    s.collect_seq(
        routes
            .iter()
            .map(|((from, to), &count)| Route { from, to, count }),
    )
}

/// `GET /stats`: the day and its figures, in the contract's shape.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Report {
    /// `YYYY-MM-DD`, Asia/Shanghai.
    pub day: String,
    #[serde(flatten)]
    pub figures: Figures,
}

/// The day of `at` in Asia/Shanghai, as days since 1970-01-01.
pub fn day_of(at: UnixTime) -> Day {
    today_cst(at)
}

/// `YYYY-MM-DD` of a day since 1970-01-01.
pub fn format_day(day: Day) -> String {
    time::Date::from_julian_day(day + UNIX_EPOCH_JULIAN_DAY)
        .map(|d| format!("{:04}-{:02}-{:02}", d.year(), u8::from(d.month()), d.day()))
        .unwrap_or_else(|_| day.to_string())
}

/// Unix time at which `day` starts in Asia/Shanghai.
pub fn day_start(day: Day) -> UnixTime {
    i64::from(day) * 86_400 - crate::time::CST_OFFSET_SECS
}

/// The Julian day number of 1970-01-01.
const UNIX_EPOCH_JULIAN_DAY: i32 = 2_440_588;

/// Today's figures of this gateway, fed by every audit record it writes. Cheap to share.
pub struct Stats {
    today: Mutex<(Day, Figures)>,
    /// Bumped by every change; the screen's event stream compares it.
    version: AtomicU64,
}

impl Stats {
    /// Starts from `figures` of `day` (see [`rebuild`]).
    pub fn new(day: Day, figures: Figures) -> Self {
        Self {
            today: Mutex::new((day, figures)),
            version: AtomicU64::new(0),
        }
    }

    /// Counts the fact of a record written at `at`; a record of a later day starts that day.
    pub fn observe(&self, fact: Fact<'_>, at: UnixTime, names: &Resolver<'_>) {
        let day = day_of(at);
        let mut today = self.lock();
        if day > today.0 {
            *today = (day, Figures::default());
        }
        if day == today.0 {
            today.1.add(fact, 1, names);
            self.version.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Puts a cluster's `figures` of `day`, read from its database, in place of what is there
    /// (never those of an earlier day); the version changes only when the figures do.
    pub fn replace(&self, day: Day, figures: Figures) {
        let mut today = self.lock();
        if day < today.0 || (day == today.0 && today.1 == figures) {
            return;
        }
        *today = (day, figures);
        self.version.fetch_add(1, Ordering::Relaxed);
    }

    /// The figures of the day holding `now` (none yet, just after midnight).
    pub fn report(&self, now: UnixTime) -> Report {
        let day = day_of(now);
        let today = self.lock();
        let figures = if today.0 == day {
            today.1.clone()
        } else {
            Figures::default()
        };
        Report {
            day: format_day(day),
            figures,
        }
    }

    /// Changes whenever the figures do.
    pub fn version(&self) -> u64 {
        self.version.load(Ordering::Relaxed)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, (Day, Figures)> {
        // counts only ever grow under the lock: a poisoned one still holds whole counts
        self.today.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::PolicySet;

    /// 2026-12-02T00:00:00+08:00.
    const MIDNIGHT: UnixTime = 1_796_140_800;

    fn world() -> (Catalog, PolicySet) {
        let catalog = Catalog::embedded().unwrap();
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("policies");
        let policies = PolicySet::load(&dir, &catalog, None).unwrap();
        (catalog, policies)
    }

    #[test]
    fn days_are_asia_shanghai() {
        assert_eq!(format_day(day_of(MIDNIGHT)), "2026-12-02");
        assert_eq!(format_day(day_of(MIDNIGHT - 1)), "2026-12-01");
        assert_eq!(day_start(day_of(MIDNIGHT + 86_399)), MIDNIGHT);
        assert_eq!(format_day(0), "1970-01-01");
    }

    #[test]
    fn figures_name_facts_and_bound_what_they_keep() {
        let (catalog, policies) = world();
        let names = Resolver {
            catalog: &catalog,
            policies: &policies,
        };
        let item = &policies.items()[0];
        let mut f = Figures::default();
        f.add(
            Fact::Exchange {
                item: &item.id,
                caller_city: "420200",
            },
            3,
            &names,
        );
        f.add(
            Fact::Exchange {
                item: "GONE-ITEM",
                caller_city: "420200",
            },
            1,
            &names,
        );
        f.add(
            Fact::Exchange {
                item: &item.id,
                caller_city: "999999",
            },
            1,
            &names,
        );
        for (ltype, valid) in [
            (Some("ID_CARD"), true),
            (Some("ID_CARD"), false),
            (Some("NO_SUCH_TYPE"), false),
            (None, false),
        ] {
            f.add(Fact::Verification { ltype, valid }, 1, &names);
        }
        assert_eq!(f.exchanges.total, 5);
        assert_eq!(f.exchanges.by_category[&item.category], 4);
        assert_eq!(f.exchanges.by_category[UNKNOWN], 1);
        assert_eq!(
            f.exchanges.by_route,
            BTreeMap::from([(("420200".into(), item.provider.city.clone()), 3)])
        );
        assert_eq!(
            (
                f.verifications.total,
                f.verifications.valid,
                f.verifications.invalid
            ),
            (4, 1, 3)
        );
        assert_eq!(f.verifications.by_ltype["ID_CARD"], 2);
        assert_eq!(f.verifications.by_ltype[UNKNOWN], 2);
        let json = serde_json::to_value(Report {
            day: "2026-12-02".into(),
            figures: f,
        })
        .unwrap();
        assert_eq!(
            json["exchanges"]["by_route"],
            serde_json::json!([{"from": "420200", "to": item.provider.city, "count": 3}])
        );
        assert_eq!(json["day"], "2026-12-02");
        assert_eq!(json["verifications"]["invalid"], 3);
    }

    #[test]
    fn the_day_turns_at_midnight_in_shanghai() {
        let (catalog, policies) = world();
        let names = Resolver {
            catalog: &catalog,
            policies: &policies,
        };
        let stats = Stats::new(day_of(MIDNIGHT - 10), Figures::default());
        let valid = Fact::Verification {
            ltype: Some("ID_CARD"),
            valid: true,
        };
        stats.observe(valid, MIDNIGHT - 10, &names);
        assert_eq!(stats.report(MIDNIGHT - 5).figures.verifications.total, 1);
        let v = stats.version();
        // after midnight, before any record: a new, empty day
        let next = stats.report(MIDNIGHT + 5);
        assert_eq!(
            (next.day.as_str(), next.figures.verifications.total),
            ("2026-12-02", 0)
        );
        stats.observe(valid, MIDNIGHT + 6, &names);
        stats.observe(valid, MIDNIGHT + 7, &names);
        // a late record of yesterday does not count today
        stats.observe(valid, MIDNIGHT - 1, &names);
        assert_eq!(stats.report(MIDNIGHT + 8).figures.verifications.total, 2);
        assert_eq!(stats.version(), v + 2);
    }

    #[test]
    fn only_permitted_exchanges_and_verifications_are_facts() {
        use crate::audit::CallerId;
        let caller = CallerId::new("420100", "TAX", "org");
        let denied = Record::exchange("r", caller.clone(), "X", "P", Outcome::Deny);
        assert_eq!(Fact::of_record(&denied), None);
        let error = Record::exchange("r", caller.clone(), "X", "P", Outcome::Error);
        assert_eq!(Fact::of_record(&error), None);
        let permit = Record::exchange("r", caller.clone(), "X", "P", Outcome::Permit);
        assert_eq!(
            Fact::of_record(&permit),
            Some(Fact::Exchange {
                item: "X",
                caller_city: "420100"
            })
        );
        let invalid = Record::licence_verification("r", caller, None, None, Outcome::Invalid);
        assert_eq!(
            Fact::of_record(&invalid),
            Some(Fact::Verification {
                ltype: None,
                valid: false
            })
        );
    }
}
