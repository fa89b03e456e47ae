//! `plyr-gen`: see [`plyr_gen::cli`].

use clap::Parser as _;

fn main() -> anyhow::Result<()> {
    plyr_gen::cli::run(plyr_gen::cli::Cli::parse())
}
