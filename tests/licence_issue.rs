//! `tongban licence issue` through the real binary: one licence, and a numbered series with
//! `--count` (load tests issue 100,000 at once) that `tongban verify` accepts.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "test code: a failure here is a failed test"
)]

use std::process::{Command, Output};

fn tongban(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tongban"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap()
}

const SIGNER: [&str; 4] = [
    "--cert",
    "certs/demo/signers/420100-MARKET_REG.pem",
    "--key",
    "certs/demo/signers/420100-MARKET_REG.key",
];

fn issue(extra: &[&str]) -> Output {
    let mut args = vec![
        "--holder-name",
        "湖北示例科技有限公司",
        "--holder-id",
        "91420100MA4K12345K",
        "--holder-id-type",
        "USCC",
    ];
    args.extend(FIELDS);
    args.extend(extra);
    issue_with(&args)
}

/// Every required field of a business licence.
const FIELDS: [&str; 10] = [
    "--field",
    "统一社会信用代码=91420100MA4K12345K",
    "--field",
    "名称=湖北示例科技有限公司",
    "--field",
    "法定代表人=张三",
    "--field",
    "住所=武汉市江汉区示例路1号",
    "--field",
    "经营范围=软件开发",
];

/// `licence issue` of a business licence with `args` after the signer.
fn issue_with(args: &[&str]) -> Output {
    let mut all = vec!["licence", "issue"];
    all.extend(SIGNER);
    all.extend(["--type", "BUSINESS_LICENCE"]);
    all.extend(args);
    tongban(&all)
}

#[test]
fn required_fields_left_out_are_an_error_unless_placeholders_are_asked_for() {
    let out = issue_with(&[
        "--serial",
        "7",
        "--holder-name",
        "湖北示例科技有限公司",
        "--holder-id",
        &tongban::pki::demo::demo_org_id("420100", 77),
        "--holder-id-type",
        "USCC",
        "--field",
        "名称=湖北示例科技有限公司",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty());
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "tongban: --type BUSINESS_LICENCE needs the field(s) 统一社会信用代码, 法定代表人, 住所, 经营范围: \
         add `--field NAME=VALUE` for each (or --placeholders to fill them with `示例…` for testing)\n"
    );
    let out = issue_with(&[
        "--serial",
        "7",
        "--holder-name",
        "湖北示例科技有限公司",
        "--holder-id",
        &tongban::pki::demo::demo_org_id("420100", 77),
        "--holder-id-type",
        "USCC",
        "--placeholders",
    ]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "tongban: notice: placeholders for 统一社会信用代码, 名称, 法定代表人, 住所, 经营范围 (for testing only)\n"
    );
}

#[test]
fn a_holder_id_with_a_bad_check_digit_is_signed_with_a_warning() {
    let good = tongban::pki::demo::demo_org_id("420100", 77);
    let mut bad = good.clone();
    let last = if bad.ends_with('0') { "1" } else { "0" };
    bad.replace_range(17.., last);
    for (id, warned) in [(good.as_str(), false), (bad.as_str(), true)] {
        let mut args = vec![
            "--serial",
            "7",
            "--holder-name",
            "湖北示例科技有限公司",
            "--holder-id",
            id,
            "--holder-id-type",
            "USCC",
        ];
        args.extend(FIELDS);
        let out = issue_with(&args);
        assert_eq!(out.status.code(), Some(0));
        assert_eq!(String::from_utf8_lossy(&out.stdout).lines().count(), 1);
        let said = String::from_utf8_lossy(&out.stderr);
        if warned {
            assert_eq!(
                said,
                "tongban: warning: --holder-id fails the check digit of a unified social credit \
                 code (GB 32100); verifiers will warn HOLDER_ID_CHECK (signed anyway: some legal \
                 codes fail it)\n"
            );
            assert!(!said.contains(id), "the id is never printed");
        } else {
            assert_eq!(said, "");
        }
    }
}

/// The lid claim of a compact JWS.
fn lid(jws: &str) -> String {
    use base64::Engine as _;
    let payload = jws.split('.').nth(1).unwrap();
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .unwrap();
    let claims: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
    claims["lid"].as_str().unwrap().to_owned()
}

#[test]
fn count_issues_numbered_licences_one_per_line_that_verify() {
    let out = issue(&["--serial", "B", "--count", "12"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let licences: Vec<&str> = text.lines().collect();
    assert_eq!(licences.len(), 12);
    // serials B00 … B11: the number is padded to the width of the last one
    let serials: Vec<String> = licences
        .iter()
        .map(|l| lid(l).split('.').nth(7).unwrap().to_owned())
        .collect();
    assert_eq!(serials[0], "B00");
    assert_eq!(serials[11], "B11");
    let distinct: std::collections::BTreeSet<&String> = serials.iter().collect();
    assert_eq!(distinct.len(), 12);

    let dir = tempfile::tempdir().unwrap();
    let mut args = vec![
        "verify".to_owned(),
        "--trust".into(),
        "certs/demo/trust".into(),
        "--city".into(),
        "420100".into(),
    ];
    for (n, l) in licences.iter().enumerate() {
        let path = dir.path().join(format!("{n}.jws"));
        std::fs::write(&path, l).unwrap();
        args.push(path.display().to_string());
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let verified = tongban(&args);
    assert_eq!(
        verified.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&verified.stdout)
    );
    assert_eq!(
        String::from_utf8_lossy(&verified.stdout).lines().count(),
        12
    );
}

#[test]
fn one_licence_keeps_its_serial_and_bad_counts_are_usage_errors() {
    let out = issue(&["--serial", "2025000777"]);
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert_eq!(text.lines().count(), 1);
    assert!(lid(text.trim()).contains(".2025000777.001."));

    for bad in ["0", "-1", "many", "1000001"] {
        let out = issue(&["--serial", "B", "--count", bad]);
        assert_eq!(out.status.code(), Some(2), "--count {bad}");
        assert!(out.stdout.is_empty());
    }
    // a serial that numbering makes too long is refused before anything is printed
    let long = "S".repeat(32);
    let out = issue(&["--serial", &long, "--count", "2"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty());
}

/// An SM2 city's market regulator issues with `--alg SM2` (the default for its SM2 key); an
/// algorithm its key cannot make is refused before anything is printed.
#[test]
fn sm2_signers_issue_sm2_licences() {
    use base64::Engine as _;
    let sm2_issue = |alg: &[&str]| {
        let mut args = vec![
            "licence",
            "issue",
            "--cert",
            "certs/demo/signers/421100-MARKET_REG.pem",
            "--key",
            "certs/demo/signers/421100-MARKET_REG.key",
            "--type",
            "BUSINESS_LICENCE",
            "--serial",
            "2025000888",
            "--holder-name",
            "黄冈示例药房有限公司",
            "--holder-id",
            "91420100MA4K12345K",
            "--holder-id-type",
            "USCC",
        ];
        args.extend(FIELDS);
        args.extend(alg);
        tongban(&args)
    };
    for alg in [&["--alg", "SM2"][..], &[]] {
        let out = sm2_issue(alg);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let jws = String::from_utf8(out.stdout).unwrap();
        let header = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(jws.split('.').next().unwrap())
            .unwrap();
        let header: serde_json::Value = serde_json::from_slice(&header).unwrap();
        assert_eq!(header["alg"], "SM2");
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("sm2.jws");
        std::fs::write(&file, jws.trim()).unwrap();
        let verified = tongban(&[
            "verify",
            "--trust",
            "certs/demo/trust",
            "--city",
            "420700",
            file.to_str().unwrap(),
        ]);
        assert_eq!(
            verified.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&verified.stdout)
        );
    }
    let out = sm2_issue(&["--alg", "ES256"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("SM2") && err.contains("ES256"), "{err}");
}
