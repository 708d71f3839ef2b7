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

/// The value of the gauge or counter `name` in a scrape of `/metrics`.
async fn gauge(server: &Server, name: &str) -> Option<f64> {
    metric(&server.get("/metrics").await.expect(200).text, name)
}

/// The value of the series `name` (without labels) in the scraped `metrics`.
fn metric(metrics: &str, name: &str) -> Option<f64> {
    metrics
        .lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' '))
        .and_then(|v| v.trim().parse().ok())
}

/// Sends `request` on `connection` and reads one whole answer (its head and its
/// `Content-Length` body).
async fn exchange(connection: &mut tokio::net::TcpStream, request: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    connection
        .write_all(request.as_bytes())
        .await
        .expect("send the request");
    let mut answer = Vec::new();
    let mut buffer = [0u8; 4096];
    loop {
        let text = String::from_utf8_lossy(&answer).into_owned();
        if let Some((head, body)) = text.split_once("\r\n\r\n") {
            let length: usize = head
                .lines()
                .find_map(|l| {
                    l.to_ascii_lowercase()
                        .strip_prefix("content-length:")
                        .map(|v| v.trim().to_owned())
                })
                .and_then(|v| v.parse().ok())
                .unwrap_or(0);
            if body.len() >= length {
                return text;
            }
        }
        let read = tokio::time::timeout(
            std::time::Duration::from_secs(10),
            connection.read(&mut buffer),
        )
        .await
        .expect("an answer within 10 s")
        .expect("read the answer");
        assert!(read > 0, "the connection closed: {text}");
        answer.extend_from_slice(&buffer[..read]);
    }
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
    // The connection of a write turned away stays open for the client's next request: a
    // new connection per refusal would cost an overloaded server more than the refusal.
    let mut connection = tokio::net::TcpStream::connect(server.base.trim_start_matches("http://"))
        .await
        .expect("connect");
    let body = order("turned-raw").to_string();
    let request = format!(
        "POST /api/orders HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\n\r\n{body}",
        body.len()
    );
    assert!(
        exchange(&mut connection, &request)
            .await
            .starts_with("HTTP/1.1 503")
    );
    let health = "GET /health HTTP/1.1\r\nHost: localhost\r\n\r\n";
    assert!(
        exchange(&mut connection, health)
            .await
            .starts_with("HTTP/1.1 200")
    );
    let metrics = server.get("/metrics").await.expect(200).text;
    assert!(
        metrics
            .lines()
            .any(|l| l.strip_prefix("http_writes_shed_total ") == Some("3")),
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

/// Starts `count` writes at once; each answers its status when the store lets it.
fn write_at_once(server: &Server, prefix: &str, count: usize) -> Vec<tokio::task::JoinHandle<u16>> {
    (0..count)
        .map(|n| {
            let request = server
                .client
                .post(format!("{}/api/orders", server.base))
                .json(&order(&format!("{prefix}-{n}")));
            tokio::spawn(async move { request.send().await.expect("request").status().as_u16() })
        })
        .collect()
}

/// How many of `writes` were answered `status`.
async fn answered(writes: Vec<tokio::task::JoinHandle<u16>>, status: u16) -> usize {
    let mut count = 0;
    for write in writes {
        if write.await.expect("the write's task") == status {
            count += 1;
        }
    }
    count
}

pub async fn slow_writes_shrink_the_queue_and_quick_ones_grow_it_back() {
    const MOST: usize = 32;
    let server = Server::start_with_args(
        Storage::fresh().await,
        &[
            "--max-queued-writes",
            "32",
            "--write-latency-target-ms",
            "20",
        ],
    )
    .await;
    server.place("first", "c1", &[("a", 1, 1.0)]).await;

    // Rounds of writes each held 150 ms by the store: far over the target.
    for round in 0..4 {
        let hold = Hold::take(server.storage()).await;
        let writes = write_at_once(&server, &format!("slow-{round}"), 8);
        tokio::time::sleep(std::time::Duration::from_millis(150)).await;
        hold.release().await;
        assert_eq!(answered(writes, 202).await, 8, "round {round}");
    }
    // The limit the queue keeps now is below the most allowed ...
    let limit = gauge(&server, "http_writes_queue_limit").await;
    assert!(limit.is_some_and(|l| l < MOST as f64), "{limit:?}");
    // ... so with the store held, writes are turned away before the most allowed wait.
    let hold = Hold::take(server.storage()).await;
    let writes = write_at_once(&server, "burst", MOST);
    tokio::time::sleep(std::time::Duration::from_millis(150)).await;
    hold.release().await;
    let shed = answered(writes, 503).await;
    assert!(shed > 0, "a fixed count of {MOST} would take all {MOST}");

    // Quick writes, one after another, grow it back to the most allowed.
    let mut n = 0;
    eventually("the queue grown back to the most allowed", || {
        n += 1;
        let server = &server;
        async move {
            server
                .place(&format!("quick-{n}"), "c1", &[("a", 1, 1.0)])
                .await;
            match gauge(server, "http_writes_queue_limit").await {
                Some(l) if l >= MOST as f64 => Ok(()),
                other => Err(other),
            }
        }
    })
    .await;
}

/// With no target given, on SQLite (PostgreSQL's is fixed): four times the store's own write
/// time, and at least the floor for a store that syncs quickly while every write is taken, the
/// lower one while many are turned away, and the higher floor again once they are not. On a
/// busy machine the store's own time may put the target above both floors; the gauges say
/// which it follows.
#[tokio::test]
async fn the_measured_write_target_falls_while_writes_are_turned_away() {
    const MOST: usize = 4;
    let storage = Storage::Sqlite(projector_testkit::temp_dir());
    let server = Server::start_with_args(storage, &["--max-queued-writes", "4"]).await;
    let quick_writes_until = |phase: &'static str, shedding: bool, floor: f64| {
        let server = &server;
        let mut n = 0;
        eventually(phase, move || {
            n += 1;
            async move {
                server
                    .place(&format!("{phase}-{n}"), "c1", &[("a", 1, 1.0)])
                    .await;
                tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                measured_target(server, shedding, floor).await
            }
        })
    };
    quick_writes_until("taking-every-write", false, 0.015).await;

    // Two windows running, most writes are turned away while the store is held.
    for round in 0..2 {
        let shed_before = gauge(&server, "http_writes_shed_total").await;
        let hold = Hold::take(server.storage()).await;
        let writes = write_at_once(&server, &format!("burst-{round}"), 5 * MOST);
        tokio::time::sleep(std::time::Duration::from_millis(150)).await;
        // However slowly a busy machine sends them, every write arrives while the store is
        // held, so exactly the places are taken.
        let shed_wanted = shed_before.unwrap_or(0.0) + (4 * MOST) as f64;
        eventually("the burst turned away", || async {
            match gauge(&server, "http_writes_shed_total").await {
                Some(shed) if shed >= shed_wanted => Ok(()),
                other => Err(other),
            }
        })
        .await;
        hold.release().await;
        assert_eq!(answered(writes, 503).await, 4 * MOST, "round {round}");
    }
    eventually("the lower floor while shedding", || {
        measured_target(&server, true, 0.005)
    })
    .await;

    quick_writes_until("taking-every-write-again", false, 0.015).await;
}

/// Whether the gauges show a measured target following the store's own time with `floor`,
/// and the server `shedding` or not; otherwise what they show.
async fn measured_target(
    server: &Server,
    shedding: bool,
    floor: f64,
) -> Result<(), [Option<f64>; 3]> {
    let metrics = server.get("/metrics").await.expect(200).text;
    let [target, own, shed] = [
        "http_writes_latency_target_seconds",
        "http_writes_store_time_seconds",
        "http_writes_shedding",
    ]
    .map(|name| metric(&metrics, name));
    let wanted = own.map(|own| (own * 4.0).max(floor));
    let shown = [target, own, shed];
    match (target, wanted, shed) {
        (Some(target), Some(wanted), Some(shed))
            if (target - wanted).abs() < 1e-6 && (shed == 1.0) == shedding =>
        {
            Ok(())
        }
        _ => Err(shown),
    }
}
