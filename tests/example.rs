//! The shipped example workspace on the host plus aarch64, s390x and riscv64gc, with real cross
//! linkers and QEMU: every target at its true level, every failure on the right crate and stage.

mod common;

use std::sync::OnceLock;

use common::*;

/// One real run of `cargo xtest --no-fail-fast` on a copy of `example/`, shared by the tests.
fn run() -> Option<&'static Run> {
    static RUN: OnceLock<Option<(Fixture, Run)>> = OnceLock::new();
    RUN.get_or_init(|| {
        if !toolchains_present(&[AARCH64, S390X, RISCV64]) {
            return None;
        }
        let fx = Fixture::new("example");
        // No --target: the default set is the host plus the three cross targets.
        let run = fx.verify(&["--no-fail-fast"]);
        Some((fx, run))
    })
    .as_ref()
    .map(|(_, r)| r)
}

#[test]
fn every_target_reaches_test_and_the_run_fails_for_the_planted_bugs() {
    let Some(r) = run() else { return };
    assert_eq!(r.code(), 1, "stderr:\n{}", r.stderr());
    let report = r.report();
    assert_eq!(report["schema"], "cargo-xtest/report-v1");
    assert_eq!(report["host"], HOST);
    let triples: Vec<&str> = report["targets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["triple"].as_str().unwrap())
        .collect();
    assert_eq!(triples, [HOST, AARCH64, S390X, RISCV64]);
    for t in [HOST, AARCH64, S390X, RISCV64] {
        assert_eq!(r.target(t)["level"], "test", "{t}");
        assert_eq!(
            r.target(t)["downgrades"].as_array().unwrap().len(),
            0,
            "{t}"
        );
    }
    assert_eq!(r.target(HOST)["runner"], "native");
    assert!(
        r.target(S390X)["runner"]
            .as_str()
            .unwrap()
            .starts_with("qemu-s390x -L /usr/s390x-linux-gnu")
    );
    assert_eq!(r.target(S390X)["endian"], "big");
    // The terminal matrix names every package and shows the s390x failure.
    let stdout = r.stdout();
    assert!(stdout.contains("PACKAGE"), "{stdout}");
    assert!(stdout.contains("FAIL test 4/5"), "{stdout}");
}

#[test]
fn big_endian_bug_fails_only_on_s390x_at_test() {
    let Some(r) = run() else { return };
    for t in [HOST, AARCH64, RISCV64] {
        assert_eq!(r.package(t, "endian-codec")["outcome"], "passed", "{t}");
        assert_eq!(
            r.test(t, "endian-codec", "tests::header_is_little_endian")["outcome"],
            "passed",
            "{t}"
        );
    }
    let p = r.package(S390X, "endian-codec");
    assert_eq!(p["outcome"], "failed");
    assert_eq!(p["failed_stage"], "test");
    let t = r.test(S390X, "endian-codec", "tests::header_is_little_endian");
    assert_eq!(t["outcome"], "failed");
    assert!(
        t["output"].as_str().unwrap().contains("left: [0, 0, 0, 1]"),
        "{t}"
    );
    assert_eq!(t["cause"], "arch-assumption");
    assert!(
        t["evidence"]
            .as_str()
            .unwrap()
            .contains("panicked at endian-codec/src/lib.rs:51:9"),
        "{t}"
    );
    assert!(t["fix"].as_str().unwrap().contains("big-endian"), "{t}");
    // The differential view lists it: passes on the host, fails on s390x.
    let stdout = r.stdout();
    let row = stdout
        .lines()
        .find(|l| l.starts_with("endian-codec lib tests::header_is_little_endian"))
        .unwrap_or_else(|| panic!("no differential row\n{stdout}"));
    assert_eq!(
        row.split_whitespace().skip(3).collect::<Vec<_>>(),
        ["passed", "passed", "FAILED", "passed"]
    );
    // The rest of the crate still ran and passed there, doctests included.
    assert_eq!(
        r.test(S390X, "endian-codec", "tests::round_trip")["outcome"],
        "passed"
    );
    let docs: Vec<_> = r
        .tests(S390X, "endian-codec")
        .into_iter()
        .filter(|(n, _)| n.starts_with("doc:"))
        .collect();
    assert_eq!(docs.len(), 2, "{docs:?}");
    assert!(docs.iter().all(|(_, o)| o == "passed"));
}

#[test]
fn x86_only_test_code_fails_build_tests_on_every_foreign_target() {
    let Some(r) = run() else { return };
    assert_eq!(r.package(HOST, "simd-sum")["outcome"], "passed");
    assert_eq!(
        r.test(HOST, "simd-sum", "tests::matches_sse2")["outcome"],
        "passed"
    );
    for t in [AARCH64, S390X, RISCV64] {
        let p = r.package(t, "simd-sum");
        assert_eq!(p["outcome"], "failed", "{t}");
        assert_eq!(p["failed_stage"], "build-tests", "{t}");
        // The library itself built: only its tests do not compile.
        assert_eq!(p["level"], "build", "{t}");
        let e = &p["errors"][0];
        assert_eq!(e["stage"], "build-tests");
        assert!(
            e["message"]
                .as_str()
                .unwrap()
                .contains("core::arch::x86_64"),
            "{e}"
        );
        assert!(
            e["rendered"].as_str().unwrap().contains("error[E0432]"),
            "{e}"
        );
        assert_eq!(e["cause"], "arch-specific-test-code", "{e}");
        assert!(
            e["fix"]
                .as_str()
                .unwrap()
                .contains("simd-sum/src/lib.rs:11:21"),
            "{e}"
        );
        assert!(
            e["fix"]
                .as_str()
                .unwrap()
                .contains("#[cfg(target_arch = \"x86_64\")]"),
            "{e}"
        );
    }
}

#[test]
fn failing_dev_dependency_blocks_only_wire_tests_on_s390x() {
    let Some(r) = run() else { return };
    let p = r.package(S390X, "wire");
    assert_eq!(p["outcome"], "failed");
    assert_eq!(p["failed_stage"], "build-tests");
    assert_eq!(p["level"], "build");
    let msg = p["errors"][0]["message"].as_str().unwrap();
    assert!(
        msg.starts_with("in dev-dependency `bench-support v0.1.0`"),
        "{msg}"
    );
    assert!(msg.contains("does not support s390x"), "{msg}");
    assert_eq!(p["errors"][0]["cause"], "test-only-dependency");
    assert!(
        p["errors"][0]["fix"]
            .as_str()
            .unwrap()
            .contains("`bench-support`")
    );
    // Other crates on s390x were still verified, and wire passes everywhere else.
    for pkg in ["c-checksum", "plain-utils", "shapes"] {
        assert_eq!(r.package(S390X, pkg)["outcome"], "passed", "{pkg}");
        assert_eq!(r.package(S390X, pkg)["level"], "test", "{pkg}");
    }
    for t in [HOST, AARCH64, RISCV64] {
        assert_eq!(r.package(t, "wire")["outcome"], "passed", "{t}");
        assert_eq!(
            r.test(t, "wire", "tests::round_trips_samples")["outcome"],
            "passed",
            "{t}"
        );
    }
}

#[test]
fn c_code_from_a_build_script_is_cross_compiled_and_run_under_qemu() {
    let Some(r) = run() else { return };
    for t in [HOST, AARCH64, S390X, RISCV64] {
        assert_eq!(
            r.tests(t, "c-checksum"),
            [
                (
                    "doc:c-checksum/src/lib.rs - adler32 (line 10)".to_owned(),
                    "passed".to_owned()
                ),
                ("lib:tests::empty_is_one".to_owned(), "passed".to_owned()),
                ("lib:tests::known_vector".to_owned(), "passed".to_owned()),
            ],
            "{t}"
        );
    }
}

#[test]
fn proc_macro_is_host_side_and_its_user_is_tested_everywhere() {
    let Some(r) = run() else { return };
    assert_eq!(
        r.test(HOST, "xtest-macros", "tests::host_side_unit_test")["outcome"],
        "passed"
    );
    for t in [AARCH64, S390X, RISCV64] {
        let p = r.package(t, "xtest-macros");
        assert_eq!(p["outcome"], "passed", "{t}");
        assert_eq!(p["level"], "build", "{t}");
        assert!(
            p["reason"].as_str().unwrap().starts_with("proc-macro"),
            "{t}"
        );
        assert_eq!(
            r.test(t, "shapes", "tests::derive_names_the_type")["outcome"],
            "passed",
            "{t}"
        );
        let ignored = r.test(t, "shapes", "huge_grid");
        assert_eq!(ignored["outcome"], "ignored");
        assert_eq!(ignored["reason"], "slow under emulation");
    }
}
