//! How long computations (fits, bootstraps, discovery) say how far they are, and
//! learn that the caller wants them to stop.
//!
//! The numerics stay synchronous and free of I/O: a caller passes a [`Progress`],
//! the computation calls [`Progress::step`] between units of work, and stops with
//! [`Error::Cancelled`] when it answers so. The CLI draws a bar from it; the
//! server's fit jobs stream it to the page and cancel through it.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, PoisonError};

use crate::{Error, Result};

/// Receives progress reports and decides whether work goes on.
pub trait Progress: Sync {
    /// `done` of `total` units of `stage` (e.g. "fitting `sales`") are finished.
    ///
    /// # Errors
    /// [`Error::Cancelled`] to stop the computation; it is passed on unchanged.
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

/// Counts the finished units of one stage whose units run in parallel (rayon), and
/// reports them to a [`Progress`].
///
/// The count and the report are taken under one lock, so `done` reaches the
/// `Progress` in increasing order whatever thread finished first (a bar never steps
/// back); a report is cheap next to a unit of work, so the lock costs nothing
/// measurable. Once the `Progress` has refused a step, every unit still to start is
/// refused by [`Tally::check`] and no further step is reported, so a cancel stops
/// the work after the units already running.
pub(crate) struct Tally<'a> {
    progress: &'a dyn Progress,
    stage: &'a str,
    total: usize,
    done: Mutex<usize>,
    cancelled: AtomicBool,
}

impl<'a> Tally<'a> {
    /// Reports 0 of `total` units of `stage` and returns the tally.
    pub(crate) fn start(progress: &'a dyn Progress, stage: &'a str, total: usize) -> Result<Self> {
        progress.step(stage, 0, total)?;
        Ok(Tally {
            progress,
            stage,
            total,
            done: Mutex::new(0),
            cancelled: AtomicBool::new(false),
        })
    }

    /// [`Error::Cancelled`] once the `Progress` has refused a step: a unit
    /// calls it before it starts.
    pub(crate) fn check(&self) -> Result<()> {
        if self.cancelled.load(Ordering::Relaxed) {
            return Err(Error::Cancelled);
        }
        Ok(())
    }

    /// One more unit is finished: reports it, or passes on the `Progress`'s refusal.
    pub(crate) fn finished(&self) -> Result<()> {
        // A panic inside a report cannot leave the count half-written.
        let mut done = self.done.lock().unwrap_or_else(PoisonError::into_inner);
        self.check()?;
        *done += 1;
        self.progress
            .step(self.stage, *done, self.total)
            .inspect_err(|_| {
                self.cancelled.store(true, Ordering::Relaxed);
            })
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicUsize;

    use rayon::prelude::*;

    use super::*;

    #[test]
    fn a_tally_reports_in_order_from_many_threads_and_stops_after_a_cancel() {
        let steps = Mutex::new(Vec::new());
        let record = |stage: &str, done: usize, total: usize| {
            steps.lock().unwrap().push((stage.to_string(), done, total));
            Ok(())
        };
        let tally = Tally::start(&record, "units", 64).unwrap();
        (0..64)
            .into_par_iter()
            .try_for_each(|_| tally.check().and_then(|()| tally.finished()))
            .unwrap();
        let steps = steps.into_inner().unwrap();
        let expected: Vec<(String, usize, usize)> = (0..=64)
            .map(|done| ("units".to_string(), done, 64))
            .collect();
        assert_eq!(steps, expected);

        let calls = AtomicUsize::new(0);
        let cancel_at_five = |_: &str, done: usize, _: usize| {
            calls.fetch_add(1, Ordering::Relaxed);
            if done == 5 {
                Err(Error::Cancelled)
            } else {
                Ok(())
            }
        };
        let tally = Tally::start(&cancel_at_five, "units", 64).unwrap();
        let error = (0..64)
            .into_par_iter()
            .try_for_each(|_| tally.check().and_then(|()| tally.finished()))
            .unwrap_err();
        assert!(matches!(error, Error::Cancelled), "{error}");
        assert!(matches!(tally.check(), Err(Error::Cancelled)));
        assert_eq!(
            calls.into_inner(),
            6,
            "0 to 5 are reported, nothing after the refusal"
        );
    }
}
