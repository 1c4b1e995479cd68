//! Broken policy files: every error is reported, each with its file and line.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "test code: a failure here is a failed test"
)]

use std::collections::HashSet;

use tongban::catalog::Catalog;
use tongban::policy::PolicySet;

const GOOD: &str = r#"
[[item]]
id = "HPF-QUERY"
name = "公积金查询"
category = "住房公积金"
provider = "421200/HOUSING_FUND"
upstream = "hpf"
methods = ["GET"]
fields = ["account.status", "holder.name"]

[[item.permit]]
id = "any-hpf"
callers = ["*/HOUSING_FUND"]
purposes = ["HPF_WITHDRAWAL"]
fields = ["account.status"]
"#;

fn problems(files: &[(&str, &str)]) -> Vec<String> {
    let catalog = Catalog::embedded().unwrap();
    let upstreams: HashSet<String> = ["hpf".to_owned()].into();
    let files: Vec<(String, String)> = files
        .iter()
        .map(|(n, t)| (n.to_string(), t.to_string()))
        .collect();
    match PolicySet::parse(&files, &catalog, Some(&upstreams)) {
        Ok(_) => Vec::new(),
        Err(e) => e.problems.iter().map(|p| p.to_string()).collect(),
    }
}

#[track_caller]
fn assert_error(text: &str, expected: &str) {
    let found = problems(&[("items/x.toml", text)]);
    assert!(
        found.iter().any(|p| p.contains(expected)),
        "want `{expected}` in {found:#?}"
    );
}

#[test]
fn the_good_file_loads() {
    assert!(problems(&[("items/good.toml", GOOD)]).is_empty());
}

#[test]
fn each_error_names_file_and_line() {
    let cases = [
        (GOOD.replace("legal", "x").replace("methods = [\"GET\"]", "methods = [\"GET\"]\ncolour = \"red\""), "items/x.toml:9: unknown key `item[1].colour`"),
        (GOOD.replace("421200/HOUSING_FUND", "999999/HOUSING_FUND"), "items/x.toml:6: unknown city `999999`"),
        (GOOD.replace("*/HOUSING_FUND", "*/SPACE_AGENCY"), "items/x.toml:13: unknown department kind `SPACE_AGENCY`"),
        (format!("{GOOD}require_licence = \"FISHING_PERMIT\"\n"), "items/x.toml:16: licence type `FISHING_PERMIT` is not in the catalog"),
        (format!("{GOOD}mask = {{ \"account.status\" = \"blur\" }}\n"), "mask method `blur`"),
        (GOOD.replace("fields = [\"account.status\"]", "fields = [\"account.balance\"]"), "items/x.toml:15: field `account.balance` is not among the item's fields"),
        (format!("{GOOD}mask = {{ \"holder.phone\" = \"phone\" }}\n"), "mask path `holder.phone` is not among the item's fields"),
        (GOOD.replace("upstream = \"hpf\"", "upstream = \"nowhere\""), "items/x.toml:7: upstream `nowhere` is not defined"),
        (format!("{GOOD}valid_from = 2026-01-01\nvalid_until = 2025-01-01\n"), "items/x.toml:17: permit `any-hpf` ends before it starts"),
        (GOOD.replace("HPF-QUERY", "hpf query"), "items/x.toml:3: item id `hpf query` must be [A-Z0-9-]+"),
        (format!("{GOOD}rate = \"lots\"\n"), "rate `lots`"),
        (format!("{GOOD}\n[[item.permit]]\nid = \"any-hpf\"\ncallers = [\"*/*\"]\npurposes = [\"X\"]\nfields = [\"holder.name\"]\n"), "items/x.toml:18: duplicate rule id `any-hpf`"),
        ("[[item]]\nid = 3\n".to_owned(), "items/x.toml:2"),
    ];
    for (text, expected) in cases {
        assert_error(&text, expected);
    }
}

#[test]
fn duplicates_across_files_and_many_errors_at_once() {
    let found = problems(&[("items/a.toml", GOOD), ("items/b.toml", GOOD)]);
    assert!(
        found.iter().any(|p| p.starts_with(
            "items/b.toml:2: duplicate item id `HPF-QUERY` (first at items/a.toml:2)"
        )),
        "{found:#?}"
    );
    let broken = GOOD
        .replace("421200/HOUSING_FUND", "999999/X")
        .replace("*/HOUSING_FUND", "*/Y")
        .replace("hpf\"", "gone\"");
    let found = problems(&[("items/x.toml", &broken)]);
    assert!(found.len() >= 3, "every error, not the first: {found:#?}");
}
