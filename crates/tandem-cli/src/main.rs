//! `tandem`: zero-downtime PostgreSQL schema changes.

mod cli;
mod commands;
mod demo;
mod diagnostics;
mod duration;
mod printer;

use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    // Messages are not re-wrapped: terminals wrap long lines themselves, and logs and tests
    // can then search them.
    let _ = miette::set_hook(Box::new(|_| {
        Box::new(miette::MietteHandlerOpts::new().wrap_lines(false).build())
    }));
    let cli = cli::Cli::parse();
    // The linter runs before the shared runtime: it starts its own only when --url or --trace
    // asks for a database.
    #[cfg(feature = "lint")]
    match &cli.command {
        cli::Command::Lint(args) => return commands::lint::run_lint(args, &cli.global),
        cli::Command::Convert(args) => return commands::lint::run_convert(args),
        _ => {}
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(2);
        }
    };
    match runtime.block_on(commands::run(cli)) {
        Ok(code) => code,
        Err(report) => {
            eprintln!("{report:?}");
            ExitCode::from(1)
        }
    }
}
