//! OpenSSL-made SM2 material is accepted by tongban, made the way a city makes it. The `sh` blocks
//! of docs/national-crypto.md ("Making an SM2 PKI for tongban with openssl") run as written, with
//! the `tongban` binary on the `PATH`. They make an SM2 root, intermediate and licence-signing
//! certificate, a trust directory and a licence (`tongban licence issue --alg SM2`), then revoke the
//! signer (`openssl ca -gencrl`). `tongban verify` must accept the licence and then refuse it.
//! The traps of the same document are shown too: OpenSSL's defaults (an empty signer ID) give
//! certificates, CRLs and licence signatures that openssl accepts and tongban refuses.

#[path = "common/differential.rs"]
mod differential;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde_json::Value;

use differential::{openssl, openssl_version};

const DOC: &str = include_str!("../docs/national-crypto.md");
const SECTION: &str = "## Making an SM2 PKI for tongban with openssl";
const DISTID: &str = "distid:1234567812345678";

/// The `sh` blocks of the section, in order.
fn documented_blocks() -> Vec<String> {
    let start = DOC.find(SECTION).expect("the section is in the document");
    let section = &DOC[start + SECTION.len()..];
    let section = &section[..section.find("\n## ").unwrap_or(section.len())];
    let mut blocks = Vec::new();
    let mut rest = section;
    while let Some(open) = rest.find("```sh\n") {
        let body = &rest[open + 6..];
        let close = body.find("\n```").expect("a closed code block");
        blocks.push(body[..=close].to_owned());
        rest = &body[close + 4..];
    }
    blocks
}

/// Runs a documented block with bash (`-eu -o pipefail`) in `dir`, `tongban` on the `PATH`.
fn run_block(dir: &Path, script: &str) {
    let out = Command::new("bash")
        .args(["-eu", "-o", "pipefail", "-c", script])
        .current_dir(dir)
        .env("PATH", path_with_tongban())
        .output()
        .expect("bash runs");
    assert!(
        out.status.success(),
        "documented commands failed ({}):\n{script}\n--- stdout\n{}\n--- stderr\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn path_with_tongban() -> String {
    let bin = PathBuf::from(env!("CARGO_BIN_EXE_tongban"));
    let dir = bin.parent().expect("binary folder").display().to_string();
    format!("{dir}:{}", std::env::var("PATH").unwrap_or_default())
}

fn tongban(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tongban"))
        .args(args)
        .current_dir(dir)
        .output()
        .expect("tongban runs")
}

/// `tongban verify --trust trust --city 420100 FILE`: (exit code, the verdict, stderr).
fn verify(dir: &Path, file: &str) -> (i32, Value, String) {
    let out = tongban(
        dir,
        &["verify", "--trust", "trust", "--city", "420100", file],
    );
    let verdict = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "one verdict on stdout ({e}): {}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    (out.status.code().unwrap_or(-1), verdict, stderr)
}

fn codes(verdict: &Value) -> Vec<&str> {
    verdict["errors"]
        .as_array()
        .expect("errors")
        .iter()
        .filter_map(|e| e["code"].as_str())
        .collect()
}

/// Runs openssl in `dir`: (exit 0, stdout and stderr).
fn openssl_in(dir: &Path, args: &[&str]) -> (bool, String) {
    let out = openssl(dir, args);
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

/// Steps 1 to 4 of the document: root, intermediate, signer, trust directory and a licence.
fn documented_pki() -> tempfile::TempDir {
    openssl_version();
    let blocks = documented_blocks();
    assert_eq!(blocks.len(), 5, "steps 1 to 5 of the document");
    let dir = tempfile::tempdir().expect("tempdir");
    for block in &blocks[..4] {
        run_block(dir.path(), block);
    }
    dir
}

#[test]
fn the_documented_openssl_commands_make_an_sm2_pki_tongban_accepts() {
    let dir = documented_pki();
    let d = dir.path();
    for cert in ["root.pem", "inter.pem", "signer.pem"] {
        let (ok, text) = openssl_in(d, &["x509", "-in", cert, "-noout", "-text"]);
        assert!(ok, "{text}");
        assert!(
            text.contains("Signature Algorithm: SM2-with-SM3"),
            "{cert}: {text}"
        );
        assert!(text.contains("ASN1 OID: SM2"), "{cert}: {text}");
    }
    let licence = std::fs::read_to_string(d.join("licence.jws")).expect("licence");
    let header: Value = serde_json::from_slice(
        &URL_SAFE_NO_PAD
            .decode(licence.split('.').next().expect("header"))
            .expect("base64url"),
    )
    .expect("header JSON");
    assert_eq!(header["alg"], "SM2");

    let (code, verdict, stderr) = verify(d, "licence.jws");
    assert_eq!(code, 0, "{verdict:#}\n{stderr}");
    assert_eq!(verdict["valid"], true);
    assert_eq!(verdict["issuer"]["org_id"], "11420100MB12345671");
    assert_eq!(verdict["issuer"]["department"], "MARKET_REG");
    assert!(!stderr.contains("notice"), "{stderr}");

    // step 5: `openssl ca -gencrl` revokes the signer
    run_block(d, &documented_blocks()[4]);
    let (code, verdict, stderr) = verify(d, "licence.jws");
    assert_eq!(code, 1, "{verdict:#}\n{stderr}");
    assert_eq!(codes(&verdict), ["CERT_REVOKED"], "{verdict:#}");
    let message = verdict["errors"][0]["message"].as_str().unwrap_or_default();
    assert!(message.contains("keyCompromise"), "{message}");
}

#[test]
fn a_certificate_signed_with_openssls_default_signer_id_breaks_the_chain() {
    let dir = documented_pki();
    let d = dir.path();
    // step 3 without `-sigopt distid:…`: signed with the empty signer ID
    let (ok, text) = openssl_in(
        d,
        &[
            "x509",
            "-req",
            "-in",
            "signer.csr",
            "-vfyopt",
            DISTID,
            "-CA",
            "inter.pem",
            "-CAkey",
            "inter.key",
            "-CAcreateserial",
            "-sm3",
            "-days",
            "1825",
            "-extfile",
            "signer.ext",
            "-out",
            "signer-empty-id.pem",
        ],
    );
    assert!(ok, "{text}");
    // openssl without the signer ID calls it good; with the ID, it does not
    let link = |distid: Option<&str>| {
        let mut args = vec!["verify", "-partial_chain", "-CAfile", "inter.pem"];
        if let Some(id) = distid {
            args.extend(["-vfyopt", id]);
        }
        args.push("signer-empty-id.pem");
        openssl_in(d, &args)
    };
    let (ok, text) = link(None);
    assert!(ok && text.contains("signer-empty-id.pem: OK"), "{text}");
    let (ok, text) = link(Some(DISTID));
    assert!(
        !ok && text.contains("certificate signature failure"),
        "{text}"
    );

    std::fs::write(
        d.join("empty-id-chain.pem"),
        [
            std::fs::read(d.join("signer-empty-id.pem")).expect("signer"),
            std::fs::read(d.join("inter.pem")).expect("inter"),
        ]
        .concat(),
    )
    .expect("write");
    let out = tongban(
        d,
        &[
            "licence",
            "issue",
            "--alg",
            "SM2",
            "--key",
            "signer.key",
            "--cert",
            "empty-id-chain.pem",
            "--type",
            "BUSINESS_LICENCE",
            "--serial",
            "2025000002",
            "--holder-name",
            "湖北示例科技有限公司",
            "--holder-id",
            "91420100MA4K12345K",
            "--holder-id-type",
            "USCC",
            "--placeholders",
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::write(d.join("empty-id.jws"), &out.stdout).expect("write");
    let (code, verdict, _) = verify(d, "empty-id.jws");
    assert_eq!(code, 1);
    assert_eq!(codes(&verdict), ["CHAIN_UNTRUSTED"], "{verdict:#}");
    // the message says what went wrong and how to sign instead
    let message = verdict["errors"][0]["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("empty signer ID") && message.contains("-sigopt distid:1234567812345678"),
        "{message}"
    );
}

#[test]
fn a_crl_signed_with_openssls_default_signer_id_is_dropped_and_reported() {
    let dir = documented_pki();
    let d = dir.path();
    // step 5 without `-sigopt distid:…`
    let step5 = documented_blocks()[4].replace(&format!(" -sigopt {DISTID}"), "");
    assert!(!step5.contains(DISTID), "{step5}");
    run_block(d, &step5);
    let crl = "trust/420100/crls/issuing.crl";
    // openssl, with its default empty signer ID, calls the CRL good
    let (ok, text) = openssl_in(d, &["crl", "-in", crl, "-CAfile", "inter.pem", "-noout"]);
    assert!(ok && text.contains("verify OK"), "{text}");
    // tongban drops it, says so, and the signer is not revoked
    let (code, verdict, stderr) = verify(d, "licence.jws");
    assert_eq!(code, 0, "{verdict:#}");
    assert!(
        stderr.contains("issuing.crl: signature does not verify")
            && stderr.contains("empty signer ID")
            && stderr.contains("CRL not used"),
        "{stderr}"
    );
}

#[test]
fn licence_signatures_made_by_openssl_verify_as_r_s_only() {
    use ::sm2::dsa::Signature;
    let dir = documented_pki();
    let d = dir.path();
    let licence = std::fs::read_to_string(d.join("licence.jws")).expect("licence");
    let (input, _) = licence.trim().rsplit_once('.').expect("compact JWS");
    std::fs::write(d.join("input.txt"), input).expect("write");
    let sign = |distid: Option<&str>| {
        let mut args = vec![
            "pkeyutl",
            "-sign",
            "-inkey",
            "signer.key",
            "-rawin",
            "-in",
            "input.txt",
            "-digest",
            "sm3",
            "-out",
            "sig.der",
        ];
        if let Some(id) = distid {
            args.extend(["-pkeyopt", id]);
        }
        let (ok, text) = openssl_in(d, &args);
        assert!(ok, "{text}");
        std::fs::read(d.join("sig.der")).expect("signature")
    };
    let judge = |sig: &[u8]| {
        let jws = format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig));
        std::fs::write(d.join("resigned.jws"), jws).expect("write");
        let (_, verdict, _) = verify(d, "resigned.jws");
        codes(&verdict)
            .iter()
            .map(|c| c.to_string())
            .collect::<Vec<_>>()
    };
    let r_s = |der: &[u8]| Signature::from_der(der).expect("DER").to_bytes().to_vec();

    let with_id = sign(Some(DISTID));
    assert!(
        judge(&r_s(&with_id)).is_empty(),
        "openssl's signature as r‖s"
    );
    assert_eq!(
        judge(&with_id),
        ["SIGNATURE_INVALID"],
        "openssl's DER as such"
    );
    let empty_id = sign(None);
    assert_eq!(
        judge(&r_s(&empty_id)),
        ["SIGNATURE_INVALID"],
        "the empty signer ID"
    );
}
