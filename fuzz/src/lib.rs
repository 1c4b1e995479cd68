//! tongban's fuzz targets: the bodies in [`harness`] (shared with `tests/fuzz_smoke.rs`), one
//! libFuzzer binary per target in `fuzz_targets/`, and `seeds`, which writes the seed corpora.
pub mod harness;
