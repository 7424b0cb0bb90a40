//! Command-line interface: `cargo xtest [OPTIONS]` verifies, `cargo xtest plan` only plans.
//! Flags follow cargo's names and meanings wherever cargo has the same flag.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::level::Level;

const EXIT_CODES: &str = "\
Exit codes:
  0    everything planned was verified and passed
  1    a verification failed: compile error, failing or timed-out test, or a required level not reached
  2    bad input or environment: unknown triple, malformed policy, missing manifest, cargo not found
  3    cargo-xtest itself failed (e.g. cannot write the report)
  130  interrupted; the report holds what finished before";

/// Cargo passes the subcommand name as the first argument: `cargo-xtest xtest …`.
#[derive(Debug, Parser)]
#[command(name = "cargo", bin_name = "cargo")]
pub(crate) enum CargoCli {
    Xtest(Xtest),
}

/// Verify a workspace on every target at the strongest level this host can reach:
/// check < build < build-tests < test (native or emulated).
#[derive(Debug, Args)]
#[command(version, after_help = EXIT_CODES, args_conflicts_with_subcommands = true)]
pub(crate) struct Xtest {
    #[command(subcommand)]
    pub command: Option<Command>,
    #[command(flatten)]
    pub verify: VerifyArgs,
    /// Coloring: auto, always, never.
    #[arg(long, global = true, value_enum, default_value_t = Color::Auto, value_name = "WHEN")]
    pub color: Color,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Print each target's capability ladder (level, linker, runner, downgrades and fixes)
    /// without building anything.
    Plan(PlanArgs),
    /// Show, per target, what this host has (std, linker, C compiler, emulator, sysroot,
    /// runner), where each came from, and the commands that install what is missing.
    /// Exits 1 when something is missing.
    Doctor(HostArgs),
    /// Install what is missing (prints the commands; --yes runs them), and with --write-config
    /// record the detected linkers and runners in the workspace's .cargo/config.toml.
    Setup(SetupArgs),
    /// Merge JSON reports (shards from --partition, per-target or per-machine runs) into one,
    /// listing missing or repeated shards and conflicting results.
    Merge(MergeArgs),
    /// Generate CI configuration.
    #[command(subcommand)]
    Ci(CiCommand),
    /// Build the test binaries of one target and pack them, with a manifest and the files their
    /// tests read, for `cargo xtest run --archive` on another machine.
    Archive(ArchiveArgs),
    /// Run an archive's tests here (natively or under this machine's runner), without cargo or
    /// sources, and report as a verification does.
    Run(RunArchiveArgs),
    /// Print a shell completion script for `cargo-xtest` (bash, zsh, fish, elvish, powershell).
    Completions(CompletionsArgs),
    /// Print the man page (roff), or write one page per command into a directory.
    Man(ManArgs),
}

#[derive(Debug, Args)]
pub(crate) struct CompletionsArgs {
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

#[derive(Debug, Args)]
pub(crate) struct ManArgs {
    /// Write `cargo-xtest.1` and a page per subcommand (`cargo-xtest-plan.1`, …) here.
    #[arg(long, value_name = "DIR")]
    pub out_dir: Option<PathBuf>,
}

/// The command line as clap sees it, named as it is installed: `cargo-xtest`.
pub(crate) fn command() -> clap::Command {
    use clap::CommandFactory;
    CargoCli::command()
        .find_subcommand("xtest")
        .cloned()
        .expect("the xtest subcommand")
        .name("cargo-xtest")
        .bin_name("cargo-xtest")
}

#[derive(Debug, Args)]
pub(crate) struct ArchiveArgs {
    #[command(flatten)]
    pub common: CommonArgs,
    /// The archive to write (tar.gz).
    #[arg(short, long, value_name = "FILE")]
    pub output: PathBuf,
}

#[derive(Debug, Args)]
pub(crate) struct RunArchiveArgs {
    /// An archive written by `cargo xtest archive`.
    #[arg(long, value_name = "FILE")]
    pub archive: PathBuf,
    /// Unpack here (kept; a new or empty directory) instead of a temporary directory.
    #[arg(long, value_name = "DIR")]
    pub extract_to: Option<PathBuf>,
    /// Refuse an archive that unpacks to more than this (bytes, or with K, M, G: `512M`); one
    /// file may be at most this or 4G, whichever is less.
    #[arg(long, value_name = "SIZE", default_value = "16G", value_parser = parse_size, allow_negative_numbers = true)]
    pub max_unpacked: u64,
    /// Refuse an archive that holds more than N files and directories.
    #[arg(
        long,
        value_name = "N",
        default_value_t = 1_000_000,
        allow_negative_numbers = true
    )]
    pub max_entries: u64,
    #[command(flatten)]
    pub out: OutputArgs,
    #[command(flatten)]
    pub tests: TestArgs,
    /// Exactly N test processes at once. Default: one per CPU, and more (up to two per CPU)
    /// while work waits and the CPUs still idle
    #[arg(short = 'j', long, value_name = "N", value_parser = parse_jobs, allow_negative_numbers = true)]
    pub jobs: Option<usize>,
}

#[derive(Debug, Subcommand)]
pub(crate) enum CiCommand {
    /// Write a GitHub Actions workflow: one job per target and shard, each installing its
    /// toolchain with `cargo xtest setup --yes` and uploading its report, then a merge job.
    Github(CiGithubArgs),
}

#[derive(Debug, Args)]
pub(crate) struct CiGithubArgs {
    /// Split each target verified at `test` into N jobs (`--partition K/N`).
    #[arg(long, value_name = "N", default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..), allow_negative_numbers = true)]
    pub shards: u32,
    #[command(flatten)]
    pub host: HostArgs,
    /// Where to write the workflow (`-`: standard output).
    /// Default: <repository>/.github/workflows/xtest.yml.
    #[arg(short, long, value_name = "PATH")]
    pub output: Option<PathBuf>,
    /// Replace an existing, different workflow file.
    #[arg(long)]
    pub force: bool,
    /// How the jobs install cargo-xtest (once per runner kind: the binary is cached, keyed on
    /// this command and cargo-xtest's version).
    #[arg(
        long,
        value_name = "COMMAND",
        default_value = concat!("cargo install --locked cargo-xtest@", env!("CARGO_PKG_VERSION"))
    )]
    pub install: String,
    /// Run TRIPLE's job natively on the runner LABEL (e.g.
    /// `aarch64-unknown-linux-gnu=ubuntu-24.04-arm`) instead of under QEMU; repeatable.
    #[arg(long, value_name = "TRIPLE=LABEL", value_parser = parse_native)]
    pub native: Vec<(String, String)>,
}

fn parse_native(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((t, l)) if !t.is_empty() && !l.is_empty() && !l.contains(char::is_whitespace) => {
            Ok((t.to_owned(), l.to_owned()))
        }
        _ => Err("expected TRIPLE=LABEL, e.g. aarch64-unknown-linux-gnu=ubuntu-24.04-arm".into()),
    }
}

#[derive(Debug, Args)]
pub(crate) struct MergeArgs {
    /// Reports written by `cargo xtest --report`.
    #[arg(required = true, value_name = "REPORT")]
    pub reports: Vec<PathBuf>,
    #[command(flatten)]
    pub out: OutputArgs,
}

/// Where reports are written.
#[derive(Debug, Clone, Args)]
pub(crate) struct OutputArgs {
    /// Write the JSON report (schema cargo-xtest/report-v1) to FILE.
    #[arg(long, value_name = "FILE")]
    pub report: Option<PathBuf>,
    /// Also write the report as JUnit XML.
    #[arg(long, value_name = "FILE")]
    pub junit: Option<PathBuf>,
    /// Also write the report as Markdown (and append it to $GITHUB_STEP_SUMMARY when set).
    #[arg(long, value_name = "FILE")]
    pub markdown: Option<PathBuf>,
    /// `json`: stdout streams one JSON event per line as the run goes (docs/events-schema.md),
    /// ending with the whole report; status lines stay on stderr.
    #[arg(long, value_name = "FMT", value_enum, default_value_t = MessageFormat::Human)]
    pub message_format: MessageFormat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum MessageFormat {
    /// The summary table on stdout.
    Human,
    /// One JSON object per line on stdout.
    Json,
}

#[derive(Debug, Clone, Args)]
pub(crate) struct HostArgs {
    /// Target triple to examine (repeatable; `host` = this host). Default: the policy's targets,
    /// else the host plus aarch64, s390x and riscv64gc Linux.
    #[arg(long = "target", value_name = "TRIPLE")]
    pub targets: Vec<String>,
    /// Path to Cargo.toml (for the policy's targets and --write-config).
    #[arg(long, value_name = "PATH")]
    pub manifest_path: Option<PathBuf>,
    /// Probe every target's toolchain again instead of reusing the cached probe results.
    #[arg(long)]
    pub reprobe: bool,
    /// Examine Miri for each target (what `--miri` interprets the tests with) instead of its
    /// linker and runner.
    #[arg(long)]
    pub miri: bool,
}

#[derive(Debug, Args)]
pub(crate) struct SetupArgs {
    #[command(flatten)]
    pub host: HostArgs,
    /// Run the install commands instead of printing them.
    #[arg(long, short = 'y')]
    pub yes: bool,
    /// Write auto-detected `linker`/`runner` settings into <workspace>/.cargo/config.toml,
    /// keeping existing settings and comments, with a backup of the previous file.
    #[arg(long)]
    pub write_config: bool,
}

#[derive(Debug, Args)]
pub(crate) struct PlanArgs {
    #[command(flatten)]
    pub common: CommonArgs,
    /// Output format.
    #[arg(long, value_enum, default_value_t = PlanFormat::Text)]
    pub format: PlanFormat,
    /// With `--format github-matrix`: split each target verified at `test` into N shards.
    #[arg(long, value_name = "N", default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..), allow_negative_numbers = true)]
    pub shards: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum PlanFormat {
    Text,
    Json,
    /// `{"include": [{"target", "level", "shard"}]}` for a GitHub Actions job matrix.
    GithubMatrix,
}

#[derive(Debug, Args)]
pub(crate) struct VerifyArgs {
    #[command(flatten)]
    pub common: CommonArgs,
    #[command(flatten)]
    pub out: OutputArgs,
    #[command(flatten)]
    pub tests: TestArgs,
    /// Neither reuse nor record results in the test-result cache.
    #[arg(long, conflicts_with = "cache")]
    pub no_cache: bool,
    /// Use the test-result cache under `CI=true` too (where it is off by default: a CI run
    /// verifies everything).
    #[arg(long)]
    pub cache: bool,
    /// Do not run doctests.
    #[arg(long)]
    pub no_doctests: bool,
    /// Run only the K-th of N deterministic slices of the tests (by package, binary and test
    /// name); N runs with K = 1..N together run every test once. Merge their reports with
    /// `cargo xtest merge`.
    #[arg(long, value_name = "K/N", allow_negative_numbers = true)]
    pub partition: Option<crate::run::Partition>,
}

/// How tests are run, for verification and for `run --archive`.
#[derive(Debug, Clone, Args)]
pub(crate) struct TestArgs {
    /// Kill a test (and everything it started) that runs longer than SECS; it is reported as timed-out.
    #[arg(long, value_name = "SECS", value_parser = parse_seconds, allow_negative_numbers = true)]
    pub test_timeout: Option<Duration>,
    /// Run every test even after one failed (builds always keep going).
    #[arg(long)]
    pub no_fail_fast: bool,
    /// Run a failed test up to N more times; one that then passes is reported as flaky.
    #[arg(long, value_name = "N", default_value_t = 0, value_parser = clap::value_parser!(u32).range(0..=100), allow_negative_numbers = true)]
    pub retries: u32,
    /// Warn about a test still running after SECS (0: never).
    #[arg(long, value_name = "SECS", default_value = "60", value_parser = parse_seconds_or_zero, allow_negative_numbers = true)]
    pub slow_after: Duration,
    /// Also write every test process's complete output (stdout and stderr, as it arrives) to a
    /// file under DIR, named in the report beside each failure (the report itself keeps a
    /// bounded head and tail).
    #[arg(long, value_name = "DIR")]
    pub full_output: Option<PathBuf>,
    /// Let emulated test processes move between CPUs, as `cargo test` does. By default each
    /// test process under QEMU is bound to one CPU (so inside such a test
    /// `std::thread::available_parallelism()` is 1): under QEMU, libtest's hand-over from one
    /// test's thread to the next is then a wake-up on the same CPU, not on another one.
    #[arg(long)]
    pub no_cpu_binding: bool,
}

impl TestArgs {
    /// The slow-test threshold, `None` when warnings are off (`--slow-after 0`).
    pub(crate) fn slow_after(&self) -> Option<Duration> {
        Some(self.slow_after).filter(|d| !d.is_zero())
    }
}

/// The longest duration a flag takes: a year, far beyond any test and far inside what a
/// `Duration` and the clock can add without overflow.
const MAX_SECONDS: f64 = 365.0 * 24.0 * 3600.0;

/// A positive number of seconds (fractions allowed), at most a year.
fn parse_seconds(s: &str) -> Result<Duration, String> {
    match s.trim().parse::<f64>() {
        Ok(v) if v.is_finite() && v > 0.0 && v <= MAX_SECONDS => Ok(Duration::from_secs_f64(v)),
        _ => Err("expected a positive number of seconds, at most 31536000 (a year)".to_owned()),
    }
}

/// Zero, or a positive number of seconds up to a year.
fn parse_seconds_or_zero(s: &str) -> Result<Duration, String> {
    match s.trim().parse::<f64>() {
        Ok(0.0) => Ok(Duration::ZERO),
        _ => parse_seconds(s).map_err(|_| {
            "expected 0 or a positive number of seconds, at most 31536000 (a year)".to_owned()
        }),
    }
}

/// A size in bytes: a whole number, optionally with a K, M or G suffix (powers of 1024).
fn parse_size(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let (digits, unit) = match t.char_indices().last() {
        Some((i, c)) if c.is_ascii_alphabetic() => (&t[..i], c.to_ascii_uppercase()),
        _ => (t, 'B'),
    };
    let shift = match unit {
        'B' => 0,
        'K' => 10,
        'M' => 20,
        'G' => 30,
        _ => return Err("expected a size such as 1048576, 512M or 16G".to_owned()),
    };
    digits
        .parse::<u64>()
        .ok()
        .filter(|n| *n > 0)
        .and_then(|n| n.checked_mul(1 << shift))
        .ok_or_else(|| "expected a size such as 1048576, 512M or 16G".to_owned())
}

/// A number of parallel jobs: 1 to 1024.
fn parse_jobs(s: &str) -> Result<usize, String> {
    match s.trim().parse::<usize>() {
        Ok(n) if (1..=1024).contains(&n) => Ok(n),
        _ => Err("expected a whole number of jobs from 1 to 1024".to_owned()),
    }
}

#[derive(Debug, Clone, Args)]
pub(crate) struct CommonArgs {
    /// Path to Cargo.toml.
    #[arg(long, value_name = "PATH")]
    pub manifest_path: Option<PathBuf>,
    /// Package(s) to verify (default: the workspace's default members, as `cargo test`).
    #[arg(short = 'p', long = "package", value_name = "SPEC")]
    pub packages: Vec<String>,
    /// Verify every workspace member (default: the default members, as `cargo test`).
    #[arg(long)]
    pub workspace: bool,
    /// Exclude package(s) from verification.
    #[arg(long, value_name = "SPEC")]
    pub exclude: Vec<String>,
    /// Space or comma separated list of features to activate.
    #[arg(short = 'F', long, value_name = "FEATURES")]
    pub features: Vec<String>,
    /// Activate all available features.
    #[arg(long)]
    pub all_features: bool,
    /// Do not activate the `default` feature.
    #[arg(long)]
    pub no_default_features: bool,
    /// Build and test in release mode (the `release` profile, as `cargo test --release`).
    #[arg(short = 'r', long, conflicts_with = "profile")]
    pub release: bool,
    /// Build and test with the named profile, as `cargo test --profile NAME`. Default: test
    /// executables with the `test` profile (as `cargo test`), libraries and binaries at `build`
    /// with `dev` (as `cargo build`).
    #[arg(long, value_name = "NAME")]
    pub profile: Option<String>,
    /// Target triple to verify (repeatable; `host` = this host). Default: the policy's targets,
    /// else the host plus aarch64, s390x and riscv64gc Linux.
    #[arg(long = "target", value_name = "TRIPLE")]
    pub targets: Vec<String>,
    /// The highest level to attempt.
    #[arg(long, value_name = "LEVEL")]
    pub level: Option<Level>,
    /// Also interpret every selected target's tests with Miri (nightly's `miri` and
    /// `rust-src`), beside its native verification: what `cargo +nightly miri test` does, in
    /// parallel batches, with undefined behaviour reported. A target's policy `miri = false`
    /// keeps it native only
    #[arg(long, conflicts_with = "miri_only")]
    pub miri: bool,
    /// Like `--miri`, without the native verification: only the interpreted lanes
    #[arg(long)]
    pub miri_only: bool,
    /// Probe every target's toolchain again instead of reusing the cached probe results.
    #[arg(long)]
    pub reprobe: bool,
    /// Parallel jobs: cargo's, and exactly N test processes at once. Default: one per CPU, and
    /// more test processes (up to two per CPU) while work waits and the CPUs still idle
    #[arg(short = 'j', long, value_name = "N", value_parser = parse_jobs, allow_negative_numbers = true)]
    pub jobs: Option<usize>,
    /// Passed to cargo: require Cargo.lock to be up to date.
    #[arg(long)]
    pub locked: bool,
    /// Passed to cargo: run without accessing the network.
    #[arg(long)]
    pub offline: bool,
    /// Passed to cargo: --locked and --offline.
    #[arg(long)]
    pub frozen: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum Color {
    Auto,
    Always,
    Never,
}

impl CommonArgs {
    pub(crate) fn features(&self) -> Vec<String> {
        self.features
            .iter()
            .flat_map(|f| f.split([',', ' ']))
            .filter(|f| !f.is_empty())
            .map(str::to_owned)
            .collect()
    }

    /// Which targets get an interpreted lane.
    pub(crate) fn interpret(&self) -> crate::session::Interpret {
        use crate::session::Interpret;
        match (self.miri, self.miri_only) {
            (_, true) => Interpret::Only,
            (true, false) => Interpret::Beside,
            (false, false) => Interpret::AsThePolicySays,
        }
    }
}

/// Parses the process arguments, accepting both `cargo xtest …` and `cargo-xtest …`.
pub(crate) fn parse() -> Xtest {
    let mut args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    if args.get(1).is_none_or(|a| a != "xtest") {
        args.insert(1, "xtest".into());
    }
    match CargoCli::try_parse_from(args) {
        Ok(CargoCli::Xtest(x)) => x,
        Err(e) if !e.use_stderr() => e.exit(),
        // Bad input is one line naming the problem, exit 2, as everywhere else.
        Err(e) => {
            let text = e.to_string();
            let first = text
                .lines()
                .find(|l| !l.trim().is_empty())
                .unwrap_or("error: invalid arguments");
            eprintln!("{first} (see --help)");
            std::process::exit(crate::error::EXIT_BAD_INPUT)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn sizes_parse_with_units_and_refuse_nonsense() {
        assert_eq!(parse_size("1048576"), Ok(1 << 20));
        assert_eq!(parse_size("512m"), Ok(512 << 20));
        assert_eq!(parse_size("16G"), Ok(16 << 30));
        for bad in ["", "0", "-1", "1T", "1.5G", "G", "99999999999999999999G"] {
            assert!(parse_size(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn cli_is_well_formed() {
        CargoCli::command().debug_assert();
    }

    #[test]
    fn parses_cargo_like_flags_and_subcommand() {
        let CargoCli::Xtest(x) = CargoCli::parse_from([
            "cargo",
            "xtest",
            "--target",
            "host",
            "--target",
            "s390x-unknown-linux-gnu",
            "-p",
            "a",
            "-F",
            "x,y",
            "--level",
            "build-tests",
            "--test-timeout",
            "2.5",
            "--no-fail-fast",
        ]);
        assert!(x.command.is_none());
        assert_eq!(x.verify.common.targets.len(), 2);
        assert_eq!(x.verify.common.level, Some(Level::BuildTests));
        assert_eq!(x.verify.common.features(), ["x", "y"]);
        assert_eq!(
            x.verify.tests.test_timeout,
            Some(Duration::from_millis(2500))
        );
        let CargoCli::Xtest(x) =
            CargoCli::parse_from(["cargo", "xtest", "plan", "--format", "json"]);
        assert!(matches!(
            x.command,
            Some(Command::Plan(PlanArgs {
                format: PlanFormat::Json,
                ..
            }))
        ));
        assert!(CargoCli::try_parse_from(["cargo", "xtest", "--level", "tests"]).is_err());
    }

    #[test]
    fn numbers_are_checked_where_they_are_parsed_for_every_subcommand() {
        let bad = |args: &[&str]| {
            let mut argv = vec!["cargo", "xtest"];
            argv.extend_from_slice(args);
            CargoCli::try_parse_from(argv).is_err()
        };
        for t in ["-1", "0", "nan", "inf", "1e20", "soon"] {
            assert!(bad(&["--test-timeout", t]), "--test-timeout {t}");
            assert!(
                bad(&["run", "--archive", "a.tgz", "--test-timeout", t]),
                "run {t}"
            );
        }
        for j in ["0", "-1", "100000", "x"] {
            assert!(bad(&["-j", j]), "-j {j}");
            assert!(bad(&["plan", "-j", j]), "plan -j {j}");
            assert!(
                bad(&["archive", "--target", "host", "-o", "a", "-j", j]),
                "archive -j {j}"
            );
            assert!(bad(&["run", "--archive", "a", "-j", j]), "run -j {j}");
        }
        assert!(bad(&["--slow-after", "1e300"]));
        assert!(bad(&["--retries", "1000"]));
        assert!(!bad(&[
            "--slow-after",
            "0",
            "--test-timeout",
            "0.5",
            "-j",
            "3"
        ]));
        // One --color for every subcommand (declared once, global).
        for argv in [
            &["cargo", "xtest", "--color", "never"][..],
            &["cargo", "xtest", "doctor", "--color", "never"],
            &["cargo", "xtest", "merge", "r.json", "--color", "never"],
            &[
                "cargo",
                "xtest",
                "run",
                "--archive",
                "a",
                "--color",
                "never",
            ],
            &["cargo", "xtest", "ci", "github", "--color", "never"],
        ] {
            let CargoCli::Xtest(x) = CargoCli::try_parse_from(argv).expect("parses");
            assert_eq!(x.color, Color::Never, "{argv:?}");
        }
    }
}
