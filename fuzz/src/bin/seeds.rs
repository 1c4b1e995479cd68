//! Writes each target's seed corpus to `<out>/<target>/seed-N` (default `fuzz/corpus`).
use std::path::PathBuf;

use tongban_fuzz::harness::{repo_root, seeds, TARGETS};

fn main() -> std::io::Result<()> {
    let out = std::env::args_os()
        .nth(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join("fuzz/corpus"));
    for (name, _) in TARGETS {
        let dir = out.join(name);
        std::fs::create_dir_all(&dir)?;
        let seeds = seeds(name);
        for (i, seed) in seeds.iter().enumerate() {
            std::fs::write(dir.join(format!("seed-{i}")), seed)?;
        }
        println!("{name}: {} seeds", seeds.len());
    }
    Ok(())
}
