//! KRPC codec tests: the BEP 5 examples byte for byte, libtorrent-shaped packets (2-byte
//! transaction ids, `v`, `ip`), hostile input, and a property round trip.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use proptest::prelude::*;

use super::*;

fn id(s: &[u8; 20]) -> NodeId {
    NodeId(*s)
}

fn roundtrip_exact(bytes: &[u8]) -> Message {
    let m = Message::decode(bytes)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(bytes)));
    let mut out = Vec::new();
    m.encode(&mut out);
    assert_eq!(
        String::from_utf8_lossy(&out),
        String::from_utf8_lossy(bytes)
    );
    m
}

#[test]
fn bep5_examples_decode_and_reencode_byte_for_byte() {
    let m = roundtrip_exact(b"d1:ad2:id20:abcdefghij0123456789e1:q4:ping1:t2:aa1:y1:qe");
    assert_eq!(m.transaction_id, b"aa");
    assert_eq!(
        m.body,
        Body::Query(Query::Ping {
            id: id(b"abcdefghij0123456789")
        })
    );

    let m = roundtrip_exact(b"d1:rd2:id20:mnopqrstuvwxyz123456e1:t2:aa1:y1:re");
    assert_eq!(
        m.body,
        Body::Response(Response {
            id: id(b"mnopqrstuvwxyz123456"),
            ..Response::default()
        })
    );

    let m = roundtrip_exact(
        b"d1:ad2:id20:abcdefghij01234567896:target20:mnopqrstuvwxyz123456e1:q9:find_node1:t2:aa1:y1:qe",
    );
    assert!(
        matches!(m.body, Body::Query(Query::FindNode { target, .. }) if target == id(b"mnopqrstuvwxyz123456"))
    );

    let m = roundtrip_exact(
        b"d1:ad2:id20:abcdefghij01234567899:info_hash20:mnopqrstuvwxyz123456e1:q9:get_peers1:t2:aa1:y1:qe",
    );
    assert!(matches!(m.body, Body::Query(Query::GetPeers { .. })));

    let m = roundtrip_exact(
        b"d1:rd2:id20:abcdefghij01234567895:token8:aoeusnth6:valuesl6:axje.u6:idhtnmee1:t2:aa1:y1:re",
    );
    let Body::Response(r) = m.body else {
        panic!("not a response")
    };
    assert_eq!(r.token.as_deref(), Some(&b"aoeusnth"[..]));
    assert_eq!(
        r.values,
        vec![
            SocketAddr::new(
                IpAddr::V4(Ipv4Addr::new(b'a', b'x', b'j', b'e')),
                u16::from_be_bytes(*b".u")
            ),
            SocketAddr::new(
                IpAddr::V4(Ipv4Addr::new(b'i', b'd', b'h', b't')),
                u16::from_be_bytes(*b"nm")
            ),
        ]
    );

    let m = roundtrip_exact(
        b"d1:ad2:id20:abcdefghij012345678912:implied_porti1e9:info_hash20:mnopqrstuvwxyz1234564:porti6881e5:token8:aoeusnthe1:q13:announce_peer1:t2:aa1:y1:qe",
    );
    assert_eq!(
        m.body,
        Body::Query(Query::AnnouncePeer {
            id: id(b"abcdefghij0123456789"),
            info_hash: id(b"mnopqrstuvwxyz123456"),
            port: 6881,
            implied_port: true,
            token: b"aoeusnth".to_vec(),
        })
    );

    let m = roundtrip_exact(b"d1:eli201e23:A Generic Error Ocurrede1:t2:aa1:y1:ee");
    assert_eq!(
        m.body,
        Body::Error(ErrorMessage {
            code: ErrorCode::GENERIC,
            message: b"A Generic Error Ocurred".to_vec()
        })
    );
}

#[test]
fn libtorrent_shaped_query_with_two_byte_tid_version_and_want() {
    // libtorrent 2.0: 2-byte binary transaction id, `v` = "LT" + 2 version bytes, BEP 32 want.
    let mut pkt = Vec::new();
    pkt.extend_from_slice(b"d1:ad2:id20:");
    pkt.extend_from_slice(&[0xAB; 20]);
    pkt.extend_from_slice(b"6:target20:");
    pkt.extend_from_slice(&[0xCD; 20]);
    pkt.extend_from_slice(b"4:wantl2:n42:n6ee1:q9:find_node1:t2:\x00\xff1:v4:LT\x02\x001:y1:qe");
    let m = roundtrip_exact(&pkt);
    assert_eq!(m.transaction_id, vec![0x00, 0xff]);
    assert_eq!(m.version.as_deref(), Some(&b"LT\x02\x00"[..]));
    assert_eq!(
        m.body,
        Body::Query(Query::FindNode {
            id: NodeId([0xAB; 20]),
            target: NodeId([0xCD; 20]),
            want: Want { n4: true, n6: true }
        })
    );
}

#[test]
fn transaction_ids_of_any_length_up_to_the_limit() {
    for len in [0usize, 1, 2, 3, 4, 8, 20, MAX_TRANSACTION_ID_LEN] {
        let m = Message::query(
            vec![7; len],
            Query::Ping {
                id: NodeId([1; 20]),
            },
        );
        let mut out = Vec::new();
        m.encode(&mut out);
        assert_eq!(Message::decode(&out).unwrap().transaction_id.len(), len);
    }
    let m = Message::query(
        vec![7; MAX_TRANSACTION_ID_LEN + 1],
        Query::Ping {
            id: NodeId([1; 20]),
        },
    );
    let mut out = Vec::new();
    m.encode(&mut out);
    let e = Message::decode(&out).unwrap_err();
    assert!(
        matches!(e.kind, KrpcErrorKind::BadLength { field: "t", .. }),
        "{e:?}"
    );
}

#[test]
fn bep32_nodes6_and_ip_field() {
    let v4 = NodeInfo {
        id: NodeId([2; 20]),
        addr: "10.1.2.3:6881".parse().unwrap(),
    };
    let v6 = NodeInfo {
        id: NodeId([3; 20]),
        addr: SocketAddr::new(IpAddr::V6(Ipv6Addr::LOCALHOST), 6882),
    };
    let mut m = Message::response(
        b"xy".to_vec(),
        Response {
            id: NodeId([1; 20]),
            nodes: vec![v4],
            nodes6: vec![v6],
            values: vec![],
            token: Some(vec![1, 2, 3, 4]),
        },
    );
    m.ip = Some("127.0.0.1:4000".parse().unwrap());
    m.read_only = true;
    let mut out = Vec::new();
    m.encode(&mut out);
    let back = Message::decode(&out).unwrap();
    assert_eq!(back, m);
    let Body::Response(r) = &back.body else {
        panic!()
    };
    assert_eq!(r.nodes.len(), 1);
    assert_eq!(r.nodes6.len(), 1);
}

#[test]
fn malformed_messages_are_typed_errors_with_tid_when_readable() {
    type Case<'a> = (&'a [u8], fn(&KrpcErrorKind) -> bool);
    let cases: &[Case<'_>] = &[
        (b"", |k| matches!(k, KrpcErrorKind::Bencode(_))),
        (b"le", |k| matches!(k, KrpcErrorKind::WrongType { field: "message", .. })),
        (b"d1:y1:qe", |k| matches!(k, KrpcErrorKind::MissingField { field: "t" })),
        (b"d1:ti5e1:y1:qe", |k| matches!(k, KrpcErrorKind::WrongType { field: "t", .. })),
        (b"d1:t2:aa1:y1:ze", |k| matches!(k, KrpcErrorKind::UnknownType { .. })),
        (b"d1:q4:ping1:t2:aa1:y1:qe", |k| matches!(k, KrpcErrorKind::MissingField { field: "a" })),
        (b"d1:ad2:id3:abce1:q4:ping1:t2:aa1:y1:qe", |k| matches!(k, KrpcErrorKind::BadLength { field: "id", .. })),
        (b"d1:rd2:id20:abcdefghij01234567895:nodes3:abce1:t2:aa1:y1:re", |k| matches!(k, KrpcErrorKind::BadLength { field: "nodes", .. })),
        (b"d1:rd2:id20:abcdefghij01234567896:valuesl3:abcee1:t2:aa1:y1:re", |k| matches!(k, KrpcErrorKind::BadLength { field: "values", .. })),
        (b"d1:ad2:id20:abcdefghij01234567899:info_hash20:mnopqrstuvwxyz1234564:porti70000e5:token1:xe1:q13:announce_peer1:t2:aa1:y1:qe", |k| matches!(k, KrpcErrorKind::OutOfRange { field: "port", value: 70000 })),
        (b"d1:ad2:id20:abcdefghij01234567899:info_hash20:mnopqrstuvwxyz1234565:token1:xe1:q13:announce_peer1:t2:aa1:y1:qe", |k| matches!(k, KrpcErrorKind::MissingField { field: "port" })),
        (b"d1:e3:abc1:t2:aa1:y1:ee", |k| matches!(k, KrpcErrorKind::WrongType { field: "e", .. })),
        // Unsorted keys: strict bencode.
        (b"d1:t2:aa1:ad2:id20:abcdefghij0123456789e1:q4:ping1:y1:qe", |k| matches!(k, KrpcErrorKind::Bencode(_))),
    ];
    for (pkt, check) in cases {
        let e = Message::decode(pkt).expect_err(&String::from_utf8_lossy(pkt));
        assert!(check(&e.kind), "{}: {e:?}", String::from_utf8_lossy(pkt));
    }
    let e = Message::decode(b"d1:q4:ping1:t2:aa1:y1:qe").unwrap_err();
    assert_eq!(e.transaction_id.as_deref(), Some(&b"aa"[..]));
    assert!(e.is_query);
    let e = Message::decode(b"d1:rd2:id1:xe1:t2:bb1:y1:re").unwrap_err();
    assert_eq!(e.transaction_id.as_deref(), Some(&b"bb"[..]));
    assert!(!e.is_query);
}

#[test]
fn limits_on_size_nodes_and_values() {
    let big = vec![b'x'; MAX_PACKET_SIZE + 1];
    assert!(matches!(
        Message::decode(&big).unwrap_err().kind,
        KrpcErrorKind::TooLarge { .. }
    ));

    let n = MAX_NODES + 1;
    let mut pkt = format!("d1:rd2:id20:abcdefghij01234567895:nodes{}:", n * 26).into_bytes();
    pkt.extend(std::iter::repeat_n(b'n', n * 26));
    pkt.extend_from_slice(b"e1:t2:aa1:y1:re");
    assert!(pkt.len() <= MAX_PACKET_SIZE);
    assert!(matches!(
        Message::decode(&pkt).unwrap_err().kind,
        KrpcErrorKind::TooMany { field: "nodes", .. }
    ));

    let mut pkt = b"d1:rd2:id20:abcdefghij01234567896:valuesl".to_vec();
    for _ in 0..MAX_VALUES + 1 {
        pkt.extend_from_slice(b"0:");
    }
    pkt.extend_from_slice(b"ee1:t2:aa1:y1:re");
    assert!(pkt.len() <= MAX_PACKET_SIZE);
    assert!(matches!(
        Message::decode(&pkt).unwrap_err().kind,
        KrpcErrorKind::TooMany {
            field: "values",
            ..
        }
    ));
}

#[test]
fn unknown_method_and_extra_keys() {
    let m =
        Message::decode(b"d1:ad2:id20:abcdefghij0123456789e1:q9:vote_item1:t1:z1:y1:qe").unwrap();
    assert_eq!(
        m.body,
        Body::Query(Query::Unknown {
            method: b"vote_item".to_vec()
        })
    );
    // BEP 33 `noseed`/`scrape` and other unknown arguments are ignored.
    let m = Message::decode(
        b"d1:ad2:id20:abcdefghij01234567899:info_hash20:mnopqrstuvwxyz1234566:noseedi1e6:scrapei1ee1:q9:get_peers1:t2:aa1:y1:qe",
    )
    .unwrap();
    assert!(matches!(m.body, Body::Query(Query::GetPeers { .. })));
}

fn arb_id() -> impl Strategy<Value = NodeId> {
    any::<[u8; 20]>().prop_map(NodeId)
}

fn arb_v4() -> impl Strategy<Value = SocketAddr> {
    (any::<[u8; 4]>(), any::<u16>())
        .prop_map(|(ip, p)| SocketAddr::new(IpAddr::V4(Ipv4Addr::from(ip)), p))
}

fn arb_v6() -> impl Strategy<Value = SocketAddr> {
    (any::<[u8; 16]>(), any::<u16>())
        .prop_map(|(ip, p)| SocketAddr::new(IpAddr::V6(Ipv6Addr::from(ip)), p))
}

fn arb_want() -> impl Strategy<Value = Want> {
    (any::<bool>(), any::<bool>()).prop_map(|(n4, n6)| Want { n4, n6 })
}

fn arb_body() -> impl Strategy<Value = Body> {
    prop_oneof![
        arb_id().prop_map(|id| Body::Query(Query::Ping { id })),
        (arb_id(), arb_id(), arb_want())
            .prop_map(|(id, target, want)| Body::Query(Query::FindNode { id, target, want })),
        (arb_id(), arb_id(), arb_want()).prop_map(|(id, info_hash, want)| Body::Query(
            Query::GetPeers {
                id,
                info_hash,
                want
            }
        )),
        (
            arb_id(),
            arb_id(),
            any::<u16>(),
            any::<bool>(),
            proptest::collection::vec(any::<u8>(), 0..=MAX_TOKEN_LEN)
        )
            .prop_map(|(id, info_hash, port, implied_port, token)| Body::Query(
                Query::AnnouncePeer {
                    id,
                    info_hash,
                    port,
                    implied_port,
                    token
                }
            )),
        (
            arb_id(),
            proptest::collection::vec(
                (arb_id(), arb_v4()).prop_map(|(id, addr)| NodeInfo { id, addr }),
                0..=8
            ),
            proptest::collection::vec(
                (arb_id(), arb_v6()).prop_map(|(id, addr)| NodeInfo { id, addr }),
                0..=8
            ),
            proptest::collection::vec(prop_oneof![arb_v4(), arb_v6()], 0..=20),
            proptest::option::of(proptest::collection::vec(any::<u8>(), 0..=MAX_TOKEN_LEN)),
        )
            .prop_map(
                |(id, nodes, nodes6, values, token)| Body::Response(Response {
                    id,
                    nodes,
                    nodes6,
                    values,
                    token
                })
            ),
        (201i64..=204, proptest::collection::vec(any::<u8>(), 0..40)).prop_map(|(c, message)| {
            Body::Error(ErrorMessage {
                code: ErrorCode(c),
                message,
            })
        }),
    ]
}

proptest! {
    #[test]
    fn decode_encode_roundtrip(
        tid in proptest::collection::vec(any::<u8>(), 0..=MAX_TRANSACTION_ID_LEN),
        version in proptest::option::of(proptest::collection::vec(any::<u8>(), 0..=MAX_VERSION_LEN)),
        read_only in any::<bool>(),
        ip in proptest::option::of(prop_oneof![arb_v4(), arb_v6()]),
        body in arb_body(),
    ) {
        let m = Message { transaction_id: tid, version, read_only, ip, body };
        let mut out = Vec::new();
        m.encode(&mut out);
        prop_assert!(out.len() <= MAX_PACKET_SIZE);
        prop_assert_eq!(Message::decode(&out).unwrap(), m);
    }

    #[test]
    fn garbage_never_panics(data in proptest::collection::vec(any::<u8>(), 0..300)) {
        let _ = Message::decode(&data);
    }
}
