//! The allow-list (`--allow FILE`): one info-hash per line, 40 hex digits or 32 base32
//! characters; blank lines and `#` comments are ignored.

use std::collections::HashSet;
use std::path::Path;

use ferrent_core::Id20;

use crate::error::TrackerError;
use crate::limits::MAX_ALLOW_FILE;

/// Parses allow-list text. Bad lines are errors (with their line number): a typo in a private
/// tracker's list should be seen, not silently lock a torrent out.
pub fn parse_allow_list(text: &str) -> Result<HashSet<Id20>, TrackerError> {
    let mut set = HashSet::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.split('#').next().unwrap_or("").trim();
        if line.is_empty() {
            continue;
        }
        let h = line.parse::<Id20>().map_err(|e| TrackerError::AllowList {
            path: String::new(),
            reason: format!("line {}: {e}", n + 1),
        })?;
        set.insert(h);
    }
    Ok(set)
}

/// Reads and parses an allow-list file (at most [`MAX_ALLOW_FILE`] bytes).
pub fn read_allow_list(path: &Path) -> Result<HashSet<Id20>, TrackerError> {
    let err = |reason: String| TrackerError::AllowList {
        path: path.display().to_string(),
        reason,
    };
    let len = std::fs::metadata(path)
        .map_err(|e| err(e.to_string()))?
        .len();
    if len > MAX_ALLOW_FILE {
        return Err(err(format!("{len} bytes; the limit is {MAX_ALLOW_FILE}")));
    }
    let text = std::fs::read_to_string(path).map_err(|e| err(e.to_string()))?;
    parse_allow_list(&text).map_err(|e| match e {
        TrackerError::AllowList { reason, .. } => err(reason),
        e => e,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_base32_comments_and_errors() {
        let h = Id20([0xab; 20]);
        let text = format!("# list\n{}\n\n  {}  # again\n", h.to_hex(), h.to_base32());
        let set = parse_allow_list(&text).unwrap();
        assert_eq!(set.len(), 1);
        assert!(set.contains(&h));
        let e = parse_allow_list("abc\n").unwrap_err();
        assert!(e.to_string().contains("line 1"), "{e}");
    }
}
