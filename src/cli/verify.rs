//! `tongban verify`: one verdict JSON per line, line N for file N, each with its `file`; exit 0
//! all valid, 1 any invalid, 2 usage or I/O.

use std::io::{self, Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args as ClapArgs;

use serde::Serialize;

use super::{fail, find_city, policies_dir, require_dir, EXIT_NOT_ACCEPTED, EXIT_USAGE};
use crate::licence::jws::MAX_LICENCE_BYTES;
use crate::licence::{Verdict, Verifier};
use crate::time::{parse_rfc3339, Clock, SystemClock};

#[derive(Debug, ClapArgs)]
pub struct Args {
    /// Trust directory (one folder per city code).
    #[arg(long, value_name = "DIR", default_value = "certs/demo/trust")]
    trust: PathBuf,
    /// Policies directory (catalog and recognition.toml); default `./policies`, else built-in.
    #[arg(long, value_name = "DIR")]
    policies: Option<PathBuf>,
    /// The verifying city: its 6-digit division code (420100) or its name (武汉, Wuhan).
    #[arg(long, value_name = "CODE")]
    city: String,
    /// Judge as of this RFC 3339 time instead of now (reproducible checks).
    #[arg(long, value_name = "RFC3339")]
    at: Option<String>,
    /// Licence files (compact JWS); `-` reads standard input.
    #[arg(value_name = "FILE", required = true)]
    files: Vec<PathBuf>,
}

pub fn run(args: &Args) -> ExitCode {
    let now = match args.at.as_deref().map(parse_rfc3339) {
        Some(Ok(t)) => t,
        Some(Err(e)) => return fail(format!("--at: {e}")),
        None => SystemClock.now(),
    };
    if let Err(e) = require_dir(&args.trust, "trust directory", "--trust DIR") {
        return fail(e);
    }
    let verifier = match Verifier::load(&args.trust, policies_dir(args.policies.clone()).as_deref())
    {
        Ok(v) => v,
        Err(e) => return fail(e),
    };
    for notice in verifier.trust().notices() {
        eprintln!("tongban: notice: {notice}");
    }
    let city = match find_city(verifier.catalog(), &args.city) {
        Ok(c) => c.code.clone(),
        Err(e) => return fail(format!("--city {e}")),
    };
    let (mut valid, mut invalid, mut unreadable) = (0usize, 0usize, 0usize);
    let mut out = io::stdout().lock();
    for file in &args.files {
        let name = file.display().to_string();
        let line = match read_input(file) {
            Ok(input) => {
                let verdict = verifier.verify(&input, &city, now);
                if verdict.valid {
                    valid += 1;
                } else {
                    invalid += 1;
                }
                serde_json::to_string(&Line {
                    file: &name,
                    verdict: &verdict,
                })
            }
            Err(e) => {
                eprintln!("tongban: {name}: {e}");
                unreadable += 1;
                serde_json::to_string(&Unreadable {
                    file: &name,
                    valid: false,
                    error: e.to_string(),
                })
            }
        };
        if writeln!(out, "{}", line.unwrap_or_default()).is_err() {
            return ExitCode::from(EXIT_USAGE);
        }
    }
    eprintln!(
        "tongban: {} licence(s): {valid} valid, {invalid} invalid, {unreadable} unreadable",
        args.files.len()
    );
    match (unreadable, invalid) {
        (0, 0) => ExitCode::SUCCESS,
        (0, _) => ExitCode::from(EXIT_NOT_ACCEPTED),
        _ => ExitCode::from(EXIT_USAGE),
    }
}

/// One output line: the contract's verdict with the file it is about first.
#[derive(Serialize)]
struct Line<'a> {
    file: &'a str,
    #[serde(flatten)]
    verdict: &'a Verdict,
}

/// The line of a file that could not be read: no verdict, the error instead.
#[derive(Serialize)]
struct Unreadable<'a> {
    file: &'a str,
    valid: bool,
    error: String,
}

/// Reads a licence file (or stdin), refusing to read far past the licence size limit.
fn read_input(file: &PathBuf) -> io::Result<Vec<u8>> {
    // whitespace around a licence is allowed, so leave generous room before cutting off
    let limit = (MAX_LICENCE_BYTES * 2) as u64;
    let mut buf = Vec::new();
    if file.as_os_str() == "-" {
        io::stdin().lock().take(limit).read_to_end(&mut buf)?;
    } else {
        std::fs::File::open(file)?
            .take(limit)
            .read_to_end(&mut buf)?;
    }
    Ok(buf)
}
