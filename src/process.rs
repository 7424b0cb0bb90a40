//! All OS process handling lives here: spawning a child in its own process group, streaming its
//! output through a channel, killing the whole group (so no `qemu-*` or grandchild outlives it),
//! and turning SIGINT/SIGTERM/SIGHUP into a flag the stages poll so that they can stop children and still
//! report what they have. A second signal stops at once: every live child group is killed, the
//! registered temporary directories removed, and the process exits 130.

use std::collections::BTreeSet;
use std::io::Read;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

static INTERRUPTED: std::sync::OnceLock<Arc<AtomicBool>> = std::sync::OnceLock::new();

/// Process groups of the children alive now, killed at once on a second signal.
static GROUPS: Mutex<BTreeSet<i32>> = Mutex::new(BTreeSet::new());
/// Temporary directories removed on a second signal (the normal path drops them itself).
static TEMP_DIRS: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());

/// The CPUs this process may run on (its affinity mask, which a cgroup cpuset or `taskset`
/// narrows), in order; empty where it can't be read (or off Linux).
pub(crate) fn allowed_cpus() -> Vec<usize> {
    #[cfg(target_os = "linux")]
    {
        // SAFETY: a zeroed cpu_set_t is a valid, empty set; the call fills it.
        let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
        let size = std::mem::size_of::<libc::cpu_set_t>();
        // SAFETY: `set` is a live cpu_set_t of `size` bytes.
        if unsafe { libc::sched_getaffinity(0, size, &mut set) } != 0 {
            return Vec::new();
        }
        (0..libc::CPU_SETSIZE as usize)
            // SAFETY: `cpu` is below CPU_SETSIZE.
            .filter(|&cpu| unsafe { libc::CPU_ISSET(cpu, &set) })
            .collect()
    }
    #[cfg(not(target_os = "linux"))]
    Vec::new()
}

/// Makes `cmd`'s process, and every thread and process it starts, run on `cpu` only (set in
/// the child before it execs, so that not even the runner's first thread runs elsewhere).
/// Does nothing off Linux; a CPU that can't be had leaves the child unbound.
pub(crate) fn bind_to_cpu(cmd: &mut Command, cpu: usize) {
    #[cfg(target_os = "linux")]
    {
        if cpu >= libc::CPU_SETSIZE as usize {
            return;
        }
        // SAFETY: a zeroed cpu_set_t is a valid, empty set; `cpu` is below CPU_SETSIZE.
        let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
        unsafe { libc::CPU_SET(cpu, &mut set) };
        // SAFETY: the closure only makes one system call, which is async-signal-safe, and
        // ignores its failure (the child then runs unbound, as without binding).
        unsafe {
            cmd.pre_exec(move || {
                libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set);
                Ok(())
            });
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = (cmd, cpu);
}

/// Routes SIGINT, SIGTERM and SIGHUP (a closed terminal or SSH session) to a flag instead of
/// killing this process: the stages stop their children and the report keeps what finished. A
/// second one stops everything at once (exit 130), after `on_hard_stop` (which says so).
pub(crate) fn install_signal_handlers(on_hard_stop: fn()) {
    use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
    let flag = Arc::clone(INTERRUPTED.get_or_init(|| Arc::new(AtomicBool::new(false))));
    // A file-size limit (`ulimit -f`) makes a write fail with EFBIG instead of killing this
    // process, so the summary is still printed and the previous files stay. A handler, unlike
    // SIG_IGN, is not inherited by the programs this process starts.
    let _ = signal_hook::flag::register(
        signal_hook::consts::SIGXFSZ,
        Arc::new(AtomicBool::new(false)),
    );
    let Ok(mut signals) = signal_hook::iterator::Signals::new([SIGINT, SIGTERM, SIGHUP]) else {
        return;
    };
    std::thread::spawn(move || {
        for _ in signals.forever() {
            if flag.swap(true, Ordering::SeqCst) {
                stop_now(on_hard_stop);
            }
        }
    });
}

/// The second signal: kill every child group, remove temporary directories, exit 130.
fn stop_now(on_hard_stop: fn()) -> ! {
    let groups: Vec<i32> = lock(&GROUPS).iter().copied().collect();
    for pgid in groups {
        // SAFETY: kill(2) with a negative pid signals a process group we created.
        unsafe {
            libc::kill(-pgid, libc::SIGKILL);
        }
    }
    for dir in lock(&TEMP_DIRS).iter() {
        let _ = std::fs::remove_dir_all(dir);
    }
    on_hard_stop();
    std::process::exit(130);
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Removes `dir` if a second signal stops the process before its owner does.
pub(crate) fn remove_on_hard_stop(dir: &Path) {
    lock(&TEMP_DIRS).push(dir.to_path_buf());
}

/// Has the user asked us to stop?
pub(crate) fn interrupted() -> bool {
    INTERRUPTED.get().is_some_and(|f| f.load(Ordering::Relaxed))
}

/// What tells a run to stop starting work and stop its children: by default the flag the
/// signal handlers set ([`StopToken::signals`]); a test makes its own and trips it.
#[derive(Debug, Clone)]
pub(crate) struct StopToken(Arc<AtomicBool>);

impl StopToken {
    /// The token SIGINT, SIGTERM and SIGHUP trip ([`install_signal_handlers`]).
    pub(crate) fn signals() -> StopToken {
        StopToken(Arc::clone(
            INTERRUPTED.get_or_init(|| Arc::new(AtomicBool::new(false))),
        ))
    }

    /// A token of its own, tripped only by [`StopToken::stop`].
    #[cfg(test)]
    pub(crate) fn new() -> StopToken {
        StopToken(Arc::new(AtomicBool::new(false)))
    }

    #[cfg(test)]
    pub(crate) fn stop(&self) {
        self.0.store(true, Ordering::SeqCst);
    }

    pub(crate) fn is_stopped(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }
}

impl Default for StopToken {
    fn default() -> Self {
        StopToken::signals()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stream {
    Stdout,
    Stderr,
}

/// What [`Supervised::next`] saw.
#[derive(Debug)]
pub(crate) enum Next {
    Data(Stream, Vec<u8>),
    /// Nothing arrived within the wait.
    Idle,
    /// Every output stream is closed.
    Done,
}

enum Chunk {
    Data(Stream, Vec<u8>),
    Eof,
}

/// How long, in all, the output channel may stay empty after the child exited while something
/// it started still holds its output open: once it has waited that long for more, the process
/// counts as having *leaked* a descendant and reading stops. Time spent by a slow reader is not
/// counted, so the child's own last writes (in the pipe and the channel) are always read.
pub(crate) const LEAK_GRACE: Duration = Duration::from_millis(200);
/// More output than could have been in flight when the child exited (the channel, the pipe,
/// the reader's buffer): what comes beyond it was written by a descendant, and reading stops
/// however fast it writes.
pub(crate) const LEAK_BYTES: u64 = 8 << 20;

/// What is known once the child has exited.
struct Exited {
    /// How long the channel stayed empty while waited on, in all, since the exit.
    idle: Duration,
    /// Bytes read since the exit.
    bytes: u64,
}

/// A child process running in its own process group, with its output arriving on a channel.
pub(crate) struct Supervised {
    child: Child,
    pgid: i32,
    rx: Receiver<Chunk>,
    open: usize,
    status: Option<ExitStatus>,
    /// Set once the child was seen to have exited.
    exited: Option<Exited>,
    leaked: bool,
    /// Its CPU time, read as it exited, before it was reaped.
    cpu_at_exit: Option<Duration>,
    /// When it was last checked for an exit.
    checked: Instant,
    /// The inodes of the pipes its output comes through, to find who holds them on a leak.
    pipes: Vec<u64>,
    /// When it was spawned, and its start in the kernel's clock ticks (`/proc/<pid>/stat`).
    spawned: (Instant, Option<u64>),
}

impl Supervised {
    /// Spawns `cmd` with stdin closed; with `merge`, stderr goes into the stdout stream so the
    /// two keep their relative order.
    pub(crate) fn spawn(cmd: &mut Command, merge: bool) -> std::io::Result<Self> {
        cmd.stdin(Stdio::null()).process_group(0);
        // Bounded: when the reader falls behind, the child waits on its pipe; nothing piles up
        // in memory however much it writes.
        let (tx, rx) = mpsc::sync_channel(64);
        let mut readers: Vec<(Stream, Box<dyn Read + Send>)> = Vec::new();
        let mut pipes = Vec::new();
        let child = if merge {
            let (reader, writer) = std::io::pipe()?;
            cmd.stdout(writer.try_clone()?).stderr(writer);
            let child = cmd.spawn()?;
            pipes.extend(pipe_inode(&reader));
            readers.push((Stream::Stdout, Box::new(reader)));
            child
        } else {
            cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
            let mut child = cmd.spawn()?;
            let (out, err) = (child.stdout.take(), child.stderr.take());
            let (out, err) = (out.expect("piped"), err.expect("piped"));
            pipes.extend(pipe_inode(&out).into_iter().chain(pipe_inode(&err)));
            readers.push((Stream::Stdout, Box::new(out)));
            readers.push((Stream::Stderr, Box::new(err)));
            child
        };
        let spawned = (Instant::now(), start_ticks(child.id()));
        // Drop our copies of the write ends (held by `cmd`) so EOF arrives when the child exits.
        cmd.stdout(Stdio::null()).stderr(Stdio::null());
        let open = readers.len();
        for (stream, mut r) in readers {
            let tx = tx.clone();
            std::thread::spawn(move || {
                let mut buf = vec![0u8; 16 * 1024];
                loop {
                    match r.read(&mut buf) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => {
                            if tx.send(Chunk::Data(stream, buf[..n].to_vec())).is_err() {
                                return;
                            }
                        }
                    }
                }
                let _ = tx.send(Chunk::Eof);
            });
        }
        let pgid = child.id() as i32;
        lock(&GROUPS).insert(pgid);
        Ok(Supervised {
            child,
            pgid,
            rx,
            open,
            status: None,
            exited: None,
            leaked: false,
            cpu_at_exit: None,
            checked: Instant::now(),
            pipes,
            spawned,
        })
    }

    /// Whether the child has exited, without reaping it (its `/proc` entry stays readable).
    fn has_exited(&self) -> bool {
        // SAFETY: a zeroed siginfo_t is valid for waitid to fill; WNOWAIT leaves the child
        // waitable, WNOHANG returns at once.
        let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
        let rc = unsafe {
            libc::waitid(
                libc::P_PID,
                self.pgid as libc::id_t,
                &mut info,
                libc::WEXITED | libc::WNOHANG | libc::WNOWAIT,
            )
        };
        // SAFETY: waitid filled `info` (si_pid stays 0 while the child runs).
        rc == 0 && unsafe { info.si_pid() } != 0
    }

    /// Notes an exit: its CPU time while it can still be read, then reaps it and kills what
    /// it left in its group.
    fn check_exit(&mut self) {
        self.checked = Instant::now();
        if self.status.is_some() || !self.has_exited() {
            return;
        }
        self.cpu_at_exit = self.cpu_time();
        if let Ok(Some(st)) = self.child.try_wait() {
            self.status = Some(st);
            self.kill_group();
            self.exited = Some(Exited {
                idle: Duration::ZERO,
                bytes: 0,
            });
        }
    }

    /// Waits up to `wait` for output. Once the child has exited, what it started in its group
    /// is killed; a descendant that left the group (`setsid`, a daemon) and still holds the
    /// output open is *leaked*: reading stops once the output has been waited on for
    /// [`LEAK_GRACE`] in all since the exit, or [`LEAK_BYTES`] more came, and [`Next::Done`] is
    /// returned.
    pub(crate) fn next(&mut self, wait: Duration) -> Next {
        loop {
            if self.open == 0 {
                return Next::Done;
            }
            // Checked when output pauses, and now and then while it flows (a descendant may
            // write on after the child exited).
            if self.checked.elapsed() >= Duration::from_millis(250) {
                self.check_exit();
            }
            let mut wait = wait;
            if let Some(exited) = &self.exited {
                if exited.idle >= LEAK_GRACE || exited.bytes > LEAK_BYTES {
                    self.leaked = true;
                    self.open = 0;
                    return Next::Done;
                }
                wait = wait.min(LEAK_GRACE - exited.idle);
            }
            let started = Instant::now();
            let got = match self.rx.try_recv() {
                Ok(chunk) => Ok(chunk),
                Err(mpsc::TryRecvError::Empty) => self.rx.recv_timeout(wait),
                Err(mpsc::TryRecvError::Disconnected) => Err(RecvTimeoutError::Disconnected),
            };
            match got {
                Ok(Chunk::Data(s, d)) => {
                    if let Some(exited) = &mut self.exited {
                        exited.bytes += d.len() as u64;
                    }
                    return Next::Data(s, d);
                }
                Ok(Chunk::Eof) => self.open -= 1,
                Err(RecvTimeoutError::Timeout) => match &mut self.exited {
                    Some(exited) => exited.idle += started.elapsed(),
                    None => {
                        self.check_exit();
                        if self.exited.is_none() {
                            return Next::Idle;
                        }
                    }
                },
                Err(RecvTimeoutError::Disconnected) => {
                    self.open = 0;
                }
            }
        }
    }

    /// The child exited while a descendant outside its process group still held its output
    /// open (reading stopped; the descendant was left running).
    pub(crate) fn leaked(&self) -> bool {
        self.leaked
    }

    /// When each process that still holds the child's output open started (what a leaked
    /// child left running), on the clock of [`Instant`]: found in `/proc` by the pipes' inodes,
    /// placed against the child's own start. Precise to about two of the kernel's clock ticks
    /// (10 ms each); empty when not leaked or unknowable (off Linux, the child's start unread).
    pub(crate) fn leakers(&self) -> Vec<Instant> {
        let (Some(child_start), true) = (self.spawned.1, self.leaked) else {
            return Vec::new();
        };
        let Some(per_second) = clock_ticks() else {
            return Vec::new();
        };
        let me = std::process::id().to_string();
        let Ok(procs) = std::fs::read_dir("/proc") else {
            return Vec::new();
        };
        let mut starts = Vec::new();
        for pid in procs.flatten().map(|e| e.file_name()) {
            let pid = pid.to_string_lossy();
            if pid == me || !pid.bytes().all(|b| b.is_ascii_digit()) {
                continue;
            }
            let Ok(fds) = std::fs::read_dir(format!("/proc/{pid}/fd")) else {
                continue;
            };
            let holds = fds.flatten().any(|fd| {
                std::fs::read_link(fd.path()).is_ok_and(|l| {
                    let l = l.to_string_lossy();
                    l.strip_prefix("pipe:[")
                        .and_then(|n| n.strip_suffix(']'))
                        .and_then(|n| n.parse::<u64>().ok())
                        .is_some_and(|n| self.pipes.contains(&n))
                })
            });
            let ticks = holds.then(|| start_ticks_of(&pid)).flatten();
            if let Some(t) = ticks.filter(|t| *t >= child_start) {
                let after = Duration::from_secs_f64((t - child_start) as f64 / per_second);
                starts.push(self.spawned.0 + after);
            }
        }
        starts
    }

    /// The CPU time the child has used so far (user and system, with the children it has
    /// waited for), from `/proc/<pid>/stat`; once it is reaped, what it had used when it
    /// exited; `None` off Linux.
    pub(crate) fn cpu_time(&self) -> Option<Duration> {
        if self.status.is_some() {
            return self.cpu_at_exit;
        }
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.pgid)).ok()?;
        cpu_of_stat(&stat)
    }

    /// Kills the whole process group.
    pub(crate) fn kill(&mut self) {
        self.kill_group();
    }

    fn kill_group(&self) {
        if self.status.is_some() {
            // Reaped: the group may be gone, its id free for reuse by the next spawn.
            lock(&GROUPS).remove(&self.pgid);
        }
        // SAFETY: kill(2) with a negative pid signals the process group we created for the child.
        unsafe {
            libc::kill(-self.pgid, libc::SIGKILL);
        }
    }

    /// Reaps the child and kills anything it left behind in its group.
    pub(crate) fn finish(mut self) -> ExitStatus {
        let status = match self.status.take() {
            Some(s) => s,
            None => self
                .child
                .wait()
                .unwrap_or_else(|_| ExitStatus::from_raw(0x7f00)),
        };
        self.kill_group();
        self.status = Some(status);
        status
    }
}

impl Drop for Supervised {
    fn drop(&mut self) {
        if self.status.is_none() {
            self.kill_group();
            let _ = self.child.wait();
        } else {
            self.kill_group();
        }
    }
}

/// utime + stime + cutime + cstime of a `/proc/<pid>/stat` line, in clock ticks made a duration.
/// The inode of the pipe behind `fd` (`/proc/self/fd/N` leads to it).
fn pipe_inode(fd: &impl std::os::fd::AsRawFd) -> Option<u64> {
    use std::os::unix::fs::MetadataExt;
    let meta = std::fs::metadata(format!("/proc/self/fd/{}", fd.as_raw_fd())).ok()?;
    Some(meta.ino())
}

/// The kernel's clock ticks per second (`/proc` times are counted in them).
fn clock_ticks() -> Option<f64> {
    // SAFETY: sysconf has no preconditions.
    let per_second = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    (per_second > 0).then_some(per_second as f64)
}

/// When process `pid` started, in clock ticks since boot (field 22 of `/proc/<pid>/stat`).
fn start_ticks(pid: u32) -> Option<u64> {
    start_ticks_of(&pid.to_string())
}

fn start_ticks_of(pid: &str) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    stat_fields(&stat)?.get(19)?.parse().ok()
}

/// The fields of a `/proc/<pid>/stat` line after the command name (field 3 on).
fn stat_fields(stat: &str) -> Option<Vec<&str>> {
    // The command name (field 2) is in parentheses and may hold spaces: count from after it.
    Some(
        stat.get(stat.rfind(')')? + 1..)?
            .split_whitespace()
            .collect(),
    )
}

fn cpu_of_stat(stat: &str) -> Option<Duration> {
    let ticks: u64 = stat_fields(stat)?
        .get(11..15)?
        .iter()
        .map(|f| f.parse::<u64>().ok())
        .sum::<Option<u64>>()?;
    clock_ticks().map(|per_second| Duration::from_secs_f64(ticks as f64 / per_second))
}

/// What [`run_bounded`] saw.
#[derive(Debug)]
pub(crate) struct Bounded {
    /// `None` when the command was killed at the time limit.
    pub status: Option<ExitStatus>,
    /// At most the first `keep` bytes of each stream (kept apart: an emulator's warnings on
    /// stderr must not split the lines a test harness prints on stdout).
    pub stdout: String,
    pub stderr: String,
}

/// Runs `cmd` in its own process group with stdin closed, keeping only the first `keep` bytes of
/// each output stream; kills the whole group at `limit` or on an interrupt.
pub(crate) fn run_bounded(
    cmd: &mut Command,
    limit: Duration,
    keep: usize,
) -> std::io::Result<Bounded> {
    let mut child = Supervised::spawn(cmd, false)?;
    let start = std::time::Instant::now();
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let mut status = None;
    loop {
        if start.elapsed() > limit || interrupted() {
            child.kill();
            let _ = child.finish();
            break;
        }
        match child.next(Duration::from_millis(50)) {
            Next::Data(stream, d) => {
                let buf = if stream == Stream::Stdout {
                    &mut out
                } else {
                    &mut err
                };
                let room = keep.saturating_sub(buf.len());
                buf.extend_from_slice(&d[..d.len().min(room)]);
            }
            Next::Idle => {}
            Next::Done => {
                status = Some(child.finish());
                break;
            }
        }
    }
    Ok(Bounded {
        status,
        stdout: String::from_utf8_lossy(&out).into_owned(),
        stderr: String::from_utf8_lossy(&err).into_owned(),
    })
}

/// `exit status 101` or `killed by signal 11 (SIGSEGV)`.
pub(crate) fn describe_status(status: ExitStatus) -> String {
    if let Some(code) = status.code() {
        return format!("exit status {code}");
    }
    match status.signal() {
        Some(sig) => format!("killed by signal {sig} ({})", signal_name(sig)),
        None => "unknown exit status".to_owned(),
    }
}

fn signal_name(sig: i32) -> &'static str {
    match sig {
        libc::SIGILL => "SIGILL",
        libc::SIGABRT => "SIGABRT",
        libc::SIGBUS => "SIGBUS",
        libc::SIGFPE => "SIGFPE",
        libc::SIGKILL => "SIGKILL",
        libc::SIGSEGV => "SIGSEGV",
        libc::SIGTERM => "SIGTERM",
        libc::SIGTRAP => "SIGTRAP",
        _ => "signal",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn drain(p: &mut Supervised) -> String {
        let mut out = Vec::new();
        loop {
            match p.next(Duration::from_millis(50)) {
                Next::Data(_, d) => out.extend(d),
                Next::Idle => {}
                Next::Done => return String::from_utf8_lossy(&out).into_owned(),
            }
        }
    }

    #[test]
    fn merged_output_keeps_order() {
        let mut p = Supervised::spawn(
            Command::new("sh").args(["-c", "echo a; echo b >&2; echo c"]),
            true,
        )
        .unwrap();
        assert_eq!(drain(&mut p), "a\nb\nc\n");
        assert!(p.finish().success());
    }

    #[test]
    fn kill_takes_the_whole_group_and_a_background_grandchild_cannot_hold_the_pipe() {
        let start = Instant::now();
        let mut p = Supervised::spawn(
            Command::new("sh").args(["-c", "sleep 30 & echo started; exit 3"]),
            true,
        )
        .unwrap();
        let out = drain(&mut p);
        assert_eq!(out, "started\n");
        let st = p.finish();
        assert_eq!(describe_status(st), "exit status 3");
        assert!(start.elapsed() < Duration::from_secs(10));
    }

    #[test]
    fn a_descendant_that_left_the_group_is_leaked_not_waited_for() {
        let start = Instant::now();
        let mut p = Supervised::spawn(
            Command::new("sh").args(["-c", "setsid sleep 30 & echo $!; sleep 0.3; exit 0"]),
            true,
        )
        .unwrap();
        let out = drain(&mut p);
        let pid: i32 = out.trim().parse().expect("the descendant's pid");
        // SAFETY: kill(2) of the descendant this test started.
        unsafe { libc::kill(pid, libc::SIGKILL) };
        assert!(p.leaked());
        assert!(p.finish().success());
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "{:?}",
            start.elapsed()
        );
        // Without one, nothing is leaked.
        let mut p = Supervised::spawn(Command::new("sh").args(["-c", "echo x"]), true).unwrap();
        drain(&mut p);
        assert!(!p.leaked());
    }

    /// A slow reader loses nothing: the child's last output, still in the pipe and the channel
    /// when it exited, is read however long the reader takes over each piece.
    #[test]
    fn a_slow_reader_still_reads_all_a_child_wrote_before_it_exited() {
        let mut p = Supervised::spawn(
            Command::new("sh").args(["-c", "head -c 900000 /dev/zero; echo END"]),
            true,
        )
        .unwrap();
        let mut got = 0;
        let mut last = Vec::new();
        let mut pieces = 0;
        loop {
            match p.next(Duration::from_millis(50)) {
                Next::Data(_, d) => {
                    got += d.len();
                    pieces += 1;
                    // Long enough for the child to finish and be seen exiting, then slower than
                    // the leak grace for a few pieces.
                    if pieces == 1 {
                        std::thread::sleep(Duration::from_millis(800));
                    } else if pieces < 6 {
                        std::thread::sleep(LEAK_GRACE + Duration::from_millis(100));
                    }
                    last = d;
                }
                Next::Idle => {}
                Next::Done => break,
            }
        }
        assert_eq!(got, 900_004);
        assert!(last.ends_with(b"END\n"));
        assert!(!p.leaked());
        assert!(p.finish().success());
    }

    /// A descendant that writes without end, faster than it is read, does not keep the reader.
    #[test]
    fn a_leaked_descendant_writing_without_end_is_left_after_a_bounded_amount() {
        let start = Instant::now();
        let dir = tempfile::tempdir().unwrap();
        let pid_file = dir.path().join("pid");
        let script = format!(
            "setsid sh -c 'echo $$ > {}; exec yes' & sleep 0.3; exit 0",
            pid_file.display()
        );
        let mut p = Supervised::spawn(Command::new("sh").args(["-c", &script]), true).unwrap();
        let mut got = 0u64;
        loop {
            match p.next(Duration::from_millis(50)) {
                Next::Data(_, d) => got += d.len() as u64,
                Next::Idle => {}
                Next::Done => break,
            }
        }
        let pid: i32 = std::fs::read_to_string(&pid_file)
            .unwrap()
            .trim()
            .parse()
            .expect("the descendant's pid");
        // SAFETY: kill(2) of the descendant this test started.
        unsafe { libc::kill(pid, libc::SIGKILL) };
        assert!(p.leaked());
        assert!(got > LEAK_BYTES, "{got}");
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "{:?}",
            start.elapsed()
        );
        assert!(p.finish().success());
    }

    #[test]
    fn reads_the_cpu_time_of_a_stat_line_and_of_a_busy_child() {
        let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
        // pid (comm) state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt
        // utime stime cutime cstime …; a name with a space and a parenthesis.
        let line = "42 (a b) c) R 1 42 42 0 -1 0 0 0 0 0 150 50 7 3 20 0 1";
        assert_eq!(
            cpu_of_stat(line),
            Some(Duration::from_secs_f64(210.0 / ticks))
        );
        assert_eq!(cpu_of_stat("42 (short) R 1"), None);

        let mut busy = Command::new("sh");
        busy.args([
            "-c",
            "i=0; while [ $i -lt 200000 ]; do i=$((i+1)); done; echo done",
        ]);
        let mut p = Supervised::spawn(&mut busy, true).unwrap();
        let mut last = None;
        while !matches!(p.next(Duration::from_millis(50)), Next::Done) {
            last = p.cpu_time().or(last);
        }
        last = p.cpu_time().or(last);
        p.finish();
        assert!(
            last.is_some_and(|t| t >= Duration::from_millis(20)),
            "a busy loop uses CPU: {last:?}"
        );
    }

    #[test]
    fn describes_signals() {
        let mut p =
            Supervised::spawn(Command::new("sh").args(["-c", "kill -SEGV $$"]), true).unwrap();
        drain(&mut p);
        assert_eq!(describe_status(p.finish()), "killed by signal 11 (SIGSEGV)");
    }
}
