//! A short run of every fuzz target in CI: each target's body (the very code the fuzzers run,
//! `fuzz/src/harness.rs`) over its seed corpus, mutations of it, and random bytes. The long
//! coverage-guided runs are `fuzz/run` (see `fuzz/README.md`).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "test code: a failure here is a failed test"
)]

#[path = "../fuzz/src/harness.rs"]
mod harness;

/// Mutated inputs per target, and purely random ones.
const MUTATIONS: usize = 600;
const RANDOM: usize = 200;

/// xorshift64*: reproducible inputs with no dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
    fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next() as u8).collect()
    }
}

/// One of the mutations libFuzzer's default mutator also makes.
fn mutate(seed: &[u8], other: &[u8], rng: &mut Rng) -> Vec<u8> {
    let mut out = seed.to_vec();
    for _ in 0..1 + rng.below(4) {
        let at = rng.below(out.len() + 1);
        match rng.below(6) {
            0 if !out.is_empty() => {
                let i = at.min(out.len() - 1);
                out[i] ^= 1 << rng.below(8);
            }
            1 => out.insert(at, rng.next() as u8),
            2 if at < out.len() => {
                out.remove(at);
            }
            3 => out.truncate(at),
            4 => {
                let from = rng.below(other.len() + 1);
                let len = rng.below(other.len() - from + 1).min(64);
                out.splice(at..at, other[from..from + len].iter().copied());
            }
            _ => {
                let interesting: [&[u8]; 6] = [b"\"", b".", b"]", b"\x00", b"\xff\xff", b"="];
                let piece = interesting[rng.below(interesting.len())];
                out.splice(at..at, piece.iter().copied());
            }
        }
    }
    out
}

#[test]
fn every_fuzz_target_survives_its_corpus_mutations_and_random_bytes() {
    let mut rng = Rng(0x7017_6ba4_2025_0001);
    for (name, target) in harness::TARGETS {
        let seeds = harness::seeds(name);
        assert!(!seeds.is_empty(), "{name}: no seeds");
        for seed in &seeds {
            target(seed);
        }
        for _ in 0..MUTATIONS {
            let seed = &seeds[rng.below(seeds.len())];
            let other = &seeds[rng.below(seeds.len())];
            target(&mutate(seed, other, &mut rng));
        }
        for _ in 0..RANDOM {
            let len = rng.below(512);
            target(&rng.bytes(len));
        }
        target(&[]);
    }
    harness::remove_scratch();
}

/// The fuzzers' binaries and the harness agree: one binary per target, each calling its body.
#[test]
fn every_target_has_its_fuzzer_binary() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz");
    let manifest = std::fs::read_to_string(root.join("Cargo.toml")).unwrap();
    let script = std::fs::read_to_string(root.join("run")).unwrap();
    for (name, _) in harness::TARGETS {
        let source = root.join(format!("fuzz_targets/{name}.rs"));
        let text = std::fs::read_to_string(&source)
            .unwrap_or_else(|e| panic!("{}: {e}", source.display()));
        assert!(text.contains("tongban_fuzz::harness::"), "{name}");
        assert!(manifest.contains(&format!("name = \"{name}\"")), "{name}");
        assert!(script.contains(name), "fuzz/run does not list {name}");
    }
}
