//! Where the app keeps its configuration, and how it writes text files.
//!
//! The planted bugs: the tests compare a joined path with a `/`-separated string and expect
//! `\n` line endings, while the code (rightly) uses the platform's separator and line ending.
//! Both pass on every Unix target, Linux under QEMU included, and fail only on Windows
//! (x86_64-pc-windows-gnu under Wine).

use std::path::{Path, PathBuf};

/// The configuration file under `base`.
pub fn config_file(base: &Path) -> PathBuf {
    base.join("conf").join("app.toml")
}

/// The platform's line ending.
pub const NEWLINE: &str = if cfg!(windows) { "\r\n" } else { "\n" };

/// Lines as a text file on this platform stores them.
pub fn to_text(lines: &[&str]) -> String {
    lines.iter().map(|l| format!("{l}{NEWLINE}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_file_is_under_conf() {
        assert_eq!(config_file(Path::new("base")).to_str(), Some("base/conf/app.toml"));
    }

    #[test]
    fn text_ends_lines_with_newline() {
        assert_eq!(to_text(&["a", "b"]), "a\nb\n");
    }

    #[test]
    fn file_name_is_portable() {
        assert_eq!(
            config_file(Path::new("base")).file_name().and_then(|n| n.to_str()),
            Some("app.toml")
        );
    }
}
