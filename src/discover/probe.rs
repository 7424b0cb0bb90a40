//! Probes: prove on this host, per target, what discovery only saw lying around. A program on
//! `PATH` and a sysroot directory prove nothing (a cross gcc without the target C library exists
//! but cannot link), so before the planner claims a rung it is shown to work:
//!
//! - **link** (`build`, `build-tests`): a minimal Rust test executable, linked with the target's
//!   configured or detected linker;
//! - **run** (`test`): that executable run through the target's runner, which must exit 0 and
//!   report its one test passed;
//! - **C** (build scripts that compile C): a one-line C program compiled and linked with the C
//!   compiler the `cc` crate would pick.
//!
//! Results are cached under the workspace's target directory, keyed on everything they depend
//! on (rustc's identity, the tools' paths and file identities, the runner, the sysroot and the
//! package database), so a warm run pays one small file read per target. Failures that ended at
//! the time limit are never cached. Probes of different targets run in parallel.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use super::cargo_config::Source;
use super::host::Host;
use super::toolchain::{Runner, TargetToolchain};
use crate::cause::{self, Cause};
use crate::error::Context;
use crate::level::Level;
use crate::runner::RunnerKind;

/// Bumped whenever what a probe does changes, so older cached results are not reused.
const PROBE_FORMAT: &str = "cargo-xtest probes v4";
/// One probe may take this long (a first QEMU start on a loaded machine is the slowest).
const PROBE_LIMIT: Duration = Duration::from_secs(120);
/// How much of a probe's output is kept as evidence.
const KEEP_OUTPUT: usize = 8 * 1024;

const RUST_PROBE: &str = "#[test]\nfn probe() {}\n";
const C_PROBE: &str = "#include <stdio.h>\nint main(void) { return puts(\"\") < 0; }\n";

/// What a probe proves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub(crate) enum ProbeKind {
    /// A Rust test executable links.
    Link,
    /// It runs through the runner and its test passes.
    Run,
    /// A C program compiles and links with the target's C compiler.
    CCompiler,
}

impl ProbeKind {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            ProbeKind::Link => "link",
            ProbeKind::Run => "run",
            ProbeKind::CCompiler => "c-compiler",
        }
    }
}

/// The outcome of one probe.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct ProbeResult {
    pub kind: ProbeKind,
    pub ok: bool,
    /// The command that was run.
    pub command: String,
    /// Why it failed: the status, then the literal output (bounded); empty when it passed.
    pub output: String,
    /// The problem the output proves, when it names one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cause: Option<Cause>,
    /// Killed at the time limit (never cached).
    #[serde(default)]
    pub timed_out: bool,
    pub millis: u64,
    /// Taken from the probe cache instead of run now.
    #[serde(default, skip_deserializing)]
    pub cached: bool,
}

impl ProbeResult {
    /// The line that best proves the failure: the one naming the cause, else the first
    /// non-empty line of the output.
    pub(crate) fn evidence(&self) -> String {
        let named = cause::toolchain_failure(&self.output).map(|(_, l)| l);
        let line = named
            .or_else(|| self.output.lines().find(|l| !l.trim().is_empty()))
            .unwrap_or("no output")
            .trim();
        line.strip_prefix("= note:")
            .unwrap_or(line)
            .trim()
            .to_owned()
    }
}

/// The probes of one target (each `None` when it was not needed or could not be run).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub(crate) struct Probes {
    pub link: Option<ProbeResult>,
    pub run: Option<ProbeResult>,
    pub c_compiler: Option<ProbeResult>,
}

impl Probes {
    pub(crate) fn all(&self) -> impl Iterator<Item = &ProbeResult> {
        [&self.link, &self.run, &self.c_compiler]
            .into_iter()
            .flatten()
    }
}

/// How to probe.
#[derive(Debug, Clone)]
pub(crate) struct ProbeOptions {
    /// Where probes build and cache; `None`: a temporary directory and no cache.
    pub dir: Option<PathBuf>,
    /// No probe is run for a rung above this level.
    pub max_level: Level,
    /// Ignore cached results (they are rewritten).
    pub reprobe: bool,
}

/// Probes every target (in parallel) and records the results in `targets`.
pub(crate) fn probe_all(
    host: &Host,
    targets: &[TargetToolchain],
    options: &ProbeOptions,
) -> crate::error::Result<Vec<Probes>> {
    let temp;
    let dir = match &options.dir {
        Some(d) => d.clone(),
        None => {
            temp = tempfile::Builder::new()
                .prefix("cargo-xtest-probe-")
                .tempdir()
                .or_internal(|| "cannot create a directory for probes".to_owned())?;
            temp.path().to_path_buf()
        }
    };
    let cache = options.dir.is_some() && !options.reprobe;
    let store = options.dir.is_some();
    Ok(std::thread::scope(|scope| {
        let running: Vec<_> = targets
            .iter()
            .map(|tc| {
                // Miri's probes are kept apart: switching `--miri` on and off reprobes nothing.
                let dir = match tc.miri {
                    Some(_) => dir.join(format!("{}-miri", tc.triple)),
                    None => dir.join(&tc.triple),
                };
                scope.spawn(move || probe_target(host, tc, &dir, options.max_level, cache, store))
            })
            .collect();
        running
            .into_iter()
            .map(|h| h.join().expect("probe thread"))
            .collect()
    }))
}

/// What one target's probes depend on, hashed: any change makes the cached results stale.
fn cache_key(host: &Host, tc: &TargetToolchain) -> String {
    let mut h = blake3::Hasher::new();
    let mut add = |s: &str| {
        h.update(s.as_bytes());
        h.update(b"\0");
    };
    add(PROBE_FORMAT);
    add(&host.rustc_version);
    add(&tc.triple);
    // Under `--miri` the probe is cargo-miri's build and Miri's run, with nightly's cargo.
    if let Some(m) = &tc.miri {
        add("miri");
        add(&stamp(&m.cargo_miri));
        for (k, v) in m.env() {
            add(&format!("{k}={v}"));
        }
    }
    add(&stamp(
        &host
            .sysroot
            .join("lib/rustlib")
            .join(&tc.triple)
            .join("lib"),
    ));
    for tool in [&tc.linker, &tc.c_compiler] {
        match tool {
            Some(t) => {
                add(&t.program);
                add(&t.source.to_string());
                add(&t.path.as_deref().map(stamp).unwrap_or_default());
            }
            None => add("-"),
        }
    }
    match &tc.runner {
        Ok(Runner::Native) => add("native"),
        Ok(Runner::Command { argv, env, .. }) => {
            for a in argv {
                add(a);
            }
            for (k, v) in env {
                add(&format!("{k}={v}"));
            }
            if let Some(p) = argv.first().and_then(|a| which::which(a).ok()) {
                add(&stamp(&p));
            }
            // Wine's prefix as the run probe left it: a prefix or DLL removed since is set up
            // again by the next probe.
            if let Some((_, prefix)) = env.iter().find(|(k, _)| k == "WINEPREFIX") {
                let prefix = Path::new(prefix);
                add(&stamp(&prefix.join("system.reg")));
                add(&stamp(
                    &prefix
                        .join("drive_c/windows/system32")
                        .join(super::wine::SHIM_DLL),
                ));
            }
        }
        Err(_) => add("no runner"),
    }
    // The sysroot's files (a C library installed or removed changes these directories) and the
    // package database (any package change).
    let sysroots = tc.info.map(|i| i.sysroots).unwrap_or_default();
    for s in sysroots.iter().chain(&["/usr"]) {
        for sub in ["", "lib", "lib64", "include", "usr/lib", "usr/include"] {
            add(&stamp(&Path::new(s).join(sub)));
        }
    }
    for db in [
        "/var/lib/dpkg/status",
        "/var/lib/rpm/rpmdb.sqlite",
        "/var/lib/pacman/local",
    ] {
        add(&stamp(Path::new(db)));
    }
    for var in [
        "LIBRARY_PATH",
        "COMPILER_PATH",
        "GCC_EXEC_PREFIX",
        "CPATH",
        "C_INCLUDE_PATH",
        "QEMU_LD_PREFIX",
        "QEMU_CPU",
        "PATH",
    ] {
        add(&std::env::var(var).unwrap_or_default());
    }
    h.finalize().to_hex().to_string()
}

/// A file's identity: size, modification time, inode (empty when it does not exist).
fn stamp(p: &Path) -> String {
    use std::os::unix::fs::MetadataExt;
    match std::fs::metadata(p) {
        Ok(m) => format!(
            "{}:{}:{}.{}:{}:{}",
            p.display(),
            m.len(),
            m.mtime(),
            m.mtime_nsec(),
            m.ino(),
            m.dev()
        ),
        Err(_) => format!("{}:absent", p.display()),
    }
}

#[derive(Serialize, Deserialize)]
struct CacheFile {
    key: String,
    /// The highest level the probes were run for: results for a run that asked for more are
    /// not there, so they serve only runs that ask for as much or less.
    level: Level,
    probes: Probes,
}

fn probe_target(
    host: &Host,
    tc: &TargetToolchain,
    dir: &Path,
    max_level: Level,
    use_cache: bool,
    store: bool,
) -> Probes {
    if max_level < Level::Check {
        return Probes::default();
    }
    let key = cache_key(host, tc);
    let cache_file = dir.with_extension("json");
    if use_cache && let Some(p) = cached(&cache_file, &key, max_level) {
        return p;
    }
    if let Err(e) = std::fs::create_dir_all(dir) {
        let failed = |kind| ProbeResult {
            kind,
            ok: false,
            command: format!("mkdir {}", dir.display()),
            output: format!("cannot create the probe directory: {e}"),
            cause: None,
            timed_out: false,
            millis: 0,
            cached: false,
        };
        return Probes {
            link: Some(failed(ProbeKind::Link)),
            ..Default::default()
        };
    }
    // One process probes a target's directory at a time: another run probing the same target
    // (a second terminal, CI jobs sharing a checkout) would otherwise rewrite the probe
    // executable while this one runs it. The one that waited then finds the results cached.
    // Where the file system has no locks, probing goes on unlocked.
    let _lock = std::fs::File::create(dir.join(".lock"))
        .ok()
        .filter(|f| f.lock().is_ok());
    if use_cache && let Some(p) = cached(&cache_file, &key, max_level) {
        return p;
    }
    let mut probes = Probes::default();
    if let Some(miri) = &tc.miri {
        if max_level >= Level::Test
            && let Ok(runner) = &tc.runner
        {
            probes.run = Some(miri_probe(miri, runner, &tc.triple, dir));
        }
    } else if max_level >= Level::Build
        && tc.std_installed
        && let Some(linker) = &tc.linker
        && linker.path.is_some()
    {
        let exe = dir.join(if tc.cfg.os == "windows" {
            "probe.exe"
        } else {
            "probe"
        });
        let link = link_probe(host, tc, dir, &exe);
        if link.ok
            && max_level >= Level::Test
            && let Ok(runner) = &tc.runner
        {
            probes.run = Some(match prepare_runner(tc, runner) {
                Ok(()) => run_probe(runner, &exe),
                Err((command, output)) => ProbeResult {
                    kind: ProbeKind::Run,
                    ok: false,
                    command,
                    cause: cause::toolchain_failure(&output).map(|(c, _)| c),
                    output,
                    timed_out: false,
                    millis: 0,
                    cached: false,
                },
            });
        }
        probes.link = Some(link);
    }
    if let Some(cc) = &tc.c_compiler
        && let Some(path) = &cc.path
    {
        probes.c_compiler = Some(c_probe(path, dir));
    }
    if store && probes.all().all(|r| !r.timed_out) {
        let file = CacheFile {
            key,
            level: max_level,
            probes: probes.clone(),
        };
        if let Ok(text) = serde_json::to_string_pretty(&file) {
            // Written whole and renamed, so a concurrent or killed run never reads half a file.
            let tmp = cache_file.with_extension(format!("json.{}", std::process::id()));
            if std::fs::write(&tmp, text).is_ok() {
                let _ = std::fs::rename(&tmp, &cache_file);
            }
        }
    }
    probes
}

/// A target's probe results from its cache file, if they were probed with `key` for at least
/// `max_level` (less is left out, as a run asking for less would not have probed it).
fn cached(cache_file: &Path, key: &str, max_level: Level) -> Option<Probes> {
    let text = std::fs::read_to_string(cache_file).ok()?;
    let c = serde_json::from_str::<CacheFile>(&text).ok()?;
    if c.key != key || c.level < max_level {
        return None;
    }
    let mut p = c.probes;
    if max_level < Level::Test {
        p.run = None;
    }
    if max_level < Level::Build {
        p.link = None;
    }
    for r in [&mut p.link, &mut p.run, &mut p.c_compiler]
        .into_iter()
        .flatten()
    {
        r.cached = true;
    }
    Some(p)
}

fn link_probe(host: &Host, tc: &TargetToolchain, dir: &Path, exe: &Path) -> ProbeResult {
    let src = dir.join("probe.rs");
    let mut cmd = Command::new(&host.rustc);
    cmd.args(["--edition", "2021", "--crate-name", "xtest_probe", "--test"])
        .arg("--target")
        .arg(&tc.triple)
        .args(["-C", "debuginfo=0", "-o"])
        .arg(exe)
        .arg(&src)
        .current_dir(dir);
    if let Some(l) = &tc.linker
        && l.source != Source::Default
        && let Some(path) = &l.path
    {
        cmd.arg("-C").arg(format!("linker={}", path.display()));
    }
    if let Err(e) = std::fs::write(&src, RUST_PROBE) {
        return io_failure(ProbeKind::Link, &cmd, &e);
    }
    let _ = std::fs::remove_file(exe);
    run(ProbeKind::Link, &mut cmd, |_| true)
}

/// How long cargo-miri may take to build the probe, the first time with the target's Miri
/// sysroot (from `rust-src`: 25–45 s per target on 2 cores, more when several build at once).
const MIRI_SETUP_LIMIT: Duration = Duration::from_secs(900);

/// `--miri`: cargo-miri builds a one-test crate for `triple` (building Miri's sysroot for it the
/// first time), and the run's own command interprets its test.
fn miri_probe(
    miri: &super::toolchain::Miri,
    runner: &Runner,
    triple: &str,
    dir: &Path,
) -> ProbeResult {
    let krate = dir.join("crate");
    let mut build = miri.cargo_command("test");
    build
        .args(["--no-run", "--message-format", "json", "--target", triple])
        .arg("--manifest-path")
        .arg(krate.join("Cargo.toml"))
        .env("CARGO_TARGET_DIR", dir.join("target"))
        .current_dir(&krate);
    let written = std::fs::create_dir_all(krate.join("src"))
        .and_then(|()| {
            std::fs::write(
                krate.join("Cargo.toml"),
                "[package]\nname = \"xtest-probe\"\nversion = \"0.0.0\"\nedition = \"2021\"\n\n[workspace]\n",
            )
        })
        .and_then(|()| std::fs::write(krate.join("src/lib.rs"), RUST_PROBE));
    if let Err(e) = written {
        return io_failure(ProbeKind::Run, &build, &e);
    }
    let built = run_within(ProbeKind::Run, &mut build, MIRI_SETUP_LIMIT, |out| {
        out.contains("\"executable\":\"")
    });
    if !built.ok {
        return built;
    }
    // The file cargo-miri wrote in the test executable's place (the last one cargo reported).
    let exe = std::process::Command::new(&miri.cargo_miri)
        .args([
            "miri",
            "test",
            "--no-run",
            "--message-format",
            "json",
            "--target",
            triple,
        ])
        .arg("--manifest-path")
        .arg(krate.join("Cargo.toml"))
        .envs(miri.env())
        .env("CARGO_TARGET_DIR", dir.join("target"))
        .current_dir(&krate)
        .output()
        .ok()
        .and_then(|o| {
            String::from_utf8_lossy(&o.stdout)
                .lines()
                .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
                .filter_map(|m| m["executable"].as_str().map(PathBuf::from))
                .next_back()
        });
    match exe {
        Some(exe) => run_probe(runner, &exe),
        None => ProbeResult {
            output: "cargo-miri reported no test executable".to_owned(),
            ok: false,
            ..built
        },
    }
}

/// What a runner needs before its first start: Wine's prefix (see [`super::wine`]).
fn prepare_runner(tc: &TargetToolchain, runner: &Runner) -> Result<(), (String, String)> {
    // Only the Wine runner discovery set up (with cargo-xtest's own WINEPREFIX), never a
    // runner the user configured.
    let Runner::Command {
        argv,
        env,
        source: Source::AutoDetected,
        kind: RunnerKind::Wine,
    } = runner
    else {
        return Ok(());
    };
    let wine = argv.first();
    match (wine, tc.linker.as_ref().and_then(|l| l.path.as_deref())) {
        (Some(wine), Some(gcc)) => super::wine::prepare_prefix(wine, env, gcc).map_err(|e| {
            (
                format!("{wine} wineboot --init (prefix for {})", tc.triple),
                e,
            )
        }),
        _ => Ok(()),
    }
}

/// The probe executable started exactly as the run starts a test executable: the same
/// [`crate::runner::TestCommand`] from the same runner.
pub(crate) fn run_probe_command(runner: &Runner, exe: &Path) -> crate::runner::TestCommand {
    let cmd = runner
        .launcher()
        .command(exe)
        .args(["--exact", "probe", "--test-threads=1"]);
    match exe.parent() {
        Some(d) => cmd.cwd(d),
        None => cmd,
    }
}

fn run_probe(runner: &Runner, exe: &Path) -> ProbeResult {
    let mut cmd = run_probe_command(runner, exe).build();
    run(ProbeKind::Run, &mut cmd, |out| {
        out.contains("test probe ... ok") && out.contains("1 passed")
    })
}

fn c_probe(cc: &Path, dir: &Path) -> ProbeResult {
    let src = dir.join("probe.c");
    let mut cmd = Command::new(cc);
    cmd.arg("-o")
        .arg(dir.join("cprobe"))
        .arg(&src)
        .current_dir(dir);
    if let Err(e) = std::fs::write(&src, C_PROBE) {
        return io_failure(ProbeKind::CCompiler, &cmd, &e);
    }
    run(ProbeKind::CCompiler, &mut cmd, |_| true)
}

/// A command as it is shown in evidence: program and arguments.
pub(super) fn describe(cmd: &Command) -> String {
    std::iter::once(cmd.get_program())
        .chain(cmd.get_args())
        .map(|a| a.to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join(" ")
}

fn io_failure(kind: ProbeKind, cmd: &Command, e: &std::io::Error) -> ProbeResult {
    ProbeResult {
        kind,
        ok: false,
        command: describe(cmd),
        output: format!("cannot prepare the probe: {e}"),
        cause: None,
        timed_out: false,
        millis: 0,
        cached: false,
    }
}

/// Runs one probe: it passes when the command exits 0 and `check` accepts its stdout.
fn run(kind: ProbeKind, cmd: &mut Command, check: impl Fn(&str) -> bool) -> ProbeResult {
    run_within(kind, cmd, PROBE_LIMIT, check)
}

fn run_within(
    kind: ProbeKind,
    cmd: &mut Command,
    limit: Duration,
    check: impl Fn(&str) -> bool,
) -> ProbeResult {
    let command = describe(cmd);
    let start = Instant::now();
    let result = crate::process::run_bounded(cmd, limit, KEEP_OUTPUT);
    let millis = start.elapsed().as_millis() as u64;
    let (ok, output, timed_out) = match result {
        Err(e) => (false, format!("cannot start `{command}`: {e}"), false),
        Ok(b) => {
            let both = [b.stderr.trim_end(), b.stdout.trim_end()]
                .into_iter()
                .filter(|s| !s.is_empty())
                .collect::<Vec<_>>()
                .join("\n");
            match b.status {
                None => (
                    false,
                    format!("killed after {}s\n{both}", limit.as_secs()),
                    true,
                ),
                Some(st) if st.success() && check(&b.stdout) => (true, String::new(), false),
                Some(st) if st.success() => (
                    false,
                    format!("exited 0 but did not report its test passed\n{both}"),
                    false,
                ),
                Some(st) => (
                    false,
                    format!("{}\n{both}", crate::process::describe_status(st)),
                    false,
                ),
            }
        }
    };
    let cause = if ok {
        None
    } else {
        cause::toolchain_failure(&output).map(|(c, _)| c)
    };
    ProbeResult {
        kind,
        ok,
        command,
        output: output.trim_end().to_owned(),
        cause,
        timed_out,
        millis,
        cached: false,
    }
}
