//! Searching the catalogue (`GET /api/products/search`) in the index each server keeps: words
//! by their stem and with typos, filters on category and price, sorts, counts per category,
//! snippets and cursors, after the writes a read names; deletions and price changes; every bad
//! parameter named; and every search answered while the index is rebuilt.

use projector_testkit::wait::{self, eventually_within};
use serde_json::{Value, json};

use crate::helpers::{Reply, Server, Storage};

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

fn query(pairs: &[(&str, &str)]) -> String {
    serde_urlencoded::to_string(pairs).expect("a query string")
}

/// Searches with `pairs` once the index has applied `position`.
async fn search(server: &Server, position: u64, pairs: &[(&str, &str)]) -> Reply {
    let min = position.to_string();
    let mut pairs = pairs.to_vec();
    pairs.push(("min_position", &min));
    let reply = server
        .get(&format!("/api/products/search?{}", query(&pairs)))
        .await
        .expect(200);
    assert_eq!(
        reply.header("read-model"),
        Some("product_search"),
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

/// Adds a product; the position of its event.
async fn add(
    server: &Server,
    id: &str,
    name: &str,
    description: &str,
    category: &str,
    price: f64,
    tags: &[&str],
) -> u64 {
    server
        .post(
            "/api/products",
            &json!({
                "id": id, "name": name, "description": description,
                "category": category, "price": price, "tags": tags,
            }),
        )
        .await
        .expect(201)
        .position()
}

/// The catalogue the tests search; the position of its last write.
async fn catalogue(server: &Server) -> u64 {
    add(
        server,
        "headphones",
        "Wireless Headphones",
        "Over-ear headphones with active noise cancelling.",
        "audio",
        199.0,
        &["bluetooth"],
    )
    .await;
    add(
        server,
        "speakers",
        "Studio Monitor Speakers",
        "A pair of powered speakers for mixing.",
        "audio",
        349.0,
        &["studio"],
    )
    .await;
    add(
        server,
        "keyboard",
        "Mechanical Keyboard",
        "Tactile switches and backlit keys.",
        "computing",
        129.0,
        &["backlit"],
    )
    .await;
    add(
        server,
        "mouse",
        "Ergonomic Mouse",
        "A wireless mouse shaped for the hand.",
        "computing",
        49.0,
        &[],
    )
    .await;
    add(
        server,
        "earbuds",
        "Bluetooth Earbuds",
        "Small wireless earbuds with a charging case.",
        "audio",
        79.0,
        &["bluetooth"],
    )
    .await
}

pub async fn products_are_found_filtered_sorted_and_counted() {
    let server = Server::start().await;
    let last = catalogue(&server).await;

    let wireless = search(&server, last, &[("q", "wireless")]).await;
    let body = wireless.json();
    assert_eq!(body["sort"], "relevance");
    assert_eq!(body["total"], 3, "{body}");
    assert_eq!(
        ids(&wireless)[0],
        "headphones",
        "the name weighs most: {body}"
    );
    assert_eq!(
        body["facets"]["category"],
        json!([{"value": "audio", "count": 2}, {"value": "computing", "count": 1}])
    );
    assert!(body["next_cursor"].is_null());
    let hit = &body["hits"][0];
    assert_eq!(hit["name"], "Wireless Headphones");
    assert_eq!(hit["category"], "audio");
    assert_eq!(hit["price"], 199.0);
    assert_eq!(hit["tags"], json!(["bluetooth"]));
    assert!(hit["score"].as_f64().is_some_and(|s| s > 0.0), "{hit}");

    for (q, found) in [
        ("headphone", &["headphones"][..]),
        ("keybaord", &["keyboard"][..]),
        ("speekers", &["speakers"][..]),
        ("\"noise cancelling\"", &["headphones"][..]),
        ("wireless bluetooth", &["earbuds", "headphones"][..]),
        ("nothing-like-it", &[][..]),
    ] {
        let mut found_ids = ids(&search(&server, last, &[("q", q)]).await);
        found_ids.sort();
        assert_eq!(found_ids, found, "{q}");
    }
    let snippet = &search(&server, last, &[("q", "headphone")]).await.json()["hits"][0]["snippet"];
    assert_eq!(snippet["field"], "description");
    assert!(
        snippet["html"]
            .as_str()
            .is_some_and(|h| h.contains("<mark>headphones</mark>")),
        "{snippet}"
    );

    let audio = search(
        &server,
        last,
        &[
            ("q", "wireless"),
            ("category", "audio"),
            ("max_price", "100"),
        ],
    )
    .await;
    assert_eq!(ids(&audio), ["earbuds"]);
    let by_price = search(
        &server,
        last,
        &[
            ("sort", "price"),
            ("min_price", "49"),
            ("max_price", "199.00"),
        ],
    )
    .await;
    assert_eq!(
        ids(&by_price),
        ["mouse", "earbuds", "keyboard", "headphones"],
        "both bounds inclusive"
    );
    assert!(
        by_price.json()["hits"][0].get("score").is_none(),
        "a price sort has no score"
    );
    let dearest = search(&server, last, &[("sort", "-price"), ("limit", "2")]).await;
    assert_eq!(ids(&dearest), ["speakers", "headphones"]);

    // Cursors: every product once, two at a time.
    let mut pages = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut pairs = vec![("sort", "price"), ("limit", "2")];
        if let Some(cursor) = &cursor {
            pairs.push(("cursor", cursor));
        }
        let page = search(&server, last, &pairs).await;
        assert_eq!(page.json()["total"], 5);
        pages.push(ids(&page));
        match page.json()["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
    }
    assert_eq!(
        pages,
        [
            vec!["mouse", "earbuds"],
            vec!["keyboard", "headphones"],
            vec!["speakers"]
        ]
    );

    // A deletion vanishes, a price change shows, a new name is found.
    server
        .send(reqwest::Method::DELETE, "/api/products/earbuds", None, &[])
        .await
        .expect(202);
    server
        .post("/api/products/headphones/price", &json!({"price": 89.5}))
        .await
        .expect(202);
    let renamed = server
        .send(
            reqwest::Method::PATCH,
            "/api/products/mouse",
            Some(&json!({"name": "Vertical Mouse", "category": "accessories"})),
            &[],
        )
        .await
        .expect(202)
        .position();
    let now = search(&server, renamed, &[("q", "wireless")]).await.json();
    assert_eq!(now["total"], 2, "{now}");
    assert_eq!(
        now["facets"]["category"],
        json!([{"value": "accessories", "count": 1}, {"value": "audio", "count": 1}])
    );
    assert_eq!(
        ids(&search(&server, renamed, &[("q", "earbuds")]).await),
        Vec::<String>::new()
    );
    let cheap = search(
        &server,
        renamed,
        &[("q", "headphones"), ("max_price", "90")],
    )
    .await;
    assert_eq!(cheap.json()["hits"][0]["price"], 89.5);
    assert_eq!(
        ids(&search(&server, renamed, &[("q", "vertical")]).await),
        ["mouse"]
    );
    assert_eq!(
        ids(&search(&server, renamed, &[("q", "ergonomic")]).await),
        Vec::<String>::new()
    );
}

pub async fn bad_product_search_parameters_are_named() {
    let server = Server::start().await;
    let head = catalogue(&server).await;
    let first = search(&server, head, &[("sort", "price"), ("limit", "2")]).await;
    let cursor = first.json()["next_cursor"]
        .as_str()
        .expect("a cursor")
        .to_owned();
    let long = "x".repeat(projector_server::limits::SEARCH_TEXT_MAX + 1);
    let cases: Vec<(Query, &[&str])> = vec![
        (vec![("q", "")], &["query.q"]),
        (vec![("q", &long)], &["query.q"]),
        (vec![("category", "Audio")], &["query.category"]),
        (vec![("min_price", "-1")], &["query.min_price"]),
        (vec![("min_price", "1.234")], &["query.min_price"]),
        (vec![("max_price", "cheap")], &["query.max_price"]),
        (vec![("max_price", "1000000.01")], &["query.max_price"]),
        (
            vec![("min_price", "50"), ("max_price", "10")],
            &["query.max_price"],
        ),
        (vec![("sort", "name")], &["query.sort"]),
        (vec![("limit", "0")], &["query.limit"]),
        (vec![("limit", "101")], &["query.limit"]),
        (vec![("cursor", "nonsense")], &["query.cursor"]),
        (
            vec![("cursor", &cursor), ("sort", "-price")],
            &["query.cursor"],
        ),
        (
            vec![("cursor", &cursor), ("sort", "price"), ("q", "mouse")],
            &["query.cursor"],
        ),
        (vec![("colour", "red")], &["query.colour"]),
        (
            vec![
                ("q", ""),
                ("category", "A B"),
                ("sort", "x"),
                ("cursor", "z"),
            ],
            &["query.q", "query.category", "query.sort", "query.cursor"],
        ),
    ];
    for (pairs, fields) in cases {
        let reply = server
            .get(&format!("/api/products/search?{}", query(&pairs)))
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
    // The same cursor with the same search, at another page size, goes on.
    let next = search(
        &server,
        head,
        &[("sort", "price"), ("limit", "3"), ("cursor", &cursor)],
    )
    .await;
    assert_eq!(ids(&next), ["keyboard", "headphones", "speakers"]);
}

/// A rebuild of `product_search` while searches run: every search is answered, in full, from
/// the old index and then the new one.
pub async fn every_search_is_answered_while_the_index_is_rebuilt() {
    // One event per batch, so the rebuild takes long enough to overlap the searches.
    let server = Server::start_with_args(Storage::fresh().await, &["--batch-size", "1"]).await;
    let mut last = 0;
    for i in 0..60 {
        last = add(
            &server,
            &format!("lamp-{i}"),
            &format!("Reading Lamp {i}"),
            "A lamp with warm light.",
            "lighting",
            10.0 + f64::from(i),
            &[],
        )
        .await;
    }
    // One index commit per event takes a while: wait for the index, not the read's patience.
    eventually_within(
        &format!("the index at {last}"),
        wait::deadline() * 6,
        || async {
            let entry = admin_entry(&server).await;
            if entry["checkpoint"].as_u64() >= Some(last) {
                Ok(())
            } else {
                Err(entry)
            }
        },
    )
    .await;
    let before = search(&server, last, &[("q", "lamps"), ("limit", "100")]).await;
    assert_eq!(before.json()["total"], 60);
    let generation = admin_entry(&server).await["generation"]
        .as_u64()
        .expect("generation");

    let started = server
        .post_empty("/admin/projections/product_search/rebuild")
        .await
        .expect(202);
    assert_eq!(started.json()["generation"], generation + 1);
    // Searched again and again while it runs, the old generation answers every search whole.
    let mut answered = 0;
    eventually_within("the rebuild to finish", wait::deadline() * 6, || {
        answered += 1;
        async {
            let reply = search(&server, last, &[("q", "lamps"), ("limit", "100")]).await;
            let body = reply.json();
            assert_eq!(body["total"], 60, "a search during the rebuild: {body}");
            assert_eq!(ids(&reply).len(), 60);
            let entry = admin_entry(&server).await;
            if entry["generation"] == generation + 1 && entry["rebuild"].is_null() {
                Ok(())
            } else {
                Err(entry)
            }
        }
    })
    .await;
    assert!(answered > 1, "the searches overlapped the rebuild");
    let after = search(&server, last, &[("q", "lamp 7")]).await;
    assert_eq!(ids(&after), ["lamp-7"]);
}

/// `product_search` as `GET /admin/projections` lists it.
async fn admin_entry(server: &Server) -> Value {
    let list = server.get("/admin/projections").await.expect(200).json();
    list["projections"]
        .as_array()
        .expect("projections")
        .iter()
        .find(|p| p["name"] == "product_search")
        .cloned()
        .unwrap_or_else(|| panic!("product_search is not listed: {list}"))
}
