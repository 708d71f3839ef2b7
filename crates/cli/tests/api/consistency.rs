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
