//! `--only` / `--skip`: choosing files of a torrent by index (as `ferrent info` shows them),
//! range (`2-5`) or glob on the path (`*.iso`, `docs/*`; `*` also crosses `/`, `?` is one
//! character).

use anyhow::bail;
use ferrent_core::Metainfo;

/// The default priority of a selected file (the picker's middle priority).
const SELECTED: u8 = 4;

/// File priorities for `meta` from `--only` and `--skip` items: with `--only`, only the files
/// it names; `--skip` then removes files. `None` when neither was given.
pub fn file_priorities(
    meta: &Metainfo,
    only: &[String],
    skip: &[String],
) -> anyhow::Result<Option<Vec<u8>>> {
    if only.is_empty() && skip.is_empty() {
        return Ok(None);
    }
    let files = meta.files();
    for item in only.iter().chain(skip) {
        if let Some((_, hi)) = parse_range(item) {
            if hi >= files.len() {
                bail!(
                    "file index {hi} out of range: the torrent has {} files (see ferrent info)",
                    files.len()
                );
            }
        }
    }
    let mut prios: Vec<u8> = files
        .iter()
        .enumerate()
        .map(|(i, f)| {
            let path = f.display_path();
            let selected = only.is_empty() || only.iter().any(|it| matches(it, i, &path, meta));
            let skipped = skip.iter().any(|it| matches(it, i, &path, meta));
            if selected && !skipped { SELECTED } else { 0 }
        })
        .collect();
    // Pad files carry no data of their own; their priority does not matter.
    for (p, f) in prios.iter_mut().zip(files) {
        if f.is_pad() {
            *p = 0;
        }
    }
    if prios.iter().all(|&p| p == 0) {
        bail!("--only/--skip select no file");
    }
    Ok(Some(prios))
}

fn parse_range(item: &str) -> Option<(usize, usize)> {
    if let Ok(n) = item.parse::<usize>() {
        return Some((n, n));
    }
    let (a, b) = item.split_once('-')?;
    let (a, b) = (a.parse().ok()?, b.parse().ok()?);
    (a <= b).then_some((a, b))
}

/// Whether `item` names file `index` with display path `path` (`name/dir/file` for a
/// multi-file torrent); globs are tried on that path and on the path inside the torrent.
fn matches(item: &str, index: usize, path: &str, meta: &Metainfo) -> bool {
    if let Some((lo, hi)) = parse_range(item) {
        return (lo..=hi).contains(&index);
    }
    let inner = if meta.is_single_file() {
        path
    } else {
        path.split_once('/').map_or(path, |(_, rest)| rest)
    };
    glob(item.as_bytes(), path.as_bytes()) || glob(item.as_bytes(), inner.as_bytes())
}

/// Wildcard match: `*` any run of characters, `?` any one byte. Iterative with one backtrack
/// point, so linear-ish and bounded (no recursion on hostile patterns).
fn glob(pat: &[u8], text: &[u8]) -> bool {
    let (mut p, mut t) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        match pat.get(p) {
            Some(b'*') => {
                star = Some((p, t));
                p += 1;
            }
            Some(&c) if c == b'?' || c == text[t] => {
                p += 1;
                t += 1;
            }
            _ => match star {
                Some((sp, st)) => {
                    p = sp + 1;
                    t = st + 1;
                    star = Some((sp, st + 1));
                }
                None => return false,
            },
        }
    }
    pat[p..].iter().all(|&c| c == b'*')
}

#[cfg(test)]
mod tests {
    use super::glob;

    #[test]
    fn globs() {
        assert!(glob(b"*.iso", b"a/b.iso"));
        assert!(glob(b"docs/*", b"docs/a/b.txt"));
        assert!(glob(b"file_00?_*", b"file_003_1.bin"));
        assert!(!glob(b"*.iso", b"a.isx"));
        assert!(!glob(b"a", b"ab"));
        assert!(glob(b"", b""));
        assert!(glob(b"***", b""));
    }
}
