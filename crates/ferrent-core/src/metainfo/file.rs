//! One file of a torrent ([`FileEntry`]) and its BEP 47 attributes ([`FileAttr`]).

use std::path::PathBuf;

use crate::infohash::Id32;

/// BEP 47 file attributes (the `attr` string: one letter per attribute, unknown letters ignored).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FileAttr {
    /// `p`: a pad file (zeros that align the next file to a piece boundary; never stored).
    pub pad: bool,
    /// `x`: executable.
    pub executable: bool,
    /// `h`: hidden.
    pub hidden: bool,
    /// `l`: a symbolic link (its target is in `symlink path`).
    pub symlink: bool,
}

impl FileAttr {
    /// Parses an `attr` string.
    pub fn parse(attr: &[u8]) -> FileAttr {
        FileAttr {
            pad: attr.contains(&b'p'),
            executable: attr.contains(&b'x'),
            hidden: attr.contains(&b'h'),
            symlink: attr.contains(&b'l'),
        }
    }
}

/// One file of a torrent, in torrent order. Pad files (BEP 47) are entries too, flagged in
/// [`FileEntry::attr`], so file indexes match those of [`crate::Layout`] and of libtorrent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileEntry {
    pub(crate) path: Vec<String>,
    pub(crate) length: u64,
    pub(crate) offset: u64,
    pub(crate) attr: FileAttr,
    pub(crate) md5sum: Option<String>,
    pub(crate) mtime: Option<i64>,
    pub(crate) symlink_target: Option<Vec<String>>,
    pub(crate) pieces_root: Option<Id32>,
    pub(crate) piece_layer: Option<Vec<Id32>>,
}

impl FileEntry {
    /// The sanitised path elements relative to the download directory: `[name]` for a single-file
    /// torrent, `[name, dir.., file]` for a multi-file one (see [`crate::path`]).
    pub fn path_elements(&self) -> &[String] {
        &self.path
    }

    /// The path relative to the download directory (see [`FileEntry::path_elements`]). Always
    /// relative, made of plain names only: joining it to a directory stays inside it.
    pub fn path(&self) -> PathBuf {
        crate::path::to_path_buf(&self.path)
    }

    /// The path as `/`-separated text, for display.
    pub fn display_path(&self) -> String {
        self.path.join("/")
    }

    /// Size in bytes.
    pub fn length(&self) -> u64 {
        self.length
    }

    /// Offset of the file's first byte in the torrent's byte space.
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// BEP 47 attributes.
    pub fn attr(&self) -> FileAttr {
        self.attr
    }

    /// Whether this is a pad file (never stored nor requested).
    pub fn is_pad(&self) -> bool {
        self.attr.pad
    }

    /// The optional `md5sum` (32 hex characters by convention; not checked by ferrent).
    pub fn md5sum(&self) -> Option<&str> {
        self.md5sum.as_deref()
    }

    /// BEP 47 `mtime`: modification time in seconds since the Unix epoch.
    pub fn mtime(&self) -> Option<i64> {
        self.mtime
    }

    /// For a symlink (BEP 47 `l`), the sanitised target path relative to the torrent's root.
    pub fn symlink_target(&self) -> Option<&[String]> {
        self.symlink_target.as_deref()
    }

    /// v2 / hybrid: the root of the file's SHA-256 merkle tree (BEP 52). `None` for empty files,
    /// pad files and v1 torrents.
    pub fn pieces_root(&self) -> Option<Id32> {
        self.pieces_root
    }

    /// v2 / hybrid: the file's piece layer (one SHA-256 per piece), checked against
    /// [`FileEntry::pieces_root`]. `None` for files of at most one piece (their root is the piece
    /// hash) and when the metainfo came from [`crate::Metainfo::from_info_bytes`] (the layers are
    /// not in the info dictionary; they are fetched from peers).
    pub fn piece_layer(&self) -> Option<&[Id32]> {
        self.piece_layer.as_deref()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attr_letters() {
        let a = FileAttr::parse(b"px");
        assert!(a.pad && a.executable && !a.hidden && !a.symlink);
        let a = FileAttr::parse(b"lhz");
        assert!(!a.pad && !a.executable && a.hidden && a.symlink);
        assert_eq!(FileAttr::parse(b""), FileAttr::default());
    }
}
