//! Reading and writing model documents.

pub mod graphml;
