//! Causal graphs (being written).
