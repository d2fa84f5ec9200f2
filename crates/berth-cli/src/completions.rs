//! `berth completions SHELL` and `berth man`: both generated from the same
//! clap definitions the parser uses, so they never fall out of step.

use std::io::Write;
use std::path::Path;

use berth_service::{Result, ServiceError};
use clap::CommandFactory;

use crate::cli::Cli;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ShellArg {
    Bash,
    Zsh,
    Fish,
}

pub fn completions(shell: ShellArg) {
    let shell = match shell {
        ShellArg::Bash => clap_complete::Shell::Bash,
        ShellArg::Zsh => clap_complete::Shell::Zsh,
        ShellArg::Fish => clap_complete::Shell::Fish,
    };
    clap_complete::generate(shell, &mut Cli::command(), "berth", &mut std::io::stdout());
}

fn io(what: &Path, e: std::io::Error) -> ServiceError {
    ServiceError::input(format!("cannot write {}: {e}", what.display()), Some("check the directory".into()))
}

/// The manual: `berth.1` on stdout, or with `dir` a page per command
/// (`berth.1`, `berth-push.1`, `berth-alias-set.1`, …) written there.
pub fn man(dir: Option<&Path>) -> Result<()> {
    let cmd = Cli::command();
    let Some(dir) = dir else {
        let mut out = Vec::new();
        clap_mangen::Man::new(cmd).render(&mut out).map_err(|e| io(Path::new("stdout"), e))?;
        return std::io::stdout().write_all(&out).map_err(|e| io(Path::new("stdout"), e));
    };
    std::fs::create_dir_all(dir).map_err(|e| io(dir, e))?;
    let mut written = 0;
    write_pages(&cmd, "berth", dir, &mut written)?;
    println!("wrote {written} manual page(s) to {}", dir.display());
    Ok(())
}

fn write_pages(cmd: &clap::Command, name: &str, dir: &Path, written: &mut usize) -> Result<()> {
    let path = dir.join(format!("{name}.1"));
    let mut out = Vec::new();
    clap_mangen::Man::new(cmd.clone()).title(name.to_string()).render(&mut out).map_err(|e| io(&path, e))?;
    std::fs::write(&path, out).map_err(|e| io(&path, e))?;
    *written += 1;
    for sub in cmd.get_subcommands().filter(|s| s.get_name() != "help") {
        write_pages(sub, &format!("{name}-{}", sub.get_name()), dir, written)?;
    }
    Ok(())
}
