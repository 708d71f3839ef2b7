//! Each request's count and duration, by method, route and status. The handles of a series are
//! looked up once and kept: building the labels as owned strings and finding the series in
//! the recorder on every request is a cost each request pays, turned-away ones included.

use std::collections::HashMap;
use std::sync::{PoisonError, RwLock};
use std::time::Duration;

use metrics::{Counter, Histogram};

/// The series of one method and status on a route.
struct Series {
    method: &'static str,
    status: u16,
    requests: Counter,
    duration: Histogram,
}

impl Series {
    fn is(&self, method: &'static str, status: u16) -> bool {
        self.method == method && self.status == status
    }

    fn record(&self, elapsed: Duration) {
        self.requests.increment(1);
        self.duration.record(elapsed.as_secs_f64());
    }
}

/// The request series seen so far, by route. Routes are the router's patterns (or
/// `unmatched`) and methods a fixed set, so the table stays small.
#[derive(Default)]
pub(crate) struct RequestMetrics {
    by_route: RwLock<HashMap<Box<str>, Vec<Series>>>,
}

impl std::fmt::Debug for RequestMetrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RequestMetrics").finish_non_exhaustive()
    }
}

impl RequestMetrics {
    /// Counts a request to `route` answered with `status` after `elapsed`
    /// (`http_requests_total` and `http_request_duration_seconds`).
    pub(crate) fn record(&self, method: &'static str, route: &str, status: u16, elapsed: Duration) {
        {
            let by_route = self.by_route.read().unwrap_or_else(PoisonError::into_inner);
            let mut known = by_route.get(route).into_iter().flatten();
            if let Some(series) = known.find(|s| s.is(method, status)) {
                series.record(elapsed);
                return;
            }
        }
        let mut by_route = self
            .by_route
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        let on_route = by_route.entry(route.into()).or_default();
        // Another request may have added it since the look above.
        match on_route.iter().find(|s| s.is(method, status)) {
            Some(series) => series.record(elapsed),
            None => {
                let series = register(method, route, status);
                series.record(elapsed);
                on_route.push(series);
            }
        }
    }
}

fn register(method: &'static str, route: &str, status: u16) -> Series {
    let labels = [
        ("method", method.to_owned()),
        ("route", route.to_owned()),
        ("status", status.to_string()),
    ];
    Series {
        method,
        status,
        requests: metrics::counter!("http_requests_total", &labels),
        duration: metrics::histogram!("http_request_duration_seconds", &labels),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use metrics_util::debugging::{DebugValue, DebuggingRecorder};

    #[test]
    fn each_series_counts_its_own_requests() {
        let recorder = DebuggingRecorder::new();
        let snapshotter = recorder.snapshotter();
        metrics::with_local_recorder(&recorder, || {
            let table = RequestMetrics::default();
            let ms = Duration::from_millis(3);
            table.record("POST", "/api/orders", 202, ms);
            table.record("POST", "/api/orders", 202, ms);
            table.record("POST", "/api/orders", 503, ms);
            table.record("GET", "/api/orders", 200, ms);
            table.record("GET", "unmatched", 404, ms);
        });
        let counts: HashMap<String, u64> = snapshotter
            .snapshot()
            .into_vec()
            .into_iter()
            .filter_map(|(key, _, _, value)| match value {
                DebugValue::Counter(n) => {
                    let labels: Vec<String> = key
                        .key()
                        .labels()
                        .map(|l| format!("{}={}", l.key(), l.value()))
                        .collect();
                    Some((labels.join(","), n))
                }
                _ => None,
            })
            .collect();
        assert_eq!(counts["method=POST,route=/api/orders,status=202"], 2);
        assert_eq!(counts["method=POST,route=/api/orders,status=503"], 1);
        assert_eq!(counts["method=GET,route=/api/orders,status=200"], 1);
        assert_eq!(counts["method=GET,route=unmatched,status=404"], 1);
        assert_eq!(counts.len(), 4);
    }
}
