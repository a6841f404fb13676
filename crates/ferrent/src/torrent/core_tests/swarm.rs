//! A small simulated swarm: in-memory seeders answer our requests, time advances in steps of
//! 10 ms, and the core must finish with every piece verified exactly once, whatever the
//! seeders do wrong (corrupt a block, stop answering).

use super::*;

/// Pieces of two blocks.
const PLEN: u32 = 2 * B;
/// Simulated time per step.
const STEP_MS: u64 = 10;

/// A seeder in memory: answers our requests from the payload, a few per step, in order.
struct FakeSeeder {
    conn: ConnId,
    per_step: usize,
    queue: VecDeque<BlockRequest>,
    /// Serve this block (by count served) with one byte flipped.
    corrupt_at: Option<usize>,
    /// Stop answering (keep the connection open) after serving this many blocks...
    stall_after: Option<usize>,
    /// ... until this much simulated time has passed.
    resume_at_ms: u64,
    served: usize,
}

impl FakeSeeder {
    fn new(conn: ConnId, per_step: usize) -> Self {
        FakeSeeder {
            conn,
            per_step,
            queue: VecDeque::new(),
            corrupt_at: None,
            stall_after: None,
            resume_at_ms: u64::MAX,
            served: 0,
        }
    }

    fn stalled(&self, now_ms: u64) -> bool {
        self.stall_after.is_some_and(|n| self.served >= n) && now_ms < self.resume_at_ms
    }
}

/// What happened in one simulation.
#[derive(Default)]
struct Outcome {
    /// Times each piece passed its hash check.
    verified: Vec<u32>,
    /// Pieces that failed their hash check.
    mismatches: Vec<u32>,
    /// `HashFailed` actions.
    hash_failed: Vec<(u32, Vec<ConnId>)>,
    /// Connections the core closed.
    closed: Vec<ConnId>,
    /// `cancel`s sent.
    cancels: usize,
    /// Peers seen snubbed after a timeout.
    snubbed: BTreeSet<ConnId>,
    /// Every message sent, in order: (peer, message name, piece).
    trace: Vec<(ConnId, &'static str, u32)>,
    /// Steps taken until complete.
    steps: u64,
}

/// Runs `seeders` against a fresh core for a torrent of `pieces` pieces (the last one short)
/// until it completes; panics after `max_steps`.
fn simulate(pieces: u32, seeders: &mut [FakeSeeder], max_steps: u64) -> (TorrentCore, Outcome) {
    let total = pieces as usize * PLEN as usize - 1000;
    let data = payload(total);
    let hashes: Vec<[u8; 20]> = data
        .chunks(PLEN as usize)
        .map(|p| Sha1::digest(p).into())
        .collect();
    let mut c = new_core(pieces, PLEN, total as u64);
    let mut out = Outcome {
        verified: vec![0; pieces as usize],
        ..Outcome::default()
    };

    // Executes the actions the way the driver does; hash results come back at once.
    let run = |c: &mut TorrentCore, seeders: &mut [FakeSeeder], out: &mut Outcome, now| {
        while let Some(action) = c.poll_action() {
            if let Action::Send(conn, m) = &action {
                let piece = match m {
                    Message::Request(r) | Message::Cancel(r) => r.index,
                    Message::Have { index } => *index,
                    _ => u32::MAX,
                };
                out.trace.push((*conn, m.name(), piece));
            }
            match action {
                Action::Send(conn, Message::Request(r)) => {
                    let s = seeders.iter_mut().find(|s| s.conn == conn).unwrap();
                    s.queue.push_back(r);
                }
                Action::Send(conn, Message::Cancel(r)) => {
                    let s = seeders.iter_mut().find(|s| s.conn == conn).unwrap();
                    s.queue.retain(|q| *q != r);
                    out.cancels += 1;
                }
                Action::Send(..) => {}
                Action::Close(conn, reason) => {
                    // Only at the end: we became a seed, and so is every peer.
                    assert!(
                        c.is_complete() && reason.contains("seeds"),
                        "closed {conn}: {reason}"
                    );
                    out.closed.push(conn);
                }
                Action::Upload(conn, r) | Action::CancelUpload(conn, r) => {
                    panic!("nobody asked us for data: {conn} {r:?}")
                }
                Action::DropUploads(conn) => panic!("nothing to drop for {conn}"),
                Action::Verify { piece, data } => {
                    let good = hashes.get(piece as usize) == Some(&Sha1::digest(&data[..]).into());
                    if good {
                        out.verified[piece as usize] += 1;
                        c.piece_checked(piece, PieceCheck::Verified, now);
                    } else {
                        out.mismatches.push(piece);
                        c.piece_checked(piece, PieceCheck::HashMismatch, now);
                    }
                    check(c);
                }
                Action::HashFailed {
                    piece,
                    contributors,
                } => out.hash_failed.push((piece, contributors)),
                // The simulated swarm has no PEX (the core's default sources).
                Action::AddPeers(_) => {}
            }
        }
    };

    for s in seeders.iter() {
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
            run(&mut c, seeders, &mut out, at(0));
        }
    }
    while !c.is_complete() {
        out.steps += 1;
        assert!(
            out.steps <= max_steps,
            "not complete after {max_steps} steps"
        );
        let now = at(out.steps * STEP_MS);
        for i in 0..seeders.len() {
            for _ in 0..seeders[i].per_step {
                let s = &mut seeders[i];
                if s.stalled(out.steps * STEP_MS) {
                    break;
                }
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
                run(&mut c, seeders, &mut out, now);
            }
        }
        if c.poll_timeout().is_some_and(|t| t <= now) {
            c.handle_timeout(now);
            check(&c);
            for s in seeders.iter() {
                if c.picker().is_snubbed(s.conn) {
                    out.snubbed.insert(s.conn);
                }
            }
            run(&mut c, seeders, &mut out, now);
        }
    }
    (c, out)
}

#[test]
fn swarm_of_three_seeders_with_one_corrupting_a_block() {
    const PIECES: u32 = 24;
    let mut seeders = [
        FakeSeeder::new(1, 2),
        FakeSeeder::new(2, 1),
        FakeSeeder {
            corrupt_at: Some(2),
            ..FakeSeeder::new(3, 1)
        },
    ];
    let (c, mut out) = simulate(PIECES, &mut seeders, 2000);
    assert_eq!(
        out.verified,
        vec![1; PIECES as usize],
        "each piece verified once"
    );
    assert_eq!(out.mismatches.len(), 1, "{:?}", out.mismatches);
    assert_eq!(out.hash_failed.len(), 1);
    assert_eq!(out.hash_failed[0].0, out.mismatches[0]);
    assert!(
        out.hash_failed[0].1.contains(&3),
        "the corrupting peer is named: {:?}",
        out.hash_failed
    );
    assert_eq!(c.counters().hash_failures, 1);
    for s in &seeders {
        assert!(s.served > 2, "seeder {} served {}", s.conn, s.served);
    }
    out.closed.sort();
    assert_eq!(
        out.closed,
        vec![1, 2, 3],
        "seeds are closed once we are one"
    );
    let stats = c.picker().stats();
    assert_eq!(stats.pieces_have, PIECES);
    assert_eq!(stats.bytes_failed, u64::from(PLEN));
}

#[test]
fn endgame_finishes_without_waiting_for_a_silent_seeder() {
    // Seeder 2 serves three blocks, then keeps the connection open and answers nothing more.
    // Endgame asks seeder 1 for its blocks too, long before the 20 s request timeout.
    const PIECES: u32 = 16;
    let mut seeders = [
        FakeSeeder::new(1, 1),
        FakeSeeder {
            stall_after: Some(3),
            ..FakeSeeder::new(2, 1)
        },
    ];
    let (c, out) = simulate(PIECES, &mut seeders, 10_000);
    assert_eq!(out.verified, vec![1; PIECES as usize]);
    assert!(out.mismatches.is_empty() && out.hash_failed.is_empty());
    assert_eq!(seeders[1].served, 3);
    assert!(
        out.steps * STEP_MS < 20_000,
        "took {} ms",
        out.steps * STEP_MS
    );
    assert!(out.snubbed.is_empty());
    assert!(c.counters().downloaded >= u64::from(PIECES * PLEN) - 1000);
}

#[test]
fn requests_to_a_stalled_only_seeder_time_out_and_are_sent_again() {
    // The only seeder pauses for 30 s after four blocks. Its requests time out at 20 s: we
    // cancel them, snub it (one request at a time), and ask again; it finishes after the pause.
    const PIECES: u32 = 8;
    let mut seeders = [FakeSeeder {
        stall_after: Some(4),
        resume_at_ms: 30_000,
        ..FakeSeeder::new(1, 1)
    }];
    let (c, out) = simulate(PIECES, &mut seeders, 10_000);
    assert_eq!(out.verified, vec![1; PIECES as usize]);
    assert!(out.cancels > 0, "timed-out requests are cancelled");
    assert_eq!(out.snubbed, BTreeSet::from([1]));
    assert!(out.steps * STEP_MS >= 30_000);
    assert!(c.is_complete());
}

#[test]
fn same_swarm_same_run() {
    // Sans-I/O and a seeded picker: two runs of the same swarm take the same steps, send the
    // same messages in the same order, take the same blocks from the same seeders, and fail
    // the same piece.
    let run = || {
        let mut seeders = [
            FakeSeeder::new(1, 2),
            FakeSeeder::new(2, 1),
            FakeSeeder {
                corrupt_at: Some(5),
                ..FakeSeeder::new(3, 1)
            },
        ];
        let (_, out) = simulate(32, &mut seeders, 5000);
        let served: Vec<usize> = seeders.iter().map(|s| s.served).collect();
        (
            out.steps,
            served,
            out.mismatches,
            out.hash_failed,
            out.trace,
        )
    };
    let first = run();
    for _ in 0..3 {
        assert_eq!(run(), first);
    }
}
