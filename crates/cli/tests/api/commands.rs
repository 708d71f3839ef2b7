//! `projector status` and `projector rebuild` beside a running server, on the server's storage:
//! status reads without disturbing it (on PostgreSQL naming the process that holds each
//! projection), a rebuild refuses while the server runs the projection, and once it has stopped
//! the rebuild swaps in a new generation that serves the same reads.

use serde_json::Value;

use crate::helpers::{Backend, Server, Storage};

fn stdout(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// The `status --json` line of `projection`, and the head.
fn status(storage: &Storage, projection: &str) -> (Value, u64) {
    let output = storage.command(&["status", "--json"]);
    assert!(
        output.status.success(),
        "status failed: {}",
        stderr(&output)
    );
    let report: Value = serde_json::from_str(&stdout(&output)).expect("status JSON");
    let line = report["projections"]
        .as_array()
        .expect("projections")
        .iter()
        .find(|p| p["projection"] == projection)
        .unwrap_or_else(|| panic!("{projection} in {report}"))
        .clone();
    (line, report["head"].as_u64().expect("head"))
}

pub async fn status_and_rebuild_run_beside_a_server_on_its_storage() {
    let mut server = Server::start().await;
    let mut last = 0;
    for i in 0..6 {
        last = server
            .place(&format!("r{i}"), "c1", &[("a", 1 + i, 2.5), ("b", 1, 0.5)])
            .await;
    }
    let before = server.order("r5", last).await;

    let (line, head) = status(server.storage(), "order_summary");
    assert_eq!(head, last);
    assert_eq!(line["checkpoint"], last, "{line}");
    assert_eq!(line["lag_events"], 0);
    assert_eq!(line["dead_letters"], 0);
    let first_generation = line["generation"].as_str().expect("generation").to_owned();
    match Backend::current() {
        Backend::Postgres => assert!(
            line["held_by"]
                .as_str()
                .is_some_and(|h| h.contains("backend pid")),
            "the server holds the projection: {line}"
        ),
        Backend::Sqlite => assert!(line.get("held_by").is_none(), "{line}"),
    }

    let refused = server.storage().command(&["rebuild", "order_summary"]);
    assert!(
        !refused.status.success(),
        "a rebuild beside the server running it is refused"
    );
    let message = stderr(&refused);
    assert!(message.contains("stop"), "{message}");
    if Backend::current() == Backend::Postgres {
        assert!(
            message.contains("backend pid"),
            "names the holder: {message}"
        );
    }
    assert_eq!(
        status(server.storage(), "order_summary").0["generation"],
        first_generation
    );

    let storage = server.keep_storage();
    assert!(server.terminate(), "the server stops cleanly");
    let rebuilt = storage.command(&["rebuild", "order_summary", "--batch-size", "2"]);
    assert!(
        rebuilt.status.success(),
        "rebuild failed: {}",
        stderr(&rebuilt)
    );
    assert!(
        stdout(&rebuilt).starts_with("rebuilt order_summary: generation"),
        "{}",
        stdout(&rebuilt)
    );
    let (line, head) = status(&storage, "order_summary");
    assert_ne!(
        line["generation"], first_generation,
        "a new generation serves"
    );
    assert_eq!((line["checkpoint"].as_u64(), head), (Some(last), last));

    let server = Server::start_with(storage).await;
    assert_eq!(
        server.order("r5", last).await,
        before,
        "the rebuilt read model answers the same"
    );
}
