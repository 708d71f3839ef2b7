//! Searching orders (`GET /api/orders/search`) in the index each server keeps: by the words of
//! ids, SKUs, tracking numbers and cancellation reasons, filtered by status and customer, after
//! the writes a read names; and every bad parameter named.

use std::time::Duration;

use serde_json::{Value, json};

use crate::helpers::{Reply, Server, Storage, projector};

/// The ids of the hits, in the order answered.
fn ids(reply: &Reply) -> Vec<String> {
    reply.json()["hits"]
        .as_array()
        .unwrap_or_else(|| panic!("no hits in {}", reply.text))
        .iter()
        .map(|hit| hit["id"].as_str().expect("an id").to_owned())
        .collect()
}

/// A query's parameters.
type Query<'a> = Vec<(&'a str, &'a str)>;

/// The query string of `pairs`, encoded.
fn query(pairs: &[(&str, &str)]) -> String {
    serde_urlencoded::to_string(pairs).expect("a query string")
}

/// Searches with `pairs` once the index has applied `position`.
async fn search(server: &Server, position: u64, pairs: &[(&str, &str)]) -> Reply {
    let min = position.to_string();
    let mut pairs = pairs.to_vec();
    pairs.push(("min_position", &min));
    let reply = server
        .get(&format!("/api/orders/search?{}", query(&pairs)))
        .await
        .expect(200);
    assert_eq!(
        reply.header("read-model"),
        Some("order_search"),
        "{pairs:?}"
    );
    let reached: u64 = reply
        .header("projection-position")
        .and_then(|p| p.parse().ok())
        .expect("a position");
    assert!(
        reached >= position,
        "answered at {reached}, before {position}"
    );
    reply
}

pub async fn orders_are_found_by_words_and_filtered() {
    let server = Server::start().await;
    server
        .place("ord-a", "alice", &[("RED-SHIRT", 1, 25.0)])
        .await;
    server
        .place("ord-b", "alice", &[("BLUE-MUG", 2, 8.5)])
        .await;
    let placed = server
        .place(
            "ord-c",
            "bob-smith",
            &[("GREEN-CAP", 1, 12.0), ("RED-HAT", 1, 9.99)],
        )
        .await;
    let everything = search(&server, placed, &[]).await;
    assert_eq!(everything.json()["sort"], "newest");
    assert_eq!(
        ids(&everything),
        ["ord-c", "ord-b", "ord-a"],
        "newest first"
    );

    server
        .post(
            "/api/orders/ord-a/ship",
            &json!({"tracking": "1Z-TRACK-0042"}),
        )
        .await
        .expect(202);
    let last = server
        .post(
            "/api/orders/ord-b/cancel",
            &json!({"reason": "Customer changed their mind"}),
        )
        .await
        .expect(202)
        .position();

    for (q, found) in [
        ("alice", &["ord-a", "ord-b"][..]),
        ("ord-c", &["ord-c"][..]),
        ("smith", &["ord-c"][..]),
        ("red", &["ord-a", "ord-c"][..]),
        ("BLUE-MUG", &["ord-b"][..]),
        ("sku:cap", &["ord-c"][..]),
        ("1z-track-0042", &["ord-a"][..]),
        ("\"changed their mind\"", &["ord-b"][..]),
        ("mind OR cap", &["ord-b", "ord-c"][..]),
        ("nothing-like-it", &[][..]),
    ] {
        let reply = search(&server, last, &[("q", q)]).await;
        assert_eq!(reply.json()["sort"], "relevance", "{q}");
        let mut found_ids = ids(&reply);
        found_ids.sort();
        assert_eq!(found_ids, found, "{q}");
    }

    let shipped = search(&server, last, &[("status", "shipped")]).await;
    let shipped = shipped.json();
    let [hit] = shipped["hits"].as_array().expect("hits").as_slice() else {
        panic!("one shipped order: {shipped}");
    };
    assert_eq!(hit["id"], "ord-a");
    assert_eq!(hit["status"], "shipped");
    assert_eq!(hit["tracking"], "1Z-TRACK-0042");
    assert_eq!(hit["skus"], json!(["RED-SHIRT"]));
    assert_eq!(hit["total_amount"], json!(25.0));
    assert!(hit.get("score").is_none(), "newest first has no score");

    let cancelled = search(&server, last, &[("status", "cancelled")]).await;
    assert_eq!(ids(&cancelled), ["ord-b"]);
    assert_eq!(
        cancelled.json()["hits"][0]["cancellation_reason"],
        "Customer changed their mind"
    );
    assert_eq!(
        ids(&search(&server, last, &[("customer_id", "alice")]).await),
        ["ord-b", "ord-a"]
    );
    assert_eq!(
        ids(&search(&server, last, &[("customer_id", "bob")]).await),
        Vec::<String>::new(),
        "the customer filter takes the whole id"
    );
    assert_eq!(
        ids(&search(&server, last, &[("q", "red"), ("status", "confirmed")]).await),
        ["ord-c"]
    );
    assert_eq!(
        ids(&search(&server, last, &[("q", "red"), ("customer_id", "alice")]).await),
        ["ord-a"]
    );
    assert_eq!(
        ids(&search(&server, last, &[("limit", "2")]).await),
        ["ord-c", "ord-b"]
    );
    let ranked = search(&server, last, &[("q", "red alice"), ("sort", "relevance")]).await;
    assert_eq!(
        ids(&ranked).first().map(String::as_str),
        Some("ord-a"),
        "{}",
        ranked.text
    );
    assert!(
        ranked.json()["hits"][0]["score"]
            .as_f64()
            .is_some_and(|s| s > 0.0)
    );
    let by_time = search(&server, last, &[("q", "red"), ("sort", "newest")]).await;
    assert_eq!(ids(&by_time), ["ord-c", "ord-a"]);

    // The user's text is searched as well as it parses, never refused.
    for q in [
        "(red",
        "\"changed their",
        "status:",
        "sku:[a TO",
        "a AND",
        "*",
        "/r.*/",
    ] {
        search(&server, last, &[("q", q)]).await;
    }
    assert_eq!(
        ids(&search(&server, last, &[("q", "\"changed their")]).await),
        ["ord-b"]
    );
}

pub async fn a_search_waits_for_the_write_it_names() {
    let server = Server::start().await;
    for i in 0..5 {
        let placed = server
            .place(&format!("w{i}"), "waiter", &[(&format!("SKU-{i}"), 1, 1.0)])
            .await;
        // Right after the write: the answer includes it.
        let reply = search(&server, placed, &[("q", &format!("sku-{i}"))]).await;
        assert_eq!(ids(&reply), [format!("w{i}")]);
    }
    let shipped = server
        .post("/api/orders/w3/ship", &json!({"tracking": "FAST-1"}))
        .await
        .expect(202)
        .position();
    assert_eq!(
        ids(&search(&server, shipped, &[("q", "fast-1")]).await),
        ["w3"]
    );
}

pub async fn bad_search_parameters_are_named() {
    let server = Server::start().await;
    let head = server.place("p1", "c1", &[("a", 1, 1.0)]).await;
    let long = "x".repeat(projector_server::limits::SEARCH_TEXT_MAX + 1);
    let beyond = (head + 1000).to_string();
    let cases: Vec<(Query, &[&str])> = vec![
        (vec![("q", "")], &["query.q"]),
        (vec![("q", "   ")], &["query.q"]),
        (vec![("q", &long)], &["query.q"]),
        (vec![("q", "tab\there")], &["query.q"]),
        (vec![("status", "lost")], &["query.status"]),
        (vec![("customer_id", "bad id")], &["query.customer_id"]),
        (vec![("limit", "0")], &["query.limit"]),
        (vec![("limit", "101")], &["query.limit"]),
        (vec![("limit", "ten")], &["query.limit"]),
        (vec![("sort", "oldest")], &["query.sort"]),
        (vec![("q", "a"), ("q", "b")], &["query.q"]),
        (vec![("colour", "red")], &["query.colour"]),
        (vec![("min_position", &beyond)], &["query.min_position"]),
        (
            vec![("q", ""), ("status", "lost"), ("limit", "0"), ("sort", "x")],
            &["query.q", "query.status", "query.limit", "query.sort"],
        ),
    ];
    for (pairs, fields) in cases {
        let reply = server
            .get(&format!("/api/orders/search?{}", query(&pairs)))
            .await;
        assert_eq!(reply.status.as_u16(), 422, "{pairs:?}: {}", reply.text);
        assert_eq!(
            reply.header("content-type"),
            Some("application/problem+json"),
            "{pairs:?}"
        );
        let named = reply.fields();
        for field in fields {
            assert!(
                named.iter().any(|n| n == field),
                "{pairs:?}: {field} not in {named:?}"
            );
        }
    }
    let at_the_limit = "y".repeat(projector_server::limits::SEARCH_TEXT_MAX);
    let reply = search(&server, head, &[("q", &at_the_limit), ("limit", "100")]).await;
    assert_eq!(ids(&reply), Vec::<String>::new());
    let found: Value = search(&server, head, &[("status", "confirmed")])
        .await
        .json();
    assert_eq!(found["hits"][0]["id"], "p1", "{found}");
}

/// One process writes a data directory (ADR 0001's lock file): a second `projector serve` on it
/// exits, naming the lock it could not take (the event store's on SQLite, the search indexes'
/// on PostgreSQL), having appended nothing, and the first keeps taking writes.
pub async fn a_second_server_on_the_same_data_directory_is_refused() {
    let server = Server::start().await;
    let placed = server.place("own-1", "c1", &[("OWN-SKU", 1, 1.0)]).await;
    let second = projector(
        &["serve", "--addr", "127.0.0.1:0"],
        &server.storage_args(),
        Duration::from_secs(15),
    )
    .await;
    assert!(!second.success, "{}", second.stdout);
    let names_the_lock = match server.storage() {
        Storage::Sqlite(_) => {
            second
                .stderr
                .contains("events.db is in use by another process")
                && second.stderr.contains("open the store read-only")
        }
        Storage::Postgres(..) => {
            second.stderr.contains("search indexes in")
                && second.stderr.contains("are in use by another process")
        }
    };
    assert!(
        names_the_lock,
        "the refusal names the lock: {}",
        second.stderr
    );
    assert_eq!(
        server.head().await,
        placed,
        "the refused server appended nothing"
    );
    // The first server still appends, projects and indexes.
    let after = server.place("own-2", "c1", &[("OWN-SKU", 2, 1.0)]).await;
    assert!(after > placed);
    assert_eq!(server.order("own-2", after).await["status"], "confirmed");
    assert_eq!(
        ids(&search(&server, after, &[("q", "own-sku"), ("sort", "newest")]).await),
        ["own-2", "own-1"]
    );
}
