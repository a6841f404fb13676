//! Peer wire decoding throughput: 1,000 `piece` messages of 16 KiB (16 MiB) in one buffer,
//! framed by `MessageDecoder`, reported in bytes per second.

use bytes::{Bytes, BytesMut};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use ferrent_proto::wire::{BLOCK_LEN, Block, Message, MessageDecoder};
use std::hint::black_box;

fn decode_pieces(c: &mut Criterion) {
    let block = Bytes::from(vec![0x5a; BLOCK_LEN as usize]);
    let mut wire = BytesMut::new();
    for i in 0..1000u32 {
        Message::Piece(Block {
            index: i / 16,
            begin: (i % 16) * BLOCK_LEN,
            data: block.clone(),
        })
        .encode(&mut wire);
    }
    let wire = wire.freeze();

    let mut g = c.benchmark_group("peer_wire");
    g.throughput(Throughput::Bytes(wire.len() as u64));
    // The whole stream already buffered: framing cost only.
    g.bench_function("decode 1000 piece messages (buffered)", |b| {
        b.iter(|| {
            let mut buf = BytesMut::from(&wire[..]);
            let mut dec = MessageDecoder::new();
            let mut n = 0usize;
            while let Ok(Some(m)) = dec.decode(&mut buf) {
                n += black_box(m).encoded_len();
            }
            n
        })
    });
    // As a driver sees it: 64 KiB socket reads appended to a reused receive buffer.
    g.bench_function("decode 1000 piece messages (64 KiB reads)", |b| {
        let mut buf = BytesMut::with_capacity(256 * 1024);
        b.iter(|| {
            let mut dec = MessageDecoder::new();
            let mut n = 0usize;
            for read in wire.chunks(64 * 1024) {
                if buf.capacity() - buf.len() < read.len() {
                    buf.reserve(256 * 1024);
                }
                buf.extend_from_slice(read);
                while let Ok(Some(m)) = dec.decode(&mut buf) {
                    n += black_box(m).encoded_len();
                }
            }
            n
        })
    });
    g.finish();
}

criterion_group!(benches, decode_pieces);
criterion_main!(benches);
