//! The database goes away under a running server: writes and reads answer 503 problems, and
//! when it returns the server recovers without a restart and its projections resume from their
//! checkpoints; and a projection stopped at an event its read model refuses is resumed over
//! HTTP once the cause is fixed.

use std::time::{Duration, Instant};

use projector_testkit::postgres::TestDatabase;
use projector_testkit::proxy::Proxy;
use projector_testkit::wait::{eventually, eventually_within};
use reqwest::Method;
use serde_json::json;

use crate::helpers::{Backend, Server};

/// Once the database answers again: an order `id` is written (503 until then, for at most
/// `within`) and read back through its projection, without a restart.
async fn writes_and_reads_again(server: &Server, id: &str, within: Duration) {
    let position = eventually_within("the server to take writes again", within, || async {
        let reply = server
            .post("/api/orders", &json!({"id": id, "customer_id": "c1", "items": [{"sku": "a", "quantity": 2, "unit_price": 1}]}))
            .await;
        if reply.status == 202 {
            return Ok(reply.position());
        }
        assert_eq!(reply.status, 503, "{}", reply.text);
        Err(reply.text)
    })
    .await;
    let order = server
        .get(&format!(
            "/api/orders/{id}/projection?min_position={position}&wait_ms=30000"
        ))
        .await
        .expect(200)
        .json();
    assert_eq!(order["item_count"], 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_server_answers_503_while_the_database_is_away_and_recovers() {
    let Some(database) = TestDatabase::create().await else {
        return;
    };
    let proxy = Proxy::start(database.url()).await;
    let server = Server::start_on_database(proxy.url()).await;
    server.ready().await;
    let before = server.place("o1", "c1", &[("a", 1, 1.0)]).await;
    server.order("o1", before).await;

    proxy.cut();
    let refused = server
        .post("/api/orders", &json!({"id": "o2", "customer_id": "c1", "items": [{"sku": "a", "quantity": 1, "unit_price": 1}]}))
        .await
        .expect(503);
    assert_eq!(
        refused.header("content-type"),
        Some("application/problem+json")
    );
    assert_eq!(refused.json()["type"], "urn:projector:problem:unavailable");
    assert_eq!(refused.header("retry-after"), Some("1"));
    let read = server.get("/api/orders/o1/projection").await.expect(503);
    let ready = server.get("/ready").await.expect(503);
    // The cause (the driver's message, the database's address) goes to the log, not the client.
    for (what, reply) in [("write", &refused), ("read", &read), ("ready", &ready)] {
        let text = reply.text.to_lowercase();
        for leak in ["127.0.0.1", "postgres", "connection", "error", "sql"] {
            assert!(
                !text.contains(leak),
                "the {what} answer shows {leak:?}: {}",
                reply.text
            );
        }
    }
    assert!(ready.json()["problems"].to_string().contains("unavailable"));
    assert!(refused.json()["correlation_id"].is_string());

    proxy.restore();
    writes_and_reads_again(&server, "o3", Duration::from_secs(30)).await;
    server.get("/api/orders/o2/projection").await.expect(404);
    server.ready().await;
}

/// A server-side failure (a read model whose table no longer has the column the query
/// names) is a 500 whose body is generic: problem+json with the correlation id, no SQL, no
/// schema or column names, no database message. The cause is in the log, under that id.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_500_tells_the_client_nothing_and_the_log_everything() {
    Backend::Postgres
        .run(async {
            let server = Server::start().await;
            let position = server.place("o1", "c1", &[("a", 1, 1.0)]).await;
            server.order("o1", position).await;
            server
                .storage()
                .alter_read_model(
                    "order_summary",
                    "ALTER TABLE order_summary RENAME COLUMN order_id TO order_key",
                )
                .await;
            let failed = server
                .send(
                    reqwest::Method::GET,
                    "/api/orders/o1/projection",
                    None,
                    &[("X-Correlation-Id", "broken-read-1")],
                )
                .await;
            assert_eq!(failed.status, 500, "{}", failed.text);
            assert_eq!(
                failed.header("content-type"),
                Some("application/problem+json")
            );
            let problem = failed.json();
            assert_eq!(problem["status"], 500);
            assert_eq!(problem["type"], "urn:projector:problem:internal");
            assert_eq!(problem["correlation_id"], "broken-read-1");
            let text = failed.text.to_lowercase();
            for leak in [
                "order_id",
                "order_summary",
                "does not exist",
                "select",
                "column",
                "rm_",
                "sql",
                "postgres",
                "error:",
            ] {
                assert!(
                    !text.contains(leak),
                    "the answer shows {leak:?}: {}",
                    failed.text
                );
            }
            let logged = server
                .wait_for_log("the cause of the 500", |line| {
                    line.contains("broken-read-1") && line.contains("does not exist")
                })
                .await;
            assert!(logged.contains("order_id"), "{logged}");
        })
        .await;
}

/// A projection whose read model refuses an event (here its table lost a column under the
/// server) stops at that event over HTTP: the admin API shows it `stopped` at the event's
/// position with a dead letter, reads past it answer 503, and once the cause is fixed a resume
/// through the admin API applies the event and everything after it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_projection_stopped_at_an_event_is_resumed_over_http_once_fixed() {
    Backend::Postgres
        .run(async {
            let server = Server::start().await;
            let first = server.place("o1", "c1", &[("a", 1, 1.0)]).await;
            server.order("o1", first).await;
            server
                .storage()
                .alter_read_model(
                    "order_summary",
                    "ALTER TABLE order_summary RENAME COLUMN order_id TO order_key",
                )
                .await;
            let blocked = server.place("o2", "c1", &[("a", 2, 1.0)]).await;

            // Stopped at the first event of o2, after its retries, with a dead letter.
            let stopped = eventually("order_summary to stop", || async {
                let (entry, _) = crate::admin::projection(&server, "order_summary").await;
                if entry["state"] == "stopped" {
                    Ok(entry)
                } else {
                    Err(entry)
                }
            })
            .await;
            assert_eq!(stopped["checkpoint"], first, "{stopped}");
            assert!(stopped["dead_letters"].as_u64() >= Some(1), "{stopped}");
            let refused = server
                .get(&format!(
                    "/api/orders/o2/projection?min_position={blocked}&wait_ms=200"
                ))
                .await;
            assert_eq!(refused.status, 503, "{}", refused.text);

            // Fixed, then resumed over HTTP: the event and those after it are applied.
            server
                .storage()
                .alter_read_model(
                    "order_summary",
                    "ALTER TABLE order_summary RENAME COLUMN order_key TO order_id",
                )
                .await;
            let resumed = server
                .post_empty("/admin/projections/order_summary/resume")
                .await
                .expect(200)
                .json();
            assert_eq!(resumed["checkpoint"], first, "{resumed}");
            assert_eq!(server.order("o2", blocked).await["status"], "confirmed");
            let (entry, _) = crate::admin::projection(&server, "order_summary").await;
            assert_eq!(entry["state"], "live", "{entry}");
            // Nothing more to resume.
            server
                .post_empty("/admin/projections/order_summary/resume")
                .await
                .expect(409);
        })
        .await;
}

/// The network to the database stops answering without closing anything (the proxy holds every
/// byte): a read is answered 503 once its statement timeout and a second's grace have passed
/// (5 s + 1 s) rather than hanging, a write once the write timeout has (10 s, not the request's
/// 35 s: its outcome is then unknown), and once the network answers again the hung write is
/// found by a retry with its `Idempotency-Key`, recorded once, and the server recovers without
/// a restart.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_that_stops_answering_gets_503s_in_bounded_time_and_recovers() {
    let Some(database) = TestDatabase::create().await else {
        return;
    };
    let proxy = Proxy::start(database.url()).await;
    let server = Server::start_on_database(proxy.url()).await;
    server.ready().await;
    let before = server.place("h1", "c1", &[("a", 1, 1.0)]).await;
    server.order("h1", before).await;

    proxy.pause();
    let asked = Instant::now();
    let hung_order = json!({"id": "h2", "customer_id": "c1", "items": [{"sku": "a", "quantity": 1, "unit_price": 1}]});
    let key = [("idempotency-key", "hung-write-h2")];
    let (write, read) = tokio::join!(
        async {
            let reply = server
                .send(Method::POST, "/api/orders", Some(&hung_order), &key)
                .await;
            (reply, asked.elapsed())
        },
        async {
            let reply = server.get("/api/orders/h1/projection").await;
            (reply, asked.elapsed())
        },
    );
    let ((write, write_took), (read, read_took)) = (write, read);
    assert_eq!(read.status, 503, "{}", read.text);
    assert_eq!(read.json()["type"], "urn:projector:problem:unavailable");
    assert!(
        read_took < Duration::from_secs(10),
        "the read waited {read_took:?}"
    );
    // The write is bounded by the write timeout (10 s), well short of the request's (35 s):
    // its outcome is unknown, and the answer says to retry.
    assert_eq!(write.status, 503, "{}", write.text);
    assert_eq!(write.json()["type"], "urn:projector:problem:unavailable");
    assert!(write.header("retry-after").is_some(), "{:?}", write.headers);
    assert!(
        write_took < Duration::from_secs(15),
        "the write waited {write_took:?}"
    );

    proxy.resume();
    // The hung write carried on once the network answered: a retry with its key finds it
    // (while it is still being answered, the retry is told so) and it was recorded once.
    let retried = eventually_within(
        "a retry with the key to find the write",
        Duration::from_secs(60),
        || {
            let (server, hung_order, key) = (&server, &hung_order, &key);
            async move {
                let reply = server
                    .send(Method::POST, "/api/orders", Some(hung_order), key)
                    .await;
                if reply.status == 202 {
                    return Ok(reply);
                }
                assert!(
                    [409, 503].contains(&reply.status.as_u16()),
                    "{} {}",
                    reply.status,
                    reply.text
                );
                Err(reply.text)
            }
        },
    )
    .await;
    // Whether the hung attempt got as far as appending is up to the timing; either way the
    // order was placed once: its history is that of `h1`, placed alike before the pause.
    let placed = server.history("h2").await;
    let alike = server.history("h1").await;
    assert_eq!(placed.len(), alike.len(), "{placed:?}");
    assert_eq!(
        retried.header("etag"),
        Some(format!("\"{}\"", alike.len()).as_str())
    );
    let order = server.order("h2", retried.position()).await;
    assert_eq!(order["item_count"], 1);
    writes_and_reads_again(&server, "h3", Duration::from_secs(60)).await;
}
