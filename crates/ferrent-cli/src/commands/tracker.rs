//! `ferrent tracker` (placeholder).

/// Arguments of `ferrent tracker`.
#[derive(clap::Args)]
pub struct Args {}

/// Runs `ferrent tracker`.
pub fn run(_args: Args) -> anyhow::Result<()> {
    anyhow::bail!("`ferrent tracker` is not implemented yet")
}
