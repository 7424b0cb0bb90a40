//! Every diagnosable cause, reproduced for real on this host's toolchains and recognised with its
//! evidence and fix. (missing-std, linker-missing and emulator-missing are downgrades: see
//! `ladder.rs`; c-library-missing, runner-broken and more probe refutations: `probe.rs`; timeout
//! and unknown: `misbehave.rs`; arch-specific-test-code, test-only-dependency and
//! arch-assumption: `example.rs`.) A wrong linker and a runner without a sysroot are refuted by
//! the probes before anything is built, so they appear here as steps down with probe evidence.

mod common;

use common::*;
use serde_json::Value;

fn first_error(r: &Run, triple: &str, pkg: &str) -> Value {
    let p = r.package(triple, pkg);
    assert_eq!(p["outcome"], "failed", "{p}");
    p["errors"][0].clone()
}

/// The first step down of `triple`, with the probe evidence that proved it.
fn refuted(r: &Run, triple: &str) -> Value {
    let t = r.target(triple);
    let d = t["downgrades"][0].clone();
    assert!(d["evidence"].is_object(), "a probe proved it: {t}");
    d
}

#[test]
fn wrong_linker_host_cc_for_a_foreign_target() {
    if !toolchains_present(&[AARCH64]) {
        return;
    }
    let fx = Fixture::new("portable");
    let r = fx.verify_with(&["--target", AARCH64, "--target", "host"], |c| {
        c.env("CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER", "cc");
    });
    // The link probe refutes `build`: libraries are checked, nothing is linked with `cc`, and a
    // step down alone is not a failure.
    assert_eq!(r.code(), 0, "{}", r.stderr());
    assert_eq!(r.target(AARCH64)["level"], "check");
    assert_eq!(r.package(AARCH64, "alpha")["outcome"], "passed");
    let d = refuted(&r, AARCH64);
    assert_eq!(d["cause"], "wrong-linker", "{d}");
    assert_eq!(d["evidence"]["probe"], "link");
    let evidence = d["evidence"]["line"].as_str().unwrap();
    assert!(
        evidence.contains("elf64-x86-64")
            || evidence.contains("wrong format")
            || evidence.contains("Relocations in generic ELF"),
        "{d}"
    );
    assert!(
        d["fix"]
            .as_str()
            .unwrap()
            .contains("CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER=aarch64-linux-gnu-gcc"),
        "{d}"
    );
}

#[test]
fn configured_linker_that_does_not_exist() {
    let fx = Fixture::new("portable");
    let r = fx.verify_with(&["--target", "host"], |c| {
        c.env(
            "CARGO_TARGET_X86_64_UNKNOWN_LINUX_GNU_LINKER",
            "no-such-linker-gcc",
        );
    });
    let t = r.target(HOST);
    assert_eq!(t["level"], "check");
    let d = &t["downgrades"][0];
    assert_eq!(d["cause"], "linker-missing");
    assert!(
        d["reason"].as_str().unwrap().contains(
            "`no-such-linker-gcc` set by env CARGO_TARGET_X86_64_UNKNOWN_LINUX_GNU_LINKER"
        ),
        "{d}"
    );
}

#[test]
fn c_compiler_missing_for_a_build_script() {
    if !toolchains_present(&[AARCH64]) {
        return;
    }
    // The versioned driver stays (and links), the name the `cc` crate looks for is gone.
    let versioned = std::fs::read_dir("/usr/bin")
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .find(|n| {
            n.starts_with("aarch64-linux-gnu-gcc-") && n[22..].chars().all(|c| c.is_ascii_digit())
        })
        .expect("a versioned aarch64-linux-gnu-gcc-N");
    let path = PathWithout::new(&["aarch64-linux-gnu-gcc"]);
    let fx = Fixture::new("causes");
    let r = fx.verify_with(&["--target", AARCH64, "-p", "uses-cc"], |c| {
        c.env("PATH", &path.path)
            .env("CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER", &versioned);
    });
    assert_eq!(r.code(), 1, "{}", r.stderr());
    let e = first_error(&r, AARCH64, "uses-cc");
    assert_eq!(e["stage"], "build");
    assert_eq!(e["cause"], "c-compiler-missing", "{e}");
    assert!(
        e["evidence"]
            .as_str()
            .unwrap()
            .contains("aarch64-linux-gnu-gcc"),
        "{e}"
    );
    let fix = e["fix"].as_str().unwrap();
    assert!(
        fix.contains("gcc-aarch64-linux-gnu") && fix.contains("CC_aarch64_unknown_linux_gnu"),
        "{fix}"
    );
}

#[test]
fn pkg_config_refuses_to_cross_compile() {
    if !toolchains_present(&[AARCH64]) {
        return;
    }
    let fx = Fixture::new("causes");
    let r = fx.verify(&["--target", AARCH64, "-p", "uses-pkg-config"]);
    assert_eq!(r.code(), 1, "{}", r.stderr());
    let e = first_error(&r, AARCH64, "uses-pkg-config");
    assert_eq!(e["cause"], "pkg-config-cross", "{e}");
    assert!(
        e["evidence"]
            .as_str()
            .unwrap()
            .contains("pkg-config has not been configured to support cross-compilation"),
        "{e}"
    );
    assert!(
        e["fix"]
            .as_str()
            .unwrap()
            .contains("PKG_CONFIG_SYSROOT_DIR"),
        "{e}"
    );
}

#[test]
fn host_side_proc_macro_failure_is_reported_once() {
    if !toolchains_present(&[AARCH64]) {
        return;
    }
    let fx = Fixture::new("causes");
    let r = fx.verify(&[
        "--target",
        "host",
        "--target",
        AARCH64,
        "-p",
        "broken-macro",
        "-p",
        "macro-user",
    ]);
    assert_eq!(r.code(), 1, "{}", r.stderr());
    for t in [HOST, AARCH64] {
        assert_eq!(
            first_error(&r, t, "broken-macro")["cause"],
            "host-side",
            "{t}"
        );
        assert_eq!(
            first_error(&r, t, "macro-user")["cause"],
            "host-side",
            "{t}"
        );
    }
    let stdout = r.stdout();
    assert_eq!(
        stdout.matches("broken-macro on every target").count(),
        1,
        "{stdout}"
    );
}

#[test]
fn emulator_without_sysroot() {
    if !toolchains_present(&[AARCH64]) {
        return;
    }
    let fx = Fixture::new("portable");
    let r = fx.verify_with(
        &["--target", AARCH64, "--target", "host", "--no-fail-fast"],
        |c| {
            c.env(
                "CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_RUNNER",
                "qemu-aarch64",
            );
        },
    );
    // The run probe refutes `test`: the test executables are built, none is run.
    assert_eq!(r.code(), 0, "{}", r.stderr());
    assert_eq!(r.target(AARCH64)["level"], "build-tests");
    assert_eq!(r.package(AARCH64, "alpha")["level"], "build-tests");
    let d = refuted(&r, AARCH64);
    assert_eq!(d["cause"], "emulator-sysroot-missing", "{d}");
    assert_eq!(d["evidence"]["probe"], "run");
    assert!(
        d["evidence"]["line"]
            .as_str()
            .unwrap()
            .contains("Could not open '/lib/ld-linux-aarch64.so.1'"),
        "{d}"
    );
    assert!(
        d["fix"]
            .as_str()
            .unwrap()
            .contains("\"qemu-aarch64 -L /usr/aarch64-linux-gnu\""),
        "{d}"
    );
}

#[test]
fn illegal_instruction_under_qemu_and_the_printed_fix_works() {
    if !toolchains_present(&[RISCV64]) {
        return;
    }
    let fx = Fixture::new("causes");
    let r = fx.verify(&["--target", RISCV64, "-p", "vector"]);
    assert_eq!(r.code(), 1, "{}", r.stderr());
    let t = r.test(RISCV64, "vector", "uses_vector_unit");
    assert_eq!(t["cause"], "emulator-illegal-instruction", "{t}");
    assert!(t["evidence"].as_str().unwrap().contains("SIGILL"), "{t}");
    // The fix is an exact runner setting: apply it as printed and the test passes.
    let fix = t["fix"].as_str().unwrap();
    let (var, rest) = fix.split_once(": ").unwrap().1.split_once("=\"").unwrap();
    let value = rest.split('"').next().unwrap();
    assert_eq!(var, "CARGO_TARGET_RISCV64GC_UNKNOWN_LINUX_GNU_RUNNER");
    let r = fx.verify_with(&["--target", RISCV64, "-p", "vector"], |c| {
        c.env(var, value);
    });
    assert_eq!(r.code(), 0, "{}\n{}", r.stdout(), r.stderr());
    assert_eq!(
        r.test(RISCV64, "vector", "uses_vector_unit")["outcome"],
        "passed"
    );
}

#[test]
fn a_thread_under_wasi_is_an_unsupported_operation() {
    if !toolchains_present(&[WASIP1]) {
        return;
    }
    let fx = Fixture::new("causes");
    let r = fx.verify(&[
        "--no-fail-fast",
        "--target",
        WASIP1,
        "--target",
        "host",
        "-p",
        "wasi-threads",
    ]);
    assert_eq!(r.code(), 1, "{}", r.stderr());
    assert_eq!(r.package(HOST, "wasi-threads")["outcome"], "passed");
    let t = r.test(WASIP1, "wasi-threads", "tests::computes_in_a_thread");
    assert_eq!(t["outcome"], "failed");
    assert_eq!(t["cause"], "wasi-unsupported", "{t}");
    assert!(
        t["evidence"]
            .as_str()
            .unwrap()
            .contains("kind: Unsupported"),
        "{t}"
    );
    assert!(
        t["fix"]
            .as_str()
            .unwrap()
            .contains("#[cfg_attr(target_os = \"wasi\", ignore"),
        "{t}"
    );
    // The abort took the binary down; its other test still ran.
    assert_eq!(
        r.test(WASIP1, "wasi-threads", "tests::plain")["outcome"],
        "passed"
    );
    // #[should_panic] passes on the host and is reported ignored, with why, on WASI.
    let sp = "tests::panics_on_empty_input";
    assert_eq!(r.test(HOST, "wasi-threads", sp)["outcome"], "passed");
    let t = r.test(WASIP1, "wasi-threads", sp);
    assert_eq!(t["outcome"], "ignored", "{t}");
    assert!(
        t["reason"].as_str().unwrap().contains("panic = \"abort\""),
        "{t}"
    );
}

#[test]
fn c_compiled_against_glibc_in_a_musl_executable() {
    if !toolchains_present(&[AARCH64_MUSL]) {
        return;
    }
    let fx = Fixture::new("causes");
    // aarch64 has no musl cross gcc in Debian: the cc crate takes the linker's gcc, a glibc one.
    let r = fx.verify(&["--target", AARCH64_MUSL, "-p", "glibc-c"]);
    assert_eq!(r.code(), 1, "{}", r.stderr());
    let e = first_error(&r, AARCH64_MUSL, "glibc-c");
    assert_eq!(e["stage"], "build-tests", "{e}");
    assert_eq!(e["cause"], "musl-glibc-mix", "{e}");
    assert!(
        e["evidence"].as_str().unwrap().contains("__sprintf_chk"),
        "{e}"
    );
    assert!(e["fix"].as_str().unwrap().contains("musl"), "{e}");
}
