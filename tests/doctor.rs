//! `doctor` and `setup` on this host: components found or missing (made missing for real by a
//! PATH without them), the install commands for this distro, and `--write-config`.

mod common;

use common::*;

fn sudo() -> &'static str {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } == 0 {
        ""
    } else {
        "sudo "
    }
}

fn component<'a>(stdout: &'a str, triple: &str, name: &str) -> &'a str {
    let header = format!("\n{triple}\n");
    let section = stdout
        .split(&header)
        .nth(1)
        .unwrap_or_else(|| panic!("no {triple}\n{stdout}"));
    section
        .lines()
        .find(|l| l.trim_start().starts_with(name))
        .unwrap_or_else(|| panic!("no {name} for {triple}\n{stdout}"))
}

#[test]
fn doctor_on_a_complete_host_finds_everything() {
    if !toolchains_present(&[AARCH64, S390X, RISCV64]) {
        return;
    }
    let out = xtest()
        .args(["doctor", "--color", "never"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    assert!(stdout.contains("Nothing is missing"), "{stdout}");
    let linker = component(&stdout, AARCH64, "linker");
    assert!(
        linker.contains("ok")
            && linker.contains("aarch64-linux-gnu-gcc with rust-lld (auto-detected: ")
            && linker.contains("/rust-lld/aarch64-linux-gnu-gcc)"),
        "{linker}"
    );
    let runner = component(&stdout, S390X, "runner");
    assert!(
        runner.contains("qemu-s390x -L /usr/s390x-linux-gnu (auto-detected)"),
        "{runner}"
    );
    assert!(component(&stdout, HOST, "emulator").contains("not needed: runs natively"));
}

#[test]
fn doctor_names_each_missing_piece_and_the_commands_that_install_them() {
    if !toolchains_present(&[AARCH64]) {
        return;
    }
    let path = PathWithout::new(&["aarch64-linux-gnu-*", "qemu-aarch64*"]);
    let ppc = "loongarch64-unknown-linux-gnu";
    let out = xtest()
        .args([
            "doctor", "--color", "never", "--target", AARCH64, "--target", ppc,
        ])
        .env("PATH", &path.path)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    for name in ["linker", "C compiler", "emulator"] {
        assert!(
            component(&stdout, AARCH64, name).contains("MISSING"),
            "{name}\n{stdout}"
        );
    }
    assert!(component(&stdout, AARCH64, "std").contains("ok"));
    assert!(component(&stdout, ppc, "std").contains("MISSING"));
    let s = sudo();
    let lines: Vec<&str> = stdout.lines().map(str::trim).collect();
    let apt = lines
        .iter()
        .position(|l| l.starts_with(&format!("{s}apt-get install -y")))
        .expect(&stdout);
    assert_eq!(lines[apt - 1], format!("{s}apt-get update"));
    let install = lines[apt];
    for pkg in [
        "gcc-aarch64-linux-gnu",
        "qemu-user",
        "gcc-loongarch64-linux-gnu",
    ] {
        assert!(
            install.split_whitespace().any(|w| w == pkg),
            "{pkg} in {install}"
        );
    }
    assert!(
        lines.contains(&format!("rustup target add {ppc}").as_str()),
        "{stdout}"
    );
}

#[test]
fn setup_prints_without_running_and_runs_nothing_when_nothing_is_missing() {
    if !toolchains_present(&[AARCH64]) {
        return;
    }
    // Without apt-get on PATH, an attempt to run it would fail: the dry run must not try.
    let path = PathWithout::new(&["qemu-aarch64*", "apt-get"]);
    let out = xtest()
        .args(["setup", "--target", AARCH64])
        .env("PATH", &path.path)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout
            .lines()
            .any(|l| l == format!("{}apt-get install -y qemu-user", sudo())),
        "{stdout}"
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("would run (pass --yes to run them)"));

    let out = xtest()
        .args(["setup", "--yes", "--target", AARCH64])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stderr).contains("nothing to install"));
}

/// zig links macOS through a wrapper under the target directory: `cargo clean` would leave a
/// config naming it broken, so it is left out, with why. The example's policy gives macOS an
/// interpreted lane too, which has no settings of its own.
#[test]
fn write_config_leaves_out_the_zig_wrapper_and_writes_each_target_once() {
    let mac = "x86_64-apple-darwin";
    if !toolchains_present(&[AARCH64, mac]) {
        return;
    }
    let fx = Fixture::new("example");
    let out = fx
        .xtest(&[
            "setup",
            "--write-config",
            "--target",
            mac,
            "--target",
            AARCH64,
        ])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let written = std::fs::read_to_string(fx.path().join(".cargo/config.toml")).unwrap();
    let parsed: toml::Table = written.parse().unwrap();
    assert!(parsed["target"].get(mac).is_none(), "{written}");
    assert_eq!(
        parsed["target"][AARCH64]["linker"].as_str(),
        Some("aarch64-linux-gnu-gcc")
    );
    assert!(
        stderr.contains(&format!("Left out target.{mac}.linker: zig links it"))
            && stderr.contains(&format!("`cargo zigbuild --target {mac}`")),
        "{stderr}"
    );
    assert!(!stderr.contains("Kept"), "{stderr}");
}

#[test]
fn write_config_keeps_comments_and_user_settings_backs_up_and_is_idempotent() {
    if !toolchains_present(&[AARCH64, S390X]) {
        return;
    }
    let fx = Fixture::new("portable");
    std::fs::create_dir_all(fx.path().join(".cargo")).unwrap();
    let original = "# team settings: keep this comment\n[build]\njobs = 2\n\n[target.s390x-unknown-linux-gnu]\n# our own runner\nrunner = \"qemu-s390x -L /usr/s390x-linux-gnu\"\n";
    let config = fx.path().join(".cargo/config.toml");
    std::fs::write(&config, original).unwrap();
    let setup = || {
        let out = fx
            .xtest(&[
                "setup",
                "--write-config",
                "--target",
                AARCH64,
                "--target",
                S390X,
            ])
            .output()
            .unwrap();
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    let stderr = setup();
    let written = std::fs::read_to_string(&config).unwrap();
    assert!(
        written.starts_with("# team settings: keep this comment\n[build]\njobs = 2\n"),
        "{written}"
    );
    assert!(
        written.contains("# our own runner\nrunner = \"qemu-s390x -L /usr/s390x-linux-gnu\""),
        "{written}"
    );
    let parsed: toml::Table = written.parse().unwrap();
    let t = &parsed["target"];
    assert_eq!(t[AARCH64]["linker"].as_str(), Some("aarch64-linux-gnu-gcc"));
    assert_eq!(
        t[AARCH64]["runner"].as_str(),
        Some("qemu-aarch64 -L /usr/aarch64-linux-gnu")
    );
    assert_eq!(t[S390X]["linker"].as_str(), Some("s390x-linux-gnu-gcc"));
    assert_eq!(
        std::fs::read_to_string(fx.path().join(".cargo/config.toml.bak")).unwrap(),
        original
    );
    assert!(stderr.contains("Backup"), "{stderr}");

    // Again: everything is now the user's configuration; nothing changes, no new backup.
    let stderr = setup();
    assert_eq!(std::fs::read_to_string(&config).unwrap(), written);
    assert!(!fx.path().join(".cargo/config.toml.bak.1").exists());
    assert!(
        stderr.contains("already has every detected setting"),
        "{stderr}"
    );

    // And the verification now reads the linker from that file.
    let out = fx
        .xtest(&["plan", "--format", "json", "--target", AARCH64])
        .output()
        .unwrap();
    let plan: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let linker = plan["targets"][0]["linker"].as_str().unwrap();
    assert!(
        linker.starts_with("aarch64-linux-gnu-gcc (config "),
        "{linker}"
    );
}

#[test]
fn doctor_covers_wine_mingw_wasmtime_and_the_targets_no_distro_can_link() {
    if !toolchains_present(&[WINDOWS_GNU, WASIP1, "x86_64-apple-darwin"]) {
        return;
    }
    let path = PathWithout::new(&[
        "wine*",
        "x86_64-w64-mingw32-*",
        "wasmtime",
        "cargo-zigbuild",
    ]);
    let out = xtest()
        .args([
            "doctor",
            "--color",
            "never",
            "--target",
            WINDOWS_GNU,
            "--target",
            WASIP1,
            "--target",
            "x86_64-apple-darwin",
        ])
        .env("PATH", &path.path)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(component(&stdout, WINDOWS_GNU, "linker").contains("MISSING"));
    assert!(component(&stdout, WINDOWS_GNU, "emulator").contains("`wine` not on PATH"));
    assert!(component(&stdout, WASIP1, "linker").contains("rust-lld"));
    assert!(component(&stdout, WASIP1, "emulator").contains("`wasmtime` not on PATH"));
    let lines: Vec<&str> = stdout.lines().map(str::trim).collect();
    let s = sudo();
    let install = lines
        .iter()
        .find(|l| l.starts_with(&format!("{s}apt-get install -y")))
        .expect(&stdout);
    for pkg in ["gcc-mingw-w64-x86-64", "wine", "wine64"] {
        assert!(
            install.split_whitespace().any(|w| w == pkg),
            "{pkg} in {install}"
        );
    }
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("cargo install --locked wasmtime-cli@")),
        "{stdout}"
    );
    // Apple: zig links it, from PyPI; nothing runs it, which is said once, by hand.
    assert!(
        component(&stdout, "x86_64-apple-darwin", "linker")
            .contains("`cargo-zigbuild` not on PATH"),
        "{stdout}"
    );
    assert!(
        lines.contains(&"python3 -m pip install ziglang cargo-zigbuild"),
        "{stdout}"
    );
    let darwin: Vec<&&str> = lines
        .iter()
        .filter(|l| l.starts_with("x86_64-apple-darwin:") && l.contains("macOS"))
        .collect();
    assert_eq!(darwin.len(), 1, "{stdout}");
}
