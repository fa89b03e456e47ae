//! `plyr-bench`: see [`plyr_gen::bench`].

use clap::Parser as _;

fn main() -> anyhow::Result<()> {
    plyr_gen::bench::cli::run(plyr_gen::bench::cli::Cli::parse())
}
