//! Building the `.torrent`: the info dictionary (v1 `files`/`length` + `pieces`, v2 `file tree`,
//! BEP 47 pad files for hybrids) and the top-level fields, encoded canonically.

use ferrent_bencode::{Dict, Value, encode};
use sha1::{Digest, Sha1};
use sha2::Sha256;

use super::hasher::{AlignedHashes, FileHashes};
use super::walk::InputFile;
use super::{CreatePlan, TorrentVersion};
use crate::{Id20, Id32, InfoHash};

/// The hashes of a torrent, by kind.
pub(crate) enum Hashes {
    /// v1: the `pieces` string.
    V1(Vec<u8>),
    /// v2 or hybrid.
    Aligned(AlignedHashes),
}

pub(crate) struct Built {
    pub bytes: Vec<u8>,
    pub info_hash: InfoHash,
    pub pad_bytes: u64,
}

/// Sizes were checked against `i64::MAX` by the scan; saturate rather than panic anyway.
fn int(n: u64) -> Value<'static> {
    Value::Int(i64::try_from(n).unwrap_or(i64::MAX))
}

fn str_list(items: &[String]) -> Value<'_> {
    Value::List(items.iter().map(|s| Value::str(s)).collect())
}

/// Length of the BEP 47 pad file after each file of a hybrid torrent (0 = none): every file with
/// data that does not end on a piece boundary gets one, the last file included, as libtorrent
/// writes hybrids (so both make the same info-hash from the same files and piece length).
pub(crate) fn pad_lengths(files: &[InputFile], piece_length: u64) -> Vec<u64> {
    files
        .iter()
        .map(|f| match f.length % piece_length {
            0 => 0,
            tail => piece_length - tail,
        })
        .collect()
}

/// The BEP 52 `file tree` for `files[..]` (sorted, so each directory's entries are contiguous),
/// whose paths are looked at from component `depth` on.
fn file_tree<'a>(files: &[(&'a InputFile, &'a FileHashes)], depth: usize) -> Dict<'a> {
    let mut dict = Dict::new();
    let mut i = 0;
    while let Some(&(first, hashes)) = files.get(i) {
        let Some(name) = first.path.get(depth) else {
            i += 1;
            continue;
        };
        let group_len = files
            .get(i..)
            .unwrap_or_default()
            .iter()
            .take_while(|(f, _)| f.path.get(depth) == Some(name))
            .count();
        if first.path.len() == depth + 1 {
            // A file: {"": {"length": n, "pieces root": root}} (no root for empty files).
            let mut leaf = Dict::new().with(b"length", int(first.length));
            if let Some(root) = &hashes.root {
                leaf.insert(b"pieces root", Value::Bytes(root));
            }
            dict.insert(
                name.as_bytes(),
                Value::Dict(Dict::new().with(b"", Value::Dict(leaf))),
            );
        } else {
            let group = files.get(i..i + group_len).unwrap_or_default();
            dict.insert(name.as_bytes(), Value::Dict(file_tree(group, depth + 1)));
        }
        i += group_len.max(1);
    }
    dict
}

pub(crate) fn build(plan: &CreatePlan, hashes: &Hashes, date: Option<i64>) -> Built {
    let opts = &plan.options;
    let version = opts.version;
    let files = &plan.files;
    let pads = if version == TorrentVersion::Hybrid && !plan.single_file {
        pad_lengths(files, plan.piece_length)
    } else {
        vec![0; files.len()]
    };
    let pad_names: Vec<[String; 2]> = pads
        .iter()
        .map(|n| [".pad".to_owned(), n.to_string()])
        .collect();
    let pad_bytes = pads.iter().sum();

    let mut info = Dict::new()
        .with(b"name", Value::str(&plan.name))
        .with(b"piece length", int(plan.piece_length));
    if opts.private {
        info.insert(b"private", Value::Int(1));
    }
    if let Some(source) = &opts.source {
        info.insert(b"source", Value::str(source));
    }

    let (v1_pieces, aligned) = match hashes {
        Hashes::V1(p) => (Some(p.as_slice()), None),
        Hashes::Aligned(a) => (a.v1_pieces.as_deref(), Some(a)),
    };
    if let Some(pieces) = v1_pieces.filter(|_| version != TorrentVersion::V2) {
        info.insert(b"pieces", Value::Bytes(pieces));
        if plan.single_file {
            info.insert(b"length", int(plan.total_size));
        } else {
            let mut list = Vec::with_capacity(files.len() * 2);
            for ((f, &pad), pad_name) in files.iter().zip(&pads).zip(&pad_names) {
                list.push(Value::Dict(
                    Dict::new()
                        .with(b"length", int(f.length))
                        .with(b"path", str_list(&f.path)),
                ));
                if pad > 0 {
                    list.push(Value::Dict(
                        Dict::new()
                            .with(b"attr", Value::str("p"))
                            .with(b"length", int(pad))
                            .with(b"path", str_list(pad_name)),
                    ));
                }
            }
            info.insert(b"files", Value::List(list));
        }
    }
    let mut piece_layers = Dict::new();
    if let Some(a) = aligned.filter(|_| version.has_v2()) {
        let pairs: Vec<(&InputFile, &FileHashes)> = files.iter().zip(&a.files).collect();
        info.insert(b"file tree", Value::Dict(file_tree(&pairs, 0)));
        info.insert(b"meta version", Value::Int(2));
        for h in &a.files {
            if let (Some(root), Some(layer)) = (&h.root, &h.layer) {
                piece_layers.insert(root, Value::Bytes(layer));
            }
        }
    }

    let info = Value::Dict(info);
    let info_bytes = encode(&info);
    let v1 = version
        .has_v1()
        .then(|| Id20(Sha1::digest(&info_bytes).into()));
    let v2 = version
        .has_v2()
        .then(|| Id32(Sha256::digest(&info_bytes).into()));
    // Every version has v1 or v2, so `from_parts` is always Some.
    let info_hash = InfoHash::from_parts(v1, v2).unwrap_or_else(|| InfoHash::v1(Id20::default()));

    let mut top = Dict::new().with(b"info", info);
    let tiers: Vec<&Vec<String>> = opts.trackers.iter().filter(|t| !t.is_empty()).collect();
    if let Some(first) = tiers.first().and_then(|t| t.first()) {
        top.insert(b"announce", Value::str(first));
    }
    if tiers.iter().map(|t| t.len()).sum::<usize>() > 1 {
        top.insert(
            b"announce-list",
            Value::List(tiers.iter().map(|t| str_list(t)).collect()),
        );
    }
    if let Some(c) = &opts.comment {
        top.insert(b"comment", Value::str(c));
    }
    if let Some(c) = &opts.created_by {
        top.insert(b"created by", Value::str(c));
    }
    if let Some(d) = date {
        top.insert(b"creation date", Value::Int(d));
    }
    if !piece_layers.is_empty() {
        top.insert(b"piece layers", Value::Dict(piece_layers));
    }
    match opts.web_seeds.as_slice() {
        [] => {}
        // One URL as a string, several as a list (BEP 19 allows both; as mktorrent writes it).
        [one] => top.insert(b"url-list", Value::str(one)),
        many => top.insert(b"url-list", str_list(many)),
    }
    Built {
        bytes: encode(&Value::Dict(top)),
        info_hash,
        pad_bytes,
    }
}
