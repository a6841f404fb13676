//! Parallel piece hashing. The output (one slot per piece) is cut into batches of consecutive
//! pieces; each of the worker threads takes the next batch from a shared queue (so a slow core
//! does not hold the others up), reads the data of each piece with positional reads
//! (`read_exact_at`, no shared file offset, no mmap) in chunks small enough to stay in the L2
//! cache, and hashes them into the batch's slots. SHA-1 pieces (v1, and hybrid's v1 side) with
//! as many bytes to hash go four at a time, side by side ([`Sha1Lanes`]), and so do v2's 16 KiB
//! leaves (`merkle::leaves`). The first error stops all workers.

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};

use crate::{MAX_HASH_LANES, Sha1Lanes, lanes_in_steps};

use super::merkle::{self, Hash32};
use super::walk::InputFile;
use super::{BLOCK_SIZE, CreateError};

/// Bytes a worker reads per step, all lanes together: small enough to be still in the core's L2
/// cache when the hashes read it.
const CHUNK: usize = 256 * 1024;

/// Bytes of each piece read per step when pieces are hashed side by side ([`Sha1Lanes`]): a
/// multiple of [`BLOCK_SIZE`], so v2 leaves never straddle two steps.
const LANE_CHUNK: usize = CHUNK / MAX_HASH_LANES;

/// Data per batch of pieces handed to a worker: big enough to make the queue lock negligible,
/// small enough to balance the work between cores at the end.
const BATCH_BYTES: u64 = 8 * 1024 * 1024;

/// Opens the input files on demand; keeps the last one open (workers go through files in order).
struct Reader<'a> {
    files: &'a [InputFile],
    open: Option<(usize, File)>,
}

impl<'a> Reader<'a> {
    fn new(files: &'a [InputFile]) -> Self {
        Reader { files, open: None }
    }

    /// Fills `out` from file `idx` at `offset`.
    fn read_into(&mut self, idx: usize, offset: u64, out: &mut [u8]) -> Result<(), CreateError> {
        let Some(input) = self.files.get(idx) else {
            // Callers only pass indexes of `files`; an empty read keeps this panic-free.
            return Ok(());
        };
        let file = match &mut self.open {
            Some((i, f)) if *i == idx => f,
            slot => {
                let f = File::open(&input.source).map_err(|source| CreateError::Io {
                    path: input.source.clone(),
                    source,
                })?;
                &mut slot.insert((idx, f)).1
            }
        };
        file.read_exact_at(out, offset).map_err(|source| {
            if source.kind() == std::io::ErrorKind::UnexpectedEof {
                CreateError::FileChanged {
                    path: input.source.clone(),
                    expected: input.length,
                }
            } else {
                CreateError::Io {
                    path: input.source.clone(),
                    source,
                }
            }
        })
    }

    /// Fills `out` with the bytes at `pos` of the files laid end to end (`starts[i]` is where
    /// file `i` begins), crossing from file to file as needed.
    fn read_concat(
        &mut self,
        starts: &[u64],
        mut pos: u64,
        out: &mut [u8],
    ) -> Result<(), CreateError> {
        // The file holding `pos` (the last one starting at or before it with data there).
        let mut idx = starts.partition_point(|&s| s <= pos).saturating_sub(1);
        let mut rest = out;
        while !rest.is_empty() {
            let (Some(&start), Some(f)) = (starts.get(idx), self.files.get(idx)) else {
                break;
            };
            let file_end = start + f.length;
            if pos >= file_end {
                idx += 1;
                continue;
            }
            let n = (file_end - pos).min(rest.len() as u64) as usize;
            let (part, tail) = std::mem::take(&mut rest).split_at_mut(n);
            self.read_into(idx, pos - start, part)?;
            rest = tail;
            pos += n as u64;
        }
        Ok(())
    }
}

/// Fills `out` in parallel: `work(state, first_index, slots)` hashes the pieces
/// `first_index..first_index + slots.len()`. `init` makes each worker's state.
fn parallel<T, S, I, W>(
    out: &mut [T],
    batch: usize,
    threads: usize,
    init: I,
    work: W,
) -> Result<(), CreateError>
where
    T: Send,
    I: Fn() -> S + Sync,
    W: Fn(&mut S, usize, &mut [T]) -> Result<(), CreateError> + Sync,
{
    let batch = batch.max(1);
    let threads = threads.clamp(1, out.len().div_ceil(batch).max(1));
    let queue = Mutex::new(out.chunks_mut(batch).enumerate());
    let failed = AtomicBool::new(false);
    let worker = || -> Result<(), CreateError> {
        let mut state = init();
        loop {
            if failed.load(Ordering::Relaxed) {
                return Ok(());
            }
            let next = queue.lock().unwrap_or_else(PoisonError::into_inner).next();
            let Some((i, slots)) = next else {
                return Ok(());
            };
            if let Err(e) = work(&mut state, i * batch, slots) {
                failed.store(true, Ordering::Relaxed);
                return Err(e);
            }
        }
    };
    if threads == 1 {
        return worker();
    }
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads).map(|_| s.spawn(worker)).collect();
        let mut result = Ok(());
        for h in handles {
            match h.join() {
                Ok(Err(e)) if result.is_ok() => result = Err(e),
                Ok(_) => {}
                Err(panic) => std::panic::resume_unwind(panic),
            }
        }
        result
    })
}

/// How many pieces from `k` (at most [`MAX_HASH_LANES`], before `end`, at least one) go side
/// by side: the run of those for which `alike` holds.
fn run_len(k: usize, end: usize, alike: impl Fn(usize) -> bool) -> usize {
    (k..end)
        .take(MAX_HASH_LANES)
        .take_while(|&j| alike(j))
        .count()
        .max(1)
}

fn batch_pieces(piece_length: u64) -> usize {
    usize::try_from((BATCH_BYTES / piece_length).max(1)).unwrap_or(1)
}

/// v1 (BEP 3): SHA-1 of each `piece_length` slice of the concatenated files (the last one
/// shorter). Returns the 20-byte hashes concatenated (the `pieces` string).
pub(crate) fn hash_v1(
    files: &[InputFile],
    piece_length: u64,
    threads: usize,
    progress: &AtomicU64,
) -> Result<Vec<u8>, CreateError> {
    // starts[i] = offset of file i in the concatenation.
    let mut starts = Vec::with_capacity(files.len());
    let mut total = 0u64;
    for f in files {
        starts.push(total);
        total += f.length;
    }
    let num_pieces = usize::try_from(total.div_ceil(piece_length))
        .map_err(|_| CreateError::TooLarge { total })?;
    let piece_len = |i: usize| ((i as u64 + 1) * piece_length).min(total) - i as u64 * piece_length;
    let mut out = vec![[0u8; 20]; num_pieces];
    parallel(
        &mut out,
        // At least one piece per lane, or large pieces would be hashed one at a time.
        batch_pieces(piece_length).max(MAX_HASH_LANES),
        threads,
        || (Reader::new(files), vec![0u8; MAX_HASH_LANES * LANE_CHUNK]),
        |(reader, buf), first, slots| {
            // Pieces of one length side by side, MAX_HASH_LANES at a time (only the last piece
            // of the torrent is shorter, and goes alone).
            let mut k = 0;
            while k < slots.len() {
                let len = piece_len(first + k);
                let lanes = run_len(k, slots.len(), |j| piece_len(first + j) == len);
                let mut h = Sha1Lanes::new(lanes);
                let read = |j: usize, off: u64, part: &mut [u8]| {
                    let pos = (first + k + j) as u64 * piece_length + off;
                    reader.read_concat(&starts, pos, part)?;
                    progress.fetch_add(part.len() as u64, Ordering::Relaxed);
                    Ok(())
                };
                lanes_in_steps(lanes, len, LANE_CHUNK, buf, read, |parts| h.update(parts))?;
                for (slot, digest) in slots.iter_mut().skip(k).zip(h.finalize()) {
                    *slot = digest;
                }
                k += lanes;
            }
            Ok(())
        },
    )?;
    Ok(out.concat())
}

/// The v2 hashes of one file.
#[derive(Clone, Debug, Default)]
pub(crate) struct FileHashes {
    /// `pieces root`; `None` for an empty file.
    pub root: Option<Hash32>,
    /// The piece layer (concatenated 32-byte hashes), for files longer than one piece.
    pub layer: Option<Vec<u8>>,
}

/// Hashes for v2 and hybrid torrents, where each file starts on a piece boundary.
#[derive(Clone, Debug)]
pub(crate) struct AlignedHashes {
    /// Per file, in input order.
    pub files: Vec<FileHashes>,
    /// Hybrid only: the v1 `pieces` string, where (multi-file) the last piece of every file is
    /// completed with the zeros of its BEP 47 pad file.
    pub v1_pieces: Option<Vec<u8>>,
}

#[derive(Clone, Copy)]
struct AlignedPiece {
    sha1: [u8; 20],
    /// Root of the piece's subtree (for a file of at most one piece: the file's root).
    root: Hash32,
}

struct AlignedState<'a> {
    reader: Reader<'a>,
    /// The leaves of each piece of the group being hashed, one list per lane.
    leaves: [Vec<Hash32>; MAX_HASH_LANES],
    /// [`LANE_CHUNK`] bytes per lane.
    buf: Vec<u8>,
}

/// v2 / hybrid: for every file, SHA-256 of each 16 KiB block, merkle roots per piece and per
/// file (BEP 52); with `with_v1`, also SHA-1 per piece over the same reads (hybrid), where with
/// `pad_files` each file's last piece is completed with its BEP 47 pad file's zeros.
pub(crate) fn hash_aligned(
    files: &[InputFile],
    piece_length: u64,
    with_v1: bool,
    pad_files: bool,
    threads: usize,
    progress: &AtomicU64,
) -> Result<AlignedHashes, CreateError> {
    // piece_file[p] = (file index, piece index inside the file) of global piece p.
    let mut piece_file: Vec<(usize, u64)> = Vec::new();
    for (i, f) in files.iter().enumerate() {
        piece_file.extend((0..f.length.div_ceil(piece_length)).map(|k| (i, k)));
    }
    let blocks_per_piece = usize::try_from(piece_length / BLOCK_SIZE)
        .unwrap_or(1)
        .max(1);
    let mut out = vec![
        AlignedPiece {
            sha1: [0; 20],
            root: [0; 32]
        };
        piece_file.len()
    ];
    parallel(
        &mut out,
        // At least one piece per lane, or large pieces would be hashed one at a time.
        batch_pieces(piece_length).max(MAX_HASH_LANES),
        threads,
        || AlignedState {
            reader: Reader::new(files),
            leaves: std::array::from_fn(|_| Vec::with_capacity(blocks_per_piece)),
            buf: vec![0; MAX_HASH_LANES * LANE_CHUNK],
        },
        |st, first, slots| {
            // (file, first byte in the file, end of its data, bytes SHA-1 hashes) of piece k
            // of this batch: with BEP 47 pad files, a file's last piece is hashed with the pad
            // file's zeros up to the piece length.
            let span = |k: usize| {
                let &(idx, piece) = piece_file.get(first + k)?;
                let f = files.get(idx)?;
                let start = piece * piece_length;
                let end = (start + piece_length).min(f.length);
                let v1_len = if pad_files { piece_length } else { end - start };
                Some((idx, start, end, v1_len))
            };
            let mut k = 0;
            while k < slots.len() {
                let Some((_, _, _, v1_len)) = span(k) else {
                    break;
                };
                // Hybrid: pieces with as many SHA-1 bytes go side by side (Sha1Lanes); v2
                // alone has no SHA-1, and its leaves go four at a time anyway.
                let lanes = if with_v1 {
                    run_len(k, slots.len(), |j| span(j).is_some_and(|s| s.3 == v1_len))
                } else {
                    1
                };
                let spans: Vec<(usize, u64, u64, u64)> = (k..k + lanes).filter_map(span).collect();
                let total = if with_v1 {
                    v1_len
                } else {
                    spans.first().map_or(0, |s| s.2 - s.1)
                };
                let mut h1 = with_v1.then(|| Sha1Lanes::new(spans.len()));
                st.leaves.iter_mut().for_each(Vec::clear);
                let (reader, leaves) = (&mut st.reader, &mut st.leaves);
                let read = |l: usize, off: u64, part: &mut [u8]| {
                    let (Some(&(idx, start, end, _)), Some(leaves)) =
                        (spans.get(l), leaves.get_mut(l))
                    else {
                        return Ok(());
                    };
                    // Data, then (past the file's end) the pad file's zeros.
                    let data_len = (end - start).saturating_sub(off).min(part.len() as u64);
                    let (data, pad) = part.split_at_mut(data_len as usize);
                    reader.read_into(idx, start + off, data)?;
                    pad.fill(0);
                    merkle::leaves(data, BLOCK_SIZE as usize, leaves);
                    progress.fetch_add(data_len, Ordering::Relaxed);
                    Ok(())
                };
                lanes_in_steps(spans.len(), total, LANE_CHUNK, &mut st.buf, read, |parts| {
                    if let Some(h) = &mut h1 {
                        h.update(parts);
                    }
                })?;
                let digests = h1.map(Sha1Lanes::finalize).unwrap_or_default();
                for (l, (slot, &(idx, ..))) in slots.iter_mut().skip(k).zip(&spans).enumerate() {
                    if let Some(d) = digests.get(l) {
                        slot.sha1 = *d;
                    }
                    let leaves = st.leaves.get(l).map_or(&[][..], Vec::as_slice);
                    // A file of one piece or less has a tree as wide as its own block count;
                    // pieces of longer files are subtrees of exactly `blocks_per_piece` leaves.
                    let long = files.get(idx).is_some_and(|f| f.length > piece_length);
                    let width = if long {
                        blocks_per_piece
                    } else {
                        leaves.len().next_power_of_two()
                    };
                    slot.root = merkle::root(leaves, width, [0; 32]);
                }
                k += lanes;
            }
            Ok(())
        },
    )?;

    let pad = merkle::pad_hash(blocks_per_piece);
    let mut result = Vec::with_capacity(files.len());
    let mut pieces = out.iter();
    for f in files {
        let n = usize::try_from(f.length.div_ceil(piece_length)).unwrap_or(0);
        let mine: Vec<AlignedPiece> = pieces.by_ref().take(n).copied().collect();
        result.push(match mine.as_slice() {
            [] => FileHashes::default(),
            [one] => FileHashes {
                root: Some(one.root),
                layer: None,
            },
            many => {
                let layer: Vec<Hash32> = many.iter().map(|p| p.root).collect();
                let root = merkle::root(&layer, layer.len().next_power_of_two(), pad);
                FileHashes {
                    root: Some(root),
                    layer: Some(layer.concat()),
                }
            }
        });
    }
    let v1_pieces = with_v1.then(|| out.iter().flat_map(|p| p.sha1).collect());
    Ok(AlignedHashes {
        files: result,
        v1_pieces,
    })
}
