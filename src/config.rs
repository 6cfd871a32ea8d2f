//! `heptaview config`: the configuration file's defaults, commented.

use heptaview_perception::config::DEFAULT_CONFIG_TOML;

use crate::Failure;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Print every stage parameter with its default and a comment (TOML).
    #[arg(long, required = true)]
    print_default: bool,
}

pub fn run(args: &Args) -> Result<(), Failure> {
    if args.print_default {
        print!("{DEFAULT_CONFIG_TOML}");
    }
    Ok(())
}
