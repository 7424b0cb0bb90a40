//! One session: what every subcommand starts from, built once — the host's toolchain, the
//! workspace (from `cargo metadata`), its policy (validated), cargo's configuration, and the
//! target triples to work on (command line, else policy, else the defaults, each known to rustc).
//! `cargo metadata` and the questions to rustc are independent, so they are asked at once.

use std::path::Path;

use crate::discover::{self, CargoConfig, Discovery, FeatureArgs, Host, Workspace};
use crate::error::Result;
use crate::plan;
use crate::policy::Policy;

/// Which targets get an interpreted lane (their tests built by cargo-miri and run by Miri).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Interpret {
    /// Those whose policy says `miri = true`, beside their native lane.
    AsThePolicySays,
    /// Every target but those whose policy says `miri = false`, beside its native lane
    /// (`--miri`).
    Beside,
    /// The same targets, interpreted only: no native lane (`--miri-only`, `doctor --miri`).
    Only,
}

pub(crate) struct Session {
    pub host: Host,
    /// `None` only where a command works outside a workspace (`doctor`, `setup`).
    pub workspace: Option<Workspace>,
    pub policy: Policy,
    pub config: CargoConfig,
    pub triples: Vec<String>,
    /// `--target all`: keep only the targets whose probes prove they reach `test`.
    pub all: bool,
}

/// Whether a command needs a workspace.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Needs {
    /// Fail without one.
    Workspace,
    /// Use one if there is one (an explicit `--manifest-path` must still load).
    WorkspaceIfAny,
}

impl Session {
    pub(crate) fn open(
        manifest_path: Option<&Path>,
        features: &FeatureArgs,
        targets: &[String],
        needs: Needs,
    ) -> Result<Session> {
        let cargo = discover::host::find_cargo()?;
        let (host, workspace) = std::thread::scope(|s| {
            let ws = s.spawn(|| Workspace::load(&cargo, manifest_path, features));
            let host = Host::discover_with(cargo.clone());
            (host, ws.join().expect("cargo metadata"))
        });
        let host = host?;
        let workspace = match workspace {
            Ok(ws) => Some(ws),
            Err(e) if needs == Needs::Workspace || manifest_path.is_some() => return Err(e),
            Err(_) => None,
        };
        let policy = match &workspace {
            Some(ws) => {
                let policy = Policy::load(&ws.root, &ws.metadata)?;
                policy.validate(
                    |t| host.validate_triple(t),
                    |p| ws.member_by_name(p).is_some(),
                )?;
                policy
            }
            None => Policy::default(),
        };
        let request = plan::Request {
            targets: targets.to_vec(),
            ..Default::default()
        };
        let config = Discovery::config()?;
        let (triples, all) = plan::select_triples(
            &request,
            &policy,
            &host.triple,
            &config.build_targets(),
            |t| host.has_std(t),
        );
        for t in &triples {
            host.validate_triple(t)?;
        }
        Ok(Session {
            config,
            host,
            workspace,
            policy,
            triples,
            all,
        })
    }

    /// The workspace of a session opened with [`Needs::Workspace`].
    pub(crate) fn workspace(&self) -> &Workspace {
        self.workspace
            .as_ref()
            .expect("a session that needs a workspace has one")
    }

    /// Each target lane's toolchain, discovered and then proved by the probes (cached under
    /// the workspace's target directory when there is one): a target's native lane, and beside
    /// it its interpreted lane where `miri` or the policy asks for one
    /// ([`discover::toolchain::Miri`]).
    pub(crate) fn toolchains(
        &self,
        max_level: crate::level::Level,
        reprobe: bool,
        miri: Interpret,
    ) -> Result<Vec<discover::TargetToolchain>> {
        let target_dir = self.workspace.as_ref().map(|ws| ws.target_dir.as_path());
        let mut native = Discovery::targets(&self.host, &self.config, &self.triples, target_dir)?;
        let options = discover::ProbeOptions {
            dir: self
                .workspace
                .as_ref()
                .map(|ws| ws.target_dir.join("xtest").join("probes")),
            max_level,
            reprobe,
        };
        let probe = |lanes: &mut [discover::TargetToolchain]| -> Result<()> {
            let probes = discover::probe::probe_all(&self.host, lanes, &options)?;
            for (tc, proved) in lanes.iter_mut().zip(probes) {
                tc.probes = proved;
            }
            // A cross gcc linking with rust-lld that its probes refute links with GNU ld.
            let (at, mut plain): (Vec<usize>, Vec<discover::TargetToolchain>) = lanes
                .iter()
                .enumerate()
                .filter(|(_, tc)| {
                    let refuted = [&tc.probes.link, &tc.probes.run]
                        .into_iter()
                        .flatten()
                        .any(|p| !p.ok);
                    tc.links_with_lld() && refuted
                })
                .filter_map(|(i, tc)| Some((i, tc.without_lld()?)))
                .unzip();
            if !plain.is_empty() {
                let probes = discover::probe::probe_all(&self.host, &plain, &options)?;
                for (tc, proved) in plain.iter_mut().zip(probes) {
                    tc.probes = proved;
                }
                for (i, tc) in at.into_iter().zip(plain) {
                    lanes[i] = tc;
                }
            }
            Ok(())
        };
        // `--target all`: the targets whose native lane reaches `test` here, each with its
        // interpreted lane where there is one (Miri alone puts no target in `all`).
        if self.all {
            probe(&mut native)?;
            native.retain(|tc| {
                tc.triple == self.host.triple
                    || plan::ladder(&self.host, tc, crate::level::Level::Test).0
                        == crate::level::Level::Test
            });
        }
        // The policy's `miri = true` for a target, or `--miri`; its `false` wins over `--miri`.
        let interpreted = |triple: &str| {
            self.policy
                .for_target(triple, &self.host.triple)
                .miri
                .unwrap_or(miri != Interpret::AsThePolicySays)
        };
        let found = native
            .iter()
            .any(|tc| interpreted(&tc.triple))
            .then(discover::toolchain::Miri::find);
        let mut toolchains = Vec::with_capacity(native.len());
        for tc in native {
            let lane = found.as_ref().filter(|_| interpreted(&tc.triple)).map(|m| {
                let mut lane = tc.clone();
                lane.interpret(m);
                lane
            });
            if lane.is_none() || miri != Interpret::Only {
                toolchains.push(tc);
            }
            toolchains.extend(lane);
        }
        if self.all {
            let mut lanes: Vec<_> = toolchains.extract_if(.., |tc| tc.interpreted()).collect();
            probe(&mut lanes)?;
            // Back beside their native lanes.
            for lane in lanes {
                let at = toolchains
                    .iter()
                    .position(|tc| tc.triple == lane.triple)
                    .map_or(toolchains.len(), |i| i + 1);
                toolchains.insert(at, lane);
            }
        } else {
            probe(&mut toolchains)?;
        }
        Ok(toolchains)
    }
}
