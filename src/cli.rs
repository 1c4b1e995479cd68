//! The `tongban` command line (contract section 6). `main.rs` only calls [`run`].

mod audit;
mod config;
mod init;
mod licence;
mod log;
mod pki;
mod policy;
mod serve;
mod verify;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::catalog::{Catalog, City};

/// Exit status for usage and I/O errors (contract section 6).
pub const EXIT_USAGE: u8 = 2;
/// Exit status when the input was read but not accepted: an invalid licence, a policy or
/// configuration with problems, a broken audit chain, a signature that does not verify.
pub const EXIT_NOT_ACCEPTED: u8 = 1;

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
    /// The audit log: check its hash chain (a file, or a cluster's database); export a node's
    /// chain from the database.
    #[command(subcommand)]
    Audit(audit::Command),
    /// Write a ready deployment folder for one city: configuration, keys, server certificate,
    /// trust directory, policies; `serve` starts from it as it is.
    Init(init::Args),
    /// Server configuration tools: check a configuration and everything it names.
    #[command(subcommand)]
    Config(config::Command),
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
        Command::Init(args) => init::run(&args),
        Command::Config(cmd) => config::run(cmd),
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

/// `Err` naming the folder that is not there and what to pass instead (a command run outside
/// the repository, whose defaults are the repository's folders).
fn require_dir(dir: &Path, what: &str, pass: &str) -> Result<(), String> {
    if dir.is_dir() {
        Ok(())
    } else {
        Err(format!(
            "no {what} at `{}`: run from the repository root, or pass {pass}",
            dir.display()
        ))
    }
}

/// Prints an error the way every command does (standard error, each line after `tongban: `)
/// and returns the usage/I-O exit status.
fn fail(message: impl std::fmt::Display) -> ExitCode {
    print_error(&message);
    ExitCode::from(EXIT_USAGE)
}

/// Prints why the input was not accepted, like [`fail`], and returns exit status 1.
fn reject(message: impl std::fmt::Display) -> ExitCode {
    print_error(&message);
    ExitCode::from(EXIT_NOT_ACCEPTED)
}

fn print_error(message: &dyn std::fmt::Display) {
    for line in message.to_string().lines() {
        eprintln!("tongban: {line}");
    }
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

/// The city named by `text`: its 6-digit code, or its Chinese or English name (any case).
fn find_city<'a>(catalog: &'a Catalog, text: &str) -> Result<&'a City, String> {
    let name = text.trim();
    catalog
        .cities()
        .iter()
        .find(|c| {
            c.code == name
                || c.name_zh == name
                || c.name_zh.strip_suffix('市') == Some(name)
                || c.name_en.eq_ignore_ascii_case(name)
        })
        .ok_or_else(|| {
            format!(
                "`{text}` is not a city of the catalog; one of {}",
                city_list(catalog)
            )
        })
}

/// `420100 武汉 Wuhan, 420200 黄石 Huangshi, …`
fn city_list(catalog: &Catalog) -> String {
    catalog
        .cities()
        .iter()
        .map(|c| format!("{} {} {}", c.code, c.name_zh, c.name_en))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    /// Every argument of every command, as `command path: --arg`, that has no help text.
    fn without_help(cmd: &clap::Command, path: &str, out: &mut Vec<String>) {
        let path = format!("{path} {}", cmd.get_name());
        if cmd.get_about().is_none() && !cmd.is_hide_set() {
            out.push(format!("{path}: (the command itself)"));
        }
        for arg in cmd.get_arguments() {
            let builtin = matches!(arg.get_id().as_str(), "help" | "version");
            if !builtin && arg.get_help().is_none() && arg.get_long_help().is_none() {
                out.push(format!("{path}: {}", arg.get_id()));
            }
        }
        for sub in cmd.get_subcommands() {
            without_help(sub, &path, out);
        }
    }

    #[test]
    fn every_command_and_argument_has_help() {
        let mut cmd = Cli::command();
        cmd.build();
        let mut missing = Vec::new();
        without_help(&cmd, "", &mut missing);
        missing.retain(|m| !m.starts_with(" tongban help"));
        assert!(missing.is_empty(), "no help text: {missing:#?}");
    }
}
