//! `cargo xtest merge`: one report from shard, per-target and per-machine reports.

use super::{check_outputs, finish};
use crate::cli;
use crate::error::Result;
use crate::report;

pub(super) fn merge(args: &cli::MergeArgs) -> Result<i32> {
    check_outputs(&args.out)?;
    let inputs = args
        .reports
        .iter()
        .map(|p| report::merge::read(p).map(|r| (p.clone(), r)))
        .collect::<Result<Vec<_>>>()?;
    let merged = report::merge::merge(inputs);
    finish(&merged, &args.out)
}
