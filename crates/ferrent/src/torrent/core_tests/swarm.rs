//! A small simulated swarm: in-memory seeders answer our requests, one corrupts a block, time
//! advances in steps, and the core must finish with every piece verified once.

use super::*;

/// A seeder in memory: answers our requests from the payload, a few per step, in order.
struct FakeSeeder {
    conn: ConnId,
    per_step: usize,
    queue: VecDeque<BlockRequest>,
    /// Serve this block (by count served) with one byte flipped.
    corrupt_at: Option<usize>,
    served: usize,
}

#[test]
fn swarm_of_three_seeders_with_one_corrupting_a_block() {
    const PLEN: u32 = 2 * B;
    const PIECES: u32 = 24;
    let total = PIECES as usize * PLEN as usize - 1000;
    let data = payload(total);
    let hashes: Vec<[u8; 20]> = data
        .chunks(PLEN as usize)
        .map(|p| Sha1::digest(p).into())
        .collect();
    let mut c = new_core(PIECES, PLEN, total as u64);
    let mut seeders = vec![
        FakeSeeder {
            conn: 1,
            per_step: 2,
            queue: VecDeque::new(),
            corrupt_at: None,
            served: 0,
        },
        FakeSeeder {
            conn: 2,
            per_step: 1,
            queue: VecDeque::new(),
            corrupt_at: None,
            served: 0,
        },
        FakeSeeder {
            conn: 3,
            per_step: 1,
            queue: VecDeque::new(),
            corrupt_at: Some(2),
            served: 0,
        },
    ];
    let mut verified = vec![0u32; PIECES as usize];
    let mut mismatches = Vec::new();
    let mut hash_failed = Vec::new();
    let mut closed = Vec::new();

    // Executes the actions the way the driver does; hash results come back immediately.
    let mut run = |c: &mut TorrentCore, seeders: &mut Vec<FakeSeeder>, now: Instant| {
        while let Some(action) = c.poll_action() {
            match action {
                Action::Send(conn, Message::Request(r)) => {
                    let s = seeders.iter_mut().find(|s| s.conn == conn).unwrap();
                    s.queue.push_back(r);
                }
                Action::Send(conn, Message::Cancel(r)) => {
                    let s = seeders.iter_mut().find(|s| s.conn == conn).unwrap();
                    s.queue.retain(|q| *q != r);
                }
                Action::Send(..) => {}
                Action::Close(conn, reason) => {
                    // Only at the end: we became a seed, and so is every peer.
                    assert!(
                        c.is_complete() && reason.contains("seeds"),
                        "closed {conn}: {reason}"
                    );
                    closed.push(conn);
                }
                Action::Upload(conn, r) => panic!("nobody asked us for data: {conn} {r:?}"),
                Action::Verify { piece, data } => {
                    let good = hashes.get(piece as usize) == Some(&Sha1::digest(&data).into());
                    if good {
                        verified[piece as usize] += 1;
                        c.piece_checked(piece, PieceCheck::Verified, now);
                    } else {
                        mismatches.push(piece);
                        c.piece_checked(piece, PieceCheck::HashMismatch, now);
                    }
                    check(c);
                }
                Action::HashFailed {
                    piece,
                    contributors,
                } => {
                    hash_failed.push((piece, contributors));
                }
            }
        }
    };

    for s in &seeders {
        connect(&mut c, s.conn, fast_ext());
    }
    let conns: Vec<ConnId> = seeders.iter().map(|s| s.conn).collect();
    for conn in conns {
        let hs = ExtendedHandshake {
            reqq: Some(8),
            ..ExtendedHandshake::default()
        };
        for m in [hs.to_message(), Message::HaveAll, Message::Unchoke] {
            c.handle_message(conn, m, at(0)).unwrap();
            run(&mut c, &mut seeders, at(0));
        }
    }
    let mut step = 0u64;
    while !c.is_complete() {
        step += 1;
        assert!(step <= 2000, "not complete after {step} steps");
        let now = at(step * 10);
        for i in 0..seeders.len() {
            for _ in 0..seeders[i].per_step {
                let s = &mut seeders[i];
                let Some(r) = s.queue.pop_front() else { break };
                let mut m = answer(&data, PLEN, r);
                if s.corrupt_at == Some(s.served)
                    && let Message::Piece(b) = &mut m
                {
                    let mut bytes = b.data.to_vec();
                    bytes[0] ^= 0xFF;
                    b.data = Bytes::from(bytes);
                }
                s.served += 1;
                let conn = s.conn;
                c.handle_message(conn, m, now).unwrap();
                check(&c);
                run(&mut c, &mut seeders, now);
            }
        }
        if c.poll_timeout().is_some_and(|t| t <= now) {
            c.handle_timeout(now);
            run(&mut c, &mut seeders, now);
        }
    }
    assert_eq!(
        verified,
        vec![1; PIECES as usize],
        "each piece verified once"
    );
    assert_eq!(mismatches.len(), 1, "{mismatches:?}");
    assert_eq!(hash_failed.len(), 1);
    assert_eq!(hash_failed[0].0, mismatches[0]);
    assert!(hash_failed[0].1.contains(&3), "{hash_failed:?}");
    assert_eq!(c.counters().hash_failures, 1);
    for s in &seeders {
        assert!(s.served > 2, "seeder {} served {}", s.conn, s.served);
    }
    closed.sort();
    assert_eq!(closed, vec![1, 2, 3], "seeds are closed once we are one");
    let stats = c.picker().stats();
    assert_eq!(stats.pieces_have, PIECES);
    assert_eq!(stats.bytes_failed, u64::from(PLEN));
}
