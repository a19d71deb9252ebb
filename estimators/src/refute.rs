//! Refuters.
