//! Progress of a backfill: a progress bar when stderr is a terminal (the `indexer backfill`
//! command run by hand), and always the `indexer_backfill_*` metrics for everything else.

use std::io::IsTerminal;

use indicatif::{ProgressBar, ProgressStyle};

/// Reports repos as they finish.
#[derive(Debug, Clone)]
pub struct Progress {
    bar: Option<ProgressBar>,
}

impl Progress {
    /// A bar over `total` repos when stderr is a terminal and `show` is set; metrics only
    /// otherwise.
    pub fn new(total: usize, show: bool) -> Self {
        metrics::gauge!("indexer_backfill_pending").set(total as f64);
        if !show || !std::io::stderr().is_terminal() {
            return Self { bar: None };
        }
        let bar = ProgressBar::new(total as u64);
        let style = ProgressStyle::with_template(
            "{spinner} [{elapsed_precise}] {bar:40} {pos}/{len} repos ({per_sec}, eta {eta}) {msg}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar());
        bar.set_style(style);
        Self { bar: Some(bar) }
    }

    /// Metrics only.
    pub fn hidden() -> Self {
        Self { bar: None }
    }

    /// One repo finished (done or failed); `records` written so far in total.
    pub fn repo_finished(&self, records: u64) {
        metrics::gauge!("indexer_backfill_pending").decrement(1.0);
        if let Some(bar) = &self.bar {
            bar.inc(1);
            bar.set_message(format!("{records} records"));
        }
    }

    /// Clears the bar.
    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}
