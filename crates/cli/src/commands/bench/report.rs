//! Figures of bench runs, their medians, and how they are printed.

use serde::Serialize;

use super::baseline::BaselineFigures;
use super::cache::CacheFigures;

/// One run's figures.
#[derive(Clone, Copy, Debug)]
pub(crate) struct RunFigures {
    pub(crate) append_events_per_s: f64,
    pub(crate) project_events_per_s: f64,
    pub(crate) baseline: Option<BaselineFigures>,
    /// Phase B into the Redis cache, with `--redis-url`.
    pub(crate) cache: Option<CacheFigures>,
}

/// What a run ran on, for the report.
#[derive(Clone, Debug)]
pub(crate) struct Settings {
    pub(crate) backend: &'static str,
    pub(crate) durability: String,
    pub(crate) read_durability: String,
    pub(crate) baseline_name: &'static str,
}

/// The median of `values` (the mean of the middle two for an even count).
pub(crate) fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    let n = values.len();
    match n {
        0 => 0.0,
        _ if n % 2 == 1 => values[n / 2],
        _ => (values[n / 2 - 1] + values[n / 2]) / 2.0,
    }
}

/// The `p`th percentile of `values` (nearest rank; 100 is the largest), to 0.01.
pub(crate) fn percentile(values: &[f64], p: f64) -> f64 {
    if values.is_empty() {
        return 0.0;
    }
    if p >= 100.0 {
        return (values.iter().copied().fold(0.0, f64::max) * 100.0).round() / 100.0;
    }
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let rank = ((p / 100.0) * sorted.len() as f64).ceil().max(1.0) as usize - 1;
    (sorted[rank.min(sorted.len() - 1)] * 100.0).round() / 100.0
}

/// The report printed at the end: medians over the runs.
#[derive(Debug, Serialize)]
pub(crate) struct Report {
    pub(crate) workload: &'static str,
    pub(crate) backend: &'static str,
    pub(crate) orders: u64,
    pub(crate) events: u64,
    pub(crate) writers: usize,
    pub(crate) durability: String,
    pub(crate) read_durability: String,
    pub(crate) projections: Vec<String>,
    pub(crate) batch_size: usize,
    pub(crate) runs: usize,
    pub(crate) append_events_per_s: u64,
    pub(crate) project_events_per_s: u64,
    pub(crate) baseline_name: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) baseline_append_events_per_s: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) baseline_append_batched_events_per_s: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) baseline_project_events_per_s: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) redis_project_events_per_s: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) baseline_redis_project_events_per_s: Option<u64>,
    pub(crate) check: &'static str,
}

impl Report {
    /// Fills in the medians of `runs`.
    pub(crate) fn with_medians(mut self, runs: &[RunFigures]) -> Self {
        let pick = |f: fn(&RunFigures) -> f64| median(runs.iter().map(f).collect()).round() as u64;
        self.append_events_per_s = pick(|r| r.append_events_per_s);
        self.project_events_per_s = pick(|r| r.project_events_per_s);
        if runs.iter().all(|r| r.baseline.is_some()) && !runs.is_empty() {
            let base = |f: fn(&BaselineFigures) -> f64| {
                Some(
                    median(
                        runs.iter()
                            .filter_map(|r| r.baseline.as_ref().map(f))
                            .collect(),
                    )
                    .round() as u64,
                )
            };
            self.baseline_append_events_per_s = base(|b| b.append_events_per_s);
            self.baseline_append_batched_events_per_s = base(|b| b.append_batched_events_per_s);
            self.baseline_project_events_per_s = base(|b| b.project_events_per_s);
        }
        let cache: Vec<CacheFigures> = runs.iter().filter_map(|r| r.cache).collect();
        if !cache.is_empty() && cache.len() == runs.len() {
            self.redis_project_events_per_s =
                Some(median(cache.iter().map(|c| c.project_events_per_s).collect()).round() as u64);
            let plain: Vec<f64> = cache
                .iter()
                .filter_map(|c| c.baseline_events_per_s)
                .collect();
            if plain.len() == cache.len() {
                self.baseline_redis_project_events_per_s = Some(median(plain).round() as u64);
            }
        }
        self
    }

    /// The report as a table for people.
    pub(crate) fn table(&self) -> String {
        let mut out = format!(
            "workload {} on {} · {} orders, {} events · {} writer(s) · durability {} (read models {}) · projections: {} · batch {} · median of {} run(s)\n\n",
            self.workload,
            self.backend,
            self.orders,
            self.events,
            self.writers,
            self.durability,
            self.read_durability,
            self.projections.join(", "),
            self.batch_size,
            self.runs,
        );
        out.push_str(&format!(
            "{:<34} {:>14} {:>20} {:>8}\n",
            "phase", "events/s", self.baseline_name, "ratio"
        ));
        let row = |name: &str, ours: u64, limit: Option<u64>| {
            let (limit, ratio) = match limit {
                Some(l) if l > 0 => (l.to_string(), format!("{:.2}", ours as f64 / l as f64)),
                _ => ("-".into(), "-".into()),
            };
            format!("{name:<34} {ours:>14} {limit:>20} {ratio:>8}\n")
        };
        let append_limit = if self.writers > 1 {
            self.baseline_append_batched_events_per_s
        } else {
            self.baseline_append_events_per_s
        };
        out.push_str(&row("A: append", self.append_events_per_s, append_limit));
        out.push_str(&row(
            "B: project (catch-up)",
            self.project_events_per_s,
            self.baseline_project_events_per_s,
        ));
        if let Some(redis) = self.redis_project_events_per_s {
            out.push_str(&row(
                "B: project into Redis (vs plain redis)",
                redis,
                self.baseline_redis_project_events_per_s,
            ));
        }
        if let Some(batched) = self.baseline_append_batched_events_per_s {
            out.push_str(&format!(
                "{:<34} {:>14} {batched:>20} {:>8}\n",
                "   plain loop, 100 orders per txn", "", ""
            ));
        }
        out.push_str(&format!("\ncheck: {}\n", self.check));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn medians() {
        assert_eq!(median(vec![3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(vec![4.0, 1.0, 2.0, 3.0]), 2.5);
        assert_eq!(median(vec![]), 0.0);
    }
}
