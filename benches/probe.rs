//! The CPU probe of `benches/compare`: one raw ring ES256 (ECDSA P-256 SHA-256) verification,
//! timed. The harness runs it beside every measured run, because this machine's speed drifts by
//! 1.5× within an hour: a figure is only compared with figures taken at the same speed.
//!
//! `cargo bench --bench probe [-- --ms N]` prints one JSON line: the median time of one
//! verification over batches run for about N ms (default 300), and the fastest and slowest batch.

use std::time::{Duration, Instant};

use ring::rand::SystemRandom;
use ring::signature::{
    EcdsaKeyPair, KeyPair, UnparsedPublicKey, ECDSA_P256_SHA256_FIXED,
    ECDSA_P256_SHA256_FIXED_SIGNING,
};

/// Verifications per timed batch.
const BATCH: u32 = 20;

fn main() {
    let mut ms = 300u64;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        if arg == "--ms" {
            ms = args
                .next()
                .and_then(|v| v.parse().ok())
                .unwrap_or_else(|| usage());
        } else if let Some(value) = arg.strip_prefix("--ms=") {
            ms = value.parse().unwrap_or_else(|_| usage());
        }
        // anything else (cargo's `--bench`, test filters) is ignored
    }
    let rng = SystemRandom::new();
    let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng)
        .unwrap_or_else(|_| fail("cannot make a key"));
    let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref(), &rng)
        .unwrap_or_else(|_| fail("cannot read the key"));
    let input = b"eyJhbGciOiJFUzI1NiJ9.eyJsaWQiOiJwcm9iZSJ9";
    let signature = pair
        .sign(&rng, input)
        .unwrap_or_else(|_| fail("cannot sign"));
    let key = UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, pair.public_key().as_ref());
    let until = Instant::now() + Duration::from_millis(ms);
    let mut batches = Vec::new();
    while batches.is_empty() || Instant::now() < until {
        let start = Instant::now();
        for _ in 0..BATCH {
            if key.verify(input, signature.as_ref()).is_err() {
                fail("the signature does not verify");
            }
        }
        batches.push(start.elapsed().as_secs_f64() * 1e6 / f64::from(BATCH));
    }
    batches.sort_by(f64::total_cmp);
    let median = batches[batches.len() / 2];
    println!(
        "{{\"es256_verify_us\":{median:.2},\"fastest_us\":{:.2},\"slowest_us\":{:.2},\"batches\":{}}}",
        batches[0],
        batches[batches.len() - 1],
        batches.len()
    );
}

fn usage() -> ! {
    fail("usage: probe [--ms MILLISECONDS]")
}

fn fail(why: &str) -> ! {
    eprintln!("probe: {why}");
    std::process::exit(2)
}
