//! `ferrent`: the command-line BitTorrent client. Thin: parses arguments, calls a command's
//! `run`, maps the error to one line and an exit code. No protocol logic lives here.

mod commands;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// ferrent: a BitTorrent client.
#[derive(Parser)]
#[command(name = "ferrent", version, about, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run a whole swarm on loopback: tracker, seeder and downloader (no internet needed).
    Demo(commands::demo::Args),
    /// Show what a .torrent file or magnet link describes.
    Info(commands::info::Args),
    /// Create a .torrent file from a file or directory.
    Create(commands::create::Args),
    /// Verify a torrent's data on disk (all cores; ignores resume data).
    Check(commands::check::Args),
    /// Download a torrent from its swarm.
    Download(commands::download::Args),
    /// Verify a torrent's data and upload it to the swarm.
    Seed(commands::seed::Args),
    /// Share a file or directory: create its torrent, run a tracker and seed it.
    Share(commands::share::Args),
    /// Run a BitTorrent tracker (HTTP and UDP).
    Tracker(commands::tracker::Args),
    /// Run torrents in the background, driven by an HTTP JSON API and a web page.
    Daemon(commands::daemon::Args),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // Logs go to stderr, filtered by RUST_LOG (e.g. RUST_LOG=ferrent=debug); warnings by default.
    // Colours only on a terminal: a log file or pipe gets plain text.
    tracing_subscriber::fmt()
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    let result = match cli.command {
        Command::Demo(a) => commands::demo::run(a),
        Command::Info(a) => commands::info::run(a),
        Command::Create(a) => commands::create::run(a),
        Command::Check(a) => commands::check::run(a),
        Command::Download(a) => commands::download::run(a),
        Command::Seed(a) => commands::seed::run(a),
        Command::Share(a) => commands::share::run(a),
        Command::Tracker(a) => commands::tracker::run(a),
        Command::Daemon(a) => commands::daemon::run(a),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // One line: the error and its causes, no backtrace.
            eprintln!("ferrent: {e:#}");
            ExitCode::FAILURE
        }
    }
}
