//! RCA.
