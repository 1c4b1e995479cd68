//! Every command shown in README.md and docs/*.md runs, and prints what the Markdown shows.
//!
//! Command blocks are fenced ```sh (commands, one per line, `\` continues a line) and
//! ```console (`$ command` followed by its documented output, standard output then standard
//! error); a `$ ` line in any other block counts too. `cargo run --release --` and `tongban` run
//! the binary under test, through `bash`, in a scratch copy of the repository's `certs/` and
//! `policies/` (one per Markdown file, blocks in order). A command must exit 0 unless it ends
//! with `# exit N`. In documented output, `…` stands for any text within a line, a line of only
//! `…` for any number of lines, and runs of spaces compare as one.
//!
//! A block that cannot run in a test (a server that runs until stopped, a benchmark, the test
//! suite itself) is preceded by `<!-- docs-test: skip: REASON -->`; the reason is required.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "test code: a failure here is a failed test"
)]

#[path = "common/cli.rs"]
mod cli;

use std::path::{Path, PathBuf};
use std::process::Command;

use cli::copy_dir;

const SKIP: &str = "<!-- docs-test: skip: ";

/// One command of a Markdown file.
#[derive(Debug)]
struct Example {
    file: String,
    line: usize,
    command: String,
    exit: i32,
    /// Documented output lines (console blocks); `None`: not compared.
    output: Option<Vec<String>>,
}

/// The command blocks of a Markdown text, with the skipped ones' reasons.
fn examples(file: &str, text: &str) -> (Vec<Example>, Vec<String>) {
    let lines: Vec<&str> = text.lines().collect();
    let (mut out, mut skipped) = (Vec::new(), Vec::new());
    let mut i = 0;
    while i < lines.len() {
        let Some(lang) = lines[i].strip_prefix("```") else {
            i += 1;
            continue;
        };
        let start = i + 1;
        let end = (start..lines.len())
            .find(|&j| lines[j].trim_end() == "```")
            .unwrap_or(lines.len());
        let body = &lines[start..end];
        let console = lang == "console" || body.iter().any(|l| l.starts_with("$ "));
        let is_commands = lang == "sh" || console;
        let marker = lines[..i]
            .iter()
            .rev()
            .find(|l| !l.trim().is_empty())
            .and_then(|l| l.trim().strip_prefix(SKIP));
        match (is_commands, marker) {
            (true, Some(reason)) => {
                let reason = reason.trim_end_matches("-->").trim();
                assert!(!reason.is_empty(), "{file}:{i}: a skip needs its reason");
                skipped.push(format!("{file}:{}: {reason}", i + 1));
            }
            (true, None) if console => out.extend(console_examples(file, start, body)),
            (true, None) => out.extend(sh_examples(file, start, body)),
            _ => {}
        }
        i = end + 1;
    }
    (out, skipped)
}

/// `# exit N` (and any words after N) ending a command: (command, N); 0 without it.
fn exit_of(command: &str) -> (String, i32) {
    if let Some((cmd, tail)) = command.rsplit_once("# exit ") {
        let digits: String = tail.chars().take_while(char::is_ascii_digit).collect();
        if let Ok(code) = digits.parse() {
            return (cmd.trim_end().to_owned(), code);
        }
    }
    (command.to_owned(), 0)
}

/// Lines joined over trailing `\`, with the number of each first line.
fn joined(start: usize, body: &[&str], prefix: &str) -> Vec<(usize, String, usize)> {
    let mut out = Vec::new();
    let mut j = 0;
    while j < body.len() {
        let first = j;
        let mut command = body[j].strip_prefix(prefix).unwrap_or(body[j]).to_owned();
        while command.ends_with('\\') && j + 1 < body.len() {
            command.pop();
            command.truncate(command.trim_end().len());
            j += 1;
            command.push(' ');
            command.push_str(body[j].trim());
        }
        out.push((start + first + 1, command, j + 1));
        j += 1;
    }
    out
}

fn sh_examples(file: &str, start: usize, body: &[&str]) -> Vec<Example> {
    joined(start, body, "")
        .into_iter()
        .filter(|(_, c, _)| !c.trim().is_empty() && !c.trim_start().starts_with('#'))
        .map(|(line, command, _)| {
            let (command, exit) = exit_of(&command);
            Example {
                file: file.to_owned(),
                line,
                command,
                exit,
                output: None,
            }
        })
        .collect()
}

fn console_examples(file: &str, start: usize, body: &[&str]) -> Vec<Example> {
    let mut out: Vec<Example> = Vec::new();
    let mut j = 0;
    while j < body.len() {
        if !body[j].starts_with("$ ") {
            if let Some(last) = out.last_mut() {
                last.output
                    .get_or_insert_with(Vec::new)
                    .push(body[j].to_owned());
            }
            j += 1;
            continue;
        }
        let (line, command, next) = joined(start, &body[j..], "$ ")
            .into_iter()
            .next()
            .map(|(l, c, n)| (l + j, c, n + j))
            .unwrap_or_default();
        let (command, exit) = exit_of(&command);
        out.push(Example {
            file: file.to_owned(),
            line,
            command,
            exit,
            output: Some(Vec::new()),
        });
        j = next;
    }
    out
}

/// Whether `actual` lines match the documented `pattern` lines (see the module doc).
fn matches(pattern: &[String], actual: &[String]) -> bool {
    match pattern.split_first() {
        None => actual.is_empty(),
        Some((p, rest)) if p.trim() == "…" => {
            (0..=actual.len()).any(|skip| matches(rest, &actual[skip..]))
        }
        Some((p, rest)) => actual
            .split_first()
            .is_some_and(|(a, more)| line_matches(p, a) && matches(rest, more)),
    }
}

fn line_matches(pattern: &str, actual: &str) -> bool {
    let squeeze = |s: &str| s.split_whitespace().collect::<Vec<_>>().join(" ");
    let (pattern, actual) = (squeeze(pattern), squeeze(actual));
    let mut parts = pattern.split('…');
    let first = parts.next().unwrap_or_default();
    let Some(mut rest) = actual.strip_prefix(first) else {
        return false;
    };
    let parts: Vec<&str> = parts.collect();
    for (k, part) in parts.iter().enumerate() {
        if k + 1 == parts.len() {
            return rest.ends_with(part);
        }
        match rest.find(part) {
            Some(at) => rest = &rest[at + part.len()..],
            None => return false,
        }
    }
    rest.is_empty()
}

/// The first lines of a long output, for failure messages.
fn head(text: &str) -> String {
    let lines: Vec<&str> = text.lines().collect();
    let mut shown: Vec<String> = lines
        .iter()
        .take(30)
        .map(|l| l.chars().take(300).collect())
        .collect();
    if lines.len() > 30 {
        shown.push(format!("… ({} more lines)", lines.len() - 30));
    }
    shown.join("\n")
}

/// Runs `example` in `workspace` with `bin` (holding `tongban`) first on PATH.
fn run(example: &Example, workspace: &Path, bin: &Path) -> Result<(), String> {
    let command = example.command.replace("cargo run --release --", "tongban");
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let out = Command::new("timeout")
        .args(["120", "bash", "-c", &command])
        .current_dir(workspace)
        .env("PATH", path)
        .stdin(std::process::Stdio::null())
        .output()
        .map_err(|e| e.to_string())?;
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    let at = format!("{}:{}: `{}`", example.file, example.line, example.command);
    let code = out.status.code().unwrap_or(-1);
    if code != example.exit {
        return Err(format!(
            "{at}: exit {code}, documented {}\n{}",
            example.exit,
            head(&format!("{stdout}{stderr}"))
        ));
    }
    if let Some(expected) = &example.output {
        let actual: Vec<String> = stdout
            .lines()
            .chain(stderr.lines())
            .map(String::from)
            .collect();
        if !matches(expected, &actual) {
            return Err(format!(
                "{at}: output differs from the documented one\n--- documented\n{}\n--- printed\n{}",
                expected.join("\n"),
                head(&actual.join("\n"))
            ));
        }
    }
    Ok(())
}

fn markdown_files() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = vec![root.join("README.md")];
    let mut docs: Vec<PathBuf> = std::fs::read_dir(root.join("docs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "md"))
        .collect();
    docs.sort();
    files.extend(docs);
    files
}

#[test]
fn every_documented_command_runs_as_documented() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let temp = tempfile::tempdir().unwrap();
    let bin = temp.path().join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_tongban"), bin.join("tongban")).unwrap();
    let (mut failures, mut ran, mut skipped) = (Vec::new(), 0, Vec::new());
    for (n, file) in markdown_files().iter().enumerate() {
        let name = file.strip_prefix(root).unwrap().display().to_string();
        let (list, skips) = examples(&name, &std::fs::read_to_string(file).unwrap());
        skipped.extend(skips);
        if list.is_empty() {
            continue;
        }
        let workspace = temp.path().join(format!("ws{n}")).join("repo");
        copy_dir(&root.join("certs"), &workspace.join("certs"));
        copy_dir(&root.join("policies"), &workspace.join("policies"));
        for example in &list {
            ran += 1;
            if let Err(e) = run(example, &workspace, &bin) {
                failures.push(e);
            }
        }
    }
    eprintln!(
        "{ran} documented command(s) run; skipped blocks:\n  {}",
        skipped.join("\n  ")
    );
    assert!(ran >= 12, "only {ran} documented commands found");
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn the_extraction_and_matching_rules() {
    let md = "text\n\n```sh\ntongban a \\\n  --b c   # exit 1\n# a comment\n```\n\n<!-- docs-test: skip: runs until stopped -->\n```sh\ntongban serve\n```\n\n```console\n$ tongban x\nline … end\n…\n$ tongban y\n```\n";
    let (list, skipped) = examples("f.md", md);
    assert_eq!(skipped, ["f.md:10: runs until stopped"]);
    let shown: Vec<(usize, &str, i32, Option<usize>)> = list
        .iter()
        .map(|e| {
            (
                e.line,
                e.command.as_str(),
                e.exit,
                e.output.as_ref().map(Vec::len),
            )
        })
        .collect();
    assert_eq!(
        shown,
        [
            (4, "tongban a --b c", 1, None),
            (15, "tongban x", 0, Some(2)),
            (18, "tongban y", 0, Some(0)),
        ]
    );
    let p = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    assert!(matches(&p(&["a … c", "…"]), &p(&["a  b c", "x", "y"])));
    assert!(matches(&p(&["a … c"]), &p(&["a b c"])));
    assert!(!matches(&p(&["a … c"]), &p(&["a b c", "more"])));
    assert!(!matches(&p(&["124 file(s)"]), &p(&["159 file(s)"])));
    assert!(line_matches("x …", "x anything"));
    assert!(!line_matches("x", "x y"));
}
