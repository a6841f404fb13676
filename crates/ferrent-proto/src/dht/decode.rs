//! The KRPC decoder: one datagram to one [`Message`], every field checked against its limit.

use ferrent_bencode::{Dict, Value, decode};

use super::compact::{
    COMPACT_NODE_V4_LEN, COMPACT_NODE_V6_LEN, NodeId, NodeInfo, decode_compact_addr, decode_nodes,
};
use super::error::{KrpcError, KrpcErrorKind as K};
use super::message::{Body, ErrorCode, ErrorMessage, Message, Query, Response, Want};
use super::{
    MAX_ERROR_TEXT_LEN, MAX_NODES, MAX_PACKET_SIZE, MAX_TOKEN_LEN, MAX_TRANSACTION_ID_LEN,
    MAX_VALUES, MAX_VERSION_LEN,
};

/// Longest unknown method name kept.
const MAX_METHOD_LEN: usize = 32;

impl Message {
    /// Decodes one datagram. On failure the error carries the transaction id and whether the
    /// datagram was a query, when those could be read, so the caller can send error 203.
    pub fn decode(datagram: &[u8]) -> Result<Message, KrpcError> {
        let fail = |transaction_id: Option<Vec<u8>>, is_query: bool, kind: K| KrpcError {
            transaction_id,
            is_query,
            kind,
        };
        if datagram.len() > MAX_PACKET_SIZE {
            return Err(fail(
                None,
                false,
                K::TooLarge {
                    len: datagram.len(),
                    max: MAX_PACKET_SIZE,
                },
            ));
        }
        let value = decode(datagram).map_err(|e| fail(None, false, K::Bencode(e)))?;
        let top = value.as_dict().ok_or_else(|| {
            fail(
                None,
                false,
                K::WrongType {
                    field: "message",
                    expected: "dictionary",
                },
            )
        })?;
        let tid = bytes(top, "t")
            .and_then(|t| t.ok_or(K::MissingField { field: "t" }))
            .map_err(|k| fail(None, false, k))?;
        if tid.len() > MAX_TRANSACTION_ID_LEN {
            return Err(fail(
                None,
                false,
                K::BadLength {
                    field: "t",
                    len: tid.len(),
                    expected: "at most MAX_TRANSACTION_ID_LEN",
                },
            ));
        }
        let tid = tid.to_vec();
        let y = bytes(top, "y")
            .and_then(|y| y.ok_or(K::MissingField { field: "y" }))
            .map_err(|k| fail(Some(tid.clone()), false, k))?;
        let is_query = y == b"q";
        let body = match y {
            b"q" => query(top).map(Body::Query),
            b"r" => response(top).map(Body::Response),
            b"e" => error(top).map(Body::Error),
            other => Err(K::UnknownType {
                y: other.iter().take(8).copied().collect(),
            }),
        }
        .map_err(|k| fail(Some(tid.clone()), is_query, k))?;
        let version = match top.get(b"v") {
            Some(Value::Bytes(v)) => Some(v.iter().take(MAX_VERSION_LEN).copied().collect()),
            _ => None,
        };
        let read_only = top.get_int(b"ro").is_some_and(|r| r != 0);
        let ip = top.get_bytes(b"ip").and_then(decode_compact_addr);
        Ok(Message {
            transaction_id: tid,
            version,
            read_only,
            ip,
            body,
        })
    }
}

/// A byte-string field: `Ok(None)` if absent, an error if of another type.
fn bytes<'a>(d: &Dict<'a>, field: &'static str) -> Result<Option<&'a [u8]>, K> {
    match d.get(field.as_bytes()) {
        None => Ok(None),
        Some(Value::Bytes(b)) => Ok(Some(b)),
        Some(_) => Err(K::WrongType {
            field,
            expected: "byte string",
        }),
    }
}

fn required_bytes<'a>(d: &Dict<'a>, field: &'static str) -> Result<&'a [u8], K> {
    bytes(d, field)?.ok_or(K::MissingField { field })
}

fn id(d: &Dict<'_>, field: &'static str) -> Result<NodeId, K> {
    let b = required_bytes(d, field)?;
    NodeId::from_slice(b).ok_or(K::BadLength {
        field,
        len: b.len(),
        expected: "20 bytes",
    })
}

fn dict<'v, 'a>(d: &'v Dict<'a>, field: &'static str) -> Result<&'v Dict<'a>, K> {
    match d.get(field.as_bytes()) {
        None => Err(K::MissingField { field }),
        Some(Value::Dict(a)) => Ok(a),
        Some(_) => Err(K::WrongType {
            field,
            expected: "dictionary",
        }),
    }
}

fn int(d: &Dict<'_>, field: &'static str) -> Result<Option<i64>, K> {
    match d.get(field.as_bytes()) {
        None => Ok(None),
        Some(Value::Int(n)) => Ok(Some(*n)),
        Some(_) => Err(K::WrongType {
            field,
            expected: "integer",
        }),
    }
}

fn want(a: &Dict<'_>) -> Result<Want, K> {
    let mut w = Want::default();
    match a.get(b"want") {
        None => {}
        Some(Value::List(l)) => {
            for item in l {
                match item.as_bytes() {
                    Some(b"n4") => w.n4 = true,
                    Some(b"n6") => w.n6 = true,
                    _ => {}
                }
            }
        }
        Some(_) => {
            return Err(K::WrongType {
                field: "want",
                expected: "list",
            });
        }
    }
    Ok(w)
}

fn query(top: &Dict<'_>) -> Result<Query, K> {
    let method = required_bytes(top, "q")?;
    if !matches!(
        method,
        b"ping" | b"find_node" | b"get_peers" | b"announce_peer"
    ) {
        return Ok(Query::Unknown {
            method: method.iter().take(MAX_METHOD_LEN).copied().collect(),
        });
    }
    let a = dict(top, "a")?;
    let sender = id(a, "id")?;
    Ok(match method {
        b"ping" => Query::Ping { id: sender },
        b"find_node" => Query::FindNode {
            id: sender,
            target: id(a, "target")?,
            want: want(a)?,
        },
        b"get_peers" => Query::GetPeers {
            id: sender,
            info_hash: id(a, "info_hash")?,
            want: want(a)?,
        },
        _ => {
            let implied_port = int(a, "implied_port")?.is_some_and(|v| v != 0);
            let port = match int(a, "port")? {
                Some(p) => u16::try_from(p).map_err(|_| K::OutOfRange {
                    field: "port",
                    value: p,
                })?,
                None if implied_port => 0,
                None => return Err(K::MissingField { field: "port" }),
            };
            let token = required_bytes(a, "token")?;
            if token.len() > MAX_TOKEN_LEN {
                return Err(K::BadLength {
                    field: "token",
                    len: token.len(),
                    expected: "at most MAX_TOKEN_LEN",
                });
            }
            Query::AnnouncePeer {
                id: sender,
                info_hash: id(a, "info_hash")?,
                port,
                implied_port,
                token: token.to_vec(),
            }
        }
    })
}

fn nodes(
    r: &Dict<'_>,
    field: &'static str,
    entry_len: usize,
    expected: &'static str,
) -> Result<Vec<NodeInfo>, K> {
    let Some(b) = bytes(r, field)? else {
        return Ok(Vec::new());
    };
    let count = b.len() / entry_len;
    if count > MAX_NODES {
        return Err(K::TooMany {
            field,
            count,
            max: MAX_NODES,
        });
    }
    let list = decode_nodes(b, entry_len).ok_or(K::BadLength {
        field,
        len: b.len(),
        expected,
    })?;
    Ok(list)
}

fn response(top: &Dict<'_>) -> Result<Response, K> {
    let r = dict(top, "r")?;
    let values = match r.get(b"values") {
        None => Vec::new(),
        Some(Value::List(l)) => {
            if l.len() > MAX_VALUES {
                return Err(K::TooMany {
                    field: "values",
                    count: l.len(),
                    max: MAX_VALUES,
                });
            }
            l.iter()
                .map(|v| {
                    let b = v.as_bytes().ok_or(K::WrongType {
                        field: "values",
                        expected: "list of byte strings",
                    })?;
                    decode_compact_addr(b).ok_or(K::BadLength {
                        field: "values",
                        len: b.len(),
                        expected: "6 or 18 bytes per peer",
                    })
                })
                .collect::<Result<Vec<_>, K>>()?
        }
        Some(_) => {
            return Err(K::WrongType {
                field: "values",
                expected: "list",
            });
        }
    };
    let token = match bytes(r, "token")? {
        Some(t) if t.len() > MAX_TOKEN_LEN => {
            return Err(K::BadLength {
                field: "token",
                len: t.len(),
                expected: "at most MAX_TOKEN_LEN",
            });
        }
        t => t.map(<[u8]>::to_vec),
    };
    Ok(Response {
        id: id(r, "id")?,
        nodes: nodes(r, "nodes", COMPACT_NODE_V4_LEN, "a multiple of 26")?,
        nodes6: nodes(r, "nodes6", COMPACT_NODE_V6_LEN, "a multiple of 38")?,
        values,
        token,
    })
}

fn error(top: &Dict<'_>) -> Result<ErrorMessage, K> {
    let wrong = K::WrongType {
        field: "e",
        expected: "list of an integer code and a message",
    };
    let l = match top.get(b"e") {
        None => return Err(K::MissingField { field: "e" }),
        Some(Value::List(l)) => l,
        Some(_) => return Err(wrong),
    };
    let code = l.first().and_then(Value::as_int).ok_or(wrong.clone())?;
    let message = match l.get(1) {
        None => Vec::new(),
        Some(v) => v
            .as_bytes()
            .ok_or(wrong)?
            .iter()
            .take(MAX_ERROR_TEXT_LEN)
            .copied()
            .collect(),
    };
    Ok(ErrorMessage {
        code: ErrorCode(code),
        message,
    })
}
