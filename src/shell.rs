//! Status lines on stderr in cargo's style (`   Building …`, `warning: …`), honouring `--color`.
//! The commands print theirs here; during a verification the live reporter
//! (`report::live`) formats its lines with the same functions and prints them above its display.

use anstream::eprintln;
use anstyle::{AnsiColor, Style};

const STATUS: Style = AnsiColor::Green
    .on_default()
    .effects(anstyle::Effects::BOLD);
const WARN: Style = AnsiColor::Yellow
    .on_default()
    .effects(anstyle::Effects::BOLD);
const ERROR: Style = AnsiColor::Red.on_default().effects(anstyle::Effects::BOLD);

/// `   Building message`, with the verb right-aligned to 12 columns like cargo.
pub(crate) fn status_line(verb: &str, message: impl std::fmt::Display) -> String {
    format!("{STATUS}{verb:>12}{STATUS:#} {message}")
}

/// A status line in red for failures (`FAILED`, `TIMEOUT`).
pub(crate) fn bad_line(verb: &str, message: impl std::fmt::Display) -> String {
    format!("{ERROR}{verb:>12}{ERROR:#} {message}")
}

pub(crate) fn warn_line(message: impl std::fmt::Display) -> String {
    format!("{WARN}warning{WARN:#}: {message}")
}

pub(crate) fn status(verb: &str, message: impl std::fmt::Display) {
    eprintln!("{}", status_line(verb, message));
}

pub(crate) fn warn(message: impl std::fmt::Display) {
    eprintln!("{}", warn_line(message));
}

pub(crate) fn error(message: impl std::fmt::Display) {
    eprintln!("{ERROR}error{ERROR:#}: {message}");
}

/// The colours of cargo-xtest's reports (the terminal report and `doctor`), in one place.
pub(crate) mod styles {
    use anstyle::{AnsiColor, Style};

    pub(crate) const OK: Style = AnsiColor::Green.on_default();
    pub(crate) const BAD: Style = AnsiColor::Red.on_default().effects(anstyle::Effects::BOLD);
    pub(crate) const DIM: Style = AnsiColor::BrightBlack.on_default();
    pub(crate) const HEAD: Style = Style::new().effects(anstyle::Effects::BOLD);
    pub(crate) const WARN: Style = AnsiColor::Yellow.on_default();
}
