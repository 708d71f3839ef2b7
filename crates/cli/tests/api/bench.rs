//! `projector bench --catalogue` end to end on a small catalogue: it loads, projects, checks
//! the index and searches, and prints its figures. The figures themselves are not judged here
//! (speed is measured by running the command, never by a test).

use std::time::Duration;

use serde_json::Value;

use crate::helpers::projector;

#[tokio::test]
async fn the_catalogue_bench_checks_its_index_and_prints_its_figures() {
    let dir = projector_testkit::temp_dir();
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

/// `bench --inline` runs phase A plain and with `order_summary` inline, checks the inline read
/// model holds every order with no projector running, and prints both figures and their ratio.
#[tokio::test]
async fn the_inline_bench_checks_its_read_model_and_prints_the_ratio() {
    let dir = projector_testkit::temp_dir();
    let dir_arg = dir.path().to_string_lossy().into_owned();
    let args = [
        "bench",
        "--inline",
        "--json",
        "--orders",
        "200",
        "--writers",
        "2",
        "--dir",
        &dir_arg,
    ];
    let output = projector(&args, &[], Duration::from_secs(120)).await;
    assert!(output.success, "{}", output.stderr);
    let report: Value = serde_json::from_str(output.stdout.trim())
        .unwrap_or_else(|e| panic!("no JSON ({e}): {}", output.stdout));
    assert_eq!(report["phase"], "A");
    assert_eq!(report["inline_projection"], "order_summary");
    assert_eq!(report["check"], "ok");
    let plain = report["append_events_per_s"]
        .as_f64()
        .expect("plain figure");
    let inline = report["inline_append_events_per_s"]
        .as_f64()
        .expect("inline figure");
    assert!(plain > 0.0 && inline > 0.0, "{report}");
    let ratio = report["inline_ratio"].as_f64().expect("ratio");
    assert!((ratio - inline / plain).abs() < 0.01, "{report}");
}

/// `bench --http` at a low rate: every order written and read back, nothing shed, and the
/// figures of accepted and shed writes in its JSON line beside the backend it ran on.
#[tokio::test]
async fn the_http_bench_reports_accepted_and_shed_writes() {
    let dir = projector_testkit::temp_dir();
    let dir_arg = dir.path().to_string_lossy().into_owned();
    let args = [
        "bench",
        "--http",
        "--json",
        "--rate",
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
    assert_eq!(report["workload"], "orders-v1-http");
    assert_eq!(report["backend"], "sqlite");
    assert_eq!(report["sent"], 20);
    assert_eq!(report["orders"], 20, "{report}");
    assert_eq!(report["shed"], 0, "{report}");
    assert_eq!(report["errors"], 0, "{report}");
    assert_eq!(report["reads_shed"], 0, "{report}");
    assert!(
        report["accepted_p99_ms"].as_f64().is_some_and(|f| f > 0.0),
        "{report}"
    );
    // The first second at the rate on its own: the step up from the warm-up's half.
    assert_eq!(report["onset_seconds"], 1, "{report}");
    assert_eq!(report["onset_shed"], 0, "{report}");
    assert!(
        report["onset_accepted_p99_ms"]
            .as_f64()
            .is_some_and(|f| f > 0.0),
        "{report}"
    );
    // The server's CPU time over the step, and the bench's own, read from /proc: every order
    // cost each some.
    if cfg!(target_os = "linux") {
        for figure in [
            "server_cpu_percent",
            "server_cpu_us_per_order",
            "client_cpu_us_per_order",
        ] {
            assert!(
                report[figure].as_f64().is_some_and(|f| f > 0.0),
                "{figure}: {report}"
            );
        }
    }
    assert_eq!(std::fs::read_dir(dir.path()).expect("dir").count(), 0);
}
