//! Helpers for the integration tests: run the real `cargo-xtest` binary on a private copy of a
//! fixture workspace, read its JSON report, and build a `PATH` without chosen tools so that a
//! missing linker or emulator is real, not mocked.
#![allow(dead_code)]

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

pub const HOST: &str = "x86_64-unknown-linux-gnu";
pub const AARCH64: &str = "aarch64-unknown-linux-gnu";
pub const S390X: &str = "s390x-unknown-linux-gnu";
pub const RISCV64: &str = "riscv64gc-unknown-linux-gnu";
pub const I686: &str = "i686-unknown-linux-gnu";
pub const ARMV7: &str = "armv7-unknown-linux-gnueabihf";
pub const POWERPC: &str = "powerpc-unknown-linux-gnu";
pub const POWERPC64: &str = "powerpc64-unknown-linux-gnu";
pub const POWERPC64LE: &str = "powerpc64le-unknown-linux-gnu";
pub const MUSL: &str = "x86_64-unknown-linux-musl";
pub const AARCH64_MUSL: &str = "aarch64-unknown-linux-musl";
pub const WINDOWS_GNU: &str = "x86_64-pc-windows-gnu";
pub const WASIP1: &str = "wasm32-wasip1";
pub const WASIP2: &str = "wasm32-wasip2";
/// Targets with a standard library but no linker any Linux distro ships: `check` here.
pub const SDK_ONLY: &[&str] = &["aarch64-linux-android", "x86_64-pc-windows-msvc"];
/// Linked by zig (cargo-zigbuild's `zig cc`, from PyPI); nothing on Linux runs them.
pub const ZIG_LINKED: &[&str] = &[
    "x86_64-apple-darwin",
    "aarch64-apple-darwin",
    "x86_64-unknown-freebsd",
];

/// `true` when nothing is missing; else fails in CI (which installs everything, so a skip would
/// hide a bug) and skips elsewhere, saying what is missing.
fn present(missing: &[String]) -> bool {
    if missing.is_empty() {
        return true;
    }
    let msg = format!(
        "missing toolchain pieces: {} (run `bash .ci/run` or see README)",
        missing.join(", ")
    );
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("{msg}");
    }
    eprintln!("SKIPPED: {msg}");
    false
}

/// Fails (in CI) or skips (elsewhere) when nightly's Miri (`miri`, `rust-src`) is missing.
/// The interpreted lane of `triple`, as [`Run::target`] and the terminal name it.
pub fn miri(triple: &str) -> String {
    format!("{triple} (miri)")
}

/// The lane a report's target entry is: its triple, or [`miri`] of it.
pub fn lane_of(target: &Value) -> String {
    let triple = target["triple"].as_str().unwrap();
    match target.get("interpreted_by") {
        Some(_) => miri(triple),
        None => triple.to_owned(),
    }
}

pub fn miri_present() -> bool {
    let mut missing = Vec::new();
    let which = Command::new("rustup")
        .args(["which", "--toolchain", "nightly", "cargo-miri"])
        .output();
    match which {
        Ok(o) if o.status.success() => {
            let exe = std::path::PathBuf::from(String::from_utf8_lossy(&o.stdout).trim());
            let toolchain = exe.parent().and_then(std::path::Path::parent);
            if !toolchain.is_some_and(|t| t.join("lib/rustlib/src/rust/library").is_dir()) {
                missing.push("rust-src on nightly".to_owned());
            }
        }
        _ => missing.push("nightly with miri".to_owned()),
    }
    present(&missing)
}

/// Fails (in CI, `CI=true`) or skips (elsewhere, returning `false`) when a cross toolchain the
/// test needs is missing. CI installs them all in `.ci/run`, so there a skip would hide a bug.
pub fn toolchains_present(triples: &[&str]) -> bool {
    let installed = Command::new("rustup")
        .args(["target", "list", "--installed"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default();
    let mut missing = Vec::new();
    for t in triples {
        if *t == HOST {
            continue;
        }
        if !installed.lines().any(|l| l.trim() == *t) {
            missing.push(format!("rustup target {t}"));
        }
        let arch = match *t {
            AARCH64 => ("aarch64-linux-gnu-gcc", "qemu-aarch64"),
            S390X => ("s390x-linux-gnu-gcc", "qemu-s390x"),
            RISCV64 => ("riscv64-linux-gnu-gcc", "qemu-riscv64"),
            I686 => ("i686-linux-gnu-gcc", "qemu-i386"),
            ARMV7 => ("arm-linux-gnueabihf-gcc", "qemu-arm"),
            POWERPC => ("powerpc-linux-gnu-gcc", "qemu-ppc"),
            POWERPC64 => ("powerpc64-linux-gnu-gcc", "qemu-ppc64"),
            POWERPC64LE => ("powerpc64le-linux-gnu-gcc", "qemu-ppc64le"),
            MUSL => ("musl-gcc", "cc"),
            AARCH64_MUSL => ("aarch64-linux-gnu-gcc", "qemu-aarch64"),
            WINDOWS_GNU => ("x86_64-w64-mingw32-gcc", "wine"),
            // Linked by the rust-lld rustc ships, run by wasmtime.
            WASIP1 | WASIP2 => ("cc", "wasmtime"),
            // Checked at `check`: the standard library is all they need.
            t if SDK_ONLY.contains(&t) => ("cc", "cc"),
            t if ZIG_LINKED.contains(&t) => ("cargo-zigbuild", "cc"),
            other => panic!("no toolchain check for {other}"),
        };
        for tool in [arch.0, arch.1] {
            if which(tool).is_none() {
                missing.push(tool.to_owned());
            }
        }
        // The target C library: gcc prints a bare name for a crt object it cannot find.
        if which(arch.0).is_some() && arch.0.contains("-linux-gnu") && !t.contains("musl") {
            let crti = Command::new(arch.0)
                .arg("-print-file-name=crti.o")
                .output()
                .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
                .unwrap_or_default();
            if !crti.starts_with('/') {
                missing.push(format!("the C library for {t} (crti.o)"));
            }
        }
    }
    present(&missing)
}

fn which(tool: &str) -> Option<PathBuf> {
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|d| d.join(tool))
        .find(|p| p.is_file())
}

/// A private copy of `tests/fixtures/NAME` (or of `example/` for `"example"`).
pub struct Fixture {
    pub dir: tempfile::TempDir,
}

impl Fixture {
    pub fn new(name: &str) -> Self {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let src = if name == "example" {
            root.join("example")
        } else {
            root.join("tests/fixtures").join(name)
        };
        let dir = tempfile::tempdir().expect("tempdir");
        copy_dir(&src, dir.path());
        Fixture { dir }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn manifest(&self) -> PathBuf {
        self.path().join("Cargo.toml")
    }

    /// Writes `text` to `rel` in the fixture, creating its directory.
    pub fn write(&self, rel: &str, text: &str) {
        let path = self.path().join(rel);
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).expect("create fixture directory");
        }
        std::fs::write(path, text).expect("write fixture file");
    }

    /// `cargo xtest ARGS --manifest-path <fixture> --report <file>`, run from the fixture.
    pub fn xtest(&self, args: &[&str]) -> Command {
        let mut cmd = xtest();
        cmd.args(args)
            .arg("--manifest-path")
            .arg(self.manifest())
            .current_dir(self.path())
            .env("CARGO_TERM_COLOR", "never")
            .env_remove("CARGO_TARGET_DIR")
            .env_remove("RUST_BACKTRACE")
            // `cargo test` gives this test process the sysroot's library path; a user running
            // `cargo xtest` from a shell does not have it, and neither must the tool under test.
            .env_remove("LD_LIBRARY_PATH");
        cmd
    }

    /// Runs a verification and returns its output and JSON report.
    pub fn verify(&self, args: &[&str]) -> Run {
        self.verify_with(args, |_| {})
    }

    pub fn verify_with(&self, args: &[&str], tweak: impl FnOnce(&mut Command)) -> Run {
        let report = self.path().join("report.json");
        let _ = std::fs::remove_file(&report);
        let mut cmd = self.xtest(args);
        cmd.arg("--report").arg(&report);
        tweak(&mut cmd);
        let output = output_within(&mut cmd, WATCHDOG);
        let json = std::fs::read_to_string(&report)
            .ok()
            .map(|s| serde_json::from_str(&s).expect("report is JSON"));
        Run { output, json }
    }
}

fn copy_dir(src: &Path, dst: &Path) {
    std::fs::create_dir_all(dst).unwrap();
    for entry in std::fs::read_dir(src).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name();
        if name == "target" {
            continue;
        }
        let to = dst.join(&name);
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &to);
        } else {
            std::fs::copy(entry.path(), to).unwrap();
        }
    }
}

/// How long one cargo-xtest run in a test may take before the test fails instead of hanging.
pub const WATCHDOG: std::time::Duration = std::time::Duration::from_secs(600);

/// `cmd.output()`, but a run that outlives `limit` is killed and fails the test.
pub fn output_within(cmd: &mut Command, limit: std::time::Duration) -> Output {
    use std::io::Read;
    let mut child = cmd
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("start cargo-xtest");
    let mut out = child.stdout.take().unwrap();
    let mut err = child.stderr.take().unwrap();
    let out = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = out.read_to_end(&mut v);
        v
    });
    let err = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = err.read_to_end(&mut v);
        v
    });
    let start = std::time::Instant::now();
    let status = loop {
        if let Some(st) = child.try_wait().unwrap() {
            break st;
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!("cargo-xtest did not finish within {limit:?}");
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    Output {
        status,
        stdout: out.join().unwrap(),
        stderr: err.join().unwrap(),
    }
}

/// The `cargo-xtest xtest` command, as cargo would start it.
/// Asserts a process ended with `code`, showing what it printed when not.
#[track_caller]
pub fn assert_exit(out: &Output, code: i32) {
    assert_eq!(
        out.status.code(),
        Some(code),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

pub fn xtest() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_cargo-xtest"));
    // A developer's shell: the suite's own CI=true (which turns the result cache off) is not
    // the tool's; a test that wants it sets it.
    cmd.arg("xtest")
        .env_remove("LD_LIBRARY_PATH")
        .env_remove("CI");
    cmd
}

pub struct Run {
    pub output: Output,
    pub json: Option<Value>,
}

impl Run {
    pub fn code(&self) -> i32 {
        self.output.status.code().expect("exited normally")
    }

    pub fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.output.stderr).into_owned()
    }

    pub fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.output.stdout).into_owned()
    }

    pub fn report(&self) -> &Value {
        self.json.as_ref().unwrap_or_else(|| {
            panic!(
                "no report written\nstdout:\n{}\nstderr:\n{}",
                self.stdout(),
                self.stderr()
            )
        })
    }

    /// A target lane of the report: `TRIPLE` (its native lane) or `TRIPLE (miri)` ([`miri`]).
    pub fn target(&self, lane: &str) -> &Value {
        let (triple, interpreted) = match lane.strip_suffix(" (miri)") {
            Some(t) => (t, true),
            None => (lane, false),
        };
        self.report()["targets"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["triple"] == triple && t.get("interpreted_by").is_some() == interpreted)
            .unwrap_or_else(|| panic!("no target {lane} in report"))
    }

    pub fn package(&self, triple: &str, name: &str) -> &Value {
        self.target(triple)["packages"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == name)
            .unwrap_or_else(|| panic!("no package {name} on {triple}"))
    }

    /// (name, outcome) of every test of a package on a target, sorted.
    pub fn tests(&self, triple: &str, name: &str) -> Vec<(String, String)> {
        let mut v: Vec<(String, String)> = self.package(triple, name)["tests"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| {
                (
                    format!(
                        "{}:{}",
                        t["binary"].as_str().unwrap(),
                        t["name"].as_str().unwrap()
                    ),
                    t["outcome"].as_str().unwrap().to_owned(),
                )
            })
            .collect();
        v.sort();
        v
    }

    /// Every failed or timed-out test of the report with its output, for an assertion's message.
    pub fn failures(&self) -> String {
        let mut out = String::new();
        for t in self
            .json
            .iter()
            .flat_map(|r| r["targets"].as_array())
            .flatten()
        {
            for p in t["packages"].as_array().into_iter().flatten() {
                for test in p["tests"].as_array().into_iter().flatten() {
                    if matches!(test["outcome"].as_str(), Some("failed" | "timed-out")) {
                        out += &format!(
                            "--- {} {} {}\n{}\n",
                            t["triple"],
                            p["name"],
                            test["name"],
                            test["output"].as_str().unwrap_or_default()
                        );
                    }
                }
            }
        }
        out
    }

    pub fn test(&self, triple: &str, package: &str, name: &str) -> &Value {
        self.package(triple, package)["tests"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["name"] == name)
            .unwrap_or_else(|| panic!("no test {name} in {package} on {triple}"))
    }
}

/// Runs `cmd` in a private mount namespace (`unshare -r -m`) in which the target C library's
/// development files under `sysroot` are gone — the crt objects, static libraries and linker
/// scripts of `<sysroot>/lib` and the headers of `<sysroot>/include` — while its runtime (the
/// dynamic loader, `libc.so.6`) stays: exactly a machine where `gcc-<arch>-linux-gnu` was installed
/// with `--no-install-recommends`. Returns `None` (or panics in CI) where namespaces are refused.
pub fn without_c_library(sysroot: &str, cmd: &Command) -> Option<(Command, tempfile::TempDir)> {
    let probe = Command::new("unshare").args(["-r", "-m", "true"]).status();
    if !probe.is_ok_and(|s| s.success()) {
        let msg = "this test needs `unshare -r -m` (user and mount namespaces)";
        if std::env::var("CI").is_ok_and(|v| v == "true") {
            panic!("{msg}");
        }
        eprintln!("SKIPPED: {msg}");
        return None;
    }
    let keep_dir = tempfile::tempdir().unwrap();
    let keep = keep_dir.path();
    let script = format!(
        r#"set -e
lib={sysroot}/lib; keep={keep}
for f in "$lib"/*; do
  case "$(basename "$f")" in
    *.o|*.a|*.so) ;;
    *) cp -a "$f" "$keep/" ;;
  esac
done
mount --bind "$keep" "$lib"
mount -t tmpfs none {sysroot}/include
exec "$@""#,
        keep = keep.display()
    );
    let mut out = Command::new("unshare");
    out.args(["-r", "-m", "sh", "-c", &script, "sh"])
        .arg(cmd.get_program())
        .args(cmd.get_args());
    if let Some(d) = cmd.get_current_dir() {
        out.current_dir(d);
    }
    for (k, v) in cmd.get_envs() {
        match v {
            Some(v) => out.env(k, v),
            None => out.env_remove(k),
        };
    }
    Some((out, keep_dir))
}

/// A `PATH` in which every program is still reachable except the `hidden` ones (exact names, or
/// `prefix*`): a real host without, say, `aarch64-linux-gnu-gcc` or `qemu-aarch64`.
pub struct PathWithout {
    dir: tempfile::TempDir,
    pub path: OsString,
}

impl PathWithout {
    pub fn new(hidden: &[&str]) -> Self {
        let hides = |name: &str| {
            hidden.iter().any(|h| match h.strip_suffix('*') {
                Some(prefix) => name.starts_with(prefix),
                None => name == *h,
            })
        };
        let dir = tempfile::tempdir().unwrap();
        let mut kept = Vec::new();
        let farm = dir.path().join("bin");
        std::fs::create_dir(&farm).unwrap();
        for d in std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default()) {
            let Ok(entries) = std::fs::read_dir(&d) else {
                continue;
            };
            let mut has_hidden = false;
            for e in entries.flatten() {
                let name = e.file_name().to_string_lossy().into_owned();
                if hides(&name) {
                    has_hidden = true;
                }
            }
            if !has_hidden {
                kept.push(d);
                continue;
            }
            for e in std::fs::read_dir(&d).unwrap().flatten() {
                let name = e.file_name().to_string_lossy().into_owned();
                let to = farm.join(&name);
                if !hides(&name) && !to.exists() {
                    let _ = std::os::unix::fs::symlink(e.path(), to);
                }
            }
            kept.push(farm.clone());
        }
        kept.dedup();
        let path = std::env::join_paths(kept).unwrap();
        PathWithout { dir, path }
    }
}
