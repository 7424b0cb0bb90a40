//! `cargo xtest plan`: each target's ladder without building (text, JSON or a GitHub matrix).

use super::prepare;
use crate::cli;
use crate::error::{self, Result};
use crate::report;

pub(super) fn plan(args: &cli::PlanArgs) -> Result<i32> {
    let (discovery, plan, _) = prepare(&args.common)?;
    let text = match args.format {
        cli::PlanFormat::Text => report::terminal::render_plan(&plan, &discovery.workspace),
        cli::PlanFormat::Json => report::plan_json(&plan, &discovery.workspace)?,
        cli::PlanFormat::GithubMatrix => report::github_matrix(&plan, args.shards)?,
    };
    anstream::println!("{text}");
    Ok(error::EXIT_OK)
}
