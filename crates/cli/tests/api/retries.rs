//! Retrying with an `Idempotency-Key` when things go wrong: an answer lost with the connection,
//! a server killed between appending and storing its answer, an answer it could not store, and
//! a key used again once it has been forgotten.

use std::time::Duration;

use projector_testkit::wait::eventually;
use reqwest::Method;
use serde_json::{Value, json};
use tokio::io::AsyncWriteExt;

use crate::helpers::{Backend, Reply, Server, Storage};

/// A claim left by a dead server is taken over this soon, so the tests need not wait a minute.
const TAKE_OVER_FAST: [&str; 2] = ["--idempotency-abandoned-after-ms", "300"];

impl Server {
    /// Sends a request with a JSON body over a connection of its own and returns the
    /// connection without reading the answer: dropping it hangs up, as a client that gave up
    /// (or died) would.
    async fn send_unanswered(
        &self,
        method: Method,
        path: &str,
        body: &Value,
        headers: &[(&str, &str)],
    ) -> tokio::net::TcpStream {
        let authority = self
            .base
            .strip_prefix("http://")
            .expect("an http:// base URL");
        let body = body.to_string();
        let mut request = format!(
            "{method} {path} HTTP/1.1\r\nHost: {authority}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n",
            body.len()
        );
        for (name, value) in headers {
            request.push_str(&format!("{name}: {value}\r\n"));
        }
        request.push_str("\r\n");
        request.push_str(&body);
        let mut connection = tokio::net::TcpStream::connect(authority)
            .await
            .expect("connect to the server");
        connection
            .write_all(request.as_bytes())
            .await
            .expect("send the request");
        connection
    }
}

/// The answer's `command_id`.
#[track_caller]
fn command_id(reply: &Reply) -> String {
    reply.json()["command_id"]
        .as_str()
        .unwrap_or_else(|| panic!("no command id in {}", reply.text))
        .to_owned()
}

/// The events of `history` caused by `command`.
fn caused_by<'a>(history: &'a [Value], command: &str) -> Vec<&'a Value> {
    history
        .iter()
        .filter(|e| e["causation_id"] == command)
        .collect()
}

/// A client that hangs up before the answer, then retries with its key, gets the first outcome
/// (the same position and command id, replayed), and the item was added once.
pub async fn a_retry_after_a_lost_answer_gets_the_first_outcome() {
    let server = Server::start().await;
    server.place("o1", "c1", &[("a", 1, 1.0)]).await;
    let body = json!({"sku": "b", "quantity": 1, "unit_price": 2.0});
    let key = [("Idempotency-Key", "add-b")];

    // The write stops before it appends; the client gives up and hangs up.
    let appends = server.storage().hold_appends().await;
    let connection = server
        .send_unanswered(Method::POST, "/api/orders/o1/items", &body, &key)
        .await;
    server.storage().wait_claimed("add-b").await;
    drop(connection);
    server
        .wait_for_log("about the client going away", |line| {
            line.contains("the client went away")
        })
        .await;
    appends.release().await;

    let retry = server
        .send(Method::POST, "/api/orders/o1/items", Some(&body), &key)
        .await
        .expect(202);
    assert_eq!(retry.header("idempotent-replayed"), Some("true"));
    let history = server.history("o1").await;
    let added = caused_by(&history, &command_id(&retry));
    assert_eq!(added.len(), 1, "one item added: {history:#?}");
    assert_eq!(added[0]["type"], "OrderItemAdded");
    assert_eq!(added[0]["position"], retry.position());
    assert_eq!(
        server.head().await,
        retry.position(),
        "nothing else appended"
    );
}

/// A server asked to stop lets a write whose client went away finish before it exits: its
/// answer is recorded, and the retry after the restart gets it.
pub async fn a_stop_lets_a_write_whose_client_went_away_finish() {
    let mut server = Server::start().await;
    server.place("o1", "c1", &[("a", 1, 1.0)]).await;
    let body = json!({"sku": "b", "quantity": 1, "unit_price": 2.0});
    let key = [("Idempotency-Key", "add-b")];
    let appends = server.storage().hold_appends().await;
    let connection = server
        .send_unanswered(Method::POST, "/api/orders/o1/items", &body, &key)
        .await;
    server.storage().wait_claimed("add-b").await;
    drop(connection);
    server
        .wait_for_log("about the client going away", |line| {
            line.contains("the client went away")
        })
        .await;

    server.ask_to_stop();
    server
        .wait_for_log("about waiting for the write", |line| {
            line.contains("waiting for the writes whose client went away")
        })
        .await;
    appends.release().await;
    let storage = server.keep_storage();
    assert!(server.terminate(), "a clean stop");

    let server = Server::start_with(storage).await;
    let retry = server
        .send(Method::POST, "/api/orders/o1/items", Some(&body), &key)
        .await
        .expect(202);
    assert_eq!(retry.header("idempotent-replayed"), Some("true"));
    let history = server.history("o1").await;
    let added = caused_by(&history, &command_id(&retry));
    assert_eq!(added.len(), 1, "one item added: {history:#?}");
    assert_eq!(added[0]["position"], retry.position());
}

/// A server killed after appending but before storing the answer: after a restart, the retry
/// gets the original acceptance (the same order, position and command id) and nothing is
/// appended twice.
pub async fn a_retry_after_a_crash_between_append_and_answer_gets_the_first_outcome() {
    let mut server = Server::start_with_args(Storage::fresh().await, &TAKE_OVER_FAST).await;
    let head = server.head().await;
    // No id in the body: the server makes the order's id, and the retry must make the same.
    let body =
        json!({"customer_id": "c1", "items": [{"sku": "a", "quantity": 2, "unit_price": 3.5}]});
    let key = [("Idempotency-Key", "place-once")];

    let appends = server.storage().hold_appends().await;
    let _connection = server
        .send_unanswered(Method::POST, "/api/orders", &body, &key)
        .await;
    server.storage().wait_claimed("place-once").await;
    let answer = server.storage().hold_key("place-once").await;
    appends.release().await;
    // The order is appended; storing the answer waits on the key: kill the server there.
    let storing = match server.storage() {
        Storage::Postgres(..) => Some(server.storage().wait_storing_the_answer().await),
        // Nothing shows a SQLite statement waiting, but it cannot get past the lock either.
        Storage::Sqlite(_) => None,
    };
    let appended = eventually("the order to be appended", || async {
        let now = server.head().await;
        if now > head { Ok(now) } else { Err(now) }
    })
    .await;
    let storage = server.keep_storage();
    server.kill();
    if let Some(session) = storing {
        // The dead server's statement still waits in the database: end it, as PostgreSQL does
        // once it notices its client is gone, rather than let it store the answer.
        storage.cut_off(session).await;
    }
    answer.release().await;

    let server = Server::start_with_args(storage, &TAKE_OVER_FAST).await;
    // The order was placed (the customer's list shows it); someone adds to it before the retry.
    let mine = server
        .get(&format!("/api/customers/c1/orders?min_position={appended}"))
        .await
        .expect(200)
        .json();
    let id = mine["orders"][0]["order_id"]
        .as_str()
        .unwrap_or_else(|| panic!("no order in {mine}"))
        .to_owned();
    let later = server
        .post(
            &format!("/api/orders/{id}/items"),
            &json!({"sku": "b", "quantity": 1, "unit_price": 1.0}),
        )
        .await
        .expect(202)
        .position();

    let retry = server
        .send(Method::POST, "/api/orders", Some(&body), &key)
        .await
        .expect(202);
    server
        .wait_for_log("about taking the claim over", |line| {
            line.contains("taking over a claim")
        })
        .await;
    assert_eq!(retry.json()["id"], id.as_str(), "the same order");
    assert_eq!(retry.position(), appended, "the original acceptance");
    assert_eq!(
        retry.header("etag"),
        Some("\"3\""),
        "the version the order was at then"
    );
    assert_eq!(retry.header("idempotent-replayed"), Some("true"));
    let history = server.history(&id).await;
    let placed = caused_by(&history, &command_id(&retry));
    assert_eq!(
        placed.len(),
        3,
        "created, one item, confirmed: {history:#?}"
    );
    assert_eq!(history.len(), 4, "and the later item, nothing twice");
    assert_eq!(server.head().await, later, "nothing appended by the retry");
}

/// A key is remembered for a day. Used again after that, it is a new request: an item is
/// added again, a new order placed, a new comment made, each under a new command id.
pub async fn a_key_used_again_after_a_day_is_a_new_request() {
    let mut server = Server::start().await;
    server.place("o1", "c1", &[("a", 1, 1.0)]).await;
    let add = json!({"sku": "b", "quantity": 1, "unit_price": 2.0});
    let place =
        json!({"customer_id": "c1", "items": [{"sku": "a", "quantity": 1, "unit_price": 1.0}]});
    let comment = json!({"body": "seen it too"});
    let alice = ("X-User-Id", "alice");
    let issue = server
        .send(
            Method::POST,
            "/api/issues",
            Some(&json!({"title": "t"})),
            &[alice],
        )
        .await
        .expect(201)
        .json()["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let comments = format!("/api/issues/{issue}/comments");
    let send_all = async |server: &Server| {
        (
            server
                .send(
                    Method::POST,
                    "/api/orders/o1/items",
                    Some(&add),
                    &[("Idempotency-Key", "add-b")],
                )
                .await
                .expect(202),
            server
                .send(
                    Method::POST,
                    "/api/orders",
                    Some(&place),
                    &[("Idempotency-Key", "place")],
                )
                .await
                .expect(202),
            server
                .send(
                    Method::POST,
                    &comments,
                    Some(&comment),
                    &[alice, ("Idempotency-Key", "comment")],
                )
                .await
                .expect(201),
        )
    };
    let first = send_all(&server).await;

    // A day and a restart later, the keys have been swept.
    for key in ["add-b", "place", "comment"] {
        server
            .storage()
            .age_key(key, Duration::from_secs(25 * 3600))
            .await;
    }
    let storage = server.keep_storage();
    assert!(server.terminate(), "a clean stop");
    let server = Server::start_with(storage).await;
    let again = send_all(&server).await;

    for (first, again) in [
        (&first.0, &again.0),
        (&first.1, &again.1),
        (&first.2, &again.2),
    ] {
        assert_eq!(again.header("idempotent-replayed"), None, "{}", again.text);
        assert!(again.position() > first.position(), "{}", again.text);
        assert_ne!(command_id(again), command_id(first));
    }
    let history = server.history("o1").await;
    let added: Vec<_> = history
        .iter()
        .filter(|e| e["type"] == "OrderItemAdded" && e["data"]["sku"] == "b")
        .collect();
    assert_eq!(added.len(), 2, "b added twice: {history:#?}");
    assert_ne!(again.1.json()["id"], first.1.json()["id"], "a second order");
    let read = server
        .get(&format!(
            "/api/issues/{issue}?min_position={}",
            again.2.position()
        ))
        .await
        .expect(200)
        .json();
    assert_eq!(
        read["comments"].as_array().map(Vec::len),
        Some(2),
        "two comments: {read}"
    );
}

/// A refusal whose answer could not be stored (the connection broke while storing it) is not
/// given as final: the client gets a 503 to retry, and the retry runs the request again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refusal_whose_answer_was_not_stored_is_not_final() {
    Backend::Postgres
        .run(async {
            let server = Server::start().await;
            server.place("o1", "c1", &[("a", 1, 1.0)]).await;
            let key = [("Idempotency-Key", "complete-o1")];

            // Completing an order not yet shipped is refused; storing that answer fails.
            let reads = server.storage().hold_reads().await;
            let first = {
                let (client, url) = (
                    server.client.clone(),
                    format!("{}/api/orders/o1/complete", server.base),
                );
                tokio::spawn(async move {
                    client
                        .post(url)
                        .header("Idempotency-Key", "complete-o1")
                        .send()
                        .await
                        .expect("an answer")
                })
            };
            server.storage().wait_claimed("complete-o1").await;
            let answer = server.storage().hold_key("complete-o1").await;
            reads.release().await;
            let storing = server.storage().wait_storing_the_answer().await;
            server.storage().cut_off(storing).await;
            answer.release().await;
            let first = first.await.expect("the request ran");
            assert_eq!(first.status(), 503, "not a final refusal");
            assert_eq!(
                first.headers().get("retry-after").map(|v| v.as_bytes()),
                Some(b"1".as_slice())
            );
            let problem: Value = first.json().await.expect("a problem");
            assert_eq!(problem["type"], "urn:projector:problem:unavailable");

            // The refusal was never given, so the retry runs the request as things are now.
            server
                .post("/api/orders/o1/ship", &json!({"tracking": "T"}))
                .await
                .expect(202);
            let retry = server
                .send(Method::POST, "/api/orders/o1/complete", None, &key)
                .await
                .expect(202);
            assert_eq!(retry.header("idempotent-replayed"), None);
            let replayed = server
                .send(Method::POST, "/api/orders/o1/complete", None, &key)
                .await
                .expect(202);
            assert_eq!(replayed.json(), retry.json(), "now it is final");
        })
        .await;
}
