//! The `berth` binary: parses arguments, calls the service layer, prints.
//! No business logic lives here.

mod actions;
mod ci;
mod cli;
mod cli_ci;
mod cli_data;
mod cli_hub;
mod cli_lfs;
mod completions;
mod data;
mod deploy;
mod hub;
mod lfs;
mod monitor;
mod progress;
mod quickstart;
mod render;
mod rollout;
mod run;
mod serve;
mod train;
mod validate;

use std::io::IsTerminal;
use std::process::ExitCode;

use berth_core::Exit;
use clap::Parser;

fn main() -> ExitCode {
    let cli = match cli::Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let code = if e.use_stderr() { 2 } else { 0 };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    let serving =
        matches!(cli.command, cli::Command::Serve(_) | cli::Command::Hub(_) | cli::Command::Quickstart { .. });
    if !serving {
        die_quietly_on_a_closed_pipe();
    }
    init_logging(&cli.global, serving);
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(3);
        }
    };
    let json = cli.global.json;
    match runtime.block_on(run::run(cli)) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            render::error(&e, json);
            ExitCode::from(e.class().exit_code() as u8)
        }
    }
}

/// `berth show X | head -5`: when the reader goes away, stop as `cat` does
/// (killed by SIGPIPE, nothing printed) instead of panicking on the failed
/// write. The Rust runtime ignores SIGPIPE; a command restores the default.
/// Servers keep ignoring it, so a client hanging up never stops them
/// (sockets are written with MSG_NOSIGNAL either way).
fn die_quietly_on_a_closed_pipe() {
    #[cfg(unix)]
    // SAFETY: called before any other thread exists; SIG_DFL is a valid disposition.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

fn init_logging(g: &cli::Global, serving: bool) {
    use tracing_subscriber::EnvFilter;
    // A server's life events (loads, swaps) are worth seeing; a command's are not.
    let default = match (g.quiet, serving) {
        (true, _) => "error",
        (false, true) => "info",
        (false, false) => "warn",
    };
    let filter = EnvFilter::try_from_env("BERTH_LOG").unwrap_or_else(|_| EnvFilter::new(default));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).with_target(false);
    match g.log_format {
        cli::LogFormat::Json => builder.json().init(),
        cli::LogFormat::Text => builder.with_ansi(use_colour()).without_time().init(),
    }
}

/// Colour only on a terminal, and never when NO_COLOR is set.
pub(crate) fn use_colour() -> bool {
    std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}
