//! Tests of the resume codec, crash-safe save/load and start-up validation.

use std::fs;
use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use ferrent_bencode::{Dict, Value};
use ferrent_core::{Bitfield, Id20, Layout, MAX_PIECES};
use proptest::prelude::*;

use super::*;
use crate::{FileState, Storage, StorageOptions};

const HASH: Id20 = Id20([0xab; 20]);

fn at(secs: u64, nanos: u32) -> Option<SystemTime> {
    Some(UNIX_EPOCH + Duration::new(secs, nanos))
}

fn sample() -> (ResumeData, Vec<FileState>) {
    let mut have = Bitfield::new(13);
    for i in [0, 5, 12] {
        have.set(i, true);
    }
    let states = vec![
        FileState::Present {
            len: 1000,
            mtime: at(1_700_000_000, 123_456_789),
        },
        FileState::Pad,
        FileState::Missing,
        FileState::Present {
            len: 0,
            mtime: at(5, 0),
        },
    ];
    (ResumeData::new(HASH, have, &states), states)
}

/// The bencode of a dictionary built from `entries`, for hand-made corrupt files.
fn dict_bytes(entries: &[(&'static str, Value<'_>)]) -> Vec<u8> {
    let mut d = Dict::new();
    for (k, v) in entries {
        d.insert(k.as_bytes(), v.clone());
    }
    ferrent_bencode::encode(&Value::Dict(d))
}

/// The sample's entries with `key` replaced by `value` (or removed when `None`).
fn with_key(key: &'static str, value: Option<Value<'static>>) -> Vec<u8> {
    let have: &'static [u8] = &[0b1000_0100, 0b0000_1000];
    let mut entries: Vec<(&'static str, Value<'static>)> = vec![
        ("files", Value::List(vec![Value::List(vec![])])),
        ("have", Value::Bytes(have)),
        ("info-hash", Value::Bytes(&[0xab; 20])),
        ("pieces", Value::Int(13)),
        ("version", Value::Int(FORMAT_VERSION)),
    ];
    entries.retain(|(k, _)| *k != key);
    if let Some(v) = value {
        entries.push((key, v));
    }
    dict_bytes(&entries)
}

#[test]
fn round_trip() {
    let (mut data, _) = sample();
    let bytes = data.encode();
    assert_eq!(ResumeData::decode(&bytes).expect("decodes"), data);
    data.saved_at = Some(1_764_000_000);
    let back = ResumeData::decode(&data.encode()).expect("decodes");
    assert_eq!(back, data);
    assert_eq!(back.have.ones().collect::<Vec<_>>(), vec![0, 5, 12]);
    assert_eq!(back.files[2], ResumeFile::ABSENT);
    assert_eq!(back.files[0].mtime_nanos, 123_456_789);
}

#[test]
fn encoding_is_canonical_and_versioned() {
    let (data, _) = sample();
    let bytes = data.encode();
    let v = ferrent_bencode::decode(&bytes).expect("strict decode accepts it");
    assert_eq!(ferrent_bencode::encode(&v), bytes);
    let d = v.as_dict().expect("a dict");
    assert_eq!(d.get_int(b"version"), Some(FORMAT_VERSION));
    assert_eq!(d.get_bytes(b"info-hash"), Some(&HASH.0[..]));
}

#[test]
fn the_hand_made_sample_decodes() {
    // Guards the corruption tests below: each changes exactly one thing of a valid file.
    let d =
        ResumeData::decode(&with_key("version", Some(Value::Int(FORMAT_VERSION)))).expect("valid");
    assert_eq!(d.num_pieces, 13);
    assert_eq!(d.have.count_ones(), 3);
}

#[test]
fn mtime_before_the_epoch_is_floored() {
    let t = UNIX_EPOCH - Duration::new(1, 250_000_000);
    assert_eq!(mtime_parts(t), Some((-2, 750_000_000)));
    assert_eq!(
        mtime_parts(UNIX_EPOCH - Duration::from_secs(3)),
        Some((-3, 0))
    );
    let states = [FileState::Present {
        len: 1,
        mtime: Some(t),
    }];
    let data = ResumeData::new(HASH, Bitfield::new(1), &states);
    let back = ResumeData::decode(&data.encode()).expect("decodes");
    assert_eq!(back.matches(HASH, 1, &states), Ok(()));
}

#[test]
fn every_truncation_is_an_error() {
    let (data, _) = sample();
    let bytes = data.encode();
    for n in 0..bytes.len() {
        assert!(
            ResumeData::decode(&bytes[..n]).is_err(),
            "prefix of {n} bytes accepted"
        );
    }
    let mut longer = bytes.clone();
    longer.push(b'0');
    assert!(matches!(
        ResumeData::decode(&longer),
        Err(ResumeError::Bencode(_))
    ));
}

#[test]
fn wrong_types_are_errors() {
    for (key, v) in [
        ("files", Value::Int(1)),
        ("have", Value::Int(1)),
        ("info-hash", Value::List(vec![])),
        ("pieces", Value::Bytes(b"13")),
        ("version", Value::Bytes(b"1")),
        ("saved-at", Value::Bytes(b"now")),
    ] {
        let r = ResumeData::decode(&with_key(key, Some(v)));
        assert!(
            matches!(r, Err(ResumeError::WrongType { key: k, .. }) if k == key),
            "{key}: {r:?}"
        );
    }
    assert!(matches!(
        ResumeData::decode(b"li1ee"),
        Err(ResumeError::NotADict { found: "list" })
    ));
    assert!(matches!(
        ResumeData::decode(b""),
        Err(ResumeError::Bencode(_))
    ));
}

#[test]
fn missing_and_unknown_keys_are_errors() {
    for key in ["files", "have", "info-hash", "pieces", "version"] {
        let r = ResumeData::decode(&with_key(key, None));
        assert!(
            matches!(r, Err(ResumeError::MissingKey { key: k }) if k == key),
            "{key}: {r:?}"
        );
    }
    let r = ResumeData::decode(&with_key("zzz", Some(Value::Int(1))));
    assert!(
        matches!(r, Err(ResumeError::UnknownKey { ref key }) if key == "zzz"),
        "{r:?}"
    );
}

#[test]
fn bitfield_must_fit_the_piece_count() {
    let r = ResumeData::decode(&with_key("have", Some(Value::Bytes(&[0x80]))));
    assert!(matches!(r, Err(ResumeError::Bitfield(_))), "short: {r:?}");
    let r = ResumeData::decode(&with_key("have", Some(Value::Bytes(&[0, 0, 0]))));
    assert!(matches!(r, Err(ResumeError::Bitfield(_))), "long: {r:?}");
    // 13 pieces: the low 3 bits of the second byte are spare.
    let r = ResumeData::decode(&with_key("have", Some(Value::Bytes(&[0, 0b0000_0001]))));
    assert!(
        matches!(
            r,
            Err(ResumeError::Bitfield(
                ferrent_core::BitfieldError::SpareBitsSet { .. }
            ))
        ),
        "spare: {r:?}"
    );
}

#[test]
fn other_versions_are_rejected() {
    for v in [0, 2, -1, i64::MAX] {
        let r = ResumeData::decode(&with_key("version", Some(Value::Int(v))));
        assert!(
            matches!(r, Err(ResumeError::UnsupportedVersion { found, supported: FORMAT_VERSION }) if found == v),
            "{v}: {r:?}"
        );
    }
}

#[test]
fn huge_and_negative_numbers_are_errors() {
    for pieces in [-1, i64::from(MAX_PIECES) + 1, i64::MAX, i64::from(u32::MAX)] {
        let r = ResumeData::decode(&with_key("pieces", Some(Value::Int(pieces))));
        assert!(
            matches!(r, Err(ResumeError::OutOfRange { key: "pieces", .. })),
            "{pieces}: {r:?}"
        );
    }
    // Beyond i64: the bencode layer refuses it.
    let mut bytes = with_key("pieces", Some(Value::Int(13)));
    let pos = bytes
        .windows(4)
        .position(|w| w == b"i13e")
        .expect("pieces int");
    bytes.splice(pos..pos + 4, b"i99999999999999999999999e".iter().copied());
    assert!(matches!(
        ResumeData::decode(&bytes),
        Err(ResumeError::Bencode(_))
    ));

    let file = |items: Vec<Value<'static>>| Some(Value::List(vec![Value::List(items)]));
    let r = ResumeData::decode(&with_key(
        "files",
        file(vec![Value::Int(-5), Value::Int(0), Value::Int(0)]),
    ));
    assert!(matches!(r, Err(ResumeError::OutOfRange { .. })), "{r:?}");
    let r = ResumeData::decode(&with_key(
        "files",
        file(vec![
            Value::Int(5),
            Value::Int(0),
            Value::Int(1_000_000_000),
        ]),
    ));
    assert!(matches!(r, Err(ResumeError::OutOfRange { .. })), "{r:?}");
    let r = ResumeData::decode(&with_key(
        "files",
        file(vec![
            Value::Int(i64::MAX),
            Value::Int(i64::MIN),
            Value::Int(0),
        ]),
    ));
    assert!(
        r.is_ok(),
        "extreme but representable values are data: {r:?}"
    );
}

#[test]
fn malformed_file_entries_are_errors() {
    for entry in [
        Value::Int(3),
        Value::List(vec![Value::Int(1), Value::Int(2)]),
        Value::List(vec![Value::Int(1), Value::Bytes(b"x"), Value::Int(2)]),
        Value::List(vec![Value::Int(1); 4]),
    ] {
        let r = ResumeData::decode(&with_key("files", Some(Value::List(vec![entry.clone()]))));
        assert!(
            matches!(r, Err(ResumeError::BadFileEntry { index: 0, .. })),
            "{entry:?}: {r:?}"
        );
    }
    let r = ResumeData::decode(&with_key("info-hash", Some(Value::Bytes(&[1; 19]))));
    assert!(
        matches!(r, Err(ResumeError::BadInfoHash { len: 19 })),
        "{r:?}"
    );
    // Nesting deeper than a resume file has.
    let r = ResumeData::decode(&with_key(
        "files",
        Some(Value::List(vec![Value::List(vec![Value::List(vec![])])])),
    ));
    assert!(matches!(r, Err(ResumeError::Bencode(_))), "{r:?}");
}

#[test]
fn oversized_input_is_refused_before_parsing() {
    let big = vec![b'd'; MAX_RESUME_SIZE + 1];
    assert!(matches!(
        ResumeData::decode(&big),
        Err(ResumeError::TooLarge { .. })
    ));
}

#[test]
fn resume_path_is_a_hidden_file_named_by_hash() {
    let p = resume_path(Path::new("/data/dl"), HASH);
    assert_eq!(
        p,
        Path::new("/data/dl").join(format!(".{}.ferrent-resume", "ab".repeat(20)))
    );
}

// ---- save and load ----

#[test]
fn save_then_load() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = resume_path(dir.path(), HASH);
    assert!(load(&path).expect("no file is fine").is_none());
    let (data, _) = sample();
    save_atomic(&path, &data.encode()).expect("save");
    assert_eq!(load(&path).expect("load"), Some(data.clone()));
    // Overwrite with newer data.
    let mut newer = data;
    newer.have.set(1, true);
    save_atomic(&path, &newer.encode()).expect("save again");
    assert_eq!(load(&path).expect("load"), Some(newer));
    // No temp file is left behind.
    let names: Vec<_> = fs::read_dir(dir.path())
        .expect("read dir")
        .map(|e| e.expect("entry").file_name())
        .collect();
    assert_eq!(names.len(), 1, "{names:?}");
}

#[test]
fn crash_before_rename_keeps_the_old_data_and_cleans_up() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = resume_path(dir.path(), HASH);
    let (old, _) = sample();
    save_atomic(&path, &old.encode()).expect("save");
    // A process that died mid-save: a half-written temp, never renamed. pid_max is at most
    // 2^22, so this pid never belongs to a live process.
    let mut name = path.file_name().expect("name").to_os_string();
    name.push(".tmp.4000000000.7");
    let stale = dir.path().join(&name);
    let mut half = old.encode();
    half.truncate(half.len() / 2);
    fs::write(&stale, &half).expect("write temp");
    // A temp of a live process (pid 1 always exists) is left alone.
    let mut live_name = path.file_name().expect("name").to_os_string();
    live_name.push(".tmp.1.0");
    let live = dir.path().join(&live_name);
    fs::write(&live, b"in progress").expect("write temp");

    assert_eq!(load(&path).expect("load"), Some(old));
    assert!(!stale.exists(), "stale temp removed");
    assert!(live.exists(), "another live process's temp kept");
}

#[test]
fn crash_before_the_first_rename_means_no_data() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = resume_path(dir.path(), HASH);
    let mut name = path.file_name().expect("name").to_os_string();
    name.push(format!(".tmp.{}.0", std::process::id()));
    fs::write(dir.path().join(&name), b"d4:hav").expect("write temp");
    assert_eq!(load(&path).expect("load"), None);
    assert!(!dir.path().join(&name).exists());
}

#[test]
fn corrupt_file_is_a_content_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = resume_path(dir.path(), HASH);
    fs::write(&path, b"d5:files").expect("write");
    let e = load(&path).expect_err("corrupt");
    assert!(!e.is_io(), "{e}");
}

#[test]
fn save_into_a_missing_directory_fails_cleanly() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = resume_path(&dir.path().join("nope"), HASH);
    let e = save_atomic(&path, b"x").expect_err("no directory");
    assert!(e.is_io(), "{e}");
    assert!(!path.exists());
}

// ---- matches ----

#[test]
fn matches_the_files_it_was_saved_from() {
    let (data, states) = sample();
    assert_eq!(data.matches(HASH, 13, &states), Ok(()));
    assert!(data.mismatched_files(HASH, 13, &states).is_empty());
}

#[test]
fn matches_detects_torrent_differences() {
    let (data, states) = sample();
    assert!(matches!(
        data.matches(Id20([1; 20]), 13, &states),
        Err(Mismatch::InfoHash { .. })
    ));
    assert_eq!(
        data.matches(HASH, 14, &states),
        Err(Mismatch::PieceCount {
            recorded: 13,
            current: 14
        })
    );
    assert_eq!(
        data.matches(HASH, 13, &states[..3]),
        Err(Mismatch::FileCount {
            recorded: 4,
            current: 3
        })
    );
}

#[test]
fn matches_detects_file_changes() {
    let (data, states) = sample();
    let changed = |index: usize, s: FileState| {
        let mut v = states.clone();
        v[index] = s;
        data.matches(HASH, 13, &v)
    };
    let file = |index, what| Err(Mismatch::File { index, what });
    assert_eq!(
        changed(
            0,
            FileState::Present {
                len: 999,
                mtime: at(1_700_000_000, 123_456_789)
            }
        ),
        file(
            0,
            FileMismatch::Length {
                recorded: 1000,
                current: 999
            }
        )
    );
    assert_eq!(
        changed(
            0,
            FileState::Present {
                len: 1000,
                mtime: at(1_700_000_000, 123_456_790)
            }
        ),
        file(0, FileMismatch::Mtime)
    );
    assert_eq!(
        changed(
            0,
            FileState::Present {
                len: 1000,
                mtime: None
            }
        ),
        file(0, FileMismatch::NoMtime)
    );
    assert_eq!(
        changed(0, FileState::Missing),
        file(0, FileMismatch::Disappeared)
    );
    assert_eq!(
        changed(
            2,
            FileState::Present {
                len: 0,
                mtime: at(1, 0)
            }
        ),
        file(2, FileMismatch::Appeared { len: 0 })
    );
    // Two changes: matches reports the first, mismatched_files both.
    let mut v = states.clone();
    v[0] = FileState::Missing;
    v[3] = FileState::Missing;
    assert_eq!(
        data.mismatched_files(HASH, 13, &v),
        vec![
            (0, FileMismatch::Disappeared),
            (3, FileMismatch::Disappeared)
        ]
    );
}

#[test]
fn with_real_storage_the_saved_state_matches_until_a_file_changes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let layout = Layout::new(4, [(6, false), (2, true), (4, false)]).expect("layout");
    let files = vec!["t/a".into(), "t/pad".into(), "t/b".into()];
    let storage =
        Storage::open(dir.path(), layout, files, StorageOptions::default()).expect("storage");
    storage.prepare().expect("prepare");
    let mut have = Bitfield::new(3);
    for (i, data) in [(0u32, b"abcd"), (2, b"wxyz")] {
        let p = storage.layout().piece(i).expect("piece");
        storage.write_piece(p, data).expect("write");
        have.set(i, true);
    }
    // The save order of the module doc: snapshot, sync, stat, save.
    storage.sync().expect("sync");
    let states = storage.stat_files().expect("stat");
    let path = resume_path(dir.path(), HASH);
    save_atomic(
        &path,
        &ResumeData::new(HASH, have, &states).stamped_now().encode(),
    )
    .expect("save");

    let loaded = load(&path).expect("load").expect("present");
    assert!(loaded.saved_at.is_some());
    let now = storage.stat_files().expect("stat");
    assert_eq!(loaded.matches(HASH, 3, &now), Ok(()));
    assert_eq!(loaded.have.ones().collect::<Vec<_>>(), vec![0, 2]);

    // Same size, new mtime (someone rewrote the bytes): not trusted.
    let a = dir.path().join("t/a");
    let f = fs::OpenOptions::new().write(true).open(&a).expect("open");
    f.set_modified(UNIX_EPOCH + Duration::from_secs(1_000_000))
        .expect("set mtime");
    drop(f);
    let now = storage.stat_files().expect("stat");
    assert_eq!(
        loaded.matches(HASH, 3, &now),
        Err(Mismatch::File {
            index: 0,
            what: FileMismatch::Mtime
        })
    );
}

proptest! {
    #[test]
    fn decode_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let _ = ResumeData::decode(&bytes);
    }

    #[test]
    fn decode_never_panics_on_mutated_files(
        flips in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..6),
    ) {
        let (data, _) = sample();
        let mut bytes = data.encode();
        for (i, b) in flips {
            let i = i.index(bytes.len());
            bytes[i] = b;
        }
        if let Ok(d) = ResumeData::decode(&bytes) {
            // Whatever decodes is internally consistent and re-encodes canonically.
            prop_assert_eq!(d.have.len(), d.num_pieces);
            prop_assert_eq!(ResumeData::decode(&d.encode()).ok(), Some(d));
        }
    }

    #[test]
    fn round_trips(
        num_pieces in 0u32..300,
        bits in proptest::collection::vec(any::<bool>(), 300),
        files in proptest::collection::vec(
            proptest::option::of((0u64..=i64::MAX as u64, any::<i64>(), 0u32..1_000_000_000)),
            0..20,
        ),
        saved_at in proptest::option::of(any::<i64>()),
    ) {
        let mut have = Bitfield::new(num_pieces);
        for (i, b) in bits.iter().enumerate().take(num_pieces as usize) {
            have.set(i as u32, *b);
        }
        let data = ResumeData {
            info_hash: HASH,
            num_pieces,
            have,
            files: files
                .into_iter()
                .map(|f| match f {
                    None => ResumeFile::ABSENT,
                    Some((len, mtime_secs, mtime_nanos)) => ResumeFile { len: Some(len), mtime_secs, mtime_nanos },
                })
                .collect(),
            saved_at,
        };
        prop_assert_eq!(ResumeData::decode(&data.encode()).ok(), Some(data));
    }
}

#[test]
fn plan_rechecks_only_pieces_touching_changed_files() {
    // Files of 6, 2 (pad), 4 and 4 bytes, pieces of 4: piece 0 = a[0..4], piece 1 = a[4..6] +
    // pad, piece 2 = b, piece 3 = c.
    let layout = Layout::new(4, [(6, false), (2, true), (4, false), (4, false)]).expect("layout");
    let present = |len| FileState::Present {
        len,
        mtime: at(1_700_000_000, 1),
    };
    let saved = vec![present(6), FileState::Pad, present(4), FileState::Missing];
    let mut have = Bitfield::new(4);
    for i in [0, 1, 2] {
        have.set(i, true);
    }
    let data = ResumeData::new(HASH, have, &saved);

    let plan = data.plan(HASH, &layout, &saved).expect("same torrent");
    assert_eq!(plan.trusted.ones().collect::<Vec<_>>(), vec![0, 1, 2]);
    assert_eq!(plan.recheck.count_ones(), 0);
    assert!(plan.changed.is_empty());

    // After a crash: c was written (appeared) and a was rewritten (new mtime).
    let mut now = saved.clone();
    now[0] = FileState::Present {
        len: 6,
        mtime: at(1_700_000_009, 0),
    };
    now[3] = present(4);
    let plan = data.plan(HASH, &layout, &now).expect("same torrent");
    assert_eq!(plan.trusted.ones().collect::<Vec<_>>(), vec![2]);
    assert_eq!(plan.recheck.ones().collect::<Vec<_>>(), vec![0, 1, 3]);
    assert_eq!(
        plan.changed,
        vec![
            (0, FileMismatch::Mtime),
            (3, FileMismatch::Appeared { len: 4 })
        ]
    );

    // Another torrent: no plan.
    assert!(matches!(
        data.plan(Id20([0; 20]), &layout, &saved),
        Err(Mismatch::InfoHash { .. })
    ));
    let other = Layout::new(4, [(6, false), (2, true), (4, false), (8, false)]).expect("layout");
    assert!(matches!(
        data.plan(HASH, &other, &saved),
        Err(Mismatch::PieceCount { .. })
    ));
}
