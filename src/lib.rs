//! cargo-xtest: verify a Cargo workspace on every target at the strongest level this host can
//! honestly reach — `check` < `build` < `build-tests` < `test` (native or emulated).
//!
//! The pipeline, one module per stage, each handing one data type to the next:
//! [`discover`] ([`discover::Discovery`]) → [`plan`] ([`plan::Plan`]) → [`build`]
//! ([`build::BuildResult`]) → [`run`] ([`run::RunResult`]) → [`report`] ([`report::Report`]).
//! [`commands`] holds one file per subcommand around that pipeline; [`process`] holds all OS
//! process handling; [`targets`] is the target knowledge base.

#![warn(unreachable_pub)]

pub(crate) mod archive;
pub(crate) mod build;
pub(crate) mod capture;
pub(crate) mod cause;
pub(crate) mod ci;
pub(crate) mod cli;
pub(crate) mod commands;
pub(crate) mod diagnose;
pub(crate) mod discover;
pub(crate) mod doctor;
pub(crate) mod error;
pub(crate) mod fixes;
pub(crate) mod fsutil;
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod fuzzing;
pub(crate) mod ids;
pub(crate) mod level;
pub(crate) mod plan;
pub(crate) mod policy;
pub(crate) mod process;
pub(crate) mod report;
pub(crate) mod run;
pub(crate) mod runner;
pub(crate) mod session;
pub(crate) mod shell;
pub(crate) mod targets;

use cli::Color;

/// What the install script and the target table must agree on (checked by `tests/targets.rs`).
#[doc(hidden)]
pub use targets::{WASMTIME_FEATURES, WASMTIME_VERSION, lookup as target_lookup};

/// Runs the command line and returns the process exit code.
pub fn main() -> i32 {
    let cli = cli::parse();
    anstream::ColorChoice::write_global(match cli.color {
        Color::Auto => anstream::ColorChoice::Auto,
        Color::Always => anstream::ColorChoice::Always,
        Color::Never => anstream::ColorChoice::Never,
    });
    process::install_signal_handlers(|| {
        shell::error("stopped at once (second interrupt): children killed, no report written")
    });
    match commands::execute(&cli) {
        Ok(code) => code,
        Err(e) => {
            shell::error(e.render());
            e.exit_code()
        }
    }
}
