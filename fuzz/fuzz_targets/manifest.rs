//! Fuzz target: `cargo_xtest::fuzzing::manifest` on arbitrary bytes.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| cargo_xtest::fuzzing::manifest(data));
