//! `tongban config check FILE` and `tongban serve` before it starts: every problem of the
//! configuration, the files it names and the policies it loads, all at once, each with its file
//! and line; exit 0 ok, 1 problems, 2 usage or I/O.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "test code: a failure here is a failed test"
)]

#[path = "common/cli.rs"]
mod cli;

use std::path::Path;

use cli::{status, stderr, stdout, tongban_in};

/// A deployment folder from `tongban init` (the shipped policies), in a fresh temporary folder.
fn deployment() -> tempfile::TempDir {
    let temp = tempfile::tempdir().unwrap();
    let out = cli::tongban(&[
        "init",
        temp.path().join("d").to_str().unwrap(),
        "--city",
        "420100",
    ]);
    assert_eq!(status(&out), 0, "{}", stderr(&out));
    temp
}

fn check(dir: &Path) -> std::process::Output {
    tongban_in(dir, &["config", "check", "d/tongban.toml"])
}

fn edit(dir: &Path, from: &str, to: &str) {
    let path = dir.join("d/tongban.toml");
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.contains(from), "{from:?}");
    std::fs::write(&path, text.replacen(from, to, 1)).unwrap();
}

#[test]
fn every_missing_file_is_listed_at_once() {
    let temp = deployment();
    let d = temp.path().join("d");
    for gone in ["server/server-chain.pem", "mask.key"] {
        std::fs::remove_file(d.join(gone)).unwrap();
    }
    for gone in ["trust", "policies"] {
        std::fs::remove_dir_all(d.join(gone)).unwrap();
    }
    let out = check(temp.path());
    assert_eq!(status(&out), 1);
    assert_eq!(
        stdout(&out),
        "d/server/server-chain.pem: server certificate chain: I/O error: No such file or directory (os error 2)\n\
         d/policies/catalog/cities.csv: cannot read: No such file or directory (os error 2)\n\
         d/policies/catalog/departments.csv: cannot read: No such file or directory (os error 2)\n\
         d/policies/catalog/licence-types.csv: cannot read: No such file or directory (os error 2)\n\
         d/trust: cannot read the trust directory: No such file or directory (os error 2)\n\
         d/mask.key: mask key: No such file or directory (os error 2)\n"
            .replace("\n         ", "\n")
    );
    assert!(stderr(&out).ends_with("tongban: d/tongban.toml: 6 problem(s)\n"));
}

#[test]
fn a_missing_trust_directory_is_listed_beside_the_other_problems() {
    let temp = deployment();
    let d = temp.path().join("d");
    std::fs::remove_dir_all(d.join("trust")).unwrap();
    std::fs::remove_file(d.join("server/server.key")).unwrap();
    let out = check(temp.path());
    assert_eq!(status(&out), 1);
    assert_eq!(
        stdout(&out),
        "d/server/server.key: server key: I/O error: No such file or directory (os error 2)\n\
         d/trust: cannot read the trust directory: No such file or directory (os error 2)\n"
            .replace("\n         ", "\n")
    );
}

#[test]
fn every_unknown_key_with_its_line() {
    let temp = deployment();
    edit(temp.path(), "[tls]\n", "[tls]\nchain = \"x.pem\"\n");
    edit(temp.path(), "[audit]\n", "[audit]\nflush_ms = 5\n");
    let out = check(temp.path());
    assert_eq!(status(&out), 1);
    let text = std::fs::read_to_string(temp.path().join("d/tongban.toml")).unwrap();
    let line = |key: &str| 1 + text.lines().position(|l| l.starts_with(key)).unwrap();
    assert_eq!(
        stdout(&out),
        format!(
            "d/tongban.toml:{}: unknown key `tls.chain`\nd/tongban.toml:{}: unknown key `audit.flush_ms`\n",
            line("chain = "),
            line("flush_ms = ")
        )
    );
}

#[test]
fn a_short_mask_key_and_a_missing_audit_key_are_named_as_such() {
    let temp = deployment();
    let d = temp.path().join("d");
    std::fs::write(d.join("mask.key"), "00".repeat(31)).unwrap();
    std::fs::remove_file(d.join("audit.key")).unwrap();
    let out = check(temp.path());
    assert_eq!(status(&out), 1);
    assert_eq!(
        stdout(&out),
        "d/mask.key: mask key: 31 bytes, at least 32 required\n\
         d/audit.key: audit key: No such file or directory (os error 2)\n"
            .replace("\n         ", "\n")
    );
    // serve refuses to start with the same list, exit 1
    let out = tongban_in(temp.path(), &["serve", "--config", "d/tongban.toml"]);
    assert_eq!(status(&out), 1);
    assert!(
        stderr(&out).ends_with(
            "tongban: d/mask.key: mask key: 31 bytes, at least 32 required\n\
             tongban: d/audit.key: audit key: No such file or directory (os error 2)\n\
             tongban: d/tongban.toml: 2 problem(s); nothing started (`tongban config check` lists them too)\n"
                .replace("\n             ", "\n")
                .as_str()
        ),
        "{}",
        stderr(&out)
    );
}

#[test]
fn unknown_upstreams_are_listed_per_item_with_a_hint() {
    let temp = deployment();
    edit(
        temp.path(),
        "[upstreams.civil-tianmen]\n",
        "[upstreams.civil-tianmen-old]\n",
    );
    let out = check(temp.path());
    assert_eq!(status(&out), 1);
    let printed = stdout(&out);
    let lines: Vec<&str> = printed.lines().collect();
    assert!(!lines.is_empty());
    for line in &lines {
        assert!(line.starts_with("d/policies/items/"), "{line}");
        assert!(
            line.ends_with(": upstream `civil-tianmen` is not defined in the server configuration"),
            "{line}"
        );
    }
    assert!(stderr(&out).ends_with(
        &format!(
            "tongban: hint: add [upstreams.civil-tianmen] to d/tongban.toml (`tongban sample-upstream --policies DIR` prints them, pointing at sample responses)\n\
             tongban: d/tongban.toml: {} problem(s)\n",
            lines.len()
        )
        .replace("\n             ", "\n")
    ));
}

#[test]
fn an_unreadable_configuration_is_exit_2() {
    let temp = tempfile::tempdir().unwrap();
    let out = tongban_in(temp.path(), &["config", "check", "none.toml"]);
    assert_eq!(status(&out), 2);
    assert_eq!(
        stderr(&out),
        "tongban: none.toml: cannot read the configuration: No such file or directory (os error 2)\n"
    );
    let out = tongban_in(temp.path(), &["serve", "--config", "none.toml"]);
    assert_eq!(status(&out), 2);
    assert!(stderr(&out).ends_with(
        "tongban: none.toml: cannot read the configuration: No such file or directory (os error 2)\n"
    ));
}
