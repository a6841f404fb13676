//! One module per subcommand: each has `Args` (clap) and `run(Args) -> anyhow::Result<()>`.

pub mod check;
pub mod create;
pub mod daemon;
pub mod demo;
pub mod download;
pub mod info;
pub mod seed;
pub mod select;
pub mod share;
pub mod tracker;
