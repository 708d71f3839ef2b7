//! How far a rebuild has got, shown as it runs: a progress bar on a terminal, and otherwise a
//! plain line every few seconds (for logs and pipes), the same for a rebuild run here and one
//! followed through a server's admin API.

use std::io::IsTerminal;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// How often a plain progress line is printed.
const LINE_EVERY: Duration = Duration::from_secs(2);
/// How often a rebuild's progress is looked at.
pub(crate) const POLL: Duration = Duration::from_millis(250);

/// The progress of one rebuild.
pub(crate) struct RebuildProgress {
    label: String,
    shown: Shown,
    started: Instant,
    /// The checkpoint it started from: a rebuild carried on did not apply what came before it
    /// here.
    first: u64,
    /// The last figures seen.
    done: u64,
    total: u64,
    /// When the last plain line was printed, and its figures.
    printed: Option<(Instant, u64, u64)>,
}

enum Shown {
    Bar(ProgressBar),
    Lines,
}

impl RebuildProgress {
    /// The progress of the rebuild of `projection` into `generation` (`g3`), which has applied
    /// the feed up to `from` so far: a bar when stderr is a terminal, plain lines on stdout
    /// otherwise.
    pub(crate) fn start(projection: &str, generation: &str, from: u64) -> Self {
        let label = format!("rebuilding {projection} into {generation}");
        let shown = if std::io::stderr().is_terminal() {
            let bar = ProgressBar::with_draw_target(Some(0), ProgressDrawTarget::stderr());
            let style = ProgressStyle::with_template(
                "{msg} {bar:40} {pos}/{len} events ({percent}%), {per_sec}, about {eta} left",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar());
            bar.set_style(style);
            bar.set_message(label.clone());
            Shown::Bar(bar)
        } else {
            Shown::Lines
        };
        Self {
            label,
            shown,
            started: Instant::now(),
            first: from,
            done: from,
            total: 0,
            printed: None,
        }
    }

    /// The rebuild has applied the feed up to `done` of `total` events (the head).
    pub(crate) fn update(&mut self, done: u64, total: u64) {
        self.see(done, total);
        match &self.shown {
            Shown::Bar(bar) => {
                bar.set_length(self.total);
                bar.set_position(self.done);
            }
            Shown::Lines => {
                if self
                    .printed
                    .is_none_or(|(at, _, _)| at.elapsed() >= LINE_EVERY)
                {
                    self.print();
                }
            }
        }
    }

    /// The new generation serves, caught up with `total`: the figures as they ended.
    pub(crate) fn finish(mut self, total: u64) {
        self.see(total, total);
        match &self.shown {
            Shown::Bar(bar) => bar.finish_and_clear(),
            Shown::Lines => {
                if self
                    .printed
                    .is_none_or(|(_, done, total)| (done, total) != (self.done, self.total))
                {
                    self.print();
                }
            }
        }
    }

    fn see(&mut self, done: u64, total: u64) {
        self.done = done;
        self.total = total.max(done);
    }

    fn print(&mut self) {
        self.printed = Some((Instant::now(), self.done, self.total));
        println!("{}", self.line());
    }

    /// `rebuilding order_summary into g3: 12000/50000 events (24%), 8000 events/s, about 5 s
    /// left`.
    fn line(&self) -> String {
        let (done, total) = (self.done, self.total);
        let percent = (done * 100).checked_div(total).unwrap_or(100);
        let applied = done.saturating_sub(self.first);
        let seconds = self.started.elapsed().as_secs_f64();
        let rate = if seconds > 0.0 {
            applied as f64 / seconds
        } else {
            0.0
        };
        let left = match total.saturating_sub(done) {
            0 => String::new(),
            _ if rate < 1.0 => ", time left unknown".to_owned(),
            remaining => format!(
                ", about {} s left",
                (remaining as f64 / rate).round().max(1.0) as u64
            ),
        };
        format!(
            "{}: {done}/{total} events ({percent}%), {} events/s{left}",
            self.label,
            rate.round() as u64
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(first: u64, done: u64, total: u64, seconds: u64) -> String {
        let progress = RebuildProgress {
            label: "rebuilding order_summary into g3".to_owned(),
            shown: Shown::Lines,
            started: Instant::now() - Duration::from_secs(seconds),
            first,
            done,
            total,
            printed: None,
        };
        progress.line()
    }

    #[test]
    fn a_line_says_how_far_how_fast_and_how_long_left() {
        assert_eq!(
            lines(0, 12_000, 50_000, 4),
            "rebuilding order_summary into g3: 12000/50000 events (24%), 3000 events/s, about 13 s left"
        );
        // A rebuild carried on counts only what it applied here.
        assert_eq!(
            lines(10_000, 12_000, 50_000, 2),
            "rebuilding order_summary into g3: 12000/50000 events (24%), 1000 events/s, about 38 s left"
        );
        assert_eq!(
            lines(0, 0, 50_000, 2),
            "rebuilding order_summary into g3: 0/50000 events (0%), 0 events/s, time left unknown"
        );
        assert_eq!(
            lines(0, 0, 0, 1),
            "rebuilding order_summary into g3: 0/0 events (100%), 0 events/s"
        );
    }
}
