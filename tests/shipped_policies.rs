//! The shipped policies under `policies/`: they load, they cover the metropolitan area, every
//! item has a sample upstream response holding its fields, and every case of `policies/tests/`
//! passes with every rule determining at least one case.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "test code: a failure here is a failed test"
)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde_json::Value;
use tongban::catalog::Catalog;
use tongban::checkdigit::{resident_id_valid, uscc_valid};
use tongban::policy::cases::{parse, run};
use tongban::policy::model::FieldPath;
use tongban::policy::PolicySet;

const CITIES: [&str; 9] = [
    "420100", "420200", "420700", "420900", "421100", "421200", "429004", "429005", "429006",
];

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("policies")
}

fn load() -> PolicySet {
    let dir = dir();
    let catalog = Catalog::load(&dir).expect("catalog loads");
    PolicySet::load(&dir, &catalog, None).unwrap_or_else(|e| panic!("policies load:\n{e}"))
}

/// Whether `value` holds `segments` (a parsed field path): `[]` requires a non-empty array every
/// element of which holds the rest of the path.
fn holds(value: &Value, segments: &[String]) -> bool {
    let Some((head, rest)) = segments.split_first() else {
        return !value.is_null();
    };
    if head == "[]" {
        return match value {
            Value::Array(elements) => {
                !elements.is_empty() && elements.iter().all(|e| holds(e, rest))
            }
            _ => false,
        };
    }
    value.get(head.as_str()).is_some_and(|v| holds(v, rest))
}

/// Every leaf of `value` as a dot path with `[]` for array elements.
fn leaves(value: &Value, prefix: &str, out: &mut BTreeSet<String>) {
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                let p = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                leaves(v, &p, out);
            }
        }
        Value::Array(elements) => {
            for e in elements {
                leaves(e, &format!("{prefix}[]"), out);
            }
        }
        _ => {
            out.insert(prefix.to_owned());
        }
    }
}

/// Values under keys that name personal identifiers must be well-formed.
fn check_identifiers(value: &Value, key: &str, file: &str, bad: &mut Vec<String>) {
    match value {
        Value::Object(map) => map
            .iter()
            .for_each(|(k, v)| check_identifiers(v, k, file, bad)),
        Value::Array(elements) => elements
            .iter()
            .for_each(|v| check_identifiers(v, key, file, bad)),
        Value::String(s) => {
            let ok = if key.ends_with("id_number") {
                resident_id_valid(s)
            } else if key == "uscc" || key.ends_with("_uscc") {
                uscc_valid(s)
            } else if key.ends_with("phone") || key.ends_with("mobile") {
                s.len() == 11
                    && s.starts_with('1')
                    && (b'3'..=b'9').contains(&s.as_bytes()[1])
                    && s.bytes().all(|b| b.is_ascii_digit())
            } else {
                true
            };
            if !ok {
                bad.push(format!("{file}: `{key}` = {s:?}"));
            }
        }
        _ => {}
    }
}

#[test]
fn shipped_policies_cover_the_metropolitan_area() {
    let set = load();
    let items = set.items();
    assert!(items.len() >= 60, "only {} items", items.len());
    let categories: BTreeSet<&str> = items.iter().map(|i| i.category.as_str()).collect();
    assert!(
        categories.len() >= 18,
        "only {} categories: {categories:?}",
        categories.len()
    );
    let providers: BTreeSet<&str> = items.iter().map(|i| i.provider.city.as_str()).collect();
    for city in CITIES {
        assert!(providers.contains(city), "no item provided by {city}");
    }
    let without_basis: Vec<&str> = items
        .iter()
        .filter(|i| i.legal_basis.is_none())
        .map(|i| i.id.as_str())
        .collect();
    assert_eq!(
        without_basis.len(),
        1,
        "exactly one item leaves out legal_basis (for `policy check` to warn about): {without_basis:?}"
    );
    for item in items {
        assert!(
            (5..=12).contains(&item.fields.len()),
            "{}: {} fields",
            item.id,
            item.fields.len()
        );
        assert!(
            (1..=4).contains(&item.permits.len()),
            "{}: {} permits",
            item.id,
            item.permits.len()
        );
        assert!(
            !item.upstream.is_empty()
                && item
                    .upstream
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-'),
            "{}: upstream `{}`",
            item.id,
            item.upstream
        );
    }
    println!(
        "{} items, {} categories: {}",
        items.len(),
        categories.len(),
        categories.into_iter().collect::<Vec<_>>().join("、")
    );
}

#[test]
fn every_item_has_a_sample_holding_its_fields() {
    let set = load();
    let samples = dir().join("samples");
    let mut problems = Vec::new();
    for item in set.items() {
        let file = samples.join(format!("{}.json", item.id));
        let text = match std::fs::read_to_string(&file) {
            Ok(t) => t,
            Err(e) => {
                problems.push(format!("{}: {e}", file.display()));
                continue;
            }
        };
        let body: Value = match serde_json::from_str(&text) {
            Ok(v) => v,
            Err(e) => {
                problems.push(format!("{}: {e}", file.display()));
                continue;
            }
        };
        for f in &item.fields {
            if !holds(&body, f.segments()) {
                problems.push(format!("{}: no `{f}`", file.display()));
            }
        }
        // filtering must visibly remove something
        let mut all = BTreeSet::new();
        leaves(&body, "", &mut all);
        let outside: Vec<&String> = all
            .iter()
            .filter(|leaf| {
                let p = FieldPath::parse(leaf).expect("a sample leaf is a field path");
                !item.fields.iter().any(|f| p.within(f))
            })
            .collect();
        if outside.is_empty() {
            problems.push(format!(
                "{}: nothing outside the item's fields",
                file.display()
            ));
        }
        check_identifiers(&body, "", &file.display().to_string(), &mut problems);
    }
    // and no sample without an item
    for entry in std::fs::read_dir(&samples).expect("samples directory") {
        let path = entry.expect("entry").path();
        let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or("");
        if set.item(stem).is_none() {
            problems.push(format!("{}: no such item", path.display()));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn every_case_passes_and_every_rule_decides_a_case() {
    let set = load();
    let tests = dir().join("tests");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&tests)
        .expect("tests directory")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    files.sort();
    // a date far from every window: cases must name their own dates where windows matter
    let today = tongban::policy::load::days_from_civil(2031, 1, 1).expect("date");
    let mut failures = Vec::new();
    let mut decided: BTreeMap<(String, String), usize> = BTreeMap::new();
    let mut total = 0;
    let (mut permits, mut denies) = (0, 0);
    let mut codes: BTreeMap<String, usize> = BTreeMap::new();
    for file in &files {
        let name = file.display().to_string();
        let text = std::fs::read_to_string(file).expect("readable");
        let cases = parse(&text, &name).unwrap_or_else(|p| panic!("{name}: {p:?}"));
        for case in &cases {
            total += 1;
            if case.expect_permit {
                permits += 1;
            } else {
                denies += 1;
                if let Some(code) = &case.code {
                    *codes.entry(code.clone()).or_default() += 1;
                }
            }
            let outcome = run(&set, case, today);
            if !outcome.failures.is_empty() {
                failures.push(format!(
                    "{}:{} {}: {}",
                    case.file,
                    case.line,
                    case.name,
                    outcome.failures.join("; ")
                ));
            }
            for rule in &outcome.rules {
                *decided
                    .entry((case.item.clone(), rule.clone()))
                    .or_default() += 1;
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {total} cases fail:\n{}",
        failures.len(),
        failures.join("\n")
    );
    let mut rules = Vec::new();
    for item in set.items() {
        for id in item
            .permits
            .iter()
            .map(|p| &p.id)
            .chain(item.forbids.iter().map(|f| &f.id))
        {
            rules.push((item.id.clone(), id.clone()));
        }
    }
    let uncovered: Vec<String> = rules
        .iter()
        .filter(|r| !decided.contains_key(*r))
        .map(|(i, r)| format!("{i}/{r}"))
        .collect();
    let covered = rules.len() - uncovered.len();
    println!(
        "{total} cases ({permits} permit, {denies} deny {codes:?}) in {} files; rule coverage {covered}/{} = {:.1}%",
        files.len(),
        rules.len(),
        100.0 * covered as f64 / rules.len() as f64
    );
    assert!(
        uncovered.is_empty(),
        "rules that decided no case:\n{}",
        uncovered.join("\n")
    );
    for code in [
        "UNKNOWN_ITEM",
        "METHOD_NOT_ALLOWED",
        "LICENCE_REQUIRED",
        "FORBIDDEN_BY_POLICY",
        "NO_MATCHING_PERMIT",
    ] {
        assert!(codes.contains_key(code), "no deny case with code {code}");
    }
}

/// The shipped set passes `policy check --deny-warnings`: the warnings it keeps on purpose are
/// acknowledged with their reasons, so a security team can gate on any new one.
#[test]
fn the_shipped_set_passes_check_with_deny_warnings() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_tongban"))
        .args(["policy", "check", "--deny-warnings"])
        .arg(dir())
        .output()
        .unwrap();
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert!(out.status.success(), "{stdout}{stderr}");
    assert!(
        stderr.contains("0 error(s), 0 warning(s), 3 acknowledged"),
        "{stderr}"
    );
    assert!(
        stdout
            .lines()
            .all(|l| l.contains(": acknowledged[") && l.contains("(reason: ")),
        "{stdout}"
    );
}
