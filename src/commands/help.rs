//! `cargo xtest completions SHELL` and `cargo xtest man`: generated from the clap definition, so
//! they never drift from the flags.

use crate::cli;
use crate::error::{self, Context, Result};

pub(super) fn completions(args: &cli::CompletionsArgs) -> Result<i32> {
    let mut cmd = cli::command();
    let mut script = Vec::new();
    clap_complete::generate(args.shell, &mut cmd, "cargo-xtest", &mut script);
    to_stdout(&script, "the completion script")?;
    Ok(error::EXIT_OK)
}

/// Writes generated text to stdout; a reader that stopped early (`| head`) is not an error.
fn to_stdout(text: &[u8], what: &str) -> Result<()> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    match out.write_all(text).and_then(|()| out.flush()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        r => r.or_internal(|| format!("cannot write {what}")),
    }
}

pub(super) fn man(args: &cli::ManArgs) -> Result<i32> {
    let cmd = cli::command();
    match &args.out_dir {
        None => {
            let mut page = Vec::new();
            clap_mangen::Man::new(cmd)
                .render(&mut page)
                .or_internal(|| "cannot render the man page".to_owned())?;
            to_stdout(&page, "the man page")?;
        }
        Some(dir) => {
            std::fs::create_dir_all(dir)
                .or_bad_input(|| format!("cannot create {}", dir.display()))?;
            clap_mangen::generate_to(cmd, dir)
                .or_bad_input(|| format!("cannot write man pages into {}", dir.display()))?;
            crate::shell::status("Wrote", format!("man pages into {}", dir.display()));
        }
    }
    Ok(error::EXIT_OK)
}
