//! Every lifecycle transition, and every one the order's state forbids.

use reqwest::Method;
use serde_json::json;

use crate::helpers::Server;

pub async fn an_order_runs_its_whole_life() {
    let server = Server::start().await;
    server
        .place("o1", "c1", &[("a", 2, 10.0), ("b", 1, 5.5)])
        .await;

    let added = server
        .post(
            "/api/orders/o1/items",
            &json!({"sku": "c", "quantity": 3, "unit_price": 1.25}),
        )
        .await
        .expect(202);
    let order = server.order("o1", added.position()).await;
    assert_eq!(
        (order["item_count"].clone(), order["total_amount"].clone()),
        (json!(6), json!(29.25))
    );

    let more = server
        .post(
            "/api/orders/o1/items",
            &json!({"sku": "a", "quantity": 1, "unit_price": 10.0}),
        )
        .await
        .expect(202);
    assert_eq!(server.order("o1", more.position()).await["item_count"], 7);

    let removed = server
        .send(Method::DELETE, "/api/orders/o1/items/b", None, &[])
        .await
        .expect(202);
    let order = server.order("o1", removed.position()).await;
    assert_eq!(
        (order["item_count"].clone(), order["total_amount"].clone()),
        (json!(6), json!(33.75))
    );

    let shipped = server
        .post("/api/orders/o1/ship", &json!({"tracking": "UPS 1Z999"}))
        .await
        .expect(202);
    let order = server.order("o1", shipped.position()).await;
    assert_eq!(order["status"], "shipped");
    assert_eq!(order["tracking"], "UPS 1Z999");
    assert!(order["shipped_at"].is_string());

    let completed = server
        .send(Method::POST, "/api/orders/o1/complete", None, &[])
        .await
        .expect(202);
    let order = server.order("o1", completed.position()).await;
    assert_eq!(order["status"], "completed");
    assert!(order["completed_at"].is_string());

    let refunded = server
        .post("/api/orders/o1/refund", &json!({"amount": 10.0}))
        .await
        .expect(202);
    assert_eq!(
        server.order("o1", refunded.position()).await["refunded_amount"],
        10.0
    );
    let refund_all = server
        .post("/api/orders/o1/refund", &json!({"amount": 23.75}))
        .await
        .expect(202);
    assert_eq!(
        server.order("o1", refund_all.position()).await["refunded_amount"],
        33.75
    );
    let too_much = server
        .post("/api/orders/o1/refund", &json!({"amount": 0.01}))
        .await
        .expect(409);
    assert!(
        too_much.json()["detail"]
            .as_str()
            .is_some_and(|d| d.contains("left to refund")),
        "{}",
        too_much.text
    );

    let history = server
        .get("/api/orders/o1/history")
        .await
        .expect(200)
        .json();
    let types: Vec<&str> = history["events"]
        .as_array()
        .expect("events")
        .iter()
        .filter_map(|e| e["type"].as_str())
        .collect();
    assert_eq!(
        types,
        [
            "OrderCreated",
            "OrderItemAdded",
            "OrderItemAdded",
            "OrderConfirmed",
            "OrderItemAdded",
            "OrderItemAdded",
            "OrderItemRemoved",
            "OrderShipped",
            "OrderCompleted",
            "OrderRefunded",
            "OrderRefunded"
        ]
    );
}

pub async fn a_cancelled_order_can_do_nothing_more() {
    let server = Server::start().await;
    server.place("o2", "c1", &[("a", 1, 1.0)]).await;
    let cancelled = server
        .post(
            "/api/orders/o2/cancel",
            &json!({"reason": "found it cheaper"}),
        )
        .await
        .expect(202);
    let order = server.order("o2", cancelled.position()).await;
    assert_eq!(order["status"], "cancelled");
    assert_eq!(order["cancellation_reason"], "found it cheaper");

    let before = server.appended().await;
    server
        .post("/api/orders/o2/ship", &json!({"tracking": "X"}))
        .await
        .expect(409);
    server
        .post(
            "/api/orders/o2/items",
            &json!({"sku": "b", "quantity": 1, "unit_price": 1}),
        )
        .await
        .expect(409);
    server
        .send(Method::DELETE, "/api/orders/o2/items/a", None, &[])
        .await
        .expect(409);
    server
        .send(Method::POST, "/api/orders/o2/complete", None, &[])
        .await
        .expect(409);
    server
        .post("/api/orders/o2/cancel", &json!({"reason": "again"}))
        .await
        .expect(409);
    server
        .post("/api/orders/o2/refund", &json!({"amount": 1}))
        .await
        .expect(409);
    assert_eq!(
        server.appended().await,
        before,
        "a refused command appends nothing"
    );
}

pub async fn forbidden_transitions_are_conflicts() {
    let server = Server::start().await;
    server.place("o3", "c1", &[("a", 1, 4.0)]).await;
    let before = server.appended().await;
    let complete = server
        .send(Method::POST, "/api/orders/o3/complete", None, &[])
        .await
        .expect(409);
    assert_eq!(
        complete.header("content-type"),
        Some("application/problem+json")
    );
    assert!(
        complete.json()["detail"]
            .as_str()
            .is_some_and(|d| d.contains("cannot complete an order that is confirmed"))
    );
    server
        .post("/api/orders/o3/refund", &json!({"amount": 1}))
        .await
        .expect(409);
    server
        .post(
            "/api/orders/o3/items",
            &json!({"sku": "a", "quantity": 1, "unit_price": 4.5}),
        )
        .await
        .expect(409);
    server.place_conflict("o3").await;
    server
        .post("/api/orders/o3/ship", &json!({"tracking": "T"}))
        .await
        .expect(202);
    let before_shipped = server.appended().await;
    server
        .post("/api/orders/o3/ship", &json!({"tracking": "T"}))
        .await
        .expect(409);
    server
        .post("/api/orders/o3/cancel", &json!({"reason": "late"}))
        .await
        .expect(409);
    assert_eq!(server.appended().await, before_shipped);
    assert_eq!(before_shipped, before + 1);
}

pub async fn unknown_orders_and_items_are_not_found() {
    let server = Server::start().await;
    for (method, path, body) in [
        (
            Method::POST,
            "/api/orders/none/items",
            Some(json!({"sku": "a", "quantity": 1, "unit_price": 1})),
        ),
        (Method::DELETE, "/api/orders/none/items/a", None),
        (
            Method::POST,
            "/api/orders/none/ship",
            Some(json!({"tracking": "T"})),
        ),
        (Method::POST, "/api/orders/none/complete", None),
        (
            Method::POST,
            "/api/orders/none/cancel",
            Some(json!({"reason": "r"})),
        ),
        (
            Method::POST,
            "/api/orders/none/refund",
            Some(json!({"amount": 1})),
        ),
    ] {
        let reply = server.send(method.clone(), path, body.as_ref(), &[]).await;
        assert_eq!(reply.status, 404, "{method} {path}: {}", reply.text);
        assert_eq!(reply.json()["detail"], "order none not found");
    }
    server.get("/api/orders/none/projection").await.expect(404);
    server.get("/api/orders/none/history").await.expect(404);
    server.place("o4", "c1", &[("a", 1, 1.0)]).await;
    server
        .send(Method::DELETE, "/api/orders/o4/items/zzz", None, &[])
        .await
        .expect(404);
    assert_eq!(server.appended().await, 3);
}

impl Server {
    /// Creating an order whose id exists is a conflict.
    async fn place_conflict(&self, id: &str) {
        let reply = self
            .post("/api/orders", &json!({"id": id, "customer_id": "c9", "items": [{"sku": "z", "quantity": 1, "unit_price": 1}]}))
            .await
            .expect(409);
        assert!(
            reply.json()["detail"]
                .as_str()
                .is_some_and(|d| d.contains("already exists"))
        );
    }
}
