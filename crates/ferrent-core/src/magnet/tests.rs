use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV6};

use proptest::prelude::*;

use super::*;
use crate::HashParseError;

const HEX: &str = "c12fe1c06bba254a9dc9f519b335aa7c1367a88a";
const V2_HEX: &str = "caf1e1c30e81cb361b9ee167c4aa64228a7fa4fa9f6105232b28ad099f3a302e";

fn v1() -> Id20 {
    Id20::from_hex(HEX).unwrap()
}

fn v2() -> Id32 {
    Id32::from_hex(V2_HEX).unwrap()
}

fn parse(s: &str) -> Magnet {
    Magnet::parse(s).unwrap_or_else(|e| panic!("{s:?} should parse: {e}"))
}

fn err(s: &str) -> MagnetError {
    Magnet::parse(s).expect_err(s)
}

#[test]
fn hex_btih_upper_and_lower() {
    let m = parse(&format!("magnet:?xt=urn:btih:{HEX}"));
    assert_eq!(m, Magnet::new(InfoHash::v1(v1())));
    let m = parse(&format!("magnet:?xt=urn:btih:{}", HEX.to_uppercase()));
    assert_eq!(m.info_hash, InfoHash::v1(v1()));
    assert_eq!(m.to_string(), format!("magnet:?xt=urn:btih:{HEX}"));
}

#[test]
fn base32_btih_upper_and_lower() {
    let b32 = v1().to_base32();
    for s in [b32.clone(), b32.to_lowercase()] {
        let m = parse(&format!("magnet:?xt=urn:btih:{s}&dn=x"));
        assert_eq!(m.info_hash, InfoHash::v1(v1()));
        // Always written back as hex.
        assert!(
            m.to_string()
                .starts_with(&format!("magnet:?xt=urn:btih:{HEX}&"))
        );
    }
}

#[test]
fn v2_and_hybrid() {
    let m = parse(&format!("magnet:?xt=urn:btmh:1220{V2_HEX}&dn=v2only"));
    assert_eq!(m.info_hash, InfoHash::v2(v2()));
    assert_eq!(
        m.to_string(),
        format!("magnet:?xt=urn:btmh:1220{V2_HEX}&dn=v2only")
    );

    // The form libtorrent writes for hybrids; either order parses.
    let a = parse(&format!(
        "magnet:?xt=urn:btih:{HEX}&xt=urn:btmh:1220{V2_HEX}&dn=h"
    ));
    let b = parse(&format!(
        "magnet:?xt=urn:btmh:1220{}&dn=h&xt=urn:btih:{HEX}",
        V2_HEX.to_uppercase()
    ));
    assert_eq!(a.info_hash, InfoHash::hybrid(v1(), v2()));
    assert_eq!(a, b);
    assert_eq!(
        a.to_string(),
        format!("magnet:?xt=urn:btih:{HEX}&xt=urn:btmh:1220{V2_HEX}&dn=h")
    );
}

#[test]
fn real_world_link_with_many_trackers() {
    // Shape of a typical link from a torrent site (Sintel, from webtorrent's sample set).
    let link = "magnet:?xt=urn:btih:08ada5a7a6183aae1e09d831df6748d566095a10&dn=Sintel\
        &tr=udp%3A%2F%2Fexplodie.org%3A6969&tr=udp%3A%2F%2Ftracker.coppersurfer.tk%3A6969\
        &tr=udp%3A%2F%2Ftracker.empire-js.us%3A1337&tr=udp%3A%2F%2Ftracker.leechers-paradise.org%3A6969\
        &tr=udp%3A%2F%2Ftracker.opentrackr.org%3A1337&tr=wss%3A%2F%2Ftracker.btorrent.xyz\
        &tr=wss%3A%2F%2Ftracker.fastcast.nz&tr=wss%3A%2F%2Ftracker.openwebtorrent.com\
        &ws=https%3A%2F%2Fwebtorrent.io%2Ftorrents%2F&xs=https%3A%2F%2Fwebtorrent.io%2Ftorrents%2Fsintel.torrent";
    let m = parse(link);
    assert_eq!(
        m.info_hash.v1_hash().unwrap().to_hex(),
        "08ada5a7a6183aae1e09d831df6748d566095a10"
    );
    assert_eq!(m.name.as_deref(), Some("Sintel"));
    assert_eq!(m.trackers.len(), 8);
    assert_eq!(m.trackers[0], "udp://explodie.org:6969");
    assert_eq!(m.trackers[7], "wss://tracker.openwebtorrent.com");
    assert_eq!(m.web_seeds, ["https://webtorrent.io/torrents/"]);
    // `xs` is ignored, the rest comes back in canonical form.
    let out = m.to_string();
    assert!(!out.contains("xs="));
    assert!(out.contains("&tr=udp%3A%2F%2Fexplodie.org%3A6969&tr="));
    assert_eq!(parse(&out), m);
}

#[test]
fn indexed_parameter_names_keep_link_order() {
    let m = parse(&format!(
        "magnet:?xt.1=urn:btih:{HEX}&tr.2=http://b/announce&tr.1=http://a/announce&tr=http://c/\
         &ws.1=http://w/&x.pe.1=1.2.3.4:5"
    ));
    assert_eq!(
        m.trackers,
        ["http://b/announce", "http://a/announce", "http://c/"]
    );
    assert_eq!(m.web_seeds, ["http://w/"]);
    assert_eq!(m.peers.len(), 1);
    // A non-numeric suffix is a different, unknown parameter.
    let m = parse(&format!("magnet:?xt=urn:btih:{HEX}&tr.x=http://a/"));
    assert!(m.trackers.is_empty());
}

#[test]
fn display_name_decoding() {
    let m = parse(&format!(
        "magnet:?xt=urn:btih:{HEX}&dn=Big+Buck%20Bunny%20%E2%9C%93%20%2B1"
    ));
    assert_eq!(m.name.as_deref(), Some("Big Buck Bunny ✓ +1"));
    assert!(
        m.to_string()
            .ends_with("&dn=Big%20Buck%20Bunny%20%E2%9C%93%20%2B1")
    );
    // Raw (unencoded) UTF-8 in the link is accepted too.
    assert_eq!(
        parse(&format!("magnet:?xt=urn:btih:{HEX}&dn=été"))
            .name
            .as_deref(),
        Some("été")
    );
    // Invalid UTF-8 is replaced, not an error; a malformed escape stays literal.
    let m = parse(&format!("magnet:?xt=urn:btih:{HEX}&dn=a%FFb%zz%4"));
    assert_eq!(m.name.as_deref(), Some("a\u{FFFD}b%zz%4"));
    // First dn wins; an empty dn is no name.
    assert_eq!(
        parse(&format!("magnet:?xt=urn:btih:{HEX}&dn=one&dn=two"))
            .name
            .as_deref(),
        Some("one")
    );
    assert_eq!(parse(&format!("magnet:?xt=urn:btih:{HEX}&dn=")).name, None);
}

#[test]
fn plus_in_tracker_is_a_space_and_encoded_plus_is_a_plus() {
    let m = parse(&format!(
        "magnet:?xt=urn:btih:{HEX}&tr=http://t/a?k=1+2&tr=http://t/a?k=1%2B2"
    ));
    assert_eq!(m.trackers, ["http://t/a?k=1 2", "http://t/a?k=1+2"]);
    let out = m.to_string();
    assert!(out.contains("&tr=http%3A%2F%2Ft%2Fa%3Fk%3D1%202&tr=http%3A%2F%2Ft%2Fa%3Fk%3D1%2B2"));
    assert_eq!(parse(&out), m);
}

#[test]
fn peers_ipv4_ipv6_and_hostnames() {
    let m = parse(&format!(
        "magnet:?xt=urn:btih:{HEX}&x.pe=10.0.0.1:6881&x.pe=[2001:db8::1]:51413\
         &x.pe=%5B%3A%3A1%5D%3A1&x.pe=seed.example.org:443&x.pe=[fe80::1%252]:7"
    ));
    assert_eq!(
        m.peers,
        [
            MagnetPeer::Addr(SocketAddr::from((Ipv4Addr::new(10, 0, 0, 1), 6881))),
            MagnetPeer::Addr("[2001:db8::1]:51413".parse().unwrap()),
            MagnetPeer::Addr(SocketAddr::from((Ipv6Addr::LOCALHOST, 1))),
            MagnetPeer::Host {
                host: "seed.example.org".into(),
                port: 443
            },
            MagnetPeer::Addr(SocketAddr::V6(SocketAddrV6::new(
                "fe80::1".parse().unwrap(),
                7,
                0,
                2
            ))),
        ]
    );
    assert_eq!(m.peers[3].port(), 443);
    // Written without escaping brackets and colons, so libtorrent (which does not decode x.pe)
    // reads them.
    let out = m.to_string();
    assert!(out.contains(
        "&x.pe=10.0.0.1:6881&x.pe=[2001:db8::1]:51413&x.pe=[::1]:1&x.pe=seed.example.org:443"
    ));
    assert!(out.contains("&x.pe=[fe80::1%252]:7"));
    assert_eq!(parse(&out), m);
}

#[test]
fn bad_peers() {
    for (pe, needle) in [
        ("1.2.3.4", "missing :port"),
        ("1.2.3.4:0", "port 0"),
        ("1.2.3.4:65536", "1 to 65535"),
        ("1.2.3.4:-1", "1 to 65535"),
        ("host:", "1 to 65535"),
        (":80", "missing host"),
        ("::1:80", "brackets"),
        ("[::1]", "[IPv6 address]:port"),
        ("[::1]:0", "port 0"),
        ("[zz]:80", "[IPv6 address]:port"),
        ("1.2.3.999:80", "IPv4"),
        ("bad host:80", "letters, digits"),
        ("a/b:80", "letters, digits"),
    ] {
        let e = err(&format!("magnet:?xt=urn:btih:{HEX}&x.pe={pe}"));
        match &e {
            MagnetError::BadPeer { value, reason } => {
                assert_eq!(value, pe);
                assert!(reason.contains(needle), "{pe}: {reason}");
            }
            other => panic!("{pe}: unexpected {other:?}"),
        }
        assert!(e.to_string().contains("x.pe="), "{e}");
    }
    let long = format!("{}.com:80", "a".repeat(260));
    assert!(matches!(
        err(&format!("magnet:?xt=urn:btih:{HEX}&x.pe={long}")),
        MagnetError::BadPeer { .. }
    ));
    // Empty x.pe is skipped.
    assert!(
        parse(&format!("magnet:?xt=urn:btih:{HEX}&x.pe="))
            .peers
            .is_empty()
    );
}

#[test]
fn select_only() {
    let m = parse(&format!("magnet:?xt=urn:btih:{HEX}&so=0,2,4-6&so=9-9"));
    assert_eq!(m.select_only, [0..=0, 2..=2, 4..=6, 9..=9]);
    assert!(m.selects_file(5) && m.selects_file(0) && m.selects_file(9));
    assert!(!m.selects_file(1) && !m.selects_file(7) && !m.selects_file(10));
    assert!(m.to_string().ends_with("&so=0,2,4-6,9"));
    assert!(Magnet::new(InfoHash::v1(v1())).selects_file(1234));
    // An empty so selects everything.
    assert!(
        parse(&format!("magnet:?xt=urn:btih:{HEX}&so="))
            .select_only
            .is_empty()
    );
    // Encoded commas are fine.
    assert_eq!(
        parse(&format!("magnet:?xt=urn:btih:{HEX}&so=1%2C3")).select_only,
        [1..=1, 3..=3]
    );
}

#[test]
fn bad_select_only() {
    for so in [
        "1,,2",
        "1,",
        "a",
        "-1",
        "1-",
        "5-3",
        "1-2-3",
        "4294967296",
        "+1",
        " 1",
    ] {
        let e = err(&format!("magnet:?xt=urn:btih:{HEX}&so={so}"));
        assert!(
            matches!(e, MagnetError::BadSelectOnly { .. }),
            "{so}: {e:?}"
        );
        assert!(e.to_string().contains("so="), "{e}");
    }
    let many = (0..=MAX_MAGNET_SELECT_ITEMS)
        .map(|i| i.to_string())
        .collect::<Vec<_>>()
        .join(",");
    assert_eq!(
        err(&format!("magnet:?xt=urn:btih:{HEX}&so={many}")),
        MagnetError::TooMany {
            param: "so item",
            max: MAX_MAGNET_SELECT_ITEMS
        }
    );
    // Full u32 range is accepted and stored as one range, not expanded.
    let m = parse(&format!("magnet:?xt=urn:btih:{HEX}&so=0-4294967295"));
    assert_eq!(m.select_only, [0..=u32::MAX]);
}

#[test]
fn exact_length() {
    let m = parse(&format!(
        "magnet:?xt=urn:btih:{HEX}&xl=1234567890123&xl=1234567890123"
    ));
    assert_eq!(m.exact_length, Some(1_234_567_890_123));
    assert_eq!(
        m.to_string(),
        format!("magnet:?xt=urn:btih:{HEX}&xl=1234567890123")
    );
    for xl in ["", "-1", "1e3", "18446744073709551616"] {
        let e = err(&format!("magnet:?xt=urn:btih:{HEX}&xl={xl}"));
        assert!(
            matches!(e, MagnetError::BadExactLength { .. }),
            "{xl}: {e:?}"
        );
    }
    assert!(matches!(
        err(&format!("magnet:?xt=urn:btih:{HEX}&xl=1&xl=2")),
        MagnetError::Conflicting { param: "xl", .. }
    ));
}

#[test]
fn scheme_and_whitespace() {
    let m = parse(&format!("  MAGNET:?xt=URN:BTIH:{HEX}\n"));
    assert_eq!(m.info_hash, InfoHash::v1(v1()));
    // Percent-encoded xt (urn%3Abtih%3A) as some sites write it.
    assert_eq!(
        parse(&format!("magnet:?xt=urn%3Abtih%3A{HEX}")).info_hash,
        InfoHash::v1(v1())
    );
    // Empty pairs and unknown parameters are ignored.
    let m = parse(&format!(
        "magnet:?&&xt=urn:btih:{HEX}&&kt=a+b&dht=1.2.3.4:5&as=x&foo&=bar"
    ));
    assert_eq!(m, Magnet::new(InfoHash::v1(v1())));
}

#[test]
fn not_a_magnet() {
    for s in [
        "",
        "magnet:",
        "magnet:xt=urn:btih:abc",
        "http://x/?xt=urn:btih:abc",
        "magnét:?",
    ] {
        assert!(matches!(err(s), MagnetError::NotMagnet { .. }), "{s}");
    }
    assert!(
        err("http://example.com/a.torrent")
            .to_string()
            .contains("magnet:?")
    );
}

#[test]
fn missing_and_unsupported_xt() {
    assert_eq!(err("magnet:?"), MagnetError::MissingXt);
    assert_eq!(err("magnet:?dn=x&tr=http://t/"), MagnetError::MissingXt);
    let e = err("magnet:?xt=urn:sha1:YNCKHTQCWBTRNJIV4WNAE52SJUQCZO5C");
    assert_eq!(
        e,
        MagnetError::UnsupportedUrn {
            value: "urn:sha1:YNCKHTQCWBTRNJIV4WNAE52SJUQCZO5C".into()
        }
    );
    assert!(e.to_string().contains("urn:sha1:"));
    // Another network's xt beside ours is ignored.
    let m = parse(&format!(
        "magnet:?xt=urn:ed2k:354B15E68FB8F36D7CD88FF94116CDC1&xt=urn:btih:{HEX}"
    ));
    assert_eq!(m.info_hash, InfoHash::v1(v1()));
}

#[test]
fn bad_btih() {
    let e = err("magnet:?xt=urn:btih:abc");
    assert!(
        matches!(
            e,
            MagnetError::BadBtih {
                source: HashParseError::BadLength { len: 3, .. },
                ..
            }
        ),
        "{e:?}"
    );
    assert!(e.to_string().contains("urn:btih:abc"), "{e}");
    let e = err(&format!("magnet:?xt=urn:btih:{}", "g".repeat(40)));
    assert!(matches!(
        e,
        MagnetError::BadBtih {
            source: HashParseError::BadDigit {
                encoding: "hex",
                ..
            },
            ..
        }
    ));
    let e = err(&format!("magnet:?xt=urn:btih:{}", "1".repeat(32)));
    assert!(matches!(
        e,
        MagnetError::BadBtih {
            source: HashParseError::BadDigit {
                encoding: "base32",
                ..
            },
            ..
        }
    ));
    // Multi-byte characters of hex length do not panic.
    let e = err(&format!("magnet:?xt=urn:btih:{}", "é".repeat(20)));
    assert!(matches!(e, MagnetError::BadBtih { .. }));
}

#[test]
fn bad_btmh() {
    let e = err(&format!("magnet:?xt=urn:btmh:1114{V2_HEX}"));
    assert!(
        matches!(e, MagnetError::UnsupportedMultihash { .. }),
        "{e:?}"
    );
    assert!(e.to_string().contains("SHA-256"));
    for (h, needle) in [
        ("1".to_string(), "too short"),
        ("12".to_string(), "too short"),
        (format!("1240{V2_HEX}"), "digest length"),
        (format!("1220{}", &V2_HEX[2..]), "64"),
        (format!("1220{}", "x".repeat(64)), "hex"),
        (format!("12é{}", "0".repeat(64)), "digest length"),
    ] {
        match err(&format!("magnet:?xt=urn:btmh:{h}")) {
            MagnetError::BadBtmh { reason, .. } => {
                assert!(reason.contains(needle), "{h}: {reason}")
            }
            other => panic!("{h}: {other:?}"),
        }
    }
    assert!(matches!(
        err("magnet:?xt=urn:btmh:é"),
        MagnetError::BadBtmh { .. } | MagnetError::UnsupportedMultihash { .. }
    ));
}

#[test]
fn conflicting_hashes() {
    let other = "0".repeat(40);
    let e = err(&format!("magnet:?xt=urn:btih:{HEX}&xt=urn:btih:{other}"));
    assert_eq!(
        e,
        MagnetError::Conflicting {
            param: "xt=urn:btih",
            first: HEX.into(),
            second: other
        }
    );
    // The same hash in hex and base32 is not a conflict.
    let m = parse(&format!(
        "magnet:?xt=urn:btih:{HEX}&xt=urn:btih:{}",
        v1().to_base32()
    ));
    assert_eq!(m.info_hash, InfoHash::v1(v1()));
    let e = err(&format!(
        "magnet:?xt=urn:btmh:1220{V2_HEX}&xt=urn:btmh:1220{}",
        "0".repeat(64)
    ));
    assert!(matches!(
        e,
        MagnetError::Conflicting {
            param: "xt=urn:btmh",
            ..
        }
    ));
}

#[test]
fn bad_utf8_in_urls() {
    let e = err(&format!("magnet:?xt=urn:btih:{HEX}&tr=http://a/%FF"));
    assert_eq!(
        e,
        MagnetError::BadUtf8 {
            param: "tr",
            value: "http://a/%FF".into()
        }
    );
    assert!(matches!(
        err(&format!("magnet:?xt=urn:btih:{HEX}&ws=%C3")),
        MagnetError::BadUtf8 { param: "ws", .. }
    ));
    assert!(matches!(
        err("magnet:?xt=urn:btih:%FF"),
        MagnetError::BadUtf8 { param: "xt", .. }
    ));
}

#[test]
fn limits() {
    let long = format!(
        "magnet:?xt=urn:btih:{HEX}&dn={}",
        "a".repeat(MAX_MAGNET_LEN)
    );
    assert_eq!(
        err(&long),
        MagnetError::TooLong {
            len: long.len(),
            max: MAX_MAGNET_LEN
        }
    );

    let base = format!("magnet:?xt=urn:btih:{HEX}");
    let many = |param: &str, n: usize, value: &dyn Fn(usize) -> String| {
        let mut s = base.clone();
        for i in 0..n {
            s.push_str(&format!("&{param}={}", value(i)));
        }
        s
    };
    let tr = |i: usize| format!("http://t{i}/");
    assert_eq!(
        parse(&many("tr", MAX_MAGNET_TRACKERS, &tr)).trackers.len(),
        MAX_MAGNET_TRACKERS
    );
    assert_eq!(
        err(&many("tr", MAX_MAGNET_TRACKERS + 1, &tr)),
        MagnetError::TooMany {
            param: "tr",
            max: MAX_MAGNET_TRACKERS
        }
    );
    assert_eq!(
        err(&many("ws", MAX_MAGNET_WEB_SEEDS + 1, &tr)),
        MagnetError::TooMany {
            param: "ws",
            max: MAX_MAGNET_WEB_SEEDS
        }
    );
    let pe = |i: usize| format!("10.0.{}.{}:1", i / 256, i % 256);
    assert_eq!(
        err(&many("x.pe", MAX_MAGNET_PEERS + 1, &pe)),
        MagnetError::TooMany {
            param: "x.pe",
            max: MAX_MAGNET_PEERS
        }
    );
}

#[test]
fn builder_for_torrents() {
    let m = Magnet::new(InfoHash::hybrid(v1(), v2()))
        .with_name("my files & more")
        .with_trackers(["udp://t1:6969/announce", "http://t2/announce?a=1&b=2"])
        .with_web_seeds(vec![String::from("https://mirror/path/")]);
    let s = m.to_string();
    assert_eq!(
        s,
        format!(
            "magnet:?xt=urn:btih:{HEX}&xt=urn:btmh:1220{V2_HEX}&dn=my%20files%20%26%20more\
             &tr=udp%3A%2F%2Ft1%3A6969%2Fannounce&tr=http%3A%2F%2Ft2%2Fannounce%3Fa%3D1%26b%3D2\
             &ws=https%3A%2F%2Fmirror%2Fpath%2F"
        )
    );
    assert_eq!(parse(&s), m);
    // Empty entries are not written.
    let mut m = Magnet::new(InfoHash::v1(v1()))
        .with_name("")
        .with_trackers([""]);
    m.select_only.push(RangeInclusive::new(3, 1)); // empty: start > end
    assert_eq!(m.to_string(), format!("magnet:?xt=urn:btih:{HEX}"));
}

fn arb_info_hash() -> impl Strategy<Value = InfoHash> {
    let a20 = any::<[u8; 20]>().prop_map(Id20);
    let a32 = any::<[u8; 32]>().prop_map(Id32);
    prop_oneof![
        a20.clone().prop_map(InfoHash::v1),
        a32.clone().prop_map(InfoHash::v2),
        (a20, a32).prop_map(|(a, b)| InfoHash::hybrid(a, b)),
    ]
}

fn arb_peer() -> impl Strategy<Value = MagnetPeer> {
    prop_oneof![
        (any::<[u8; 4]>(), 1..=u16::MAX)
            .prop_map(|(ip, p)| MagnetPeer::Addr(SocketAddr::from((ip, p)))),
        (any::<[u8; 16]>(), 1..=u16::MAX, any::<u32>()).prop_map(|(ip, p, scope)| {
            MagnetPeer::Addr(SocketAddr::V6(SocketAddrV6::new(ip.into(), p, 0, scope)))
        }),
        ("[a-zA-Z_][a-zA-Z0-9._-]{0,40}", 1..=u16::MAX)
            .prop_map(|(host, port)| MagnetPeer::Host { host, port }),
    ]
}

fn arb_magnet() -> impl Strategy<Value = Magnet> {
    let non_empty = || any::<String>().prop_filter("non-empty", |s| !s.is_empty());
    (
        arb_info_hash(),
        proptest::option::of(non_empty()),
        proptest::option::of(any::<u64>()),
        proptest::collection::vec(non_empty(), 0..5),
        proptest::collection::vec(non_empty(), 0..3),
        proptest::collection::vec(arb_peer(), 0..4),
        proptest::collection::vec((any::<u32>(), any::<u32>()), 0..5),
    )
        .prop_map(|(ih, name, xl, trackers, web_seeds, peers, so)| {
            let mut m = Magnet::new(ih)
                .with_trackers(trackers)
                .with_web_seeds(web_seeds);
            m.name = name;
            m.exact_length = xl;
            m.peers = peers;
            m.select_only = so.into_iter().map(|(a, b)| a.min(b)..=a.max(b)).collect();
            m
        })
}

proptest! {
    #[test]
    fn format_then_parse_round_trips(m in arb_magnet()) {
        let s = m.to_string();
        prop_assert_eq!(Magnet::parse(&s), Ok(m));
    }

    #[test]
    fn arbitrary_strings_do_not_panic(s in any::<String>()) {
        let _ = Magnet::parse(&s);
        let _ = Magnet::parse(&format!("magnet:?{s}"));
    }

    #[test]
    fn random_parameters_after_a_valid_xt_reparse(
        pairs in proptest::collection::vec((
            "(xt|dn|tr|ws|x\\.pe|so|xl|tr\\.1|x\\.pe\\.2|kt)",
            "(urn:btih:|urn:btmh:1220|[0-9a-f]{1,8}|%[0-9A-Fa-f]{0,2}|\\+|[\\[\\]:,.-]|é| |\u{FFFD})*",
        ), 0..12)
    ) {
        let mut s = format!("magnet:?xt=urn:btih:{HEX}");
        for (k, v) in &pairs {
            s.push_str(&format!("&{k}={v}"));
        }
        if let Ok(m) = Magnet::parse(&s) {
            prop_assert_eq!(Magnet::parse(&m.to_string()), Ok(m));
        }
    }

    #[test]
    fn magnet_like_strings_do_not_panic_and_reparse(
        tail in "(&|=|xt|urn:btih:|urn:btmh:1220|dn|tr|ws|x\\.pe|so|xl|\\.1|[0-9a-fA-F]{1,40}|%[0-9A-F]{0,2}|\\+|[\\[\\]:,-]|é)*"
    ) {
        let s = format!("magnet:?{tail}");
        if let Ok(m) = Magnet::parse(&s) {
            prop_assert_eq!(Magnet::parse(&m.to_string()), Ok(m));
        }
    }
}
