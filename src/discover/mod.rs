//! Stage 1, discover: what this host has and what the workspace is.
//!
//! Produces a [`Discovery`]: the host toolchain, the workspace (from `cargo metadata`), and one
//! [`TargetToolchain`] per requested target (std, linker, runner, each with where it came from,
//! and what the [`probe`]s proved of them).
//! Reads the machine and cargo configuration; changes nothing.

pub(crate) mod cargo_config;
pub(crate) mod host;
pub(crate) mod probe;
pub(crate) mod toolchain;
pub(crate) mod wine;
pub(crate) mod workspace;

pub(crate) use cargo_config::{CargoConfig, Source};
pub(crate) use host::{Host, PackageManager, TargetCfg};
pub(crate) use probe::{ProbeKind, ProbeOptions, ProbeResult, Probes};
pub(crate) use toolchain::{Runner, RunnerProblem, TargetToolchain, Tool};
pub(crate) use workspace::{FeatureArgs, Package, UnitKind, Workspace};

use crate::error::{Context, Result};

/// Everything the planner needs to know about this host and workspace.
#[derive(Debug, Clone)]
pub(crate) struct Discovery {
    pub host: Host,
    pub workspace: Workspace,
    pub targets: Vec<TargetToolchain>,
    /// `[env]` from cargo's configuration, for the test processes.
    pub config_env: Vec<(String, std::ffi::OsString, bool)>,
}

impl Discovery {
    /// Cargo's configuration as cargo started here would read it.
    pub(crate) fn config() -> Result<CargoConfig> {
        let cwd = std::env::current_dir()
            .or_internal(|| "cannot read the current directory".to_owned())?;
        CargoConfig::load(&cwd)
    }

    /// Discovers the toolchain for each of `triples`, which must already be validated.
    pub(crate) fn targets(
        host: &Host,
        config: &CargoConfig,
        triples: &[String],
        target_dir: Option<&std::path::Path>,
    ) -> Result<Vec<TargetToolchain>> {
        let state = toolchain::state_dir(target_dir);
        // Each target's cfg comes from rustc: what an earlier run of this rustc asked is read
        // back; the rest are asked at once, the host's alongside (diagnosis compares the
        // targets with it), and remembered by `host`.
        let cache = state.join("rustc-cfg.json");
        host.load_cfgs(&cache);
        let known = host.cfg_memo.lock().expect("cfg memo").len();
        let cfgs: Vec<Result<TargetCfg>> = std::thread::scope(|s| {
            if !triples.iter().any(|t| *t == host.triple) {
                s.spawn(|| host.target_cfg(&host.triple));
            }
            let handles: Vec<_> = triples
                .iter()
                .map(|t| s.spawn(move || host.target_cfg(t)))
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().expect("rustc --print cfg"))
                .collect()
        });
        host.save_cfgs(&cache, known);
        triples
            .iter()
            .zip(cfgs)
            .map(|(t, cfg)| TargetToolchain::discover(host, config, t, cfg?, &state))
            .collect()
    }
}
