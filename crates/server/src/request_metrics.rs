//! Each request's count and duration, by method, route and status. The handles of a series are
//! looked up once and kept: building the labels as owned strings and finding the series in
//! the recorder on every request is a cost each request pays, turned-away ones included.

use std::collections::HashMap;
use std::sync::{PoisonError, RwLock};
use std::time::Duration;

use metrics::{Counter, Histogram};

/// The series of one method and status on a route.
#[derive(Clone)]
struct Series {
    method: &'static str,
    status: u16,
    requests: Counter,
    duration: Histogram,
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
        let series = self.known(method, route, status).unwrap_or_else(|| {
            let series = register(method, route, status);
            self.by_route
                .write()
                .unwrap_or_else(PoisonError::into_inner)
                .entry(route.into())
                .or_default()
                .push(series.clone());
            series
        });
        series.requests.increment(1);
        series.duration.record(elapsed.as_secs_f64());
    }

    fn known(&self, method: &'static str, route: &str, status: u16) -> Option<Series> {
        let by_route = self.by_route.read().unwrap_or_else(PoisonError::into_inner);
        by_route
            .get(route)?
            .iter()
            .find(|s| s.method == method && s.status == status)
            .cloned()
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
