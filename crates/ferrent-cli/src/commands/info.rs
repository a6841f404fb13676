//! `ferrent info` (placeholder).

/// Arguments of `ferrent info`.
#[derive(clap::Args)]
pub struct Args {}

/// Runs `ferrent info`.
pub fn run(_args: Args) -> anyhow::Result<()> {
    anyhow::bail!("`ferrent info` is not implemented yet")
}
