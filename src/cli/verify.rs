//! `tongban verify`: one verdict JSON per line; exit 0 all valid, 1 any invalid, 2 usage or I/O.

use std::io::{self, Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args as ClapArgs;

use super::{fail, policies_dir, EXIT_USAGE};
use crate::licence::jws::MAX_LICENCE_BYTES;
use crate::licence::Verifier;
use crate::time::{parse_rfc3339, Clock, SystemClock};

#[derive(Debug, ClapArgs)]
pub struct Args {
    /// Trust directory (one folder per city code).
    #[arg(long, value_name = "DIR", default_value = "certs/demo/trust")]
    trust: PathBuf,
    /// Policies directory (catalog and recognition.toml); default `./policies`, else built-in.
    #[arg(long, value_name = "DIR")]
    policies: Option<PathBuf>,
    /// The verifying city's 6-digit division code, e.g. 420100 for 武汉.
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
    let verifier = match Verifier::load(&args.trust, policies_dir(args.policies.clone()).as_deref())
    {
        Ok(v) => v,
        Err(e) => return fail(e),
    };
    for notice in verifier.trust().notices() {
        eprintln!("tongban: notice: {notice}");
    }
    if verifier.catalog().city(&args.city).is_none() {
        let known: Vec<&str> = verifier
            .catalog()
            .cities()
            .iter()
            .map(|c| c.code.as_str())
            .collect();
        return fail(format!(
            "--city `{}` is not one of {}",
            args.city,
            known.join(", ")
        ));
    }
    let (mut valid, mut invalid, mut unreadable) = (0usize, 0usize, 0usize);
    let mut out = io::stdout().lock();
    for file in &args.files {
        let input = match read_input(file) {
            Ok(bytes) => bytes,
            Err(e) => {
                eprintln!("tongban: {}: {e}", file.display());
                unreadable += 1;
                continue;
            }
        };
        let verdict = verifier.verify(&input, &args.city, now);
        if verdict.valid {
            valid += 1;
        } else {
            invalid += 1;
        }
        let line = serde_json::to_string(&verdict).unwrap_or_default();
        if writeln!(out, "{line}").is_err() {
            return ExitCode::from(EXIT_USAGE);
        }
    }
    eprintln!(
        "tongban: {} licence(s): {valid} valid, {invalid} invalid, {unreadable} unreadable",
        args.files.len()
    );
    match (unreadable, invalid) {
        (0, 0) => ExitCode::SUCCESS,
        (0, _) => ExitCode::from(1),
        _ => ExitCode::from(EXIT_USAGE),
    }
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
