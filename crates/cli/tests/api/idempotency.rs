//! `Idempotency-Key`: a retry gets the first answer and appends nothing; the key with another
//! body is refused.

use reqwest::Method;
use serde_json::json;

use crate::helpers::Server;

pub async fn a_retry_gets_the_first_answer_and_appends_nothing() {
    let server = Server::start().await;
    let body =
        json!({"customer_id": "c1", "items": [{"sku": "a", "quantity": 2, "unit_price": 3.5}]});
    let key = [("Idempotency-Key", "order-attempt-1")];
    let first = server
        .send(Method::POST, "/api/orders", Some(&body), &key)
        .await
        .expect(202);
    let appended = server.appended().await;
    assert_eq!(appended, 4 - 1, "created, one item, confirmed");

    let retry = server
        .send(Method::POST, "/api/orders", Some(&body), &key)
        .await
        .expect(202);
    assert_eq!(
        retry.json(),
        first.json(),
        "the same answer, with the same server-made id"
    );
    assert_eq!(retry.header("location"), first.header("location"));
    assert_eq!(retry.header("idempotent-replayed"), Some("true"));
    assert_eq!(server.appended().await, appended);

    let other_body =
        json!({"customer_id": "c2", "items": [{"sku": "a", "quantity": 2, "unit_price": 3.5}]});
    let mismatch = server
        .send(Method::POST, "/api/orders", Some(&other_body), &key)
        .await
        .expect(422);
    assert_eq!(
        mismatch.json()["type"],
        "urn:projector:problem:idempotency-mismatch"
    );
    let other_route = server
        .send(
            Method::POST,
            "/api/orders/x/ship",
            Some(&json!({"tracking": "t"})),
            &key,
        )
        .await;
    assert_eq!(other_route.status, 422);
    assert_eq!(server.appended().await, appended);

    // A key without one makes a new order each time.
    let a = server.post("/api/orders", &body).await.expect(202).json();
    let b = server.post("/api/orders", &body).await.expect(202).json();
    assert_ne!(a["id"], b["id"]);
}

pub async fn a_refusal_is_remembered_too() {
    let server = Server::start().await;
    server.place("o1", "c1", &[("a", 1, 1.0)]).await;
    let key = [("Idempotency-Key", "complete-o1")];
    let first = server
        .send(Method::POST, "/api/orders/o1/complete", None, &key)
        .await
        .expect(409);
    server
        .post("/api/orders/o1/ship", &json!({"tracking": "T"}))
        .await
        .expect(202);
    // Now completing would succeed, but the key replays its first answer.
    let retry = server
        .send(Method::POST, "/api/orders/o1/complete", None, &key)
        .await
        .expect(409);
    assert_eq!(retry.json()["detail"], first.json()["detail"]);
    assert_eq!(retry.header("idempotent-replayed"), Some("true"));
}

pub async fn concurrent_retries_append_once() {
    let server = Server::start().await;
    server.place("o1", "c1", &[("a", 1, 1.0)]).await;
    let before = server.appended().await;
    let body = json!({"sku": "b", "quantity": 1, "unit_price": 2.0});
    let sends = (0..8).map(|_| {
        server.send(
            Method::POST,
            "/api/orders/o1/items",
            Some(&body),
            &[("Idempotency-Key", "add-b")],
        )
    });
    let replies = futures::future::join_all(sends).await;
    let positions: Vec<u64> = replies
        .into_iter()
        .map(|r| r.expect(202).position())
        .collect();
    assert!(
        positions.windows(2).all(|w| w[0] == w[1]),
        "every retry answered alike: {positions:?}"
    );
    assert_eq!(server.appended().await, before + 1);
    let order = server.order("o1", positions[0]).await;
    assert_eq!(order["item_count"], 2);
}

/// A request refused for its form never reaches the key table: a flood of bad requests with
/// fresh keys stores nothing, and the key of a refused request is still free for a good one.
#[tokio::test]
async fn requests_refused_for_their_form_store_no_key() {
    let server = Server::start().await;
    let bad = json!({"customer_id": "", "items": []});
    for i in 0..50 {
        let key = format!("flood-{i}");
        server
            .send(
                Method::POST,
                "/api/orders",
                Some(&bad),
                &[("Idempotency-Key", &key)],
            )
            .await
            .expect(422);
    }
    let good =
        json!({"customer_id": "c1", "items": [{"sku": "a", "quantity": 1, "unit_price": 1}]});
    let accepted = server
        .send(
            Method::POST,
            "/api/orders",
            Some(&good),
            &[("Idempotency-Key", "flood-7")],
        )
        .await;
    assert_eq!(
        accepted.status, 202,
        "the refused request's key was kept: {}",
        accepted.text
    );
    let crate::helpers::Storage::Sqlite(dir) = server.storage() else {
        unreachable!("the test runs on the embedded default")
    };
    let keys = rusqlite::Connection::open(dir.path().join("data").join("idempotency.db"))
        .expect("the key table")
        .query_row("SELECT count(*) FROM idempotency_keys", [], |row| {
            row.get::<_, i64>(0)
        })
        .expect("counted");
    assert_eq!(keys, 1, "only the accepted request's key is stored");
}
