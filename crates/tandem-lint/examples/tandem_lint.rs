//! A stand-in for `tandem lint` / `tandem convert` until the `tandem` binary wires them in;
//! also what `scripts/bench-lint.sh` times.

use clap::{Parser, Subcommand};
use tandem_lint::cli::{run_convert, run_lint, ConvertArgs, LintArgs};

#[derive(Parser)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    Lint(LintArgs),
    Convert(ConvertArgs),
}

fn main() {
    let code = match Cli::parse().command {
        Command::Lint(a) => run_lint(&a),
        Command::Convert(a) => run_convert(&a),
    };
    std::process::exit(code);
}
