//! The read API beyond a single order: "my orders" with pages, customer activity, daily sales.

use reqwest::Method;
use serde_json::json;

use crate::helpers::Server;

pub async fn my_orders_are_newest_first_a_page_at_a_time() {
    let server = Server::start().await;
    let mut last = 0;
    for i in 0..7 {
        last = server
            .place(&format!("o{i}"), "cust-7", &[("a", 1, 1.0)])
            .await;
    }
    server.place("other", "cust-8", &[("a", 1, 1.0)]).await;
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            None => format!("/api/customers/cust-7/orders?limit=3&min_position={last}"),
            Some(c) => format!("/api/customers/cust-7/orders?limit=3&cursor={c}"),
        };
        let page = server.get(&path).await.expect(200).json();
        let orders = page["orders"].as_array().expect("orders").clone();
        assert!(orders.len() <= 3);
        seen.extend(
            orders
                .iter()
                .map(|o| o["order_id"].as_str().expect("id").to_owned()),
        );
        match page["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
    }
    assert_eq!(seen, ["o6", "o5", "o4", "o3", "o2", "o1", "o0"]);
    let none = server
        .get("/api/customers/nobody/orders")
        .await
        .expect(200)
        .json();
    assert_eq!(none["orders"], json!([]));
}

pub async fn activity_and_daily_sales_follow_completions_and_refunds() {
    let server = Server::start().await;
    server.place("a", "c1", &[("x", 2, 10.0)]).await;
    server.place("b", "c1", &[("y", 1, 5.0)]).await;
    server
        .post("/api/orders/b/cancel", &json!({"reason": "no"}))
        .await
        .expect(202);
    server
        .post("/api/orders/a/ship", &json!({"tracking": "T"}))
        .await
        .expect(202);
    server
        .send(Method::POST, "/api/orders/a/complete", None, &[])
        .await
        .expect(202);
    let last = server
        .post("/api/orders/a/refund", &json!({"amount": 2.5}))
        .await
        .expect(202)
        .position();

    let activity = server
        .get(&format!("/api/customers/c1/activity?min_position={last}"))
        .await
        .expect(200)
        .json();
    assert_eq!(activity["orders_placed"], 2);
    assert_eq!(activity["orders_completed"], 1);
    assert_eq!(activity["orders_cancelled"], 1);
    assert_eq!(activity["total_spent"], 20.0);
    assert_eq!(activity["total_refunded"], 2.5);
    server
        .get("/api/customers/nobody/activity")
        .await
        .expect(404);

    // The sales count on the day of the completion, which is not today's date at midnight.
    let day = server.completed_on("a").await;
    let range = format!("{}&min_position={last}", Server::days_around(day));
    let report = server
        .get(&format!("/api/reports/daily-sales?{range}"))
        .await
        .expect(200)
        .json();
    let days = report["days"].as_array().expect("days");
    assert_eq!(days.len(), 1, "{report}");
    assert_eq!(days[0]["date"], day.to_string());
    assert_eq!(days[0]["orders_completed"], 1);
    assert_eq!(days[0]["items_sold"], 2);
    assert_eq!(days[0]["gross_revenue"], 20.0);
    assert_eq!(days[0]["refunded_amount"], 2.5);
    assert_eq!(days[0]["net_revenue"], 17.5);
    assert_eq!(report["net_revenue"], 17.5);
}

/// Every read route says which read model answered it, found or not, and how far that read
/// model had got.
pub async fn every_read_names_the_read_model_that_answered() {
    let server = Server::start().await;
    let position = server.place("rm-1", "cust-rm", &[("a", 1, 2.5)]).await;
    let issue = server
        .send(
            Method::POST,
            "/api/issues",
            Some(&json!({"title": "Read models"})),
            &[("x-user-id", "ada")],
        )
        .await
        .expect(201)
        .json();
    let issue_id = issue["id"].as_str().expect("id").to_owned();
    server
        .post(
            "/api/products",
            &json!({"id": "rm-p", "name": "Read models", "category": "books", "price": 9.5}),
        )
        .await
        .expect(201);
    server
        .post(
            "/api/customers",
            &json!({"id": "cust-rm", "email": "rm@example.com", "name": "Read Models", "region": "Ontario"}),
        )
        .await
        .expect(201);
    let head = server.head().await;
    let reads = [
        (
            format!("/api/customers/cust-rm?min_position={head}"),
            200,
            "customers",
        ),
        ("/api/customers/nobody".to_owned(), 404, "customers"),
        (
            format!("/api/orders/rm-1/projection?min_position={position}"),
            200,
            "order_summary",
        ),
        (
            "/api/orders/nope/projection".to_owned(),
            404,
            "order_summary",
        ),
        ("/api/orders/rm-1/history".to_owned(), 200, "events"),
        ("/api/orders/nope/history".to_owned(), 404, "events"),
        (
            format!("/api/customers/cust-rm/orders?min_position={position}"),
            200,
            "customers",
        ),
        (
            "/api/customers/cust-rm/activity".to_owned(),
            200,
            "customers",
        ),
        (
            "/api/customers/nobody/activity".to_owned(),
            404,
            "customers",
        ),
        (
            "/api/reports/daily-sales?from=2026-01-01&to=2026-01-31".to_owned(),
            200,
            "daily_sales",
        ),
        (
            format!("/api/issues/{issue_id}?min_position={head}"),
            200,
            "issues",
        ),
        (format!("/api/issues?min_position={head}"), 200, "issues"),
        (
            format!("/api/orders/search?q=rm-1&min_position={position}"),
            200,
            "order_search",
        ),
        (
            format!("/api/issues/{issue_id}/history?min_position={head}"),
            200,
            "issue_history",
        ),
        (
            format!("/api/products/rm-p?min_position={head}"),
            200,
            "products",
        ),
        ("/api/products/nope".to_owned(), 404, "products"),
        (
            format!("/api/products/search?q=rm&min_position={head}"),
            200,
            "product_search",
        ),
    ];
    for (path, status, read_model) in reads {
        let reply = server.get(&path).await.expect(status);
        let answered = reply.header("read-model");
        // With the cache configured, "my orders" comes from it whenever it is as fresh.
        let cached = crate::helpers::cache().is_some()
            && read_model == "customers"
            && path.contains("/orders")
            && answered == Some("customer_orders_cache");
        assert!(
            cached || answered == Some(read_model),
            "{path}: {answered:?}"
        );
        assert!(reply.header("projection-position").is_some(), "{path}");
    }
}

/// Amounts are whole cents until the answer is written: a dime and two make 0.3 in every read
/// (never 0.30000000000000004), and a report without sales totals 0.0 (never -0.0).
pub async fn amounts_read_back_as_the_decimals_written() {
    let server = Server::start().await;
    server
        .place("dimes", "cust-d", &[("a", 1, 0.1), ("b", 1, 0.2)])
        .await;
    server
        .post("/api/orders/dimes/ship", &json!({"tracking": "T"}))
        .await
        .expect(202);
    server
        .send(Method::POST, "/api/orders/dimes/complete", None, &[])
        .await
        .expect(202);
    let last = server
        .post("/api/orders/dimes/refund", &json!({"amount": 0.1}))
        .await
        .expect(202)
        .position();
    let day = server.completed_on("dimes").await;
    let reads = [
        (
            format!("/api/orders/dimes/projection?min_position={last}"),
            &[r#""total_amount":0.3,"#, r#""refunded_amount":0.1"#][..],
        ),
        (
            format!("/api/customers/cust-d/orders?min_position={last}"),
            &[r#""total_amount":0.3,"#][..],
        ),
        (
            format!("/api/customers/cust-d/activity?min_position={last}"),
            &[r#""total_spent":0.3,"#, r#""total_refunded":0.1,"#][..],
        ),
        (
            format!(
                "/api/reports/daily-sales?{}&min_position={last}",
                Server::days_around(day)
            ),
            &[
                r#""gross_revenue":0.3,"#,
                r#""refunded_amount":0.1,"#,
                r#""net_revenue":0.2"#,
            ][..],
        ),
        (
            format!("/api/reports/daily-sales?from=2020-01-01&to=2020-01-31&min_position={last}"),
            &[
                r#""days":[]"#,
                r#""gross_revenue":0.0,"#,
                r#""refunded_amount":0.0,"#,
                r#""net_revenue":0.0"#,
            ][..],
        ),
    ];
    for (path, wanted) in reads {
        let reply = server.get(&path).await.expect(200);
        for text in wanted {
            assert!(
                reply.text.contains(text),
                "{path}: {text} in {}",
                reply.text
            );
        }
        assert!(
            !reply.text.contains(":-"),
            "{path}: no negative number in {}",
            reply.text
        );
        assert_whole_cents(&reply.json(), &path);
    }
}

/// Every number in `value` is written with at most two decimals.
#[track_caller]
fn assert_whole_cents(value: &serde_json::Value, path: &str) {
    match value {
        serde_json::Value::Number(n) => {
            let text = n.to_string();
            let decimals = text.split_once('.').map_or(0, |(_, d)| d.len());
            assert!(decimals <= 2, "{path}: {text}");
        }
        serde_json::Value::Array(items) => items.iter().for_each(|v| assert_whole_cents(v, path)),
        serde_json::Value::Object(fields) => {
            fields.values().for_each(|v| assert_whole_cents(v, path));
        }
        _ => {}
    }
}
