//! Dead letters over the admin API: a projection stopped at an event (its read model broken
//! under the server) lists its letter, shows it with the event, retries it (failing again,
//! then applied once mended), skips the next ones and retries them later; every action logged
//! with who asked; problems for bad positions, unknown letters and projections.

use projector_testkit::wait::eventually;
use serde_json::Value;

use crate::admin::projection;
use crate::helpers::Server;

const PROJECTION: &str = "order_summary";
const LETTERS: &str = "/admin/projections/order_summary/dead-letters";

/// Breaks the order summary's table under the server, so its next event fails.
pub async fn break_read_model(server: &Server) {
    server
        .storage()
        .alter_read_model(
            PROJECTION,
            "ALTER TABLE order_summary RENAME COLUMN order_id TO order_key",
        )
        .await;
}

pub async fn mend_read_model(server: &Server) {
    server
        .storage()
        .alter_read_model(
            PROJECTION,
            "ALTER TABLE order_summary RENAME COLUMN order_key TO order_id",
        )
        .await;
}

/// Waits until the order summary is in `state`, and returns its entry.
pub async fn wait_state(server: &Server, state: &str) -> Value {
    eventually(&format!("{PROJECTION} {state}"), || async {
        let (entry, _) = projection(server, PROJECTION).await;
        if entry["state"] == state {
            Ok(entry)
        } else {
            Err(entry)
        }
    })
    .await
}

fn letters(server_answer: &Value) -> &Vec<Value> {
    server_answer["dead_letters"]
        .as_array()
        .expect("dead_letters")
}

/// A projection stopped at an event: listed, shown with its event, retried while still
/// broken (failed, with one more attempt) and once mended (applied, and it goes on); the next
/// one skipped (it goes on without it) and retried later (applied behind the checkpoint).
pub async fn a_stopped_projections_letter_is_shown_retried_and_skipped_over_http() {
    let server = Server::start().await;
    let first = server.place("o1", "c1", &[("a", 1, 1.0)]).await;
    server.order("o1", first).await;
    break_read_model(&server).await;
    let blocked = server.place("o2", "c1", &[("a", 2, 1.0)]).await;

    let stopped = wait_state(&server, "stopped").await;
    let at = stopped["stopped_at"].as_u64().expect("stopped_at");
    let list = server.get(LETTERS).await.expect(200).json();
    assert_eq!(list["projection"], PROJECTION);
    let listed = letters(&list);
    assert_eq!(listed.len(), 1, "{list}");
    let letter = &listed[0];
    assert_eq!(letter["position"], at);
    assert!(
        letter["stream_id"]
            .as_str()
            .is_some_and(|s| s.ends_with("o2")),
        "{letter}"
    );
    assert_eq!(letter["skipped"], false);
    let attempts = letter["attempts"].as_u64().expect("attempts");
    assert!(attempts >= 1, "{letter}");

    let shown = server
        .get(&format!("{LETTERS}/{at}"))
        .await
        .expect(200)
        .json();
    assert_eq!(shown["dead_letter"]["position"], at);
    let event = &shown["event"];
    assert_eq!(event["position"], at, "{shown}");
    assert_eq!(event["event_id"], letter["event_id"]);
    assert_eq!(event["stream_id"], letter["stream_id"]);
    assert!(event["data"].is_object(), "{shown}");
    assert!(event["metadata"]["correlation_id"].is_string(), "{shown}");

    // Still broken: the retry fails, and says so with the letter's new state.
    let failed = server
        .post_empty(&format!("{LETTERS}/{at}/retry"))
        .await
        .expect(200)
        .json();
    assert_eq!(failed["outcome"], "failed", "{failed}");
    assert_eq!(failed["attempts"], attempts + 1);
    assert!(failed["error"].is_string());
    let (entry, _) = projection(&server, PROJECTION).await;
    assert_eq!(entry["state"], "stopped", "{entry}");
    assert_eq!(entry["checkpoint"], at - 1, "{entry}");
    server
        .wait_for_log("naming the retry and who asked", |line| {
            line.contains("dead letter retry requested") && line.contains("anonymous")
        })
        .await;

    // Mended: applied, the letter is gone and the projection goes on.
    mend_read_model(&server).await;
    let applied = server
        .post_empty(&format!("{LETTERS}/{at}/retry"))
        .await
        .expect(200)
        .json();
    assert_eq!(applied["outcome"], "applied", "{applied}");
    assert_eq!(server.order("o2", blocked).await["status"], "confirmed");
    assert!(letters(&server.get(LETTERS).await.expect(200).json()).is_empty());
    server.get(&format!("{LETTERS}/{at}")).await.expect(404);
    server
        .post_empty(&format!("{LETTERS}/{at}/retry"))
        .await
        .expect(404);

    // Broken again: this time the letter is skipped, and the projection goes on without it,
    // stopping at each later event of that order (it has no summary), skipped in turn.
    break_read_model(&server).await;
    let third = server.place("o3", "c1", &[("a", 3, 1.0)]).await;
    let stopped = wait_state(&server, "stopped").await;
    let at = stopped["stopped_at"].as_u64().expect("stopped_at");
    mend_read_model(&server).await;
    let skipped = server
        .post_empty(&format!("{LETTERS}/{at}/skip"))
        .await
        .expect(200)
        .json();
    assert_eq!(skipped["position"], at, "{skipped}");
    assert_eq!(skipped["skipped"], true, "{skipped}");
    let skipped = std::sync::Mutex::new(vec![at]);
    eventually(
        "the projection past o3, each event it stops at skipped",
        || async {
            let (entry, _) = projection(&server, PROJECTION).await;
            match entry["stopped_at"].as_u64() {
                Some(next) if !skipped.lock().expect("skipped").contains(&next) => {
                    server
                        .post_empty(&format!("{LETTERS}/{next}/skip"))
                        .await
                        .expect(200);
                    skipped.lock().expect("skipped").push(next);
                    Err(entry)
                }
                _ if entry["checkpoint"].as_u64() >= Some(third) => Ok(()),
                _ => Err(entry),
            }
        },
    )
    .await;
    let skipped = skipped.into_inner().expect("skipped");
    let after = server.place("o4", "c1", &[("a", 4, 1.0)]).await;
    assert_eq!(server.order("o4", after).await["status"], "confirmed");
    server
        .get(&format!("/api/orders/o3/projection?min_position={after}"))
        .await
        .expect(404);
    let again = server
        .post_empty(&format!("{LETTERS}/{at}/skip"))
        .await
        .expect(409)
        .json();
    assert_eq!(again["type"], "urn:projector:problem:conflict");
    assert!(
        again["detail"]
            .as_str()
            .is_some_and(|d| d.contains("skipped already")),
        "{again}"
    );
    server
        .wait_for_log("naming the skip and who asked", |line| {
            line.contains("dead letter skip requested") && line.contains("anonymous")
        })
        .await;

    // Retrying every letter applies the skipped ones behind the checkpoint, in order.
    let all = server
        .post_empty(&format!("{LETTERS}/retry"))
        .await
        .expect(200)
        .json();
    let retried: Vec<(u64, &str)> = all["retried"]
        .as_array()
        .expect("retried")
        .iter()
        .map(|r| {
            (
                r["position"].as_u64().expect("position"),
                r["outcome"].as_str().expect("outcome"),
            )
        })
        .collect();
    assert_eq!(
        retried,
        skipped.iter().map(|p| (*p, "applied")).collect::<Vec<_>>(),
        "{all}"
    );
    assert_eq!(server.order("o3", after).await["status"], "confirmed");
    let (entry, _) = projection(&server, PROJECTION).await;
    assert_eq!(entry["dead_letters"], 0, "{entry}");
    assert_eq!(entry["state"], "live", "{entry}");
}

/// Bad positions are named, unknown letters and projections are 404, and a projection without
/// dead letters lists none.
pub async fn bad_positions_and_unknown_letters_are_refused() {
    let server = Server::start().await;
    server.ready().await;
    let empty = server.get(LETTERS).await.expect(200).json();
    assert!(letters(&empty).is_empty(), "{empty}");
    let all = server
        .post_empty(&format!("{LETTERS}/retry"))
        .await
        .expect(200)
        .json();
    assert_eq!(all["retried"], Value::Array(Vec::new()));

    for bad in ["abc", "-1", "1.5", "99999999999999999999"] {
        let refused = server
            .post_empty(&format!("{LETTERS}/{bad}/retry"))
            .await
            .expect(422);
        assert_eq!(refused.fields(), ["path.position"], "{bad}");
        server.get(&format!("{LETTERS}/{bad}")).await.expect(422);
    }
    let unknown = server
        .post_empty(&format!("{LETTERS}/7/skip"))
        .await
        .expect(404)
        .json();
    assert!(
        unknown["detail"]
            .as_str()
            .is_some_and(|d| d.contains("no dead letter at position 7")),
        "{unknown}"
    );
    server.get(&format!("{LETTERS}/7")).await.expect(404);
    server
        .post_empty(&format!("{LETTERS}/7/retry"))
        .await
        .expect(404);
    server
        .get("/admin/projections/no_such_thing/dead-letters")
        .await
        .expect(404);
    server
        .post_empty("/admin/projections/no_such_thing/dead-letters/1/retry")
        .await
        .expect(404);
    let invalid = server
        .get("/admin/projections/Order-Summary/dead-letters/x")
        .await
        .expect(422);
    assert_eq!(invalid.fields(), ["path.name", "path.position"]);
}
