//! The KRPC message types (BEP 5, BEP 32 additions) and their encoder.

use std::net::SocketAddr;

use ferrent_bencode::{Dict, Value, encode_into};

use super::compact::{NodeId, NodeInfo, encode_compact_addr, encode_nodes};

/// One KRPC message: the envelope shared by queries, responses and errors, and the body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// `t`: opaque transaction id chosen by the querying node and echoed in the reply. Any length
    /// up to [`super::MAX_TRANSACTION_ID_LEN`] (libtorrent: 2 bytes).
    pub transaction_id: Vec<u8>,
    /// `v`: the sender's client version (2 letters + 2 version bytes by convention), if given;
    /// truncated to [`super::MAX_VERSION_LEN`].
    pub version: Option<Vec<u8>>,
    /// `ro`: the sender is read-only (BEP 43) and should not be added to routing tables.
    pub read_only: bool,
    /// `ip`: in replies, the address the replier saw the querier at (BEP 42). A malformed `ip`
    /// is ignored on decode (it is advice, not protocol).
    pub ip: Option<SocketAddr>,
    /// Query, response or error.
    pub body: Body,
}

/// What a message is (`y`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Body {
    /// `y` = `q`.
    Query(Query),
    /// `y` = `r`. A response does not say which query it answers: the transaction id does.
    Response(Response),
    /// `y` = `e`.
    Error(ErrorMessage),
}

/// BEP 32 `want`: which address families the querier wants nodes for. Both false = not given
/// (the replier then answers in the family the query came over).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Want {
    /// `n4`: IPv4 nodes (`nodes`).
    pub n4: bool,
    /// `n6`: IPv6 nodes (`nodes6`).
    pub n6: bool,
}

/// The queries of BEP 5 (`q` with arguments `a`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Query {
    /// `ping`: are you there?
    Ping {
        /// The querier's id.
        id: NodeId,
    },
    /// `find_node`: the nodes you know closest to `target`.
    FindNode {
        /// The querier's id.
        id: NodeId,
        /// The id looked for.
        target: NodeId,
        /// BEP 32 families wanted.
        want: Want,
    },
    /// `get_peers`: peers for `info_hash`, or nodes closer to it, and a write token.
    GetPeers {
        /// The querier's id.
        id: NodeId,
        /// The torrent.
        info_hash: NodeId,
        /// BEP 32 families wanted.
        want: Want,
    },
    /// `announce_peer`: the querier downloads `info_hash` on `port` (or, with `implied_port`, on
    /// the UDP source port of this packet); `token` comes from an earlier get_peers reply.
    AnnouncePeer {
        /// The querier's id.
        id: NodeId,
        /// The torrent.
        info_hash: NodeId,
        /// The announced TCP port (0 when absent and `implied_port` is set).
        port: u16,
        /// `implied_port` = 1: use the packet's source port instead of `port`.
        implied_port: bool,
        /// The write token.
        token: Vec<u8>,
    },
    /// A method this codec does not know (answered with error 204 by a node).
    Unknown {
        /// The method name (truncated to 32 bytes).
        method: Vec<u8>,
    },
}

impl Query {
    /// The querier's id (`None` for an unknown method).
    pub fn sender_id(&self) -> Option<NodeId> {
        match self {
            Query::Ping { id }
            | Query::FindNode { id, .. }
            | Query::GetPeers { id, .. }
            | Query::AnnouncePeer { id, .. } => Some(*id),
            Query::Unknown { .. } => None,
        }
    }

    /// The method name as sent in `q`.
    pub fn method(&self) -> &[u8] {
        match self {
            Query::Ping { .. } => b"ping",
            Query::FindNode { .. } => b"find_node",
            Query::GetPeers { .. } => b"get_peers",
            Query::AnnouncePeer { .. } => b"announce_peer",
            Query::Unknown { method } => method,
        }
    }
}

/// A response (`r`): the union of what the four queries return.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Response {
    /// The replier's id.
    pub id: NodeId,
    /// `nodes`: IPv4 nodes (IPv6 entries here are skipped by the encoder).
    pub nodes: Vec<NodeInfo>,
    /// `nodes6` (BEP 32): IPv6 nodes (IPv4 entries here are skipped by the encoder).
    pub nodes6: Vec<NodeInfo>,
    /// `values`: compact peers (get_peers).
    pub values: Vec<SocketAddr>,
    /// `token`: write token for a later announce_peer (get_peers).
    pub token: Option<Vec<u8>>,
}

/// An error code of BEP 5.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ErrorCode(pub i64);

impl ErrorCode {
    /// 201 Generic Error.
    pub const GENERIC: ErrorCode = ErrorCode(201);
    /// 202 Server Error.
    pub const SERVER: ErrorCode = ErrorCode(202);
    /// 203 Protocol Error: malformed packet, invalid arguments, or bad token.
    pub const PROTOCOL: ErrorCode = ErrorCode(203);
    /// 204 Method Unknown.
    pub const METHOD_UNKNOWN: ErrorCode = ErrorCode(204);
}

/// An error reply (`e`: a list of code and message).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrorMessage {
    /// The code.
    pub code: ErrorCode,
    /// The text (truncated to [`super::MAX_ERROR_TEXT_LEN`] bytes on decode).
    pub message: Vec<u8>,
}

impl Message {
    /// A query with no version, not read-only.
    pub fn query(transaction_id: Vec<u8>, query: Query) -> Message {
        Message {
            transaction_id,
            version: None,
            read_only: false,
            ip: None,
            body: Body::Query(query),
        }
    }

    /// A response to the query with `transaction_id`.
    pub fn response(transaction_id: Vec<u8>, response: Response) -> Message {
        Message {
            transaction_id,
            version: None,
            read_only: false,
            ip: None,
            body: Body::Response(response),
        }
    }

    /// An error reply to the query with `transaction_id`.
    pub fn error(transaction_id: Vec<u8>, code: ErrorCode, message: &str) -> Message {
        Message {
            transaction_id,
            version: None,
            read_only: false,
            ip: None,
            body: Body::Error(ErrorMessage {
                code,
                message: message.as_bytes().to_vec(),
            }),
        }
    }

    /// Appends the canonical bencoding of the message to `out` (the caller owns and reuses the
    /// buffer).
    pub fn encode(&self, out: &mut Vec<u8>) {
        let mut nodes = Vec::new();
        let mut nodes6 = Vec::new();
        let mut values: Vec<Vec<u8>> = Vec::new();
        let mut ip = Vec::new();
        let mut top = Dict::new();
        top.insert(b"t", Value::Bytes(&self.transaction_id));
        if let Some(v) = &self.version {
            top.insert(b"v", Value::Bytes(v));
        }
        if self.read_only {
            top.insert(b"ro", Value::Int(1));
        }
        if let Some(addr) = &self.ip {
            encode_compact_addr(addr, &mut ip);
            top.insert(b"ip", Value::Bytes(&ip));
        }
        match &self.body {
            Body::Query(q) => {
                top.insert(b"y", Value::Bytes(b"q"));
                top.insert(b"q", Value::Bytes(q.method()));
                let mut a = Dict::new();
                match q {
                    Query::Ping { id } => a.insert(b"id", Value::Bytes(&id.0)),
                    Query::FindNode { id, target, want } => {
                        a.insert(b"id", Value::Bytes(&id.0));
                        a.insert(b"target", Value::Bytes(&target.0));
                        insert_want(&mut a, *want);
                    }
                    Query::GetPeers {
                        id,
                        info_hash,
                        want,
                    } => {
                        a.insert(b"id", Value::Bytes(&id.0));
                        a.insert(b"info_hash", Value::Bytes(&info_hash.0));
                        insert_want(&mut a, *want);
                    }
                    Query::AnnouncePeer {
                        id,
                        info_hash,
                        port,
                        implied_port,
                        token,
                    } => {
                        a.insert(b"id", Value::Bytes(&id.0));
                        a.insert(b"info_hash", Value::Bytes(&info_hash.0));
                        a.insert(b"port", Value::Int(i64::from(*port)));
                        if *implied_port {
                            a.insert(b"implied_port", Value::Int(1));
                        }
                        a.insert(b"token", Value::Bytes(token));
                    }
                    Query::Unknown { .. } => {}
                }
                top.insert(b"a", Value::Dict(a));
            }
            Body::Response(r) => {
                top.insert(b"y", Value::Bytes(b"r"));
                let v4: Vec<NodeInfo> = r
                    .nodes
                    .iter()
                    .filter(|n| n.addr.is_ipv4())
                    .copied()
                    .collect();
                let v6: Vec<NodeInfo> = r
                    .nodes6
                    .iter()
                    .filter(|n| n.addr.is_ipv6())
                    .copied()
                    .collect();
                encode_nodes(&v4, &mut nodes);
                encode_nodes(&v6, &mut nodes6);
                for p in &r.values {
                    let mut b = Vec::with_capacity(18);
                    encode_compact_addr(p, &mut b);
                    values.push(b);
                }
                let mut d = Dict::new();
                d.insert(b"id", Value::Bytes(&r.id.0));
                if !nodes.is_empty() {
                    d.insert(b"nodes", Value::Bytes(&nodes));
                }
                if !nodes6.is_empty() {
                    d.insert(b"nodes6", Value::Bytes(&nodes6));
                }
                if !values.is_empty() {
                    d.insert(
                        b"values",
                        Value::List(values.iter().map(|b| Value::Bytes(b)).collect()),
                    );
                }
                if let Some(t) = &r.token {
                    d.insert(b"token", Value::Bytes(t));
                }
                top.insert(b"r", Value::Dict(d));
            }
            Body::Error(e) => {
                top.insert(b"y", Value::Bytes(b"e"));
                top.insert(
                    b"e",
                    Value::List(vec![Value::Int(e.code.0), Value::Bytes(&e.message)]),
                );
            }
        }
        encode_into(&Value::Dict(top), out);
    }
}

fn insert_want(a: &mut Dict<'_>, want: Want) {
    let mut l = Vec::new();
    if want.n4 {
        l.push(Value::Bytes(b"n4"));
    }
    if want.n6 {
        l.push(Value::Bytes(b"n6"));
    }
    if !l.is_empty() {
        a.insert(b"want", Value::List(l));
    }
}
