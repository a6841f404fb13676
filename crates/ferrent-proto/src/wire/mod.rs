//! Peer wire protocol (BEP 3, 6, 10).
