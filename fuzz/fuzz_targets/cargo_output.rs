//! Fuzz target: `cargo_xtest::fuzzing::cargo_output` on arbitrary bytes.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| cargo_xtest::fuzzing::cargo_output(data));
