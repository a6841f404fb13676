//! BEP 52 merkle trees: SHA-256 over 16 KiB blocks, binary, padded with zero hashes.

use sha2::{Digest, Sha256};

use crate::{MAX_HASH_LANES, Sha256Lanes};

/// A SHA-256 hash.
pub(crate) type Hash32 = [u8; 32];

/// SHA-256 of two concatenated hashes: an inner node.
pub(crate) fn node(left: &Hash32, right: &Hash32) -> Hash32 {
    let mut h = Sha256::new();
    h.update(left);
    h.update(right);
    h.finalize().into()
}

/// SHA-256 of one block (a leaf).
pub(crate) fn leaf(block: &[u8]) -> Hash32 {
    Sha256::digest(block).into()
}

/// Appends the leaf of each `block_size` block of `data` (the last one may be shorter) to
/// `out`, hashing whole blocks four side by side ([`Sha256Lanes`]).
pub(crate) fn leaves(data: &[u8], block_size: usize, out: &mut Vec<Hash32>) {
    let blocks = data.chunks_exact(block_size.max(1));
    let short = blocks.remainder();
    let whole: Vec<&[u8]> = blocks.collect();
    for group in whole.chunks(MAX_HASH_LANES) {
        let mut lanes = Sha256Lanes::new(group.len());
        lanes.update(group);
        out.extend(lanes.finalize());
    }
    if !short.is_empty() {
        out.push(leaf(short));
    }
}

/// The root of the tree whose bottom layer is `layer` followed by copies of `pad` up to `width`
/// entries (`width` a power of two >= `layer.len()`). `pad` is the hash of an all-padding subtree
/// of the bottom layer's height: zero for leaves (BEP 52: "remaining leaf hashes ... are set to
/// zero"), [`pad_hash`] for layers above. Works in place on a copy of one layer at a time.
pub(crate) fn root(layer: &[Hash32], width: usize, pad: Hash32) -> Hash32 {
    debug_assert!(width.is_power_of_two() && width >= layer.len());
    let mut cur: Vec<Hash32> = layer.to_vec();
    let mut pad = pad;
    let mut width = width.max(1);
    if cur.is_empty() {
        cur.push(pad);
    }
    while width > 1 {
        let mut next = Vec::with_capacity(cur.len().div_ceil(2));
        for pair in cur.chunks(2) {
            match pair {
                [l, r] => next.push(node(l, r)),
                [l] => next.push(node(l, &pad)),
                _ => {}
            }
        }
        pad = node(&pad, &pad);
        cur = next;
        width /= 2;
    }
    cur.first().copied().unwrap_or(pad)
}

/// The root of a subtree of `leaves` zero leaves (a power of two): what pads a piece layer.
pub(crate) fn pad_hash(leaves: usize) -> Hash32 {
    let mut h = [0u8; 32];
    let mut n = leaves.max(1);
    while n > 1 {
        h = node(&h, &h);
        n /= 2;
    }
    h
}
