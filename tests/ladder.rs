//! Each rung of the ladder, proved on a real host with a piece really missing: no std (`none`),
//! no cross linker (`check`), no emulator (`build-tests`), and a required level not reached.

mod common;

use common::*;

#[test]
fn target_without_std_is_planned_at_none_with_the_rustup_fix() {
    let ppc = "loongarch64-unknown-linux-gnu";
    let sysroot = std::process::Command::new("rustc")
        .args(["--print", "sysroot"])
        .output()
        .unwrap();
    let sysroot = String::from_utf8_lossy(&sysroot.stdout).trim().to_owned();
    assert!(
        !std::path::Path::new(&sysroot)
            .join("lib/rustlib")
            .join(ppc)
            .exists(),
        "this test needs a host without the {ppc} standard library"
    );
    let fx = Fixture::new("portable");
    let r = fx.verify(&["--target", ppc, "--target", "host"]);
    assert_eq!(
        r.code(),
        0,
        "a downgrade alone is not a failure\n{}",
        r.stderr()
    );
    let t = r.target(ppc);
    assert_eq!(t["level"], "none");
    assert_eq!(t["packages"].as_array().unwrap().len(), 0);
    // Every missing piece is listed, top down; the last step is the missing std.
    let steps = t["downgrades"].as_array().unwrap();
    let d = steps.last().unwrap();
    assert_eq!(d["to"], "none");
    assert_eq!(
        d["from"],
        steps
            .iter()
            .rev()
            .nth(1)
            .map_or("test", |p| p["to"].as_str().unwrap())
    );
    assert_eq!(
        d["reason"],
        format!("the standard library for {ppc} is not installed")
    );
    assert_eq!(d["fix"], format!("rustup target add {ppc}"));
    assert_eq!(d["cause"], "missing-std");
    // The host beside it was still fully verified.
    assert_eq!(r.target(HOST)["level"], "test");
    assert_eq!(r.package(HOST, "alpha")["level"], "test");
    assert!(
        r.stdout()
            .contains(&format!("fix: rustup target add {ppc}"))
    );
}

#[test]
fn without_a_cross_linker_the_target_is_checked_only() {
    if !toolchains_present(&[AARCH64]) {
        return;
    }
    let path = PathWithout::new(&["aarch64-linux-gnu-*"]);
    let fx = Fixture::new("portable");
    let r = fx.verify_with(&["--target", AARCH64], |c| {
        c.env("PATH", &path.path);
    });
    // Checked, but nothing was tested: an honest run that wanted tests is not green.
    assert_eq!(r.code(), 1, "{}", r.stderr());
    assert!(
        r.stdout().contains("NOTHING TESTED")
            && r.stdout()
                .contains("nothing was tested: no target reaches `test`"),
        "{}",
        r.stdout()
    );
    let t = r.target(AARCH64);
    assert_eq!(t["level"], "check");
    let d = &t["downgrades"][0];
    assert_eq!(
        (d["from"].as_str(), d["to"].as_str()),
        (Some("test"), Some("check"))
    );
    assert!(
        d["reason"]
            .as_str()
            .unwrap()
            .contains("no linker for aarch64-unknown-linux-gnu"),
        "{d}"
    );
    assert!(
        d["fix"]
            .as_str()
            .unwrap()
            .ends_with("install -y gcc-aarch64-linux-gnu"),
        "{d}"
    );
    assert_eq!(d["cause"], "linker-missing");
    for pkg in ["alpha", "beta"] {
        let p = r.package(AARCH64, pkg);
        assert_eq!(p["outcome"], "passed");
        assert_eq!(p["level"], "check");
        assert_eq!(p["tests"].as_array().unwrap().len(), 0);
    }
    // Asking for no more than compile checks makes the same run green.
    let r = fx.verify_with(&["--target", AARCH64, "--level", "check"], |c| {
        c.env("PATH", &path.path);
    });
    assert_eq!(r.code(), 0, "{}", r.stdout());
    assert!(r.stdout().contains("PASSED"), "{}", r.stdout());
}

#[test]
fn without_an_emulator_the_target_builds_its_tests_only() {
    if !toolchains_present(&[AARCH64]) {
        return;
    }
    let path = PathWithout::new(&["qemu-aarch64*"]);
    let fx = Fixture::new("portable");
    let r = fx.verify_with(&["--target", AARCH64], |c| {
        c.env("PATH", &path.path);
    });
    assert_eq!(r.code(), 1, "nothing was tested: {}", r.stdout());
    assert!(r.stdout().contains("NOTHING TESTED"), "{}", r.stdout());
    let t = r.target(AARCH64);
    assert_eq!(t["level"], "build-tests");
    assert!(t["runner"].is_null());
    let d = &t["downgrades"][0];
    assert_eq!(
        (d["from"].as_str(), d["to"].as_str()),
        (Some("test"), Some("build-tests"))
    );
    assert!(
        d["reason"]
            .as_str()
            .unwrap()
            .contains("`qemu-aarch64` is not on PATH"),
        "{d}"
    );
    assert!(
        d["fix"].as_str().unwrap().ends_with("install -y qemu-user"),
        "{d}"
    );
    assert_eq!(d["cause"], "emulator-missing");
    for pkg in ["alpha", "beta"] {
        assert_eq!(r.package(AARCH64, pkg)["level"], "build-tests");
        assert_eq!(r.package(AARCH64, pkg)["outcome"], "passed");
    }
    // `plan` says the same without building anything (a fresh copy: nothing built for aarch64).
    let fresh = Fixture::new("portable");
    let out = fresh
        .xtest(&["plan", "--target", AARCH64, "--format", "json"])
        .env("PATH", &path.path)
        .output()
        .unwrap();
    let plan: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(plan["targets"][0]["level"], "build-tests");
    assert!(
        !fresh
            .path()
            .join("target/aarch64-unknown-linux-gnu")
            .exists()
    );
}

#[test]
fn a_required_level_that_cannot_be_reached_is_a_failure() {
    if !toolchains_present(&[AARCH64]) {
        return;
    }
    let path = PathWithout::new(&["qemu-aarch64*"]);
    let fx = Fixture::new("portable");
    fx.write(
        "xtest.toml",
        "[target.aarch64-unknown-linux-gnu]\nrequire = \"test\"\n",
    );
    let r = fx.verify_with(&["--target", AARCH64], |c| {
        c.env("PATH", &path.path);
    });
    assert_eq!(r.code(), 1, "{}", r.stderr());
    let t = r.target(AARCH64);
    assert_eq!(t["required"], "test");
    assert_eq!(t["requirement_met"], false);
    assert!(
        r.stdout()
            .contains("the policy requires test but this host reaches build-tests"),
        "{}",
        r.stdout()
    );
}

#[test]
fn level_flag_caps_the_ladder() {
    let fx = Fixture::new("portable");
    let r = fx.verify(&["--target", "host", "--level", "build"]);
    assert_eq!(r.code(), 0, "{}", r.stderr());
    assert_eq!(r.target(HOST)["level"], "build");
    assert_eq!(r.package(HOST, "beta")["level"], "build");
    assert_eq!(
        r.package(HOST, "beta")["tests"].as_array().unwrap().len(),
        0
    );
}
