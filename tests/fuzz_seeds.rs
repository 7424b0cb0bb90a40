//! The fuzz targets' curated seeds (`fuzz/seeds/<target>/`) and every crash regression
//! (`fuzz/regressions/<target>/`) replayed through the same entry points on every `cargo test`:
//! CI cannot run libFuzzer, but no input that ever crashed a parser can come back unnoticed.

use cargo_xtest::fuzzing;

fn replay(dir: &str, target: &str, entry: fn(&[u8])) -> usize {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz")
        .join(dir)
        .join(target);
    let Ok(files) = std::fs::read_dir(&dir) else {
        return 0;
    };
    let mut n = 0;
    for file in files {
        let path = file.unwrap().path();
        entry(&std::fs::read(&path).unwrap());
        n += 1;
    }
    n
}

#[test]
fn every_seed_and_regression_is_handled_without_a_panic() {
    for (target, entry) in [
        ("libtest", fuzzing::libtest as fn(&[u8])),
        ("cargo_output", fuzzing::cargo_output),
        ("policy", fuzzing::policy),
        ("cargo_config", fuzzing::cargo_config),
        ("report", fuzzing::report),
        ("manifest", fuzzing::manifest),
    ] {
        assert!(
            replay("seeds", target, entry) >= 2,
            "{target}: too few seeds"
        );
        replay("regressions", target, entry);
    }
}
