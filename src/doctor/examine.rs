//! What each component of a target's toolchain is, and what its probes proved of it.

use crate::cause::Cause;
use crate::discover::{Host, ProbeResult, Runner, RunnerProblem, TargetToolchain, Tool};
use crate::level::Level;
use crate::targets;

use super::{Component, Examination, Status};

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

/// A probe as a component: what it proved (and how long it took), or its evidence.
fn probe(name: &'static str, p: &Option<ProbeResult>, what: &str) -> Option<Component> {
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
}

/// `--miri`: what interprets the target's tests (nightly's Miri, its sysroot) and what its
/// probe proved; no linker, C library or emulator takes part.
fn examine_miri(host: &Host, tc: &TargetToolchain) -> Examination {
    use crate::discover::toolchain::Miri;
    let mut components = Vec::new();
    let mut commands = Vec::new();
    match (&tc.miri, &tc.runner) {
        (Some(m), _) => {
            components.push(found("miri", m.cargo_miri.display().to_string()));
            components.push(found(
                "sysroot",
                format!(
                    "{} (built once per target from rust-src)",
                    m.sysroot.display()
                ),
            ));
        }
        (None, Err(RunnerProblem::MiriMissing { what })) => {
            components.push(Component {
                name: "miri",
                status: Status::Missing,
                detail: format!("{what} is not installed"),
                packages: Vec::new(),
                advice: None,
            });
            commands.push(Miri::install());
        }
        _ => {}
    }
    components.extend(probe(
        "miri probe",
        &tc.probes.run,
        &format!("interpreted a one-test crate for {}", tc.triple),
    ));
    let (level, downgrades) = crate::plan::ladder(host, tc, Level::Test);
    Examination {
        triple: tc.triple.clone(),
        commands,
        std_missing: false,
        components,
        level,
        downgrades,
    }
}

/// Examines one target's toolchain, component by component, with what its probes proved.
pub(crate) fn examine(host: &Host, tc: &TargetToolchain) -> Examination {
    if tc.interpreted() {
        return examine_miri(host, tc);
    }
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
            Some(targets::LinkVia::Zig(zig_target)) if tc.linker.is_none() => Component {
                name: "linker",
                status: Status::Missing,
                detail: format!(
                    "`{}` not on PATH (zig links {} as {zig_target})",
                    targets::ZIG_DRIVER,
                    tc.triple
                ),
                packages: Vec::new(),
                advice: None,
            },
            // The rust-lld wrapper: named by the gcc it drives, the wrapper as the path.
            _ if tc.links_with_lld() => Component {
                detail: tc.linker_label().map_or_else(String::new, |label| {
                    let wrapper = tc.linker.as_ref().map_or("", |l| l.program.as_str());
                    format!("{}: {wrapper})", label.trim_end_matches(')'))
                }),
                ..tool("linker", &tc.linker, tc, expected)
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
    // Nor have zig and cargo-zigbuild (PyPI).
    let mut commands = if run_via == targets::RunVia::Wasmtime && tc.runner.is_err() {
        vec![targets::wasmtime_install()]
    } else {
        Vec::new()
    };
    if tc
        .info
        .is_some_and(|i| matches!(i.link, targets::LinkVia::Zig(_)))
        && tc.linker.is_none()
    {
        commands.push(targets::zig_install());
    }
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
                let said = tc.linker.is_none()
                    && tc
                        .info
                        .is_some_and(|i| matches!(i.link, targets::LinkVia::Unavailable(_)));
                ("", Vec::new(), (!said).then(|| lift.to_owned()))
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
