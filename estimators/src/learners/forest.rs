//! Random forests (being written).
