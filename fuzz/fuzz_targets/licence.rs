//! Fuzzes the whole licence path on untrusted bytes: JWS splitting, header and payload JSON,
//! x5c certificate parsing, chain building and every claim check.
//!
//! `cargo +nightly fuzz run licence` (from the repository root; needs `cargo install cargo-fuzz`).
#![no_main]

use std::path::Path;
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use tongban::licence::Verifier;

fn verifier() -> &'static Verifier {
    static VERIFIER: OnceLock<Verifier> = OnceLock::new();
    VERIFIER.get_or_init(|| {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        Verifier::load(&root.join("certs/demo/trust"), Some(&root.join("policies")))
            .unwrap_or_else(|e| panic!("demo trust directory: {e}"))
    })
}

fuzz_target!(|data: &[u8]| {
    let verdict = verifier().verify(data, "420100", 1_750_000_000);
    assert_eq!(verdict.valid, verdict.errors.is_empty());
});
