//! The customers service end to end: registration, profile changes, tiers and reviews over
//! HTTP, read back from the `customers` read model; validation, idempotent retries, `If-Match`,
//! `min_position` and 404s as every write and read of the API has them. The products reviewed
//! are made through the products API.

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{Reply, Server};

fn register(id: &str, region: &str) -> Value {
    json!({"id": id, "email": format!("{id}@example.com"), "name": format!("Customer {id}"), "region": region})
}

async fn patch(server: &Server, path: &str, body: &Value, headers: &[(&str, &str)]) -> Reply {
    server.send(Method::PATCH, path, Some(body), headers).await
}

/// The customer as the read model holds them once it has applied `position`.
async fn customer(server: &Server, id: &str, position: u64) -> Value {
    let reply = server
        .get(&format!("/api/customers/{id}?min_position={position}"))
        .await
        .expect(200);
    assert_eq!(reply.header("read-model"), Some("customers"));
    reply.json()
}

#[track_caller]
fn assert_detail(reply: &Reply, wanted: &str) {
    let problem = reply.json();
    assert!(
        problem["detail"]
            .as_str()
            .is_some_and(|d| d.contains(wanted)),
        "{wanted:?} not in {problem}"
    );
}

/// A server with `products` in its catalogue, each made through the products API and then
/// changed as its list says (`updated`, `deleted`).
async fn server_with_products(products: &[(&str, &[&str])]) -> Server {
    let server = Server::start().await;
    for (product, changes) in products {
        server
            .post(
                "/api/products",
                &json!({"id": product, "name": "A product", "category": "tools", "price": 12.5}),
            )
            .await
            .expect(201);
        let path = format!("/api/products/{product}");
        for change in *changes {
            match *change {
                "updated" => {
                    patch(&server, &path, &json!({"name": "A better product"}), &[])
                        .await
                        .expect(202);
                }
                "deleted" => {
                    server
                        .send(Method::DELETE, &path, None, &[])
                        .await
                        .expect(202);
                }
                other => panic!("no product change {other:?}"),
            }
        }
    }
    server
}

pub async fn a_customer_is_registered_changed_and_read_back() {
    let server = Server::start().await;
    let registered = server
        .post("/api/customers", &register("cust-1", "Ontario"))
        .await
        .expect(201);
    assert_eq!(registered.header("location"), Some("/api/customers/cust-1"));
    assert_eq!(registered.header("etag"), Some("\"1\""));
    assert_eq!(registered.json()["id"], "cust-1");
    let read = customer(&server, "cust-1", registered.position()).await;
    assert_eq!(read["email"], "cust-1@example.com");
    assert_eq!(read["name"], "Customer cust-1");
    assert_eq!(read["region"], "Ontario");
    assert_eq!(read["tier"], "bronze");
    assert_eq!(
        read["activity"],
        json!({"orders_placed": 0, "orders_completed": 0, "total_spent": 0.0, "reviews_written": 0})
    );

    // Without an id, the server makes one.
    let made = server
        .post(
            "/api/customers",
            &json!({"email": "bea@example.com", "name": "Bea", "region": "Yukon"}),
        )
        .await
        .expect(201);
    let id = made.json()["id"].as_str().expect("id").to_owned();
    assert!(id.starts_with("cus-"), "{id}");
    assert_eq!(
        made.header("location"),
        Some(format!("/api/customers/{id}").as_str())
    );
    customer(&server, &id, made.position()).await;

    // A new name and region: CustomerUpdated and CustomerMoved in one append.
    let changed = patch(
        &server,
        "/api/customers/cust-1",
        &json!({"name": "Ada", "region": "Quebec", "email": "cust-1@example.com"}),
        &[],
    )
    .await
    .expect(202);
    assert_eq!(changed.header("etag"), Some("\"3\""));
    let tiered = server
        .post("/api/customers/cust-1/tier", &json!({"tier": "gold"}))
        .await
        .expect(202);
    assert_eq!(tiered.header("etag"), Some("\"4\""));
    let read = customer(&server, "cust-1", tiered.position()).await;
    assert_eq!(
        (
            &read["name"],
            &read["region"],
            &read["email"],
            &read["tier"]
        ),
        (
            &json!("Ada"),
            &json!("Quebec"),
            &json!("cust-1@example.com"),
            &json!("gold")
        )
    );

    // What the customer's state forbids is refused, and appends nothing.
    let head = server.head().await;
    server
        .post("/api/customers/cust-1/tier", &json!({"tier": "gold"}))
        .await
        .expect(409);
    patch(
        &server,
        "/api/customers/cust-1",
        &json!({"region": "Quebec"}),
        &[],
    )
    .await
    .expect(409);
    let again = server
        .post("/api/customers", &register("cust-1", "Yukon"))
        .await
        .expect(409);
    assert_eq!(
        again.header("content-type"),
        Some("application/problem+json")
    );
    assert_eq!(server.head().await, head);

    // Unknown customers.
    let missing = patch(&server, "/api/customers/nobody", &json!({"name": "X"}), &[])
        .await
        .expect(404);
    assert_detail(&missing, "customer nobody");
    server
        .post("/api/customers/nobody/tier", &json!({"tier": "silver"}))
        .await
        .expect(404);
    let unknown = server.get("/api/customers/nobody").await.expect(404);
    assert_eq!(unknown.header("read-model"), Some("customers"));
    assert_detail(&unknown, "customer nobody");
    assert_eq!(server.head().await, head);
}

pub async fn bad_customer_writes_are_refused_naming_the_field_and_change_nothing() {
    let server = server_with_products(&[("p-1", &[])]).await;
    server
        .post("/api/customers", &register("c1", "Ontario"))
        .await
        .expect(201);
    let head = server.head().await;
    let sorted = |reply: Reply| {
        let mut fields = reply.expect(422).fields();
        fields.sort();
        fields
    };

    let long_region = "r".repeat(projector_server::limits::REGION_MAX + 1);
    let bad = server
        .post(
            "/api/customers",
            &json!({"id": "bad id", "email": "ada@localhost", "name": " ", "region": long_region, "vip": true}),
        )
        .await;
    assert_eq!(sorted(bad), ["email", "id", "name", "region", "vip"]);
    let missing = server.post("/api/customers", &json!({})).await;
    assert_eq!(sorted(missing), ["email", "name", "region"]);

    let nothing = patch(&server, "/api/customers/c1", &json!({}), &[]).await;
    assert_eq!(sorted(nothing), ["body"]);
    let null = patch(&server, "/api/customers/c1", &json!({"name": null}), &[]).await;
    assert_eq!(sorted(null), ["name"]);
    let email = patch(
        &server,
        "/api/customers/c1",
        &json!({"email": "two@@example.com", "name": "\u{7}"}),
        &[],
    )
    .await;
    assert_eq!(sorted(email), ["email", "name"]);
    let path = patch(
        &server,
        "/api/customers/bad%20id",
        &json!({"name": "X"}),
        &[],
    )
    .await;
    assert_eq!(sorted(path), ["path.id"]);

    let tier = server
        .post("/api/customers/c1/tier", &json!({"tier": "diamond"}))
        .await;
    assert_eq!(sorted(tier), ["tier"]);
    let no_tier = server.post("/api/customers/c1/tier", &json!({})).await;
    assert_eq!(sorted(no_tier), ["tier"]);

    let review = server
        .post(
            "/api/products/p-1/reviews",
            &json!({"customer_id": "c 1", "rating": 6, "text": "bell\u{7}"}),
        )
        .await;
    assert_eq!(sorted(review), ["customer_id", "rating", "text"]);
    let long_text = "x".repeat(projector_server::limits::REVIEW_TEXT_MAX + 1);
    let review = server
        .post(
            "/api/products/p-1/reviews",
            &json!({"customer_id": "c1", "rating": 0, "text": long_text}),
        )
        .await;
    assert_eq!(sorted(review), ["rating", "text"]);
    // The body is checked before the product: a bad body of a missing product is 422.
    let review = server
        .post(
            "/api/products/no-such/reviews",
            &json!({"customer_id": "c1", "rating": "five", "text": ""}),
        )
        .await;
    assert_eq!(sorted(review), ["rating"]);
    let review = server
        .post(
            "/api/products/bad%20id/reviews",
            &json!({"customer_id": "c1", "rating": 5, "text": ""}),
        )
        .await;
    assert_eq!(sorted(review), ["path.id"]);
    let read = server.get("/api/customers/c1?min_position=x&extra=1").await;
    assert_eq!(sorted(read), ["query.extra", "query.min_position"]);

    assert_eq!(server.head().await, head, "nothing was appended");
}

pub async fn retries_are_answered_once_and_if_match_guards_changes() {
    let server = server_with_products(&[("p-1", &[])]).await;
    let body = json!({"email": "ada@example.com", "name": "Ada", "region": "Ontario"});
    let key = [("idempotency-key", "register-ada")];
    let first = server
        .send(Method::POST, "/api/customers", Some(&body), &key)
        .await
        .expect(201);
    let head = server.head().await;
    let retry = server
        .send(Method::POST, "/api/customers", Some(&body), &key)
        .await
        .expect(201);
    assert_eq!(retry.header("idempotent-replayed"), Some("true"));
    assert_eq!(retry.json()["id"], first.json()["id"]);
    assert_eq!(retry.position(), first.position());
    assert_eq!(server.head().await, head, "the retry appended nothing");
    let id = first.json()["id"].as_str().expect("id").to_owned();

    let review = json!({"customer_id": id, "rating": 4, "text": "Solid"});
    let key = [("idempotency-key", "review-p-1")];
    let reviewed = server
        .send(
            Method::POST,
            "/api/products/p-1/reviews",
            Some(&review),
            &key,
        )
        .await
        .expect(201);
    let retry = server
        .send(
            Method::POST,
            "/api/products/p-1/reviews",
            Some(&review),
            &key,
        )
        .await
        .expect(201);
    assert_eq!(retry.header("idempotent-replayed"), Some("true"));
    assert_eq!(retry.position(), reviewed.position());
    // Without the key, the same review again is a second review: refused.
    server
        .post("/api/products/p-1/reviews", &review)
        .await
        .expect(409);

    // If-Match: the version the client saw, or 412 once the customer has moved on.
    let path = format!("/api/customers/{id}");
    let seen = reviewed.header("etag").expect("etag").to_owned();
    let moved = patch(
        &server,
        &path,
        &json!({"region": "Quebec"}),
        &[("if-match", &seen)],
    )
    .await
    .expect(202);
    let stale = patch(
        &server,
        &path,
        &json!({"region": "Yukon"}),
        &[("if-match", &seen)],
    )
    .await
    .expect(412);
    assert_eq!(stale.json()["current_version"], 3, "{}", stale.text);
    server
        .send(
            Method::POST,
            &format!("{path}/tier"),
            Some(&json!({"tier": "silver"})),
            &[("if-match", &seen)],
        )
        .await
        .expect(412);
    let read = customer(&server, &id, moved.position()).await;
    assert_eq!(
        (&read["region"], &read["tier"]),
        (&json!("Quebec"), &json!("bronze"))
    );
}

pub async fn reviews_need_a_live_product_and_a_registered_customer() {
    let server = server_with_products(&[("p-live", &["updated"]), ("p-gone", &["deleted"])]).await;
    server
        .post("/api/customers", &register("c1", "Ontario"))
        .await
        .expect(201);
    let review = |customer: &str| json!({"customer_id": customer, "rating": 5, "text": "Great.\nWould buy again."});
    let reviewed = server
        .post("/api/products/p-live/reviews", &review("c1"))
        .await
        .expect(201);
    assert_eq!(reviewed.header("location"), Some("/api/customers/c1"));
    assert_eq!(reviewed.json()["id"], "c1");
    let read = customer(&server, "c1", reviewed.position()).await;
    assert_eq!(read["activity"]["reviews_written"], 1);
    assert!(read["activity"]["last_review_at"].is_string(), "{read}");
    let activity = server
        .get(&format!(
            "/api/customers/c1/activity?min_position={}",
            reviewed.position()
        ))
        .await
        .expect(200)
        .json();
    assert_eq!(activity["reviews_written"], 1);
    assert_eq!(activity["orders_placed"], 0);
    assert!(activity.get("first_order_at").is_none(), "{activity}");

    let head = server.head().await;
    let twice = server
        .post("/api/products/p-live/reviews", &review("c1"))
        .await
        .expect(409);
    assert_detail(&twice, "already reviewed product p-live");
    for product in ["p-gone", "p-never"] {
        let missing = server
            .post(&format!("/api/products/{product}/reviews"), &review("c1"))
            .await
            .expect(404);
        assert_detail(&missing, &format!("product {product} not found"));
    }
    let stranger = server
        .post("/api/products/p-live/reviews", &review("c9"))
        .await
        .expect(404);
    assert_detail(&stranger, "customer c9 not found");
    assert_eq!(server.head().await, head, "nothing was appended");
}

pub async fn orders_before_registration_count_once_the_customer_registers() {
    let server = Server::start().await;
    server.place("early-1", "late", &[("a", 2, 10.0)]).await;
    server
        .post("/api/orders/early-1/ship", &json!({"tracking": "T1"}))
        .await
        .expect(202);
    let completed = server
        .send(Method::POST, "/api/orders/early-1/complete", None, &[])
        .await
        .expect(202)
        .position();
    // Orders name the customer, but they have not registered.
    let unregistered = server
        .get(&format!("/api/customers/late?min_position={completed}"))
        .await
        .expect(404);
    assert_detail(&unregistered, "customer late not found");
    let activity = server
        .get(&format!(
            "/api/customers/late/activity?min_position={completed}"
        ))
        .await
        .expect(200)
        .json();
    assert_eq!(activity["orders_placed"], 1);

    let registered = server
        .post("/api/customers", &register("late", "Nunavut"))
        .await
        .expect(201)
        .position();
    let read = customer(&server, "late", registered).await;
    assert_eq!(read["region"], "Nunavut");
    assert_eq!(read["activity"]["orders_placed"], 1);
    assert_eq!(read["activity"]["orders_completed"], 1);
    assert_eq!(read["activity"]["total_spent"], 20.0);
    assert!(read["activity"]["last_order_at"].is_string(), "{read}");

    let later = server.place("later-1", "late", &[("b", 1, 0.1)]).await;
    let read = customer(&server, "late", later).await;
    assert_eq!(read["activity"]["orders_placed"], 2);
    assert_eq!(read["activity"]["total_spent"], 20.0);

    // A read may not wait for a position no write has reached.
    let beyond = server
        .get(&format!(
            "/api/customers/late?min_position={}",
            later + 1000
        ))
        .await
        .expect(422);
    assert_eq!(beyond.fields(), ["query.min_position"]);
}
