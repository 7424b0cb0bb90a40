//! Every target a Linux host can honestly test, on the example with the real toolchains and
//! runners: 32-bit and big-endian Linux under QEMU, static musl, Windows under Wine, and the
//! targets no Linux distro can link, which reach `check` and say what would lift them.

mod common;

use common::*;

fn failed_tests(r: &Run, triple: &str, package: &str) -> Vec<String> {
    r.tests(triple, package)
        .into_iter()
        .filter(|(_, o)| o != "passed" && o != "ignored")
        .map(|(n, _)| n)
        .collect()
}

#[test]
fn thirty_two_bit_and_big_endian_targets_reach_test_with_the_planted_failures_attributed() {
    let targets = [I686, ARMV7, POWERPC, POWERPC64, POWERPC64LE];
    if !toolchains_present(&targets) {
        return;
    }
    let fx = Fixture::new("example");
    let mut args = vec!["--no-fail-fast", "--no-doctests", "--target", "host"];
    for t in targets {
        args.extend(["--target", t]);
    }
    let r = fx.verify(&args);
    assert_eq!(r.code(), 1, "{}", r.stderr());
    for t in targets {
        assert_eq!(r.target(t)["level"], "test", "{t}");
        assert!(
            r.target(t)["runner"].as_str().unwrap().starts_with("qemu-"),
            "{t}"
        );
        // The cross gcc drives rustc's rust-lld where the probes prove it links and runs; on
        // powerpc64 (ELFv1) they refute it and its gcc links with GNU ld.
        let gcc = r.target(t)["runner"]
            .as_str()
            .unwrap()
            .rsplit('/')
            .next()
            .unwrap();
        let linker = if t == POWERPC64 {
            format!("{gcc}-gcc (auto-detected)")
        } else {
            format!("{gcc}-gcc with rust-lld (auto-detected)")
        };
        assert_eq!(r.target(t)["linker"], linker.as_str(), "{t}");
        // Portable crates pass everywhere, C built by the cross gcc included.
        for pkg in ["c-checksum", "plain-utils", "shapes", "wire", "text-paths"] {
            assert_eq!(r.package(t, pkg)["outcome"], "passed", "{pkg} on {t}");
        }
    }
    // The 32-bit assumption: fails on i686, armv7 and powerpc only, diagnosed by pointer width.
    let offset = "lib:tests::offset_beyond_4_gib_survives_the_index";
    for t in [I686, ARMV7, POWERPC] {
        assert_eq!(failed_tests(&r, t, "file-offsets"), [offset], "{t}");
        let test = r.test(
            t,
            "file-offsets",
            "tests::offset_beyond_4_gib_survives_the_index",
        );
        assert_eq!(test["cause"], "arch-assumption", "{t}");
        let fix = test["fix"].as_str().unwrap();
        assert!(
            fix.contains("pointer width (32-bit, host 64-bit") && fix.contains("`as usize`"),
            "{t}: {fix}"
        );
    }
    for t in [HOST, POWERPC64, POWERPC64LE] {
        assert_eq!(r.package(t, "file-offsets")["outcome"], "passed", "{t}");
    }
    // The little-endian assumption: fails on the big-endian ones (32- and 64-bit), and the fix
    // names byte order, not pointer width, on powerpc64.
    for t in [POWERPC, POWERPC64] {
        assert_eq!(
            failed_tests(&r, t, "endian-codec"),
            ["lib:tests::header_is_little_endian"],
            "{t}"
        );
    }
    let fix = r.test(POWERPC64, "endian-codec", "tests::header_is_little_endian")["fix"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(fix.contains("byte order (big-endian"), "{fix}");
    assert!(!fix.contains("pointer width"), "{fix}");
    for t in [I686, ARMV7, POWERPC64LE] {
        assert_eq!(r.package(t, "endian-codec")["outcome"], "passed", "{t}");
    }
    // x86-only test code: i686 is x86 but not x86_64.
    for t in targets {
        assert_eq!(
            r.package(t, "simd-sum")["failed_stage"],
            "build-tests",
            "{t}"
        );
    }
}

#[test]
fn musl_targets_run_statically_natively_and_under_qemu_without_a_sysroot() {
    if !toolchains_present(&[MUSL, AARCH64_MUSL]) {
        return;
    }
    let fx = Fixture::new("example");
    let r = fx.verify(&[
        "--no-fail-fast",
        "--no-doctests",
        "--target",
        MUSL,
        "--target",
        AARCH64_MUSL,
    ]);
    assert_eq!(r.code(), 1, "{}", r.stderr());
    assert_eq!(r.target(MUSL)["level"], "test");
    assert_eq!(r.target(MUSL)["runner"], "native");
    assert_eq!(r.target(AARCH64_MUSL)["level"], "test");
    // Static executables: QEMU needs no -L sysroot.
    assert_eq!(r.target(AARCH64_MUSL)["runner"], "qemu-aarch64");
    for t in [MUSL, AARCH64_MUSL] {
        for pkg in [
            "c-checksum",
            "endian-codec",
            "file-offsets",
            "text-paths",
            "wire",
        ] {
            assert_eq!(r.package(t, pkg)["outcome"], "passed", "{pkg} on {t}");
        }
    }
    assert_eq!(r.package(MUSL, "simd-sum")["outcome"], "passed");
    assert_eq!(
        r.package(AARCH64_MUSL, "simd-sum")["failed_stage"],
        "build-tests"
    );
    // The executables really are static musl ones.
    let exe = r.package(MUSL, "c-checksum")["executables"]["lib"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(!has_interpreter(&std::fs::read(&exe).unwrap()), "{exe}");
    // The same check on a dynamically linked executable (this test's own) finds its loader.
    assert!(has_interpreter(
        &std::fs::read(std::env::current_exe().unwrap()).unwrap()
    ));
}

/// Whether a 64-bit little-endian ELF file names a dynamic loader (a `PT_INTERP` header).
fn has_interpreter(elf: &[u8]) -> bool {
    assert_eq!(&elf[..4], b"\x7fELF");
    let u16_at = |o: usize| u16::from_le_bytes([elf[o], elf[o + 1]]) as usize;
    let phoff = u64::from_le_bytes(elf[0x20..0x28].try_into().unwrap()) as usize;
    let (size, count) = (u16_at(0x36), u16_at(0x38));
    (0..count).any(|i| {
        let at = phoff + i * size;
        u32::from_le_bytes(elf[at..at + 4].try_into().unwrap()) == 3
    })
}

#[test]
fn windows_gnu_runs_under_wine_in_its_own_prefix_and_only_there_the_path_assumption_fails() {
    if !toolchains_present(&[WINDOWS_GNU]) {
        return;
    }
    let fx = Fixture::new("example");
    let r = fx.verify(&[
        "--no-fail-fast",
        "--target",
        "host",
        "--target",
        WINDOWS_GNU,
    ]);
    assert_eq!(r.code(), 1, "{}", r.stderr());
    let t = r.target(WINDOWS_GNU);
    assert_eq!(t["level"], "test");
    assert_eq!(t["runner"], "wine");
    // Wine's prefix is cargo-xtest's own, under the target directory, with the ProcessPrng DLL
    // Rust's std needs (built there when this Wine lacks it).
    let prefix = fx.path().join("target/xtest/wine").join(WINDOWS_GNU);
    assert!(prefix.join("system.reg").is_file());
    assert!(
        prefix
            .join("drive_c/windows/system32/bcryptprimitives.dll")
            .is_file()
    );
    // Everything else runs and passes under Wine: C from mingw-w64, the x86_64 intrinsics,
    // the doctests through cargo's runner.
    for pkg in [
        "c-checksum",
        "endian-codec",
        "file-offsets",
        "simd-sum",
        "plain-utils",
    ] {
        assert_eq!(r.package(WINDOWS_GNU, pkg)["outcome"], "passed", "{pkg}");
    }
    assert!(
        r.tests(WINDOWS_GNU, "plain-utils")
            .iter()
            .any(|(n, o)| n.starts_with("doc:") && o == "passed"),
        "{:?}",
        r.tests(WINDOWS_GNU, "plain-utils")
    );
    // The path and line-ending assumptions fail only on Windows, diagnosed by the OS.
    assert_eq!(r.package(HOST, "text-paths")["outcome"], "passed");
    assert_eq!(
        failed_tests(&r, WINDOWS_GNU, "text-paths"),
        [
            "lib:tests::config_file_is_under_conf",
            "lib:tests::text_ends_lines_with_newline"
        ]
    );
    let test = r.test(
        WINDOWS_GNU,
        "text-paths",
        "tests::config_file_is_under_conf",
    );
    assert_eq!(test["cause"], "arch-assumption");
    let fix = test["fix"].as_str().unwrap();
    assert!(fix.contains("path separators"), "{fix}");
    assert!(
        test["output"]
            .as_str()
            .unwrap()
            .contains(r"base\\conf\\app.toml")
    );
    // A prefix that lost the DLL (or was deleted) is set up again by the next run's probe.
    let dll = prefix.join("drive_c/windows/system32/bcryptprimitives.dll");
    std::fs::remove_file(&dll).unwrap();
    let again = fx.verify(&["--target", WINDOWS_GNU, "-p", "plain-utils", "--no-cache"]);
    assert_eq!(again.code(), 0, "{}{}", again.stderr(), again.failures());
    assert!(dll.is_file());
    assert_eq!(
        again.package(WINDOWS_GNU, "plain-utils")["outcome"],
        "passed"
    );
    // `run --archive` runs no probes, yet prepares its own prefix the same way (here in a
    // fresh cache directory): the archived tests start under Wine and pass.
    let work = tempfile::tempdir().unwrap();
    let archive = work.path().join("windows.tar.gz");
    let output = format!("--output={}", archive.display());
    let out = fx
        .xtest(&[
            "archive",
            "--target",
            WINDOWS_GNU,
            "-p",
            "plain-utils",
            &output,
        ])
        .output()
        .unwrap();
    assert_exit(&out, 0);
    let out = xtest()
        .args(["run", "--archive"])
        .arg(&archive)
        .current_dir(work.path())
        .env("XDG_CACHE_HOME", work.path().join("cache"))
        .output()
        .unwrap();
    assert_exit(&out, 0);
    assert!(
        work.path()
            .join("cache/cargo-xtest/wine")
            .join(WINDOWS_GNU)
            .join("drive_c/windows/system32/bcryptprimitives.dll")
            .is_file()
    );
}

#[test]
fn targets_no_linux_distro_can_link_build_libraries_and_say_what_would_lift_them() {
    if !toolchains_present(SDK_ONLY) {
        return;
    }
    let fx = Fixture::new("example");
    // `sdk-only` is a group in the example's policy.
    let r = fx.verify(&["--no-fail-fast", "--target", "host", "--target", "sdk-only"]);
    // A downgrade alone is not a failure: the host passes, the rest is verified below `test`.
    // The one failure is MSVC's interpreted lane (the example's policy asks for it): its
    // Windows path assumption (`miri.rs`).
    assert_eq!(r.code(), 1, "{}\n{}", r.stdout(), r.stderr());
    let failed: Vec<String> = r.report()["targets"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|t| {
            let lane = lane_of(t);
            t["packages"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|p| p["outcome"] == "failed")
                .map(move |p| format!("{} on {lane}", p["name"].as_str().unwrap()))
        })
        .collect();
    assert_eq!(failed, [format!("text-paths on {}", miri(SDK_ONLY[1]))]);
    for t in SDK_ONLY {
        let target = r.target(t);
        // Every selected package is a library that links nothing for the target (rlibs; the
        // proc-macro links for the host): `cargo build` needs no linker, so they reach `build`.
        assert_eq!(target["level"], "build", "{t}");
        let steps = target["downgrades"].as_array().unwrap();
        let last = steps.last().unwrap();
        assert_eq!(last["to"], "build", "{t}");
        assert_eq!(last["cause"], "not-available-here", "{t}");
        let fix = last["fix"].as_str().unwrap();
        assert!(
            fix.contains("Android NDK") || fix.contains("Windows machine"),
            "{t}: {fix}"
        );
        for pkg in [
            "endian-codec",
            "file-offsets",
            "simd-sum",
            "text-paths",
            "wire",
        ] {
            let p = r.package(t, pkg);
            assert_eq!(p["outcome"], "passed", "{pkg} on {t}");
            assert_eq!(p["level"], "build", "{pkg} on {t}");
        }
        // Really built: the rlib is there (`check` writes only metadata).
        assert!(
            fx.path()
                .join("target")
                .join(t)
                .join("debug/libendian_codec.rlib")
                .is_file(),
            "{t}"
        );
    }
    // A workspace with a binary cannot build without a linker: it stays at `check`.
    let fid = Fixture::new("fidelity");
    let out = fid
        .xtest(&["plan", "--target", SDK_ONLY[1], "--format", "json"])
        .output()
        .unwrap();
    let plan: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(plan["targets"][0]["level"], "check", "{plan}");
}

/// macOS and FreeBSD without cargo-zigbuild: `check`, and the install command from PyPI (what
/// zig links once it is there is in `miri.rs`, with the interpreted lanes beside).
#[test]
fn without_zig_macos_stays_at_check_with_the_install_command() {
    if !toolchains_present(ZIG_LINKED) {
        return;
    }
    let fx = Fixture::new("example");
    // Without cargo-zigbuild on PATH: `check`, and the install command from PyPI.
    let path: Vec<_> = std::env::split_paths(&std::env::var_os("PATH").unwrap())
        .filter(|d| !d.join("cargo-zigbuild").exists())
        .collect();
    let out = fx
        .xtest(&["plan", "--target", ZIG_LINKED[0], "--format", "json"])
        .env("PATH", std::env::join_paths(path).unwrap())
        .output()
        .unwrap();
    let plan: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let target = &plan["targets"][0];
    assert_eq!(target["level"], "check", "{plan}");
    let fixes: Vec<&str> = target["downgrades"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|d| d["fix"].as_str())
        .collect();
    assert!(
        fixes
            .iter()
            .any(|f| f.contains("pip install ziglang cargo-zigbuild")),
        "{fixes:?}"
    );
}

#[test]
fn target_all_selects_what_this_host_proves_reaches_test() {
    let testable = [
        AARCH64,
        S390X,
        RISCV64,
        I686,
        ARMV7,
        POWERPC,
        POWERPC64,
        POWERPC64LE,
        MUSL,
        AARCH64_MUSL,
        WINDOWS_GNU,
        WASIP1,
        WASIP2,
    ];
    if !toolchains_present(&testable) {
        return;
    }
    let fx = Fixture::new("example");
    let out = fx
        .xtest(&["plan", "--target", "all", "--format", "json"])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let plan: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let planned: Vec<(&str, &str)> = plan["targets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| (t["triple"].as_str().unwrap(), t["level"].as_str().unwrap()))
        .collect();
    assert_eq!(planned[0], (HOST, "test"));
    for t in testable {
        assert!(planned.contains(&(t, "test")), "{t} in {planned:?}");
    }
    // Only what reaches `test`: no std (loongarch64), nothing to link with (Apple, …).
    assert!(
        planned.iter().all(|(_, level)| *level == "test"),
        "{planned:?}"
    );
    for t in SDK_ONLY.iter().chain(&["loongarch64-unknown-linux-gnu"]) {
        assert!(!planned.iter().any(|(p, _)| p == t), "{t} in {planned:?}");
    }
}

#[test]
fn wasi_runs_under_wasmtime_and_a_test_that_aborts_its_binary_does_not_hide_the_rest() {
    if !toolchains_present(&[WASIP1, WASIP2]) {
        return;
    }
    let fx = Fixture::new("example");
    // `wasi` is a group in the example's policy.
    let r = fx.verify(&["--no-fail-fast", "--target", "host", "--target", "wasi"]);
    assert_eq!(r.code(), 1, "{}", r.stderr());
    for t in [WASIP1, WASIP2] {
        let target = r.target(t);
        assert_eq!(target["level"], "test", "{t}");
        assert_eq!(
            target["runner"], "wasmtime run --dir=. -S inherit-env",
            "{t}"
        );
        // Doctests run through cargo's runner setting; relative and absolute paths work.
        for pkg in [
            "endian-codec",
            "plain-utils",
            "shapes",
            "text-paths",
            "wire",
        ] {
            assert_eq!(r.package(t, pkg)["outcome"], "passed", "{pkg} on {t}");
        }
        assert!(
            r.tests(t, "plain-utils")
                .iter()
                .any(|(n, o)| n.starts_with("doc:") && o == "passed"),
            "{t}"
        );
        // panic = "abort": the failing 32-bit assumption ends its whole test binary (the
        // first of its three tests in libtest's order); the other two still ran, in a fresh
        // process, and passed.
        assert_eq!(
            r.tests(t, "file-offsets"),
            [
                (
                    "lib:tests::offset_beyond_4_gib_survives_the_index".to_owned(),
                    "failed".to_owned()
                ),
                (
                    "lib:tests::record_count_is_portable".to_owned(),
                    "passed".to_owned()
                ),
                (
                    "lib:tests::small_offsets_round_trip".to_owned(),
                    "passed".to_owned()
                ),
            ],
            "{t}"
        );
        let failed = r.test(
            t,
            "file-offsets",
            "tests::offset_beyond_4_gib_survives_the_index",
        );
        assert_eq!(failed["cause"], "arch-assumption", "{t}");
        assert!(
            failed["fix"]
                .as_str()
                .unwrap()
                .contains("pointer width (32-bit")
        );
        // The abort swallowed the panic libtest had captured; the evidence still names it.
        assert!(
            failed["evidence"]
                .as_str()
                .unwrap()
                .contains("panicked at file-offsets/src/lib.rs:"),
            "{t}: {failed}"
        );
        assert!(
            failed["output"]
                .as_str()
                .unwrap()
                .contains("right: 5368709120")
        );
        assert_eq!(
            r.package(t, "simd-sum")["failed_stage"],
            "build-tests",
            "{t}"
        );
    }
}

#[test]
fn wasi_without_wasmtime_stops_at_build_tests_with_its_install_command() {
    if !toolchains_present(&[WASIP1]) {
        return;
    }
    let fx = Fixture::new("example");
    let path = PathWithout::new(&["wasmtime"]);
    let r = fx.verify_with(
        &["--no-fail-fast", "--target", "host", "--target", WASIP1],
        |c| {
            c.env("PATH", &path.path);
        },
    );
    assert_eq!(r.code(), 1, "{}", r.stderr());
    let target = r.target(WASIP1);
    assert_eq!(target["level"], "build-tests");
    let d = &target["downgrades"][0];
    assert_eq!(d["cause"], "emulator-missing");
    assert!(
        d["fix"]
            .as_str()
            .unwrap()
            .starts_with("cargo install --locked wasmtime-cli@"),
        "{d}"
    );
    // Linked by the rust-lld rustc ships: the test binaries build.
    for pkg in [
        "endian-codec",
        "file-offsets",
        "text-paths",
        "wire",
        "plain-utils",
    ] {
        assert_eq!(r.package(WASIP1, pkg)["outcome"], "passed", "{pkg}");
        assert_eq!(r.package(WASIP1, pkg)["level"], "build-tests", "{pkg}");
    }
}

#[test]
fn the_install_script_builds_the_wasmtime_doctor_prints_and_installs_known_targets() {
    let script = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/install-toolchains.sh"),
    )
    .unwrap();
    let value = |name: &str| {
        script
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{name}=")))
            .unwrap_or_else(|| panic!("{name}= in the script"))
            .to_owned()
    };
    use cargo_xtest as targets;
    assert_eq!(value("WASMTIME_VERSION"), targets::WASMTIME_VERSION);
    assert_eq!(value("WASMTIME_FEATURES"), targets::WASMTIME_FEATURES);
    // Every target the script installs is one cargo-xtest knows how to set up.
    let extra = script
        .split("EXTRA_TARGETS=(")
        .nth(1)
        .and_then(|r| r.split(')').next())
        .unwrap();
    let triples: Vec<&str> = extra.split_whitespace().collect();
    assert!(triples.len() >= 10, "{triples:?}");
    for t in triples {
        assert!(
            targets::target_lookup(t).is_some(),
            "{t} is not in the knowledge base"
        );
    }
}
