//! The admin API: projections listed with their state, generation, checkpoint, lag, dead
//! letters and rebuild; a rebuild without downtime (refused while one runs, carried on after a
//! crash); resume; problems for unknown and invalid names; and a standby that says the
//! projection runs elsewhere.

use std::time::Duration;

use projector_testkit::wait::{eventually, eventually_every};
use reqwest::Method;
use serde_json::Value;

use crate::helpers::{Server, Storage};
use crate::rebuilt;

/// Places `count` orders of two items (four events each); returns the last position.
async fn place_orders(server: &Server, count: usize) -> u64 {
    let mut last = 0;
    for i in 0..count {
        last = server
            .place(
                &format!("o{i}"),
                &format!("c{}", i % 5),
                &[("a", 1 + (i % 3) as u32, 2.5), ("b", 1, 0.75)],
            )
            .await;
    }
    last
}

/// The order's read model once it has applied `position`, waiting as long as a projection of
/// one event per transaction may need.
async fn order(server: &Server, id: &str, position: u64) -> Value {
    server
        .get(&format!(
            "/api/orders/{id}/projection?min_position={position}&wait_ms=30000"
        ))
        .await
        .expect(200)
        .json()
}

/// The entry of `name` in `GET /admin/projections`, and the head it reports.
pub async fn projection(server: &Server, name: &str) -> (Value, u64) {
    let list = server.get("/admin/projections").await.expect(200).json();
    let head = list["head"].as_u64().expect("head");
    let entry = list["projections"]
        .as_array()
        .expect("projections")
        .iter()
        .find(|p| p["name"] == name)
        .cloned()
        .unwrap_or_else(|| panic!("{name} is not listed: {list}"));
    (entry, head)
}

/// Polls `GET /admin/projections` until `name` serves `generation` with no rebuild running,
/// and returns its entry.
async fn wait_swapped_in(server: &Server, name: &str, generation: u64) -> Value {
    eventually(&format!("{name} to swap {generation} in"), || async {
        let (entry, head) = projection(server, name).await;
        if entry["generation"] == generation && entry["rebuild"].is_null() {
            return Ok(entry);
        }
        if let Some(rebuild) = entry["rebuild"].as_object() {
            assert_eq!(rebuild["generation"], generation, "{entry}");
            let checkpoint = rebuild["checkpoint"].as_u64().expect("checkpoint");
            assert!(checkpoint <= head, "{entry}");
            assert_eq!(
                rebuild["remaining_events"].as_u64(),
                Some(head - checkpoint),
                "{entry}"
            );
        }
        Err(entry)
    })
    .await
}

pub async fn projections_are_listed_and_rebuilt_without_downtime() {
    // One event per transaction, so the rebuild takes long enough to be seen and refused.
    let server = Server::start_with_args(Storage::fresh().await, &["--batch-size", "1"]).await;
    let last = place_orders(&server, 100).await;
    let before = order(&server, "o42", last).await;
    server.ready().await;

    let list = server.get("/admin/projections").await.expect(200).json();
    assert_eq!(list["head"], last);
    let names: Vec<&str> = list["projections"]
        .as_array()
        .expect("projections")
        .iter()
        .filter_map(|p| p["name"].as_str())
        .collect();
    assert!(
        names.contains(&"order_summary") && names.contains(&"issues"),
        "{names:?}"
    );
    let (summary, _) = projection(&server, "order_summary").await;
    assert_eq!(summary["state"], "live", "{summary}");
    assert_eq!(summary["generation"], 1);
    assert_eq!(
        summary["version"], 4,
        "with the position of each customer's region"
    );
    assert_eq!(summary["checkpoint"], last);
    assert_eq!(summary["lag_events"], 0);
    assert_eq!(summary["lag_seconds"], 0.0);
    assert_eq!(summary["dead_letters"], 0);
    assert!(summary["rebuild"].is_null());
    assert!(summary["last_event_at"].is_string());

    let started = server
        .post_empty("/admin/projections/order_summary/rebuild")
        .await
        .expect(202);
    assert_eq!(started.header("location"), Some("/admin/projections"));
    let body = started.json();
    assert_eq!(body["projection"], "order_summary");
    assert_eq!(body["generation"], 2);

    let again = server
        .post_empty("/admin/projections/order_summary/rebuild")
        .await
        .expect(409);
    assert_eq!(
        again.header("content-type"),
        Some("application/problem+json")
    );
    let problem = again.json();
    assert_eq!(problem["type"], "urn:projector:problem:rebuild-in-progress");
    assert!(
        problem["detail"]
            .as_str()
            .is_some_and(|d| d.contains("generation 2")),
        "{problem}"
    );

    // Reads go on during the rebuild, and after the swap find the same order.
    assert_eq!(order(&server, "o42", last).await, before);
    let after = wait_swapped_in(&server, "order_summary", 2).await;
    assert_eq!(after["checkpoint"], last);
    assert_eq!(order(&server, "o42", last).await, before);
    let next = server.place("after", "c1", &[("a", 1, 1.0)]).await;
    assert_eq!(order(&server, "after", next).await["status"], "confirmed");
}

pub async fn a_rebuild_cut_short_by_a_crash_is_finished_after_a_restart() {
    let mut server = Server::start_with_args(Storage::fresh().await, &["--batch-size", "1"]).await;
    let last = place_orders(&server, 100).await;
    let before = order(&server, "o7", last).await;
    // order_summary applies every event of an order, so a rebuild from zero applies `last`.
    assert_eq!(
        events_applied(&server, "order_summary").await,
        last,
        "order_summary applied every event once"
    );
    let generation = server
        .post_empty("/admin/projections/order_summary/rebuild")
        .await
        .expect(202)
        .json()["generation"]
        .as_u64()
        .expect("generation");
    // Killed while the rebuild is under way: past half of it, short of its last quarter, so
    // it is still under way at the kill and what is left is less than a restart from zero
    // would apply.
    let reached = rebuild_checkpoint_between(&server, last / 2, last - last / 4).await;
    let storage = server.keep_storage();
    server.kill();

    // Restarted with the default batch size, so its search indexes, one event per commit
    // behind at the kill, catch up in seconds rather than minutes.
    let server = Server::start_with(storage).await;
    // The restarted server carries the rebuild on from the checkpoint it kept, in the same
    // generation, rather than starting over. Its worker stays "starting" while only the
    // rebuild has work (the serving generation is at the head), so that is told from what it
    // did, not from a state seen on the way: it swaps in the generation the crash cut short,
    // and its own count of events applied is what was left after the checkpoint reached
    // before the kill (a rebuild from zero would apply `last`), and not nothing (the rebuild
    // was still under way at the kill).
    let after = wait_swapped_in(&server, "order_summary", generation).await;
    assert_eq!(after["checkpoint"], last);
    assert_eq!(order(&server, "o7", last).await, before);
    let applied = events_applied(&server, "order_summary").await;
    assert!(
        applied <= last - reached,
        "the restarted server applied {applied} events, more than the {} left after {reached} \
         of {last}: the rebuild started over",
        last - reached
    );
    assert!(
        applied > 0,
        "the restarted server applied nothing: the rebuild was over before the kill"
    );

    // Nothing applied twice, nothing lost: every table of every read model, and every search
    // index, equals a rebuild from scratch of the same events.
    server.wait_every_projection_at(last).await;
    let rebuilt = match server.storage() {
        Storage::Sqlite(dir) => rebuilt::rebuilt(&dir.path().join("data").join("events.db")).await,
        Storage::Postgres(database, _) => rebuilt::rebuilt_from_postgres(database.url()).await,
    };
    let mut server = server;
    let storage = server.keep_storage();
    assert!(server.terminate(), "the server stops cleanly");
    let (kept, positions) = match &storage {
        Storage::Sqlite(dir) => rebuilt::kept(&dir.path().join("data")).await,
        Storage::Postgres(database, dir) => {
            rebuilt::kept_on_postgres(database.url(), &dir.path().join("data")).await
        }
    };
    for (model, position) in positions {
        assert_eq!(position.get(), last, "{model}");
    }
    rebuilt::assert_equal("after the rebuild carried on", &kept, &rebuilt);
    drop(storage);
}

/// What `projector_projection_events_applied_total` of `projection` says in the server's
/// metrics: the events this process has applied to it, serving and rebuilding (0 before any).
async fn events_applied(server: &Server, projection: &str) -> u64 {
    let metrics = server.get("/metrics").await.expect(200).text;
    let series =
        format!("projector_projection_events_applied_total{{projection=\"{projection}\"}} ");
    metrics
        .lines()
        .find_map(|line| line.strip_prefix(series.as_str()))
        .map_or(0, |value| {
            value
                .trim()
                .parse::<f64>()
                .unwrap_or_else(|e| panic!("{series}{value}: {e}")) as u64
        })
}

/// Waits until the rebuild of `order_summary` has a checkpoint in `low..high`, and returns it.
async fn rebuild_checkpoint_between(server: &Server, low: u64, high: u64) -> u64 {
    eventually_every(
        &format!("the rebuild between {low} and {high}"),
        Duration::from_millis(5),
        || async {
            let (entry, _) = projection(server, "order_summary").await;
            let checkpoint = entry["rebuild"]["checkpoint"].as_u64();
            assert!(
                checkpoint.is_none_or(|c| c < high),
                "the rebuild passed {high} unseen: {entry}"
            );
            checkpoint.filter(|c| (low..high).contains(c)).ok_or(entry)
        },
    )
    .await
}

pub async fn bad_names_unknown_projections_and_nothing_to_resume() {
    let server = Server::start().await;
    server.ready().await;

    let unknown = server
        .post_empty("/admin/projections/no_such_thing/rebuild")
        .await
        .expect(404);
    assert_eq!(unknown.json()["type"], "urn:projector:problem:not-found");
    assert!(unknown.text.contains("no projection named no_such_thing"));
    server
        .post_empty("/admin/projections/no_such_thing/resume")
        .await
        .expect(404);

    let invalid = server
        .post_empty("/admin/projections/Order-Summary/rebuild")
        .await
        .expect(422);
    assert_eq!(invalid.fields(), ["path.name"]);

    let live = server
        .post_empty("/admin/projections/order_summary/resume")
        .await
        .expect(409);
    let problem = live.json();
    assert_eq!(problem["type"], "urn:projector:problem:conflict");
    assert!(
        problem["detail"]
            .as_str()
            .is_some_and(|d| d.contains("not stopped")),
        "{problem}"
    );

    server
        .send(
            Method::GET,
            "/admin/projections/order_summary/rebuild",
            None,
            &[],
        )
        .await
        .expect(405);
}
