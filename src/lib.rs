//! cargo-xtest: verify a Cargo workspace on every target at the strongest level this host can
//! honestly reach — `check` < `build` < `build-tests` < `test` (native or emulated).
//!
//! The pipeline, one module per stage, each handing one data type to the next:
//! [`discover`] ([`discover::Discovery`]) → [`plan`] ([`plan::Plan`]) → [`build`]
//! ([`build::BuildResult`]) → [`run`] ([`run::RunResult`]) → [`report`] ([`report::Report`]).
//! [`commands`] holds one file per subcommand around that pipeline; [`process`] holds all OS
//! process handling; [`targets`] is the target knowledge base.

pub mod archive;
pub mod build;
pub mod capture;
pub mod cause;
pub mod ci;
pub mod cli;
pub mod commands;
pub mod diagnose;
pub mod discover;
pub mod doctor;
pub mod error;
pub mod fixes;
pub mod fsutil;
#[doc(hidden)]
pub mod fuzzing;
pub mod ids;
pub mod level;
pub mod plan;
pub mod policy;
pub mod process;
pub mod report;
pub mod run;
pub mod session;
pub mod shell;
pub mod targets;

use cli::Color;

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
            shell::error(&e);
            e.exit_code()
        }
    }
}
