//! Tracker protocol codecs (HTTP: BEP 3, 7, 23, 48; UDP: BEP 15).
