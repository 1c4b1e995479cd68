//! `tongban audit …`: the audit log's hash chain.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Subcommand;

use super::fail;
use crate::audit::{verify, VerifyError};

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check the hash chain of FILE and its rotated segments FILE.1, FILE.2, …; exit 0 intact,
    /// 1 broken (says where), 2 usage or I/O.
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
                println!("{summary}");
                ExitCode::SUCCESS
            }
            Err(VerifyError::Broken(b)) => {
                println!("broken at {b}");
                ExitCode::FAILURE
            }
            Err(e) => fail(e),
        },
    }
}
