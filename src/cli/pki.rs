//! `tongban pki …`: PKI material made by code.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Subcommand;

use super::{fail, policies_dir};
use crate::catalog::Catalog;
use crate::pki::demo;

#[derive(Debug, Subcommand)]
pub enum Command {
    /// (Re)generate the demo PKI of the nine cities and the demo licences (keys change).
    Demo {
        /// Output directory; emptied first.
        #[arg(long, value_name = "DIR", default_value = "certs/demo")]
        out: PathBuf,
        /// Policies directory for the catalog; default `./policies`, else built-in.
        #[arg(long, value_name = "DIR")]
        policies: Option<PathBuf>,
    },
}

pub fn run(command: Command) -> ExitCode {
    match command {
        Command::Demo { out, policies } => {
            let catalog = match policies_dir(policies) {
                Some(dir) => Catalog::load(&dir),
                None => Catalog::embedded(),
            };
            let catalog = match catalog {
                Ok(c) => c,
                Err(e) => return fail(e),
            };
            eprintln!("tongban: writing the demo PKI to {} …", out.display());
            match demo::generate(&out, &catalog) {
                Ok(s) => {
                    eprintln!(
                        "tongban: {} cities, {} intermediate CA(s), {} signers, {} client certificates, {} licences (+{} invalid examples)",
                        s.cities, s.intermediates, s.signers, s.clients, s.licences, s.invalid_licences
                    );
                    ExitCode::SUCCESS
                }
                Err(e) => fail(e),
            }
        }
    }
}
