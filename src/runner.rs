//! One model of what starts a target's test executables, decided once at discovery and carried
//! unchanged to every command that starts one — the run probe, the listing, the batches,
//! `harness = false` targets and `run --archive` — and [`TestCommand`], the one builder of those
//! commands. (Doctests reach the same runner through cargo: `CARGO_TARGET_<T>_RUNNER`.)
//!
//! A leaf module: the stages use it, it uses none of them.

use std::ffi::OsString;
use std::fmt;
use std::path::{Path, PathBuf};
use std::process::Command;

/// How a target's executables are started.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub(crate) enum RunnerKind {
    /// Directly, on this host.
    Native,
    /// By QEMU user mode, as a command (`qemu-<arch> -L <sysroot>`) or through the kernel's
    /// binfmt_misc registration (no command, `QEMU_LD_PREFIX` in the environment).
    Qemu,
    /// By Wine, in a prefix.
    Wine,
    /// By wasmtime.
    Wasmtime,
    /// Interpreted by Miri (`cargo-miri runner`, `--miri`): the test executable is the file
    /// cargo-miri wrote in its place, naming the crate to interpret.
    Miri,
    /// By any other command (a runner from cargo's configuration).
    Custom,
}

impl RunnerKind {
    /// The kind of a runner command found in cargo's configuration, from its program's name
    /// (`argv` empty with `env`: binfmt_misc with QEMU's environment).
    pub(crate) fn of_command(argv: &[String], env: &[(String, String)]) -> RunnerKind {
        let Some(program) = argv.first() else {
            return if env.is_empty() {
                RunnerKind::Native
            } else {
                RunnerKind::Qemu
            };
        };
        let name = Path::new(program)
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        match name.as_str() {
            n if n.starts_with("qemu-") => RunnerKind::Qemu,
            "wine" | "wine64" => RunnerKind::Wine,
            "wasmtime" => RunnerKind::Wasmtime,
            "cargo-miri" => RunnerKind::Miri,
            _ => RunnerKind::Custom,
        }
    }

    /// As tests read it from `XTEST_RUNNER`.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            RunnerKind::Native => "native",
            RunnerKind::Qemu => "qemu",
            RunnerKind::Wine => "wine",
            RunnerKind::Wasmtime => "wasmtime",
            RunnerKind::Miri => "miri",
            RunnerKind::Custom => "custom",
        }
    }
}

impl fmt::Display for RunnerKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A target's runner as every command uses it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Launcher {
    pub(crate) kind: RunnerKind,
    /// Program and arguments put before the executable; empty: the executable is started
    /// itself (natively, or by the kernel through binfmt_misc).
    pub(crate) argv: Vec<String>,
    /// The runner's own environment (QEMU's, Wine's prefix).
    pub(crate) env: Vec<(String, String)>,
    /// Preopen the working directory at its absolute path and the build script's `OUT_DIR`
    /// (the wasmtime runner cargo-xtest sets up; a configured runner runs as cargo runs it).
    pub(crate) preopen: bool,
}

impl Launcher {
    pub(crate) fn native() -> Launcher {
        Launcher {
            kind: RunnerKind::Native,
            argv: Vec::new(),
            env: Vec::new(),
            preopen: false,
        }
    }

    /// The command starting `exe` (arguments, directory and environment added to it).
    pub(crate) fn command(&self, exe: &Path) -> TestCommand {
        TestCommand {
            launcher: self.clone(),
            exe: exe.to_owned(),
            args: Vec::new(),
            cwd: None,
            env: Vec::new(),
            lib_path: Vec::new(),
            cpu: None,
        }
    }
}

/// One start of a test executable through its runner: built by the probes and the run alike,
/// so that what a probe proves is what the run does.
#[derive(Debug, Clone)]
pub(crate) struct TestCommand {
    launcher: Launcher,
    exe: PathBuf,
    args: Vec<String>,
    cwd: Option<PathBuf>,
    env: Vec<(String, OsString)>,
    lib_path: Vec<PathBuf>,
    cpu: Option<usize>,
}

impl TestCommand {
    pub(crate) fn args<S: AsRef<str>>(mut self, args: impl IntoIterator<Item = S>) -> Self {
        self.args
            .extend(args.into_iter().map(|a| a.as_ref().to_owned()));
        self
    }

    pub(crate) fn cwd(mut self, dir: &Path) -> Self {
        self.cwd = Some(dir.to_owned());
        self
    }

    /// The test's environment (cargo's variables, `[env]`, the build script's).
    pub(crate) fn envs(mut self, env: &[(String, OsString)]) -> Self {
        self.env.extend(env.iter().cloned());
        self
    }

    /// Directories put first on the loader path (`LD_LIBRARY_PATH`), before the inherited one.
    pub(crate) fn lib_path(mut self, dirs: &[PathBuf]) -> Self {
        self.lib_path.extend(dirs.iter().cloned());
        self
    }

    /// Bind the process (and what it starts) to one CPU: emulated tests only, where QEMU's
    /// thread hand-overs cost a wake-up on another CPU.
    pub(crate) fn cpu(mut self, cpu: Option<usize>) -> Self {
        self.cpu = cpu.filter(|_| self.launcher.kind == RunnerKind::Qemu);
        self
    }

    /// The program and its arguments, runner first.
    pub(crate) fn argv(&self) -> Vec<OsString> {
        let mut argv: Vec<OsString> = self.launcher.argv.iter().map(OsString::from).collect();
        if self.launcher.preopen {
            if let Some(cwd) = &self.cwd {
                argv.push(format!("--dir={}", cwd.display()).into());
            }
            if let Some((_, out_dir)) = self.env.iter().find(|(k, _)| k == "OUT_DIR") {
                argv.push(format!("--dir={}", Path::new(out_dir).display()).into());
            }
        }
        argv.push(self.exe.clone().into_os_string());
        argv.extend(self.args.iter().map(OsString::from));
        argv
    }

    /// The environment the process gets on top of this one's: the runner's, the test's, and
    /// the loader path (the given directories, then what this process inherited).
    pub(crate) fn env(&self) -> Vec<(OsString, OsString)> {
        let mut env: Vec<(OsString, OsString)> = self
            .launcher
            .env
            .iter()
            .map(|(k, v)| (k.into(), v.into()))
            .chain(self.env.iter().map(|(k, v)| (k.into(), v.clone())))
            .collect();
        let mut dirs = self.lib_path.clone();
        if !dirs.is_empty() {
            let inherited = std::env::var_os("LD_LIBRARY_PATH");
            for d in inherited.iter().flat_map(std::env::split_paths) {
                if !dirs.contains(&d) {
                    dirs.push(d);
                }
            }
            if let Ok(joined) = std::env::join_paths(dirs) {
                env.push(("LD_LIBRARY_PATH".into(), joined));
            }
        }
        env
    }

    /// The process to spawn.
    pub(crate) fn build(&self) -> Command {
        let argv = self.argv();
        let mut cmd = Command::new(&argv[0]);
        if let Some(cpu) = self.cpu {
            crate::process::bind_to_cpu(&mut cmd, cpu);
        }
        cmd.args(&argv[1..]).envs(self.env());
        if let Some(dir) = &self.cwd {
            cmd.current_dir(dir);
        }
        cmd
    }

    /// What starts it, for messages: the runner's program, else the executable.
    pub(crate) fn program(&self) -> String {
        self.launcher
            .argv
            .first()
            .cloned()
            .unwrap_or_else(|| self.exe.display().to_string())
    }
}

/// The command line, with the runner's environment before it, as a user would type it.
impl fmt::Display for TestCommand {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (k, v) in &self.launcher.env {
            write!(f, "{k}={v} ")?;
        }
        let argv: Vec<String> = self
            .argv()
            .iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        f.write_str(&argv.join(" "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn kinds_of_configured_commands() {
        let none: &[(String, String)] = &[];
        assert_eq!(RunnerKind::of_command(&[], none), RunnerKind::Native);
        let qemu_env = [(
            "QEMU_LD_PREFIX".to_owned(),
            "/usr/s390x-linux-gnu".to_owned(),
        )];
        assert_eq!(RunnerKind::of_command(&[], &qemu_env), RunnerKind::Qemu);
        let kind = |argv: &[&str]| RunnerKind::of_command(&strings(argv), none);
        assert_eq!(kind(&["/usr/bin/qemu-s390x", "-L", "/x"]), RunnerKind::Qemu);
        assert_eq!(kind(&["wine64"]), RunnerKind::Wine);
        assert_eq!(kind(&["wasmtime", "--dir=."]), RunnerKind::Wasmtime);
        assert_eq!(kind(&["sh", "run.sh"]), RunnerKind::Custom);
    }

    #[test]
    fn one_builder_puts_the_runner_preopens_and_loader_path_in_place() {
        let wasmtime = Launcher {
            kind: RunnerKind::Wasmtime,
            argv: strings(&["wasmtime", "run", "--dir=.", "-S", "inherit-env"]),
            env: Vec::new(),
            preopen: true,
        };
        let c = wasmtime
            .command(Path::new("/t/deps/it.wasm"))
            .args(["--list"])
            .cwd(Path::new("/w/pkg"))
            .envs(&[("OUT_DIR".to_owned(), "/t/build/pkg-1/out".into())])
            .cpu(Some(1));
        assert_eq!(
            c.to_string(),
            "wasmtime run --dir=. -S inherit-env --dir=/w/pkg --dir=/t/build/pkg-1/out /t/deps/it.wasm --list"
        );
        assert_eq!(c.cpu, None, "only emulated tests are bound");
        let qemu = Launcher {
            kind: RunnerKind::Qemu,
            argv: strings(&["qemu-s390x", "-L", "/usr/s390x-linux-gnu"]),
            env: vec![("QEMU_STRACE".to_owned(), "0".to_owned())],
            preopen: false,
        };
        let c = qemu
            .command(Path::new("/t/deps/it"))
            .lib_path(&[PathBuf::from("/t/deps")])
            .cpu(Some(1));
        assert_eq!(c.cpu, Some(1));
        assert_eq!(c.program(), "qemu-s390x");
        let env = c.env();
        assert_eq!(env[0], ("QEMU_STRACE".into(), "0".into()));
        let path = &env.iter().find(|(k, _)| k == "LD_LIBRARY_PATH").unwrap().1;
        assert!(path.to_string_lossy().starts_with("/t/deps"), "{path:?}");
        let native = Launcher::native().command(Path::new("/t/deps/it"));
        assert_eq!(native.to_string(), "/t/deps/it");
        assert!(native.env().is_empty());
    }
}
