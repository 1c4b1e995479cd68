//! `tongban audit …`: the audit log's hash chain, in a file or in a cluster's database.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Subcommand};

use super::{fail, reject, EXIT_NOT_ACCEPTED};
use crate::audit::{verify, VerifyError};
use crate::cluster::{self, Database};

/// Connecting to the database from the command line may take this long.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check the hash chain of FILE and its rotated segments FILE.1, FILE.2, …, and print the
    /// head hash (the SHA-256 of the last record: keep it elsewhere to detect a rewritten or
    /// truncated end); or, with --database, every node's chain in a cluster's database, gaps,
    /// forks and changed records named. Exit 0 intact, 1 broken (says where, on standard
    /// error), 2 usage or I/O.
    Verify {
        /// The audit log (the current file, as in `[audit] path`).
        #[arg(
            value_name = "FILE",
            required_unless_present = "database",
            conflicts_with = "database"
        )]
        file: Option<PathBuf>,
        #[command(flatten)]
        database: DatabaseArgs,
    },
    /// Write one node's chain from a cluster's database as the JSON Lines audit file that
    /// `tongban audit verify FILE` checks (to standard output, or --out). Exit 0 written, 2
    /// usage or I/O (an unknown node lists the known ones).
    Export {
        #[command(flatten)]
        database: DatabaseArgs,
        /// The gateway whose chain to write (`[cluster] node`).
        #[arg(long, value_name = "NODE")]
        node: String,
        /// Write here instead of standard output.
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
    },
}

/// Where a cluster's database is.
#[derive(Debug, Args)]
pub struct DatabaseArgs {
    /// The cluster's database: a libpq `key=value` string or a `postgresql://` URL, as in
    /// `[cluster] database`.
    #[arg(long, value_name = "CONN")]
    database: Option<String>,
    /// PEM roots of the database's certificate: TLS, verified (as `[cluster] ca`).
    #[arg(long, value_name = "PEM", requires = "database")]
    database_ca: Option<PathBuf>,
    /// A file holding the database password (as `[cluster] password_file`).
    #[arg(long, value_name = "FILE", requires = "database")]
    database_password_file: Option<PathBuf>,
}

impl DatabaseArgs {
    fn open(&self) -> Result<Database, String> {
        let text = self
            .database
            .as_deref()
            .ok_or("--database CONN is required")?;
        Database::new(
            text,
            self.database_ca.as_deref(),
            self.database_password_file.as_deref(),
            CONNECT_TIMEOUT,
        )
        .map_err(|e| e.to_string())
    }
}

pub fn run(command: Command) -> ExitCode {
    match command {
        Command::Verify {
            file: Some(file), ..
        } => match verify(&file) {
            Ok(summary) => {
                println!("{summary}\nhead {}", summary.head);
                ExitCode::SUCCESS
            }
            Err(VerifyError::Broken(b)) => reject(format!("broken at {b}")),
            Err(e) => fail(e),
        },
        Command::Verify {
            file: None,
            database,
        } => verify_database(&database),
        Command::Export {
            database,
            node,
            out,
        } => export(&database, &node, out),
    }
}

fn verify_database(args: &DatabaseArgs) -> ExitCode {
    let database = match args.open() {
        Ok(d) => d,
        Err(e) => return fail(e),
    };
    let reports = match runtime().and_then(|rt| {
        rt.block_on(cluster::verify::verify(&database))
            .map_err(|e| e.to_string())
    }) {
        Ok(r) => r,
        Err(e) => return fail(e),
    };
    let mut broken = 0;
    for report in &reports {
        println!("{report}");
        for b in &report.breaks {
            eprintln!("tongban: {b}");
        }
        if report.more_breaks > 0 {
            eprintln!(
                "tongban: node `{}`: {} more break(s) not named",
                report.node, report.more_breaks
            );
        }
        if !report.is_intact() {
            broken += 1;
        }
    }
    println!(
        "{} node(s), {} intact, {broken} broken",
        reports.len(),
        reports.len() - broken
    );
    if broken > 0 {
        ExitCode::from(EXIT_NOT_ACCEPTED)
    } else {
        ExitCode::SUCCESS
    }
}

fn export(args: &DatabaseArgs, node: &str, out: Option<PathBuf>) -> ExitCode {
    if let Err(e) = cluster::check_node(node) {
        return fail(format!("--node: {e}"));
    }
    let database = match args.open() {
        Ok(d) => d,
        Err(e) => return fail(e),
    };
    let rt = match runtime() {
        Ok(rt) => rt,
        Err(e) => return fail(e),
    };
    let mut sink: Box<dyn std::io::Write> = match &out {
        Some(path) => match std::fs::File::create(path) {
            Ok(f) => Box::new(std::io::BufWriter::new(f)),
            Err(e) => return fail(format!("{}: {e}", path.display())),
        },
        None => Box::new(std::io::BufWriter::new(std::io::stdout().lock())),
    };
    match rt.block_on(cluster::verify::export(&database, node, &mut sink)) {
        Ok(Some(n)) => {
            eprintln!("tongban: node `{node}`: {n} records written");
            ExitCode::SUCCESS
        }
        Ok(None) => {
            drop(sink);
            if let Some(path) = &out {
                let _ = std::fs::remove_file(path);
            }
            let known = rt
                .block_on(cluster::verify::nodes(&database))
                .map(|n| n.join(", "))
                .unwrap_or_default();
            fail(format!(
                "no records of node `{node}` in the database (nodes: {})",
                if known.is_empty() { "none" } else { &known }
            ))
        }
        Err(e) => fail(e),
    }
}

fn runtime() -> Result<tokio::runtime::Runtime, String> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())
}
