//! `tongban config check FILE`: every problem of a server configuration, the files it names and
//! the policies it loads, at once; exit 0 ok, 1 problems found, 2 usage or I/O.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Subcommand;

use super::{fail, EXIT_NOT_ACCEPTED};
use crate::server::config::check::check_all;

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check a server configuration as `serve` does before it starts: unknown keys, bad values,
    /// missing or unreadable files, bad keys, unknown upstreams — every problem at once, each
    /// with its file (and line); exit 0 ok, 1 problems found, 2 usage or I/O.
    Check {
        /// The server configuration (TOML), e.g. `tongban.toml` written by `tongban init`.
        #[arg(value_name = "FILE")]
        file: PathBuf,
    },
}

pub fn run(command: Command) -> ExitCode {
    let Command::Check { file } = command;
    let (checked, findings) = match check_all(&file) {
        Ok(x) => x,
        Err(e) => return fail(e),
    };
    if let Some(checked) = &checked {
        for notice in checked.trust_notices.iter().chain(&checked.notices) {
            eprintln!("tongban: notice: {notice}");
        }
    }
    for problem in &findings.problems {
        println!("{problem}");
    }
    if !findings.missing_upstreams.is_empty() {
        let names: Vec<String> = findings
            .missing_upstreams
            .iter()
            .map(|n| format!("[upstreams.{n}]"))
            .collect();
        eprintln!(
            "tongban: hint: add {} to {} (`tongban sample-upstream --policies DIR` prints them, \
             pointing at sample responses)",
            names.join(", "),
            file.display()
        );
    }
    match (&checked, findings.problems.len()) {
        (Some(checked), 0) => {
            eprintln!(
                "tongban: {}: ok ({} item(s), {} upstream(s))",
                file.display(),
                checked.items,
                checked.config.upstreams.len()
            );
            ExitCode::SUCCESS
        }
        (_, n) => {
            eprintln!("tongban: {}: {n} problem(s)", file.display());
            ExitCode::from(EXIT_NOT_ACCEPTED)
        }
    }
}
