//! `tongban audit …`: the audit log's hash chain.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Subcommand;

use super::{fail, reject};
use crate::audit::{verify, VerifyError};

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check the hash chain of FILE and its rotated segments FILE.1, FILE.2, …, and print the
    /// head hash (the SHA-256 of the last record: keep it elsewhere to detect a rewritten or
    /// truncated end); exit 0 intact, 1 broken (says where, on standard error), 2 usage or I/O.
    Verify {
        /// The audit log (the current file, as in `[audit] path`).
        #[arg(value_name = "FILE")]
        file: PathBuf,
    },
}

pub fn run(command: Command) -> ExitCode {
    match command {
        Command::Verify { file } => match verify(&file) {
            Ok(summary) => {
                println!("{summary}\nhead {}", summary.head);
                ExitCode::SUCCESS
            }
            Err(VerifyError::Broken(b)) => reject(format!("broken at {b}")),
            Err(e) => fail(e),
        },
    }
}
