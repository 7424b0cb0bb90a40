//! The Wine prefix cargo-xtest runs Windows test executables in: created once under the target
//! directory (so Wine's first-start cost is paid once, and the user's `~/.wine` is never
//! touched), and given what Rust's std needs that an older Wine lacks.
//!
//! Rust's std for Windows imports `ProcessPrng` from `bcryptprimitives.dll`, which Wine before 9
//! does not provide: every test executable then fails to start (`c0000135`). Where the prefix has
//! no such DLL after Wine set it up, a small one exporting `ProcessPrng` (implemented with
//! `RtlGenRandom`) is built with the target's mingw-w64 gcc and put in the prefix's `system32`.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

/// The DLL Rust's std needs and older Wine lacks.
pub(crate) const SHIM_DLL: &str = "bcryptprimitives.dll";

const SHIM_SOURCE: &str = r#"#include <windows.h>
#include <ntsecapi.h>

/* ProcessPrng as bcryptprimitives.dll exports it (Windows 10+), for Wine versions without it. */
__declspec(dllexport) BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T len) {
    while (len > 0) {
        ULONG chunk = len > 0x10000000 ? 0x10000000 : (ULONG)len;
        if (!RtlGenRandom(data, chunk)) return FALSE;
        data += chunk;
        len -= chunk;
    }
    return TRUE;
}
"#;

/// How long Wine may take to create a prefix (its first start is the slowest).
const INIT_LIMIT: Duration = Duration::from_secs(180);

/// Makes sure the prefix named by `WINEPREFIX` in `env` exists and can start Rust test
/// executables, building the `ProcessPrng` DLL with `gcc` where Wine lacks it. The error is the
/// literal output of the step that failed.
pub(crate) fn prepare_prefix(
    wine: &str,
    env: &[(String, String)],
    gcc: &Path,
) -> Result<(), String> {
    let Some(prefix) = env
        .iter()
        .find(|(k, _)| k == "WINEPREFIX")
        .map(|(_, v)| Path::new(v))
    else {
        return Ok(());
    };
    let system32 = prefix.join("drive_c/windows/system32");
    if !prefix.join("system.reg").is_file() {
        std::fs::create_dir_all(prefix)
            .map_err(|e| format!("cannot create the Wine prefix {}: {e}", prefix.display()))?;
        let mut cmd = Command::new(wine);
        cmd.args(["wineboot", "--init"])
            .envs(env.iter().map(|(k, v)| (k, v)));
        bounded(&mut cmd, INIT_LIMIT)?;
        // Wine's server outlives its last client and writes the prefix's registry (system.reg)
        // only when it exits: wait for it, so the prefix is complete and no server is left.
        if let Ok(server) = which::which("wineserver") {
            let mut cmd = Command::new(server);
            cmd.arg("-w").envs(env.iter().map(|(k, v)| (k, v)));
            bounded(&mut cmd, INIT_LIMIT)?;
        }
    }
    let dll = system32.join(SHIM_DLL);
    if dll.is_file() {
        return Ok(());
    }
    let src = prefix.join("xtest-processprng.c");
    std::fs::write(&src, SHIM_SOURCE)
        .map_err(|e| format!("cannot write {}: {e}", src.display()))?;
    let tmp = system32.join(format!("{SHIM_DLL}.{}", std::process::id()));
    let mut cmd = Command::new(gcc);
    cmd.args(["-shared", "-O2", "-o"])
        .arg(&tmp)
        .arg(&src)
        .arg("-ladvapi32");
    bounded(&mut cmd, INIT_LIMIT)?;
    std::fs::rename(&tmp, &dll).map_err(|e| format!("cannot install {}: {e}", dll.display()))
}

fn bounded(cmd: &mut Command, limit: Duration) -> Result<(), String> {
    let shown = super::probe::describe(cmd);
    match crate::process::run_bounded(cmd, limit, 8 * 1024) {
        Err(e) => Err(format!("cannot start `{shown}`: {e}")),
        Ok(b) if b.status.is_some_and(|s| s.success()) => Ok(()),
        Ok(b) => Err(format!(
            "`{shown}` {}\n{}\n{}",
            b.status
                .map(crate::process::describe_status)
                .unwrap_or_else(|| format!("was killed after {}s", limit.as_secs())),
            b.stderr.trim_end(),
            b.stdout.trim_end()
        )),
    }
}
