//! Stage 5, diagnose: turns every failure into a [`Diagnosis`] — a named cause, the literal line
//! that proved it (evidence), and the exact fix for this host.
//!
//! Rules are ordered from the most specific toolchain problem to the most general, and match only
//! literal text that cargo, rustc, the `cc` crate, pkg-config or QEMU print; anything else stays
//! `unknown` with its raw evidence, never a guess.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Serialize;

use crate::build::{Blocker, BuildError, DependencyKind};
pub(crate) use crate::cause::Cause;
use crate::discover::{Host, TargetCfg};
use crate::error::Result;
use crate::fixes::Fixer;
use crate::level::Level;
use crate::plan::Plan;
use crate::run::FailureStatus;
use crate::targets::{self, TargetInfo};

/// A failure explained.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub(crate) struct Diagnosis {
    pub cause: Cause,
    /// The literal line that proved the cause.
    pub evidence: String,
    /// The exact command or change that removes the cause on this host.
    pub fix: String,
}

/// What the rules need to know about one target.
#[derive(Debug, Clone)]
struct Facts {
    info: Option<&'static TargetInfo>,
    cfg: TargetCfg,
    emulated: bool,
    runner: Option<Vec<String>>,
}

/// A test failure to explain.
pub(crate) struct TestFailure<'a> {
    pub triple: &'a str,
    pub timed_out: bool,
    /// How it ended, when known (a report from an older cargo-xtest has none).
    pub status: Option<FailureStatus>,
    pub output: &'a str,
    /// Did the same test pass on the host target in this run?
    pub passed_on_host: bool,
}

pub(crate) struct Diagnoser {
    fixer: Fixer,
    host_triple: crate::ids::Triple,
    host_cfg: TargetCfg,
    std_fix: BTreeMap<String, String>,
    targets: BTreeMap<String, Facts>,
}

impl Diagnoser {
    pub(crate) fn new(host: &Host, plan: &Plan) -> Result<Self> {
        Ok(Self::from_targets(
            host,
            &plan.host,
            plan.targets.iter().map(|t| {
                (
                    t.triple.to_string(),
                    t.cfg.clone(),
                    t.runner.as_ref().map(|r| r.launcher.argv.clone()),
                )
            }),
        ))
    }

    /// A diagnoser for targets known only by their facts: `(triple, cfg, runner argv)`, the argv
    /// empty for native runs and `None` where nothing could run (a merged report's targets).
    pub(crate) fn from_targets(
        host: &Host,
        host_triple: &str,
        targets: impl Iterator<Item = (String, TargetCfg, Option<Vec<String>>)>,
    ) -> Self {
        let fixer = Fixer::new(host);
        let mut facts: BTreeMap<String, Facts> = BTreeMap::new();
        let mut std_fix = BTreeMap::new();
        for (triple, cfg, runner) in targets {
            std_fix.insert(triple.clone(), fixer.std_fix(host, &triple));
            facts.insert(
                triple.clone(),
                Facts {
                    info: targets::lookup(&triple),
                    cfg,
                    emulated: runner.as_ref().is_some_and(|r| !r.is_empty()),
                    runner,
                },
            );
        }
        // The host's cfg: from the targets when the host is one of them, else from rustc, else
        // (an archive run, a merge without rustc) from the knowledge base.
        let host_cfg = match facts.get(host_triple) {
            Some(f) if !f.cfg.arch.is_empty() => f.cfg.clone(),
            _ => host
                .target_cfg(host_triple)
                .unwrap_or_else(|_| cfg_of(host_triple)),
        };
        Diagnoser {
            host_cfg,
            host_triple: host_triple.into(),
            fixer,
            std_fix,
            targets: facts,
        }
    }

    fn facts(&self, triple: &str) -> Facts {
        self.targets.get(triple).cloned().unwrap_or_else(|| Facts {
            info: targets::lookup(triple),
            // Not discovered (a merged report's target): what the knowledge base knows of it.
            cfg: cfg_of(triple),
            emulated: false,
            runner: None,
        })
    }

    fn install_linker(&self, triple: &str) -> String {
        let f = self.facts(triple);
        f.info
            .and_then(|i| self.fixer.install(i.linker_packages))
            .unwrap_or_else(|| format!("install a C cross toolchain for {triple}"))
    }

    fn linker_name(&self, triple: &str) -> String {
        self.facts(triple)
            .info
            .and_then(|i| i.linkers.first())
            .map(|l| (*l).to_owned())
            .unwrap_or_else(|| "<target>-gcc".to_owned())
    }

    /// Explains a compile, build-script or test-start error.
    pub(crate) fn build_error(&self, triple: &str, e: &BuildError) -> Diagnosis {
        let text = match &e.rendered {
            Some(r) => format!("{}\n{r}", e.message),
            None => e.message.clone(),
        };
        let d = |cause, evidence: &str, fix: String| Diagnosis {
            cause,
            evidence: evidence.trim().to_owned(),
            fix,
        };
        let linker_var = targets::cargo_env_var(triple, "linker");
        if let Some(l) = find(
            &text,
            &["can't find crate for `std`", "can't find crate for `core`"],
        ) {
            let fix = self
                .std_fix
                .get(triple)
                .cloned()
                .unwrap_or_else(|| format!("rustup target add {triple}"));
            return d(Cause::MissingStd, l, fix);
        }
        if let Some(l) = find_all(&text, &["linker `", "` not found"]) {
            return d(
                Cause::LinkerMissing,
                l,
                format!(
                    "{}; then {linker_var}={}",
                    self.install_linker(triple),
                    self.linker_name(triple)
                ),
            );
        }
        if e.stage == Level::Test
            && let Some(found) = miri_problem(&text)
        {
            return found;
        }
        if let Some(found) = target_os_problem(triple, &text) {
            return found;
        }
        if let Some((Cause::CLibraryMissing, l)) = crate::cause::toolchain_failure(&text) {
            return d(
                Cause::CLibraryMissing,
                l.trim().trim_start_matches("cargo:warning="),
                self.fixer.c_library_fix(triple),
            );
        }
        if let Some(found) = foreign_native_library(triple, &text) {
            return found;
        }
        if let Some(l) = find(
            &text,
            &[
                "incompatible with elf64-x86-64",
                "file in wrong format",
                "Relocations in generic ELF",
                "file format not recognized",
            ],
        ) {
            return d(
                Cause::WrongLinker,
                l,
                format!(
                    "link with the target's linker: {linker_var}={} ({})",
                    self.linker_name(triple),
                    self.install_linker(triple)
                ),
            );
        }
        if let Some(l) = find(
            &text,
            &[
                "Failed to find tool. Is `",
                "failed to find tool",
                "No CMAKE_C_COMPILER could be found",
                // The host's gcc, handed a foreign target's flags (cc-rs for Apple targets).
                "unrecognized command-line option '-arch'",
            ],
        ) {
            let tool = l
                .split(['`', '"'])
                .nth(1)
                .map(str::to_owned)
                .unwrap_or_else(|| self.linker_name(triple));
            let cc_var = format!("CC_{}", triple.replace('-', "_"));
            let info = self.facts(triple).info;
            let fix = match info.map(|i| i.link) {
                Some(targets::LinkVia::Gcc) => format!(
                    "{} (provides `{tool}`), or set {cc_var}=<path to a C compiler for {triple}>",
                    self.install_linker(triple)
                ),
                Some(targets::LinkVia::Unavailable(lift)) => format!(
                    "no Linux distro ships a C compiler for {triple} ({lift}); set {cc_var} to one, or exclude the package on {triple} in the policy"
                ),
                _ if triple.contains("wasi") => format!(
                    "build scripts compiling C for WASI need clang with a WASI sysroot (wasi-sdk): set {cc_var}=<wasi-sdk>/bin/clang, or exclude the package on {triple} in the policy"
                ),
                _ => format!("set {cc_var}=<path to a C compiler for {triple}>"),
            };
            return d(Cause::CCompilerMissing, l, fix);
        }
        if let Some(l) = find(
            &text,
            &[
                "pkg-config has not been configured to support cross-compilation",
                "PKG_CONFIG_ALLOW_CROSS",
            ],
        ) {
            let sysroot = self
                .facts(triple)
                .info
                .and_then(|i| i.sysroots.first().copied())
                .unwrap_or("<sysroot>");
            return d(
                Cause::PkgConfigCross,
                l,
                format!(
                    "install the library for {triple} and point pkg-config at it: PKG_CONFIG_SYSROOT_DIR={sysroot} PKG_CONFIG_PATH={sysroot}/lib/pkgconfig (set PKG_CONFIG_ALLOW_CROSS=1 only if the library found really is built for {triple})"
                ),
            );
        }
        if let Some(l) = find(
            &text,
            &["cannot satisfy dependencies so `std` only shows up once"],
        ) {
            return d(
                Cause::DylibStd,
                l,
                "a member with crate-type `dylib` links std dynamically, its tests statically: build with RUSTFLAGS=\"-C prefer-dynamic\" (the tests then load libstd from the sysroot, which cargo-xtest puts on the loader path), or make it an `rlib`/`cdylib`".to_owned(),
            );
        }
        if e.stage == Level::Test
            && let Some(l) = find(&text, &["error while loading shared libraries: "])
        {
            let library = l
                .split("error while loading shared libraries: ")
                .nth(1)
                .and_then(|r| r.split(':').next())
                .unwrap_or("a shared library")
                .trim()
                .to_owned();
            return d(
                Cause::SharedLibraryMissing,
                l,
                format!(
                    "the dynamic loader did not find `{library}` for {triple}: if a build script builds it, print `cargo::rustc-link-search=native=<its directory inside OUT_DIR>` (cargo and cargo-xtest put those on the loader path); else install the library built for {triple} (its -dev package for that architecture)"
                ),
            );
        }
        if e.stage == Level::Test
            && let Some(l) = find(&text, &["(exit status 127), printing nothing"])
        {
            let given = text
                .lines()
                .find_map(|l| l.strip_prefix("the loader path it was given: "))
                .map(|p| format!("it was given {p}"))
                .unwrap_or_else(|| "it was given no LD_LIBRARY_PATH".to_owned());
            return d(
                Cause::SharedLibraryMissing,
                l,
                format!(
                    "the executable could not start (status 127: the dynamic loader or a library it needs is missing) and nothing said which; {given}: run it by hand with LD_DEBUG=libs to see what the loader looked for, and put the directory of the library built for {triple} there (a build script prints `cargo::rustc-link-search=native=<dir inside OUT_DIR>`)"
                ),
            );
        }
        if e.stage == Level::Test
            && let Some(l) = find(
                &text,
                &[
                    "printed no libtest test list",
                    "printed a test list that disagrees",
                    "without running a test",
                    "before running every test",
                ],
            )
        {
            return d(
                Cause::NoTestResults,
                l,
                format!(
                    "run the binary through the runner by hand (`<runner> <binary> --list` must end with libtest's `N tests, M benchmarks`): a runner that does not run its argument ({}), or a custom test harness that does not speak libtest's `--list` (declare it `harness = false`: cargo-xtest then runs it whole and judges its exit status, as cargo does)",
                    targets::cargo_env_var(triple, "runner")
                ),
            );
        }
        if e.host_unit {
            return d(
                Cause::HostSide,
                first_line(&text),
                format!(
                    "a build script or proc-macro fails to compile for the host ({}); fix it there: no target setting will",
                    self.host_triple
                ),
            );
        }
        if let Some(l) = find(
            &text,
            &[
                "unresolved import `core::arch::",
                "unresolved import `std::arch::",
                "could not find `x86_64` in `arch`",
                "could not find `x86` in `arch`",
                "could not find `aarch64` in `arch`",
                "could not find `arm` in `arch`",
                "could not find `riscv64` in `arch`",
                "could not find `s390x` in `arch`",
                "invalid instruction mnemonic",
                "unrecognized instruction mnemonic",
            ],
        ) {
            let location = text
                .lines()
                .find_map(|x| x.trim().strip_prefix("--> "))
                .unwrap_or("the reported line")
                .to_owned();
            let arch = arch_in(l).unwrap_or("x86_64");
            let (cause, what) = if e.stage == Level::BuildTests {
                (Cause::ArchSpecificTestCode, "the tests that use it")
            } else {
                (Cause::ArchSpecificCode, "the code that uses it")
            };
            return d(
                cause,
                l,
                format!(
                    "gate it at {location}: #[cfg(target_arch = \"{arch}\")] on the item and on {what}"
                ),
            );
        }
        if let Some(Blocker {
            package: name,
            kind: DependencyKind::DevDependency,
            member: false,
        }) = &e.blocked_by
        {
            let arch = self.facts(triple).cfg.arch;
            return d(
                Cause::TestOnlyDependency,
                first_line(&e.message),
                format!(
                    "the dev-dependency `{name}` does not build for {triple}: move it under [target.'cfg(not(target_arch = \"{arch}\"))'.dev-dependencies] and #[cfg] the tests that use it, or exclude the package on {triple} in the policy"
                ),
            );
        }
        if let Some(d) = self.emulator_problem(triple, &text) {
            return d;
        }
        d(
            Cause::Unknown,
            first_line(&text),
            "no known cause: read the evidence and the full diagnostic in the JSON report"
                .to_owned(),
        )
    }

    fn emulator_problem(&self, triple: &str, text: &str) -> Option<Diagnosis> {
        let facts = self.facts(triple);
        let runner_var = targets::cargo_env_var(triple, "runner");
        let qemu = facts.info.map(|i| i.qemu).unwrap_or("qemu-<arch>");
        if let Some(l) = find_all(text, &["Could not open '", "ld-"]) {
            let sysroot = facts
                .info
                .and_then(|i| i.sysroots.first().copied())
                .unwrap_or("<sysroot>");
            return Some(Diagnosis {
                cause: Cause::EmulatorSysrootMissing,
                evidence: l.trim().to_owned(),
                fix: format!(
                    "give QEMU the target's sysroot: {runner_var}=\"{qemu} -L {sysroot}\" ({})",
                    self.install_linker(triple)
                ),
            });
        }
        if facts.emulated
            && let Some(l) = find(text, &["Illegal instruction", "uncaught target signal 4"])
        {
            return Some(self.illegal_instruction(triple, l.trim().to_owned()));
        }
        None
    }

    /// QEMU's CPU lacks an instruction the code uses: the runner with QEMU's fullest CPU.
    fn illegal_instruction(&self, triple: &str, evidence: String) -> Diagnosis {
        let facts = self.facts(triple);
        let runner_var = targets::cargo_env_var(triple, "runner");
        let qemu = facts.info.map(|i| i.qemu).unwrap_or("qemu-<arch>");
        let cpu = facts.info.map(|i| i.qemu_cpu_full).unwrap_or("max");
        let mut runner = facts
            .runner
            .clone()
            .unwrap_or_else(|| vec![qemu.to_owned()]);
        match runner.iter().position(|a| a == "-cpu") {
            Some(i) if i + 1 < runner.len() => runner[i + 1] = cpu.to_owned(),
            _ => {
                runner.insert(1.min(runner.len()), cpu.to_owned());
                runner.insert(1.min(runner.len()), "-cpu".to_owned());
            }
        }
        Diagnosis {
            cause: Cause::EmulatorIllegalInstruction,
            evidence,
            fix: format!(
                "the emulated CPU lacks an instruction the code uses: {runner_var}=\"{}\" (or build for a CPU QEMU emulates)",
                runner.join(" ")
            ),
        }
    }

    /// Explains a failed or timed-out test.
    pub(crate) fn test_failure(&self, t: &TestFailure<'_>) -> Diagnosis {
        if t.timed_out {
            return Diagnosis {
                cause: Cause::Timeout,
                evidence: first_line(t.output).trim().to_owned(),
                fix: format!(
                    "raise --test-timeout, or skip the test on {} in the policy with a reason",
                    t.triple
                ),
            };
        }
        if self.facts(t.triple).emulated
            && t.status
                == Some(FailureStatus::Signaled {
                    signal: libc::SIGILL,
                })
        {
            // QEMU ends itself with the guest's signal; its own line says so, if it printed one.
            let evidence = find(
                t.output,
                &["uncaught target signal 4", "Illegal instruction", "SIGILL"],
            )
            .unwrap_or("killed by SIGILL")
            .trim()
            .to_owned();
            return self.illegal_instruction(t.triple, evidence);
        }
        if let Some(d) = self.emulator_problem(t.triple, t.output) {
            return d;
        }
        if let Some(d) = miri_problem(t.output) {
            return d;
        }
        if let Some(d) = target_os_problem(t.triple, t.output) {
            return d;
        }
        let evidence = t
            .output
            .lines()
            .find(|l| l.contains("panicked at") || l.contains("assertion"))
            .unwrap_or_else(|| first_line(t.output))
            .trim()
            .to_owned();
        if t.passed_on_host && t.triple != self.host_triple {
            return Diagnosis {
                cause: Cause::ArchAssumption,
                evidence,
                fix: self.differences(t.triple),
            };
        }
        Diagnosis {
            cause: Cause::Unknown,
            evidence,
            fix: "no known cause: read the test's output in the JSON report".to_owned(),
        }
    }

    /// How `triple` differs from the host in the properties tests most often assume.
    fn differences(&self, triple: &str) -> String {
        let f = self.facts(triple);
        let h = &self.host_cfg;
        let endian = |big: bool| if big { "big" } else { "little" };
        let host_page = targets::lookup(&self.host_triple).map(|i| i.page_size);
        let mut diffs = Vec::new();
        if f.cfg.big_endian != h.big_endian {
            diffs.push(format!(
                "byte order ({}-endian, host {}-endian: to_ne_bytes/from_ne_bytes, transmute, casts of byte buffers)",
                endian(f.cfg.big_endian),
                endian(h.big_endian)
            ));
        }
        if f.cfg.pointer_width != h.pointer_width {
            diffs.push(format!(
                "pointer width ({}-bit, host {}-bit: `as usize` truncating a u64, usize/isize sizes and overflow, size_of of structs with pointers)",
                f.cfg.pointer_width, h.pointer_width
            ));
        }
        if f.cfg.os != h.os && !f.cfg.os.is_empty() {
            diffs.push(match f.cfg.os.as_str() {
                "windows" => format!(
                    "the operating system (windows, host {}: `\\` path separators, \\r\\n line endings, drive letters, case-insensitive file names)",
                    h.os
                ),
                "wasi" => format!(
                    "the operating system (wasi, host {}: no threads or processes, files only under preopened directories)",
                    h.os
                ),
                "macos" => format!(
                    "the operating system (macos, host {}: no /proc, case-insensitive file names by default, `libc` constants and errno values of its own, `.dylib` libraries, 16 KiB pages on Apple silicon)",
                    h.os
                ),
                "freebsd" => format!(
                    "the operating system (freebsd, host {}: no /proc by default, `libc` constants and errno values of its own, packages under /usr/local)",
                    h.os
                ),
                os => format!("the operating system ({os}, host {})", h.os),
            });
        }
        if let (Some(p), Some(hp)) = (f.info.map(|i| i.page_size), host_page)
            && p != hp
        {
            diffs.push(format!(
                "page size ({} KiB, host {} KiB)",
                p / 1024,
                hp / 1024
            ));
        }
        let props = format!(
            "{triple}: {}{}-endian, {}-bit pointers{}",
            if f.cfg.os != h.os && !f.cfg.os.is_empty() {
                format!("{}, ", f.cfg.os)
            } else {
                String::new()
            },
            endian(f.cfg.big_endian),
            f.cfg.pointer_width,
            f.info
                .map(|i| format!(", {} KiB pages", i.page_size / 1024))
                .unwrap_or_default()
        );
        if diffs.is_empty() {
            format!(
                "passes on the host, fails on {props}; byte order, pointer width, page size and operating system match the host, so look for other architecture-specific behaviour (char signedness in C, float details, memory ordering)"
            )
        } else {
            format!(
                "passes on the host, fails on {props}; check the test's assumptions about {}",
                diffs.join("; ")
            )
        }
    }
}

/// A target's `cfg` facts from the knowledge base, for when rustc cannot be asked.
pub(crate) fn cfg_of(triple: &str) -> TargetCfg {
    let os = ["windows", "wasi", "darwin", "freebsd", "android", "linux"]
        .into_iter()
        .find(|os| triple.contains(os))
        .map(|os| if os == "darwin" { "macos" } else { os })
        .unwrap_or_default();
    targets::lookup(triple)
        .map(|i| TargetCfg {
            arch: i.arch.to_owned(),
            big_endian: i.big_endian,
            pointer_width: i.pointer_width,
            os: os.to_owned(),
            panic_abort: i.arch == "wasm32",
        })
        .unwrap_or_default()
}

/// A native library the linker refused as built for another architecture: one a build script
/// wrote into its `OUT_DIR` (it compiled it for the host), or one installed for another
/// architecture. GNU ld skips it (`skipping incompatible PATH when searching for -lNAME`), lld
/// stops at it (`error: PATH is incompatible with EMULATION`).
fn foreign_native_library(triple: &str, text: &str) -> Option<Diagnosis> {
    fn gnu(l: &str) -> Option<&str> {
        let rest = l.split("skipping incompatible ").nth(1)?;
        Some(rest.split(" when searching for").next()?.trim())
    }
    fn lld(l: &str) -> Option<&str> {
        let (before, _) = l.split_once(" is incompatible with ")?;
        let path = before.rsplit("error: ").next()?.trim();
        let file = Path::new(path).file_name()?.to_str()?;
        (file.starts_with("lib") && (file.ends_with(".a") || file.contains(".so"))).then_some(path)
    }
    let (line, path) = text
        .lines()
        .find_map(|l| Some((l, gnu(l).or_else(|| lld(l))?)))?;
    let file = Path::new(path)
        .file_name()
        .map(|f| f.to_string_lossy().into_owned())
        .unwrap_or_else(|| path.to_owned());
    // `<target dir>/<triple>/<profile>/build/<package>-<hash>/out/...`
    let built_by = path
        .split("/build/")
        .nth(1)
        .filter(|rest| rest.contains("/out/"))
        .and_then(|rest| rest.split('/').next())
        .and_then(|dir| dir.rsplit_once('-'))
        .map(|(package, _)| package.to_owned());
    let cc_var = format!("CC_{}", triple.replace('-', "_"));
    let fix = match built_by {
        Some(package) => format!(
            "the build script of `{package}` built `{file}` for another architecture (the host's C compiler, most likely): build it with the C compiler for {triple} (cargo gives the script TARGET; the cc crate then finds `{cc_var}` or the target's gcc itself)"
        ),
        None => format!(
            "`{path}` is built for another architecture: install `{file}` built for {triple} (its -dev package for that architecture) and link against that one"
        ),
    };
    Some(Diagnosis {
        cause: Cause::ForeignNativeLibrary,
        evidence: line.trim().trim_start_matches("= note:").trim().to_owned(),
        fix,
    })
}

/// What Miri reported when it stopped a test (`--miri`): undefined behaviour, or an operation
/// it cannot interpret.
pub(crate) fn miri_problem(output: &str) -> Option<Diagnosis> {
    if let Some(l) = find(output, &["error: Undefined Behavior"]) {
        return Some(Diagnosis {
            cause: Cause::UndefinedBehavior,
            evidence: l.trim().to_owned(),
            fix: "Miri caught undefined behaviour in this test's code (unsafe code, or what it calls): its report in the test's output says where the invalid access happened and where the memory came from; fix the code (`MIRIFLAGS=-Zmiri-backtrace=full` for the whole stack)".to_owned(),
        });
    }
    if let Some(l) = find(output, &["error: unsupported operation"]) {
        return Some(Diagnosis {
            cause: Cause::MiriUnsupported,
            evidence: l.trim().to_owned(),
            fix: "Miri cannot interpret this (a foreign C function, a system call or shim it does not support, inline assembly): not a failure of the test; mark it #[cfg_attr(miri, ignore)] to leave it out, and verify it on a machine of the target".to_owned(),
        });
    }
    None
}

/// Failures only some operating systems produce, named from the test's literal output: WASI's
/// unsupported operations, Wine failing to load a DLL, a musl executable mixing in glibc code.
pub(crate) fn target_os_problem(triple: &str, output: &str) -> Option<Diagnosis> {
    let line = |needles: &[&str]| find(output, needles).map(|l| l.trim().to_owned());
    if triple.contains("wasi")
        && let Some(evidence) = line(&[
            "kind: Unsupported",
            "operation not supported on this platform",
            "Unsupported",
        ])
    {
        return Some(Diagnosis {
            cause: Cause::WasiUnsupported,
            evidence,
            fix: "WASI has no threads or processes (and sees files only under preopened directories): mark the test #[cfg_attr(target_os = \"wasi\", ignore = \"needs threads/processes\")], or #[cfg(not(target_os = \"wasi\"))] it".to_owned(),
        });
    }
    if triple.contains("windows")
        && let Some(evidence) = line(&["err:module:import_dll", "c0000135"])
    {
        return Some(Diagnosis {
            cause: Cause::WineDllMissing,
            evidence,
            fix: "Wine cannot load a DLL the test executable imports: install the Wine that provides it (a newer Wine, or the library's Windows build in the Wine prefix's system32 under target/xtest/wine), or run the target on a Windows machine".to_owned(),
        });
    }
    // glibc's symbols, as GNU ld (`undefined reference to `NAME'`) and lld (`undefined symbol:
    // NAME`) name them.
    let glibc_only: Vec<String> = [
        "__isoc",
        "__printf_chk",
        "__memcpy_chk",
        "__fprintf_chk",
        "__sprintf_chk",
        "__stack_chk_guard",
        "gnu_get_libc_version",
    ]
    .iter()
    .flat_map(|s| {
        [
            format!("undefined reference to `{s}"),
            format!("undefined symbol: {s}"),
        ]
    })
    .chain(["GLIBC_".to_owned()])
    .collect();
    if triple.contains("musl")
        && let Some(evidence) = line(&glibc_only.iter().map(String::as_str).collect::<Vec<_>>())
    {
        return Some(Diagnosis {
            cause: Cause::MuslGlibcMix,
            evidence,
            fix: format!(
                "C compiled against glibc's headers was linked into a {triple} executable: compile it with a musl C compiler (CC_{}=musl-gcc from musl-tools on x86_64, an <arch>-linux-musl-gcc elsewhere), or keep glibc-only features (_FORTIFY_SOURCE, GNU extensions) out of it, and link no glibc libraries",
                triple.replace('-', "_")
            ),
        });
    }
    None
}

/// The first line containing a needle, trying the needles in order (most telling first).
fn find<'a>(text: &'a str, needles: &[&str]) -> Option<&'a str> {
    needles
        .iter()
        .find_map(|n| text.lines().find(|l| l.contains(n)))
}

/// The first line containing all of `needles`.
fn find_all<'a>(text: &'a str, needles: &[&str]) -> Option<&'a str> {
    text.lines().find(|l| needles.iter().all(|n| l.contains(n)))
}

fn first_line(text: &str) -> &str {
    text.lines().find(|l| !l.trim().is_empty()).unwrap_or("")
}

fn arch_in(line: &str) -> Option<&'static str> {
    ["x86_64", "aarch64", "riscv64", "s390x", "arm", "x86"]
        .into_iter()
        .find(|a| line.contains(&format!("`{a}`")) || line.contains(&format!("arch::{a}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    use std::path::PathBuf;

    #[test]
    fn target_os_problems_are_named_from_literal_output() {
        // Wine 8 with WINEDEBUG=-all,err+module, Rust's std importing a DLL it lacks.
        let wine = "0024:err:module:import_dll Library bcryptprimitives.dll (which is needed by L\"Z:\\\\t\\\\a.exe\") not found\n0024:err:module:LdrInitializeThunk Importing dlls for L\"Z:\\\\t\\\\a.exe\" failed, status c0000135";
        let d = target_os_problem("x86_64-pc-windows-gnu", wine).unwrap();
        assert_eq!(d.cause, Cause::WineDllMissing);
        assert!(
            d.evidence.contains("bcryptprimitives.dll"),
            "{}",
            d.evidence
        );
        assert!(target_os_problem("x86_64-unknown-linux-gnu", wine).is_none());
        let wasi = "thread 'main' (1) panicked at src/lib.rs:4:5:\nfailed to spawn thread: Os { code: 58, kind: Unsupported, message: \"Not supported\" }";
        let d = target_os_problem("wasm32-wasip1", wasi).unwrap();
        assert_eq!(d.cause, Cause::WasiUnsupported);
        assert!(d.fix.contains("cfg_attr(target_os = \"wasi\""));
        let musl = "  = note: aarch64-linux-gnu-ld: parse.o: in function `xtest_parse':\n          parse.c:6:(.text+0x24): undefined reference to `__sprintf_chk'";
        let d = target_os_problem("aarch64-unknown-linux-musl", musl).unwrap();
        assert_eq!(d.cause, Cause::MuslGlibcMix);
        assert!(d.evidence.contains("__sprintf_chk"));
        assert!(target_os_problem("aarch64-unknown-linux-gnu", musl).is_none());
        // The same through rust-lld (cargo-xtest's pick for an auto-detected cross gcc).
        let lld = "  = note: rust-lld: error: undefined symbol: __sprintf_chk\n          >>> referenced by parse.c:6";
        let d = target_os_problem("aarch64-unknown-linux-musl", lld).unwrap();
        assert_eq!(d.cause, Cause::MuslGlibcMix);
        assert!(d.evidence.contains("undefined symbol: __sprintf_chk"));
    }

    #[test]
    fn dylib_std_and_missing_shared_libraries_are_named() {
        let d = diagnoser();
        let e = BuildError {
            stage: Level::BuildTests,
            message: "cannot satisfy dependencies so `std` only shows up once".to_owned(),
            rendered: None,
            host_unit: false,
            blocked_by: None,
        };
        assert_eq!(d.build_error(S, &e).cause, Cause::DylibStd);
        let start_error = |message: &str| BuildError {
            stage: Level::Test,
            message: message.to_owned(),
            rendered: None,
            host_unit: false,
            blocked_by: None,
        };
        let e = start_error(
            "cannot list the tests of lib (exit status 127):\n[stderr]\n/w/target/debug/deps/natlib-1: error while loading shared libraries: libgreet.so: cannot open shared object file: No such file or directory",
        );
        let dx = d.build_error(S, &e);
        assert_eq!(dx.cause, Cause::SharedLibraryMissing);
        assert!(dx.fix.contains("`libgreet.so`"), "{}", dx.fix);
        // The loader printed nothing: the path it was given is named.
        let e = start_error(
            "cannot list the tests of lib (exit status 127), printing nothing\nthe loader path it was given: LD_LIBRARY_PATH=/w/target/debug:/w/target/debug/deps",
        );
        let dx = d.build_error(S, &e);
        assert_eq!(dx.cause, Cause::SharedLibraryMissing);
        assert!(
            dx.fix
                .contains("LD_LIBRARY_PATH=/w/target/debug:/w/target/debug/deps"),
            "{}",
            dx.fix
        );
    }

    #[test]
    fn a_build_script_library_for_another_architecture_names_its_package() {
        let d = diagnoser();
        let link = |path: &str| BuildError {
            stage: Level::BuildTests,
            message: "linking with `s390x-linux-gnu-gcc` failed: exit status: 1".to_owned(),
            rendered: Some(format!(
                "  = note: /usr/bin/s390x-linux-gnu-ld: skipping incompatible {path} when searching for -lgreet\n          /usr/bin/s390x-linux-gnu-ld: cannot find -lgreet: No such file or directory"
            )),
            host_unit: false,
            blocked_by: None,
        };
        let dx = d.build_error(
            S,
            &link("/w/target/s390x-unknown-linux-gnu/debug/build/nat-lib-0a1b2c/out/libgreet.so"),
        );
        assert_eq!(dx.cause, Cause::ForeignNativeLibrary);
        assert!(
            dx.evidence
                .starts_with("/usr/bin/s390x-linux-gnu-ld: skipping")
        );
        assert!(dx.fix.contains("build script of `nat-lib`"), "{}", dx.fix);
        let dx = d.build_error(S, &link("/usr/lib/x86_64-linux-gnu/libgreet.so"));
        assert_eq!(dx.cause, Cause::ForeignNativeLibrary);
        assert!(
            dx.fix.contains("install `libgreet.so` built for"),
            "{}",
            dx.fix
        ); // rust-lld stops at the library instead of skipping it; a Rust object of the wrong
        // architecture is not a native library (the wrong linker, diagnosed apart).
        let lld = |path: &str| BuildError {
            rendered: Some(format!(
                "  = note: rust-lld: error: {path} is incompatible with elf64-s390\n          collect2: error: ld returned 1 exit status"
            )),
            ..link(path)
        };
        let dx = d.build_error(
            S,
            &lld("/w/target/s390x-unknown-linux-gnu/debug/build/nat-lib-0a1b2c/out/libgreet.so"),
        );
        assert_eq!(dx.cause, Cause::ForeignNativeLibrary);
        assert!(
            dx.evidence.contains("is incompatible with"),
            "{}",
            dx.evidence
        );
        assert!(dx.fix.contains("build script of `nat-lib`"), "{}", dx.fix);
        let dx = d.build_error(S, &lld("/w/target/s390x-unknown-linux-gnu/debug/deps/x.o"));
        assert_ne!(dx.cause, Cause::ForeignNativeLibrary);
    }

    fn diagnoser() -> Diagnoser {
        let s390x = TargetCfg {
            arch: "s390x".into(),
            big_endian: true,
            pointer_width: 64,
            os: "linux".into(),
            panic_abort: false,
        };
        let host_cfg = TargetCfg {
            arch: "x86_64".into(),
            big_endian: false,
            pointer_width: 64,
            os: "linux".into(),
            panic_abort: false,
        };
        let host = Host {
            triple: "x86_64-unknown-linux-gnu".into(),
            arch: "x86_64".into(),
            sysroot: PathBuf::from("/s"),
            rustup: true,
            known_triples: Default::default(),
            package_manager: crate::discover::PackageManager::Apt,
            cargo: PathBuf::from("cargo"),
            rustc: "rustc".into(),
            rustc_version: String::new(),
            cfg_memo: Default::default(),
        };
        Diagnoser {
            fixer: Fixer::new(&host),
            host_triple: host.triple.clone(),
            host_cfg,
            std_fix: BTreeMap::new(),
            targets: [(
                "s390x-unknown-linux-gnu".to_owned(),
                Facts {
                    info: targets::lookup("s390x-unknown-linux-gnu"),
                    cfg: s390x,
                    emulated: true,
                    runner: Some(vec![
                        "qemu-s390x".into(),
                        "-L".into(),
                        "/usr/s390x-linux-gnu".into(),
                    ]),
                },
            )]
            .into_iter()
            .collect(),
        }
    }

    fn err(stage: Level, message: &str, rendered: &str) -> BuildError {
        BuildError {
            stage,
            message: message.into(),
            rendered: Some(rendered.into()),
            host_unit: false,
            blocked_by: None,
        }
    }

    const S: &str = "s390x-unknown-linux-gnu";

    // The literal messages below are the ones recorded in shared/notes/cross-facts.md.
    #[test]
    fn toolchain_causes_from_literal_messages() {
        let d = diagnoser();
        let e = err(
            Level::Check,
            "can't find crate for `std`",
            "error[E0463]: can't find crate for `std`\n  = note: the `s390x-unknown-linux-gnu` target may not be installed",
        );
        assert_eq!(d.build_error(S, &e).cause, Cause::MissingStd);
        let e = err(
            Level::Build,
            "linking with `cc` failed: exit status: 1",
            "error: linking with `cc` failed: exit status: 1\n  = note: rust-lld: error: /t/symbols.o is incompatible with elf64-x86-64",
        );
        let dx = d.build_error(S, &e);
        assert_eq!(dx.cause, Cause::WrongLinker);
        assert_eq!(
            dx.evidence,
            "= note: rust-lld: error: /t/symbols.o is incompatible with elf64-x86-64"
        );
        assert!(
            dx.fix
                .contains("CARGO_TARGET_S390X_UNKNOWN_LINUX_GNU_LINKER=s390x-linux-gnu-gcc"),
            "{}",
            dx.fix
        );
        let e = err(
            Level::Build,
            "linker `s390x-gcc` not found",
            "error: linker `s390x-gcc` not found\n  = note: No such file or directory",
        );
        assert_eq!(d.build_error(S, &e).cause, Cause::LinkerMissing);
    }

    #[test]
    fn a_missing_target_c_library_names_its_package() {
        let d = diagnoser();
        // Linking a test executable without libc6-dev-s390x-cross (ld's literal words).
        let e = err(
            Level::BuildTests,
            "linking with `s390x-linux-gnu-gcc` failed: exit status: 1",
            "error: linking with `s390x-linux-gnu-gcc` failed: exit status: 1\n  = note: /usr/lib/gcc-cross/s390x-linux-gnu/12/../../../../s390x-linux-gnu/bin/ld: cannot find Scrt1.o: No such file or directory\n          /usr/lib/gcc-cross/s390x-linux-gnu/12/../../../../s390x-linux-gnu/bin/ld: cannot find crti.o: No such file or directory",
        );
        let dx = d.build_error(S, &e);
        assert_eq!(dx.cause, Cause::CLibraryMissing);
        assert!(
            dx.evidence.contains("cannot find Scrt1.o"),
            "{}",
            dx.evidence
        );
        assert!(dx.fix.ends_with("libc6-dev-s390x-cross"), "{}", dx.fix);
        // A `cc`-crate build script compiling C for the target without its headers.
        let e = err(
            Level::Check,
            "build script of `c-checksum v0.1.0` failed",
            "error: failed to run custom build command for `c-checksum v0.1.0`\n  --- stdout\n  cargo:warning=/usr/include/stdint.h:26:10: fatal error: bits/libc-header-start.h: No such file or directory\n  --- stderr\n  error occurred in cc-rs: command did not execute successfully",
        );
        let dx = d.build_error(S, &e);
        assert_eq!(dx.cause, Cause::CLibraryMissing);
        assert_eq!(
            dx.evidence,
            "/usr/include/stdint.h:26:10: fatal error: bits/libc-header-start.h: No such file or directory"
        );
    }

    #[test]
    fn unknown_stays_unknown_with_raw_evidence() {
        let d = diagnoser();
        let e = err(
            Level::Build,
            "mismatched types",
            "error[E0308]: mismatched types",
        );
        let dx = d.build_error(S, &e);
        assert_eq!(dx.cause, Cause::Unknown);
        assert_eq!(dx.evidence, "mismatched types");
        let t = TestFailure {
            triple: S,
            timed_out: false,
            status: Some(FailureStatus::Failed),
            output: "thread 'x' panicked at src/lib.rs:1:1:\nboom",
            passed_on_host: false,
        };
        assert_eq!(d.test_failure(&t).cause, Cause::Unknown);
    }

    #[test]
    fn arch_assumption_names_the_differences() {
        let d = diagnoser();
        let t = TestFailure {
            triple: S,
            timed_out: false,
            status: Some(FailureStatus::Failed),
            output: "thread 'x' panicked at src/lib.rs:51:9:\nassertion `left == right` failed",
            passed_on_host: true,
        };
        let dx = d.test_failure(&t);
        assert_eq!(dx.cause, Cause::ArchAssumption);
        assert_eq!(dx.evidence, "thread 'x' panicked at src/lib.rs:51:9:");
        assert!(dx.fix.contains("big-endian"), "{}", dx.fix);
        assert!(dx.fix.contains("byte order"), "{}", dx.fix);
        assert!(!dx.fix.contains("pointer width ("), "{}", dx.fix);
    }

    /// macOS and FreeBSD (reached by Miri and zig) name what their systems do differently; Miri's
    /// own reports are their causes, whatever the target.
    #[test]
    fn os_facts_of_macos_and_freebsd_and_miris_reports() {
        let d = diagnoser();
        for (triple, fact) in [
            ("aarch64-apple-darwin", "case-insensitive file names"),
            ("x86_64-unknown-freebsd", "/usr/local"),
        ] {
            let t = TestFailure {
                triple,
                timed_out: false,
                status: Some(FailureStatus::Failed),
                output: "thread 'x' panicked at src/lib.rs:3:9:",
                passed_on_host: true,
            };
            let dx = d.test_failure(&t);
            assert_eq!(dx.cause, Cause::ArchAssumption);
            assert!(dx.fix.contains(fact), "{triple}: {}", dx.fix);
        }
        let ub = "running 1 test\nerror: Undefined Behavior: memory access failed: alloc1 has been freed\n --> src/lib.rs:6:9";
        let t = TestFailure {
            triple: "x86_64-pc-windows-msvc",
            timed_out: false,
            status: Some(FailureStatus::Exited { code: 1 }),
            output: ub,
            passed_on_host: true,
        };
        let dx = d.test_failure(&t);
        assert_eq!(dx.cause, Cause::UndefinedBehavior);
        assert!(
            dx.evidence.starts_with("error: Undefined Behavior"),
            "{}",
            dx.evidence
        );
        let dx = miri_problem(
            "error: unsupported operation: can't call foreign function `f` on OS `linux`",
        )
        .unwrap();
        assert_eq!(dx.cause, Cause::MiriUnsupported);
        assert!(miri_problem("thread 'x' panicked").is_none());
    }

    #[test]
    fn illegal_instruction_suggests_a_cpu() {
        let d = diagnoser();
        let t = TestFailure {
            triple: S,
            timed_out: false,
            status: Some(FailureStatus::Signaled {
                signal: libc::SIGILL,
            }),
            output: "the test binary ended (killed by signal 4 (SIGILL)) while this test was running\nqemu: uncaught target signal 4 (Illegal instruction) - core dumped",
            passed_on_host: true,
        };
        let dx = d.test_failure(&t);
        assert_eq!(dx.cause, Cause::EmulatorIllegalInstruction);
        assert!(
            dx.fix
                .contains("\"qemu-s390x -cpu max -L /usr/s390x-linux-gnu\""),
            "{}",
            dx.fix
        );
    }
}
