//! `cargo xtest completions SHELL` and `cargo xtest man`: generated from the clap definition, so
//! they never drift from the flags.

use crate::cli;
use crate::error::{self, Context, Result};

pub fn completions(args: &cli::CompletionsArgs) -> Result<i32> {
    let mut cmd = cli::command();
    clap_complete::generate(args.shell, &mut cmd, "cargo-xtest", &mut std::io::stdout());
    Ok(error::EXIT_OK)
}

pub fn man(args: &cli::ManArgs) -> Result<i32> {
    let cmd = cli::command();
    match &args.out_dir {
        None => {
            let mut page = Vec::new();
            clap_mangen::Man::new(cmd)
                .render(&mut page)
                .or_internal(|| "cannot render the man page".to_owned())?;
            use std::io::Write;
            std::io::stdout()
                .write_all(&page)
                .or_internal(|| "cannot write the man page".to_owned())?;
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
