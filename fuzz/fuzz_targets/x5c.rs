#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| tongban_fuzz::harness::x5c(data));
