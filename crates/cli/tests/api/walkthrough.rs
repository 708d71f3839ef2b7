//! The README's walk-through, over HTTP: the order it places and the answers it shows.

use serde_json::json;

use crate::helpers::{Reply, Server};
use crate::openapi::Contract;

pub async fn an_order_is_accepted_projected_and_read_back_confirmed() {
    let server = Server::start().await;
    let accepted = server
        .send(
            reqwest::Method::POST,
            "/api/orders",
            Some(
                &json!({"id": "order-1001", "customer_id": "cust-42", "items": [
                    {"sku": "sku-1", "quantity": 1, "unit_price": 20.0},
                    {"sku": "sku-2", "quantity": 1, "unit_price": 25.5}
                ]}),
            ),
            &[("X-Correlation-Id", "readme-demo-1")],
        )
        .await
        .expect(202);
    let body = accepted.json();
    assert_eq!(body["id"], "order-1001");
    assert_eq!(body["status"], "accepted");
    assert_eq!(
        body["position"], 4,
        "OrderCreated, two OrderItemAdded, OrderConfirmed"
    );
    assert_eq!(
        accepted.header("location"),
        Some("/api/orders/order-1001/projection")
    );
    assert_eq!(accepted.header("x-correlation-id"), Some("readme-demo-1"));
    assert_eq!(accepted.header("etag"), Some("\"4\""));

    let read = server
        .get("/api/orders/order-1001/projection?min_position=4")
        .await
        .expect(200);
    assert_eq!(read.header("projection-position"), Some("4"));
    assert_eq!(read.header("read-model"), Some("order_summary"));
    let order = read.json();
    assert_eq!(order["id"], "order-1001");
    assert_eq!(order["customer_id"], "cust-42");
    assert_eq!(order["status"], "confirmed");
    assert_eq!(order["item_count"], 2);
    assert_eq!(order["total_amount"], 45.5);
    assert!(order["created_at"].is_string() && order["updated_at"].is_string());
    assert!(
        order.get("shipped_at").is_none(),
        "unset fields are absent: {order}"
    );

    // The correlation id reaches the events' metadata and the projector's log lines.
    let history = server
        .get("/api/orders/order-1001/history")
        .await
        .expect(200)
        .json();
    let events = history["events"].as_array().expect("events");
    let types: Vec<&str> = events.iter().filter_map(|e| e["type"].as_str()).collect();
    assert_eq!(
        types,
        [
            "OrderCreated",
            "OrderItemAdded",
            "OrderItemAdded",
            "OrderConfirmed"
        ]
    );
    assert!(
        events
            .iter()
            .all(|e| e["correlation_id"] == "readme-demo-1")
    );
    let upserted = server
        .wait_for_log("upserting the order", |line| {
            line.contains("Upserted order read model")
        })
        .await;
    let line: serde_json::Value = serde_json::from_str(&upserted).expect("a JSON log line");
    assert_eq!(line["order_id"], "order-1001");
    assert_eq!(line["customer_id"], "cust-42");
    assert_eq!(line["total_cents"], 4550);
    assert_eq!(line["correlation_id"], "readme-demo-1");
    server
        .wait_for_log("naming the batch's correlation id", |line| {
            line.contains("Projecting 4 changed event(s)") && line.contains("readme-demo-1")
        })
        .await;

    main_reads_match_the_openapi_schemas(&server, &accepted).await;
}

/// The answers of the walk-through's writes, and the 200 bodies of the main read routes, each
/// with content in it, match the responses of the server's own OpenAPI document: status,
/// content type and schema (`contract.rs` checks every other kind of answer).
async fn main_reads_match_the_openapi_schemas(server: &Server, placed: &Reply) {
    let contract = Contract::load(server).await;
    contract.assert_reply("create_order", 202, placed);
    contract.assert_reply(
        "ship_order",
        202,
        &server
            .post("/api/orders/order-1001/ship", &json!({"tracking": "TRK-1"}))
            .await,
    );
    let completed = contract.assert_reply(
        "complete_order",
        202,
        &server.post_empty("/api/orders/order-1001/complete").await,
    )["position"]
        .as_u64()
        .expect("position");
    let product = contract.assert_reply(
        "create_product",
        201,
        &server
            .post(
                "/api/products",
                &json!({"id": "lamp-1", "name": "Desk lamp", "description": "Warm light.",
                    "category": "lighting", "price": 25.99, "tags": ["led", "desk"]}),
            )
            .await,
    )["position"]
        .as_u64()
        .expect("position");
    let day = server.completed_on("order-1001").await;
    let reads = [
        (
            "get_order",
            format!("/api/orders/order-1001/projection?min_position={completed}"),
        ),
        ("get_history", "/api/orders/order-1001/history".to_owned()),
        (
            "customer_orders",
            format!("/api/customers/cust-42/orders?min_position={completed}"),
        ),
        (
            "daily_sales",
            format!(
                "/api/reports/daily-sales?{}&min_position={completed}",
                Server::days_around(day)
            ),
        ),
        (
            "search",
            format!("/api/orders/search?q=sku-1&min_position={completed}"),
        ),
        (
            "get_product",
            format!("/api/products/lamp-1?min_position={product}"),
        ),
        (
            "search_products_route",
            format!("/api/products/search?q=lamp&min_position={product}"),
        ),
    ];
    for (operation, path) in reads {
        let body = contract.assert_reply(operation, 200, &server.get(&path).await);
        let non_empty = match operation {
            "get_history" => body["events"].as_array().is_some_and(|e| !e.is_empty()),
            "customer_orders" => body["orders"].as_array().is_some_and(|o| !o.is_empty()),
            "daily_sales" => body["days"].as_array().is_some_and(|d| !d.is_empty()),
            "search" | "search_products_route" => {
                body["hits"].as_array().is_some_and(|h| !h.is_empty())
            }
            _ => body["id"].is_string(),
        };
        assert!(non_empty, "{operation} answered nothing to check: {body}");
    }
}
