//! The `usercenter` binary: `serve` and the admin commands.
#![forbid(unsafe_code)]

use clap::Parser;
use std::process::ExitCode;
use usercenter::Config;
use usercenter::cli::{self, Cli, Command};
use usercenter::log::Log;

/// mimalloc rather than glibc's malloc: a request's memory is often freed on another
/// runtime worker than the one that allocated it, and glibc's arenas then take locks
/// against each other (`docs/performance.md`).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let args = Cli::parse();
    let serving = matches!(args.command, Command::Serve);
    let default_level = if serving { "info" } else { "warn" };
    let filter = tracing_subscriber::EnvFilter::try_from_env("USERCENTER_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default_level));
    let log = Log::stderr();
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(log.clone())
        .with_ansi(false)
        .init();
    // The access lines before a panic come before its message.
    let report = std::panic::take_hook();
    let before_panic = log.clone();
    std::panic::set_hook(Box::new(move |info| {
        before_panic.try_flush();
        report(info)
    }));
    let outcome = run(args, serving);
    log.flush();
    match outcome {
        Ok(Some(value)) => {
            println!("{value:#}");
            ExitCode::SUCCESS
        }
        Ok(None) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("usercenter: {message}");
            ExitCode::FAILURE
        }
    }
}

/// Serves, or runs one admin command and gives its JSON; an error is its one line.
fn run(args: Cli, serving: bool) -> Result<Option<serde_json::Value>, String> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the async runtime: {e}"))?;
    let config = Config::load(args.config.as_deref()).map_err(|e| e.to_string())?;
    if serving {
        runtime
            .block_on(usercenter::server::run(config))
            .map_err(|e| e.to_string())?;
        return Ok(None);
    }
    runtime
        .block_on(cli::run(config, args.command))
        .map(Some)
        .map_err(|e| e.to_string())
}
