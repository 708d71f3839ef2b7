//! The product catalogue over HTTP: every route's success, bad input named field by field with
//! nothing appended, idempotent retries, `If-Match`, reads that wait for `min_position`, 404s
//! for products missing or deleted, and the read model rebuilt from the command line.

use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{Reply, Server, projector};

/// A product as the tests create it.
fn lamp() -> Value {
    json!({
        "id": "lamp-1",
        "name": "Desk lamp",
        "description": "Warm light.\nTwo settings.",
        "category": "lighting",
        "price": 25.99,
        "tags": ["led", "desk"],
    })
}

impl Server {
    async fn patch(&self, path: &str, body: &Value) -> Reply {
        self.send(Method::PATCH, path, Some(body), &[]).await
    }

    async fn delete(&self, path: &str) -> Reply {
        self.send(Method::DELETE, path, None, &[]).await
    }

    /// Product `id` once the read model has applied `position`.
    async fn product(&self, id: &str, position: u64) -> Reply {
        self.get(&format!("/api/products/{id}?min_position={position}"))
            .await
    }
}

#[track_caller]
fn assert_read_model(reply: &Reply, position: u64) {
    assert_eq!(
        reply.header("read-model"),
        Some("products"),
        "{}",
        reply.text
    );
    let reached: u64 = reply
        .header("projection-position")
        .and_then(|p| p.parse().ok())
        .expect("a Projection-Position");
    assert!(reached >= position, "read at {reached}, before {position}");
}

pub async fn a_product_is_created_changed_repriced_and_deleted() {
    let server = Server::start().await;
    let created = server.post("/api/products", &lamp()).await.expect(201);
    assert_eq!(created.header("location"), Some("/api/products/lamp-1"));
    assert_eq!(created.header("etag"), Some("\"1\""));
    let body = created.json();
    assert_eq!(
        (&body["id"], &body["status"]),
        (&json!("lamp-1"), &json!("accepted"))
    );

    let read = server
        .product("lamp-1", created.position())
        .await
        .expect(200);
    assert_read_model(&read, created.position());
    assert_eq!(read.header("etag"), Some("\"1\""));
    let product = read.json();
    assert_eq!(product["name"], "Desk lamp");
    assert_eq!(product["description"], "Warm light.\nTwo settings.");
    assert_eq!(product["category"], "lighting");
    assert_eq!(product["price"], 25.99);
    assert_eq!(product["tags"], json!(["led", "desk"]));
    assert_eq!(product["version"], 1);
    assert_eq!(product["created_at"], product["updated_at"]);

    let updated = server
        .patch(
            "/api/products/lamp-1",
            &json!({"name": "Desk lamp XL", "category": "lighting", "tags": ["led"]}),
        )
        .await
        .expect(202);
    assert_eq!(updated.header("etag"), Some("\"2\""));
    assert_eq!(updated.header("location"), Some("/api/products/lamp-1"));
    let repriced = server
        .post("/api/products/lamp-1/price", &json!({"price": 19.9}))
        .await
        .expect(202);
    assert_eq!(repriced.header("etag"), Some("\"3\""));
    let read = server
        .product("lamp-1", repriced.position())
        .await
        .expect(200);
    assert_eq!(read.header("etag"), Some("\"3\""));
    let product = read.json();
    assert_eq!(
        (&product["name"], &product["category"], &product["price"]),
        (&json!("Desk lamp XL"), &json!("lighting"), &json!(19.9))
    );
    assert_eq!(product["tags"], json!(["led"]));
    assert_eq!(product["description"], "Warm light.\nTwo settings.", "kept");
    assert_eq!(product["version"], 3);

    // A product created without an id gets one made from the command.
    let made = server
        .post(
            "/api/products",
            &json!({"name": "Chair", "category": "furniture", "price": 89}),
        )
        .await
        .expect(201);
    let id = made.json()["id"].as_str().expect("an id").to_owned();
    assert!(id.starts_with("prd-"), "{id}");
    assert_eq!(
        made.header("location"),
        Some(format!("/api/products/{id}").as_str())
    );
    let chair = server
        .product(&id, made.position())
        .await
        .expect(200)
        .json();
    assert_eq!(
        (&chair["description"], &chair["tags"]),
        (&json!(""), &json!([]))
    );

    // Deleted: the read model drops it, and nothing more can be done to it.
    let deleted = server.delete("/api/products/lamp-1").await.expect(202);
    assert_eq!(deleted.header("etag"), Some("\"4\""));
    let gone = server
        .product("lamp-1", deleted.position())
        .await
        .expect(404);
    assert_read_model(&gone, deleted.position());
    assert_eq!(
        gone.header("content-type"),
        Some("application/problem+json")
    );
    assert_eq!(gone.json()["detail"], "product lamp-1 not found");
    let before = server.appended().await;
    for refused in [
        server
            .patch("/api/products/lamp-1", &json!({"name": "Back"}))
            .await,
        server
            .post("/api/products/lamp-1/price", &json!({"price": 1}))
            .await,
        server.delete("/api/products/lamp-1").await,
        server.post("/api/products", &lamp()).await,
    ] {
        let refused = refused.expect(409);
        assert_eq!(
            refused.header("content-type"),
            Some("application/problem+json")
        );
    }
    assert_eq!(server.appended().await, before, "refusals append nothing");
    // The other product is untouched.
    server.product(&id, deleted.position()).await.expect(200);
}

pub async fn bad_product_input_is_named_and_changes_nothing() {
    let server = Server::start().await;
    let created = server.post("/api/products", &lamp()).await.expect(201);
    server
        .product("lamp-1", created.position())
        .await
        .expect(200);
    let before = server.appended().await;

    let bad = server
        .post(
            "/api/products",
            &json!({
                "id": "lamp 2",
                "name": "",
                "description": "bell\u{7}",
                "category": "Lighting",
                "price": 12.345,
                "tags": ["led", "led", "Bright"],
                "colour": "red",
            }),
        )
        .await
        .expect(422);
    assert_eq!(bad.header("content-type"), Some("application/problem+json"));
    assert_eq!(
        bad.fields(),
        [
            "colour",
            "id",
            "name",
            "description",
            "category",
            "price",
            "tags[1]",
            "tags[2]"
        ]
    );
    let missing = server.post("/api/products", &json!({})).await.expect(422);
    assert_eq!(missing.fields(), ["name", "category", "price"]);
    // `search` would be hidden by `GET /api/products/search`.
    let mut reserved = lamp();
    reserved["id"] = json!("search");
    let refused = server.post("/api/products", &reserved).await.expect(422);
    assert_eq!(refused.fields(), ["id"]);
    for (price, message) in [
        (json!(0), "must be greater than 0"),
        (json!(-1), "must not be negative"),
        (json!(1000000.01), "must be at most 1000000"),
        (json!("9.99"), "must be a number, not a string"),
    ] {
        let refused = server
            .post("/api/products/lamp-1/price", &json!({"price": price}))
            .await
            .expect(422);
        assert_eq!(refused.fields(), ["price"], "{price}");
        assert_eq!(refused.json()["errors"][0]["message"], message, "{price}");
    }
    let tags: Vec<String> = (0..21).map(|i| format!("t{i}")).collect();
    let patched = server
        .patch(
            "/api/products/lamp-1",
            &json!({"name": "x".repeat(201), "tags": tags, "price": 3}),
        )
        .await
        .expect(422);
    assert_eq!(patched.fields(), ["price", "name", "tags"]);
    let path = server.get("/api/products/lamp%201").await.expect(422);
    assert_eq!(path.fields(), ["path.id"]);
    let path = server
        .patch("/api/products/-lamp", &json!({"name": "x"}))
        .await
        .expect(422);
    assert_eq!(path.fields(), ["path.id"]);
    let body = server
        .send(
            Method::DELETE,
            "/api/products/lamp-1",
            Some(&json!({"x": 1})),
            &[],
        )
        .await
        .expect(422);
    assert_eq!(body.fields(), ["x"]);
    server
        .send_raw(
            Method::POST,
            "/api/products",
            Some("application/json"),
            b"{\"name\": ".to_vec(),
        )
        .await
        .expect(400);
    server
        .send(Method::PATCH, "/api/products/lamp-1", None, &[])
        .await
        .expect(400);

    // Valid, but nothing to do: the product's state refuses them.
    let same = server
        .patch(
            "/api/products/lamp-1",
            &json!({"name": "Desk lamp", "tags": ["led", "desk"]}),
        )
        .await
        .expect(409);
    assert!(
        same.json()["detail"]
            .as_str()
            .is_some_and(|d| d.contains("changes nothing")),
        "{}",
        same.text
    );
    server
        .patch("/api/products/lamp-1", &json!({}))
        .await
        .expect(409);
    let price = server
        .post("/api/products/lamp-1/price", &json!({"price": 25.99}))
        .await
        .expect(409);
    assert_eq!(
        price.json()["detail"],
        "the product's price is already 25.99"
    );
    assert_eq!(server.appended().await, before, "nothing was appended");
    let read = server
        .product("lamp-1", created.position())
        .await
        .expect(200);
    assert_eq!(read.header("etag"), Some("\"1\""));
}

pub async fn product_writes_are_idempotent_and_guarded_by_if_match() {
    let server = Server::start().await;
    let key = [("Idempotency-Key", "create-lamp")];
    let body = json!({"name": "Lamp", "category": "lighting", "price": 10});
    let first = server
        .send(Method::POST, "/api/products", Some(&body), &key)
        .await
        .expect(201);
    let appended = server.appended().await;
    let retry = server
        .send(Method::POST, "/api/products", Some(&body), &key)
        .await
        .expect(201);
    assert_eq!(
        retry.json(),
        first.json(),
        "the same answer, the same made id"
    );
    assert_eq!(retry.header("idempotent-replayed"), Some("true"));
    assert_eq!(retry.header("location"), first.header("location"));
    assert_eq!(server.appended().await, appended, "appended once");
    let mismatch = server
        .send(
            Method::POST,
            "/api/products",
            Some(&json!({"name": "Other", "category": "lighting", "price": 10})),
            &key,
        )
        .await
        .expect(422);
    assert_eq!(
        mismatch.json()["type"],
        "urn:projector:problem:idempotency-mismatch"
    );

    let id = first.json()["id"].as_str().expect("an id").to_owned();
    let path = format!("/api/products/{id}");
    let price = format!("{path}/price");
    let repriced = server
        .send(
            Method::POST,
            &price,
            Some(&json!({"price": 12})),
            &[("If-Match", "\"1\""), ("Idempotency-Key", "reprice")],
        )
        .await
        .expect(202);
    assert_eq!(repriced.header("etag"), Some("\"2\""));
    // The retry of a write that went through is answered, not refused by its stale If-Match.
    let again = server
        .send(
            Method::POST,
            &price,
            Some(&json!({"price": 12})),
            &[("If-Match", "\"1\""), ("Idempotency-Key", "reprice")],
        )
        .await
        .expect(202);
    assert_eq!(again.header("idempotent-replayed"), Some("true"));
    let before = server.appended().await;
    for stale in [
        server
            .send(
                Method::PATCH,
                &path,
                Some(&json!({"name": "Lamp 2"})),
                &[("If-Match", "\"1\"")],
            )
            .await,
        server
            .send(
                Method::POST,
                &price,
                Some(&json!({"price": 13})),
                &[("If-Match", "\"1\"")],
            )
            .await,
        server
            .send(Method::DELETE, &path, None, &[("If-Match", "\"1\"")])
            .await,
    ] {
        let stale = stale.expect(412);
        assert_eq!(stale.json()["current_version"], 2);
    }
    assert_eq!(
        server.appended().await,
        before,
        "stale writes append nothing"
    );
    let fresh = server
        .send(
            Method::PATCH,
            &path,
            Some(&json!({"name": "Lamp 2"})),
            &[("If-Match", "\"2\"")],
        )
        .await
        .expect(202);
    let read = server.product(&id, fresh.position()).await.expect(200);
    assert_eq!(read.header("etag"), Some("\"3\""));
    assert_eq!(read.json()["name"], "Lamp 2");
    server
        .send(Method::DELETE, &path, None, &[("If-Match", "\"3\"")])
        .await
        .expect(202);
}

pub async fn product_reads_wait_for_their_writes_and_404_when_missing() {
    let server = Server::start().await;
    let missing = server.get("/api/products/nope").await.expect(404);
    assert_read_model(&missing, 0);
    assert_eq!(missing.json()["detail"], "product nope not found");
    for write in [
        server
            .patch("/api/products/nope", &json!({"name": "x"}))
            .await,
        server
            .post("/api/products/nope/price", &json!({"price": 1}))
            .await,
        server.delete("/api/products/nope").await,
    ] {
        assert_eq!(write.expect(404).json()["detail"], "product nope not found");
    }
    assert_eq!(server.appended().await, 0);
    for i in 0..10 {
        let created = server
            .post(
                "/api/products",
                &json!({"id": format!("p{i}"), "name": "P", "category": "misc", "price": 1}),
            )
            .await
            .expect(201);
        let repriced = server
            .post(&format!("/api/products/p{i}/price"), &json!({"price": 2.5}))
            .await
            .expect(202);
        assert!(repriced.position() > created.position());
        // Read straight after the write: min_position makes it see the write.
        let read = server
            .get(&format!(
                "/api/products/p{i}?min_position={}&wait_ms=5000",
                repriced.position()
            ))
            .await
            .expect(200);
        assert_read_model(&read, repriced.position());
        assert_eq!(read.json()["price"], 2.5);
    }
    let head = server.head().await;
    let ahead = server
        .get(&format!("/api/products/p0?min_position={}", head + 1000))
        .await
        .expect(422);
    assert_eq!(ahead.fields(), ["query.min_position"]);
}

pub async fn the_products_read_model_is_rebuilt_from_the_command_line() {
    let limit = Duration::from_secs(60);
    let mut server = Server::start().await;
    let storage = server.storage_args();
    server.post("/api/products", &lamp()).await.expect(201);
    let last = server
        .post("/api/products/lamp-1/price", &json!({"price": 30}))
        .await
        .expect(202)
        .position();
    let before = server.product("lamp-1", last).await.expect(200).json();
    let kept = server.keep_storage();
    assert!(server.terminate(), "a clean exit on SIGTERM");

    let rebuilt = projector(&["rebuild", "products"], &storage, limit).await;
    assert!(rebuilt.success, "{}", rebuilt.stderr);
    assert!(
        rebuilt.stdout.contains(&format!(
            "rebuilt products: generation g2 serves reads at position {last}"
        )),
        "{}",
        rebuilt.stdout
    );
    let status = projector(&["status", "--json"], &storage, limit).await;
    assert!(status.success, "{}", status.stderr);
    let status: Value = serde_json::from_str(&status.stdout).expect("JSON");
    let products = status["projections"]
        .as_array()
        .expect("projections")
        .iter()
        .find(|p| p["projection"] == "products")
        .unwrap_or_else(|| panic!("no products in {status}"));
    assert_eq!(
        (&products["generation"], &products["checkpoint"]),
        (&json!("g2"), &json!(last))
    );

    let server = Server::start_with(kept).await;
    assert_eq!(
        server.product("lamp-1", last).await.expect(200).json(),
        before
    );
}
