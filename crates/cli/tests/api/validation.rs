//! Every kind of bad input gets a 4xx problem naming what is wrong, and appends nothing.

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{Reply, Server};

fn order(items: Value) -> Value {
    json!({"customer_id": "cust-1", "items": items})
}

#[track_caller]
fn assert_problem(reply: &Reply, status: u16, fields: &[&str], case: &str) {
    assert_eq!(reply.status.as_u16(), status, "{case}: {}", reply.text);
    assert_eq!(
        reply.header("content-type"),
        Some("application/problem+json"),
        "{case}"
    );
    let problem = reply.json();
    assert_eq!(problem["status"], status, "{case}");
    assert!(
        problem["type"]
            .as_str()
            .is_some_and(|t| t.starts_with("urn:projector:problem:")),
        "{case}"
    );
    assert!(problem["correlation_id"].is_string(), "{case}");
    let named = reply.fields();
    for field in fields {
        assert!(
            named.iter().any(|n| n == field),
            "{case}: {field} not named in {named:?}"
        );
    }
}

pub async fn bad_bodies_are_refused_naming_every_field() {
    let server = Server::start().await;
    let cases: Vec<(&str, Value, &[&str])> = vec![
        (
            "unknown field",
            json!({"customer_id": "c", "items": [{"sku": "a", "quantity": 1, "unit_price": 1}], "coupon": "X"}),
            &["coupon"],
        ),
        ("missing items", json!({"customer_id": "c"}), &["items"]),
        (
            "missing customer",
            json!({"items": [{"sku": "a", "quantity": 1, "unit_price": 1}]}),
            &["customer_id"],
        ),
        ("empty items", order(json!([])), &["items"]),
        ("items not an array", order(json!({"sku": "a"})), &["items"]),
        (
            "quantity below 1",
            order(json!([{"sku": "a", "quantity": 0, "unit_price": 1}])),
            &["items[0].quantity"],
        ),
        (
            "quantity too large",
            order(json!([{"sku": "a", "quantity": 10001, "unit_price": 1}])),
            &["items[0].quantity"],
        ),
        (
            "quantity a string",
            order(json!([{"sku": "a", "quantity": "2", "unit_price": 1}])),
            &["items[0].quantity"],
        ),
        (
            "quantity fractional",
            order(json!([{"sku": "a", "quantity": 1.5, "unit_price": 1}])),
            &["items[0].quantity"],
        ),
        (
            "negative price",
            order(json!([{"sku": "a", "quantity": 1, "unit_price": -0.01}])),
            &["items[0].unit_price"],
        ),
        (
            "price finer than a cent",
            order(json!([{"sku": "a", "quantity": 1, "unit_price": 1.001}])),
            &["items[0].unit_price"],
        ),
        (
            "price too large",
            order(json!([{"sku": "a", "quantity": 1, "unit_price": 1e13}])),
            &["items[0].unit_price"],
        ),
        (
            "price a string",
            order(json!([{"sku": "a", "quantity": 1, "unit_price": "1"}])),
            &["items[0].unit_price"],
        ),
        (
            "price null",
            order(json!([{"sku": "a", "quantity": 1, "unit_price": null}])),
            &["items[0].unit_price"],
        ),
        (
            "unknown item field",
            order(json!([{"sku": "a", "quantity": 1, "unit_price": 1, "x": 1}])),
            &["items[0].x"],
        ),
        ("item not an object", order(json!([7])), &["items[0]"]),
        (
            "bad sku",
            order(json!([{"sku": "a b", "quantity": 1, "unit_price": 1}])),
            &["items[0].sku"],
        ),
        (
            "duplicate sku",
            order(
                json!([{"sku": "a", "quantity": 1, "unit_price": 1}, {"sku": "a", "quantity": 1, "unit_price": 1}]),
            ),
            &["items[1].sku"],
        ),
        (
            "id with a slash",
            json!({"id": "a/b", "customer_id": "c", "items": [{"sku": "a", "quantity": 1, "unit_price": 1}]}),
            &["id"],
        ),
        (
            "id too long",
            json!({"id": "x".repeat(65), "customer_id": "c", "items": [{"sku": "a", "quantity": 1, "unit_price": 1}]}),
            &["id"],
        ),
        (
            "customer not a string",
            json!({"customer_id": 42, "items": [{"sku": "a", "quantity": 1, "unit_price": 1}]}),
            &["customer_id"],
        ),
        (
            "customer empty",
            json!({"customer_id": "", "items": [{"sku": "a", "quantity": 1, "unit_price": 1}]}),
            &["customer_id"],
        ),
        ("body an array", json!([1, 2]), &["body"]),
        ("body a string", json!("order"), &["body"]),
        (
            "everything wrong at once",
            json!({"id": "-", "customer_id": "", "items": [{"sku": "", "quantity": 0, "unit_price": -1}], "z": 0}),
            &[
                "id",
                "customer_id",
                "items[0].sku",
                "items[0].quantity",
                "items[0].unit_price",
                "z",
            ],
        ),
    ];
    for (case, body, fields) in cases {
        let reply = server.post("/api/orders", &body).await;
        assert_problem(&reply, 422, fields, case);
    }

    server.place("o1", "c1", &[("a", 1, 1.0)]).await;
    let before = server.appended().await;
    let per_route: Vec<(&str, Value, &[&str])> = vec![
        (
            "/api/orders/o1/items",
            json!({"sku": "b", "quantity": -1, "unit_price": 1}),
            &["quantity"],
        ),
        (
            "/api/orders/o1/items",
            json!({"sku": "b", "quantity": 1}),
            &["unit_price"],
        ),
        ("/api/orders/o1/ship", json!({}), &["tracking"]),
        (
            "/api/orders/o1/ship",
            json!({"tracking": ""}),
            &["tracking"],
        ),
        (
            "/api/orders/o1/ship",
            json!({"tracking": "x".repeat(65)}),
            &["tracking"],
        ),
        (
            "/api/orders/o1/ship",
            json!({"tracking": "a\u{0}b"}),
            &["tracking"],
        ),
        (
            "/api/orders/o1/cancel",
            json!({"reason": "r".repeat(501)}),
            &["reason"],
        ),
        (
            "/api/orders/o1/cancel",
            json!({"reason": "   "}),
            &["reason"],
        ),
        ("/api/orders/o1/refund", json!({"amount": 0}), &["amount"]),
        ("/api/orders/o1/refund", json!({"amount": -5}), &["amount"]),
        ("/api/orders/o1/complete", json!({"now": true}), &["now"]),
    ];
    for (path, body, fields) in per_route {
        let reply = server.post(path, &body).await;
        assert_problem(&reply, 422, fields, path);
    }
    assert_eq!(
        server.appended().await,
        before,
        "no refused request appended anything"
    );
}

pub async fn malformed_empty_untyped_and_oversized_bodies() {
    let server = Server::start().await;
    let post = |content_type: Option<&'static str>, body: Vec<u8>| {
        server.send_raw(Method::POST, "/api/orders", content_type, body)
    };

    assert_problem(
        &post(Some("application/json"), b"{\"customer_id\": ".to_vec()).await,
        400,
        &[],
        "truncated JSON",
    );
    assert_problem(
        &post(Some("application/json"), b"{'a': 1}".to_vec()).await,
        400,
        &[],
        "not JSON",
    );
    assert_problem(
        &post(Some("application/json"), Vec::new()).await,
        400,
        &[],
        "empty body",
    );
    assert_problem(
        &post(Some("application/json"), b"  \n ".to_vec()).await,
        400,
        &[],
        "blank body",
    );
    assert_problem(
        &post(Some("text/plain"), b"{\"customer_id\": \"c\"}".to_vec()).await,
        415,
        &[],
        "text/plain",
    );
    assert_problem(
        &post(None, b"{\"customer_id\": \"c\"}".to_vec()).await,
        415,
        &[],
        "no content type",
    );
    assert_problem(
        &post(Some("application/json"), b"{\"a\": 1e400}".to_vec()).await,
        400,
        &[],
        "number out of range",
    );
    let nested = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    assert_problem(
        &post(Some("application/json"), nested.into_bytes()).await,
        413,
        &[],
        "over the size limit",
    );
    let deep = format!("{}{}", "[".repeat(5_000), "]".repeat(5_000));
    assert_problem(
        &post(Some("application/json"), deep.into_bytes()).await,
        400,
        &[],
        "nested too deep",
    );
    let big = json!({"customer_id": "c", "items": [{"sku": "a", "quantity": 1, "unit_price": 1}], "pad": "x".repeat(70_000)});
    assert_problem(
        &post(Some("application/json"), big.to_string().into_bytes()).await,
        413,
        &[],
        "oversized",
    );
    let invalid_utf8 = vec![b'"', 0xff, 0xfe, b'"'];
    assert_problem(
        &post(Some("application/json"), invalid_utf8).await,
        400,
        &[],
        "invalid UTF-8",
    );
    assert_eq!(server.appended().await, 0);
}

pub async fn bad_paths_queries_and_headers() {
    let server = Server::start().await;
    server.place("o1", "c1", &[("a", 1, 1.0)]).await;
    let before = server.appended().await;

    let long = "x".repeat(65);
    for path in [
        "/api/orders/bad%20id/projection".to_owned(),
        format!("/api/orders/{long}/projection"),
        "/api/orders/-x/history".to_owned(),
        "/api/customers/a%2Fb/orders".to_owned(),
    ] {
        let reply = server.get(&path).await;
        assert_eq!(reply.status, 422, "{path}: {}", reply.text);
        assert!(
            reply.fields().iter().any(|f| f.starts_with("path.")),
            "{path}: {:?}",
            reply.fields()
        );
    }
    let reply = server
        .post("/api/orders/bad%20id/ship", &json!({"tracking": ""}))
        .await;
    assert_eq!(reply.status, 422);

    for (query, field) in [
        ("min_position=abc", "query.min_position"),
        ("min_position=-1", "query.min_position"),
        ("wait_ms=30001", "query.wait_ms"),
        ("colour=blue", "query.colour"),
        ("min_position=1&min_position=2", "query.min_position"),
        ("min_position=999999", "query.min_position"),
    ] {
        let reply = server
            .get(&format!("/api/orders/o1/projection?{query}"))
            .await;
        assert_problem(&reply, 422, &[field], query);
    }
    for (query, fields) in [
        ("", &["query.from", "query.to"][..]),
        ("from=2026-13-01&to=2026-01-01", &["query.from"][..]),
        ("from=2026-02-01&to=2026-01-01", &["query.to"][..]),
        ("from=2025-01-01&to=2026-12-31", &["query.to"][..]),
        ("from=2026-1-1&to=2026-01-02", &["query.from"][..]),
    ] {
        let reply = server
            .get(&format!("/api/reports/daily-sales?{query}"))
            .await;
        assert_problem(&reply, 422, fields, query);
    }
    for query in ["limit=0", "limit=101", "cursor=nonsense"] {
        let reply = server
            .get(&format!("/api/customers/c1/orders?{query}"))
            .await;
        assert_eq!(reply.status, 422, "{query}");
    }

    let ship = json!({"tracking": "T"});
    for (header, value, field) in [
        ("If-Match", "3", "header.If-Match"),
        ("If-Match", "\"three\"", "header.If-Match"),
        (
            "Idempotency-Key",
            &*"k".repeat(256),
            "header.Idempotency-Key",
        ),
        ("X-User-Id", "a user", "header.X-User-Id"),
    ] {
        let reply = server
            .send(
                Method::POST,
                "/api/orders/o1/ship",
                Some(&ship),
                &[(header, value)],
            )
            .await;
        assert_problem(&reply, 422, &[field], header);
    }
    let both = server
        .send(
            Method::POST,
            "/api/orders/o1/ship",
            Some(&json!({"tracking": ""})),
            &[("If-Match", "x")],
        )
        .await;
    assert_problem(
        &both,
        422,
        &["header.If-Match", "tracking"],
        "header and body errors together",
    );

    server.get("/api/nothing-here").await.expect(404);
    let wrong_method = server
        .send(Method::PATCH, "/api/orders/o1/ship", None, &[])
        .await
        .expect(405);
    assert_eq!(
        wrong_method.header("content-type"),
        Some("application/problem+json")
    );
    assert_eq!(server.appended().await, before);
}

/// However many bad fields a request has, and however long their names, the answer names a
/// bounded number of them, each cut short, and a count of the rest.
#[tokio::test]
async fn a_flood_of_bad_fields_gets_a_bounded_answer() {
    let server = Server::start().await;
    let name = "n".repeat(250);
    let query: Vec<String> = (0..120).map(|i| format!("{name}{i}=1")).collect();
    let reply = server
        .get(&format!("/api/customers/c1/orders?{}", query.join("&")))
        .await;
    assert_eq!(reply.status, 422);
    let errors = reply.json()["errors"].as_array().expect("errors").clone();
    assert_eq!(errors.len(), projector_server::error::MAX_FIELD_ERRORS);
    assert!(
        errors
            .last()
            .and_then(|e| e["message"].as_str())
            .is_some_and(|m| m.contains("89 more")),
        "{:?}",
        errors.last()
    );
    assert!(
        reply.text.len() < 16_000,
        "an answer of {} bytes",
        reply.text.len()
    );

    let fields: serde_json::Map<String, serde_json::Value> =
        (0..50).map(|i| (format!("{name}{i}"), json!(1))).collect();
    let reply = server
        .post("/api/orders", &serde_json::Value::Object(fields))
        .await;
    assert_eq!(reply.status, 422, "{}", reply.text);
    assert!(
        reply.json()["errors"]
            .as_array()
            .is_some_and(|e| e.len() <= projector_server::error::MAX_FIELD_ERRORS)
    );
    assert!(
        reply.text.len() < 16_000,
        "an answer of {} bytes",
        reply.text.len()
    );
}
