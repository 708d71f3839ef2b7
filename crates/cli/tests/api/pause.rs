//! Pausing a projection over the admin API and from the command line: a paused projection
//! applies nothing while it serves what it has, shows `paused` in the admin list and in
//! `projector status`, stays paused across a restart of the server, and carries on once
//! resumed. And a rebuild from a chosen position (a backfill), with its bad bodies refused.

use std::time::Duration;

use projector_testkit::wait::eventually;
use serde_json::{Value, json};

use crate::admin::projection;
use crate::helpers::{Server, projector};

/// Longer than any of these commands needs; a command still running then is a hang.
const LIMIT: Duration = Duration::from_secs(60);
const NAME: &str = "order_summary";

/// Waits until `GET /admin/projections` shows `NAME` as `accepts` says, and returns its entry.
async fn wait_entry(server: &Server, what: &str, accepts: impl Fn(&Value) -> bool) -> Value {
    eventually(&format!("{NAME} {what}"), || async {
        let (entry, _) = projection(server, NAME).await;
        if accepts(&entry) {
            Ok(entry)
        } else {
            Err(entry)
        }
    })
    .await
}

/// `projector status --json`'s line of `NAME`.
async fn status_line(storage: &[std::ffi::OsString]) -> Value {
    let output = projector(&["status", "--json"], storage, LIMIT).await;
    assert!(output.success, "status failed: {}", output.stderr);
    let report: Value = serde_json::from_str(&output.stdout).expect("JSON");
    report["projections"]
        .as_array()
        .expect("projections")
        .iter()
        .find(|p| p["projection"] == NAME)
        .cloned()
        .expect("listed")
}

/// A read of order `id` that needs `position`: 200 once reached, 503 when not in 300 ms.
async fn read_at(server: &Server, id: &str, position: u64) -> u16 {
    server
        .get(&format!(
            "/api/orders/{id}/projection?min_position={position}&wait_ms=300"
        ))
        .await
        .status
        .as_u16()
}

pub async fn a_pause_holds_across_a_restart_until_resumed() {
    let mut server = Server::start().await;
    server.ready().await;
    let reached = server.place("p-1", "c1", &[("a", 1, 1.0)]).await;
    server.wait_every_projection_at(reached).await;

    let paused = server
        .post_empty(&format!("/admin/projections/{NAME}/pause"))
        .await
        .expect(200)
        .json();
    assert_eq!(paused["state"], "paused", "{paused}");
    assert_eq!(paused["checkpoint"], reached, "{paused}");
    assert_eq!(paused["paused_by"], "anonymous", "{paused}");
    let again = server
        .post_empty(&format!("/admin/projections/{NAME}/pause"))
        .await
        .expect(409);
    assert_eq!(
        again.header("content-type"),
        Some("application/problem+json")
    );
    let (entry, _) = projection(&server, NAME).await;
    assert_eq!(entry["state"], "paused", "{entry}");
    assert_eq!(entry["paused"], true, "{entry}");
    server
        .wait_for_log("of the pause, naming who asked", |l| {
            l.contains("\"action\":\"pause\"") && l.contains("\"by\":\"anonymous\"")
        })
        .await;

    // Writes go on; the paused read model serves what it has and does not move.
    let wanted = server.place("p-2", "c1", &[("a", 2, 1.0)]).await;
    assert_eq!(read_at(&server, "p-1", reached).await, 200);
    assert_eq!(read_at(&server, "p-2", wanted).await, 503);
    let line = status_line(&server.storage_args()).await;
    assert_eq!(line["paused"], true, "{line}");
    assert_eq!(line["checkpoint"], reached, "{line}");
    // A deliberate pause leaves the server ready, saying so.
    let ready = server.get("/ready").await.expect(200).json();
    assert!(
        ready["degraded"].as_array().is_some_and(|d| d
            .iter()
            .any(|p| p.as_str().is_some_and(|p| p.contains("paused")))),
        "{ready}"
    );

    let storage = server.keep_storage();
    assert!(server.terminate(), "a clean exit on SIGTERM");
    let server = Server::start_with(storage).await;
    let entry = wait_entry(&server, "paused again after the restart", |e| {
        e["state"] == "paused"
    })
    .await;
    assert_eq!(entry["checkpoint"], reached, "{entry}");
    assert_eq!(read_at(&server, "p-2", wanted).await, 503);

    let resumed = server
        .post_empty(&format!("/admin/projections/{NAME}/resume"))
        .await
        .expect(200)
        .json();
    // It may have moved on by the time the answer reads its checkpoint.
    assert!(resumed["checkpoint"].as_u64() >= Some(reached), "{resumed}");
    assert_eq!(server.order("p-2", wanted).await["item_count"], 2);
    let (entry, _) = projection(&server, NAME).await;
    assert_eq!(entry["paused"], false, "{entry}");
    server
        .post_empty(&format!("/admin/projections/{NAME}/resume"))
        .await
        .expect(409);
}

pub async fn pause_and_resume_from_the_command_line() {
    let mut server = Server::start().await;
    server.ready().await;
    let reached = server.place("c-1", "c1", &[("a", 1, 1.0)]).await;
    server.wait_every_projection_at(reached).await;

    // Through the server.
    let through = ["--server", server.base.as_str()];
    let paused = projector(&[&["pause", NAME][..], &through].concat(), &[], LIMIT).await;
    assert!(paused.success, "{}", paused.stderr);
    assert!(
        paused.stdout.contains("paused order_summary"),
        "{}",
        paused.stdout
    );
    wait_entry(&server, "paused", |e| e["state"] == "paused").await;
    let twice = projector(&[&["pause", NAME][..], &through].concat(), &[], LIMIT).await;
    assert!(!twice.success, "{}", twice.stdout);
    let resumed = projector(&[&["resume", NAME][..], &through].concat(), &[], LIMIT).await;
    assert!(resumed.success, "{}", resumed.stderr);
    wait_entry(&server, "resumed", |e| e["paused"] == false).await;

    // On the storage, beside the running server: it reads the pause within a second.
    let storage = server.storage_args();
    let paused = projector(&["pause", NAME], &storage, LIMIT).await;
    assert!(paused.success, "{}", paused.stderr);
    wait_entry(&server, "paused by the CLI", |e| e["state"] == "paused").await;
    let wanted = server.place("c-2", "c1", &[("a", 1, 1.0)]).await;
    assert_eq!(read_at(&server, "c-2", wanted).await, 503);
    let unknown = projector(&["pause", "no_such_projection"], &storage, LIMIT).await;
    assert!(!unknown.success, "{}", unknown.stdout);

    // And with the server stopped: still paused when it starts again.
    let kept = server.keep_storage();
    assert!(server.terminate(), "a clean exit on SIGTERM");
    let line = status_line(&storage).await;
    assert_eq!(line["paused"], true, "{line}");
    let server = Server::start_with(kept).await;
    wait_entry(&server, "paused after the restart", |e| {
        e["state"] == "paused"
    })
    .await;
    let resumed = projector(&["resume", NAME], &storage, LIMIT).await;
    assert!(resumed.success, "{}", resumed.stderr);
    assert_eq!(server.order("c-2", wanted).await["item_count"], 1);
    let again = projector(&["resume", NAME], &storage, LIMIT).await;
    assert!(!again.success, "nothing to resume: {}", again.stdout);
}

pub async fn a_rebuild_from_a_position_holds_only_the_events_from_there() {
    let server = Server::start().await;
    server.ready().await;
    let early = server.place("b-1", "c1", &[("a", 1, 1.0)]).await;
    let late = server.place("b-2", "c1", &[("a", 1, 1.0)]).await;
    server.wait_every_projection_at(late).await;
    let rebuild = format!("/admin/projections/{NAME}/rebuild");

    // Bad bodies are named and change nothing.
    for (body, field) in [
        (json!({"from_position": 0}), "from_position"),
        (json!({"from_position": "x"}), "from_position"),
        (json!({"since": "yesterday"}), "since"),
        (
            json!({"from_position": 1, "since": "2026-01-01T00:00:00Z"}),
            "since",
        ),
        (json!({"to": 3}), "to"),
    ] {
        let reply = server.post(&rebuild, &body).await.expect(422);
        assert!(
            reply.fields().contains(&field.to_owned()),
            "{body}: {}",
            reply.text
        );
    }
    server.post(&rebuild, &json!([1])).await.expect(400);
    // Well formed but past the head: a conflict with the store's state, not a bad field.
    let past = server
        .post(&rebuild, &json!({"from_position": late + 2}))
        .await
        .expect(409);
    assert!(past.text.contains("past the head"), "{}", past.text);
    let (entry, _) = projection(&server, NAME).await;
    assert_eq!(entry["generation"], 1, "{entry}");
    assert!(entry["rebuild"].is_null(), "{entry}");

    // From the first event of the second order: the first is never applied.
    let started = server
        .post(&rebuild, &json!({"from_position": early + 1}))
        .await
        .expect(202)
        .json();
    let generation = started["generation"].as_u64().expect("generation");
    wait_entry(&server, "swapped in", |e| {
        e["generation"] == generation && e["rebuild"].is_null()
    })
    .await;
    assert_eq!(server.order("b-2", late).await["item_count"], 1);
    server
        .get(&format!("/api/orders/b-1/projection?min_position={late}"))
        .await
        .expect(404);

    // From a time before everything: the whole history again.
    let started = server
        .post(&rebuild, &json!({"since": "2000-01-01T00:00:00Z"}))
        .await
        .expect(202)
        .json();
    let generation = started["generation"].as_u64().expect("generation");
    wait_entry(&server, "swapped in", |e| {
        e["generation"] == generation && e["rebuild"].is_null()
    })
    .await;
    assert_eq!(server.order("b-1", late).await["item_count"], 1);
}

pub async fn a_rebuild_from_the_command_line_starts_where_asked() {
    let mut server = Server::start().await;
    server.ready().await;
    let early = server.place("r-1", "c1", &[("a", 1, 1.0)]).await;
    let late = server.place("r-2", "c1", &[("a", 3, 1.0)]).await;
    server.wait_every_projection_at(late).await;
    let storage = server.storage_args();
    let kept = server.keep_storage();
    assert!(server.terminate(), "a clean exit on SIGTERM");

    let from = (early + 1).to_string();
    let rebuilt = projector(
        &["rebuild", NAME, "--from-position", &from],
        &storage,
        LIMIT,
    )
    .await;
    assert!(rebuilt.success, "{}", rebuilt.stderr);
    assert!(
        rebuilt.stdout.contains(&format!(
            "rebuilt {NAME}: generation g2 serves reads at position {late}"
        )),
        "{}",
        rebuilt.stdout
    );
    let server = Server::start_with(kept).await;
    assert_eq!(server.order("r-2", late).await["item_count"], 3);
    server
        .get(&format!("/api/orders/r-1/projection?min_position={late}"))
        .await
        .expect(404);
}
