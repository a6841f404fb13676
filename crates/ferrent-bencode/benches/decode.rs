//! Decode and encode of a synthetic large torrent: 100,000 pieces (a 2 MB `pieces` string) and
//! 1,000 files with nested paths. Criterion reports time per torrent and throughput in bytes/s.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use ferrent_bencode::{DecodeOptions, Dict, Value, decode, decode_with, encode, encode_into};

const PIECES: usize = 100_000;
const FILES: usize = 1_000;
const PIECE_LENGTH: i64 = 256 * 1024;

/// Owned storage that the borrowed [`Value`] tree points into.
struct Storage {
    pieces: Vec<u8>,
    paths: Vec<Vec<String>>,
}

fn storage() -> Storage {
    // Deterministic pseudo-random piece hashes (xorshift), so the bytes look like SHA-1 output.
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let pieces = (0..PIECES * 20)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect();
    let paths = (0..FILES)
        .map(|i| {
            vec![
                format!("disc {}", i / 250),
                format!("chapter {:02}", (i / 25) % 10),
                format!("track {i:04} - some title.flac"),
            ]
        })
        .collect();
    Storage { pieces, paths }
}

fn torrent(s: &Storage) -> Value<'_> {
    let total = PIECES as i64 * PIECE_LENGTH;
    let per_file = total / FILES as i64;
    let files = s
        .paths
        .iter()
        .map(|path| {
            let path = Value::List(path.iter().map(|p| Value::str(p)).collect());
            Value::Dict(
                Dict::new()
                    .with(b"length", Value::Int(per_file))
                    .with(b"path", path),
            )
        })
        .collect();
    let info = Dict::new()
        .with(b"files", Value::List(files))
        .with(b"name", Value::str("a large synthetic torrent"))
        .with(b"piece length", Value::Int(PIECE_LENGTH))
        .with(b"pieces", Value::Bytes(&s.pieces));
    let tiers = Value::List(vec![
        Value::List(vec![Value::str("http://tracker.example/announce")]),
        Value::List(vec![Value::str("udp://tracker.example:6969/announce")]),
    ]);
    Value::Dict(
        Dict::new()
            .with(b"announce", Value::str("http://tracker.example/announce"))
            .with(b"announce-list", tiers)
            .with(b"comment", Value::str("benchmark"))
            .with(b"created by", Value::str("ferrent bench"))
            .with(b"creation date", Value::Int(1_700_000_000))
            .with(b"info", Value::Dict(info)),
    )
}

fn bench(c: &mut Criterion) {
    let s = storage();
    let value = torrent(&s);
    let bytes = encode(&value);
    assert_eq!(decode(&bytes).as_ref(), Ok(&value));
    let info_len = decode(&bytes).ok().and_then(|v| {
        v.as_dict()
            .and_then(|d| d.get_raw(b"info"))
            .map(<[u8]>::len)
    });
    eprintln!(
        "synthetic torrent: {} bytes, info {:?} bytes",
        bytes.len(),
        info_len
    );

    let mut g = c.benchmark_group("large_torrent");
    g.throughput(Throughput::Bytes(bytes.len() as u64));
    g.bench_function("decode_strict", |b| b.iter(|| decode(black_box(&bytes))));
    let lenient = DecodeOptions::lenient();
    g.bench_function("decode_lenient", |b| {
        b.iter(|| decode_with(black_box(&bytes), &lenient))
    });
    g.bench_function("encode", |b| b.iter(|| encode(black_box(&value))));
    let mut buf = Vec::with_capacity(bytes.len());
    g.bench_function("encode_into_reused_buffer", |b| {
        b.iter(|| {
            buf.clear();
            encode_into(black_box(&value), &mut buf);
            buf.len()
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
