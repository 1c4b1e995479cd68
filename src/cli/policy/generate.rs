//! `tongban policy generate`: write a synthetic policy set at any scale (the platform's 1,062
//! items by default) as a policies directory the gateway and the policy tools load, for
//! benchmarks and load tests (`benches/compare`).
//!
//! The directory gets the catalog and `recognition.toml` built into the binary (the shipped
//! ones) and `items/<category>/synthetic.toml` from [`synthetic::generate`]; the set is loaded
//! back before the command succeeds. Standard output gets an `[upstreams.NAME]` table for
//! every upstream the items name, to append to a server configuration.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use super::super::fail;
use crate::catalog::{self, Catalog};
use crate::policy::synthetic;
use crate::policy::PolicySet;
use crate::recognition::{self, Recognition};

/// Most items one run generates: ten times the platform's scale, and still a few seconds.
pub const MAX_ITEMS: usize = 100_000;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Number of items.
    #[arg(long, value_name = "N", default_value_t = synthetic::DEFAULT_ITEMS)]
    items: usize,
    /// Seed of the generator: the same seed and count give the same files.
    #[arg(long, value_name = "S", default_value_t = 2026)]
    seed: u64,
    /// The policies directory to write (created when missing; must be empty unless --force).
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
    /// Write into a non-empty DIR: its `catalog/` files and `recognition.toml` are overwritten
    /// and its `items/` folder is removed first (other files are left alone).
    #[arg(long)]
    force: bool,
    /// The URL printed for every upstream in the `[upstreams.*]` configuration.
    #[arg(long, value_name = "URL", default_value = "http://127.0.0.1:18080")]
    upstream_url: String,
}

pub fn run(args: &Args) -> ExitCode {
    match generate(args) {
        Ok(summary) => {
            print!("{}", summary.upstreams_toml);
            eprintln!(
                "tongban: {} item(s) with {} rule(s) in {} file(s), {} upstream(s), written to {}",
                summary.items,
                summary.rules,
                summary.files,
                summary.upstreams,
                args.out.display()
            );
            ExitCode::SUCCESS
        }
        Err(e) => fail(e),
    }
}

/// What was written.
struct Summary {
    items: usize,
    rules: usize,
    files: usize,
    upstreams: usize,
    upstreams_toml: String,
}

fn generate(args: &Args) -> Result<Summary, String> {
    if !(1..=MAX_ITEMS).contains(&args.items) {
        return Err(format!("--items {}: expected 1 to {MAX_ITEMS}", args.items));
    }
    prepare(&args.out, args.force)?;
    let items = synthetic::generate(args.items, args.seed);
    let files = synthetic::render_files(&items);
    for (name, text) in catalog::EMBEDDED_FILES {
        write(&args.out.join("catalog").join(name), text)?;
    }
    write(
        &args.out.join(recognition::RECOGNITION_FILE),
        recognition::EMBEDDED_TEXT,
    )?;
    for (rel, text) in &files {
        write(&args.out.join(rel), text)?;
    }
    // what was written must load as the gateway loads it
    let catalog = Catalog::load(&args.out).map_err(|e| e.to_string())?;
    Recognition::load(&args.out, &catalog).map_err(|e| e.to_string())?;
    let set = PolicySet::load(&args.out, &catalog, None).map_err(|e| e.to_string())?;
    if set.items().len() != items.len() {
        return Err(format!(
            "{}: {} item(s) loaded back, {} written",
            args.out.display(),
            set.items().len(),
            items.len()
        ));
    }
    let upstreams: BTreeSet<&str> = items.iter().map(|i| i.upstream.as_str()).collect();
    let mut upstreams_toml = String::new();
    for name in &upstreams {
        let _ = write!(
            upstreams_toml,
            "[upstreams.{name}]\nurl = {:?}\n\n",
            args.upstream_url
        );
    }
    Ok(Summary {
        items: items.len(),
        rules: items
            .iter()
            .map(|i| i.permits.len() + i.forbids.len())
            .sum(),
        files: files.len(),
        upstreams: upstreams.len(),
        upstreams_toml,
    })
}

/// Creates `dir`, or checks that it is empty; with `force`, removes its `items/`.
fn prepare(dir: &Path, force: bool) -> Result<(), String> {
    let shown = |e: std::io::Error| format!("{}: {e}", dir.display());
    match std::fs::read_dir(dir) {
        Ok(mut entries) => {
            if entries.next().is_some() {
                if !force {
                    return Err(format!(
                        "{}: not empty; pass --force to replace its catalog/, recognition.toml and items/",
                        dir.display()
                    ));
                }
                let items = dir.join("items");
                if items.exists() {
                    std::fs::remove_dir_all(&items)
                        .map_err(|e| format!("{}: {e}", items.display()))?;
                }
            }
            Ok(())
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            std::fs::create_dir_all(dir).map_err(shown)
        }
        Err(e) => Err(shown(e)),
    }
}

fn write(path: &Path, text: &str) -> Result<(), String> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(|e| format!("{}: {e}", parent.display()))?;
    }
    std::fs::write(path, text).map_err(|e| format!("{}: {e}", path.display()))
}
