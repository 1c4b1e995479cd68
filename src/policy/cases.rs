//! Policy test cases: request → expected decision, determining rules, fields and masks. Used
//! by the scenario tests and `tongban policy test`.
//!
//! ```toml
//! [[case]]
//! name = "Xianning housing fund withdraws in Wuhan"
//! caller = "420100/HOUSING_FUND"
//! item = "HPF-DEPOSIT-QUERY"
//! purpose = "HPF_WITHDRAWAL"
//! method = "GET"                 # default GET
//! date = 2026-03-01              # default: today
//! licence = "ID_CARD"            # a verified subject licence of this type (optional)
//! expect = "permit"              # or "deny"
//! code = "NO_MATCHING_PERMIT"    # deny only (optional)
//! rules = ["hpf-withdrawal-any-city"]                           # optional, exact set
//! fields = { "account.status" = "clear", "holder.id_number" = "id_number" }  # optional, exact
//! rate = "600/min"               # optional; "none" for no limit
//! ```

use std::collections::{BTreeMap, BTreeSet};

use serde::Deserialize;
use toml::Spanned;

use super::decide::Decision;
use super::load::{days_from_civil, line_at};
use super::model::{Day, Party};
use super::{AccessRequest, PolicySet};
use crate::catalog::Problem;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCases {
    #[serde(default)]
    case: Vec<Spanned<RawCase>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCase {
    name: String,
    caller: String,
    item: String,
    purpose: String,
    #[serde(default = "get")]
    method: String,
    date: Option<toml::value::Datetime>,
    licence: Option<String>,
    expect: String,
    code: Option<String>,
    rules: Option<Vec<String>>,
    fields: Option<BTreeMap<String, String>>,
    rate: Option<String>,
}

fn get() -> String {
    "GET".into()
}

/// One test case, as read.
#[derive(Clone, Debug)]
pub struct Case {
    pub name: String,
    pub file: String,
    pub line: u64,
    pub caller: Party,
    pub item: String,
    pub purpose: String,
    pub method: String,
    pub date: Option<Day>,
    pub licence: Option<String>,
    pub expect_permit: bool,
    pub code: Option<String>,
    pub rules: Option<BTreeSet<String>>,
    pub fields: Option<BTreeMap<String, String>>,
    pub rate: Option<String>,
}

/// The outcome of one case: the mismatches found (empty = pass) and the rules that decided.
#[derive(Clone, Debug)]
pub struct Outcome {
    pub case: Case,
    pub failures: Vec<String>,
    pub rules: Vec<String>,
}

/// Parses a cases file; every problem with its line.
pub fn parse(text: &str, file: &str) -> Result<Vec<Case>, Vec<Problem>> {
    let line_of = |offset: usize| line_at(text, offset);
    let raw: RawCases = toml::from_str(text).map_err(|e| {
        vec![Problem::new(
            file,
            e.span().map(|s| line_of(s.start)).unwrap_or(0),
            e.message().replace('\n', " "),
        )]
    })?;
    let mut cases = Vec::new();
    let mut problems = Vec::new();
    for raw in raw.case {
        let line = line_of(raw.span().start);
        let r = raw.into_inner();
        let caller = match r.caller.split_once('/') {
            Some((city, dept)) => Party {
                city: city.into(),
                department: dept.into(),
            },
            None => {
                problems.push(Problem::new(
                    file,
                    line,
                    format!("caller `{}` is not CITY/DEPT", r.caller),
                ));
                continue;
            }
        };
        let expect_permit = match r.expect.as_str() {
            "permit" => true,
            "deny" => false,
            other => {
                problems.push(Problem::new(
                    file,
                    line,
                    format!("expect `{other}` is not `permit` or `deny`"),
                ));
                continue;
            }
        };
        let date = match r.date.and_then(|d| d.date) {
            Some(d) => days_from_civil(i32::from(d.year), u32::from(d.month), u32::from(d.day)),
            None => None,
        };
        cases.push(Case {
            name: r.name,
            file: file.to_owned(),
            line,
            caller,
            item: r.item,
            purpose: r.purpose,
            method: r.method,
            date,
            licence: r.licence,
            expect_permit,
            code: r.code,
            rules: r.rules.map(|v| v.into_iter().collect()),
            fields: r.fields,
            rate: r.rate,
        });
    }
    if problems.is_empty() {
        Ok(cases)
    } else {
        Err(problems)
    }
}

/// Runs a case against a policy set; `today` is used when the case names no date.
pub fn run(set: &PolicySet, case: &Case, today: Day) -> Outcome {
    let req = AccessRequest {
        caller: &case.caller,
        item: &case.item,
        method: &case.method,
        purpose: &case.purpose,
        today: case.date.unwrap_or(today),
        licence: case.licence.as_deref(),
    };
    let decision = set.decide(&req);
    let mut failures = Vec::new();
    if decision.is_permit() != case.expect_permit {
        failures.push(format!(
            "expected {}, got {}",
            expect_word(case.expect_permit),
            describe(&decision)
        ));
    }
    if let (Some(code), Decision::Deny { reason, .. }) = (&case.code, &decision) {
        if reason.code() != code {
            failures.push(format!("expected code `{code}`, got `{}`", reason.code()));
        }
    }
    let rules: BTreeSet<String> = decision.rules().iter().cloned().collect();
    if let Some(expected) = case.rules.as_ref().filter(|r| **r != rules) {
        failures.push(format!("expected rules {expected:?}, got {rules:?}"));
    }
    if let Decision::Permit { fields, rate, .. } = &decision {
        if let Some(expected) = &case.fields {
            let got: BTreeMap<String, String> = fields
                .fields()
                .map(|(f, m)| (f.to_owned(), m.map_or("clear", |m| m.as_str()).to_owned()))
                .collect();
            if *expected != got {
                failures.push(format!("expected fields {expected:?}, got {got:?}"));
            }
        }
        if let Some(expected) = &case.rate {
            let got = rate.map_or("none".to_owned(), |r| r.to_string());
            if *expected != got {
                failures.push(format!("expected rate `{expected}`, got `{got}`"));
            }
        }
    }
    Outcome {
        case: case.clone(),
        failures,
        rules: decision.rules().to_vec(),
    }
}

fn expect_word(permit: bool) -> &'static str {
    if permit {
        "permit"
    } else {
        "deny"
    }
}

fn describe(d: &Decision) -> String {
    match d {
        Decision::Permit { rules, .. } => format!("permit by {rules:?}"),
        Decision::Deny { reason, rules } => format!("deny `{}` {rules:?}", reason.code()),
    }
}
