//! The v2 (BEP 52) parts of a torrent: the `file tree`, the `piece layers` and their merkle roots,
//! and the checks that make a hybrid's v1 and v2 halves describe the same files.

use ferrent_bencode::{Dict, Value};
use sha2::{Digest, Sha256};

use super::error::{MetainfoError, MetainfoWarning};
use super::fields::{At, key_path};
use super::file::FileAttr;
use super::limits::{MAX_FILES, V2_BLOCK_SIZE};
use super::v1::V1File;
use crate::infohash::Id32;
use crate::path::{MAX_PATH_DEPTH, PathError, sanitize_path};

/// A file of the v2 file tree, in tree order.
#[derive(Debug, Clone)]
pub(crate) struct V2File {
    /// The raw keys from the root of the tree to the file.
    pub raw: Vec<Vec<u8>>,
    /// Sanitised path relative to the download directory (name included for multi-file).
    pub path: Vec<String>,
    pub length: u64,
    pub attr: FileAttr,
    pub pieces_root: Option<Id32>,
}

struct Walker<'w> {
    files: Vec<V2File>,
    stack: Vec<Vec<u8>>,
    warnings: &'w mut Vec<MetainfoWarning>,
}

impl Walker<'_> {
    fn node(&mut self, d: &Dict<'_>, key: &str) -> Result<(), MetainfoError> {
        if let Some(leaf) = d.get(b"") {
            // A file: `{"": {length, pieces root}}` and nothing else beside it.
            if d.len() != 1 {
                return Err(MetainfoError::BadFileTree {
                    key: key.to_owned(),
                    reason: "a file node must have no other key beside \"\"",
                });
            }
            if self.stack.is_empty() {
                return Err(MetainfoError::BadFileTree {
                    key: key.to_owned(),
                    reason: "the file tree's root cannot be a file",
                });
            }
            let leaf_key = format!("{key}.\"\"");
            let leaf = leaf.as_dict().ok_or_else(|| MetainfoError::WrongType {
                key: leaf_key.clone(),
                expected: "dictionary",
                found: leaf.type_name(),
            })?;
            return self.file(leaf, &leaf_key);
        }
        if self.stack.len() >= MAX_PATH_DEPTH {
            return Err(MetainfoError::BadPath {
                key: key.to_owned(),
                source: PathError::TooDeep {
                    depth: self.stack.len() + 1,
                    limit: MAX_PATH_DEPTH,
                },
            });
        }
        for e in d.iter() {
            let child_key = key_path(key, e.key);
            let child = e.value.as_dict().ok_or_else(|| MetainfoError::WrongType {
                key: child_key.clone(),
                expected: "dictionary",
                found: e.value.type_name(),
            })?;
            self.stack.push(e.key.to_vec());
            self.node(child, &child_key)?;
            self.stack.pop();
        }
        Ok(())
    }

    fn file(&mut self, leaf: &Dict<'_>, key: &str) -> Result<(), MetainfoError> {
        if self.files.len() >= MAX_FILES {
            return Err(MetainfoError::TooManyFiles { limit: MAX_FILES });
        }
        let at = At::new(leaf, key);
        let length = at.length(b"length")?;
        let pieces_root = if length > 0 {
            let root = at.bytes(b"pieces root")?;
            Some(
                Id32::from_slice(root).ok_or_else(|| MetainfoError::InvalidValue {
                    key: at.key(b"pieces root"),
                    reason: format!("is {} bytes, expected 32", root.len()),
                })?,
            )
        } else {
            None
        };
        let attr = FileAttr::parse(at.opt_bytes(b"attr")?.unwrap_or_default());
        let elements: Vec<String> = self
            .stack
            .iter()
            .map(|b| super::fields::text(b, key, self.warnings))
            .collect();
        let path = sanitize_path(elements.iter().map(String::as_str)).map_err(|source| {
            MetainfoError::BadPath {
                key: key.to_owned(),
                source,
            }
        })?;
        if path != elements {
            self.warnings.push(MetainfoWarning::PathSanitised {
                file: self.files.len(),
                original: elements.join("/"),
                sanitised: path.join("/"),
            });
        }
        self.files.push(V2File {
            raw: self.stack.clone(),
            path,
            length,
            attr,
            pieces_root,
        });
        Ok(())
    }
}

/// Reads the `file tree`. Files come in tree order (keys sorted, depth first), which BEP 52
/// defines as the file order. Returns the files and whether it is a single-file torrent (one
/// file at the root); multi-file paths get `name` as their first element.
pub(crate) fn parse_file_tree(
    info: At<'_, '_>,
    name: &str,
    w: &mut Vec<MetainfoWarning>,
) -> Result<(Vec<V2File>, bool), MetainfoError> {
    let tree = info.dict(b"file tree")?;
    let key = info.key(b"file tree");
    let mut walker = Walker {
        files: Vec::new(),
        stack: Vec::new(),
        warnings: w,
    };
    walker.node(tree, &key)?;
    let mut files = walker.files;
    let single = files.len() == 1 && files.first().is_some_and(|f| f.raw.len() == 1);
    if !single {
        for f in &mut files {
            f.path.insert(0, name.to_owned());
            if f.path.len() > MAX_PATH_DEPTH {
                return Err(MetainfoError::BadPath {
                    key: key.clone(),
                    source: PathError::TooDeep {
                        depth: f.path.len(),
                        limit: MAX_PATH_DEPTH,
                    },
                });
            }
        }
    }
    Ok((files, single))
}

fn sha256_pair(a: &[u8; 32], b: &[u8; 32]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(a);
    h.update(b);
    h.finalize().into()
}

/// The hash BEP 52 pads a piece layer with: the root of a piece-sized subtree whose leaf hashes
/// are all zero.
pub(crate) fn piece_pad_hash(piece_length: u64) -> [u8; 32] {
    let mut h = [0u8; 32];
    let mut blocks = piece_length / V2_BLOCK_SIZE;
    while blocks > 1 {
        h = sha256_pair(&h, &h);
        blocks /= 2;
    }
    h
}

/// The merkle root over `leaves`, padded with `pad` to a power of two (BEP 52).
pub(crate) fn merkle_root(leaves: &[[u8; 32]], pad: [u8; 32]) -> [u8; 32] {
    let mut layer: Vec<[u8; 32]> = leaves.to_vec();
    let mut pad = pad;
    if layer.is_empty() {
        return pad;
    }
    while layer.len() > 1 {
        if layer.len() % 2 == 1 {
            layer.push(pad);
        }
        layer = layer
            .chunks_exact(2)
            .map(|c| sha256_pair(&c[0], &c[1]))
            .collect();
        pad = sha256_pair(&pad, &pad);
    }
    layer.first().copied().unwrap_or(pad)
}

/// Checks `piece layers` against the files and returns each file's layer (`None` for files of at
/// most one piece). Every file larger than one piece needs a layer of 32 bytes per piece whose
/// merkle root is its `pieces root`. Entries for unknown roots are ignored.
pub(crate) fn piece_layers(
    files: &[V2File],
    layers: &Dict<'_>,
    piece_length: u64,
) -> Result<Vec<Option<Vec<Id32>>>, MetainfoError> {
    let pad = piece_pad_hash(piece_length);
    let mut out = Vec::with_capacity(files.len());
    for (i, f) in files.iter().enumerate() {
        let Some(root) = f.pieces_root.filter(|_| f.length > piece_length) else {
            out.push(None);
            continue;
        };
        let layer = match layers.get(root.as_bytes()) {
            Some(Value::Bytes(b)) => *b,
            Some(v) => {
                return Err(MetainfoError::WrongType {
                    key: format!("piece layers[{root}]"),
                    expected: "string",
                    found: v.type_name(),
                });
            }
            None => return Err(MetainfoError::MissingPieceLayer { file: i }),
        };
        let pieces = f.length.div_ceil(piece_length);
        let expected = pieces.saturating_mul(32);
        if layer.len() as u64 != expected {
            return Err(MetainfoError::PieceLayerLength {
                file: i,
                expected,
                found: layer.len(),
            });
        }
        let hashes: Vec<[u8; 32]> = layer
            .chunks_exact(32)
            .map(|c| <[u8; 32]>::try_from(c).unwrap_or([0; 32]))
            .collect();
        if merkle_root(&hashes, pad) != root.0 {
            return Err(MetainfoError::PieceLayerRootMismatch { file: i });
        }
        out.push(Some(hashes.into_iter().map(Id32).collect()));
    }
    Ok(out)
}

/// Checks that a hybrid's v1 file list (pad files skipped) and v2 file tree name the same files
/// with the same sizes in the same order, and that every non-empty v1 file starts on a piece
/// boundary (so both halves cut the same pieces).
pub(crate) fn check_hybrid(
    v1: &[V1File],
    v2: &[V2File],
    piece_length: u64,
) -> Result<(), MetainfoError> {
    let mismatch = |file: usize, reason: String| MetainfoError::HybridMismatch { file, reason };
    let mut offset = 0u64;
    let mut real = Vec::with_capacity(v2.len());
    for f in v1 {
        if !f.attr.pad {
            real.push((f, offset));
        }
        offset = offset.saturating_add(f.length);
    }
    if real.len() != v2.len() {
        return Err(mismatch(
            real.len().min(v2.len()),
            format!(
                "v1 has {} files (pad files aside), v2 has {}",
                real.len(),
                v2.len()
            ),
        ));
    }
    for (i, ((a, off), b)) in real.iter().zip(v2).enumerate() {
        if a.length != b.length {
            return Err(mismatch(
                i,
                format!("v1 length {} != v2 length {}", a.length, b.length),
            ));
        }
        if a.raw != b.raw {
            let show = |r: &[Vec<u8>]| {
                r.iter()
                    .map(|e| String::from_utf8_lossy(e))
                    .collect::<Vec<_>>()
                    .join("/")
            };
            return Err(mismatch(
                i,
                format!("v1 path {:?} != v2 path {:?}", show(&a.raw), show(&b.raw)),
            ));
        }
        if a.length > 0 && off % piece_length != 0 {
            return Err(mismatch(
                i,
                format!("v1 offset {off} is not on a piece boundary"),
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(a: &[u8; 32], b: &[u8; 32]) -> [u8; 32] {
        sha256_pair(a, b)
    }

    #[test]
    fn pad_hash_levels() {
        assert_eq!(piece_pad_hash(16384), [0; 32]);
        let z = [0u8; 32];
        assert_eq!(piece_pad_hash(32768), h(&z, &z));
        assert_eq!(piece_pad_hash(65536), h(&h(&z, &z), &h(&z, &z)));
    }

    #[test]
    fn merkle_root_pads_to_power_of_two() {
        let a = [1u8; 32];
        let b = [2u8; 32];
        let c = [3u8; 32];
        let p = [9u8; 32];
        assert_eq!(merkle_root(&[a], p), a);
        assert_eq!(merkle_root(&[a, b], p), h(&a, &b));
        assert_eq!(merkle_root(&[a, b, c], p), h(&h(&a, &b), &h(&c, &p)));
        let five = [a, b, c, a, b];
        let pp = h(&p, &p);
        let expected = h(&h(&h(&a, &b), &h(&c, &a)), &h(&h(&b, &p), &pp));
        assert_eq!(merkle_root(&five, p), expected);
    }
}
