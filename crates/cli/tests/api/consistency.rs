//! Optimistic concurrency with `If-Match`, and reading your own writes with `min_position`.

use reqwest::Method;
use serde_json::json;

use crate::helpers::Server;

pub async fn if_match_guards_writes_with_the_stream_version() {
    let server = Server::start().await;
    let placed = server.post("/api/orders", &json!({"id": "o1", "customer_id": "c", "items": [{"sku": "a", "quantity": 1, "unit_price": 1}]})).await.expect(202);
    assert_eq!(placed.header("etag"), Some("\"3\""));

    let before = server.appended().await;
    let stale = server
        .send(
            Method::POST,
            "/api/orders/o1/ship",
            Some(&json!({"tracking": "T"})),
            &[("If-Match", "\"2\"")],
        )
        .await
        .expect(412);
    let problem = stale.json();
    assert_eq!(problem["current_version"], 3);
    assert_eq!(server.appended().await, before);

    let fresh = server
        .send(
            Method::POST,
            "/api/orders/o1/ship",
            Some(&json!({"tracking": "T"})),
            &[("If-Match", "\"3\"")],
        )
        .await
        .expect(202);
    assert_eq!(fresh.header("etag"), Some("\"4\""));
    // The version moved on: the old one is stale now, whatever the command.
    server
        .send(
            Method::POST,
            "/api/orders/o1/complete",
            None,
            &[("If-Match", "W/\"3\"")],
        )
        .await
        .expect(412);
    server
        .send(
            Method::POST,
            "/api/orders/o1/complete",
            None,
            &[("If-Match", "*")],
        )
        .await
        .expect(202);
}

pub async fn two_writers_with_the_same_version_one_wins() {
    let server = Server::start().await;
    server.place("o1", "c", &[("a", 1, 1.0)]).await;
    let (x, y) = (
        json!({"sku": "x", "quantity": 1, "unit_price": 1}),
        json!({"sku": "y", "quantity": 1, "unit_price": 1}),
    );
    let add = |body| {
        server.send(
            Method::POST,
            "/api/orders/o1/items",
            Some(body),
            &[("If-Match", "\"3\"")],
        )
    };
    let (a, b) = tokio::join!(add(&x), add(&y));
    let mut statuses = [a.status.as_u16(), b.status.as_u16()];
    statuses.sort_unstable();
    assert_eq!(statuses, [202, 412]);
}

pub async fn reads_wait_for_their_writes() {
    let server = Server::start().await;
    for i in 0..30 {
        let position = server.place(&format!("o{i}"), "c", &[("a", 1, 2.0)]).await;
        // Read immediately after the write: min_position makes it consistent.
        let read = server
            .get(&format!(
                "/api/orders/o{i}/projection?min_position={position}&wait_ms=5000"
            ))
            .await
            .expect(200);
        let reached: u64 = read
            .header("projection-position")
            .and_then(|p| p.parse().ok())
            .expect("position header");
        assert!(reached >= position);
        assert_eq!(read.json()["status"], "confirmed");
        let mine = server
            .get(&format!(
                "/api/customers/c/orders?min_position={position}&limit=100"
            ))
            .await
            .expect(200)
            .json();
        assert_eq!(
            mine["orders"].as_array().map(Vec::len),
            Some(i + 1),
            "my orders include the one just placed"
        );
    }
    // Without min_position the read still reports the position it was answered at.
    let read = server.get("/api/orders/o0/projection").await.expect(200);
    assert!(read.header("projection-position").is_some());
}

/// A read whose `min_position` is not reached within its `wait_ms` answers 503, naming the
/// position the read model did reach, after waiting that long and no less. The projection is
/// held still by a lock on its checkpoint (PostgreSQL).
pub async fn a_position_not_reached_in_time_is_a_503_naming_the_position_reached() {
    let server = Server::start_with(crate::helpers::Storage::fresh().await).await;
    server.ready().await;
    let reached = server.place("r-1", "c1", &[("a", 1, 1.0)]).await;
    server.order("r-1", reached).await;
    let held = server.storage().hold_projection("order_summary").await;
    let wanted = server.place("r-2", "c1", &[("a", 1, 1.0)]).await;

    let asked = std::time::Instant::now();
    let reply = server
        .get(&format!(
            "/api/orders/r-1/projection?min_position={wanted}&wait_ms=300"
        ))
        .await
        .expect(503);
    let waited = asked.elapsed();
    held.release().await;
    assert_eq!(
        reply.header("content-type"),
        Some("application/problem+json")
    );
    let problem = reply.json();
    assert_eq!(
        problem["type"], "urn:projector:problem:projection-not-reached",
        "{problem}"
    );
    assert_eq!(problem["position"], reached, "{problem}");
    let detail = problem["detail"].as_str().expect("a detail");
    assert!(
        detail.contains(&format!("reached position {reached}, not {wanted}")),
        "{detail}"
    );
    assert!(
        waited >= std::time::Duration::from_millis(300),
        "answered after {waited:?}, before its wait_ms"
    );
    // Released, the projection reaches the position and the same read answers.
    assert_eq!(server.order("r-2", wanted).await["status"], "confirmed");
}

/// `serve --read-wait-ms` is how long a read naming `min_position` without `wait_ms` waits:
/// with 0, such a read not yet reached is answered at once, saying it waited 0 ms.
pub async fn the_server_sets_how_long_a_read_waits_by_default() {
    let server = Server::start_with_args(
        crate::helpers::Storage::fresh().await,
        &["--read-wait-ms", "0"],
    )
    .await;
    server.ready().await;
    let held = server.storage().hold_projection("order_summary").await;
    let wanted = server.place("w-1", "c1", &[("a", 1, 1.0)]).await;
    let reply = server
        .get(&format!("/api/orders/w-1/projection?min_position={wanted}"))
        .await
        .expect(503);
    held.release().await;
    let problem = reply.json();
    assert!(
        problem["detail"]
            .as_str()
            .is_some_and(|d| d.ends_with("within 0 ms")),
        "{problem}"
    );
}

/// Two servers on one PostgreSQL database: the standby projects nothing shared, yet a read on
/// it with `min_position` waits for the holder's checkpoint and answers the write made through
/// either server, while the holder lives.
pub async fn reads_on_a_standby_wait_for_the_holders_checkpoint() {
    let Some(database) = projector_testkit::postgres::TestDatabase::create().await else {
        return;
    };
    let (holder, standby) = Server::holder_and_standby(database.url(), &[]).await;
    let (summary, _) = crate::admin::projection(&standby, "order_summary").await;
    assert_eq!(summary["state"], "standby", "{summary}");

    for (i, writer) in [&holder, &standby, &holder].into_iter().enumerate() {
        let id = format!("s-{i}");
        let position = writer.place(&id, "c1", &[("a", 1 + i as u32, 2.0)]).await;
        let read = standby
            .get(&format!(
                "/api/orders/{id}/projection?min_position={position}&wait_ms=10000"
            ))
            .await
            .expect(200);
        let at: u64 = read
            .header("projection-position")
            .and_then(|p| p.parse().ok())
            .expect("a Projection-Position");
        assert!(at >= position, "answered at {at}, asked {position}");
        assert_eq!(read.json()["status"], "confirmed");
    }
    let (summary, _) = crate::admin::projection(&standby, "order_summary").await;
    assert_eq!(
        summary["state"], "standby",
        "the holder still holds it: {summary}"
    );
}
