//! `--miri`: cargo-miri builds each target's tests and Miri interprets them, in cargo-xtest's
//! parallel batches, on targets nothing on Linux runs (Windows MSVC, macOS, FreeBSD) as on the
//! host. Real nightly Miri, real cargo-miri, the real example.

mod common;

use common::*;

const MSVC: &str = "x86_64-pc-windows-msvc";
const MAC_ARM: &str = "aarch64-apple-darwin";
const FREEBSD: &str = "x86_64-unknown-freebsd";

/// The example's planted failures, found by interpretation where nothing here runs the target:
/// the Windows path assumption fails under MSVC with the same cause as under Wine, the C
/// library is `unsupported` (never failed, never passed), the x86 intrinsics do not compile for
/// Apple's aarch64, and the portable code passes everywhere.
#[test]
fn miri_interprets_the_tests_of_targets_nothing_here_runs() {
    // The example's C compiles for macOS and FreeBSD with zig.
    if !miri_present() || !toolchains_present(ZIG_LINKED) {
        return;
    }
    let fx = Fixture::new("example");
    let junit = fx.path().join("junit.xml");
    let r = fx.verify(&[
        "--junit",
        junit.to_str().unwrap(),
        "--miri",
        "--no-fail-fast",
        "--target",
        "host",
        "--target",
        MSVC,
        "--target",
        MAC_ARM,
        "--target",
        FREEBSD,
    ]);
    assert_eq!(r.code(), 1, "{}\n{}", r.stdout(), r.stderr());
    for t in [HOST, MSVC, MAC_ARM, FREEBSD] {
        let target = r.target(t);
        assert_eq!(target["level"], "test", "{t}");
        assert!(
            target["runner"].as_str().unwrap().contains("Miri"),
            "{t}: {target}"
        );
        assert_eq!(target["interpreted_by"], "miri", "{t}");
        for pkg in ["endian-codec", "file-offsets", "plain-utils", "wire"] {
            let p = r.package(t, pkg);
            assert_eq!(p["outcome"], "passed", "{pkg} on {t}");
            assert!(!p["tests"].as_array().unwrap().is_empty(), "{pkg} on {t}");
        }
    }
    // Windows: `\` separators and `\r\n`, as under Wine.
    for name in [
        "tests::config_file_is_under_conf",
        "tests::text_ends_lines_with_newline",
    ] {
        let test = r.test(MSVC, "text-paths", name);
        assert_eq!(test["outcome"], "failed", "{test}");
        assert_eq!(test["cause"], "arch-assumption", "{test}");
        assert_eq!(r.test(HOST, "text-paths", name)["outcome"], "passed");
    }
    // C: Miri cannot call it. Unsupported, with Miri's line; the package does not fail.
    for t in [HOST, MAC_ARM, FREEBSD] {
        let p = r.package(t, "c-checksum");
        assert_eq!(p["outcome"], "passed", "{t}: {p}");
        let tests = p["tests"].as_array().unwrap();
        assert!(tests.len() >= 2, "{t}: {p}");
        for x in tests {
            assert_eq!(x["outcome"], "unsupported", "{t}: {x}");
            assert!(
                x["reason"]
                    .as_str()
                    .unwrap()
                    .contains("can't call foreign function"),
                "{t}: {x}"
            );
        }
    }
    // x86 intrinsics: Miri compiles the test crate when it runs it, for aarch64.
    let simd = r.package(MAC_ARM, "simd-sum");
    assert_eq!(simd["outcome"], "failed");
    assert_eq!(simd["errors"][0]["cause"], "arch-specific-code", "{simd}");
    assert_eq!(r.package(FREEBSD, "simd-sum")["outcome"], "passed");
    // Every column is marked interpreted, every JUnit suite too; the terminal says what Miri
    // could not interpret.
    let xml = std::fs::read_to_string(&junit).unwrap();
    assert!(
        xml.contains(r#"<property name="interpreted-by" value="miri"/>"#),
        "{xml}"
    );
    assert!(
        r.stdout().contains("x86_64-pc-windows-msvc (miri)"),
        "{}",
        r.stdout()
    );
    assert!(r.stdout().contains("3 unsupported"), "{}", r.stdout());
    assert!(
        r.stdout().contains("Miri cannot interpret"),
        "{}",
        r.stdout()
    );
}

/// Undefined behaviour is its own cause, with Miri's report; the rest of the binary's tests
/// still run and pass.
#[test]
fn undefined_behaviour_is_named_and_the_other_tests_still_run() {
    if !miri_present() {
        return;
    }
    let fx = Fixture::new("loud");
    fx.write(
        "src/lib.rs",
        r#"
pub fn first(v: &[u8]) -> u8 {
    v[0]
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_before() {
        assert_eq!(super::first(&[7]), 7);
    }

    #[test]
    fn b_use_after_free() {
        let v = vec![1u8];
        let p = v.as_ptr();
        drop(v);
        assert_eq!(unsafe { *p }, 1);
    }

    #[test]
    fn c_after() {
        assert_eq!(super::first(&[9, 1]), 9);
    }
}
"#,
    );
    let r = fx.verify(&["--miri", "--no-fail-fast", "--target", "host", "--no-cache"]);
    assert_eq!(r.code(), 1, "{}\n{}", r.stdout(), r.stderr());
    let ub = r.test(HOST, "loud", "tests::b_use_after_free");
    assert_eq!(ub["outcome"], "failed", "{ub}");
    assert_eq!(ub["cause"], "undefined-behavior", "{ub}");
    assert!(
        ub["evidence"]
            .as_str()
            .unwrap()
            .contains("Undefined Behavior"),
        "{ub}"
    );
    for name in ["tests::a_before", "tests::c_after"] {
        assert_eq!(r.test(HOST, "loud", name)["outcome"], "passed", "{name}");
    }
}

/// The policy's `miri = true` interprets one target in an ordinary run: the host builds and runs
/// natively (its C tests pass, its executables are cargo's own), MSVC is interpreted beside it;
/// `miri = false` keeps a target native even under `--miri`.
#[test]
fn the_policy_interprets_one_target_beside_native_ones() {
    if !miri_present() {
        return;
    }
    let fx = Fixture::new("example");
    let manifest = std::fs::read_to_string(fx.path().join("Cargo.toml")).unwrap();
    let table = format!("[workspace.metadata.xtest.target.{MSVC}]\n");
    assert!(manifest.contains(&table));
    fx.write(
        "Cargo.toml",
        &(manifest.replace(&table, &format!("{table}miri = true\n"))
            + "\n[workspace.metadata.xtest.target.host]\nmiri = false\n"),
    );
    for extra in [&[][..], &["--miri"][..]] {
        let mut args = vec!["--no-fail-fast", "--target", "host", "--target", MSVC];
        args.extend_from_slice(extra);
        let r = fx.verify(&args);
        assert_eq!(r.code(), 1, "{extra:?}: {}\n{}", r.stdout(), r.stderr());
        let host = r.target(HOST);
        assert_eq!(host["runner"], "native", "{extra:?}");
        assert!(host.get("interpreted_by").is_none(), "{extra:?}");
        let c = r.package(HOST, "c-checksum");
        assert_eq!(c["outcome"], "passed", "{extra:?}: {c}");
        assert!(
            c["tests"]
                .as_array()
                .unwrap()
                .iter()
                .all(|x| x["outcome"] == "passed"),
            "{extra:?}: {c}"
        );
        let exe = r.package(HOST, "endian-codec")["executables"]["lib"]
            .as_str()
            .unwrap()
            .to_owned();
        assert!(!exe.contains("/miri/"), "{exe}");
        let msvc = r.target(MSVC);
        assert_eq!(msvc["level"], "test", "{extra:?}");
        assert!(msvc["runner"].as_str().unwrap().contains("Miri"), "{msvc}");
        let t = r.test(MSVC, "text-paths", "tests::config_file_is_under_conf");
        assert_eq!(t["outcome"], "failed");
        assert_eq!(t["cause"], "arch-assumption");
        assert_eq!(
            r.test(HOST, "text-paths", "tests::config_file_is_under_conf")["outcome"],
            "passed"
        );
    }
}
