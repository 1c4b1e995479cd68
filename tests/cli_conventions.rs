//! The command line's conventions, pinned by exact output and exit status: errors on standard
//! error as `tongban: …`, exit 1 = not accepted, 2 = usage or I/O; and the findings of issue 13
//! (`verify` lines name their file, clear errors outside the repository, unknown callers in
//! `explain`, `policy check` counts, a busy port in `sample-upstream`, the demo's output order).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "test code: a failure here is a failed test"
)]

#[path = "common/cli.rs"]
mod cli;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use cli::{copy_dir, repo, status, stderr, stdout, tongban, tongban_in};

const CITIES: &str = "420100 武汉市 Wuhan, 420200 黄石市 Huangshi, 420700 鄂州市 Ezhou, \
                      420900 孝感市 Xiaogan, 421100 黄冈市 Huanggang, 421200 咸宁市 Xianning, \
                      429004 仙桃市 Xiantao, 429005 潜江市 Qianjiang, 429006 天门市 Tianmen";

#[test]
fn verify_lines_name_their_file_and_an_unreadable_file_keeps_its_line() {
    let files = [
        "certs/demo/licences/ID_CARD.jws",
        "missing.jws",
        "certs/demo/licences/invalid/expired.jws",
    ];
    let mut args = vec!["verify", "--city", "420100", "--at", "2026-01-01T00:00:00Z"];
    args.extend(files);
    let out = tongban(&args);
    assert_eq!(status(&out), 2, "an unreadable file is an I/O error");
    let text = stdout(&out);
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), files.len(), "line N is file N");
    for (line, file) in lines.iter().zip(files) {
        assert_eq!(line["file"], file);
    }
    assert_eq!(lines[0]["valid"], true);
    assert_eq!(
        text.lines().nth(1).unwrap(),
        r#"{"file":"missing.jws","valid":false,"error":"No such file or directory (os error 2)"}"#
    );
    assert_eq!(lines[2]["valid"], false);
    assert_eq!(lines[2]["errors"][0]["code"], "LICENCE_EXPIRED");
    assert_eq!(
        stderr(&out),
        "tongban: missing.jws: No such file or directory (os error 2)\n\
         tongban: 3 licence(s): 1 valid, 1 invalid, 1 unreadable\n"
    );
    // the contract's members are all there, after `file`
    assert!(text.starts_with(r#"{"file":"certs/demo/licences/ID_CARD.jws","valid":true,"lid":"#));
}

#[test]
fn verify_takes_a_city_by_name_and_lists_the_cities_with_their_names() {
    let out = tongban(&[
        "verify",
        "--city",
        "Huangshi",
        "certs/demo/licences/ID_CARD.jws",
    ]);
    assert_eq!(status(&out), 0, "{}", stderr(&out));
    assert!(stdout(&out).contains(r#""verified_for_city":"420200""#));
    let out = tongban(&[
        "verify",
        "--city",
        "wuhan2",
        "certs/demo/licences/ID_CARD.jws",
    ]);
    assert_eq!(status(&out), 2);
    assert_eq!(
        stderr(&out),
        format!("tongban: --city `wuhan2` is not a city of the catalog; one of {CITIES}\n")
    );
    assert!(stdout(&out).is_empty());
}

#[test]
fn outside_the_repository_the_missing_default_folders_are_named() {
    let temp = tempfile::tempdir().unwrap();
    let licence = repo().join("certs/demo/licences/ID_CARD.jws");
    let out = tongban_in(
        temp.path(),
        &["verify", "--city", "420100", licence.to_str().unwrap()],
    );
    assert_eq!(status(&out), 2);
    assert_eq!(
        stderr(&out),
        "tongban: no trust directory at `certs/demo/trust`: run from the repository root, or pass --trust DIR\n"
    );
    for args in [
        vec!["policy", "check"],
        vec!["policy", "test"],
        vec![
            "policy",
            "explain",
            "--caller",
            "420100/HOUSING_FUND",
            "--item",
            "X",
            "--purpose",
            "P",
        ],
    ] {
        let out = tongban_in(temp.path(), &args);
        assert_eq!(status(&out), 2, "{args:?}");
        assert_eq!(
            stderr(&out),
            "tongban: no policies directory at `policies`: run from the repository root, or pass \
             the policies directory (DIR)\n",
            "{args:?}"
        );
    }
}

#[test]
fn explain_refuses_an_unknown_city_department_or_item() {
    let explain = |caller: &str, item: &str| {
        tongban(&[
            "policy",
            "explain",
            "--caller",
            caller,
            "--item",
            item,
            "--purpose",
            "ELDERLY_ALLOWANCE",
        ])
    };
    let out = explain("999999/CIVIL_AFFAIRS", "SA-ELDERLY-ALLOWANCE-TM");
    assert_eq!(status(&out), 2);
    assert_eq!(
        stderr(&out),
        format!(
            "tongban: --caller `999999/CIVIL_AFFAIRS`: `999999` is not a city of the catalog; one of {CITIES}\n"
        )
    );
    let out = explain("420100/CIVIL_AFAIRS", "SA-ELDERLY-ALLOWANCE-TM");
    assert_eq!(status(&out), 2);
    assert_eq!(
        stderr(&out),
        "tongban: --caller `420100/CIVIL_AFAIRS`: `CIVIL_AFAIRS` is not a department kind of the \
         catalog; did you mean `CIVIL_AFFAIRS`?\n"
    );
    let out = explain("420100/CIVIL_AFFAIRS", "SA-ELDERLY-ALLOWANCE-T");
    assert_eq!(status(&out), 2);
    assert_eq!(
        stderr(&out),
        "tongban: --item `SA-ELDERLY-ALLOWANCE-T` is not an item of `policies`; did you mean \
         `SA-ELDERLY-ALLOWANCE-TM`?\n"
    );
    let out = explain("420100/CIVIL_AFFAIRS", "SA-ELDERLY-ALLOWANCE-TM");
    assert_eq!(status(&out), 0, "{}", stderr(&out));
    assert!(
        stdout(&out).starts_with("decision: permit\n"),
        "{}",
        stdout(&out)
    );
}

/// A copy of the shipped policies in a temporary folder.
fn policies_copy() -> tempfile::TempDir {
    let temp = tempfile::tempdir().unwrap();
    copy_dir(&repo().join("policies"), &temp.path().join("policies"));
    temp
}

#[test]
fn policy_check_lists_every_unknown_key_of_a_file_and_counts_what_loaded() {
    let temp = policies_copy();
    let file = temp
        .path()
        .join("policies/items/civil-affairs/elderly.toml");
    let text = std::fs::read_to_string(&file).unwrap();
    let text = text
        .replacen(
            "category = \"民政\"\n",
            "category = \"民政\"\ncolour = \"red\"\n",
            1,
        )
        .replacen("rate = \"300/min\"\n", "rate = \"300/min\"\nburst = 5\n", 1);
    std::fs::write(&file, &text).unwrap();
    let line = |start: &str| 1 + text.lines().position(|l| l.starts_with(start)).unwrap();
    let out = tongban_in(temp.path(), &["policy", "check"]);
    assert_eq!(status(&out), 1);
    let errors: Vec<String> = stdout(&out)
        .lines()
        .filter(|l| l.contains(": error["))
        .map(str::to_owned)
        .collect();
    assert_eq!(
        errors,
        [
            format!(
                "policies/items/civil-affairs/elderly.toml:{}: error[POLICY]: unknown key `item[1].colour`",
                line("colour")
            ),
            format!(
                "policies/items/civil-affairs/elderly.toml:{}: error[POLICY]: unknown key `item[1].permit[1].burst`",
                line("burst")
            ),
        ]
    );
    let files = walk(&temp.path().join("policies/items"));
    // the file's one item is not loaded; every other item is, and said so
    assert!(
        stderr(&out).starts_with(&format!(
            "tongban: 70 item(s) loaded from {files} file(s): 2 error(s), "
        )),
        "{}",
        stderr(&out)
    );
}

fn walk(dir: &Path) -> usize {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let path = e.unwrap().path();
            if path.is_dir() {
                walk(&path)
            } else {
                usize::from(path.extension().is_some_and(|x| x == "toml"))
            }
        })
        .sum()
}

#[test]
fn sample_upstream_on_a_busy_port_names_the_address() {
    let busy = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = busy.local_addr().unwrap().to_string();
    let out = tongban(&["sample-upstream", "--listen", &addr]);
    assert_eq!(status(&out), 2);
    assert_eq!(
        stderr(&out),
        format!(
            "tongban: cannot listen on {addr} (sample upstreams): Address already in use (os error 98)\n"
        )
    );
    assert!(stdout(&out).is_empty());
}

#[test]
fn the_demo_prints_every_command_before_the_stop_line_and_notices_on_stderr() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_tongban"))
        .args(["demo", "--public", "127.0.0.1:0", "--admin", "127.0.0.1:0"])
        .current_dir(repo())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stop = "Stop with Ctrl-C (the demo files are removed unless --dir was given).";
    let mut lines = Vec::new();
    let started = Instant::now();
    let mut reader = BufReader::new(child.stdout.take().unwrap());
    while started.elapsed() < Duration::from_secs(60) {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap() == 0 {
            break;
        }
        let done = line.trim_end() == stop;
        lines.push(line.trim_end().to_owned());
        if done {
            break;
        }
    }
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let exit = child.wait().unwrap();
    let mut err = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut err).unwrap();
    assert_eq!(lines.last().map(String::as_str), Some(stop), "{lines:#?}");
    let curls: Vec<usize> = (0..lines.len())
        .filter(|&i| lines[i].starts_with("curl "))
        .collect();
    // five verification and metrics commands, then the two exchanges
    assert_eq!(curls.len(), 7, "{lines:#?}");
    assert!(lines[*curls.last().unwrap()].contains("/v1/exchange/"));
    assert!(
        lines.iter().all(|l| !l.starts_with("tongban: ")),
        "notices belong on stderr: {lines:#?}"
    );
    assert!(
        err.starts_with("tongban: writing the demo PKI to "),
        "{err}"
    );
    assert!(exit.success(), "{exit:?}");
}
