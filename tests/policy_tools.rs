//! The security teams' tools through the real binary: check (every warning has a fixture),
//! explain, test with coverage, diff, and signed policy sets.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "test code: a failure here is a failed test"
)]

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

fn tongban(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_tongban"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// A policies directory with the shipped catalog and the given item files and test files.
fn policies(items: &[(&str, &str)], tests: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("policies");
    std::fs::create_dir_all(dir.path().join("catalog")).unwrap();
    for f in ["cities.csv", "departments.csv", "licence-types.csv"] {
        std::fs::copy(
            root.join("catalog").join(f),
            dir.path().join("catalog").join(f),
        )
        .unwrap();
    }
    for (sub, files) in [("items", items), ("tests", tests)] {
        std::fs::create_dir_all(dir.path().join(sub)).unwrap();
        for (name, text) in files {
            std::fs::write(dir.path().join(sub).join(name), text).unwrap();
        }
    }
    dir
}

fn path(dir: &tempfile::TempDir) -> String {
    dir.path().display().to_string()
}

fn scenario(name: &str, file: &str) -> String {
    std::fs::read_to_string(
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("tests/scenarios")
            .join(name)
            .join(file),
    )
    .unwrap()
}

#[test]
fn check_reports_every_warning_with_file_and_line() {
    let text = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/lint/warnings.toml"),
    )
    .unwrap();
    let dir = policies(&[("warnings.toml", &text)], &[]);
    let (code, out, _) = tongban(&["policy", "check", &path(&dir), "--format", "json"]);
    assert_eq!(
        code, 0,
        "warnings alone do not fail without --deny-warnings"
    );
    let findings: Vec<Value> = serde_json::from_str(&out).unwrap();
    let at = |code: &str| {
        findings
            .iter()
            .find(|f| f["code"] == code)
            .unwrap_or_else(|| panic!("{code} missing: {out}"))
            .clone()
    };
    for (code, line) in [
        ("PERMIT_TO_EVERYONE", 14),
        ("PERSONAL_FIELD_UNMASKED", 32),
        ("PERMIT_EXPIRED", 49),
        ("PERMIT_SHADOWED_BY_FORBID", 67),
        ("FORBID_SHADOWS_ALL_PERMITS", 73),
        ("MISSING_LEGAL_BASIS", 78),
        ("SUSPICIOUS_UNICODE", 104),
    ] {
        let f = at(code);
        assert_eq!(f["line"], line, "{code}: {f}");
        assert!(f["file"].as_str().unwrap().ends_with("items/warnings.toml"));
        assert_eq!(f["severity"], "warning");
        assert!(!f["message"].as_str().unwrap().is_empty());
    }
    let (code, _, _) = tongban(&["policy", "check", &path(&dir), "--deny-warnings"]);
    assert_eq!(code, 1);
}

/// An item whose permit gives a name in clear to other cities, and whose forbid covers nothing.
const ACKNOWLEDGED: &str = r#"
[[item]]
id = "ACK"
name = "确认的告警"
category = "测试"
provider = "420100/TAX"
upstream = "tax"
methods = ["GET"]
fields = ["status", "holder.name"]
legal_basis = "测试依据"

[[item.permit]]
id = "any-city-tax"
callers = ["*/TAX"]
purposes = ["P"]
fields = ["status", "holder.name"]
allow = [{ warning = "PERSONAL_FIELD_UNMASKED", reason = "the name is the taxpayer's business name" }]
"#;

#[test]
fn acknowledged_warnings_pass_deny_warnings_and_show_in_explain_and_diff() {
    let plain = ACKNOWLEDGED.replace("allow = [{ warning = \"PERSONAL_FIELD_UNMASKED\", reason = \"the name is the taxpayer's business name\" }]\n", "");
    let before = policies(&[("ack.toml", &plain)], &[]);
    let after = policies(&[("ack.toml", ACKNOWLEDGED)], &[]);
    // without the allow, the warning fails --deny-warnings; with it, it is acknowledged
    let (code, out, _) = tongban(&["policy", "check", &path(&before), "--deny-warnings"]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("warning[PERSONAL_FIELD_UNMASKED]"), "{out}");
    let (code, out, err) = tongban(&["policy", "check", &path(&after), "--deny-warnings"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains(
            "items/ack.toml:12: acknowledged[PERSONAL_FIELD_UNMASKED]: permit `any-city-tax`"
        ) && out.contains("(reason: the name is the taxpayer's business name)"),
        "{out}"
    );
    assert!(err.contains("0 warning(s), 1 acknowledged"), "{err}");
    let (_, out, _) = tongban(&["policy", "check", &path(&after), "--format", "json"]);
    let findings: Vec<Value> = serde_json::from_str(&out).unwrap();
    assert_eq!(findings[0]["severity"], "acknowledged");
    assert_eq!(
        findings[0]["reason"],
        "the name is the taxpayer's business name"
    );
    // explain shows it under its rule
    let (code, out, _) = tongban(&[
        "policy",
        "explain",
        &path(&after),
        "--caller",
        "420200/TAX",
        "--item",
        "ACK",
        "--purpose",
        "P",
    ]);
    assert_eq!(code, 0);
    assert!(
        out.contains(
            "    acknowledges PERSONAL_FIELD_UNMASKED: the name is the taxpayer's business name"
        ),
        "{out}"
    );
    // diff reports a new acknowledgement, and its removal
    let (_, out, _) = tongban(&["policy", "diff", &path(&before), &path(&after)]);
    assert!(
        out.contains("! ACK: permit `any-city-tax` now acknowledges PERSONAL_FIELD_UNMASKED: the name is the taxpayer's business name"),
        "{out}"
    );
    let (_, out, _) = tongban(&[
        "policy",
        "diff",
        &path(&after),
        &path(&before),
        "--format",
        "json",
    ]);
    let report: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(report["acknowledgements"][0]["change"], "removed", "{out}");
    // an allow that acknowledges nothing is a warning; an unknown code or no reason does not load
    let unused = ACKNOWLEDGED.replace("\"*/TAX\"", "\"420100/TAX\"");
    let dir = policies(&[("ack.toml", &unused)], &[]);
    let (code, out, _) = tongban(&["policy", "check", &path(&dir), "--deny-warnings"]);
    assert_eq!(code, 1);
    assert!(out.contains("warning[ALLOW_UNUSED]: `allow` of `PERSONAL_FIELD_UNMASKED` acknowledges no warning here"), "{out}");
    for (bad, message) in [
        (
            "PERSONAL_FIELD_UNMASKED\", reason = \"the name",
            "PERSONAL_FIELDS_UNMASKED\", reason = \"the name",
        ),
        (
            "reason = \"the name is the taxpayer's business name\"",
            "reason = \" \"",
        ),
    ]
    .map(|(from, to)| (ACKNOWLEDGED.replace(from, to), from))
    {
        let dir = policies(&[("ack.toml", &bad)], &[]);
        let (code, out, _) = tongban(&["policy", "check", &path(&dir)]);
        assert_eq!(code, 1, "{message}: {out}");
        assert!(
            out.contains("items/ack.toml:17: error[POLICY]: `allow`"),
            "{out}"
        );
    }
}

#[test]
fn check_reports_errors_and_upstreams_against_a_config() {
    let broken =
        scenario("basic", "policy.toml").replace("421200/HOUSING_FUND", "999999/HOUSING_FUND");
    let dir = policies(&[("broken.toml", &broken)], &[]);
    let (code, out, _) = tongban(&["policy", "check", &path(&dir)]);
    assert_eq!(code, 1);
    assert!(
        out.contains("items/broken.toml:6: error[POLICY]: unknown city `999999`"),
        "{out}"
    );
    let dir = policies(&[("basic.toml", &scenario("basic", "policy.toml"))], &[]);
    let config = dir.path().join("gateway.toml");
    std::fs::write(
        &config,
        "[upstreams.elsewhere]\nurl = \"http://127.0.0.1:1\"\n",
    )
    .unwrap();
    let (code, out, _) = tongban(&[
        "policy",
        "check",
        &path(&dir),
        "--config",
        &config.display().to_string(),
    ]);
    assert_eq!(code, 1);
    assert!(
        out.contains("upstream `hpf-xianning` is not defined"),
        "{out}"
    );
}

#[test]
fn explain_marks_every_condition() {
    let dir = policies(
        &[(
            "windows.toml",
            &scenario("windows-and-licences", "policy.toml"),
        )],
        &[],
    );
    let (code, out, _) = tongban(&[
        "policy",
        "explain",
        &path(&dir),
        "--caller",
        "420100/PUBLIC_SECURITY",
        "--item",
        "HUKOU-TRANSFER",
        "--purpose",
        "HUKOU_TRANSFER",
        "--date",
        "2026-07-01",
        "--format",
        "json",
    ]);
    assert_eq!(code, 0);
    let r: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(r["decision"], "deny");
    assert_eq!(r["code"], "LICENCE_REQUIRED");
    assert_eq!(r["determining_rules"], serde_json::json!(["with-id-card"]));
    let pilot = r["rules"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["id"] == "pilot-2026")
        .unwrap();
    assert_eq!(
        pilot["conditions"],
        serde_json::json!({"caller": true, "purpose": true, "window": false, "licence": null})
    );
    let with_card = r["rules"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["id"] == "with-id-card")
        .unwrap();
    assert_eq!(with_card["conditions"]["licence"], false);

    // with a real identity card issued in Huangshi, verified for Wuhan
    let licence = Path::new(env!("CARGO_MANIFEST_DIR")).join("certs/demo/licences/ID_CARD.jws");
    let (_, out, _) = tongban(&[
        "policy",
        "explain",
        &path(&dir),
        "--caller",
        "420100/PUBLIC_SECURITY",
        "--item",
        "HUKOU-TRANSFER",
        "--purpose",
        "HUKOU_TRANSFER",
        "--date",
        "2026-07-01",
        "--licence",
        &licence.display().to_string(),
        "--format",
        "json",
    ]);
    let r: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(r["decision"], "permit", "{r}");
    assert_eq!(
        r["fields"]["masked"],
        serde_json::json!([{"field": "person.id_number", "mask": "id_number"}])
    );
    assert_eq!(r["fields"]["returned"], serde_json::json!(["person.name"]));
    // the text form says the same
    let (_, text, _) = tongban(&[
        "policy",
        "explain",
        &path(&dir),
        "--caller",
        "420100/PUBLIC_SECURITY",
        "--item",
        "HUKOU-TRANSFER",
        "--purpose",
        "HUKOU_TRANSFER",
        "--date",
        "2026-07-01",
    ]);
    assert!(
        text.contains("decision: deny (LICENCE_REQUIRED)") && text.contains("window FAIL"),
        "{text}"
    );
}

#[test]
fn test_runs_cases_and_reports_coverage() {
    let dir = policies(
        &[("med.toml", &scenario("union-and-masks", "policy.toml"))],
        &[("med.toml", &scenario("union-and-masks", "cases.toml"))],
    );
    let (code, out, _) = tongban(&["policy", "test", &path(&dir), "--fail-under", "100"]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("3 passed, 0 failed; rule coverage 100.0% (3 of 3 rules"),
        "{out}"
    );
    // one case fewer: coverage drops under 100
    let two: String = scenario("union-and-masks", "cases.toml")
        .split("[[case]]")
        .take(3)
        .collect::<Vec<_>>()
        .join("[[case]]");
    let dir = policies(
        &[("med.toml", &scenario("union-and-masks", "policy.toml"))],
        &[("med.toml", &two)],
    );
    let (code, out, _) = tongban(&[
        "policy",
        "test",
        &path(&dir),
        "--fail-under",
        "100",
        "--format",
        "json",
    ]);
    assert_eq!(code, 1);
    let r: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        r["uncovered"],
        serde_json::json!(["MED-SETTLEMENT/audit-no-limit"])
    );
    // a wrong expectation fails with what differed
    let wrong = scenario("union-and-masks", "cases.toml").replacen(
        "rate = \"100/min\"",
        "rate = \"5/min\"",
        1,
    );
    let dir = policies(
        &[("med.toml", &scenario("union-and-masks", "policy.toml"))],
        &[("med.toml", &wrong)],
    );
    let (code, out, _) = tongban(&["policy", "test", &path(&dir)]);
    assert_eq!(code, 1);
    assert!(
        out.contains("expected rate `5/min`, got `100/min`"),
        "{out}"
    );
}

#[test]
fn diff_names_what_each_caller_gains_or_loses() {
    let old = policies(
        &[("med.toml", &scenario("union-and-masks", "policy.toml"))],
        &[],
    );
    let changed = scenario("union-and-masks", "policy.toml")
        .replace(
            "mask = { \"insured.id_number\" = \"hash\", \"insured.phone\" = \"phone\" }",
            "mask = { \"insured.id_number\" = \"hash\" }",
        )
        .replace("rate = \"20/s\"", "rate = \"30/s\"")
        .replace(
            "callers = [\"420100/GOV_SERVICE\"]",
            "callers = [\"*/GOV_SERVICE\"]",
        );
    let new = policies(&[("med.toml", &changed)], &[]);
    let (code, out, _) = tongban(&[
        "policy",
        "diff",
        &path(&old),
        &path(&new),
        "--format",
        "json",
    ]);
    assert_eq!(code, 0);
    let r: Value = serde_json::from_str(&out).unwrap();
    let changes = r["changes"].as_array().unwrap();
    let find = |text: &str| {
        changes
            .iter()
            .find(|c| c["change"].as_str().unwrap().contains(text))
            .unwrap_or_else(|| panic!("{text}: {out}"))
            .clone()
    };
    let unmasked = find("`insured.phone` newly unmasked");
    assert_eq!(
        unmasked["callers"],
        serde_json::json!(["421100/MEDICAL_SECURITY"])
    );
    assert_eq!(unmasked["widens"], true);
    assert_eq!(
        find("rate 20/s → 30/s")["callers"],
        serde_json::json!(["421100/MEDICAL_SECURITY"])
    );
    let gained = find("access gained");
    assert_eq!(gained["purpose"], "AUDIT");
    assert_eq!(
        gained["callers"].as_array().unwrap().len(),
        8,
        "the eight other cities' GOV_SERVICE: {gained}"
    );
    assert!(r["rules"]
        .as_array()
        .unwrap()
        .iter()
        .any(|x| x["id"] == "settle-huanggang-full" && x["change"] == "changed"));
    // identical sets: nothing
    let (_, out, _) = tongban(&[
        "policy",
        "diff",
        &path(&old),
        &path(&old),
        "--format",
        "json",
    ]);
    let r: Value = serde_json::from_str(&out).unwrap();
    assert!(
        r["changes"].as_array().unwrap().is_empty() && r["rules"].as_array().unwrap().is_empty()
    );
}

#[test]
fn signed_sets_fail_when_a_file_is_tampered_added_or_removed() {
    let cert = "certs/demo/security/420100-GOV_SERVICE.pem";
    let key = "certs/demo/security/420100-GOV_SERVICE.key";
    let fresh = || {
        let dir = policies(
            &[
                ("med.toml", &scenario("union-and-masks", "policy.toml")),
                ("tax.toml", &scenario("forbid-wins", "policy.toml")),
            ],
            &[],
        );
        let (code, _, err) =
            tongban(&["policy", "sign", &path(&dir), "--cert", cert, "--key", key]);
        assert_eq!(code, 0, "{err}");
        let (code, _, out) = tongban(&["policy", "verify-signature", &path(&dir)]);
        assert_eq!(code, 0, "{out}");
        dir
    };
    let dir = fresh();
    std::fs::write(
        dir.path().join("items/med.toml"),
        scenario("union-and-masks", "policy.toml").replace("100/min", "1000/min"),
    )
    .unwrap();
    let (code, _, out) = tongban(&["policy", "verify-signature", &path(&dir)]);
    assert_eq!(
        (code, out.contains("`items/med.toml` changed")),
        (1, true),
        "{out}"
    );
    let dir = fresh();
    std::fs::write(dir.path().join("items/extra.toml"), "").unwrap();
    let (code, _, out) = tongban(&["policy", "verify-signature", &path(&dir)]);
    assert_eq!(
        (code, out.contains("`items/extra.toml` added")),
        (1, true),
        "{out}"
    );
    let dir = fresh();
    std::fs::remove_file(dir.path().join("items/tax.toml")).unwrap();
    let (code, _, out) = tongban(&["policy", "verify-signature", &path(&dir)]);
    assert_eq!(
        (code, out.contains("`items/tax.toml` removed")),
        (1, true),
        "{out}"
    );
    // a licence signer of another department may not sign policy sets
    let dir = fresh();
    let (code, _, err) = tongban(&[
        "policy",
        "sign",
        &path(&dir),
        "--cert",
        "certs/demo/signers/420100-MARKET_REG.pem",
        "--key",
        "certs/demo/signers/420100-MARKET_REG.key",
    ]);
    assert_eq!(code, 0);
    // signing succeeds, but says that the gateway will refuse it
    assert!(
        err.ends_with(
            "tongban: warning: the signer's department kind `MARKET_REG` is not among those the \
             gateway accepts by default (GOV_SERVICE): a gateway with `require_signed_policies` \
             refuses this set unless `[policies] signers` lists `MARKET_REG`\n"
        ),
        "{err}"
    );
    let (code, _, out) = tongban(&["policy", "verify-signature", &path(&dir)]);
    assert_eq!(
        (
            code,
            out.starts_with("tongban: not accepted: ") && out.contains("department `MARKET_REG`")
        ),
        (1, true),
        "{out}"
    );
    // a trust directory that is not there is an I/O error, as in `verify`
    let (code, _, err) = tongban(&["policy", "verify-signature", &path(&dir), "--trust", "none"]);
    assert_eq!(
        (code, err.as_str()),
        (2, "tongban: no trust directory at `none`: run from the repository root, or pass --trust DIR\n")
    );
}

#[test]
fn an_sm2_security_team_signs_policy_sets_and_they_are_checked() {
    use base64::Engine as _;
    let dir = policies(
        &[("med.toml", &scenario("union-and-masks", "policy.toml"))],
        &[],
    );
    let (code, _, err) = tongban(&[
        "policy",
        "sign",
        &path(&dir),
        "--cert",
        "certs/demo/security/421100-GOV_SERVICE.pem",
        "--key",
        "certs/demo/security/421100-GOV_SERVICE.key",
    ]);
    assert_eq!(code, 0, "{err}");
    let jws = std::fs::read_to_string(dir.path().join("policy-set.jws")).unwrap();
    let header = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(jws.split('.').next().unwrap())
        .unwrap();
    let header: serde_json::Value = serde_json::from_slice(&header).unwrap();
    assert_eq!(header["alg"], "SM2");
    let (code, out, err) = tongban(&["policy", "verify-signature", &path(&dir)]);
    assert_eq!(code, 0, "{out}{err}");
    // one changed byte of a policy file: refused
    std::fs::write(
        dir.path().join("items/med.toml"),
        scenario("union-and-masks", "policy.toml").replace("100/min", "101/min"),
    )
    .unwrap();
    let (code, _, _) = tongban(&["policy", "verify-signature", &path(&dir)]);
    assert_eq!(code, 1);
}

#[test]
fn generate_writes_a_set_that_checks_with_its_upstreams() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("set");
    let dir_s = dir.display().to_string();
    let (code, stdout, stderr) = tongban(&[
        "policy",
        "generate",
        "--items",
        "40",
        "--seed",
        "7",
        "--out",
        &dir_s,
        "--upstream-url",
        "http://127.0.0.1:1",
    ]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stderr.contains("40 item(s)"), "{stderr}");
    for f in [
        "catalog/cities.csv",
        "catalog/departments.csv",
        "catalog/licence-types.csv",
        "recognition.toml",
    ] {
        assert!(dir.join(f).is_file(), "{f}");
    }
    // stdout is the [upstreams.*] configuration the items need
    assert!(stdout.contains("url = \"http://127.0.0.1:1\""), "{stdout}");
    let config = tmp.path().join("tongban.toml");
    std::fs::write(&config, &stdout).unwrap();
    let (code, _, stderr) = tongban(&["policy", "check", &dir_s, "--config", &path_of(&config)]);
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stderr.contains("40 item(s) loaded from 18 file(s): 0 error(s)"),
        "{stderr}"
    );
    // without the upstreams the gateway would refuse the set
    std::fs::write(&config, "").unwrap();
    let (code, out, _) = tongban(&["policy", "check", &dir_s, "--config", &path_of(&config)]);
    assert_eq!(code, 1);
    assert!(out.contains("upstream"), "{out}");
    // the same seed gives the same files
    let again = tmp.path().join("again");
    let (code, _, _) = tongban(&[
        "policy",
        "generate",
        "--items",
        "40",
        "--seed",
        "7",
        "--out",
        &path_of(&again),
    ]);
    assert_eq!(code, 0);
    let text = |d: &Path| std::fs::read_to_string(d.join("items/tax/synthetic.toml")).unwrap();
    assert_eq!(text(&dir), text(&again));
}

#[test]
fn generate_refuses_a_non_empty_directory_unless_forced() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = path_of(tmp.path());
    std::fs::write(tmp.path().join("notes.txt"), "mine").unwrap();
    let (code, _, stderr) = tongban(&["policy", "generate", "--items", "30", "--out", &dir]);
    assert_eq!(code, 2);
    assert!(
        stderr.contains("not empty") && stderr.contains("--force"),
        "{stderr}"
    );
    assert!(!tmp.path().join("items").exists());
    let (code, _, stderr) = tongban(&[
        "policy", "generate", "--items", "30", "--out", &dir, "--force",
    ]);
    assert_eq!(code, 0, "{stderr}");
    // --force replaces items/: no item of the larger set is left behind
    let (code, _, stderr) = tongban(&[
        "policy", "generate", "--items", "3", "--out", &dir, "--force",
    ]);
    assert_eq!(code, 0, "{stderr}");
    let (code, _, stderr) = tongban(&["policy", "check", &dir]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stderr.contains("3 item(s) loaded from"), "{stderr}");
    assert_eq!(
        std::fs::read_to_string(tmp.path().join("notes.txt")).unwrap(),
        "mine"
    );
    for bad in ["0", "100001", "x"] {
        let (code, _, _) = tongban(&[
            "policy", "generate", "--items", bad, "--out", &dir, "--force",
        ]);
        assert_eq!(code, 2, "--items {bad}");
    }
}

fn path_of(p: &Path) -> String {
    p.display().to_string()
}
