//! The progress bar of the long commands (`fit`, `whatif`, `estimate --refute`,
//! `discover`): the estimators report through [`Progress`], and [`Bar`] draws it.
//!
//! The bar goes to standard error, and only when standard error is a terminal and
//! the command prints text for a person. Under `--format json`, in a pipe or in a
//! log nothing at all is drawn, so scripts see exactly the bytes they saw before.
//! The bar is cleared when it is dropped, so what stays on the terminal is the
//! command's own output.

use std::io::IsTerminal;
use std::time::Duration;

use causeway_estimators::progress::Progress;
use causeway_estimators::Result;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// How often the bar is redrawn.
const TICK: Duration = Duration::from_millis(100);

/// A bar on standard error, or nothing where no person watches it.
pub struct Bar {
    /// `None` where nothing is drawn.
    bar: Option<ProgressBar>,
}

impl Bar {
    /// A bar when `for_people` (the text format) and standard error is a terminal;
    /// otherwise one that draws nothing.
    pub fn for_output(for_people: bool) -> Bar {
        if for_people && std::io::stderr().is_terminal() {
            Bar::drawn_to(ProgressDrawTarget::stderr())
        } else {
            Bar { bar: None }
        }
    }

    fn drawn_to(target: ProgressDrawTarget) -> Bar {
        let bar = ProgressBar::with_draw_target(None, target);
        // The template is a constant: a mistake in it shows in the tests, and the
        // default style is a fine fallback.
        if let Ok(style) = ProgressStyle::with_template("{msg} [{bar:30}] {pos}/{len} ({elapsed})")
        {
            bar.set_style(style.progress_chars("=> "));
        }
        // Redrawn ten times a second: the elapsed time moves during a slow unit,
        // and the draws are batched instead of one per step.
        bar.enable_steady_tick(TICK);
        Bar { bar: Some(bar) }
    }
}

impl Progress for Bar {
    /// Shows `stage` at `done` of `total`; a new stage starts the bar afresh with
    /// its own total. Never cancels: a person stops the command with Ctrl-C.
    fn step(&self, stage: &str, done: usize, total: usize) -> Result<()> {
        if let Some(bar) = &self.bar {
            // With the steady tick running, an update is drawn by the next tick
            // and a new message at once: so a stage's text never shows beside the
            // previous stage's numbers.
            bar.update(|state| {
                state.set_len(total as u64);
                state.set_pos(done as u64);
            });
            if bar.message() != stage {
                bar.set_message(stage.to_string());
            }
        }
        Ok(())
    }
}

impl Drop for Bar {
    fn drop(&mut self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_stage_sets_the_message_length_and_position() {
        let bar = Bar::drawn_to(ProgressDrawTarget::hidden());
        let inner = bar.bar.clone().expect("a bar");
        bar.step("fitting `x`", 0, 3).unwrap();
        bar.step("fitting `y`", 1, 3).unwrap();
        assert_eq!(
            (inner.message(), inner.position(), inner.length()),
            ("fitting `y`".to_string(), 1, Some(3))
        );
        bar.step("bootstrap refits", 7, 200).unwrap();
        assert_eq!(
            (inner.message(), inner.position(), inner.length()),
            ("bootstrap refits".to_string(), 7, Some(200))
        );
        drop(bar);
        assert!(inner.is_finished(), "dropping the bar clears it");
    }

    #[test]
    fn nothing_is_drawn_for_machine_output() {
        let bar = Bar::for_output(false);
        assert!(bar.bar.is_none());
        bar.step("fitting `x`", 0, 3).unwrap();
    }
}
