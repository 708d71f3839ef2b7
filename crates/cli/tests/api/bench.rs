//! `projector bench --catalogue` end to end on a small catalogue: it loads, projects, checks
//! the index and searches, and prints its figures. The figures themselves are not judged here
//! (speed is measured by running the command, never by a test).

use std::time::Duration;

use serde_json::Value;

use crate::helpers::projector;

#[tokio::test]
async fn the_catalogue_bench_checks_its_index_and_prints_its_figures() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let dir_arg = dir.path().to_string_lossy().into_owned();
    let args = [
        "bench",
        "--catalogue",
        "--baseline",
        "--json",
        "--products",
        "300",
        "--batch-size",
        "100",
        "--search-rate",
        "20",
        "--seconds",
        "1",
        "--dir",
        &dir_arg,
    ];
    let output = projector(&args, &[], Duration::from_secs(120)).await;
    assert!(output.success, "{}", output.stderr);
    let report: Value = serde_json::from_str(output.stdout.trim())
        .unwrap_or_else(|e| panic!("no JSON ({e}): {}", output.stdout));
    assert_eq!(report["workload"], "catalogue-v1");
    assert_eq!(report["check"], "ok");
    assert_eq!(report["products"], 300);
    assert_eq!(report["searches"], 20);
    for figure in [
        "project_events_per_s",
        "plain_tantivy_events_per_s",
        "search_p50_ms",
        "search_p99_ms",
    ] {
        assert!(
            report[figure].as_f64().is_some_and(|f| f > 0.0),
            "{figure}: {report}"
        );
    }
    assert!(report["search_p50_ms"].as_f64() <= report["search_p99_ms"].as_f64());
    // Its temporary data is gone.
    assert_eq!(std::fs::read_dir(dir.path()).expect("dir").count(), 0);
}
