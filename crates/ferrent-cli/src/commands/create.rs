//! `ferrent create` (placeholder).

/// Arguments of `ferrent create`.
#[derive(clap::Args)]
pub struct Args {}

/// Runs `ferrent create`.
pub fn run(_args: Args) -> anyhow::Result<()> {
    anyhow::bail!("`ferrent create` is not implemented yet")
}
