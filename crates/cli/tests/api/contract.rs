//! Every kind of answer a client gets, checked against the OpenAPI document the same server
//! serves at `/openapi.json`: its status is documented for the operation, with the answer's
//! content type, and its body matches that response's schema (`Contract`, closed objects and
//! formats included). Writes (201, 202, and 200 for an edit that changes nothing), reads,
//! admin answers, and the `application/problem+json` problems of each (400, 401, 404, 409,
//! 412, 413, 415, 422, 503); and the checker itself, shown refusing altered bodies.

use projector_testkit::wait::eventually;
use reqwest::Method;
use serde_json::{Value, json};

use crate::admin::projection;
use crate::dead_letters::{break_read_model, mend_read_model, wait_state};
use crate::helpers::{Reply, Server, Storage};
use crate::openapi::Contract;

mod sqlite {
    use crate::helpers::Backend;

    #[tokio::test]
    async fn writes_and_reads_answer_as_documented() {
        Backend::Sqlite
            .run(super::writes_and_reads_answer_as_documented())
            .await;
    }

    #[tokio::test]
    async fn admin_answers_are_as_documented() {
        Backend::Sqlite
            .run(super::admin_answers_are_as_documented())
            .await;
    }

    #[tokio::test]
    async fn the_checker_refuses_what_the_document_does_not_promise() {
        Backend::Sqlite
            .run(super::the_checker_refuses_what_the_document_does_not_promise())
            .await;
    }

    #[tokio::test]
    async fn guarded_answers_are_as_documented() {
        Backend::Sqlite
            .run(super::guarded_answers_are_as_documented())
            .await;
    }
}

mod postgres {
    use crate::helpers::Backend;

    #[tokio::test]
    async fn writes_and_reads_answer_as_documented() {
        Backend::Postgres
            .run(super::writes_and_reads_answer_as_documented())
            .await;
    }

    #[tokio::test]
    async fn admin_answers_are_as_documented() {
        Backend::Postgres
            .run(super::admin_answers_are_as_documented())
            .await;
    }
}

const ALICE: [(&str, &str); 1] = [("X-User-Id", "alice")];

async fn patch(server: &Server, path: &str, body: &Value, headers: &[(&str, &str)]) -> Reply {
    server.send(Method::PATCH, path, Some(body), headers).await
}

async fn delete(server: &Server, path: &str) -> Reply {
    server.send(Method::DELETE, path, None, &[]).await
}

/// The `position` of a write answer already checked.
fn position(body: &Value) -> u64 {
    body["position"].as_u64().expect("position")
}

async fn writes_and_reads_answer_as_documented() {
    let server = Server::start().await;
    let contract = Contract::load(&server).await;
    let at = writes(&server, &contract).await;
    write_problems(&server, &contract).await;
    reads(&server, &contract, &at).await;
    read_problems(&server, &contract, &at).await;
}

/// Positions of the writes, for the reads to wait on.
struct Written {
    product: u64,
    customer: u64,
    order: u64,
    issue: u64,
    issue_id: String,
}

/// The 201, 202 and 200 answers of the orders, customers, products and issues writes.
async fn writes(server: &Server, contract: &Contract) -> Written {
    // Products: created, changed, repriced; another created and deleted.
    let lamp = json!({"id": "lamp-1", "name": "Desk lamp", "description": "Warm light.",
        "category": "lighting", "price": 25.99, "tags": ["led", "desk"]});
    let created = contract.assert_reply(
        "create_product",
        201,
        &server.post("/api/products", &lamp).await,
    );
    assert_eq!(created["id"], "lamp-1");
    assert_eq!(created["status"], "accepted");
    contract.assert_reply(
        "update_product",
        202,
        &patch(
            server,
            "/api/products/lamp-1",
            &json!({"name": "Brass desk lamp"}),
            &[],
        )
        .await,
    );
    let repriced = contract.assert_reply(
        "change_price",
        202,
        &server
            .post("/api/products/lamp-1/price", &json!({"price": 29.5}))
            .await,
    );
    contract.assert_reply(
        "create_product",
        201,
        &server
            .post(
                "/api/products",
                &json!({"id": "lamp-2", "name": "Floor lamp", "category": "lighting", "price": 80}),
            )
            .await,
    );
    contract.assert_reply(
        "delete_product",
        202,
        &delete(server, "/api/products/lamp-2").await,
    );

    // Customers: registered, moved, tiered, and a review of the lamp.
    contract.assert_reply(
        "register_customer",
        201,
        &server
            .post(
                "/api/customers",
                &json!({"id": "cust-7", "email": "ada@example.com", "name": "Ada", "region": "Ontario"}),
            )
            .await,
    );
    contract.assert_reply(
        "update_customer",
        202,
        &patch(
            server,
            "/api/customers/cust-7",
            &json!({"region": "Quebec"}),
            &[],
        )
        .await,
    );
    contract.assert_reply(
        "change_tier",
        202,
        &server
            .post("/api/customers/cust-7/tier", &json!({"tier": "gold"}))
            .await,
    );
    let reviewed = contract.assert_reply(
        "submit_review",
        201,
        &server
            .post(
                "/api/products/lamp-1/reviews",
                &json!({"customer_id": "cust-7", "rating": 5, "text": "Bright and warm."}),
            )
            .await,
    );

    // Orders: one through its whole life, one cancelled.
    contract.assert_reply(
        "create_order",
        202,
        &server
            .post(
                "/api/orders",
                &json!({"id": "order-7", "customer_id": "cust-7", "items": [
                    {"sku": "lamp-1", "quantity": 1, "unit_price": 29.5},
                    {"sku": "bulb", "quantity": 2, "unit_price": 3.25}]}),
            )
            .await,
    );
    contract.assert_reply(
        "add_item",
        202,
        &server
            .post(
                "/api/orders/order-7/items",
                &json!({"sku": "shade", "quantity": 1, "unit_price": 12}),
            )
            .await,
    );
    contract.assert_reply(
        "remove_item",
        202,
        &delete(server, "/api/orders/order-7/items/shade").await,
    );
    contract.assert_reply(
        "ship_order",
        202,
        &server
            .post("/api/orders/order-7/ship", &json!({"tracking": "TRK-7"}))
            .await,
    );
    contract.assert_reply(
        "complete_order",
        202,
        &server.post_empty("/api/orders/order-7/complete").await,
    );
    let refunded = contract.assert_reply(
        "refund_order",
        202,
        &server
            .post("/api/orders/order-7/refund", &json!({"amount": 3.25}))
            .await,
    );
    contract.assert_reply(
        "create_order",
        202,
        &server
            .post(
                "/api/orders",
                &json!({"id": "order-8", "customer_id": "cust-7", "items": [
                    {"sku": "bulb", "quantity": 1, "unit_price": 3.25}]}),
            )
            .await,
    );
    contract.assert_reply(
        "cancel_order",
        202,
        &server
            .post(
                "/api/orders/order-8/cancel",
                &json!({"reason": "Ordered twice"}),
            )
            .await,
    );

    // Issues: opened, changed (202), the same change again (200: nothing recorded), commented.
    let opened = contract.assert_reply(
        "create_issue",
        201,
        &server
            .send(
                Method::POST,
                "/api/issues",
                Some(&json!({"title": "Lamp flickers", "description": "steps:\n1. switch on", "priority": "high"})),
                &ALICE,
            )
            .await,
    );
    let issue_id = opened["id"].as_str().expect("id").to_owned();
    let path = format!("/api/issues/{issue_id}");
    let change = json!({"state": "in_progress", "assignee": "bob"});
    contract.assert_reply(
        "update_issue",
        202,
        &patch(server, &path, &change, &ALICE).await,
    );
    contract.assert_reply(
        "update_issue",
        200,
        &patch(server, &path, &change, &ALICE).await,
    );
    let commented = contract.assert_reply(
        "add_comment",
        201,
        &server
            .send(
                Method::POST,
                &format!("{path}/comments"),
                Some(&json!({"body": "Seen it too."})),
                &ALICE,
            )
            .await,
    );
    Written {
        product: position(&repriced),
        customer: position(&reviewed),
        order: position(&refunded),
        issue: position(&commented),
        issue_id,
    }
}

/// The problems writes answer: malformed (400), anonymous (401), unknown (404), forbidden by
/// the state (409), at another version (412), too large (413), not JSON (415), and invalid
/// fields, each named (422).
async fn write_problems(server: &Server, contract: &Contract) {
    let raw = |content_type: &'static str, body: &'static [u8]| {
        server.send_raw(
            Method::POST,
            "/api/orders",
            Some(content_type),
            body.to_vec(),
        )
    };
    contract.assert_problem(
        "create_order",
        400,
        &[],
        &raw("application/json", b"{\"customer_id\": ").await,
    );
    contract.assert_problem(
        "create_order",
        415,
        &[],
        &raw("text/plain", b"{\"customer_id\": \"c\"}").await,
    );
    let big = json!({"customer_id": "c", "items": [], "pad": "x".repeat(70_000)});
    contract.assert_problem(
        "create_order",
        413,
        &[],
        &server.post("/api/orders", &big).await,
    );
    contract.assert_problem(
        "create_order",
        422,
        &["items[0].quantity", "customer_id"],
        &server
            .post(
                "/api/orders",
                &json!({"customer_id": "", "items": [{"sku": "a", "quantity": 0, "unit_price": 1}]}),
            )
            .await,
    );
    contract.assert_problem(
        "register_customer",
        422,
        &["email"],
        &server
            .post(
                "/api/customers",
                &json!({"id": "cust-8", "email": "not an address", "name": "Bo", "region": "Yukon"}),
            )
            .await,
    );
    contract.assert_problem(
        "create_product",
        422,
        &["price"],
        &server
            .post(
                "/api/products",
                &json!({"name": "Free lamp", "category": "lighting", "price": 0}),
            )
            .await,
    );
    contract.assert_problem(
        "update_issue",
        422,
        &["path.id"],
        &patch(server, "/api/issues/-bad", &json!({"title": "x"}), &ALICE).await,
    );

    contract.assert_problem(
        "create_issue",
        401,
        &[],
        &server
            .post("/api/issues", &json!({"title": "Anonymous"}))
            .await,
    );

    contract.assert_problem(
        "ship_order",
        404,
        &[],
        &server
            .post("/api/orders/no-such-order/ship", &json!({"tracking": "T"}))
            .await,
    );
    contract.assert_problem(
        "update_customer",
        404,
        &[],
        &patch(
            server,
            "/api/customers/no-such-customer",
            &json!({"name": "X"}),
            &[],
        )
        .await,
    );
    contract.assert_problem(
        "change_price",
        404,
        &[],
        &server
            .post("/api/products/no-such-product/price", &json!({"price": 1}))
            .await,
    );
    contract.assert_problem(
        "add_comment",
        404,
        &[],
        &server
            .send(
                Method::POST,
                "/api/issues/no-such-issue/comments",
                Some(&json!({"body": "Hello?"})),
                &ALICE,
            )
            .await,
    );

    // A completed order cannot be cancelled; a cancelled one cannot ship.
    contract.assert_problem(
        "cancel_order",
        409,
        &[],
        &server
            .post("/api/orders/order-7/cancel", &json!({"reason": "Too late"}))
            .await,
    );
    contract.assert_problem(
        "ship_order",
        409,
        &[],
        &server
            .post("/api/orders/order-8/ship", &json!({"tracking": "T"}))
            .await,
    );

    contract.assert_problem(
        "register_customer",
        409,
        &[],
        &server
            .post(
                "/api/customers",
                &json!({"id": "cust-7", "email": "ada@example.com", "name": "Ada", "region": "Ontario"}),
            )
            .await,
    );

    // A writer that read an older version loses: 412, naming the current one.
    let stale = contract.assert_problem(
        "change_tier",
        412,
        &[],
        &server
            .send(
                Method::POST,
                "/api/customers/cust-7/tier",
                Some(&json!({"tier": "silver"})),
                &[("If-Match", "\"1\"")],
            )
            .await,
    );
    assert!(stale["current_version"].as_u64() > Some(1), "{stale}");
}

/// The 200 answers of the reads, each with content in it.
async fn reads(server: &Server, contract: &Contract, at: &Written) {
    let Written {
        product,
        customer,
        order,
        issue,
        issue_id,
    } = at;
    let day = server.completed_on("order-7").await;
    let reads = [
        (
            "get_customer",
            format!("/api/customers/cust-7?min_position={customer}"),
        ),
        (
            "customer_activity",
            format!("/api/customers/cust-7/activity?min_position={order}"),
        ),
        (
            "customer_orders",
            format!("/api/customers/cust-7/orders?min_position={order}&limit=1"),
        ),
        (
            "get_order",
            format!("/api/orders/order-7/projection?min_position={order}"),
        ),
        (
            "get_order",
            format!("/api/orders/order-8/projection?min_position={order}"),
        ),
        (
            "get_history",
            "/api/orders/order-7/history?limit=2".to_owned(),
        ),
        (
            "daily_sales",
            format!(
                "/api/reports/daily-sales?{}&min_position={order}",
                Server::days_around(day)
            ),
        ),
        (
            "search",
            format!("/api/orders/search?q=lamp-1&min_position={order}"),
        ),
        (
            "get_product",
            format!("/api/products/lamp-1?min_position={product}"),
        ),
        (
            "search_products_route",
            format!("/api/products/search?q=lamp&min_position={product}&limit=1"),
        ),
        (
            "search_products_route",
            format!("/api/products/search?q=warm&category=lighting&min_position={product}"),
        ),
        (
            "get_issue",
            format!("/api/issues/{issue_id}?min_position={issue}"),
        ),
        (
            "list_issues",
            format!("/api/issues?state=in_progress&min_position={issue}"),
        ),
        ("issue_history", format!("/api/issues/{issue_id}/history")),
        ("health", "/health".to_owned()),
        ("ready", "/ready".to_owned()),
    ];
    for (operation, path) in reads {
        let body = contract.assert_reply(operation, 200, &server.get(&path).await);
        let filled = |field: &str| body[field].as_array().is_some_and(|a| !a.is_empty());
        let non_empty = match operation {
            "get_history" => filled("events"),
            "customer_orders" => filled("orders") && body["next_cursor"].is_string(),
            "daily_sales" => filled("days"),
            "search" | "search_products_route" => filled("hits"),
            "list_issues" => filled("issues"),
            "issue_history" => filled("changes"),
            "health" | "ready" => body["status"].is_string(),
            "customer_activity" => body["customer_id"] == "cust-7",
            _ => body["id"].is_string(),
        };
        assert!(
            non_empty,
            "{operation} answered nothing to check: {path}: {body}"
        );
    }
    // The order carries its customer's region, as the customer moved.
    let read = contract.assert_reply(
        "get_order",
        200,
        &server
            .get(&format!(
                "/api/orders/order-7/projection?min_position={order}"
            ))
            .await,
    );
    assert_eq!(read["customer_region"], "Quebec", "{read}");
    assert!(read["refunded_amount"].is_number(), "{read}");
}

/// The problems reads answer: unknown (404), invalid (422, naming the parameter), and a
/// position not reached in time (503, with the position reached).
async fn read_problems(server: &Server, contract: &Contract, at: &Written) {
    for (operation, path) in [
        ("get_order", "/api/orders/no-such-order/projection"),
        ("get_history", "/api/orders/no-such-order/history"),
        ("get_customer", "/api/customers/no-such-customer"),
        (
            "customer_activity",
            "/api/customers/no-such-customer/activity",
        ),
        ("get_product", "/api/products/lamp-2"),
        ("get_issue", "/api/issues/no-such-issue"),
        ("issue_history", "/api/issues/no-such-issue/history"),
    ] {
        contract.assert_problem(operation, 404, &[], &server.get(path).await);
    }
    let far = at.order + 1_000_000;
    for (operation, path, field) in [
        (
            "get_order",
            "/api/orders/-bad/projection".to_owned(),
            "path.id",
        ),
        (
            "customer_orders",
            "/api/customers/cust-7/orders?limit=0".to_owned(),
            "query.limit",
        ),
        (
            "list_issues",
            "/api/issues?state=sleeping".to_owned(),
            "query.state",
        ),
        (
            "search_products_route",
            "/api/products/search?sort=cheapest".to_owned(),
            "query.sort",
        ),
        (
            "get_customer",
            format!("/api/customers/cust-7?min_position={far}"),
            "query.min_position",
        ),
    ] {
        contract.assert_problem(operation, 422, &[field], &server.get(&path).await);
    }

    // A paused read model does not reach a later write: the read gives up after `wait_ms`.
    let paused = contract.assert_reply(
        "pause",
        200,
        &server
            .post_empty("/admin/projections/order_summary/pause")
            .await,
    );
    assert_eq!(paused["state"], "paused", "{paused}");
    let later = server
        .place("order-9", "cust-7", &[("bulb", 1, 3.25)])
        .await;
    let late = contract.assert_problem(
        "get_order",
        503,
        &[],
        &server
            .get(&format!(
                "/api/orders/order-9/projection?min_position={later}&wait_ms=50"
            ))
            .await,
    );
    assert!(late["position"].as_u64() < Some(later), "{late}");
    contract.assert_reply(
        "resume",
        200,
        &server
            .post_empty("/admin/projections/order_summary/resume")
            .await,
    );
    server.order("order-9", later).await;
}

/// The admin answers: the projection list (live, stopped, rebuilding), dead letters listed,
/// shown, retried, skipped and retried all at once, pause and resume, a rebuild; and their
/// problems (400, 404, 409, 415, 422).
async fn admin_answers_are_as_documented() {
    // One event per transaction, so the rebuild takes long enough to be refused a second time.
    let server = Server::start_with_args(Storage::fresh().await, &["--batch-size", "1"]).await;
    let contract = Contract::load(&server).await;
    let mut last = 0;
    for n in 0..60 {
        last = server
            .place(&format!("o{n}"), &format!("c{}", n % 7), &[("a", 1, 1.5)])
            .await;
    }
    eventually("the order summary at the last order", || async {
        let (entry, _) = projection(&server, "order_summary").await;
        if entry["checkpoint"].as_u64() >= Some(last) {
            Ok(())
        } else {
            Err(entry)
        }
    })
    .await;
    server.ready().await;
    let list = contract.assert_reply("projections", 200, &server.get("/admin/projections").await);
    assert!(
        list["projections"]
            .as_array()
            .is_some_and(|p| !p.is_empty()),
        "{list}"
    );

    // Dead letters: none, then one the broken read model stops at.
    const LETTERS: &str = "/admin/projections/order_summary/dead-letters";
    let empty = contract.assert_reply("list", 200, &server.get(LETTERS).await);
    assert_eq!(empty["dead_letters"], json!([]), "{empty}");
    contract.assert_problem(
        "list",
        404,
        &[],
        &server
            .get("/admin/projections/no_such_thing/dead-letters")
            .await,
    );
    contract.assert_problem("show", 404, &[], &server.get(&format!("{LETTERS}/7")).await);
    contract.assert_problem(
        "show",
        422,
        &["path.name", "path.position"],
        &server
            .get("/admin/projections/Order-Summary/dead-letters/x")
            .await,
    );
    contract.assert_problem(
        "retry",
        422,
        &["path.position"],
        &server.post_empty(&format!("{LETTERS}/-1/retry")).await,
    );
    contract.assert_problem(
        "skip",
        404,
        &[],
        &server.post_empty(&format!("{LETTERS}/7/skip")).await,
    );

    break_read_model(&server).await;
    let blocked = server.place("broken", "c1", &[("a", 2, 1.0)]).await;
    let stopped = wait_state(&server, "stopped").await;
    let at = stopped["stopped_at"].as_u64().expect("stopped_at");
    let list = contract.assert_reply("projections", 200, &server.get("/admin/projections").await);
    assert!(
        list["projections"].as_array().is_some_and(|p| p
            .iter()
            .any(|p| p["state"] == "stopped" && p["error"].is_string())),
        "{list}"
    );
    let listed = contract.assert_reply("list", 200, &server.get(LETTERS).await);
    assert_eq!(listed["dead_letters"][0]["position"], at, "{listed}");
    let shown = contract.assert_reply("show", 200, &server.get(&format!("{LETTERS}/{at}")).await);
    assert!(shown["event"]["data"].is_object(), "{shown}");
    let failed = contract.assert_reply(
        "retry",
        200,
        &server.post_empty(&format!("{LETTERS}/{at}/retry")).await,
    );
    assert_eq!(failed["outcome"], "failed", "{failed}");
    contract.assert_problem(
        "resume",
        409,
        &[],
        &server
            .post_empty("/admin/projections/customers/resume")
            .await,
    );

    // Skipped, and each later event of that order it stops at skipped in turn; skipped
    // again, a conflict; then every letter retried at once, applied.
    mend_read_model(&server).await;
    let skipped = contract.assert_reply(
        "skip",
        200,
        &server.post_empty(&format!("{LETTERS}/{at}/skip")).await,
    );
    assert_eq!(skipped["skipped"], true, "{skipped}");
    let skipped = std::sync::Mutex::new(vec![at]);
    eventually("the projection past the skipped order", || async {
        let (entry, _) = projection(&server, "order_summary").await;
        match entry["stopped_at"].as_u64() {
            Some(next) if !skipped.lock().expect("skipped").contains(&next) => {
                server
                    .post_empty(&format!("{LETTERS}/{next}/skip"))
                    .await
                    .expect(200);
                skipped.lock().expect("skipped").push(next);
                Err(entry)
            }
            _ if entry["checkpoint"].as_u64() >= Some(blocked) => Ok(()),
            _ => Err(entry),
        }
    })
    .await;
    contract.assert_problem(
        "skip",
        409,
        &[],
        &server.post_empty(&format!("{LETTERS}/{at}/skip")).await,
    );
    let all = contract.assert_reply(
        "retry_all",
        200,
        &server.post_empty(&format!("{LETTERS}/retry")).await,
    );
    assert!(
        all["retried"].as_array().is_some_and(|r| !r.is_empty()),
        "{all}"
    );
    server.order("broken", blocked).await;

    // Paused, paused again (409), resumed, resumed again (409).
    let pause = "/admin/projections/customers/pause";
    contract.assert_reply("pause", 200, &server.post_empty(pause).await);
    contract.assert_problem("pause", 409, &[], &server.post_empty(pause).await);
    let resume = "/admin/projections/customers/resume";
    contract.assert_reply("resume", 200, &server.post_empty(resume).await);
    contract.assert_problem("resume", 409, &[], &server.post_empty(resume).await);
    contract.assert_problem(
        "pause",
        404,
        &[],
        &server
            .post_empty("/admin/projections/no_such_thing/pause")
            .await,
    );

    // A rebuild: started (202), refused while it runs (409), listed with its progress.
    let rebuild = "/admin/projections/order_summary/rebuild";
    contract.assert_problem(
        "rebuild",
        400,
        &[],
        &server
            .send_raw(
                Method::POST,
                rebuild,
                Some("application/json"),
                b"{\"from".to_vec(),
            )
            .await,
    );
    contract.assert_problem(
        "rebuild",
        415,
        &[],
        &server
            .send_raw(Method::POST, rebuild, Some("text/plain"), b"{}".to_vec())
            .await,
    );
    let started = contract.assert_reply("rebuild", 202, &server.post_empty(rebuild).await);
    assert_eq!(started["projection"], "order_summary", "{started}");
    let again = contract.assert_problem("rebuild", 409, &[], &server.post_empty(rebuild).await);
    assert_eq!(
        again["type"], "urn:projector:problem:rebuild-in-progress",
        "{again}"
    );
    contract.assert_reply("projections", 200, &server.get("/admin/projections").await);
    contract.assert_problem(
        "rebuild",
        404,
        &[],
        &server
            .post_empty("/admin/projections/no_such_thing/rebuild")
            .await,
    );
    contract.assert_problem(
        "rebuild",
        422,
        &["path.name"],
        &server
            .post_empty("/admin/projections/Order-Summary/rebuild")
            .await,
    );
    eventually("the rebuild swapped in", || async {
        let (entry, _) = projection(&server, "order_summary").await;
        if entry["generation"] == started["generation"] && entry["rebuild"].is_null() {
            Ok(())
        } else {
            Err(entry)
        }
    })
    .await;
    contract.assert_reply("projections", 200, &server.get("/admin/projections").await);
}

/// The checker fails bodies the document does not promise: a required field missing, a field
/// of the wrong type, one the document does not declare, a malformed date, a problem whose
/// `status` is not the answer's, an undocumented status or content type; each altered from a
/// real answer it passes.
async fn the_checker_refuses_what_the_document_does_not_promise() {
    let server = Server::start().await;
    let contract = Contract::load(&server).await;
    let accepted = contract.assert_reply(
        "create_product",
        201,
        &server
            .post(
                "/api/products",
                &json!({"id": "lamp-1", "name": "Desk lamp", "category": "lighting", "price": 25}),
            )
            .await,
    );
    let product = contract.assert_reply(
        "get_product",
        200,
        &server
            .get(&format!(
                "/api/products/lamp-1?min_position={}",
                position(&accepted)
            ))
            .await,
    );
    let problem = contract.assert_problem(
        "get_product",
        404,
        &[],
        &server.get("/api/products/no-such-product").await,
    );
    let invalid = contract.assert_problem(
        "create_product",
        422,
        &["price"],
        &server
            .post(
                "/api/products",
                &json!({"name": "Free lamp", "category": "lighting", "price": 0}),
            )
            .await,
    );

    let altered = |body: &Value, change: &dyn Fn(&mut Value)| {
        let mut copy = body.clone();
        change(&mut copy);
        copy
    };
    let json_type = "application/json";
    let problem_type = "application/problem+json";
    for (what, operation, status, content_type, body) in [
        (
            "an accepted write without its position",
            "create_product",
            201,
            json_type,
            altered(&accepted, &|b| {
                b.as_object_mut().expect("object").remove("position");
            }),
        ),
        (
            "a position that is a string",
            "create_product",
            201,
            json_type,
            altered(&accepted, &|b| b["position"] = json!("7")),
        ),
        (
            "a field the document does not declare",
            "create_product",
            201,
            json_type,
            altered(&accepted, &|b| b["positon"] = json!(7)),
        ),
        (
            "a product without its price",
            "get_product",
            200,
            json_type,
            altered(&product, &|b| {
                b.as_object_mut().expect("object").remove("price");
            }),
        ),
        (
            "tags that are not an array",
            "get_product",
            200,
            json_type,
            altered(&product, &|b| b["tags"] = json!("led")),
        ),
        (
            "a time that is not a date-time",
            "get_product",
            200,
            json_type,
            altered(&product, &|b| b["created_at"] = json!("yesterday")),
        ),
        (
            "a problem without its title",
            "get_product",
            404,
            problem_type,
            altered(&problem, &|b| {
                b.as_object_mut().expect("object").remove("title");
            }),
        ),
        (
            "a problem whose status is not the answer's",
            "get_product",
            404,
            problem_type,
            altered(&problem, &|b| b["status"] = json!(500)),
        ),
        (
            "a bad field without its message",
            "create_product",
            422,
            problem_type,
            altered(&invalid, &|b| {
                b["errors"][0]
                    .as_object_mut()
                    .expect("object")
                    .remove("message");
            }),
        ),
        (
            "a problem answered as application/json",
            "get_product",
            404,
            json_type,
            problem.clone(),
        ),
        (
            "a status the operation does not document",
            "get_product",
            409,
            problem_type,
            problem.clone(),
        ),
    ] {
        assert!(
            !contract
                .violations(operation, status, content_type, &body)
                .is_empty(),
            "the checker let {what} through: {body}"
        );
    }
    // And the assertion the other tests use fails on such a body.
    let missing = altered(&accepted, &|b| {
        b.as_object_mut().expect("object").remove("command_id");
    });
    let failed = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        contract.assert_body("create_product", 201, &missing);
    }));
    assert!(
        failed.is_err(),
        "assert_body passed a body without command_id"
    );
}

/// The answers a guard or a limit gives, checked as documented: 401 and 403 with
/// authentication on, an `Idempotency-Key` reused with another body (422) or replaying a
/// refusal (409), and 429 past a caller's rate.
async fn guarded_answers_are_as_documented() {
    let keyed = crate::auth::Keyed::start(&[]).await;
    let server = &keyed.server;
    let contract = Contract::load(server).await;
    let order =
        json!({"customer_id": "c1", "items": [{"sku": "a", "quantity": 1, "unit_price": 2.5}]});
    let writer = format!("Bearer {}", keyed.key("write"));
    let reader = format!("Bearer {}", keyed.key("read"));
    let post = |path: String, body: Option<Value>, headers: Vec<(&'static str, String)>| async move {
        let headers: Vec<(&str, &str)> = headers.iter().map(|(n, v)| (*n, v.as_str())).collect();
        server
            .send(Method::POST, &path, body.as_ref(), &headers)
            .await
    };
    let orders = || "/api/orders".to_owned();
    let keyed_by = |key: &str| {
        vec![
            ("Authorization", writer.clone()),
            ("Idempotency-Key", key.to_owned()),
        ]
    };

    let anonymous = post(orders(), Some(order.clone()), Vec::new()).await;
    contract.assert_problem("create_order", 401, &[], &anonymous);
    let read_only = post(
        orders(),
        Some(order.clone()),
        vec![("Authorization", reader.clone())],
    )
    .await;
    contract.assert_problem("create_order", 403, &[], &read_only);

    let placed = post(orders(), Some(order.clone()), keyed_by("k-1")).await;
    let id = contract.assert_reply("create_order", 202, &placed)["id"]
        .as_str()
        .expect("an id")
        .to_owned();
    let other =
        json!({"customer_id": "c2", "items": [{"sku": "a", "quantity": 2, "unit_price": 2.5}]});
    let reused = post(orders(), Some(other), keyed_by("k-1")).await;
    contract.assert_problem("create_order", 422, &[], &reused);
    let complete = || post(format!("/api/orders/{id}/complete"), None, keyed_by("k-2"));
    contract.assert_problem("complete_order", 409, &[], &complete().await);
    let replayed = complete().await;
    assert_eq!(replayed.header("idempotent-replayed"), Some("true"));
    contract.assert_problem("complete_order", 409, &[], &replayed);

    // One request a second, one at once: of several sent together, all but one are refused.
    let limited = Server::start_with_args(
        Storage::fresh().await,
        &["--rate-limit", "1", "--rate-limit-burst", "1"],
    )
    .await;
    let replies =
        futures::future::join_all((0..4).map(|_| limited.post("/api/orders", &order))).await;
    let refused = replies
        .iter()
        .find(|r| r.status == 429)
        .unwrap_or_else(|| panic!("none of four was refused: {replies:?}"));
    assert!(refused.header("retry-after").is_some(), "{refused:?}");
    contract.assert_problem("create_order", 429, &[], refused);
}
