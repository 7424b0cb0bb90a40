//! The fuzzers' corpora (fuzz/corpus/<target>/, kept in git and minimized after each 10-minute
//! run of `bash fuzz/run.sh`) replayed through the same entry points on every `cargo test`: CI
//! cannot run libFuzzer, but every input a fuzzer found interesting stays a regression test.

use cargo_xtest::fuzzing;

fn replay(target: &str, entry: fn(&[u8])) -> usize {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/corpus")
        .join(target);
    let mut n = 0;
    for file in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = file.unwrap().path();
        entry(&std::fs::read(&path).unwrap());
        n += 1;
    }
    n
}

#[test]
fn every_corpus_input_is_handled_without_a_panic() {
    for (target, entry) in [
        ("libtest", fuzzing::libtest as fn(&[u8])),
        ("cargo_output", fuzzing::cargo_output),
        ("policy", fuzzing::policy),
        ("cargo_config", fuzzing::cargo_config),
        ("report", fuzzing::report),
        ("manifest", fuzzing::manifest),
    ] {
        assert!(replay(target, entry) > 0, "{target}: empty corpus");
    }
}
