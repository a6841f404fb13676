//! Saving and loading the routing table between runs: our id and the nodes, as bencode, written
//! crash-safely (temp file, fsync, rename, fsync of the directory).

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::Path;

use ferrent_bencode::{Dict, Value, decode, encode};
use ferrent_proto::dht::{
    COMPACT_NODE_V4_LEN, COMPACT_NODE_V6_LEN, NodeId, NodeInfo, decode_compact_addr,
    encode_compact_addr,
};

/// Nodes saved or loaded at most (the table holds at most 160 x 8; real ones ~200).
pub const MAX_SAVED_NODES: usize = 1280;

/// Largest file read back (1280 IPv6 nodes of 38 bytes is under 50 KB).
const MAX_FILE_SIZE: u64 = 256 * 1024;

/// What is saved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SavedTable {
    /// Our node id (kept, so other nodes' tables stay right about us).
    pub id: NodeId,
    /// The nodes (ping them at start; they rejoin the table when they answer).
    pub nodes: Vec<NodeInfo>,
}

/// The bytes of a table file: a bencoded dictionary with our `id` and the compact `nodes` and
/// `nodes6` lists (BEP 5 form), at most [`MAX_SAVED_NODES`].
pub fn encode_table(table: &SavedTable) -> Vec<u8> {
    let mut v4 = Vec::new();
    let mut v6 = Vec::new();
    for n in table.nodes.iter().take(MAX_SAVED_NODES) {
        let out = if n.addr.is_ipv4() { &mut v4 } else { &mut v6 };
        out.extend_from_slice(&n.id.0);
        encode_compact_addr(&n.addr, out);
    }
    let d = Dict::new()
        .with(b"id", Value::Bytes(&table.id.0))
        .with(b"nodes", Value::Bytes(&v4))
        .with(b"nodes6", Value::Bytes(&v6));
    encode(&Value::Dict(d))
}

/// Writes `table` to `path` crash-safely: `path.tmp`, fsync, rename over `path`, fsync the
/// directory. A crash leaves either the old or the new file, never a torn one.
pub fn save_table(path: &Path, table: &SavedTable) -> io::Result<()> {
    let bytes = encode_table(table);
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = std::path::PathBuf::from(tmp);
    {
        let mut f = File::create(&tmp)?;
        f.write_all(&bytes)?;
        f.sync_all()?;
    }
    fs::rename(&tmp, path)?;
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    File::open(dir)?.sync_all()
}

fn bad(what: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!("DHT table file: {what}"),
    )
}

/// Reads a file written by [`save_table`]. Malformed entries make the whole file an
/// `InvalidData` error (the caller then starts from the bootstrap nodes).
pub fn load_table(path: &Path) -> io::Result<SavedTable> {
    let f = File::open(path)?;
    if f.metadata()?.len() > MAX_FILE_SIZE {
        return Err(bad("too large"));
    }
    decode_table(&fs::read(path)?)
}

/// Parses the bytes of a table file (untrusted: the file may be damaged or planted).
pub fn decode_table(bytes: &[u8]) -> io::Result<SavedTable> {
    let v = decode(bytes).map_err(|e| bad(&e.to_string()))?;
    let d = v.as_dict().ok_or_else(|| bad("not a dictionary"))?;
    let id = d
        .get_bytes(b"id")
        .and_then(NodeId::from_slice)
        .ok_or_else(|| bad("no 20-byte id"))?;
    let mut nodes = Vec::new();
    for (key, len) in [
        (&b"nodes"[..], COMPACT_NODE_V4_LEN),
        (&b"nodes6"[..], COMPACT_NODE_V6_LEN),
    ] {
        let b = d.get_bytes(key).unwrap_or_default();
        if b.len() % len != 0 {
            return Err(bad("node list length"));
        }
        for c in b.chunks_exact(len).take(MAX_SAVED_NODES) {
            let (nid, addr) = c.split_at(20);
            let id = NodeId::from_slice(nid).ok_or_else(|| bad("node id"))?;
            let addr = decode_compact_addr(addr).ok_or_else(|| bad("node address"))?;
            nodes.push(NodeInfo { id, addr });
        }
    }
    nodes.truncate(MAX_SAVED_NODES);
    Ok(SavedTable { id, nodes })
}
