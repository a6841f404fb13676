//! The `--state FILE` snapshot: swarms and peers as text, written crash-safely (temp file,
//! fsync, rename, fsync of the directory) so a crash leaves either the old or the new file.
//!
//! Format (one record per line):
//! ```text
//! ferrent-tracker-state 1
//! s <info-hash hex> <downloaded>
//! p <ip:port> <s|l>          (a peer of the swarm above: seed or leecher)
//! ```

use std::fmt::Write as _;
use std::io::Write as _;
use std::net::SocketAddr;
use std::path::Path;

use ferrent_core::Id20;

use crate::error::TrackerError;
use crate::limits::MAX_STATE_FILE;
use crate::store::SwarmSnapshot;

const HEADER: &str = "ferrent-tracker-state 1";

/// The text form of `swarms`.
pub fn format_state(swarms: &[SwarmSnapshot]) -> String {
    let mut out = String::with_capacity(
        64 + swarms
            .iter()
            .map(|s| 60 + 30 * s.peers.len())
            .sum::<usize>(),
    );
    out.push_str(HEADER);
    out.push('\n');
    for s in swarms {
        let _ = writeln!(out, "s {} {}", s.info_hash.to_hex(), s.downloaded);
        for (addr, seed) in &s.peers {
            let _ = writeln!(out, "p {addr} {}", if *seed { 's' } else { 'l' });
        }
    }
    out
}

/// Parses the text form; `Err(reason)` names the bad line.
pub fn parse_state(text: &str) -> Result<Vec<SwarmSnapshot>, String> {
    let mut lines = text.lines().enumerate();
    match lines.next() {
        Some((_, HEADER)) => {}
        _ => return Err(format!("first line is not {HEADER:?}")),
    }
    let mut out: Vec<SwarmSnapshot> = Vec::new();
    for (n, line) in lines {
        let bad = |what: &str| format!("line {}: {what}", n + 1);
        let mut f = line.split(' ');
        match (f.next(), f.next(), f.next(), f.next()) {
            (Some("s"), Some(h), Some(d), None) => out.push(SwarmSnapshot {
                info_hash: Id20::from_hex(h).map_err(|e| bad(&e.to_string()))?,
                downloaded: d.parse().map_err(|_| bad("bad download count"))?,
                peers: Vec::new(),
            }),
            (Some("p"), Some(a), Some(kind), None) => {
                let addr: SocketAddr = a.parse().map_err(|_| bad("bad address"))?;
                let seed = match kind {
                    "s" => true,
                    "l" => false,
                    _ => return Err(bad("peer kind is not s or l")),
                };
                out.last_mut()
                    .ok_or_else(|| bad("peer before any swarm"))?
                    .peers
                    .push((addr, seed));
            }
            (None, ..) | (Some(""), None, ..) => {}
            _ => return Err(bad("unknown record")),
        }
    }
    Ok(out)
}

/// Writes the snapshot crash-safely: `FILE.tmp`, fsync, rename over `FILE`, fsync the directory.
pub fn write_state(path: &Path, swarms: &[SwarmSnapshot]) -> Result<(), TrackerError> {
    let err = |e: std::io::Error| TrackerError::State {
        path: path.display().to_string(),
        reason: e.to_string(),
    };
    let text = format_state(swarms);
    let mut tmp_name = path.file_name().unwrap_or_default().to_os_string();
    tmp_name.push(".tmp");
    let tmp = path.with_file_name(tmp_name);
    {
        let mut f = std::fs::File::create(&tmp).map_err(err)?;
        f.write_all(text.as_bytes()).map_err(err)?;
        f.sync_all().map_err(err)?;
    }
    std::fs::rename(&tmp, path).map_err(err)?;
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    std::fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(err)?;
    Ok(())
}

/// Reads a snapshot; a missing file is an empty state.
pub fn read_state(path: &Path) -> Result<Vec<SwarmSnapshot>, TrackerError> {
    let err = |reason: String| TrackerError::State {
        path: path.display().to_string(),
        reason,
    };
    let len = match std::fs::metadata(path) {
        Ok(m) => m.len(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(err(e.to_string())),
    };
    if len > MAX_STATE_FILE {
        return Err(err(format!("{len} bytes; the limit is {MAX_STATE_FILE}")));
    }
    let text = std::fs::read_to_string(path).map_err(|e| err(e.to_string()))?;
    parse_state(&text).map_err(err)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_round_trips_through_a_file() {
        let swarms = vec![
            SwarmSnapshot {
                info_hash: Id20([1; 20]),
                downloaded: 3,
                peers: vec![
                    ("10.0.0.1:1".parse().unwrap(), true),
                    ("[::1]:2".parse().unwrap(), false),
                ],
            },
            SwarmSnapshot {
                info_hash: Id20([2; 20]),
                downloaded: 0,
                peers: vec![],
            },
        ];
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("state");
        assert_eq!(read_state(&p).unwrap(), vec![]);
        write_state(&p, &swarms).unwrap();
        assert_eq!(read_state(&p).unwrap(), swarms);
        assert!(!dir.path().join("state.tmp").exists());
    }

    #[test]
    fn bad_state_names_the_line() {
        assert!(parse_state("nope").is_err());
        let e = parse_state(&format!("{HEADER}\np 1.2.3.4:5 s\n")).unwrap_err();
        assert!(e.contains("line 2"), "{e}");
        let e = parse_state(&format!("{HEADER}\ns 00 1\n")).unwrap_err();
        assert!(e.contains("line 2"), "{e}");
    }
}
