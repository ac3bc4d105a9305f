//! The `usercenter` binary: `serve` and the admin commands.
#![forbid(unsafe_code)]

use clap::Parser;
use std::process::ExitCode;
use usercenter::Config;
use usercenter::cli::{self, Cli, Command};

fn main() -> ExitCode {
    let args = Cli::parse();
    let serving = matches!(args.command, Command::Serve);
    let default_level = if serving { "info" } else { "warn" };
    let filter = tracing_subscriber::EnvFilter::try_from_env("USERCENTER_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default_level));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .init();

    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => return fail(format!("cannot start the async runtime: {e}")),
    };
    let config = match Config::load(args.config.as_deref()) {
        Ok(c) => c,
        Err(e) => return fail(e.to_string()),
    };
    if serving {
        return match runtime.block_on(usercenter::server::run(config)) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => fail(e.to_string()),
        };
    }
    match runtime.block_on(cli::run(config, args.command)) {
        Ok(value) => {
            println!("{value:#}");
            ExitCode::SUCCESS
        }
        Err(e) => fail(e.to_string()),
    }
}

fn fail(message: String) -> ExitCode {
    eprintln!("usercenter: {message}");
    ExitCode::FAILURE
}
