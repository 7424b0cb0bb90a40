//! Files cargo-xtest writes are replaced whole: the new content goes to a temporary file in the
//! same directory, is flushed to disk, and is renamed over the old file. A kill, a full disk or a
//! file-size limit then leaves the previous file intact, never a half-written one.

use std::io::Write;
use std::path::{Path, PathBuf};

/// Writes `bytes` to `path` atomically (temporary file beside it, fsync, rename).
pub(crate) fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let tmp = temp_beside(path)?;
    // Through the plain file: its errors name the problem, not the temporary path.
    tmp.as_file().write_all(bytes)?;
    tmp.as_file().sync_all()?;
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}

/// A temporary file in `path`'s directory, to be renamed over `path` once complete (it is
/// removed if dropped before). It has the permissions `path` has, or else those of any new
/// file (`0666` less the umask), not a temporary file's `0600`.
pub(crate) fn temp_beside(path: &Path) -> std::io::Result<tempfile::NamedTempFile> {
    use std::os::unix::fs::PermissionsExt;
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let tmp = tempfile::Builder::new()
        .prefix(&format!(
            ".{}.",
            path.file_name().unwrap_or_default().to_string_lossy()
        ))
        .suffix(".tmp")
        .permissions(std::fs::Permissions::from_mode(0o666))
        .tempfile_in(&dir)?;
    if let Ok(meta) = std::fs::metadata(path) {
        tmp.as_file().set_permissions(meta.permissions())?;
    }
    Ok(tmp)
}

/// The one-line message for a failed [`write_atomic`]: what failed, and what to do.
pub(crate) fn write_error(what: &str, path: &Path, e: &std::io::Error) -> String {
    let fix = match e.raw_os_error() {
        Some(libc::ENOSPC) | Some(libc::EDQUOT) => "free disk space or write elsewhere",
        Some(libc::EFBIG) => "raise the file-size limit (`ulimit -f`) or write elsewhere",
        Some(libc::EACCES) | Some(libc::EPERM) | Some(libc::EROFS) => {
            "write to a directory you can write in"
        }
        _ => "write elsewhere",
    };
    format!(
        "cannot write the {what} to {}: {e}; any previous file there is unchanged; {fix}",
        path.display()
    )
}

/// Checks, before any work starts, that a file can be written at `path`: its directory exists
/// and is writable, and the path is not a directory. The error names the problem and the fix.
pub(crate) fn check_writable(path: &Path, what: &str) -> crate::error::Result<()> {
    use crate::error::Error;
    if path.is_dir() {
        return Err(Error::bad_input(format!(
            "cannot write the {what} to {}: it is a directory; name a file",
            path.display()
        )));
    }
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    if !dir.is_dir() {
        return Err(Error::bad_input(format!(
            "cannot write the {what} to {}: the directory {} does not exist; create it first",
            path.display(),
            dir.display()
        )));
    }
    tempfile::Builder::new()
        .prefix(".cargo-xtest-check.")
        .tempfile_in(dir)
        .map(drop)
        .map_err(|e| {
            Error::bad_input_from(format!("cannot write the {what} to {}", path.display()), e)
                .with_fix("choose a writable directory")
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_whole_and_checks_paths_first() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("r.json");
        write_atomic(&p, b"one").unwrap();
        write_atomic(&p, b"two").unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"two");
        let leftovers = std::fs::read_dir(dir.path()).unwrap().count();
        assert_eq!(leftovers, 1, "no temporary file is left behind");
        assert!(check_writable(&p, "report").is_ok());
        let missing = dir.path().join("no/such/r.json");
        let e = check_writable(&missing, "report").unwrap_err().render();
        assert!(e.contains("does not exist"), "{e}");
        assert!(
            check_writable(dir.path(), "report")
                .unwrap_err()
                .render()
                .contains("is a directory")
        );
        assert!(write_atomic(&missing, b"x").is_err());
    }
}
