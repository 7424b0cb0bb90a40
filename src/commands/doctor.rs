//! `cargo xtest doctor` and `cargo xtest setup`: what each target's toolchain has, what the
//! probes proved, and the commands (or, with `--write-config`, the settings) that fill the gaps.

use crate::cli;
use crate::discover::{self, FeatureArgs, Host, Workspace};
use crate::error::{self, Context, Result};
use crate::session::{Needs, Session};
use crate::{doctor, fixes, level, shell};

/// The host, and the toolchains of the targets `doctor`/`setup` examine. Works outside a
/// workspace too (then without a policy), unless `--manifest-path` names one.
fn examine_host(
    args: &cli::HostArgs,
) -> Result<(Host, Vec<discover::TargetToolchain>, Option<Workspace>)> {
    let session = Session::open(
        args.manifest_path.as_deref(),
        &FeatureArgs::default(),
        &args.targets,
        Needs::WorkspaceIfAny,
    )?;
    let interpret = if args.miri {
        crate::session::Interpret::Only
    } else {
        crate::session::Interpret::AsThePolicySays
    };
    let toolchains = session.toolchains(level::Level::Test, args.reprobe, interpret)?;
    Ok((session.host, toolchains, session.workspace))
}

pub(super) fn doctor(args: &cli::HostArgs) -> Result<i32> {
    let (host, toolchains, _) = examine_host(args)?;
    let exams: Vec<_> = toolchains
        .iter()
        .map(|t| doctor::examine(&host, t))
        .collect();
    let fixer = fixes::Fixer::new(&host);
    anstream::print!("{}", doctor::render(&host, &fixer, &exams));
    Ok(if exams.iter().all(doctor::Examination::healthy) {
        error::EXIT_OK
    } else {
        error::EXIT_FAILED
    })
}

pub(super) fn setup(args: &cli::SetupArgs) -> Result<i32> {
    let (host, mut toolchains, workspace) = examine_host(&args.host)?;
    let fixer = fixes::Fixer::new(&host);
    let exams: Vec<_> = toolchains
        .iter()
        .map(|t| doctor::examine(&host, t))
        .collect();
    let commands = doctor::fix_commands(&host, &fixer, &exams);
    if commands.is_empty() {
        shell::status("Setup", "nothing to install");
    } else if args.yes {
        doctor::run_commands(&commands, &|argv| shell::status("Running", argv.join(" ")))?;
        // Discover again: the config must record what is there now.
        let (_, fresh, _) = examine_host(&args.host)?;
        toolchains = fresh;
    } else {
        shell::status("Setup", "would run (pass --yes to run them):");
        for c in &commands {
            anstream::println!("{}", c.join(" "));
        }
    }
    for a in doctor::advice(&host, &fixer, &exams) {
        shell::warn(format!("by hand: {a}"));
    }
    if args.write_config {
        let root = match &workspace {
            Some(ws) => ws.root.clone(),
            None => std::env::current_dir()
                .or_internal(|| "cannot read the current directory".to_owned())?,
        };
        let change = doctor::write_config(&root, &toolchains)?;
        for k in &change.written {
            shell::status("Wrote", format!("{k} in {}", change.path.display()));
        }
        for k in &change.kept {
            shell::status(
                "Kept",
                format!("{k} (already set in {})", change.path.display()),
            );
        }
        for why in &change.left_out {
            shell::status("Left out", why);
        }
        if let Some(b) = &change.backup {
            shell::status("Backup", b.display());
        }
        if change.written.is_empty() {
            shell::status(
                "Setup",
                format!(
                    "{} already has every detected setting",
                    change.path.display()
                ),
            );
        }
    }
    Ok(error::EXIT_OK)
}
