//! `ferrent info <file.torrent | magnet>`: what a torrent or magnet link describes, for people
//! (a summary and a file tree) or for scripts (`--json`).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::PathBuf;

use anyhow::{Context, bail};
use bytesize::ByteSize;
use ferrent_core::{InfoHash, Magnet, MetaVersion, Metainfo};
use serde::Serialize;

/// Largest .torrent file read. The metainfo parser caps the info dictionary itself; this only
/// stops us reading a wrong multi-gigabyte file into memory first.
pub(crate) const MAX_TORRENT_FILE: u64 = 64 * 1024 * 1024;

/// Arguments of `ferrent info`.
#[derive(clap::Args)]
pub struct Args {
    /// A .torrent file or a magnet link (`magnet:?xt=urn:btih:...`).
    pub input: String,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

/// Runs `ferrent info`.
pub fn run(args: Args) -> anyhow::Result<()> {
    let report = if args
        .input
        .trim_start()
        .to_ascii_lowercase()
        .starts_with("magnet:")
    {
        let magnet = Magnet::parse(&args.input).context("invalid magnet link")?;
        Report::from_magnet(&magnet)
    } else {
        let path = PathBuf::from(&args.input);
        let meta = read_torrent(&path)?;
        for w in meta.warnings() {
            eprintln!("warning: {}: {w}", path.display());
        }
        Report::from_metainfo(&meta)
    };
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", report.to_text());
    }
    Ok(())
}

/// Reads and parses a .torrent file, with errors that name the file.
pub fn read_torrent(path: &std::path::Path) -> anyhow::Result<Metainfo> {
    let size = std::fs::metadata(path)
        .with_context(|| format!("cannot read {}", path.display()))?
        .len();
    if size > MAX_TORRENT_FILE {
        bail!(
            "{} is {size} bytes, too large for a .torrent file",
            path.display()
        );
    }
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    Metainfo::from_bytes(&bytes)
        .with_context(|| format!("{} is not a valid torrent", path.display()))
}

/// Everything `info` prints; serialised as is for `--json`.
#[derive(Serialize)]
struct Report {
    source: &'static str,
    name: Option<String>,
    info_hash_v1: Option<String>,
    info_hash_v2: Option<String>,
    version: Option<&'static str>,
    total_size: Option<u64>,
    piece_length: Option<u32>,
    piece_count: Option<u32>,
    last_piece_length: Option<u32>,
    private: Option<bool>,
    creation_date: Option<i64>,
    creation_date_utc: Option<String>,
    comment: Option<String>,
    created_by: Option<String>,
    encoding: Option<String>,
    source_tag: Option<String>,
    trackers: Vec<Vec<String>>,
    web_seeds: Vec<String>,
    peers: Vec<String>,
    select_only: Vec<String>,
    files: Vec<FileReport>,
    magnet: String,
}

#[derive(Serialize)]
struct FileReport {
    index: usize,
    path: String,
    length: u64,
    /// Where the file starts in the torrent's byte space (pieces cover `offset..offset+length`).
    offset: u64,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pad: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    md5sum: Option<String>,
}

fn hashes(ih: &InfoHash) -> (Option<String>, Option<String>) {
    (
        ih.v1_hash().map(|h| h.to_hex()),
        ih.v2_hash().map(|h| h.to_hex()),
    )
}

fn utc(secs: i64) -> Option<String> {
    let t =
        std::time::UNIX_EPOCH.checked_add(std::time::Duration::from_secs(secs.try_into().ok()?))?;
    Some(humantime::format_rfc3339_seconds(t).to_string())
}

impl Report {
    fn from_metainfo(m: &Metainfo) -> Self {
        let (v1, v2) = hashes(&m.info_hash());
        let layout = m.layout();
        let trackers = m.trackers();
        let magnet = Magnet::new(m.info_hash())
            .with_name(m.name())
            .with_trackers(trackers.iter().flatten().cloned())
            .with_web_seeds(m.url_list().iter().cloned());
        let files = m
            .files()
            .iter()
            .enumerate()
            .map(|(index, f)| FileReport {
                index,
                path: f.display_path(),
                length: f.length(),
                offset: f.offset(),
                pad: f.is_pad(),
                md5sum: f.md5sum().map(str::to_owned),
            })
            .collect();
        Report {
            source: "torrent",
            name: Some(m.name().to_owned()),
            info_hash_v1: v1,
            info_hash_v2: v2,
            version: Some(match m.version() {
                MetaVersion::V1 => "v1",
                MetaVersion::V2 => "v2",
                MetaVersion::Hybrid => "hybrid",
            }),
            total_size: Some(m.content_length()),
            piece_length: Some(layout.piece_length()),
            piece_count: Some(layout.num_pieces()),
            last_piece_length: Some(layout.last_piece_len()),
            private: Some(m.is_private()),
            creation_date: m.creation_date(),
            creation_date_utc: m.creation_date().and_then(utc),
            comment: m.comment().map(str::to_owned),
            created_by: m.created_by().map(str::to_owned),
            encoding: m.encoding().map(str::to_owned),
            source_tag: m.source().map(str::to_owned),
            trackers,
            web_seeds: m.url_list().to_vec(),
            peers: Vec::new(),
            select_only: Vec::new(),
            files,
            magnet: magnet.to_string(),
        }
    }

    fn from_magnet(m: &Magnet) -> Self {
        let (v1, v2) = hashes(&m.info_hash);
        Report {
            source: "magnet",
            name: m.name.clone(),
            info_hash_v1: v1,
            info_hash_v2: v2,
            version: None,
            total_size: m.exact_length,
            piece_length: None,
            piece_count: None,
            last_piece_length: None,
            private: None,
            creation_date: None,
            creation_date_utc: None,
            comment: None,
            created_by: None,
            encoding: None,
            source_tag: None,
            trackers: m.trackers.iter().map(|t| vec![t.clone()]).collect(),
            web_seeds: m.web_seeds.clone(),
            peers: m.peers.iter().map(ToString::to_string).collect(),
            select_only: m
                .select_only
                .iter()
                .map(|r| {
                    if r.start() == r.end() {
                        r.start().to_string()
                    } else {
                        format!("{}-{}", r.start(), r.end())
                    }
                })
                .collect(),
            files: Vec::new(),
            magnet: m.to_string(),
        }
    }

    fn to_text(&self) -> String {
        let mut o = String::new();
        let mut line = |k: &str, v: &str| {
            let _ = writeln!(o, "{:<14}{v}", format!("{k}:"));
        };
        line(
            "name",
            self.name
                .as_deref()
                .unwrap_or("(unknown until metadata arrives)"),
        );
        if let Some(h) = &self.info_hash_v1 {
            line("info-hash v1", h);
        }
        if let Some(h) = &self.info_hash_v2 {
            line("info-hash v2", h);
        }
        if let Some(v) = self.version {
            line("version", v);
        }
        if let Some(t) = self.total_size {
            line(
                "size",
                &format!("{} ({t} bytes)", ByteSize::b(t).display().iec()),
            );
        }
        if let (Some(pl), Some(n), Some(last)) =
            (self.piece_length, self.piece_count, self.last_piece_length)
        {
            let pl_h = ByteSize::b(u64::from(pl)).display().iec();
            let last_h = ByteSize::b(u64::from(last)).display().iec();
            line("pieces", &format!("{n} x {pl_h} (last piece {last_h})"));
        }
        if let Some(p) = self.private {
            line(
                "private",
                if p {
                    "yes (BEP 27: trackers only, no DHT/PEX/LSD)"
                } else {
                    "no"
                },
            );
        }
        if let (Some(d), Some(h)) = (self.creation_date, &self.creation_date_utc) {
            line("created", &format!("{h} ({d})"));
        } else if let Some(d) = self.creation_date {
            line("created", &format!("{d} (not a valid date)"));
        }
        for (k, v) in [
            ("created by", &self.created_by),
            ("comment", &self.comment),
            ("encoding", &self.encoding),
            ("source", &self.source_tag),
        ] {
            if let Some(v) = v {
                line(k, v);
            }
        }
        if self.trackers.is_empty() {
            line("trackers", "none");
        } else {
            let _ = writeln!(o, "trackers:");
            for (i, tier) in self.trackers.iter().enumerate() {
                let _ = writeln!(o, "  tier {}: {}", i + 1, tier.join("  "));
            }
        }
        if !self.web_seeds.is_empty() {
            let _ = writeln!(o, "web seeds:");
            for w in &self.web_seeds {
                let _ = writeln!(o, "  {w}");
            }
        }
        if !self.peers.is_empty() {
            let _ = writeln!(o, "peers:        {}", self.peers.join(" "));
        }
        if !self.select_only.is_empty() {
            let _ = writeln!(o, "select only:  {}", self.select_only.join(","));
        }
        if self.source == "torrent" {
            let real = self.files.iter().filter(|f| !f.pad).count();
            let pads = self.files.len() - real;
            let pad_note = if pads > 0 {
                format!(", {pads} pad files hidden")
            } else {
                String::new()
            };
            let _ = writeln!(o, "files:        {real}{pad_note}");
            o.push_str(&file_tree(&self.files));
        } else {
            let _ = writeln!(
                o,
                "files:        (unknown until metadata arrives from peers)"
            );
        }
        let _ = writeln!(o, "magnet:       {}", self.magnet);
        o
    }
}

/// Directory tree of the (non-pad) files, each with its index and size.
fn file_tree(files: &[FileReport]) -> String {
    #[derive(Default)]
    struct Node<'a> {
        dirs: BTreeMap<&'a str, Node<'a>>,
        files: Vec<(&'a str, &'a FileReport)>,
    }
    let mut root = Node::default();
    for f in files.iter().filter(|f| !f.pad) {
        let parts: Vec<&str> = f.path.split('/').collect();
        let Some((file, dirs)) = parts.split_last() else {
            continue;
        };
        let mut node = &mut root;
        for d in dirs {
            node = node.dirs.entry(d).or_default();
        }
        node.files.push((file, f));
    }
    fn walk(n: &Node<'_>, depth: usize, out: &mut String) {
        let pad = "  ".repeat(depth + 1);
        for (name, child) in &n.dirs {
            let _ = writeln!(out, "{pad}{name}/");
            walk(child, depth + 1, out);
        }
        for (name, f) in &n.files {
            let size = ByteSize::b(f.length).display().iec().to_string();
            let _ = writeln!(out, "{pad}[{}] {name}  ({size})", f.index);
        }
    }
    let mut out = String::new();
    walk(&root, 0, &mut out);
    out
}
