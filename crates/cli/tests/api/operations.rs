//! Health, readiness, metrics and correlation ids.

use reqwest::Method;
use serde_json::json;

use crate::helpers::Server;

pub async fn health_ready_and_metrics() {
    let server = Server::start().await;
    assert_eq!(
        server.get("/health").await.expect(200).json()["status"],
        "ok"
    );
    let position = server.place("o1", "c1", &[("a", 1, 1.0)]).await;
    server
        .get(&format!(
            "/api/orders/o1/projection?min_position={position}"
        ))
        .await
        .expect(200);
    server
        .get("/api/orders/missing/projection")
        .await
        .expect(404);

    let ready = server.ready().await;
    assert_eq!(ready["status"], "ready");
    assert_eq!(ready["event_store"], true);
    assert_eq!(ready["read_store"], true);
    let names: Vec<&str> = ready["projections"]
        .as_array()
        .expect("projections")
        .iter()
        .filter_map(|p| p["name"].as_str())
        .collect();
    let mut expected = vec![
        "customers",
        "daily_sales",
        "issue_history",
        "issues",
        "order_search",
        "order_summary",
        "product_search",
        "products",
    ];
    if crate::helpers::cache().is_some() {
        expected.insert(0, "customer_orders_cache");
    }
    assert_eq!(names, expected);
    assert!(ready.get("degraded").is_none(), "{ready}");

    let metrics = server.get("/metrics").await.expect(200);
    assert!(
        metrics
            .header("content-type")
            .is_some_and(|c| c.starts_with("text/plain"))
    );
    for needle in [
        "http_requests_total{method=\"POST\",route=\"/api/orders\",status=\"202\"} 1",
        "http_request_duration_seconds_bucket{method=\"POST\",route=\"/api/orders\",status=\"202\",le=",
        "projector_events_appended_total 3",
        "projector_projection_checkpoint{projection=\"order_summary\"} 3",
        "projector_projection_lag_events{projection=\"order_summary\"} 0",
        "projector_projection_lag_seconds{projection=\"order_summary\"} 0",
        "projector_projection_batch_size_bucket{projection=\"order_summary\",le=",
        "projector_read_model_upserts_total{projection=\"order_summary\"} 1",
        "projector_read_model_misses_total{projection=\"order_summary\"} 1",
        "projector_projection_dead_letters{projection=\"order_summary\"} 0",
    ] {
        assert!(
            metrics.text.contains(needle),
            "metrics lack {needle}:\n{}",
            metrics.text
        );
    }
}

pub async fn correlation_ids_are_taken_or_made_and_returned() {
    let server = Server::start().await;
    let body = json!({"id": "o1", "customer_id": "c1", "items": [{"sku": "a", "quantity": 1, "unit_price": 1}]});
    let given = server
        .send(
            Method::POST,
            "/api/orders",
            Some(&body),
            &[("X-Correlation-Id", "trace-abc")],
        )
        .await
        .expect(202);
    assert_eq!(given.header("x-correlation-id"), Some("trace-abc"));
    let made = server.get("/api/orders/o1/history").await.expect(200);
    let made_id = made
        .header("x-correlation-id")
        .expect("a correlation id is made");
    assert_eq!(made_id.len(), 36);
    let problem = server
        .send(
            Method::POST,
            "/api/orders",
            Some(&json!({})),
            &[("X-Correlation-Id", "trace-bad")],
        )
        .await
        .expect(422);
    assert_eq!(problem.json()["correlation_id"], "trace-bad");
    let history = made.json();
    assert!(
        history["events"]
            .as_array()
            .expect("events")
            .iter()
            .all(|e| e["correlation_id"] == "trace-abc")
    );
    server
        .wait_for_log("of the access log carrying the correlation id", |l| {
            l.contains("request completed") && l.contains("trace-abc")
        })
        .await;
}

/// A method the API does not know is counted and logged as `other`: a client sending a new
/// method token on every request can neither add a metric series each time nor flood the log.
#[tokio::test]
async fn arbitrary_methods_add_no_series_and_no_log_flood() {
    let server = Server::start().await;
    let long = "X".repeat(20_000);
    for method in ["FOOBARBAZ", long.as_str()] {
        let method = reqwest::Method::from_bytes(method.as_bytes()).expect("a method token");
        let reply = server.send(method, "/api/orders", None, &[]).await;
        assert_eq!(reply.status, 405, "{}", reply.text);
    }
    let metrics = server.get("/metrics").await.expect(200).text;
    assert!(
        !metrics.contains("FOOBARBAZ") && !metrics.contains("XXXX"),
        "the method became a label"
    );
    assert!(metrics.contains(r#"method="other""#), "{metrics}");
    let longest = server
        .log_lines()
        .iter()
        .map(String::len)
        .max()
        .unwrap_or(0);
    assert!(longest < 5_000, "a log line of {longest} bytes");
}

/// The mode of `path`.
fn mode(path: &std::path::Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .permissions()
        .mode()
}

/// Every directory under `dir` (itself included), and every file directly in a directory of
/// `databases`.
fn private_entries(
    dir: &std::path::Path,
    databases: &[std::path::PathBuf],
) -> Vec<std::path::PathBuf> {
    let mut entries = vec![dir.to_path_buf()];
    for entry in std::fs::read_dir(dir).expect("read the directory") {
        let path = entry.expect("an entry").path();
        if path.is_dir() {
            entries.extend(private_entries(&path, databases));
        } else if databases.iter().any(|d| path.parent() == Some(d.as_path())) {
            entries.push(path);
        }
    }
    entries
}

/// The data directory is its owner's only: one made by hand open to everyone is tightened
/// (and the log says so), every directory in it is `0700` and every database file `0600`; and
/// a database password reaches neither the logs, nor `--help`, nor the command line's output.
#[tokio::test]
async fn data_stays_private_and_passwords_stay_out_of_sight() {
    use std::os::unix::fs::PermissionsExt;

    let dir = projector_testkit::temp_dir();
    let data = dir.path().join("data");
    std::fs::create_dir(&data).expect("a data directory made by hand");
    std::fs::write(data.join("notes.txt"), "left here").expect("a file");
    for (path, mode) in [(&data, 0o755), (&data.join("notes.txt"), 0o644)] {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).expect("chmod");
    }
    let server = Server::start_with(crate::helpers::Storage::Sqlite(dir)).await;
    server.place("o1", "c1", &[("a", 1, 1.0)]).await;
    server.ready().await;
    let tightened = server
        .wait_for_log("saying the data directory was tightened", |line| {
            line.contains("tightened")
        })
        .await;
    assert!(tightened.contains("WARN"), "{tightened}");
    let entries = private_entries(&data, &[data.clone(), data.join("read")]);
    for name in ["events.db", "events.db-wal", "idempotency.db", "notes.txt"] {
        assert!(
            entries.contains(&data.join(name)),
            "no {name} in {entries:?}"
        );
    }
    assert!(
        entries
            .iter()
            .any(|e| e.starts_with(data.join("read")) && e.extension().is_some_and(|x| x == "db")),
        "no read model in {entries:?}"
    );
    assert!(entries.contains(&data.join("search")));
    for entry in &entries {
        let mode = mode(entry);
        assert_eq!(mode & 0o077, 0, "{} is mode {mode:o}", entry.display());
    }

    let Some(database) = projector_testkit::postgres::TestDatabase::create().await else {
        return;
    };
    let secret = "hunter2-not-a-real-password";
    let url = database
        .url()
        .replacen("postgres@", &format!("postgres:{secret}@"), 1);
    assert!(url.contains(secret), "{url}");
    let server = Server::start_on_database(&url).await;
    server.ready().await;
    let logs = server.log_lines().join("\n");
    assert!(
        logs.contains("postgres:***@"),
        "the log names the database: {logs}"
    );
    assert!(!logs.contains(secret), "the password is in the log");
    let status = crate::helpers::projector(
        &["status", "--database-url", &url],
        &[],
        std::time::Duration::from_secs(60),
    )
    .await;
    assert!(status.success, "{}", status.stderr);
    assert!(!status.stdout.contains(secret) && !status.stderr.contains(secret));
    let help = std::process::Command::new(env!("CARGO_BIN_EXE_projector"))
        .args(["serve", "--help"])
        .env("PROJECTOR_DATABASE_URL", &url)
        .output()
        .expect("help");
    let help = String::from_utf8_lossy(&help.stdout);
    assert!(
        help.contains("PROJECTOR_DATABASE_URL") && !help.contains(secret),
        "{help}"
    );
}
