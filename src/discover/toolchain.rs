//! Per-target toolchain discovery: is std installed, which linker links for the target, and how
//! its executables can run (natively, through a user-configured runner, or under QEMU with a
//! sysroot). User configuration always wins over auto-detection.

use std::path::{Path, PathBuf};

use super::cargo_config::{CargoConfig, Configured, Source, TargetKey};
use super::host::{Host, TargetCfg};
use crate::runner::{Launcher, RunnerKind};
use crate::targets::{self, LinkVia, RunVia, TargetInfo};

/// A program (linker, C compiler) that was configured or found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Tool {
    pub program: String,
    pub source: Source,
    /// Where the program was found on this host; `None` if it was configured but is missing.
    pub path: Option<PathBuf>,
}

/// How the target's executables run on this host.
#[derive(Debug, Clone)]
pub(crate) enum Runner {
    /// They run natively.
    Native,
    /// They run through a command (a user runner or QEMU); an empty `argv` with `env` means the
    /// kernel runs them through a binfmt_misc registration.
    Command {
        argv: Vec<String>,
        env: Vec<(String, String)>,
        source: Source,
        /// Decided here, once: every command that starts an executable reads it.
        kind: RunnerKind,
    },
}

impl Runner {
    /// The runner as the probes and the run start executables with it.
    pub(crate) fn launcher(&self) -> Launcher {
        match self {
            Runner::Native => Launcher::native(),
            Runner::Command {
                argv,
                env,
                source,
                kind,
            } => Launcher {
                kind: *kind,
                argv: argv.clone(),
                env: env.clone(),
                // The wasmtime runner cargo-xtest set up; a configured one runs as cargo runs it.
                preopen: *kind == RunnerKind::Wasmtime && *source == Source::AutoDetected,
            },
        }
    }

    pub(crate) fn describe(&self) -> String {
        match self {
            Runner::Native => "native".to_owned(),
            Runner::Command { argv, env, .. } if argv.is_empty() => {
                let env: Vec<String> = env.iter().map(|(k, v)| format!("{k}={v}")).collect();
                format!("binfmt_misc ({})", env.join(" "))
            }
            Runner::Command { argv, .. } => argv.join(" "),
        }
    }
}

/// Why no runner is available.
#[derive(Debug, Clone)]
pub(crate) enum RunnerProblem {
    /// A runner is configured but its program is not on this host.
    ConfiguredMissing { program: String, source: Source },
    /// The QEMU user-mode emulator for the target is not installed.
    NoEmulator { qemu: String },
    /// QEMU is there but the target's dynamic loader / C library is not.
    NoSysroot {
        qemu: String,
        loader: String,
        looked_in: Vec<String>,
    },
    /// The target's runner (Wine, wasmtime) is not installed.
    NotInstalled { program: String },
    /// Nothing on a Linux host runs the target's executables; the text says what would.
    Unavailable { lift: &'static str },
    /// This tool does not know how to emulate the target, and nothing is configured.
    Unknown,
    /// `--miri`: Miri is not installed (`what` is missing).
    MiriMissing { what: String },
}

impl RunnerProblem {
    /// The cause a step down for this problem is filed under.
    pub(crate) fn cause(&self) -> crate::cause::Cause {
        use crate::cause::Cause;
        match self {
            RunnerProblem::NoSysroot { .. } => Cause::EmulatorSysrootMissing,
            RunnerProblem::Unavailable { .. } => Cause::NotAvailableHere,
            RunnerProblem::MiriMissing { .. } => Cause::MiriMissing,
            _ => Cause::EmulatorMissing,
        }
    }
}

/// Where cargo-xtest keeps what it sets up for runners: the workspace's `target/xtest`, else a
/// per-user cache directory.
pub(crate) fn state_dir(target_dir: Option<&Path>) -> PathBuf {
    match target_dir {
        Some(d) => d.join("xtest"),
        None => std::env::var_os("XDG_CACHE_HOME")
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".cache")))
            .unwrap_or_else(std::env::temp_dir)
            .join("cargo-xtest"),
    }
}

/// The Wine prefix cargo-xtest uses for `triple` (created and prepared by the run probe), so
/// that Wine's first-start cost is paid once and the user's `~/.wine` is never touched.
pub(crate) fn wine_prefix(state: &Path, triple: &str) -> PathBuf {
    state.join("wine").join(triple)
}

/// Everything discovered about one target on this host.
#[derive(Debug, Clone)]
pub(crate) struct TargetToolchain {
    pub triple: crate::ids::Triple,
    pub info: Option<&'static TargetInfo>,
    pub cfg: TargetCfg,
    pub std_installed: bool,
    pub linker: Option<Tool>,
    /// The C compiler a build script's `cc` crate would use for the target.
    pub c_compiler: Option<Tool>,
    /// The QEMU user-mode binary found on PATH.
    pub emulator: Option<String>,
    /// A binfmt_misc entry runs the target's executables through QEMU.
    pub binfmt: bool,
    /// The sysroot holding the target's dynamic loader (`None` if missing or not needed).
    pub sysroot: Option<String>,
    pub runner: Result<Runner, RunnerProblem>,
    /// What the probes proved ([`super::probe::probe_all`] returns them; empty before).
    pub probes: super::probe::Probes,
    /// `--miri`: the tests are built by cargo-miri and interpreted by Miri (the runner), which
    /// needs no linker, C library or emulator.
    pub miri: Option<Miri>,
}

/// Nightly's Miri, as `cargo miri test` uses it: `cargo-miri` (the rustc wrapper, the runner),
/// the nightly cargo it drives, and the Miri sysroot it builds once per target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Miri {
    pub cargo_miri: PathBuf,
    pub cargo: PathBuf,
    pub sysroot: PathBuf,
}

/// The toolchain Miri is taken from.
pub(crate) const MIRI_TOOLCHAIN: &str = "nightly";

impl Miri {
    /// How long one interpreted test may run when `--test-timeout` is not given: Miri takes
    /// 10–1000× a test's native time, so a test of a few seconds natively can take many
    /// minutes; one that takes longer is reported `timed-out`.
    pub(crate) const TEST_BUDGET: std::time::Duration = std::time::Duration::from_secs(600);

    /// The nightly toolchain's sysroot: the host libraries (libstd's `.so`) of what cargo-miri
    /// builds natively, a proc-macro's tests.
    pub(crate) fn toolchain_sysroot(&self) -> PathBuf {
        self.cargo
            .parent()
            .and_then(Path::parent)
            .map(Path::to_path_buf)
            .unwrap_or_default()
    }

    /// The command that installs it.
    pub(crate) fn install() -> Vec<String> {
        [
            "rustup",
            "toolchain",
            "install",
            MIRI_TOOLCHAIN,
            "--profile",
            "minimal",
            "-c",
            "miri,rust-src",
        ]
        .map(str::to_owned)
        .to_vec()
    }

    /// Nightly's cargo-miri with `rust-src` beside it (Miri builds its sysroot from it), or
    /// what is missing. The sysroot is `MIRI_SYSROOT` when set, else Miri's own default
    /// (`$XDG_CACHE_HOME/miri`), shared by every workspace.
    pub(crate) fn find() -> Result<Miri, RunnerProblem> {
        let missing = |what: &str| RunnerProblem::MiriMissing {
            what: what.to_owned(),
        };
        let out = std::process::Command::new("rustup")
            .args(["which", "--toolchain", MIRI_TOOLCHAIN, "cargo-miri"])
            .output()
            .map_err(|_| missing("rustup"))?;
        if !out.status.success() {
            return Err(missing(&format!(
                "{MIRI_TOOLCHAIN} with the miri component"
            )));
        }
        let cargo_miri = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
        let bin = cargo_miri.parent().ok_or_else(|| missing("cargo-miri"))?;
        let src = bin.join("../lib/rustlib/src/rust/library");
        if !src.is_dir() {
            return Err(missing(&format!(
                "the rust-src component of {MIRI_TOOLCHAIN}"
            )));
        }
        let sysroot = std::env::var_os("MIRI_SYSROOT")
            .map(PathBuf::from)
            .or_else(|| {
                std::env::var_os("XDG_CACHE_HOME")
                    .map(PathBuf::from)
                    .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".cache")))
                    .map(|c| c.join("miri"))
            })
            .ok_or_else(|| missing("a cache directory (HOME) for Miri's sysroot"))?;
        Ok(Miri {
            cargo: bin.join("cargo"),
            cargo_miri,
            sysroot,
        })
    }

    /// The environment every cargo-miri invocation gets: nightly's cargo and rustc. (Not
    /// `MIRI_SYSROOT`: set, cargo-miri takes it as complete and builds no target's sysroot.)
    pub(crate) fn env(&self) -> Vec<(String, String)> {
        vec![
            ("CARGO".to_owned(), self.cargo.display().to_string()),
            ("RUSTUP_TOOLCHAIN".to_owned(), MIRI_TOOLCHAIN.to_owned()),
        ]
    }

    /// The runner: `cargo-miri runner <file> <args>` interprets the crate the file names, with
    /// the sysroot the build set up (cargo-miri hands it to the runners it starts itself).
    pub(crate) fn runner(&self) -> Runner {
        let mut env = self.env();
        env.push((
            "MIRI_SYSROOT".to_owned(),
            self.sysroot.display().to_string(),
        ));
        Runner::Command {
            argv: vec![self.cargo_miri.display().to_string(), "runner".to_owned()],
            env,
            source: Source::Default,
            kind: RunnerKind::Miri,
        }
    }

    /// `cargo-miri miri <subcommand>` (what `cargo +nightly miri <subcommand>` runs).
    pub(crate) fn cargo_command(&self, subcommand: &str) -> std::process::Command {
        let mut cmd = std::process::Command::new(&self.cargo_miri);
        cmd.args(["miri", subcommand]).envs(self.env());
        cmd
    }
}

impl TargetToolchain {
    /// Discovers `triple`'s toolchain; `cfg` is what rustc reports for it.
    pub(crate) fn discover(
        host: &Host,
        config: &CargoConfig,
        triple: &str,
        cfg: TargetCfg,
        state: &Path,
    ) -> crate::error::Result<Self> {
        let info = targets::lookup(triple);
        let native = triple == host.triple
            || info.is_some_and(|i| i.native_on == Some(host.arch.as_str()) && cfg.os == "linux");
        let (emulator, binfmt, sysroot) = emulation(info);
        let found = Found {
            emulator: emulator.as_deref(),
            binfmt,
            sysroot: sysroot.as_deref(),
        };
        let linker = find_linker(host, config, triple, info, native, state);
        Ok(TargetToolchain {
            triple: triple.into(),
            info,
            std_installed: host.has_std(triple),
            c_compiler: find_c_compiler(triple, info, native, linker.as_ref()),
            linker,
            runner: find_runner(config, triple, info, native, found, state),
            emulator,
            binfmt,
            sysroot,
            cfg,
            probes: Default::default(),
            miri: None,
        })
    }

    /// Links with rust-lld through an auto-detected cross gcc ([`lld_linker`])?
    pub(crate) fn links_with_lld(&self) -> bool {
        self.linker.as_ref().is_some_and(|l| {
            let dir = Path::new(&l.program).parent().and_then(Path::file_name);
            l.source == Source::AutoDetected && dir.is_some_and(|d| d == LLD_DIR)
        })
    }

    /// The linker as `plan` and `doctor` name it: the program and where it came from, and for
    /// the rust-lld wrapper the gcc it drives and what it links with.
    pub(crate) fn linker_label(&self) -> Option<String> {
        let l = self.linker.as_ref()?;
        Some(match Path::new(&l.program).file_name() {
            Some(gcc) if self.links_with_lld() => {
                format!("{} with rust-lld ({})", gcc.to_string_lossy(), l.source)
            }
            _ => format!("{} ({})", l.program, l.source),
        })
    }

    /// The same target linked by its cross gcc's own default linker (GNU ld): where the probes
    /// refute rust-lld.
    pub(crate) fn without_lld(&self) -> Option<Self> {
        let wrapper = self.linker.as_ref().filter(|_| self.links_with_lld())?;
        let name = Path::new(&wrapper.program).file_name()?.to_str()?;
        let mut plain = self.clone();
        let gcc = Tool {
            program: name.to_owned(),
            source: Source::AutoDetected,
            path: Some(which::which(name).ok()?),
        };
        // The `cc` crate compiles C with the linker's gcc: the plain one now.
        if plain.c_compiler.as_ref() == Some(wrapper) {
            plain.c_compiler = Some(gcc.clone());
        }
        plain.linker = Some(gcc);
        plain.probes = Default::default();
        Some(plain)
    }

    /// Makes it a target whose tests Miri interprets (`--miri`), or says why it cannot be.
    /// The target's interpreted lane: its tests built by cargo-miri and run by Miri (or Miri
    /// missing, which that lane then says).
    pub(crate) fn interpreted(&self) -> bool {
        self.miri.is_some() || matches!(self.runner, Err(RunnerProblem::MiriMissing { .. }))
    }

    pub(crate) fn interpret(&mut self, miri: &Result<Miri, RunnerProblem>) {
        match miri {
            Ok(m) => {
                self.runner = Ok(m.runner());
                self.miri = Some(m.clone());
            }
            Err(problem) => self.runner = Err(problem.clone()),
        }
    }

    /// How `triple`'s executables run here, for a machine with no Rust toolchain (an archive
    /// run): user runner first, natively on a matching architecture, else QEMU with a sysroot.
    pub(crate) fn runner_only(
        host: &Host,
        config: &CargoConfig,
        triple: &str,
        state: &Path,
    ) -> Result<Runner, RunnerProblem> {
        let info = targets::lookup(triple);
        let native =
            triple == host.triple || info.is_some_and(|i| i.native_on == Some(host.arch.as_str()));
        let (emulator, binfmt, sysroot) = emulation(info);
        let found = Found {
            emulator: emulator.as_deref(),
            binfmt,
            sysroot: sysroot.as_deref(),
        };
        find_runner(config, triple, info, native, found, state)
    }

    /// Environment variables that hand auto-detected tools to cargo (never written to files).
    pub(crate) fn cargo_env(&self) -> Vec<(String, String)> {
        let mut env = Vec::new();
        if let Some(l) = &self.linker
            && l.source == Source::AutoDetected
        {
            env.push((
                targets::cargo_env_var(&self.triple, "linker"),
                l.program.clone(),
            ));
            // Build scripts compiling C (the `cc` crate) use zig for the target too, and its
            // archiver: the host's `ar` does not index Mach-O objects.
            if self.info.is_some_and(|i| matches!(i.link, LinkVia::Zig(_)))
                && self.c_compiler.as_ref() == Some(l)
                && let Some(ar) = l
                    .path
                    .as_ref()
                    .and_then(|p| p.parent())
                    .map(|d| d.join(format!("zig-ar-{}", self.triple)))
            {
                let var = self.triple.replace('-', "_");
                env.push((format!("CC_{var}"), l.program.clone()));
                env.push((format!("AR_{var}"), ar.display().to_string()));
            }
            // The `cc` crate names the archiver after the linker's prefix, which for the lld
            // wrapper is its directory: the gcc's own binutils.
            if self.links_with_lld()
                && let Some(ar) = Path::new(&l.program)
                    .file_name()
                    .and_then(|n| n.to_str()?.strip_suffix("-gcc"))
                    .map(|prefix| format!("{prefix}-ar"))
                    .filter(|ar| which::which(ar).is_ok())
            {
                env.push((format!("AR_{}", self.triple.replace('-', "_")), ar));
            }
        }
        if let Ok(Runner::Command {
            argv,
            env: renv,
            source,
            ..
        }) = &self.runner
            && *source == Source::AutoDetected
        {
            // The runner's environment (QEMU_LD_PREFIX for binfmt_misc, Wine's prefix) reaches
            // the processes cargo starts through it, doctests included.
            env.extend(renv.iter().cloned());
            if !argv.is_empty() {
                env.push((
                    targets::cargo_env_var(&self.triple, "runner"),
                    argv.join(" "),
                ));
            }
        }
        env
    }
}

fn find_linker(
    host: &Host,
    config: &CargoConfig,
    triple: &str,
    info: Option<&TargetInfo>,
    native: bool,
    state: &Path,
) -> Option<Tool> {
    if let Some(Configured { argv, source }) = config.target_program(triple, TargetKey::Linker) {
        let program = argv[0].clone();
        return Some(Tool {
            path: which::which(&program).ok(),
            program,
            source,
        });
    }
    if native && let Ok(path) = which::which("cc") {
        return Some(Tool {
            program: "cc".to_owned(),
            source: Source::Default,
            path: Some(path),
        });
    }
    let info = info?;
    match info.link {
        LinkVia::Gcc => {}
        // rustc links with the rust-lld it ships (in the host's rustlib): nothing to hand cargo.
        LinkVia::Bundled => {
            let lld = host
                .sysroot
                .join("lib/rustlib")
                .join(&host.triple)
                .join("bin/rust-lld");
            return Some(Tool {
                program: "rust-lld".to_owned(),
                source: Source::Default,
                path: lld.is_file().then_some(lld),
            });
        }
        LinkVia::Zig(zig_target) => return zig_linker(triple, zig_target, state),
        LinkVia::Unavailable(_) => return None,
    }
    let gcc = info.linkers.iter().find_map(|name| {
        which::which(name).ok().map(|path| Tool {
            program: (*name).to_owned(),
            source: Source::AutoDetected,
            path: Some(path),
        })
    })?;
    Some(lld_linker(host, &gcc, state).unwrap_or(gcc))
}

/// The directory of the `ld.lld` rustc ships for gcc's `-fuse-ld=lld` (a `gcc-ld` wrapper
/// around its `rust-lld`), when this toolchain has it.
fn bundled_gcc_ld(host: &Host) -> Option<PathBuf> {
    let dir = host
        .sysroot
        .join("lib/rustlib")
        .join(&host.triple)
        .join("bin/gcc-ld");
    dir.join("ld.lld").is_file().then_some(dir)
}

/// What an auto-detected cross gcc links with: the wrapper `rust-lld/<gcc>` under the state
/// directory, which runs the gcc with rustc's own lld (`-B<gcc-ld> -fuse-ld=lld`) in place of
/// GNU ld. It keeps the gcc's name, so that the `cc` crate still takes the compiler prefix from
/// the linker (`RUSTC_LINKER`) as it does with the plain gcc; the archiver that prefix names is
/// handed over beside it ([`TargetToolchain::cargo_env`]). The linker is not part of cargo's
/// unit hashes: the executables keep `cargo test`'s paths. The probes prove it links and runs;
/// where they do not, the plain gcc is used ([`TargetToolchain::without_lld`]).
fn lld_linker(host: &Host, gcc: &Tool, state: &Path) -> Option<Tool> {
    let gcc_ld = bundled_gcc_ld(host)?;
    let wrapper = state.join(LLD_DIR).join(&gcc.program);
    let text = format!(
        "#!/bin/sh\nexec {} -B{} -fuse-ld=lld \"$@\"\n",
        sh_quote(gcc.path.as_deref()?),
        sh_quote(&gcc_ld)
    );
    write_script(&wrapper, &text)?;
    Some(Tool {
        program: wrapper.display().to_string(),
        source: Source::AutoDetected,
        path: Some(wrapper),
    })
}

/// The directory of the lld wrappers under the state directory.
const LLD_DIR: &str = "rust-lld";

/// `path` quoted for `sh`.
fn sh_quote(path: &Path) -> String {
    format!("'{}'", path.display().to_string().replace('\'', r"'\''"))
}

/// Writes an executable script unless it already holds `text`.
fn write_script(path: &Path, text: &str) -> Option<()> {
    if std::fs::read_to_string(path).ok().as_deref() != Some(text) {
        use std::os::unix::fs::PermissionsExt;
        std::fs::create_dir_all(path.parent()?).ok()?;
        crate::fsutil::write_atomic(path, text.as_bytes()).ok()?;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).ok()?;
    }
    Some(())
}

/// The zig wrappers cargo-xtest keeps for `triple` under its state directory: `zig-cc-<triple>`
/// (the linker, and the C compiler build scripts use) and `zig-ar-<triple>`, each running
/// cargo-zigbuild's `zig cc`/`zig ar`, which fix the arguments rustc and the `cc` crate pass.
pub(crate) fn zig_wrappers(state: &Path, triple: &str) -> (PathBuf, PathBuf) {
    let dir = state.join("zig");
    (
        dir.join(format!("zig-cc-{triple}")),
        dir.join(format!("zig-ar-{triple}")),
    )
}

/// A zig-linked target's linker: the wrapper around cargo-zigbuild's `zig cc` for `zig_target`,
/// written (or rewritten when cargo-zigbuild moved) when cargo-zigbuild is on PATH.
fn zig_linker(triple: &str, zig_target: &str, state: &Path) -> Option<Tool> {
    let driver = which::which(targets::ZIG_DRIVER).ok()?;
    let (cc, ar) = zig_wrappers(state, triple);
    let quoted = sh_quote(&driver);
    write_script(
        &cc,
        &format!("#!/bin/sh\nexec {quoted} zig cc -- -g -target {zig_target} \"$@\"\n"),
    )?;
    write_script(&ar, &format!("#!/bin/sh\nexec {quoted} zig ar \"$@\"\n"))?;
    Some(Tool {
        program: cc.display().to_string(),
        source: Source::AutoDetected,
        path: Some(cc),
    })
}

/// The QEMU binary on PATH, whether binfmt_misc runs the target's executables, and the sysroot
/// holding the target's dynamic loader.
fn emulation(info: Option<&TargetInfo>) -> (Option<String>, bool, Option<String>) {
    let sysroot = info.and_then(|i| {
        let loader = i.loader?;
        i.sysroots
            .iter()
            .find(|s| Path::new(s).join(loader).exists())
            .map(|s| (*s).to_owned())
    });
    (
        info.and_then(qemu_binary),
        info.is_some_and(binfmt_registered),
        sysroot,
    )
}

/// What discovery found for emulation, handed to [`find_runner`].
struct Found<'a> {
    emulator: Option<&'a str>,
    binfmt: bool,
    sysroot: Option<&'a str>,
}

/// The C compiler the `cc` crate would pick: `CC_<triple>` / `CC_<triple_with_underscores>` /
/// `TARGET_CC` (cross) or `CC` (host); else, cross, the gcc named by the linker cargo hands
/// build scripts as `RUSTC_LINKER` (`<prefix>-gcc` gives the prefix, so aarch64 musl uses
/// `aarch64-linux-gnu-gcc`); else the target's gcc driver (host: `cc`) on PATH.
fn find_c_compiler(
    triple: &str,
    info: Option<&TargetInfo>,
    native: bool,
    linker: Option<&Tool>,
) -> Option<Tool> {
    let mut vars = vec![
        format!("CC_{triple}"),
        format!("CC_{}", triple.replace('-', "_")),
    ];
    vars.push(if native { "CC" } else { "TARGET_CC" }.to_owned());
    for var in vars {
        if let Ok(v) = std::env::var(&var) {
            let program = v.split_whitespace().next().unwrap_or_default().to_owned();
            return Some(Tool {
                path: which::which(&program).ok(),
                program,
                source: Source::Env(var),
            });
        }
    }
    // A cross gcc compiles C for its target too; so does the zig wrapper that links it.
    if !native
        && let Some(l) = linker.filter(|l| {
            l.path.is_some()
                && (l.program.ends_with("-gcc")
                    || (info.is_some_and(|i| matches!(i.link, LinkVia::Zig(_)))
                        && l.source == Source::AutoDetected))
        })
    {
        return Some(l.clone());
    }
    let (name, source) = if native {
        ("cc".to_owned(), Source::Default)
    } else {
        (info?.linkers.first()?.to_string(), Source::AutoDetected)
    };
    which::which(&name).ok().map(|path| Tool {
        program: name,
        source,
        path: Some(path),
    })
}

fn find_runner(
    config: &CargoConfig,
    triple: &str,
    info: Option<&TargetInfo>,
    native: bool,
    found: Found<'_>,
    state: &Path,
) -> Result<Runner, RunnerProblem> {
    if let Some(Configured { argv, source }) = config.target_program(triple, TargetKey::Runner) {
        if which::which(&argv[0]).is_err() {
            return Err(RunnerProblem::ConfiguredMissing {
                program: argv[0].clone(),
                source,
            });
        }
        return Ok(Runner::Command {
            kind: RunnerKind::of_command(&argv, &[]),
            argv,
            env: Vec::new(),
            source,
        });
    }
    if native {
        return Ok(Runner::Native);
    }
    let Some(info) = info else {
        return Err(RunnerProblem::Unknown);
    };
    match info.run {
        RunVia::Qemu => {}
        RunVia::Wine => return wine_runner(state, triple),
        RunVia::Wasmtime => return wasmtime_runner(),
        RunVia::Unavailable(lift) => return Err(RunnerProblem::Unavailable { lift }),
    }
    if found.emulator.is_none() && !found.binfmt {
        return Err(RunnerProblem::NoEmulator {
            qemu: info.qemu.to_owned(),
        });
    }
    if let (Some(loader), None) = (info.loader, found.sysroot) {
        return Err(RunnerProblem::NoSysroot {
            qemu: info.qemu.to_owned(),
            loader: loader.to_owned(),
            looked_in: info.sysroots.iter().map(|s| (*s).to_owned()).collect(),
        });
    }
    let sysroot = found.sysroot.map(str::to_owned);
    let (argv, env) = match found.emulator {
        Some(qemu) => {
            let mut argv = vec![qemu.to_owned()];
            if let Some(cpu) = info.qemu_cpu {
                argv.extend(["-cpu".to_owned(), cpu.to_owned()]);
            }
            if let Some(s) = sysroot {
                argv.extend(["-L".to_owned(), s]);
            }
            (argv, Vec::new())
        }
        // The kernel runs the binaries through QEMU; QEMU_LD_PREFIX points it at the sysroot.
        None => (
            Vec::new(),
            sysroot
                .map(|s| vec![("QEMU_LD_PREFIX".to_owned(), s)])
                .unwrap_or_default(),
        ),
    };
    Ok(Runner::Command {
        argv,
        env,
        source: Source::AutoDetected,
        kind: RunnerKind::Qemu,
    })
}

/// Wine, in cargo-xtest's own prefix for the target, quiet but for DLL loading errors
/// (`WINEDEBUG=-all,err+module`: Wine's fixme and warning lines are not the tests' output, while
/// a DLL that cannot be loaded is named on stderr, the evidence of `wine-dll-missing`).
fn wine_runner(state: &Path, triple: &str) -> Result<Runner, RunnerProblem> {
    let program = ["wine", "wine64"]
        .into_iter()
        .find(|p| which::which(p).is_ok())
        .ok_or_else(|| RunnerProblem::NotInstalled {
            program: "wine".to_owned(),
        })?;
    Ok(Runner::Command {
        argv: vec![program.to_owned()],
        env: vec![
            (
                "WINEPREFIX".to_owned(),
                wine_prefix(state, triple).display().to_string(),
            ),
            ("WINEDEBUG".to_owned(), "-all,err+module".to_owned()),
        ],
        source: Source::AutoDetected,
        kind: RunnerKind::Wine,
    })
}

/// wasmtime, with the test's working directory (its package directory) preopened as `.` and
/// the environment passed through, as a WASI test under `cargo test` with this runner sees it.
fn wasmtime_runner() -> Result<Runner, RunnerProblem> {
    which::which("wasmtime").map_err(|_| RunnerProblem::NotInstalled {
        program: "wasmtime".to_owned(),
    })?;
    Ok(Runner::Command {
        argv: WASMTIME_ARGV.iter().map(|a| (*a).to_owned()).collect(),
        env: Vec::new(),
        source: Source::AutoDetected,
        kind: RunnerKind::Wasmtime,
    })
}

/// The runner command for WASI targets.
pub(crate) const WASMTIME_ARGV: &[&str] = &["wasmtime", "run", "--dir=.", "-S", "inherit-env"];

fn qemu_binary(info: &TargetInfo) -> Option<String> {
    [info.qemu.to_owned(), format!("{}-static", info.qemu)]
        .into_iter()
        .find(|name| which::which(name).is_ok())
}

fn binfmt_registered(info: &TargetInfo) -> bool {
    let entry = Path::new("/proc/sys/fs/binfmt_misc").join(info.qemu);
    std::fs::read_to_string(entry).is_ok_and(|s| s.starts_with("enabled"))
}
