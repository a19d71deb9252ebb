//! Nuisance learners.

pub mod forest;
