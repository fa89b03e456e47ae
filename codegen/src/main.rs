//! `plyr-codegen`: regenerate (default) or check (`--check`) the plyr-lexicons crate.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use plyr_codegen::{Mode, run};

/// Generate Rust types from the lexicon JSON in lexicons/schemas into lexicons/src.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Args {
    /// Folder of lexicon documents (searched recursively for *.json).
    #[arg(long, default_value = concat!(env!("CARGO_MANIFEST_DIR"), "/../lexicons/schemas"))]
    schemas: PathBuf,
    /// Where the generated crate sources go (replaced as a whole).
    #[arg(long, default_value = concat!(env!("CARGO_MANIFEST_DIR"), "/../lexicons/src"))]
    out: PathBuf,
    /// Do not write; exit 1 if the committed output differs from a fresh generation (for CI).
    #[arg(long)]
    check: bool,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let mode = if args.check { Mode::Check } else { Mode::Write };
    match run(&args.schemas, &args.out, mode) {
        Ok(drift) if drift.is_empty() => {
            println!("generated code is up to date ({})", args.out.display());
            ExitCode::SUCCESS
        }
        Ok(drift) => {
            let verb = if args.check { "differs from a fresh generation" } else { "regenerated" };
            for path in &drift {
                println!("{verb}: {}", path.display());
            }
            if args.check {
                eprintln!("run `cargo run -p plyr-codegen` and commit the result");
                ExitCode::FAILURE
            } else {
                ExitCode::SUCCESS
            }
        }
        Err(err) => {
            eprintln!("codegen failed: {err:#}");
            ExitCode::FAILURE
        }
    }
}
