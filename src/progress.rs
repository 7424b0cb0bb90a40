//! The live progress display: on a terminal, one line per target (binaries built and finished,
//! tests passed, failed, cached) redrawn in place by indicatif, with status lines printed above
//! it; elsewhere (a pipe, CI logs) nothing is drawn and status lines are printed as they come.

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

#[derive(Debug, Default, Clone, Copy)]
pub struct Counts {
    pub built: usize,
    pub finished: usize,
    pub passed: usize,
    pub failed: usize,
    pub cached: usize,
}

struct Display {
    multi: MultiProgress,
    bars: Mutex<BTreeMap<String, (ProgressBar, Counts)>>,
}

static DISPLAY: OnceLock<Option<Display>> = OnceLock::new();

/// Starts the display for `triples` if stderr is a terminal.
pub fn init(triples: &[String]) {
    DISPLAY.get_or_init(|| {
        if !std::io::stderr().is_terminal() {
            return None;
        }
        let multi = MultiProgress::with_draw_target(ProgressDrawTarget::stderr_with_hz(10));
        let style = ProgressStyle::with_template("{spinner:.green} {prefix:<30} {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_spinner());
        let bars = triples
            .iter()
            .map(|t| {
                let bar = multi.add(ProgressBar::new_spinner());
                bar.set_style(style.clone());
                bar.set_prefix(t.clone());
                bar.set_message("building");
                bar.enable_steady_tick(Duration::from_millis(120));
                (t.clone(), (bar, Counts::default()))
            })
            .collect();
        Some(Display {
            multi,
            bars: Mutex::new(bars),
        })
    });
}

/// Prints a status line above the display; `false` when there is no display.
pub fn println(line: &str) -> bool {
    match DISPLAY.get() {
        Some(Some(d)) => d.multi.println(line).is_ok(),
        _ => false,
    }
}

/// Updates one target's counts.
pub fn update(triple: &str, f: impl FnOnce(&mut Counts)) {
    let Some(Some(d)) = DISPLAY.get() else { return };
    let mut bars = d.bars.lock().expect("bars");
    if let Some((bar, counts)) = bars.get_mut(triple) {
        f(counts);
        bar.set_message(format!(
            "{} binaries built, {} done · {} passed · {} failed · {} cached",
            counts.built, counts.finished, counts.passed, counts.failed, counts.cached
        ));
    }
}

/// Removes the display before the final report is printed.
pub fn finish() {
    if let Some(Some(d)) = DISPLAY.get() {
        for (bar, _) in d.bars.lock().expect("bars").values() {
            bar.finish_and_clear();
        }
        let _ = d.multi.clear();
    }
}
