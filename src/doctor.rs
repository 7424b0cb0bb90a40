//! `cargo xtest doctor` and `cargo xtest setup`: per target, each component (std, linker, C
//! compiler, C library, emulator, sysroot, runner) found or missing and where it came from, what
//! the probes proved of them, and the level the target reaches; the exact commands that install
//! what is missing on this distro; running them (`setup --yes`); and
//! writing auto-detected linkers and runners into the workspace's `.cargo/config.toml`
//! (`setup --write-config`: comments and existing settings kept, a backup made, idempotent).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anstyle::{AnsiColor, Style};

use crate::cause::Cause;
use crate::discover::{
    Host, PackageManager, ProbeResult, Runner, RunnerProblem, Source, TargetToolchain, Tool,
};
use crate::error::{Context, Error, Result};
use crate::fixes::Fixer;
use crate::level::Level;
use crate::plan::Downgrade;
use crate::targets::{self, Packages};

const OK: Style = AnsiColor::Green.on_default();
const BAD: Style = AnsiColor::Red.on_default().effects(anstyle::Effects::BOLD);
const DIM: Style = AnsiColor::BrightBlack.on_default();
const HEAD: Style = Style::new().effects(anstyle::Effects::BOLD);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Status {
    Found,
    Missing,
    /// Not needed on this host (a native target needs no emulator).
    NotNeeded,
    /// A probe ran and failed.
    Failed,
    /// Could not be proved either way (its probe did not run).
    Unproved,
}

#[derive(Debug, Clone)]
pub(crate) struct Component {
    pub name: &'static str,
    pub status: Status,
    /// What was found (and where it came from), or what is missing.
    pub detail: String,
    /// Packages that provide it, when missing.
    pub packages: Vec<Packages>,
    /// Advice when no package can provide it (a user setting pointing nowhere).
    pub advice: Option<String>,
}

#[derive(Debug, Clone)]
pub(crate) struct Examination {
    pub triple: String,
    pub components: Vec<Component>,
    /// Commands that install a missing piece no distro package provides (wasmtime).
    pub commands: Vec<Vec<String>>,
    pub std_missing: bool,
    /// The strongest level the target reaches here, and every step down to it.
    pub level: Level,
    pub downgrades: Vec<Downgrade>,
}

impl Examination {
    /// Nothing is missing, every probe passed, and the target reaches `test`.
    pub(crate) fn healthy(&self) -> bool {
        self.level == Level::Test
            && self
                .components
                .iter()
                .all(|c| !matches!(c.status, Status::Missing | Status::Failed))
    }
}

fn tool(
    name: &'static str,
    t: &Option<Tool>,
    tc: &TargetToolchain,
    expected: Option<&str>,
) -> Component {
    let pkgs = tc.info.map(|i| vec![i.linker_packages]).unwrap_or_default();
    match t {
        Some(Tool {
            program,
            source,
            path: Some(p),
        }) => Component {
            name,
            status: Status::Found,
            detail: format!("{program} ({source}: {})", p.display()),
            packages: Vec::new(),
            advice: None,
        },
        Some(Tool {
            program, source, ..
        }) => Component {
            name,
            status: Status::Missing,
            detail: format!("`{program}` set by {source} is not on PATH"),
            packages: Vec::new(),
            advice: Some(format!(
                "install `{program}` or change the setting in {source}"
            )),
        },
        None => Component {
            name,
            status: Status::Missing,
            detail: match expected {
                Some(e) => format!("`{e}` not on PATH"),
                None => "none configured".to_owned(),
            },
            advice: expected.is_none().then(|| {
                format!(
                    "set {} for {}",
                    if name == "linker" {
                        targets::cargo_env_var(&tc.triple, "linker")
                    } else {
                        format!("CC_{}", tc.triple.replace('-', "_"))
                    },
                    tc.triple
                )
            }),
            packages: pkgs,
        },
    }
}

/// Examines one target's toolchain, component by component, with what its probes proved.
pub(crate) fn examine(host: &Host, tc: &TargetToolchain) -> Examination {
    let native = matches!(tc.runner, Ok(Runner::Native));
    let expected = tc.info.and_then(|i| i.linkers.first().copied());
    let run_via = tc.info.map(|i| i.run).unwrap_or(targets::RunVia::Qemu);
    let mut components = vec![
        Component {
            name: "std",
            status: if tc.std_installed {
                Status::Found
            } else {
                Status::Missing
            },
            detail: if tc.std_installed {
                "installed in the rustc sysroot".to_owned()
            } else {
                "not installed".to_owned()
            },
            packages: Vec::new(),
            advice: None,
        },
        match tc.info.map(|i| i.link) {
            Some(targets::LinkVia::Unavailable(lift)) if tc.linker.is_none() => Component {
                name: "linker",
                status: Status::Missing,
                detail: "no Linux distro ships one".to_owned(),
                packages: Vec::new(),
                advice: Some(lift.to_owned()),
            },
            _ => tool("linker", &tc.linker, tc, expected),
        },
        match tc.info.map(|i| i.link) {
            Some(targets::LinkVia::Gcc) | None => tool("C compiler", &tc.c_compiler, tc, expected),
            Some(_) if tc.c_compiler.is_none() => Component {
                name: "C compiler",
                status: Status::NotNeeded,
                detail: format!(
                    "none (only build scripts that compile C need one: set CC_{})",
                    tc.triple.replace('-', "_")
                ),
                packages: Vec::new(),
                advice: None,
            },
            Some(_) => tool("C compiler", &tc.c_compiler, tc, expected),
        },
        c_library(tc),
    ];
    // wasmtime has no distro package: the command that installs it, when it is missing.
    let commands = if run_via == targets::RunVia::Wasmtime && tc.runner.is_err() {
        vec![targets::wasmtime_install()]
    } else {
        Vec::new()
    };
    let (emulator, sysroot) = if !native && run_via != targets::RunVia::Qemu {
        let not_needed = Component {
            name: "sysroot",
            status: Status::NotNeeded,
            detail: "not needed".to_owned(),
            packages: Vec::new(),
            advice: None,
        };
        let (program, packages, advice) = match run_via {
            targets::RunVia::Wine => (
                "wine",
                tc.info
                    .map(|i| i.runner_packages.to_vec())
                    .unwrap_or_default(),
                None,
            ),
            // Said once: under the linker when that is missing for the same reason.
            targets::RunVia::Unavailable(lift) => {
                ("", Vec::new(), tc.linker.is_some().then(|| lift.to_owned()))
            }
            targets::RunVia::Wasmtime => ("wasmtime", Vec::new(), None),
            targets::RunVia::Qemu => unreachable!("QEMU targets are handled below"),
        };
        let emulator = match &tc.runner {
            Ok(r) => found("emulator", r.describe()),
            Err(_) => Component {
                name: "emulator",
                status: Status::Missing,
                detail: if program.is_empty() {
                    "nothing on a Linux host runs it".to_owned()
                } else {
                    format!("`{program}` not on PATH")
                },
                packages,
                advice,
            },
        };
        (emulator, not_needed)
    } else if native {
        let n = |name| Component {
            name,
            status: Status::NotNeeded,
            detail: "not needed: runs natively".to_owned(),
            packages: Vec::new(),
            advice: None,
        };
        (n("emulator"), n("sysroot"))
    } else {
        let qemu = tc.info.map(|i| i.qemu).unwrap_or("qemu-<arch>");
        let emulator = match (&tc.emulator, tc.binfmt) {
            (Some(q), _) => found("emulator", q.clone()),
            (None, true) => found("emulator", format!("binfmt_misc entry {qemu}")),
            (None, false) => Component {
                name: "emulator",
                status: Status::Missing,
                detail: format!("`{qemu}` not on PATH"),
                packages: if tc.info.is_some() {
                    vec![targets::qemu_packages()]
                } else {
                    Vec::new()
                },
                advice: tc
                    .info
                    .is_none()
                    .then(|| format!("set {}", targets::cargo_env_var(&tc.triple, "runner"))),
            },
        };
        let sysroot = match (tc.info.and_then(|i| i.loader), &tc.sysroot) {
            (None, _) => Component {
                name: "sysroot",
                status: Status::NotNeeded,
                detail: "not needed: statically linked".to_owned(),
                packages: Vec::new(),
                advice: None,
            },
            (Some(_), Some(s)) => found("sysroot", s.clone()),
            (Some(loader), None) => Component {
                name: "sysroot",
                status: Status::Missing,
                detail: format!(
                    "no {loader} in {}",
                    tc.info.map(|i| i.sysroots.join(", ")).unwrap_or_default()
                ),
                packages: tc.info.map(|i| vec![i.linker_packages]).unwrap_or_default(),
                advice: None,
            },
        };
        (emulator, sysroot)
    };
    components.push(emulator);
    components.push(sysroot);
    components.push(match &tc.runner {
        Ok(r) => {
            let source = match r {
                Runner::Native => String::new(),
                Runner::Command { source, .. } => format!(" ({source})"),
            };
            found("runner", format!("{}{source}", r.describe()))
        }
        Err(p) => Component {
            name: "runner",
            status: Status::Missing,
            detail: match p {
                RunnerProblem::ConfiguredMissing { program, source } => {
                    format!("`{program}` set by {source} is not on PATH")
                }
                _ => "cannot run the target's executables (see emulator and sysroot)".to_owned(),
            },
            packages: Vec::new(),
            advice: None,
        },
    });
    let probe = |name, p: &Option<ProbeResult>, what: &str| {
        p.as_ref().map(|p| Component {
            name,
            status: if p.ok { Status::Found } else { Status::Failed },
            detail: if p.ok {
                format!(
                    "{what} ({})",
                    if p.cached {
                        "cached".to_owned()
                    } else {
                        format!("{:.2} s", p.millis as f64 / 1000.0)
                    }
                )
            } else {
                p.evidence()
            },
            packages: Vec::new(),
            advice: None,
        })
    };
    components.extend(probe(
        "link probe",
        &tc.probes.link,
        "linked a test executable",
    ));
    components.extend(probe(
        "run probe",
        &tc.probes.run,
        "ran it; its test passed",
    ));
    components.extend(probe(
        "C probe",
        &tc.probes.c_compiler,
        "compiled and linked a C program",
    ));
    let (level, downgrades) = crate::plan::ladder(host, tc, Level::Test);
    Examination {
        triple: tc.triple.clone(),
        commands,
        std_missing: !tc.std_installed,
        components,
        level,
        downgrades,
    }
}

/// The target C library's development files, as the probes found them: missing when a probe's
/// link or compile failed for want of them, found when a probe linked with them.
fn c_library(tc: &TargetToolchain) -> Component {
    let name = "C library";
    let Some(pkgs) = tc.info.map(|i| i.c_library) else {
        return Component {
            name,
            status: Status::Unproved,
            detail: "unknown target: not probed without a C compiler".to_owned(),
            packages: Vec::new(),
            advice: None,
        };
    };
    let Some(pkgs) = pkgs else {
        return Component {
            name,
            status: Status::NotNeeded,
            detail: "not needed: the Rust target ships its own".to_owned(),
            packages: Vec::new(),
            advice: None,
        };
    };
    let probes = [&tc.probes.link, &tc.probes.c_compiler];
    let mut ran = probes.iter().filter_map(|p| p.as_ref());
    if let Some(p) = ran
        .clone()
        .find(|p| p.cause == Some(Cause::CLibraryMissing))
    {
        return Component {
            name,
            status: Status::Missing,
            detail: format!("development files missing ({})", p.evidence()),
            packages: vec![pkgs],
            advice: None,
        };
    }
    if ran.any(|p| p.ok) {
        return found(name, "works: a probe linked against it".to_owned());
    }
    if tc.linker.as_ref().and_then(|l| l.path.as_ref()).is_none()
        && tc
            .c_compiler
            .as_ref()
            .and_then(|c| c.path.as_ref())
            .is_none()
    {
        // Nothing to probe it with: install it with the linker.
        return Component {
            name,
            status: Status::Missing,
            detail: "not probed: no linker or C compiler for the target".to_owned(),
            packages: vec![pkgs],
            advice: None,
        };
    }
    Component {
        name,
        status: Status::Unproved,
        detail: "not proved: its probes failed for another reason".to_owned(),
        packages: Vec::new(),
        advice: None,
    }
}

fn found(name: &'static str, detail: String) -> Component {
    Component {
        name,
        status: Status::Found,
        detail,
        packages: Vec::new(),
        advice: None,
    }
}

/// The commands that install everything missing, in order, as argument vectors.
pub(crate) fn fix_commands(host: &Host, fixer: &Fixer, exams: &[Examination]) -> Vec<Vec<String>> {
    let mut commands = Vec::new();
    let pkgs: Vec<Packages> = exams
        .iter()
        .flat_map(|e| &e.components)
        .filter(|c| c.status == Status::Missing)
        .flat_map(|c| c.packages.iter().copied())
        .collect();
    if let Some(install) = fixer.install_argv(&pkgs) {
        if host.package_manager == PackageManager::Apt {
            let mut update: Vec<String> = install
                .iter()
                .take_while(|a| *a != "apt-get")
                .cloned()
                .collect();
            update.extend(["apt-get".to_owned(), "update".to_owned()]);
            commands.push(update);
        }
        commands.push(install);
    }
    let std: Vec<&str> = exams
        .iter()
        .filter(|e| e.std_missing)
        .map(|e| e.triple.as_str())
        .collect();
    if !std.is_empty() && host.rustup {
        commands.push(
            ["rustup", "target", "add"]
                .into_iter()
                .chain(std)
                .map(str::to_owned)
                .collect(),
        );
    }
    for c in exams.iter().flat_map(|e| &e.commands) {
        if !commands.contains(c) {
            commands.push(c.clone());
        }
    }
    commands
}

/// Manual steps no package provides (settings that point nowhere, unknown distros).
pub(crate) fn advice(host: &Host, fixer: &Fixer, exams: &[Examination]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for e in exams {
        for c in e.components.iter().filter(|c| c.status == Status::Missing) {
            if let Some(a) = &c.advice {
                out.push(format!("{}: {}: {a}", e.triple, c.name));
            }
            if !c.packages.is_empty() && fixer.install_argv(&c.packages).is_none() {
                out.push(format!(
                    "{}: {}: install the package providing it ({} on Debian/Ubuntu)",
                    e.triple,
                    c.name,
                    c.packages
                        .iter()
                        .map(|p| p.apt)
                        .collect::<Vec<_>>()
                        .join(", ")
                ));
            }
        }
        if e.std_missing && !host.rustup {
            out.push(fixer.std_fix(host, &e.triple));
        }
    }
    out.dedup();
    out
}

pub(crate) fn render(host: &Host, fixer: &Fixer, exams: &[Examination]) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{HEAD}cargo-xtest doctor{HEAD:#} on host {} (package manager: {})",
        host.triple,
        fixer.package_manager()
    );
    for e in exams {
        let _ = writeln!(out, "\n{HEAD}{}{HEAD:#}", e.triple);
        for c in &e.components {
            let (word, style) = match c.status {
                Status::Found => ("ok", OK),
                Status::Missing => ("MISSING", BAD),
                Status::Failed => ("FAILED", BAD),
                Status::NotNeeded => ("-", DIM),
                Status::Unproved => ("?", DIM),
            };
            let _ = writeln!(out, "  {:<12}{style}{word:<9}{style:#}{}", c.name, c.detail);
        }
        let style = if e.level == Level::Test { OK } else { BAD };
        let _ = writeln!(
            out,
            "  {:<12}{style}{:<9}{style:#}",
            "reaches",
            e.level.as_str()
        );
        for d in &e.downgrades {
            let _ = writeln!(out, "    {} -> {}: {}", d.from, d.to, d.reason);
            let _ = writeln!(out, "      fix: {}", d.fix);
        }
    }
    let commands = fix_commands(host, fixer, exams);
    let advice = advice(host, fixer, exams);
    if commands.is_empty() && advice.is_empty() && exams.iter().all(Examination::healthy) {
        let _ = writeln!(
            out,
            "\nNothing is missing: every target reaches `test` on this host, proved by its probes."
        );
        return out;
    }
    let short: Vec<String> = exams
        .iter()
        .filter(|e| !e.healthy())
        .map(|e| format!("{} reaches {}", e.triple, e.level))
        .collect();
    if !short.is_empty() {
        let _ = writeln!(
            out,
            "\nNot every target reaches `test`: {}.",
            short.join(", ")
        );
    }
    if !commands.is_empty() {
        let _ = writeln!(
            out,
            "\nTo install what is missing, run (or `cargo xtest setup --yes`):"
        );
        for c in &commands {
            let _ = writeln!(out, "  {}", c.join(" "));
        }
    }
    if !advice.is_empty() {
        let _ = writeln!(out, "\nBy hand:");
        for a in &advice {
            let _ = writeln!(out, "  {a}");
        }
    }
    out
}

/// Runs the fix commands, stopping at the first that fails; `on_start` hears of each.
pub(crate) fn run_commands(commands: &[Vec<String>], on_start: &dyn Fn(&[String])) -> Result<()> {
    for argv in commands {
        on_start(argv);
        let status = std::process::Command::new(&argv[0])
            .args(&argv[1..])
            .env("DEBIAN_FRONTEND", "noninteractive")
            .status()
            .or_bad_input(|| format!("cannot run `{}`", argv[0]))?;
        if !status.success() {
            return Err(Error::bad_input(format!(
                "`{}` failed ({}); run it by hand to see why",
                argv.join(" "),
                crate::process::describe_status(status)
            )));
        }
    }
    Ok(())
}

/// What `--write-config` did.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct ConfigChange {
    pub path: PathBuf,
    pub backup: Option<PathBuf>,
    pub written: Vec<String>,
    pub kept: Vec<String>,
}

/// Writes auto-detected linkers and runners of foreign targets into `<root>/.cargo/config.toml`,
/// keeping every existing setting and comment; backs the file up first when it changes.
pub(crate) fn write_config(root: &Path, toolchains: &[TargetToolchain]) -> Result<ConfigChange> {
    let dir = root.join(".cargo");
    let path = if !dir.join("config.toml").exists() && dir.join("config").exists() {
        dir.join("config")
    } else {
        dir.join("config.toml")
    };
    let original = std::fs::read_to_string(&path).ok();
    let mut doc: toml_edit::DocumentMut =
        original
            .as_deref()
            .unwrap_or("")
            .parse()
            .map_err(|e: toml_edit::TomlError| {
                Error::bad_input(format!(
                    "malformed cargo config {}: {}; fix it before --write-config edits it",
                    path.display(),
                    crate::discover::cargo_config::one_line(&e.to_string())
                ))
            })?;
    let mut change = ConfigChange {
        path: path.clone(),
        ..Default::default()
    };
    for tc in toolchains {
        let mut wanted: Vec<(&str, String)> = Vec::new();
        if let Some(Tool {
            program,
            source: Source::AutoDetected,
            path: Some(_),
        }) = &tc.linker
        {
            wanted.push(("linker", program.clone()));
        }
        if let Ok(Runner::Command {
            argv,
            source: Source::AutoDetected,
            ..
        }) = &tc.runner
            && !argv.is_empty()
        {
            wanted.push(("runner", argv.join(" ")));
        }
        if wanted.is_empty() {
            continue;
        }
        let target = doc
            .entry("target")
            .or_insert_with(|| {
                let mut t = toml_edit::Table::new();
                t.set_implicit(true);
                toml_edit::Item::Table(t)
            })
            .as_table_mut()
            .ok_or_else(|| {
                Error::bad_input(format!("`target` in {} is not a table", path.display()))
            })?;
        let table = target
            .entry(&tc.triple)
            .or_insert_with(|| toml_edit::Item::Table(toml_edit::Table::new()))
            .as_table_like_mut()
            .ok_or_else(|| {
                Error::bad_input(format!(
                    "`target.{}` in {} is not a table",
                    tc.triple,
                    path.display()
                ))
            })?;
        for (key, value) in wanted {
            let name = format!("target.{}.{key}", tc.triple);
            if table.contains_key(key) {
                change.kept.push(name);
            } else {
                table.insert(key, toml_edit::value(value));
                change.written.push(name);
            }
        }
    }
    if change.written.is_empty() {
        return Ok(change);
    }
    std::fs::create_dir_all(&dir).or_internal(|| format!("cannot create {}", dir.display()))?;
    if original.is_some() {
        let backup = (0..)
            .map(|i| {
                let suffix = if i == 0 {
                    "bak".to_owned()
                } else {
                    format!("bak.{i}")
                };
                path.with_extension(match path.extension() {
                    Some(ext) => format!("{}.{suffix}", ext.to_string_lossy()),
                    None => suffix,
                })
            })
            .find(|p| !p.exists())
            .expect("a free backup name");
        std::fs::copy(&path, &backup)
            .or_internal(|| format!("cannot back up {}", path.display()))?;
        change.backup = Some(backup);
    }
    crate::fsutil::write_atomic(&path, doc.to_string().as_bytes())
        .map_err(|e| Error::internal(crate::fsutil::write_error("cargo config", &path, &e)))?;
    Ok(change)
}
