//! The `tongban` command line (contract section 6). `main.rs` only calls [`run`].

mod audit;
mod licence;
mod log;
mod pki;
mod policy;
mod serve;
mod verify;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Exit status for usage and I/O errors (contract section 6).
pub const EXIT_USAGE: u8 = 2;

/// 通办 tongban — cross-city e-licence verification and data-sharing gateway of the Wuhan
/// metropolitan area.
#[derive(Debug, Parser)]
#[command(name = "tongban", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Verify e-licences (compact JWS) for a verifying city; one verdict JSON per line.
    Verify(verify::Args),
    /// Issue e-licences with a department's signing key (demo and testing); show one as a QR code.
    #[command(subcommand)]
    Licence(licence::Command),
    /// Make PKI material: the demo PKI of the nine cities.
    #[command(subcommand)]
    Pki(pki::Command),
    /// Policy tools for security teams: check, explain, test, diff, sign.
    #[command(subcommand)]
    Policy(policy::Command),
    /// The audit log: check its hash chain.
    #[command(subcommand)]
    Audit(audit::Command),
    /// Run the gateway; SIGHUP reloads trust and policies, SIGTERM drains and exits.
    Serve(serve::ServeArgs),
    /// Run the gateway on a fresh demo PKI and print ready-to-run curl commands.
    Demo(serve::DemoArgs),
    /// Serve the shipped items' sample responses as upstreams (trying policies, load tests);
    /// prints the `[policies]` and `[upstreams.*]` configuration to use them.
    SampleUpstream(serve::SampleUpstreamArgs),
}

/// Parses the command line and runs the command.
pub fn run() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Verify(args) => verify::run(&args),
        Command::Licence(cmd) => licence::run(cmd),
        Command::Pki(cmd) => pki::run(cmd),
        Command::Policy(cmd) => policy::run(cmd),
        Command::Audit(cmd) => audit::run(cmd),
        Command::Serve(args) => serve::serve(&args),
        Command::Demo(args) => serve::demo(args),
        Command::SampleUpstream(args) => serve::sample_upstream(&args),
    }
}

/// The policies directory to use: the one given, else `./policies` when present, else the copies
/// compiled into the binary (`None`).
fn policies_dir(given: Option<PathBuf>) -> Option<PathBuf> {
    given.or_else(|| {
        let local = PathBuf::from("policies");
        local.join("catalog").is_dir().then_some(local)
    })
}

/// Prints an error the way every command does and returns the usage/I-O exit status.
fn fail(message: impl std::fmt::Display) -> ExitCode {
    eprintln!("tongban: {message}");
    ExitCode::from(EXIT_USAGE)
}

/// The DER certificates of a PEM file, in order.
pub(crate) fn read_pem_chain(path: &std::path::Path) -> Result<Vec<Vec<u8>>, String> {
    let pem = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let chain: Vec<Vec<u8>> = x509_parser::pem::Pem::iter_from_buffer(&pem)
        .map(|p| {
            p.map(|p| p.contents)
                .map_err(|e| format!("{}: {e}", path.display()))
        })
        .collect::<Result<_, _>>()?;
    if chain.is_empty() {
        return Err(format!("{}: no certificate", path.display()));
    }
    Ok(chain)
}
