//! BEP 47 pad files from the receiving side: blocks wholly inside a pad file are never
//! requested, and are zeros in the piece that goes to verification.

use super::*;

#[test]
fn pad_blocks_are_never_requested_and_are_zeros() {
    // Two pieces of 4 blocks. File a: [0, 20 KiB); a pad file: [20 KiB, 80 KiB); file b: the
    // rest. Piece 0: block 1 is only partly padding (requested), blocks 2 and 3 are padding.
    // Piece 1: block 0 is padding.
    let plen = 4 * B;
    let mut c = new_core(2, plen, 2 * u64::from(plen));
    let pad = (20 * 1024u64, 80 * 1024u64);
    c.set_pad_ranges(vec![pad]);
    // A reused buffer holding old bytes: the pad blocks must still come out as zeros.
    c.recycle_buffer(crate::storage::PieceBuf::copy_of(&vec![
        0xEE;
        plen as usize
    ]));
    c.recycle_buffer(crate::storage::PieceBuf::copy_of(&vec![
        0xEE;
        plen as usize
    ]));
    let mut data = payload(2 * plen as usize);
    data[pad.0 as usize..pad.1 as usize].fill(0);

    let is_pad_block = |r: &BlockRequest| {
        let start = u64::from(r.index) * u64::from(plen) + u64::from(r.begin);
        start >= pad.0 && start + u64::from(r.length) <= pad.1
    };
    let mut asked = seeder(&mut c, 1, at(0));
    let mut all_asked = Vec::new();
    let mut verified = Vec::new();
    for step in 1..20 {
        if asked.is_empty() {
            break;
        }
        for r in std::mem::take(&mut asked) {
            assert!(!is_pad_block(&r), "requested a pad block: {r:?}");
            all_asked.push(r);
            let actions = ok(&mut c, 1, answer(&data, plen, r), at(step));
            asked.extend(requests(&actions, 1));
            verified.extend(verifies(&actions));
        }
    }
    all_asked.sort_by_key(|r| (r.index, r.begin));
    let want: Vec<(u32, u32)> = vec![(0, 0), (0, B), (1, B), (1, 2 * B), (1, 3 * B)];
    let got: Vec<(u32, u32)> = all_asked.iter().map(|r| (r.index, r.begin)).collect();
    assert_eq!(got, want, "exactly the blocks holding file data");
    verified.sort_by_key(|v| v.0);
    assert_eq!(verified.len(), 2);
    for (piece, bytes) in verified {
        let start = piece as usize * plen as usize;
        assert!(
            bytes == data[start..start + plen as usize],
            "piece {piece} differs from the payload (pad zeros?)"
        );
    }
    assert_eq!(c.counters().downloaded, 5 * u64::from(B));
}

#[test]
fn a_piece_of_padding_only_is_downloaded_like_any_other() {
    // BEP 47 creators never make one, but a hostile torrent may: it must still complete.
    let plen = 2 * B;
    let mut c = new_core(2, plen, 2 * u64::from(plen));
    c.set_pad_ranges(vec![(u64::from(plen), 2 * u64::from(plen))]);
    let data = {
        let mut d = payload(2 * plen as usize);
        d[plen as usize..].fill(0);
        d
    };
    let mut asked = seeder(&mut c, 1, at(0));
    let mut verified = 0;
    for step in 1..20 {
        if asked.is_empty() {
            break;
        }
        for r in std::mem::take(&mut asked) {
            let actions = ok(&mut c, 1, answer(&data, plen, r), at(step));
            asked.extend(requests(&actions, 1));
            verified += verifies(&actions).len();
        }
    }
    assert_eq!(verified, 2);
}
