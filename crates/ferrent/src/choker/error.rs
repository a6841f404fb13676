//! The choker's errors (DESIGN.md rule 9). Both are bugs in the caller, never a peer's doing.

/// What went wrong in a [`Choker`](super::Choker) call.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ChokerError {
    /// The peer key was never added (or already removed).
    #[error("unknown peer")]
    UnknownPeer,
    /// The peer key is already in use.
    #[error("peer added twice")]
    DuplicatePeer,
}
