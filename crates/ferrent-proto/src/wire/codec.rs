//! Framing: the length-prefixed message stream after the handshake, decoded in the shape of
//! tokio-util's `Decoder` (DESIGN.md rule 8) without depending on it.

use bytes::{Buf, BytesMut};

use super::error::{InvalidMessage, ProtoError};
use super::limits::{MAX_BITFIELD_LEN, MAX_MESSAGE_LEN, MAX_PIECE_MESSAGE_LEN};
use super::message::{Block, BlockRequest, Message, id, name_of};

/// Decodes peer wire messages from a byte stream.
///
/// # Driving contract
///
/// 1. Decode the [`crate::wire::Handshake`] from the connection's receive buffer first.
/// 2. Append what the socket delivers to the same `BytesMut` and call [`MessageDecoder::decode`]
///    until it returns `Ok(None)`; each `Ok(Some(message))` has been removed from the buffer.
///    `Ok(None)` consumes nothing: read more and call again. The decoder reserves room for the
///    rest of a large message once its length is known and accepted.
/// 3. `Err` means the peer is broken or hostile: close the connection. The error is sticky: every
///    later call returns it again, whatever the buffer holds.
/// 4. When the peer closes the connection, call [`MessageDecoder::decode_eof`] to learn whether it
///    stopped in the middle of a message.
///
/// # Limits
///
/// A length prefix is checked before anything is reserved for it: against
/// [`crate::wire::MAX_MESSAGE_LEN`] (or the lower limit given to
/// [`MessageDecoder::with_max_len`]), against the exact length of fixed-size messages and
/// against the per-message maxima ([`crate::wire::MAX_PIECE_MESSAGE_LEN`] for a block,
/// 1 + [`crate::wire::MAX_BITFIELD_LEN`] for a bitfield). So a peer can make us buffer at most one
/// accepted message.
///
/// # Copies
///
/// `bitfield`, `piece`, `extended` and unknown payloads are split off the receive buffer as
/// [`bytes::Bytes`] sharing its memory: a block is not copied. (The buffer's next `reserve` then
/// allocates anew while blocks are still held, so the driver should reserve generously, e.g.
/// 256 KiB at a time, to amortise that to one allocation per many blocks.)
///
/// ```
/// use bytes::BytesMut;
/// use ferrent_proto::wire::{Message, MessageDecoder};
///
/// let mut buf = BytesMut::new();
/// Message::Have { index: 7 }.encode(&mut buf);
/// Message::Unchoke.encode(&mut buf);
/// let mut dec = MessageDecoder::new();
/// assert_eq!(dec.decode(&mut buf).unwrap(), Some(Message::Have { index: 7 }));
/// assert_eq!(dec.decode(&mut buf).unwrap(), Some(Message::Unchoke));
/// assert_eq!(dec.decode(&mut buf).unwrap(), None);
/// ```
#[derive(Debug, Clone)]
pub struct MessageDecoder {
    max_len: u32,
    failed: Option<ProtoError>,
}

impl Default for MessageDecoder {
    fn default() -> Self {
        Self::new()
    }
}

impl MessageDecoder {
    /// A decoder with the limit [`crate::wire::MAX_MESSAGE_LEN`].
    pub fn new() -> Self {
        MessageDecoder {
            max_len: MAX_MESSAGE_LEN,
            failed: None,
        }
    }

    /// A decoder with a lower message size limit (for instance once the torrent's bitfield size
    /// is known: `1 + ceil(pieces / 8)`, or the metadata-only phase of a magnet download).
    /// Values above [`crate::wire::MAX_MESSAGE_LEN`] are lowered to it.
    pub fn with_max_len(max_len: u32) -> Self {
        MessageDecoder {
            max_len: max_len.min(MAX_MESSAGE_LEN),
            failed: None,
        }
    }

    /// The message size limit in force.
    pub fn max_len(&self) -> u32 {
        self.max_len
    }

    /// Whether an error has been returned (every later call returns it again).
    pub fn has_failed(&self) -> bool {
        self.failed.is_some()
    }

    /// Decodes the next message from the front of `src`; see the driving contract on the type.
    pub fn decode(&mut self, src: &mut BytesMut) -> Result<Option<Message>, ProtoError> {
        if let Some(e) = &self.failed {
            return Err(e.clone());
        }
        match self.decode_inner(src) {
            Ok(m) => Ok(m),
            Err(e) => {
                self.failed = Some(e.clone());
                Err(e)
            }
        }
    }

    /// Call when the peer closed the connection: decodes a last complete message, `Ok(None)` if
    /// the buffer is empty, and an error ([`InvalidMessage::Truncated`]) if a message was cut
    /// short.
    pub fn decode_eof(&mut self, src: &mut BytesMut) -> Result<Option<Message>, ProtoError> {
        match self.decode(src)? {
            Some(m) => Ok(Some(m)),
            None if src.is_empty() => Ok(None),
            None => {
                let e = ProtoError::from(InvalidMessage::Truncated {
                    buffered: src.len(),
                });
                self.failed = Some(e.clone());
                Err(e)
            }
        }
    }

    fn decode_inner(&mut self, src: &mut BytesMut) -> Result<Option<Message>, ProtoError> {
        let Some(prefix) = src.get(..4).and_then(|p| <[u8; 4]>::try_from(p).ok()) else {
            return Ok(None);
        };
        let len = u32::from_be_bytes(prefix);
        if len == 0 {
            src.advance(4);
            return Ok(Some(Message::KeepAlive));
        }
        if len > self.max_len {
            return Err(InvalidMessage::TooLarge {
                id: None,
                len,
                max: self.max_len,
            }
            .into());
        }
        let Some(&msg_id) = src.get(4) else {
            return Ok(None);
        };
        check_length(msg_id, len)?;
        let frame_len = 4 + len as usize;
        if src.len() < frame_len {
            // Accepted above: reserving for it is bounded by the limit.
            src.reserve(frame_len - src.len());
            return Ok(None);
        }
        let mut frame = src.split_to(frame_len);
        frame.advance(5);
        Ok(Some(parse_body(msg_id, frame)))
    }
}

/// Checks the length prefix against what message `msg_id` may have, before its body is buffered.
fn check_length(msg_id: u8, len: u32) -> Result<(), InvalidMessage> {
    let name = name_of(msg_id);
    let exact = |expected: u32| {
        if len == expected {
            Ok(())
        } else {
            Err(InvalidMessage::BadLength {
                id: msg_id,
                name,
                len,
                expected,
            })
        }
    };
    let at_least = |min: u32| {
        if len >= min {
            Ok(())
        } else {
            Err(InvalidMessage::TooShort {
                id: msg_id,
                name,
                len,
                min,
            })
        }
    };
    let at_most = |max: u32| {
        if len <= max {
            Ok(())
        } else {
            Err(InvalidMessage::TooLarge {
                id: Some(msg_id),
                len,
                max,
            })
        }
    };
    match msg_id {
        id::CHOKE
        | id::UNCHOKE
        | id::INTERESTED
        | id::NOT_INTERESTED
        | id::HAVE_ALL
        | id::HAVE_NONE => exact(1),
        id::HAVE | id::SUGGEST_PIECE | id::ALLOWED_FAST => exact(5),
        id::REQUEST | id::CANCEL | id::REJECT_REQUEST => exact(13),
        id::PORT => exact(3),
        id::BITFIELD => at_most(1 + MAX_BITFIELD_LEN),
        id::PIECE => at_least(9).and_then(|()| at_most(MAX_PIECE_MESSAGE_LEN)),
        id::EXTENDED => at_least(2),
        _ => Ok(()),
    }
}

/// Builds the message from its body (the bytes after the id), whose length `check_length` has
/// accepted for `msg_id`.
fn parse_body(msg_id: u8, mut body: BytesMut) -> Message {
    let request = |b: &mut BytesMut| BlockRequest {
        index: b.get_u32(),
        begin: b.get_u32(),
        length: b.get_u32(),
    };
    match msg_id {
        id::CHOKE => Message::Choke,
        id::UNCHOKE => Message::Unchoke,
        id::INTERESTED => Message::Interested,
        id::NOT_INTERESTED => Message::NotInterested,
        id::HAVE_ALL => Message::HaveAll,
        id::HAVE_NONE => Message::HaveNone,
        id::HAVE => Message::Have {
            index: body.get_u32(),
        },
        id::SUGGEST_PIECE => Message::SuggestPiece {
            index: body.get_u32(),
        },
        id::ALLOWED_FAST => Message::AllowedFast {
            index: body.get_u32(),
        },
        id::REQUEST => Message::Request(request(&mut body)),
        id::CANCEL => Message::Cancel(request(&mut body)),
        id::REJECT_REQUEST => Message::RejectRequest(request(&mut body)),
        id::PORT => Message::Port(body.get_u16()),
        id::BITFIELD => Message::Bitfield(body.freeze()),
        id::PIECE => {
            let index = body.get_u32();
            let begin = body.get_u32();
            Message::Piece(Block {
                index,
                begin,
                data: body.freeze(),
            })
        }
        id::EXTENDED => {
            let id = body.get_u8();
            Message::Extended {
                id,
                payload: body.freeze(),
            }
        }
        id => Message::Unknown {
            id,
            payload: body.freeze(),
        },
    }
}
