//! GraphML (being written).
