//! `cargo xtest ci github`: the workflow for this workspace's targets and policy.

use crate::cli;
use crate::discover::FeatureArgs;
use crate::error::{self, Error, Result};
use crate::session::{Needs, Session};
use crate::{ci, shell};

pub(super) fn ci_github(args: &cli::CiGithubArgs) -> Result<i32> {
    let session = Session::open(
        args.host.manifest_path.as_deref(),
        &FeatureArgs::default(),
        &args.host.targets,
        Needs::Workspace,
    )?;
    let (host, ws, policy, triples) = (
        &session.host,
        session.workspace(),
        &session.policy,
        &session.triples,
    );
    let root = ci::repo_root(ws);
    let manifest = ws
        .manifest_path
        .strip_prefix(&root)
        .ok()
        .filter(|rel| *rel != std::path::Path::new("Cargo.toml"))
        .map(|rel| rel.display().to_string());
    let targets = ci::targets(triples, &host.triple, policy);
    for (triple, _) in &args.native {
        if !targets.iter().any(|(t, _)| t == triple) {
            return Err(Error::bad_input(format!(
                "--native names `{triple}`, which is not among the workflow's targets ({}); add --target {triple}",
                targets
                    .iter()
                    .map(|(t, _)| t.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        }
    }
    let text = ci::render(&ci::WorkflowSpec {
        targets,
        shards: args.shards,
        manifest,
        install: &args.install,
        native: &args.native,
    });
    match args.output.as_deref() {
        Some(p) if p == std::path::Path::new("-") => anstream::print!("{text}"),
        other => {
            let path = other
                .map(std::path::Path::to_path_buf)
                .unwrap_or_else(|| root.join(".github/workflows/xtest.yml"));
            if ci::write(&path, &text, args.force)? {
                shell::status("Wrote", path.display());
            } else {
                shell::status("Unchanged", path.display());
            }
        }
    }
    Ok(error::EXIT_OK)
}
