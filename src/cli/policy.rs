//! `tongban policy …`: tools for the security teams who approve every grant of one city's data
//! to another: check, explain, test (diff and sign live beside them), and `generate` for
//! synthetic sets at scale ([`generate`]).

mod generate;

use std::collections::{BTreeSet, HashSet};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Subcommand, ValueEnum};
use serde_json::json;

use super::{city_list, fail, reject, require_dir, EXIT_NOT_ACCEPTED};
use crate::catalog::Catalog;
use crate::licence::Verifier;
use crate::policy::decide::{check_permit, forbid_matches, Decision};
use crate::policy::lint::lint;
use crate::policy::load::days_from_civil;
use crate::policy::model::{Allow, Day, Party};
use crate::policy::{cases, signing, today_cst, AccessRequest, PolicySet};
use crate::recognition::Recognition;
use crate::time::{Clock, SystemClock};

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Validate and lint the policy files; exit 0 ok, 1 findings, 2 usage or I/O.
    Check {
        /// Policies directory (catalog/, recognition.toml, items/).
        #[arg(value_name = "DIR", default_value = "policies")]
        dir: PathBuf,
        /// Server configuration: also check every item's upstream against it.
        #[arg(long, value_name = "FILE")]
        config: Option<PathBuf>,
        /// Warnings count as findings (exit 1).
        #[arg(long)]
        deny_warnings: bool,
        /// `text`: one finding per line, `FILE:LINE: severity[CODE]: message`; `json`: an
        /// array of {severity, code, file, line, message}.
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
    },
    /// Show the decision for one request, every candidate rule and its conditions; exit 0, 2
    /// usage or I/O (an unknown city, department kind or item among them).
    Explain {
        /// Policies directory (catalog/, recognition.toml, items/).
        #[arg(value_name = "DIR", default_value = "policies")]
        dir: PathBuf,
        /// The calling department, CITY/DEPT (e.g. 420100/HOUSING_FUND).
        #[arg(long, value_name = "CITY/DEPT")]
        caller: String,
        /// The item's id, e.g. HPF-DEPOSIT-QUERY-XN.
        #[arg(long, value_name = "ID")]
        item: String,
        /// The purpose the caller states (`X-Purpose`), e.g. HPF_WITHDRAWAL.
        #[arg(long, value_name = "PURPOSE")]
        purpose: String,
        /// The HTTP method of the request.
        #[arg(long, value_name = "METHOD", default_value = "GET")]
        method: String,
        /// A subject licence (compact JWS) verified for the caller's city.
        #[arg(long, value_name = "FILE")]
        licence: Option<PathBuf>,
        /// Trust directory for `--licence`.
        #[arg(long, value_name = "DIR", default_value = "certs/demo/trust")]
        trust: PathBuf,
        /// The day to decide for (YYYY-MM-DD); default today (China Standard Time).
        #[arg(long, value_name = "DATE")]
        date: Option<String>,
        /// `text`: the decision and a table of rules; `json`: the same as one object.
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
    },
    /// Run the policy test cases of `<DIR>/tests/*.toml`; exit 0 pass, 1 fail, 2 usage or I/O.
    Test {
        /// Policies directory (catalog/, recognition.toml, items/, tests/).
        #[arg(value_name = "DIR", default_value = "policies")]
        dir: PathBuf,
        /// Fail when fewer than this percentage of rules determine at least one case.
        #[arg(long, value_name = "PERCENT")]
        fail_under: Option<f64>,
        /// `text`: failures, uncovered rules and a summary line; `json`: the same as one object.
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
    },
    /// What each caller gains or loses between two policy directories, per item and field;
    /// exit 0, 2 usage or I/O.
    Diff {
        /// The policies directory in force (e.g. `policies`).
        #[arg(value_name = "OLD")]
        old: PathBuf,
        /// The proposed policies directory.
        #[arg(value_name = "NEW")]
        new: PathBuf,
        /// The day to compare on (YYYY-MM-DD); default today (China Standard Time).
        #[arg(long, value_name = "DATE")]
        date: Option<String>,
        /// `text`: rule changes, then a table of access changes; `json`: the same with a
        /// `widens` flag per change.
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
    },
    /// Sign the policy set of DIR: writes DIR/policy-set.jws over every file's SHA-256; warns
    /// when the signer's department kind is not one the gateway accepts by default.
    Sign {
        /// Policies directory to sign.
        #[arg(value_name = "DIR", default_value = "policies")]
        dir: PathBuf,
        /// The security team's certificate chain (PEM, signer first).
        #[arg(long, value_name = "PEM")]
        cert: PathBuf,
        /// Its PKCS#8 private key (PEM).
        #[arg(long, value_name = "PEM")]
        key: PathBuf,
    },
    /// Check DIR/policy-set.jws as the gateway does with `require_signed_policies`; exit 0
    /// accepted, 1 not accepted, 2 usage or I/O.
    VerifySignature {
        /// Policies directory holding policy-set.jws.
        #[arg(value_name = "DIR", default_value = "policies")]
        dir: PathBuf,
        /// Trust directory the signer's certificate must chain into (its own city's anchor).
        #[arg(long, value_name = "DIR", default_value = "certs/demo/trust")]
        trust: PathBuf,
    },
    /// Write a synthetic policy set (benchmarks, load tests) as a policies directory; prints
    /// the `[upstreams.*]` configuration its items need.
    Generate(generate::Args),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Text,
    Json,
}

pub fn run(command: Command) -> ExitCode {
    match command {
        Command::Check {
            dir,
            config,
            deny_warnings,
            format,
        } => check(&dir, config.as_deref(), deny_warnings, format),
        Command::Explain {
            dir,
            caller,
            item,
            purpose,
            method,
            licence,
            trust,
            date,
            format,
        } => explain(
            &dir,
            &caller,
            &item,
            &purpose,
            &method,
            licence.as_deref(),
            &trust,
            date.as_deref(),
            format,
        ),
        Command::Test {
            dir,
            fail_under,
            format,
        } => test(&dir, fail_under, format),
        Command::Diff {
            old,
            new,
            date,
            format,
        } => diff(&old, &new, date.as_deref(), format),
        Command::Sign { dir, cert, key } => sign(&dir, &cert, &key),
        Command::VerifySignature { dir, trust } => verify_signature(&dir, &trust),
        Command::Generate(args) => generate::run(&args),
    }
}

fn today() -> Day {
    today_cst(SystemClock.now())
}

/// Upstream names of a server configuration (`[upstreams.NAME]`).
fn upstream_names(config: &Path) -> Result<HashSet<String>, String> {
    let text = std::fs::read_to_string(config).map_err(|e| format!("{}: {e}", config.display()))?;
    let table: toml::Table =
        toml::from_str(&text).map_err(|e| format!("{}: {}", config.display(), e.message()))?;
    Ok(table
        .get("upstreams")
        .and_then(|u| u.as_table())
        .map(|t| t.keys().cloned().collect())
        .unwrap_or_default())
}

/// (severity, code, file, line, message, reason of an acknowledged warning)
type CheckFinding = (
    &'static str,
    &'static str,
    String,
    u64,
    String,
    Option<String>,
);

fn check(dir: &Path, config: Option<&Path>, deny_warnings: bool, format: Format) -> ExitCode {
    if let Err(e) = require_dir(dir, "policies directory", "the policies directory (DIR)") {
        return fail(e);
    }
    let upstreams = match config.map(upstream_names).transpose() {
        Ok(u) => u,
        Err(e) => return fail(e),
    };
    let files = crate::policy::load::policy_files(dir).map_or(0, |f| f.len());
    let mut findings: Vec<CheckFinding> = Vec::new();
    let catalog = match Catalog::load(dir) {
        Ok(c) => Some(c),
        Err(e) => {
            findings.extend(
                e.problems
                    .into_iter()
                    .map(|p| ("error", "CATALOG", p.file, p.line, p.message, None)),
            );
            None
        }
    };
    let mut items = 0;
    if let Some(catalog) = &catalog {
        if let Err(e) = Recognition::load(dir, catalog) {
            findings.extend(
                e.problems
                    .into_iter()
                    .map(|p| ("error", "RECOGNITION", p.file, p.line, p.message, None)),
            );
        }
        match PolicySet::load(dir, catalog, upstreams.as_ref()) {
            Ok(set) => {
                items = set.items().len();
                findings.extend(lint(set.items(), today()).into_iter().map(|w| {
                    let severity = if w.acknowledged.is_some() {
                        "acknowledged"
                    } else {
                        "warning"
                    };
                    (severity, w.code, w.file, w.line, w.message, w.acknowledged)
                }));
            }
            Err(e) => {
                items = e.items;
                findings.extend(
                    e.problems
                        .into_iter()
                        .map(|p| ("error", "POLICY", p.file, p.line, p.message, None)),
                )
            }
        }
    }
    let count = |severity: &str| findings.iter().filter(|f| f.0 == severity).count();
    let (errors, warnings, acknowledged) =
        (count("error"), count("warning"), count("acknowledged"));
    match format {
        Format::Json => {
            let list: Vec<_> = findings
                .iter()
                .map(|(severity, code, file, line, message, reason)| {
                    let mut f = json!({"severity": severity, "code": code, "file": file, "line": line, "message": message});
                    if let (Some(reason), Some(f)) = (reason, f.as_object_mut()) {
                        f.insert("reason".into(), json!(reason));
                    }
                    f
                })
                .collect();
            println!(
                "{}",
                serde_json::to_string_pretty(&list).unwrap_or_default()
            );
        }
        Format::Text => {
            for (severity, code, file, line, message, reason) in &findings {
                match reason {
                    Some(reason) => {
                        println!("{file}:{line}: {severity}[{code}]: {message} (reason: {reason})")
                    }
                    None => println!("{file}:{line}: {severity}[{code}]: {message}"),
                }
            }
            eprintln!(
                "tongban: {items} item(s) loaded from {files} file(s): {errors} error(s), \
                 {warnings} warning(s), {acknowledged} acknowledged"
            );
        }
    }
    if errors > 0 || (deny_warnings && warnings > 0) {
        ExitCode::from(EXIT_NOT_ACCEPTED)
    } else {
        ExitCode::SUCCESS
    }
}

fn load(dir: &Path) -> Result<(Catalog, PolicySet), String> {
    require_dir(dir, "policies directory", "the policies directory (DIR)")?;
    let catalog = Catalog::load(dir).map_err(|e| e.to_string())?;
    let set = PolicySet::load(dir, &catalog, None).map_err(|e| e.to_string())?;
    Ok((catalog, set))
}

/// `CITY/DEPT` of the catalog's cities and department kinds (a `*` is no caller).
fn parse_caller(text: &str, catalog: &Catalog) -> Result<Party, String> {
    let (city, department) = text
        .split_once('/')
        .ok_or_else(|| format!("--caller `{text}` is not CITY/DEPT"))?;
    if catalog.city(city).is_none() {
        return Err(format!(
            "--caller `{text}`: `{city}` is not a city of the catalog; one of {}",
            city_list(catalog)
        ));
    }
    if catalog.department(department).is_none() {
        let kinds: Vec<&str> = catalog
            .departments()
            .iter()
            .map(|d| d.code.as_str())
            .collect();
        return Err(format!(
            "--caller `{text}`: `{department}` is not a department kind of the catalog; {}",
            suggest(department, &kinds)
        ));
    }
    Ok(Party {
        city: city.into(),
        department: department.into(),
    })
}

/// `did you mean `X`?` for a close candidate, else the list of them all.
fn suggest(given: &str, candidates: &[&str]) -> String {
    let close = candidates
        .iter()
        .map(|c| (edit_distance(given, c), *c))
        .filter(|(d, _)| *d <= 3)
        .min();
    match close {
        Some((_, c)) => format!("did you mean `{c}`?"),
        None => format!("one of {}", candidates.join(", ")),
    }
}

/// Levenshtein distance over characters.
#[allow(
    clippy::indexing_slicing,
    reason = "`row` has b.len() + 1 entries and j < b.len()"
)]
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let substitution = diagonal + usize::from(ca != *cb);
            diagonal = row[j + 1];
            row[j + 1] = substitution.min(row[j] + 1).min(diagonal + 1);
        }
    }
    row[b.len()]
}

fn parse_date(text: &str) -> Result<Day, String> {
    let mut parts = text.splitn(3, '-').map(str::parse::<i64>);
    let bad = || format!("`{text}` is not a date like 2026-01-31");
    match (parts.next(), parts.next(), parts.next()) {
        (Some(Ok(y)), Some(Ok(m)), Some(Ok(d))) => days_from_civil(
            i32::try_from(y).map_err(|_| bad())?,
            u32::try_from(m).map_err(|_| bad())?,
            u32::try_from(d).map_err(|_| bad())?,
        )
        .ok_or_else(bad),
        _ => Err(bad()),
    }
}

#[allow(
    clippy::too_many_arguments,
    reason = "one argument per `policy explain` option, straight from the command line"
)]
fn explain(
    dir: &Path,
    caller: &str,
    item_id: &str,
    purpose: &str,
    method: &str,
    licence: Option<&Path>,
    trust: &Path,
    date: Option<&str>,
    format: Format,
) -> ExitCode {
    let result = (|| -> Result<serde_json::Value, String> {
        let (catalog, set) = load(dir)?;
        let caller = parse_caller(caller, &catalog)?;
        if set.item(item_id).is_none() {
            let ids: Vec<&str> = set.items().iter().map(|i| i.id.as_str()).collect();
            return Err(format!(
                "--item `{item_id}` is not an item of `{}`; {}",
                dir.display(),
                suggest(item_id, &ids)
            ));
        }
        let today = date.map(parse_date).transpose()?.unwrap_or_else(today);
        let mut licence_note = json!(null);
        let ltype = match licence {
            None => None,
            Some(file) => {
                let bytes = std::fs::read(file).map_err(|e| format!("{}: {e}", file.display()))?;
                require_dir(trust, "trust directory", "--trust DIR")?;
                let verifier = Verifier::load(trust, Some(dir)).map_err(|e| e.to_string())?;
                let verdict = verifier.verify(&bytes, &caller.city, SystemClock.now());
                licence_note = json!({"valid": verdict.valid, "ltype": verdict.ltype, "errors": verdict.errors.iter().map(|e| e.code.as_str()).collect::<Vec<_>>()});
                verdict.valid.then_some(verdict.ltype).flatten()
            }
        };
        let req = AccessRequest {
            caller: &caller,
            item: item_id,
            method,
            purpose,
            today,
            licence: ltype.as_deref(),
        };
        let decision = set.decide(&req);
        let mut rules = Vec::new();
        let allows = |allow: &[Allow]| {
            allow
                .iter()
                .map(|a| json!({"warning": a.warning, "reason": a.reason}))
                .collect::<Vec<_>>()
        };
        let mut item_allow = Vec::new();
        if let Some(item) = set.item(item_id) {
            item_allow = allows(&item.allow);
            for f in &item.forbids {
                rules.push(json!({"kind": "forbid", "id": f.id, "at": format!("{}:{}", f.origin.file, f.origin.line), "matches": forbid_matches(f, &req),
                    "conditions": {"caller": f.callers.iter().any(|c| c.matches(&caller)), "purpose": f.purposes.as_ref().is_none_or(|p| p.iter().any(|x| x == purpose))},
                    "acknowledged": allows(&f.allow)}));
            }
            for p in &item.permits {
                let c = check_permit(p, &req);
                rules.push(json!({"kind": "permit", "id": p.id, "at": format!("{}:{}", p.origin.file, p.origin.line), "matches": c.matches(),
                    "conditions": {"caller": c.caller, "purpose": c.purpose, "window": c.window, "licence": c.licence},
                    "acknowledged": allows(&p.allow)}));
            }
        }
        let (outcome, code, fields) = match &decision {
            Decision::Permit { fields, rate, .. } => (
                "permit",
                None,
                json!({
                    "returned": fields.fields().filter(|(_, m)| m.is_none()).map(|(f, _)| f).collect::<Vec<_>>(),
                    "masked": fields.fields().filter_map(|(f, m)| m.map(|m| json!({"field": f, "mask": m.as_str()}))).collect::<Vec<_>>(),
                    "rate": rate.map(|r| r.to_string()),
                }),
            ),
            Decision::Deny { reason, .. } => ("deny", Some(reason.code()), json!(null)),
        };
        Ok(
            json!({"decision": outcome, "code": code, "determining_rules": decision.rules(), "fields": fields, "rules": rules, "licence": licence_note, "acknowledged": item_allow}),
        )
    })();
    let report = match result {
        Ok(r) => r,
        Err(e) => return fail(e),
    };
    match format {
        Format::Json => println!(
            "{}",
            serde_json::to_string_pretty(&report).unwrap_or_default()
        ),
        Format::Text => print_explain(&report),
    }
    ExitCode::SUCCESS
}

fn print_explain(r: &serde_json::Value) {
    let code = r["code"]
        .as_str()
        .map(|c| format!(" ({c})"))
        .unwrap_or_default();
    println!("decision: {}{code}", r["decision"].as_str().unwrap_or("?"));
    println!(
        "determined by: {}",
        r["determining_rules"]
            .as_array()
            .map(|a| a
                .iter()
                .filter_map(|v| v.as_str())
                .collect::<Vec<_>>()
                .join(", "))
            .unwrap_or_default()
    );
    if !r["licence"].is_null() {
        println!("subject licence: {}", r["licence"]);
    }
    println!("rules:");
    for rule in r["rules"].as_array().into_iter().flatten() {
        let mark = |v: &serde_json::Value| match v.as_bool() {
            Some(true) => "pass",
            Some(false) => "FAIL",
            None => "n/a",
        };
        let conditions: Vec<String> = rule["conditions"]
            .as_object()
            .into_iter()
            .flatten()
            .map(|(k, v)| format!("{k} {}", mark(v)))
            .collect();
        let matched = if rule["matches"].as_bool() == Some(true) {
            "MATCHES"
        } else {
            "no match"
        };
        println!(
            "  {} {:<32} {matched:<9} [{}]  {}",
            rule["kind"].as_str().unwrap_or(""),
            rule["id"].as_str().unwrap_or(""),
            conditions.join(", "),
            rule["at"].as_str().unwrap_or("")
        );
        print_acknowledged("    ", &rule["acknowledged"]);
    }
    print_acknowledged("  item ", &r["acknowledged"]);
    if let Some(fields) = r["fields"].as_object() {
        for f in fields["returned"].as_array().into_iter().flatten() {
            println!("  returns {}", f.as_str().unwrap_or(""));
        }
        for f in fields["masked"].as_array().into_iter().flatten() {
            println!(
                "  masks   {} ({})",
                f["field"].as_str().unwrap_or(""),
                f["mask"].as_str().unwrap_or("")
            );
        }
        println!(
            "  rate    {}",
            fields["rate"].as_str().unwrap_or("no limit")
        );
    }
}

/// The lint warnings a rule (or the item) acknowledges, with their reasons.
fn print_acknowledged(indent: &str, allows: &serde_json::Value) {
    for a in allows.as_array().into_iter().flatten() {
        println!(
            "{indent}acknowledges {}: {}",
            a["warning"].as_str().unwrap_or(""),
            a["reason"].as_str().unwrap_or("")
        );
    }
}

fn test(dir: &Path, fail_under: Option<f64>, format: Format) -> ExitCode {
    let (_, set) = match load(dir) {
        Ok(x) => x,
        Err(e) => return fail(e),
    };
    let files = match std::fs::read_dir(dir.join("tests")) {
        Ok(entries) => {
            let mut f: Vec<PathBuf> = entries
                .flatten()
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|e| e == "toml"))
                .collect();
            f.sort();
            f
        }
        Err(e) => return fail(format!("{}: {e}", dir.join("tests").display())),
    };
    let mut outcomes = Vec::new();
    for file in &files {
        let name = file.display().to_string();
        let text = match std::fs::read_to_string(file) {
            Ok(t) => t,
            Err(e) => return fail(format!("{name}: {e}")),
        };
        match cases::parse(&text, &name) {
            Ok(list) => outcomes.extend(list.iter().map(|c| cases::run(&set, c, today()))),
            Err(problems) => {
                return fail(
                    problems
                        .iter()
                        .map(ToString::to_string)
                        .collect::<Vec<_>>()
                        .join("\n"),
                )
            }
        }
    }
    let all_rules: BTreeSet<(String, String)> = set
        .items()
        .iter()
        .flat_map(|i| {
            i.permits
                .iter()
                .map(|p| p.id.clone())
                .chain(i.forbids.iter().map(|f| f.id.clone()))
                .map(move |r| (i.id.clone(), r))
        })
        .collect();
    let covered: BTreeSet<(String, String)> = outcomes
        .iter()
        .flat_map(|o| {
            o.rules
                .iter()
                .map(move |r| (o.case.item.clone(), r.clone()))
        })
        .filter(|k| all_rules.contains(k))
        .collect();
    let coverage = if all_rules.is_empty() {
        100.0
    } else {
        100.0 * covered.len() as f64 / all_rules.len() as f64
    };
    let failed: Vec<_> = outcomes.iter().filter(|o| !o.failures.is_empty()).collect();
    let uncovered: Vec<String> = all_rules
        .difference(&covered)
        .map(|(i, r)| format!("{i}/{r}"))
        .collect();
    match format {
        Format::Json => {
            let report = json!({
                "cases": outcomes.len(), "failed": failed.iter().map(|o| json!({"name": o.case.name, "file": o.case.file, "line": o.case.line, "failures": o.failures})).collect::<Vec<_>>(),
                "rules": all_rules.len(), "covered": covered.len(), "coverage_percent": coverage, "uncovered": uncovered,
            });
            println!(
                "{}",
                serde_json::to_string_pretty(&report).unwrap_or_default()
            );
        }
        Format::Text => {
            for o in &failed {
                println!("FAIL {}:{} {}", o.case.file, o.case.line, o.case.name);
                for f in &o.failures {
                    println!("     {f}");
                }
            }
            for u in &uncovered {
                println!("not covered: {u}");
            }
            println!(
                "{} passed, {} failed; rule coverage {:.1}% ({} of {} rules determine a case)",
                outcomes.len() - failed.len(),
                failed.len(),
                coverage,
                covered.len(),
                all_rules.len()
            );
        }
    }
    let under = fail_under.is_some_and(|min| coverage < min);
    if under {
        eprintln!(
            "tongban: rule coverage {coverage:.1}% is under {:.1}%",
            fail_under.unwrap_or_default()
        );
    }
    if failed.is_empty() && !under {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(EXIT_NOT_ACCEPTED)
    }
}

fn diff(old: &Path, new: &Path, date: Option<&str>, format: Format) -> ExitCode {
    let loaded = (|| -> Result<_, String> {
        let (catalog, a) = load(old)?;
        let (_, b) = load(new)?;
        let today = date.map(parse_date).transpose()?.unwrap_or_else(today);
        Ok(crate::policy::diff::diff(&a, &b, &catalog, today))
    })();
    let (rules, changes) = match loaded {
        Ok(x) => x,
        Err(e) => return fail(e),
    };
    match format {
        Format::Json => {
            let report = json!({
                "items_added": rules.items_added,
                "items_removed": rules.items_removed,
                "rules": rules.rules.iter().map(|(item, kind, id, what)| json!({"item": item, "kind": kind, "id": id, "change": what})).collect::<Vec<_>>(),
                "acknowledgements": rules.acknowledgements.iter().map(|a| json!({"item": a.item, "kind": a.rule.0, "id": a.rule.1, "warning": a.warning, "reason": a.reason, "change": if a.added { "added" } else { "removed" }})).collect::<Vec<_>>(),
                "changes": changes.iter().map(|c| json!({
                    "item": c.item, "purpose": c.purpose, "licence": c.licence, "change": c.kind.describe(),
                    "widens": c.kind.widens(), "callers": c.callers,
                })).collect::<Vec<_>>(),
            });
            println!(
                "{}",
                serde_json::to_string_pretty(&report).unwrap_or_default()
            );
        }
        Format::Text => {
            for id in &rules.items_added {
                println!("+ item {id}");
            }
            for id in &rules.items_removed {
                println!("- item {id}");
            }
            for (item, kind, id, what) in &rules.rules {
                println!("~ {item}: {kind} `{id}` {what}");
            }
            for a in &rules.acknowledgements {
                let (sign, verb) = if a.added {
                    ("!", "now acknowledges")
                } else {
                    ("~", "no longer acknowledges")
                };
                println!(
                    "{sign} {}: {} `{}` {verb} {}: {}",
                    a.item, a.rule.0, a.rule.1, a.warning, a.reason
                );
            }
            if !changes.is_empty() {
                println!(
                    "{:<2} {:<24} {:<24} {:<12} {:<48} callers",
                    "", "item", "purpose", "licence", "change"
                );
            }
            for c in &changes {
                let sign = if c.kind.widens() { "+" } else { "-" };
                println!(
                    "{sign:<2} {:<24} {:<24} {:<12} {:<48} {}",
                    c.item,
                    c.purpose,
                    c.licence.as_deref().unwrap_or("-"),
                    c.kind.describe(),
                    c.callers.join(", ")
                );
            }
            let widening = changes.iter().filter(|c| c.kind.widens()).count();
            eprintln!(
                "tongban: {} change(s), {widening} widen access",
                changes.len()
            );
        }
    }
    ExitCode::SUCCESS
}

fn sign(dir: &Path, cert: &Path, key: &Path) -> ExitCode {
    let result = (|| -> Result<_, String> {
        let chain = super::read_pem_chain(cert)?;
        let key = std::fs::read_to_string(key).map_err(|e| format!("{}: {e}", key.display()))?;
        let kind = chain
            .first()
            .and_then(|der| crate::trust::cert::Cert::from_der(der).ok())
            .and_then(|c| c.identity().department.clone())
            .unwrap_or_default();
        let set = signing::sign(dir, &key, &chain, SystemClock.now()).map_err(|e| e.to_string())?;
        Ok((set, kind))
    })();
    match result {
        Ok((set, kind)) => {
            eprintln!(
                "tongban: signed {} file(s) of {} as `{}`",
                set.files,
                dir.display(),
                set.signer
            );
            if !signing::DEFAULT_SIGNER_DEPARTMENTS.contains(&kind.as_str()) {
                eprintln!(
                    "tongban: warning: the signer's department kind `{kind}` is not among those the \
                     gateway accepts by default ({}): a gateway with `require_signed_policies` \
                     refuses this set unless `[policies] signers` lists `{kind}`",
                    signing::DEFAULT_SIGNER_DEPARTMENTS.join(", ")
                );
            }
            ExitCode::SUCCESS
        }
        Err(e) => fail(e),
    }
}

fn verify_signature(dir: &Path, trust: &Path) -> ExitCode {
    // what cannot be read is a usage or I/O error (2); a signature that fails is not accepted (1)
    let loaded = (|| -> Result<_, String> {
        require_dir(dir, "policies directory", "the policies directory (DIR)")?;
        require_dir(trust, "trust directory", "--trust DIR")?;
        let catalog = Catalog::load(dir).map_err(|e| e.to_string())?;
        let store = crate::trust::TrustStore::load(trust, &catalog).map_err(|e| e.to_string())?;
        Ok((catalog, store))
    })();
    let (catalog, store) = match loaded {
        Ok(x) => x,
        Err(e) => return fail(e),
    };
    let departments: Vec<String> = signing::DEFAULT_SIGNER_DEPARTMENTS
        .iter()
        .map(|d| d.to_string())
        .collect();
    let result = signing::verify(dir, &store, &catalog, &departments, SystemClock.now());
    match result {
        Ok(set) => {
            println!(
                "signed by `{}` at {}: {} file(s), all as signed",
                set.signer,
                crate::time::format_rfc3339(set.signed_at),
                set.files
            );
            ExitCode::SUCCESS
        }
        Err(e) => reject(format!("not accepted: {e}")),
    }
}
