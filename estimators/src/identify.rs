//! Identification (being written).
