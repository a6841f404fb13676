//! [`Metainfo`]: a parsed and validated `.torrent` file (BEP 3) or info dictionary (BEP 9), v1,
//! v2 (BEP 52) or hybrid.
//!
//! # Reading
//! - [`Metainfo::from_bytes`] reads a `.torrent` file. v1 torrents are decoded leniently
//!   (non-canonical integers, unsorted keys and trailing bytes become [`MetainfoWarning`]s, as
//!   libtorrent tolerates them); a torrent with v2 metadata (`meta version`) must be canonical.
//!   The info-hash is always computed over the exact bytes of `info` in the file.
//! - [`Metainfo::from_info_bytes`] reads an info dictionary fetched from peers (magnet links);
//!   the caller compares [`Metainfo::info_hash`] with the one it asked for.
//!
//! # What is checked
//! Every key of the info dictionary that matters for the content has the right type;
//! `piece length` is > 0 and at most [`crate::MAX_PIECE_LENGTH`] (v2: a power of two >= 16 KiB);
//! sizes are non-negative and add up without overflow; there are at most [`crate::MAX_PIECES`]
//! pieces and [`MAX_FILES`] files; the info dictionary is at most [`MAX_INFO_SIZE`] bytes;
//! `pieces` holds exactly `ceil(total / piece length)` SHA-1 hashes; v2 piece layers have one hash
//! per piece and hash up to their file's `pieces root`; a hybrid's v1 and v2 halves list the same
//! files; the torrent has at least one non-empty file. Paths are sanitised or rejected by the
//! rules of [`crate::path`], and two files that resolve to the same path (or a file whose path is
//! another file's directory) make the torrent invalid: they would overwrite each other. Pad files
//! are exempt (they are never written).
//!
//! Optional top-level fields (`announce`, `announce-list`, `comment`, ...) that have the wrong
//! type are ignored with a warning: they do not change what is downloaded.
//!
//! # Geometry of v2 torrents
//! In v2 every file starts on a piece boundary. For v2-only torrents ferrent inserts a pad file
//! (path `name/.pad/<size>`, like libtorrent) after every file but the last whose size is not a
//! multiple of the piece length, so that [`Metainfo::layout`] is the same piece space a hybrid
//! torrent would have. (libtorrent also pads after the last file; that changes only the size of
//! the last piece, which in v2 is not hashed beyond the file's end.)

mod error;
mod fields;
mod file;
mod limits;
mod v1;
mod v2;
mod write;

use std::collections::HashMap;
use std::path::PathBuf;

use ferrent_bencode::{DecodeOptions, Dict, Mode, Value, decode_with};
use sha1::Sha1;
use sha2::{Digest, Sha256};

pub use error::{MetainfoError, MetainfoWarning};
pub use file::{FileAttr, FileEntry};
pub use limits::{MAX_FILES, MAX_INFO_SIZE, MIN_V2_PIECE_LENGTH, V2_BLOCK_SIZE};

use crate::infohash::{Id20, Id32, InfoHash};
use crate::layout::{Layout, PieceIndex};
use fields::{At, TopLevel};

/// Which BitTorrent protocol version(s) the metadata describes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MetaVersion {
    /// BEP 3: SHA-1 pieces over the concatenated files.
    V1,
    /// BEP 52 only: per-file SHA-256 merkle trees.
    V2,
    /// Both (BEP 52 "hybrid"): v1 `pieces` and v2 `file tree` over the same, piece-aligned files.
    Hybrid,
}

impl MetaVersion {
    /// Whether the torrent has v1 metadata (`pieces`).
    pub fn has_v1(self) -> bool {
        matches!(self, MetaVersion::V1 | MetaVersion::Hybrid)
    }

    /// Whether the torrent has v2 metadata (`file tree`).
    pub fn has_v2(self) -> bool {
        matches!(self, MetaVersion::V2 | MetaVersion::Hybrid)
    }
}

/// A validated torrent: the info dictionary (content and identity) and the top-level fields
/// (trackers, web seeds, descriptive text). Owns its data; keeps the raw info dictionary bytes to
/// serve them to peers (BEP 9).
///
/// ```
/// use ferrent_core::Metainfo;
/// let torrent = b"d8:announce14:http://t/annou4:infod6:lengthi5e4:name5:a.txt\
/// 12:piece lengthi16384e6:pieces20:aaaaaaaaaaaaaaaaaaaaee";
/// let m = Metainfo::from_bytes(torrent).unwrap();
/// assert_eq!(m.name(), "a.txt");
/// assert_eq!(m.layout().num_pieces(), 1);
/// assert_eq!(m.files()[0].path(), std::path::Path::new("a.txt"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Metainfo {
    info_hash: InfoHash,
    info_bytes: Vec<u8>,
    version: MetaVersion,
    name: String,
    single_file: bool,
    private: bool,
    source: Option<String>,
    piece_hashes: Vec<Id20>,
    files: Vec<FileEntry>,
    layout: Layout,
    top: TopLevel,
    warnings: Vec<MetainfoWarning>,
}

fn lenient_then_strict(
    input: &[u8],
    is_v2: impl Fn(&Value<'_>) -> bool,
) -> Result<(Value<'_>, Vec<MetainfoWarning>), MetainfoError> {
    let decoded = decode_with(input, &DecodeOptions::lenient())?;
    if !decoded.warnings.is_empty() && is_v2(&decoded.value) {
        // v2 metadata must be canonical: report the first deviation as an error.
        let strict = DecodeOptions {
            mode: Mode::Strict,
            ..DecodeOptions::default()
        };
        decode_with(input, &strict).map_err(MetainfoError::NotCanonical)?;
    }
    let warnings = decoded
        .warnings
        .into_iter()
        .map(MetainfoWarning::Bencode)
        .collect();
    Ok((decoded.value, warnings))
}

fn has_meta_version(info: Option<&Value<'_>>) -> bool {
    info.and_then(Value::as_dict)
        .is_some_and(|d| d.get(b"meta version").is_some())
}

fn as_dict<'d, 'a>(v: &'d Value<'a>, what: &str) -> Result<&'d Dict<'a>, MetainfoError> {
    v.as_dict().ok_or_else(|| MetainfoError::WrongType {
        key: what.to_owned(),
        expected: "dictionary",
        found: v.type_name(),
    })
}

fn check_info_size(len: usize) -> Result<(), MetainfoError> {
    if len > MAX_INFO_SIZE {
        return Err(MetainfoError::TooLarge {
            what: "info dictionary",
            len,
            limit: MAX_INFO_SIZE,
        });
    }
    Ok(())
}

impl Metainfo {
    /// Parses and validates a `.torrent` file.
    pub fn from_bytes(input: &[u8]) -> Result<Metainfo, MetainfoError> {
        let (value, mut warnings) = lenient_then_strict(input, |v| {
            has_meta_version(v.as_dict().and_then(|d| d.get(b"info")))
        })?;
        let top = as_dict(&value, "torrent")?;
        let info_raw = top.get_raw(b"info").unwrap_or_default();
        let info = At::new(top, "").dict(b"info")?;
        check_info_size(info_raw.len())?;
        let layers = At::new(top, "").opt_dict(b"piece layers")?;
        let mut m = Self::from_info(info, info_raw, layers, true, &mut warnings)?;
        m.top = TopLevel::parse(top, &mut warnings);
        m.warnings = warnings;
        Ok(m)
    }

    /// Parses and validates a bare info dictionary, e.g. one fetched from peers with BEP 9. It is
    /// decoded leniently unless it has v2 metadata. Trackers and web seeds are empty (add them
    /// with [`Metainfo::with_trackers`] and [`Metainfo::with_web_seeds`]); v2 piece layers are
    /// absent ([`FileEntry::piece_layer`] is `None`).
    pub fn from_info_bytes(info: &[u8]) -> Result<Metainfo, MetainfoError> {
        check_info_size(info.len())?;
        let (value, mut warnings) = lenient_then_strict(info, |v| has_meta_version(Some(v)))?;
        let dict = as_dict(&value, "info")?;
        let mut m = Self::from_info(dict, info, None, false, &mut warnings)?;
        m.warnings = warnings;
        Ok(m)
    }

    fn from_info(
        d: &Dict<'_>,
        raw: &[u8],
        layers: Option<&Dict<'_>>,
        layers_required: bool,
        w: &mut Vec<MetainfoWarning>,
    ) -> Result<Metainfo, MetainfoError> {
        let info = At::new(d, "info");
        let version = match info.opt_int(b"meta version")? {
            None => None,
            Some(2) => Some(2),
            Some(v) => return Err(MetainfoError::UnsupportedVersion(v)),
        };
        let piece_length_raw = info.int(b"piece length")?;
        let piece_length = check_piece_length(piece_length_raw, version.is_some())?;
        let private = info.opt_int(b"private")?.is_some_and(|p| p != 0);
        let source = info
            .opt_bytes(b"source")?
            .map(|b| fields::text(b, "info.source", w));
        let (name_raw, name) = v1::parse_name(info, w)?;

        let v1_files = v1::parse_files(info, &name_raw, &name, w)?;
        let pieces = info.opt_bytes(b"pieces")?;
        let v2_files = match version {
            Some(_) => Some(v2::parse_file_tree(info, &name, w)?),
            None => None,
        };

        let version = match (&v1_files, pieces, &v2_files) {
            (Some(_), Some(_), None) => MetaVersion::V1,
            (Some(_), Some(_), Some(_)) => MetaVersion::Hybrid,
            (_, None, Some(_)) => MetaVersion::V2,
            (None, Some(_), _) => return Err(MetainfoError::LengthAndFiles),
            (_, None, None) => {
                return Err(MetainfoError::MissingKey {
                    key: "info.pieces".into(),
                });
            }
        };

        // The files in torrent order, with pad files; v2 roots and layers attached.
        let (mut files, single_file) = match (version, v1_files, v2_files) {
            (MetaVersion::V2, _, Some((v2, single))) => {
                let layers = match layers {
                    Some(l) => v2::piece_layers(&v2, l, piece_length)?,
                    None if layers_required => check_no_layers_needed(&v2, piece_length)?,
                    None => vec![None; v2.len()],
                };
                (v2_entries(v2, layers, &name, piece_length), single)
            }
            (MetaVersion::Hybrid, Some((v1, single)), Some((v2, _))) => {
                v2::check_hybrid(&v1, &v2, piece_length)?;
                let layers = match layers {
                    Some(l) => v2::piece_layers(&v2, l, piece_length)?,
                    None if layers_required => check_no_layers_needed(&v2, piece_length)?,
                    None => vec![None; v2.len()],
                };
                let mut roots = v2.into_iter().zip(layers);
                let entries = v1
                    .into_iter()
                    .map(|f| {
                        let (root, layer) = if f.attr.pad {
                            (None, None)
                        } else {
                            roots
                                .next()
                                .map(|(v, l)| (v.pieces_root, l))
                                .unwrap_or_default()
                        };
                        v1_entry(f, root, layer)
                    })
                    .collect();
                (entries, single)
            }
            (_, Some((v1, single)), _) => (
                v1.into_iter().map(|f| v1_entry(f, None, None)).collect(),
                single,
            ),
            _ => {
                return Err(MetainfoError::MissingKey {
                    key: "info.file tree".into(),
                });
            }
        };
        if files.len() > MAX_FILES {
            return Err(MetainfoError::TooManyFiles { limit: MAX_FILES });
        }

        let layout = Layout::new(piece_length, files.iter().map(|f| (f.length, f.attr.pad)))?;
        for (f, l) in files.iter_mut().zip(layout.files()) {
            f.offset = l.offset;
        }
        if !files.iter().any(|f| !f.attr.pad && f.length > 0) {
            return Err(MetainfoError::NoData);
        }
        check_duplicates(&files)?;

        let piece_hashes = match pieces.filter(|_| version.has_v1()) {
            Some(p) => {
                if p.len() % 20 != 0 {
                    return Err(MetainfoError::PiecesNotMultipleOf20 { len: p.len() });
                }
                let found = (p.len() / 20) as u64;
                let expected = u64::from(layout.num_pieces());
                if found != expected {
                    return Err(MetainfoError::PieceCountMismatch { expected, found });
                }
                p.chunks_exact(20).filter_map(Id20::from_slice).collect()
            }
            None => Vec::new(),
        };

        let v1_hash = version.has_v1().then(|| Id20(Sha1::digest(raw).into()));
        let v2_hash = version.has_v2().then(|| Id32(Sha256::digest(raw).into()));
        let info_hash =
            InfoHash::from_parts(v1_hash, v2_hash).ok_or(MetainfoError::MissingKey {
                key: "info.pieces".into(),
            })?;

        Ok(Metainfo {
            info_hash,
            info_bytes: raw.to_vec(),
            version,
            name,
            single_file,
            private,
            source,
            piece_hashes,
            files,
            layout,
            top: TopLevel::default(),
            warnings: Vec::new(),
        })
    }
}

fn check_piece_length(value: i64, v2: bool) -> Result<u64, MetainfoError> {
    let bad = |reason| MetainfoError::BadPieceLength { value, reason };
    let pl = u64::try_from(value).map_err(|_| bad("negative"))?;
    if pl == 0 {
        return Err(bad("zero"));
    }
    if pl > u64::from(crate::layout::MAX_PIECE_LENGTH) {
        return Err(bad("above the limit of 512 MiB"));
    }
    if v2 && (!pl.is_power_of_two() || pl < MIN_V2_PIECE_LENGTH) {
        return Err(bad("v2 needs a power of two of at least 16 KiB"));
    }
    Ok(pl)
}

/// Without `piece layers`, a `.torrent` is only valid if no file spans more than one piece.
fn check_no_layers_needed(
    files: &[v2::V2File],
    piece_length: u64,
) -> Result<Vec<Option<Vec<Id32>>>, MetainfoError> {
    match files.iter().position(|f| f.length > piece_length) {
        Some(file) => Err(MetainfoError::MissingPieceLayer { file }),
        None => Ok(vec![None; files.len()]),
    }
}

fn v1_entry(f: v1::V1File, pieces_root: Option<Id32>, piece_layer: Option<Vec<Id32>>) -> FileEntry {
    FileEntry {
        path: f.path,
        length: f.length,
        offset: 0,
        attr: f.attr,
        md5sum: f.md5sum,
        mtime: f.mtime,
        symlink_target: f.symlink_target,
        pieces_root,
        piece_layer,
    }
}

/// v2-only file list: the tree's files with pad files that align each following file.
fn v2_entries(
    files: Vec<v2::V2File>,
    layers: Vec<Option<Vec<Id32>>>,
    name: &str,
    pl: u64,
) -> Vec<FileEntry> {
    let n = files.len();
    let mut out = Vec::with_capacity(n * 2);
    for (i, (f, layer)) in files.into_iter().zip(layers).enumerate() {
        let rem = f.length % pl;
        out.push(FileEntry {
            path: f.path,
            length: f.length,
            offset: 0,
            attr: f.attr,
            md5sum: None,
            mtime: None,
            symlink_target: None,
            pieces_root: f.pieces_root,
            piece_layer: layer,
        });
        if rem != 0 && i + 1 < n {
            let size = pl - rem;
            out.push(FileEntry {
                path: vec![name.to_owned(), ".pad".to_owned(), size.to_string()],
                length: size,
                offset: 0,
                attr: FileAttr {
                    pad: true,
                    ..FileAttr::default()
                },
                md5sum: None,
                mtime: None,
                symlink_target: None,
                pieces_root: None,
                piece_layer: None,
            });
        }
    }
    out
}

/// Two non-pad files at the same path, or a file whose path is a directory of another, would
/// overwrite each other.
fn check_duplicates(files: &[FileEntry]) -> Result<(), MetainfoError> {
    let mut by_path: HashMap<&[String], usize> = HashMap::with_capacity(files.len());
    let mut dirs: HashMap<&[String], usize> = HashMap::new();
    let dup = |first: usize, second: usize, path: &[String]| MetainfoError::DuplicatePath {
        first,
        second,
        path: path.join("/"),
    };
    for (i, f) in files.iter().enumerate().filter(|(_, f)| !f.attr.pad) {
        let p = f.path.as_slice();
        if let Some(&first) = by_path.get(p) {
            return Err(dup(first, i, p));
        }
        if let Some(&first) = dirs.get(p) {
            return Err(dup(first, i, p));
        }
        for k in 1..p.len() {
            let prefix = &p[..k];
            if let Some(&first) = by_path.get(prefix) {
                return Err(dup(first, i, prefix));
            }
            dirs.entry(prefix).or_insert(i);
        }
        by_path.insert(p, i);
    }
    Ok(())
}

impl Metainfo {
    /// The info-hash(es): SHA-1 (v1, hybrid) and/or SHA-256 (v2, hybrid) of the raw info bytes.
    pub fn info_hash(&self) -> InfoHash {
        self.info_hash
    }

    /// The exact bytes of the info dictionary, as served to peers (BEP 9).
    pub fn info_bytes(&self) -> &[u8] {
        &self.info_bytes
    }

    /// v1, v2 or hybrid.
    pub fn version(&self) -> MetaVersion {
        self.version
    }

    /// The torrent's name, sanitised (`name.utf-8` preferred): the file name of a single-file
    /// torrent, the directory of a multi-file one.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Whether the torrent is one file (v1 `length`, or a v2 tree with one file at its root),
    /// stored as `name` rather than inside a directory `name/`.
    pub fn is_single_file(&self) -> bool {
        self.single_file
    }

    /// BEP 27 `private`: no DHT, PEX or local discovery; only the torrent's trackers.
    pub fn is_private(&self) -> bool {
        self.private
    }

    /// `info.source` (private trackers set it to make the info-hash unique to them).
    pub fn source(&self) -> Option<&str> {
        self.source.as_deref()
    }

    /// Nominal piece length in bytes.
    pub fn piece_length(&self) -> u32 {
        self.layout.piece_length()
    }

    /// Total size in bytes, pad files included (see [`Metainfo::content_length`]).
    pub fn total_length(&self) -> u64 {
        self.layout.total_length()
    }

    /// Size of the real content: all files but pad files.
    pub fn content_length(&self) -> u64 {
        self.files
            .iter()
            .filter(|f| !f.attr.pad)
            .map(|f| f.length)
            .sum()
    }

    /// The piece/file geometry.
    pub fn layout(&self) -> &Layout {
        &self.layout
    }

    /// The files in torrent order, pad files included (their indexes match [`Layout::files`]).
    pub fn files(&self) -> &[FileEntry] {
        &self.files
    }

    /// The path of file `index` relative to the download directory; see [`FileEntry::path`].
    pub fn file_path(&self, index: usize) -> Option<PathBuf> {
        self.files.get(index).map(FileEntry::path)
    }

    /// The v1 SHA-1 hash of a piece (`None` for v2-only torrents).
    pub fn piece_hash_v1(&self, piece: PieceIndex) -> Option<Id20> {
        self.piece_hashes.get(piece.get() as usize).copied()
    }

    /// The `announce` URL, if any (see [`Metainfo::trackers`]).
    pub fn announce(&self) -> Option<&str> {
        self.top.announce.as_deref()
    }

    /// The BEP 12 `announce-list` tiers (empty URLs and tiers dropped, duplicates within a tier
    /// removed).
    pub fn announce_list(&self) -> &[Vec<String>] {
        &self.top.announce_list
    }

    /// The trackers to use, by tier: `announce-list` if it has any URL (BEP 12 says to ignore
    /// `announce` then), else `announce` as the only tier.
    pub fn trackers(&self) -> Vec<Vec<String>> {
        if !self.top.announce_list.is_empty() {
            return self.top.announce_list.clone();
        }
        self.top.announce.iter().map(|a| vec![a.clone()]).collect()
    }

    /// `creation date`, seconds since the Unix epoch.
    pub fn creation_date(&self) -> Option<i64> {
        self.top.creation_date
    }

    /// `comment`.
    pub fn comment(&self) -> Option<&str> {
        self.top.comment.as_deref()
    }

    /// `created by`.
    pub fn created_by(&self) -> Option<&str> {
        self.top.created_by.as_deref()
    }

    /// `encoding` (informational: ferrent decodes text as UTF-8).
    pub fn encoding(&self) -> Option<&str> {
        self.top.encoding.as_deref()
    }

    /// BEP 19 web seeds (`url-list`).
    pub fn url_list(&self) -> &[String] {
        &self.top.url_list
    }

    /// BEP 17 HTTP seeds (`httpseeds`).
    pub fn http_seeds(&self) -> &[String] {
        &self.top.http_seeds
    }

    /// What was tolerated while parsing.
    pub fn warnings(&self) -> &[MetainfoWarning] {
        &self.warnings
    }

    /// Replaces the tracker tiers (e.g. with the `tr` parameters of a magnet link).
    pub fn with_trackers(mut self, tiers: Vec<Vec<String>>) -> Self {
        self.top.announce = tiers.first().and_then(|t| t.first()).cloned();
        self.top.announce_list = tiers.into_iter().filter(|t| !t.is_empty()).collect();
        self
    }

    /// Replaces the BEP 19 web seeds (e.g. with the `ws` parameters of a magnet link).
    pub fn with_web_seeds(mut self, urls: Vec<String>) -> Self {
        self.top.url_list = urls;
        self
    }
}

#[cfg(test)]
mod tests;
