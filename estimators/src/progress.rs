//! How long computations (fits, bootstraps, discovery) say how far they are, and
//! learn that the caller wants them to stop.
//!
//! The numerics stay synchronous and free of I/O: a caller passes a [`Progress`],
//! the computation calls [`Progress::step`] between units of work, and stops with
//! [`crate::Error::Cancelled`] when it answers so. The CLI draws a bar from it; the
//! server's fit jobs stream it to the page and cancel through it.

use crate::Result;

/// Receives progress reports and decides whether work goes on.
pub trait Progress: Sync {
    /// `done` of `total` units of `stage` (e.g. "fitting `sales`") are finished.
    ///
    /// # Errors
    /// [`crate::Error::Cancelled`] to stop the computation; it is passed on unchanged.
    fn step(&self, stage: &str, done: usize, total: usize) -> Result<()>;
}

/// Reports nowhere and never cancels.
#[derive(Clone, Copy, Debug, Default)]
pub struct Silent;

impl Progress for Silent {
    fn step(&self, _stage: &str, _done: usize, _total: usize) -> Result<()> {
        Ok(())
    }
}

/// A closure is a [`Progress`]: `|stage, done, total| Ok(())`.
impl<F> Progress for F
where
    F: Fn(&str, usize, usize) -> Result<()> + Sync,
{
    fn step(&self, stage: &str, done: usize, total: usize) -> Result<()> {
        self(stage, done, total)
    }
}
