//! Interpreted lanes: cargo-miri builds a target's tests and Miri interprets them, in
//! cargo-xtest's parallel batches, beside the target's native verification, on targets nothing
//! on Linux runs (Windows MSVC, macOS, FreeBSD) as on the host. Real nightly Miri, real
//! cargo-miri, real zig, the real example.

mod common;

use common::*;

const MSVC: &str = "x86_64-pc-windows-msvc";
const MAC_ARM: &str = "aarch64-apple-darwin";
const FREEBSD: &str = "x86_64-unknown-freebsd";

/// The example's targets nothing here runs, as its policy verifies them (`miri = true` for
/// macOS, FreeBSD and Windows MSVC): each one's own ladder, where zig links every macOS and
/// FreeBSD test executable (and compiles the C of a build script) so they reach `build-tests`,
/// and beside it the interpreted lane, where Miri runs the tests. The Windows path assumption
/// fails under MSVC with the same cause as under Wine, the C library is `unsupported` (never
/// failed, never passed), the x86 intrinsics do not compile for Apple's aarch64, and the
/// portable code passes everywhere.
#[test]
fn zig_links_and_miri_interprets_the_targets_nothing_here_runs() {
    if !miri_present() || !toolchains_present(ZIG_LINKED) {
        return;
    }
    let fx = Fixture::new("example");
    let junit = fx.path().join("junit.xml");
    // `zig` is a group in the example's policy; no `--miri`: the policy asks for Miri.
    let r = fx.verify(&[
        "--junit",
        junit.to_str().unwrap(),
        "--no-fail-fast",
        "--target",
        "host",
        "--target",
        "zig",
        "--target",
        MSVC,
    ]);
    assert_eq!(r.code(), 1, "{}\n{}", r.stdout(), r.stderr());
    // The host is not interpreted: its policy does not ask for it.
    assert_eq!(r.target(HOST)["runner"], "native");
    assert_eq!(r.report()["targets"].as_array().unwrap().len(), 9);
    // Each native lane stays what its ladder reaches.
    assert_eq!(r.target(MSVC)["level"], "build");
    for t in ZIG_LINKED {
        let target = r.target(t);
        assert_eq!(target["level"], "build-tests", "{t}");
        assert!(target.get("interpreted_by").is_none(), "{t}");
        let last = target["downgrades"].as_array().unwrap().last().unwrap();
        assert_eq!(last["to"], "build-tests", "{t}");
        assert_eq!(last["cause"], "not-available-here", "{t}");
        assert!(
            target["linker"].as_str().unwrap().contains("zig-cc-"),
            "{t}: {target}"
        );
        // c-checksum's build script compiled its C for the target with zig too.
        for pkg in ["c-checksum", "endian-codec", "text-paths", "wire"] {
            let p = r.package(t, pkg);
            assert_eq!(p["outcome"], "passed", "{pkg} on {t}");
            assert_eq!(p["level"], "build-tests", "{pkg} on {t}");
            assert!(p["tests"].as_array().unwrap().is_empty(), "{pkg} on {t}");
            // Linked for the target: Mach-O for Apple, ELF branded FreeBSD.
            let exe = p["executables"]["lib"].as_str().unwrap();
            assert!(!exe.contains("/miri/"), "{exe}");
            let bytes = std::fs::read(exe).unwrap();
            if t.contains("apple") {
                assert_eq!(&bytes[..4], &[0xcf, 0xfa, 0xed, 0xfe], "{exe}");
            } else {
                assert_eq!(&bytes[..4], b"\x7fELF", "{exe}");
                // Branded by its ABI note (`FreeBSD` with the OS version), as FreeBSD's own
                // linker does it.
                assert!(
                    bytes.windows(8).any(|w| w == b"FreeBSD\0"),
                    "{exe}: no FreeBSD ABI note"
                );
            }
        }
    }
    // Beside each, its interpreted lane: Miri's `test`.
    for t in [MSVC, MAC_ARM, FREEBSD] {
        let lane = miri(t);
        let target = r.target(&lane);
        assert_eq!(target["level"], "test", "{t}");
        assert!(
            target["runner"].as_str().unwrap().contains("Miri"),
            "{t}: {target}"
        );
        assert_eq!(target["interpreted_by"], "miri", "{t}");
        for pkg in ["endian-codec", "file-offsets", "plain-utils", "wire"] {
            let p = r.package(&lane, pkg);
            assert_eq!(p["outcome"], "passed", "{pkg} on {lane}");
            assert!(
                !p["tests"].as_array().unwrap().is_empty(),
                "{pkg} on {lane}"
            );
        }
    }
    // Windows: `\` separators and `\r\n`, as under Wine.
    for name in [
        "tests::config_file_is_under_conf",
        "tests::text_ends_lines_with_newline",
    ] {
        let test = r.test(&miri(MSVC), "text-paths", name);
        assert_eq!(test["outcome"], "failed", "{test}");
        assert_eq!(test["cause"], "arch-assumption", "{test}");
        assert_eq!(r.test(HOST, "text-paths", name)["outcome"], "passed");
    }
    // C: Miri cannot call it. Unsupported, with Miri's line; the package does not fail.
    for t in [MAC_ARM, FREEBSD] {
        let p = r.package(&miri(t), "c-checksum");
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
    // x86 intrinsics: they fail aarch64's native build-tests, and Miri compiles the test crate
    // when it runs it, for aarch64.
    assert_eq!(r.package(MAC_ARM, "simd-sum")["outcome"], "failed");
    let simd = r.package(&miri(MAC_ARM), "simd-sum");
    assert_eq!(simd["outcome"], "failed");
    assert_eq!(simd["errors"][0]["cause"], "arch-specific-code", "{simd}");
    assert_eq!(r.package(&miri(FREEBSD), "simd-sum")["outcome"], "passed");
    // Interpreted lanes are named in every output: their columns, their JUnit suites; the
    // terminal says what Miri could not interpret.
    let xml = std::fs::read_to_string(&junit).unwrap();
    assert!(
        xml.contains(r#"<property name="interpreted-by" value="miri"/>"#),
        "{xml}"
    );
    assert!(
        xml.contains(&format!(r#"name="{} (miri)::text-paths""#, MSVC)),
        "{xml}"
    );
    for column in [
        "x86_64-pc-windows-msvc (miri)",
        "aarch64-apple-darwin (miri)",
    ] {
        assert!(r.stdout().contains(column), "{column}: {}", r.stdout());
    }
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
    // `--miri-only`: the use after free is not run natively, where it may pass or crash.
    let r = fx.verify(&[
        "--miri-only",
        "--no-fail-fast",
        "--target",
        "host",
        "--no-cache",
    ]);
    assert_eq!(r.code(), 1, "{}\n{}", r.stdout(), r.stderr());
    assert_eq!(r.report()["targets"].as_array().unwrap().len(), 1);
    let host = miri(HOST);
    let ub = r.test(&host, "loud", "tests::b_use_after_free");
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
        assert_eq!(r.test(&host, "loud", name)["outcome"], "passed", "{name}");
    }
}

/// The policy's `miri = true` (the example's, for MSVC) puts an interpreted lane beside a
/// target's native one in every run; `miri = false` keeps a target native only, even under
/// `--miri`; `--miri-only` drops the native lanes of the interpreted targets. The host builds
/// and runs natively (its C tests pass, its executables are cargo's own).
#[test]
fn the_policy_interprets_one_target_beside_native_ones() {
    if !miri_present() {
        return;
    }
    let fx = Fixture::new("example");
    let manifest = std::fs::read_to_string(fx.path().join("Cargo.toml")).unwrap();
    assert!(manifest.contains(&format!(
        "[workspace.metadata.xtest.target.{MSVC}]\nmiri = true\n"
    )));
    fx.write(
        "Cargo.toml",
        &(manifest + "\n[workspace.metadata.xtest.target.host]\nmiri = false\n"),
    );
    for extra in [&[][..], &["--miri"][..], &["--miri-only"][..]] {
        let mut args = vec!["--no-fail-fast", "--target", "host", "--target", MSVC];
        args.extend_from_slice(extra);
        let r = fx.verify(&args);
        assert_eq!(r.code(), 1, "{extra:?}: {}\n{}", r.stdout(), r.stderr());
        let lanes: Vec<String> = r.report()["targets"]
            .as_array()
            .unwrap()
            .iter()
            .map(lane_of)
            .collect();
        let want = if extra == ["--miri-only"] {
            vec![HOST.to_owned(), miri(MSVC)]
        } else {
            vec![HOST.to_owned(), MSVC.to_owned(), miri(MSVC)]
        };
        assert_eq!(lanes, want, "{extra:?}");
        let host = r.target(HOST);
        assert_eq!(host["runner"], "native", "{extra:?}");
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
        if extra != ["--miri-only"] {
            assert_eq!(r.target(MSVC)["level"], "build", "{extra:?}");
        }
        let msvc = r.target(&miri(MSVC));
        assert_eq!(msvc["level"], "test", "{extra:?}");
        assert!(msvc["runner"].as_str().unwrap().contains("Miri"), "{msvc}");
        let t = r.test(
            &miri(MSVC),
            "text-paths",
            "tests::config_file_is_under_conf",
        );
        assert_eq!(t["outcome"], "failed");
        assert_eq!(t["cause"], "arch-assumption");
        assert_eq!(
            r.test(HOST, "text-paths", "tests::config_file_is_under_conf")["outcome"],
            "passed"
        );
    }
}
