//! Fuzz target: `cargo_xtest::fuzzing::policy` on arbitrary bytes.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| cargo_xtest::fuzzing::policy(data));
