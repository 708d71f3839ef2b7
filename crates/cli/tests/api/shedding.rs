//! Writes past the server's bound on writes waiting for the event store: turned away at once
//! with 503 and `Retry-After` before anything is recorded, while the writes already taken
//! complete. The event store is held still by a transaction of the test's own (the SQLite
//! file's write lock, or PostgreSQL's head row), so the writes taken stay waiting for as long as
//! the test needs.

use projector_testkit::wait::eventually;
use serde_json::{Value, json};

use crate::helpers::{Server, Storage};

fn order(id: &str) -> Value {
    json!({"id": id, "customer_id": "c1", "items": [
        {"sku": "a", "quantity": 1, "unit_price": 1.5},
        {"sku": "b", "quantity": 2, "unit_price": 2.25}
    ]})
}

/// The value of the gauge `name` in a scrape of `/metrics`.
async fn gauge(server: &Server, name: &str) -> Option<f64> {
    let metrics = server.get("/metrics").await.expect(200).text;
    metrics
        .lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' '))
        .and_then(|v| v.trim().parse().ok())
}

/// A transaction of the test's own that every append waits behind.
enum Hold {
    Sqlite(rusqlite::Connection),
    Postgres(tokio_postgres::Client),
}

impl Hold {
    async fn take(storage: &Storage) -> Self {
        match storage {
            Storage::Sqlite(dir) => {
                let path = dir.path().join("data").join("events.db");
                let holder = rusqlite::Connection::open(path).expect("open the event store");
                holder
                    .execute_batch("BEGIN IMMEDIATE")
                    .expect("take the write lock");
                Hold::Sqlite(holder)
            }
            Storage::Postgres(database, _) => {
                let (client, connection) =
                    tokio_postgres::connect(database.url(), tokio_postgres::NoTls)
                        .await
                        .expect("connect");
                tokio::spawn(connection);
                client
                    .batch_execute(
                        "BEGIN; SELECT head FROM projector.feed_head WHERE id = 1 FOR UPDATE",
                    )
                    .await
                    .expect("take the head lock");
                Hold::Postgres(client)
            }
        }
    }

    async fn release(self) {
        match self {
            Hold::Sqlite(holder) => holder.execute_batch("ROLLBACK").expect("let go"),
            Hold::Postgres(client) => client.batch_execute("ROLLBACK").await.expect("let go"),
        }
    }
}

pub async fn writes_past_the_queue_bound_are_turned_away_at_once_and_record_nothing() {
    let server =
        Server::start_with_args(Storage::fresh().await, &["--max-queued-writes", "2"]).await;
    let before = server.place("before", "c1", &[("a", 1, 1.0)]).await;

    // Another connection holds what every append needs: the writes taken wait on it (within
    // the store's lock timeout).
    let hold = Hold::take(server.storage()).await;
    let waiting: Vec<_> = ["taken-1", "taken-2"]
        .into_iter()
        .map(|id| {
            let request = server
                .client
                .post(format!("{}/api/orders", server.base))
                .json(&order(id));
            tokio::spawn(async move {
                let response = request.send().await.expect("request");
                let status = response.status().as_u16();
                let body: Value = response.json().await.expect("json");
                (status, body)
            })
        })
        .collect();
    eventually("both writes waiting for the event store", || async {
        match gauge(&server, "http_writes_queued").await {
            Some(n) if n >= 2.0 => Ok(()),
            other => Err(other),
        }
    })
    .await;

    // Answered while the store is still held: it was not queued behind the writes waiting.
    let turned = server.post("/api/orders", &order("turned")).await;
    assert_eq!(turned.status, 503, "{}", turned.text);
    assert_eq!(
        turned.header("content-type"),
        Some("application/problem+json")
    );
    assert_eq!(turned.json()["type"], "urn:projector:problem:overloaded");
    assert_eq!(turned.header("retry-after"), Some("1"));
    // Turned away before its body is read: a body that would be refused is not looked at.
    let unread = server
        .post("/api/orders", &json!({"items": "not a list"}))
        .await;
    assert_eq!(unread.status, 503, "{}", unread.text);
    let metrics = server.get("/metrics").await.expect(200).text;
    assert!(
        metrics
            .lines()
            .any(|l| l.strip_prefix("http_writes_shed_total ") == Some("2")),
        "no shed counted: {metrics}"
    );

    hold.release().await;
    let mut last = before;
    for task in waiting {
        let (status, body) = task.await.expect("the write's task");
        assert_eq!(status, 202, "{body}");
        last = last.max(body["position"].as_u64().expect("position"));
    }
    // Exactly the two writes taken were recorded after `before` (four events each) ...
    assert_eq!(last, before + 8);
    assert_eq!(server.head().await, last);
    // ... and nothing of the one turned away: the same order placed again is new.
    server
        .get(&format!(
            "/api/orders/turned/projection?min_position={last}"
        ))
        .await
        .expect(404);
    server.get("/api/orders/turned/history").await.expect(404);
    let again = server.place("turned", "c1", &[("a", 1, 1.5)]).await;
    assert_eq!(again, last + 3);
    assert_eq!(server.history("turned").await.len(), 3);
    eventually("the queue empty again", || async {
        match gauge(&server, "http_writes_queued").await {
            Some(0.0) => Ok(()),
            other => Err(other),
        }
    })
    .await;
}
