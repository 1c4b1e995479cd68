//! Scenario files: `tests/scenarios/<name>/policy.toml` and `cases.toml` (request → expected
//! decision, determining rules, returned and masked fields, rate).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "test code: a failure here is a failed test"
)]

use std::path::Path;

use tongban::catalog::Catalog;
use tongban::policy::{cases, PolicySet};

#[test]
fn every_scenario_decides_as_written() {
    let catalog = Catalog::embedded().unwrap();
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/scenarios");
    let mut dirs: Vec<_> = std::fs::read_dir(&root)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    dirs.sort();
    let mut total = 0;
    let mut failures = Vec::new();
    for dir in &dirs {
        let policy = std::fs::read_to_string(dir.join("policy.toml")).unwrap();
        let set = PolicySet::parse(
            &[(dir.join("policy.toml").display().to_string(), policy)],
            &catalog,
            None,
        )
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
        let file = dir.join("cases.toml").display().to_string();
        let list = cases::parse(&std::fs::read_to_string(&file).unwrap(), &file).unwrap();
        assert!(!list.is_empty(), "{file}: no case");
        for case in &list {
            total += 1;
            let outcome = cases::run(&set, case, 20_000);
            if !outcome.failures.is_empty() {
                failures.push(format!(
                    "{}:{} {}: {:?}",
                    case.file, case.line, case.name, outcome.failures
                ));
            }
        }
    }
    eprintln!("{total} cases in {} scenarios", dirs.len());
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(total >= 15);
}
