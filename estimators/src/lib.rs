//! Causal numerics for Causeway.
//!
//! The pipeline, one module per stage, all synchronous and free of I/O beyond reading
//! the files a caller names:
//!
//! 1. [`data`]: a CSV becomes a typed [`data::Dataset`].
//! 2. [`graph`]: a causal DAG from an edge list, DOT or GraphML, checked for cycles.
//! 3. [`identify`]: d-separation, backdoor, frontdoor and instrumental-variable
//!    identification, or a reason why the effect is not identifiable.
//! 4. [`estimate`]: OLS, IPW, AIPW, DML, DiD and IV estimators, each returning an
//!    [`estimate::Estimate`] with a standard error and a 95% interval.
//! 5. [`refute`]: checks that try to break an estimate.
//!
//!
//! [`discover`] finds a causal graph from data (PC-stable with background knowledge
//! and priors) when none is declared.
//!
//! [`progress`] lets long computations report how far they are and be cancelled.
//!
//! [`learners`] holds the regression and classification models the estimators use
//! for nuisance functions; [`linalg`] the small dense linear algebra they share.

pub mod data;
pub mod discover;
pub mod error;
pub mod estimate;
pub mod format;
pub mod graph;
pub mod identify;
pub mod io;
pub mod learners;
pub mod linalg;
pub mod model;
pub mod progress;
pub mod refute;
pub mod scm;
pub mod stats;

pub use error::{Error, Result};
