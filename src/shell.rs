//! Status output on stderr in cargo's style (`   Building …`, `warning: …`), honouring `--color`.
//! The final report goes to stdout through `report`; everything here is progress.

use anstream::eprintln;
use anstyle::{AnsiColor, Style};

const STATUS: Style = AnsiColor::Green
    .on_default()
    .effects(anstyle::Effects::BOLD);
const WARN: Style = AnsiColor::Yellow
    .on_default()
    .effects(anstyle::Effects::BOLD);
const ERROR: Style = AnsiColor::Red.on_default().effects(anstyle::Effects::BOLD);

/// Prints above the live progress display when there is one.
fn line(text: String) {
    if !crate::progress::println(&text) {
        eprintln!("{text}");
    }
}

/// `   Building message`, with the verb right-aligned to 12 columns like cargo.
pub fn status(verb: &str, message: impl std::fmt::Display) {
    line(format!("{STATUS}{verb:>12}{STATUS:#} {message}"));
}

/// A status line in red for failures (`FAILED`, `TIMEOUT`).
pub fn status_bad(verb: &str, message: impl std::fmt::Display) {
    line(format!("{ERROR}{verb:>12}{ERROR:#} {message}"));
}

pub fn warn(message: impl std::fmt::Display) {
    line(format!("{WARN}warning{WARN:#}: {message}"));
}

pub fn error(message: impl std::fmt::Display) {
    eprintln!("{ERROR}error{ERROR:#}: {message}");
}
