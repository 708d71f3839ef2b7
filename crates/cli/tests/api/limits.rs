//! An order's limits over HTTP: a command that would take an order past one is a 422 problem
//! naming the field and the limit, with nothing appended; orders at the limits are accepted,
//! projected and reported exactly.

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{Reply, Server};

/// `count` lines of `quantity` units at `unit_price`.
fn lines(count: usize, quantity: u32, unit_price: f64) -> Vec<Value> {
    (0..count)
        .map(|i| json!({"sku": format!("sku-{i:02}"), "quantity": quantity, "unit_price": unit_price}))
        .collect()
}

/// The reply is a 422 problem whose only error is on `field`, with a message naming `limit`.
#[track_caller]
fn assert_limit(reply: &Reply, field: &str, limit: &str) {
    assert_eq!(reply.status.as_u16(), 422, "{}", reply.text);
    assert_eq!(
        reply.header("content-type"),
        Some("application/problem+json")
    );
    let problem = reply.json();
    assert_eq!(problem["status"], 422);
    let errors = problem["errors"].as_array().expect("errors");
    assert_eq!(errors.len(), 1, "{problem}");
    assert_eq!(errors[0]["field"], field, "{problem}");
    let message = errors[0]["message"].as_str().expect("a message");
    assert!(message.contains(limit), "{field}: {message}");
}

pub async fn orders_past_their_limits_are_refused_naming_the_limit() {
    let server = Server::start().await;
    server.place("o1", "c1", &[("sku-00", 9_999, 1.0)]).await;
    let before = server.appended().await;

    // The order: 100 lines of 10 000 at the largest price, 10^18 in all.
    let reply = server
        .post(
            "/api/orders",
            &json!({"id": "big", "customer_id": "c1", "items": lines(100, 10_000, 1e12)}),
        )
        .await;
    assert_limit(&reply, "items", "1000000000000");
    // A line grown past 10 000 units by a later addition.
    let reply = server
        .post(
            "/api/orders/o1/items",
            &json!({"sku": "sku-00", "quantity": 2, "unit_price": 1.0}),
        )
        .await;
    assert_limit(&reply, "quantity", "10000");
    // A total grown past the limit by a later addition.
    let reply = server
        .post(
            "/api/orders/o1/items",
            &json!({"sku": "sku-01", "quantity": 1, "unit_price": 1e12}),
        )
        .await;
    assert_limit(&reply, "quantity", "1000000000000");
    assert_eq!(server.appended().await, before, "nothing appended");
    server.get("/api/orders/big/projection").await.expect(404);

    // A 101st line.
    server
        .post(
            "/api/orders",
            &json!({"id": "wide", "customer_id": "c1", "items": lines(100, 1, 1.0)}),
        )
        .await
        .expect(202);
    let before = server.appended().await;
    let reply = server
        .post(
            "/api/orders/wide/items",
            &json!({"sku": "one-more", "quantity": 1, "unit_price": 1.0}),
        )
        .await;
    assert_limit(&reply, "sku", "100");
    assert_eq!(server.appended().await, before, "nothing appended");
}

pub async fn orders_at_their_limits_are_projected_and_reported_exactly() {
    let server = Server::start().await;
    // Two orders of the largest total: 100 lines of 10 000 units at 1 000 000.00.
    let mut last = 0;
    for id in ["m1", "m2"] {
        server
            .post(
                "/api/orders",
                &json!({"id": id, "customer_id": "whale", "items": lines(100, 10_000, 1e6)}),
            )
            .await
            .expect(202);
        server
            .post(&format!("/api/orders/{id}/ship"), &json!({"tracking": "T"}))
            .await
            .expect(202);
        last = server
            .send(
                Method::POST,
                &format!("/api/orders/{id}/complete"),
                None,
                &[],
            )
            .await
            .expect(202)
            .position();
    }
    let order = server.order("m1", last).await;
    assert_eq!(order["total_amount"], 1e12);
    assert_eq!(order["item_count"], 1_000_000);
    let activity = server
        .get(&format!(
            "/api/customers/whale/activity?min_position={last}"
        ))
        .await
        .expect(200)
        .json();
    assert_eq!(activity["total_spent"], 2e12);
    let day = server.completed_on("m1").await;
    let report = server
        .get(&format!(
            "/api/reports/daily-sales?{}&min_position={last}",
            Server::days_around(day)
        ))
        .await
        .expect(200)
        .json();
    assert_eq!(report["orders_completed"], 2, "{report}");
    assert_eq!(report["gross_revenue"], 2e12, "{report}");
    // Summed over the days: the two completions may fall either side of midnight.
    let items_sold: u64 = report["days"]
        .as_array()
        .expect("days")
        .iter()
        .map(|d| d["items_sold"].as_u64().expect("items_sold"))
        .sum();
    assert_eq!(items_sold, 2_000_000, "{report}");
}

/// On PostgreSQL an order's history is read through a pool of its own with the statement
/// timeout of every HTTP read: a read stuck behind a lock on the events table is cancelled
/// within that timeout (a 503 to retry), rather than holding a connection for as long as the
/// lock lasts, and the history reads again once the lock is gone.
pub async fn a_history_read_past_the_statement_timeout_is_cancelled() {
    use std::time::{Duration, Instant};

    let server = Server::start().await;
    server.place("slow-1", "c1", &[("a", 1, 1.0)]).await;
    let events = server.history("slow-1").await.len();
    assert!(events > 0);

    let reads = server.storage().hold_reads().await;
    let started = Instant::now();
    let stuck = server.get("/api/orders/slow-1/history").await;
    let waited = started.elapsed();
    reads.release().await;
    assert_eq!(stuck.status.as_u16(), 503, "{}", stuck.text);
    assert_eq!(
        stuck.header("content-type"),
        Some("application/problem+json")
    );
    // The server's statement timeout is 5 s: cancelled by it, not answered before it.
    assert!(
        (Duration::from_secs(4)..Duration::from_secs(15)).contains(&waited),
        "answered after {waited:?}"
    );
    assert_eq!(server.history("slow-1").await.len(), events);
}

/// One documented limit of `POST /api/orders`: a body at the maximum, one a step past it, the
/// field the refusal must name, and what the accepted order projects to.
struct Edge {
    name: &'static str,
    field: &'static str,
    at_max: Value,
    past: Value,
    item_count: u64,
    total_amount: f64,
}

/// An order body with one item, whose parts the cases replace.
fn one_item(id: &str, customer: &str, sku: &str, quantity: u32, unit_price: f64) -> Value {
    json!({"id": id, "customer_id": customer,
        "items": [{"sku": sku, "quantity": quantity, "unit_price": unit_price}]})
}

/// `prefix` padded with `x` to `len` characters: an id of exactly that length.
fn id_of(prefix: &str, len: usize) -> String {
    format!("{prefix:x<len$}")
}

/// Each documented maximum (10 000 units, 64-character ids, 100 items, the largest amount) is
/// accepted and projected, and one past it is a 422 naming the field with nothing appended:
/// the edges themselves, where an off-by-one in the validator or the decider would show.
pub async fn each_limit_accepts_its_maximum_and_refuses_one_past_it() {
    use projector_server::limits::{AMOUNT_MAX, ID_MAX, ITEMS_MAX, QUANTITY_MAX};
    let quantity = QUANTITY_MAX as u32;
    let cent = 0.01;
    let edges = [
        Edge {
            name: "quantity",
            field: "items[0].quantity",
            at_max: one_item("edge-q", "c1", "a", quantity, 1.0),
            past: one_item("edge-q2", "c1", "a", quantity + 1, 1.0),
            item_count: u64::from(quantity),
            total_amount: f64::from(quantity),
        },
        Edge {
            name: "order id",
            field: "id",
            at_max: one_item(&id_of("edge-id", ID_MAX), "c1", "a", 1, 1.0),
            past: one_item(&id_of("edge-id", ID_MAX + 1), "c1", "a", 1, 1.0),
            item_count: 1,
            total_amount: 1.0,
        },
        Edge {
            name: "customer id",
            field: "customer_id",
            at_max: one_item("edge-c", &id_of("cust", ID_MAX), "a", 1, 1.0),
            past: one_item("edge-c2", &id_of("cust", ID_MAX + 1), "a", 1, 1.0),
            item_count: 1,
            total_amount: 1.0,
        },
        Edge {
            name: "sku",
            field: "items[0].sku",
            at_max: one_item("edge-s", "c1", &id_of("sku", ID_MAX), 1, 1.0),
            past: one_item("edge-s2", "c1", &id_of("sku", ID_MAX + 1), 1, 1.0),
            item_count: 1,
            total_amount: 1.0,
        },
        Edge {
            name: "items",
            field: "items",
            at_max: json!({"id": "edge-i", "customer_id": "c1", "items": lines(ITEMS_MAX, 1, 1.0)}),
            past: json!({"id": "edge-i2", "customer_id": "c1", "items": lines(ITEMS_MAX + 1, 1, 1.0)}),
            item_count: ITEMS_MAX as u64,
            total_amount: ITEMS_MAX as f64,
        },
        Edge {
            name: "amount",
            field: "items[0].unit_price",
            at_max: one_item("edge-a", "c1", "a", 1, AMOUNT_MAX),
            past: one_item("edge-a2", "c1", "a", 1, AMOUNT_MAX + cent),
            item_count: 1,
            total_amount: AMOUNT_MAX,
        },
    ];
    let server = Server::start().await;
    for edge in &edges {
        let before = server.head().await;
        let refused = server.post("/api/orders", &edge.past).await;
        assert_eq!(
            refused.status.as_u16(),
            422,
            "{}: {}",
            edge.name,
            refused.text
        );
        assert_eq!(
            refused.fields(),
            [edge.field],
            "{}: the refusal names the field",
            edge.name
        );
        assert_eq!(
            server.head().await,
            before,
            "{}: nothing appended",
            edge.name
        );

        let accepted = server.post("/api/orders", &edge.at_max).await;
        assert_eq!(
            accepted.status.as_u16(),
            202,
            "{}: {}",
            edge.name,
            accepted.text
        );
        let position = accepted.position();
        let id = edge.at_max["id"].as_str().expect("an id");
        let order = server.order(id, position).await;
        assert_eq!(order["id"], id, "{}", edge.name);
        assert_eq!(
            order["customer_id"], edge.at_max["customer_id"],
            "{}",
            edge.name
        );
        assert_eq!(order["status"], "confirmed", "{}", edge.name);
        assert_eq!(order["item_count"], edge.item_count, "{}", edge.name);
        assert_eq!(order["total_amount"], edge.total_amount, "{}", edge.name);
    }
}
