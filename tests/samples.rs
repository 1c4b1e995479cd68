//! The sample upstream responses (`policies/samples/*.json`) are internally consistent: ids carry
//! valid check digits and agree with the birth dates, genders and ages beside them, and totals
//! agree with their parts. Each rule must apply somewhere, so the test cannot pass vacuously.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "test code: a failure here is a failed test"
)]

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::{Map, Value};
use tongban::checkdigit::{resident_id_valid, uscc_valid};

/// Ages and "today" are judged at this date (YYYYMMDD).
const AT: u32 = 20260101;

/// `19320315` of a resident id, when it is a real date not after [`AT`].
fn id_birth(id: &str) -> Option<u32> {
    let date: u32 = id.get(6..14)?.parse().ok()?;
    let (month, day) = (date / 100 % 100, date % 100);
    ((1..=12).contains(&month) && (1..=31).contains(&day) && date <= AT).then_some(date)
}

/// `1932-03-15` → 19320315.
fn date(text: &str) -> Option<u32> {
    text.get(..10)?.replace('-', "").parse().ok()
}

/// Whole years from `born` to `at` (both YYYYMMDD).
fn age(born: u32, at: u32) -> u32 {
    (at - born) / 10_000
}

/// The 17th digit is odd for men.
fn is_male(id: &str) -> bool {
    id.as_bytes().get(16).is_some_and(|d| (d - b'0') % 2 == 1)
}

struct Check {
    problems: Vec<String>,
    applied: BTreeMap<&'static str, usize>,
}

impl Check {
    fn rule(&mut self, rule: &'static str, ok: bool, at: &str) {
        *self.applied.entry(rule).or_default() += 1;
        if !ok {
            self.problems.push(format!("{at}: {rule}"));
        }
    }

    fn walk(&mut self, value: &Value, at: &str, root: &Value) {
        match value {
            Value::Object(map) => {
                self.object(map, at, root);
                for (k, v) in map {
                    self.walk(v, &format!("{at}.{k}"), root);
                }
            }
            Value::Array(list) => {
                for (i, v) in list.iter().enumerate() {
                    self.walk(v, &format!("{at}[{i}]"), root);
                }
            }
            _ => {}
        }
    }

    fn object(&mut self, map: &Map<String, Value>, at: &str, root: &Value) {
        let text = |k: &str| map.get(k).and_then(Value::as_str);
        let number = |k: &str| map.get(k).and_then(Value::as_f64);
        for (key, value) in map {
            let Some(s) = value.as_str() else { continue };
            if key.ends_with("id_number") && s.len() == 18 {
                self.rule(
                    "resident id check digit (GB 11643)",
                    resident_id_valid(s),
                    at,
                );
                self.rule(
                    "resident id birth date is a real past date",
                    id_birth(s).is_some(),
                    at,
                );
            }
            if key == "uscc" {
                self.rule("USCC check digit (GB 32100)", uscc_valid(s), at);
            }
        }
        if let Some(id) = text("id_number").filter(|s| s.len() == 18) {
            if let Some(birth) = text("birth_date") {
                self.rule(
                    "birth_date agrees with the id",
                    date(birth) == id_birth(id),
                    at,
                );
            }
            if let Some(gender) = text("gender") {
                self.rule(
                    "gender agrees with the id",
                    (gender == "男") == is_male(id),
                    at,
                );
            }
            if at.ends_with(".mother") || at.ends_with(".father") {
                self.rule(
                    "a parent's id has the parent's gender",
                    is_male(id) == at.ends_with(".father"),
                    at,
                );
            }
            if let Some(relation) = text("relation").filter(|r| ["子", "女"].contains(r)) {
                self.rule(
                    "a son's or daughter's id has that gender",
                    is_male(id) == (relation == "子"),
                    at,
                );
                let parent = root["person"]["id_number"].as_str().and_then(id_birth);
                self.rule(
                    "a child is born at least 16 years after the person",
                    parent
                        .zip(id_birth(id))
                        .is_some_and(|(p, c)| c >= p + 160_000),
                    at,
                );
            }
        }
        if let (Some(total), Some(fund), Some(own)) =
            (number("total"), number("fund_paid"), number("self_paid"))
        {
            self.rule(
                "total = fund_paid + self_paid",
                (total - fund - own).abs() < 0.005,
                at,
            );
        }
        if let Some(level) = text("level").and_then(age_band) {
            let born = root["person"]["birth_date"].as_str().and_then(date);
            self.rule(
                "an age band agrees with the birth date",
                born.is_some_and(|b| (level.0..=level.1).contains(&age(b, AT))),
                at,
            );
        }
        if let Some(monthly) = number("monthly_amount") {
            for payment in root["payments"].as_array().into_iter().flatten() {
                self.rule(
                    "a monthly payment is the monthly amount",
                    payment["amount"].as_f64() == Some(monthly),
                    at,
                );
            }
        }
        if let Some(doses) = map.get("doses").and_then(Value::as_array) {
            let born = map["child"]["birth_date"].as_str().and_then(date);
            for dose in doses {
                self.rule(
                    "a dose is given after birth",
                    born.zip(dose["date"].as_str().and_then(date))
                        .is_some_and(|(b, d)| d >= b),
                    at,
                );
            }
        }
    }
}

/// `90—99周岁` → (90, 99); `100周岁以上` → (100, 150).
fn age_band(text: &str) -> Option<(u32, u32)> {
    let band = text.strip_suffix("周岁").map(|b| b.split_once('—'));
    match band {
        Some(Some((from, to))) => Some((from.parse().ok()?, to.parse().ok()?)),
        _ => {
            let from = text.strip_suffix("周岁以上")?;
            Some((from.parse().ok()?, 150))
        }
    }
}

#[test]
fn every_sample_is_internally_consistent() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("policies/samples");
    let mut check = Check {
        problems: Vec::new(),
        applied: BTreeMap::new(),
    };
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    for file in &files {
        let sample: Value = serde_json::from_slice(&std::fs::read(file).unwrap()).unwrap();
        let name = file.file_name().unwrap().to_string_lossy().into_owned();
        check.walk(&sample, &name, &sample);
    }
    assert!(files.len() >= 71, "{} samples", files.len());
    assert!(check.problems.is_empty(), "{:#?}", check.problems);
    for rule in [
        "resident id check digit (GB 11643)",
        "USCC check digit (GB 32100)",
        "birth_date agrees with the id",
        "gender agrees with the id",
        "a parent's id has the parent's gender",
        "a son's or daughter's id has that gender",
        "a child is born at least 16 years after the person",
        "total = fund_paid + self_paid",
        "an age band agrees with the birth date",
        "a monthly payment is the monthly amount",
        "a dose is given after birth",
    ] {
        assert!(
            check.applied.get(rule).copied().unwrap_or(0) > 0,
            "`{rule}` never applied"
        );
    }
}

#[test]
fn the_rules_catch_what_they_are_for() {
    assert_eq!(age_band("90—99周岁"), Some((90, 99)));
    assert_eq!(age_band("100周岁以上"), Some((100, 150)));
    assert_eq!(age(19320315, AT), 93);
    assert_eq!(age(19320315, 20250314), 92);
    // the elderly allowance as it was shipped: id 1966, birth date 1960, band 90—99
    let broken: Value = serde_json::json!({
        "person": {"id_number": "429006196601123615", "birth_date": "1960-12-17"},
        "allowance": {"level": "90—99周岁", "monthly_amount": 13441.6},
        "payments": [{"month": "2025-02", "amount": 79828.36}]
    });
    let mut check = Check {
        problems: Vec::new(),
        applied: BTreeMap::new(),
    };
    check.walk(&broken, "x", &broken);
    assert_eq!(
        check.problems,
        [
            "x.person: birth_date agrees with the id",
            "x.allowance: an age band agrees with the birth date",
            "x.allowance: a monthly payment is the monthly amount",
        ]
    );
}
