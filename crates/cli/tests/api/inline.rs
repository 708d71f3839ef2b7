//! The inline `products` read model: a read right after a write's answer sees the write with
//! no `min_position`, under concurrent writers and through a rebuild over HTTP; a write the
//! read model cannot take is refused with nothing appended.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use projector_testkit::wait::{self, eventually, eventually_sync, eventually_within};
use serde_json::{Value, json};

use crate::admin::projection;
use crate::helpers::{Server, projector};

fn product(id: &str, name: &str) -> Value {
    json!({
        "id": id,
        "name": name,
        "description": "",
        "category": "inline",
        "price": 3.5,
        "tags": [],
    })
}

/// Waits until `products` has a serving generation: before its first build there is nothing
/// for the appends to write into.
async fn wait_products_serving(server: &Server) -> u64 {
    eventually("products to serve a generation", || async {
        let (entry, _) = projection(server, "products").await;
        let Some(generation) = entry["generation"].as_u64() else {
            return Err(entry);
        };
        assert_eq!(entry["mode"], "inline", "{entry}");
        Ok(generation)
    })
    .await
}

/// Creates products `{prefix}-{i}` until `stop` (or `count`), reading each back at once with no
/// `min_position`, then renaming it and reading that back at once too. Returns how many.
async fn write_and_read_back(
    server: &Server,
    prefix: &str,
    count: usize,
    stop: &AtomicBool,
) -> usize {
    let mut written = 0;
    while written < count && !stop.load(Ordering::Relaxed) {
        let id = format!("{prefix}-{written}");
        server
            .post("/api/products", &product(&id, "first"))
            .await
            .expect(201);
        let read = server.get(&format!("/api/products/{id}")).await.expect(200);
        assert_eq!(read.json()["name"], "first", "{}", read.text);
        server
            .send(
                reqwest::Method::PATCH,
                &format!("/api/products/{id}"),
                Some(&json!({"name": "second"})),
                &[],
            )
            .await
            .expect(202);
        let read = server.get(&format!("/api/products/{id}")).await.expect(200);
        assert_eq!(read.json()["name"], "second", "{}", read.text);
        written += 1;
    }
    written
}

pub async fn a_read_right_after_each_write_sees_it() {
    let server = Server::start().await;
    wait_products_serving(&server).await;
    let never = AtomicBool::new(false);
    let (a, b, c) = tokio::join!(
        write_and_read_back(&server, "a", 25, &never),
        write_and_read_back(&server, "b", 25, &never),
        write_and_read_back(&server, "c", 25, &never),
    );
    assert_eq!(a + b + c, 75);
}

pub async fn a_write_the_read_model_cannot_take_is_refused_and_appends_nothing() {
    let server = Server::start().await;
    wait_products_serving(&server).await;
    server
        .post("/api/products", &product("kept-1", "Lamp"))
        .await
        .expect(201);
    // The read model now refuses rows named "Gizmo", as a broken table would refuse them all.
    let refuse_gizmos = match crate::helpers::Backend::current() {
        crate::helpers::Backend::Sqlite => {
            "CREATE TRIGGER no_gizmos BEFORE INSERT ON products WHEN NEW.name = 'Gizmo' \
             BEGIN SELECT RAISE(ABORT, 'no gizmos here'); END"
        }
        crate::helpers::Backend::Postgres => {
            "ALTER TABLE products ADD CONSTRAINT no_gizmos_here CHECK (name <> 'Gizmo') NOT VALID"
        }
    };
    server
        .storage()
        .alter_read_model("products", refuse_gizmos)
        .await;
    let appended = server.appended().await;
    let refused = server
        .post("/api/products", &product("gizmo-1", "Gizmo"))
        .await
        .expect(422);
    assert_eq!(
        refused.header("content-type"),
        Some("application/problem+json")
    );
    let problem = refused.json();
    assert_eq!(
        problem["type"], "urn:projector:problem:inline-projection-refused",
        "{problem}"
    );
    assert!(
        problem["detail"]
            .as_str()
            .is_some_and(|d| d.contains("products")),
        "{problem}"
    );
    assert!(
        !refused.text.contains("gizmos here") && !refused.text.contains("gizmos_here"),
        "the cause stays in the log"
    );
    assert_eq!(server.appended().await, appended, "nothing was appended");
    server.get("/api/products/gizmo-1").await.expect(404);
    // Other writes go on.
    server
        .post("/api/products", &product("kept-2", "Chair"))
        .await
        .expect(201);
    server.get("/api/products/kept-2").await.expect(200);
    server
        .wait_for_log("the refusal's cause", |line| {
            line.contains("no gizmos here") || line.contains("no_gizmos_here")
        })
        .await;
}

/// Every row of a generation of `products`, in a stable order.
async fn rows(server_storage: &crate::helpers::Storage, generation: u64) -> Vec<String> {
    if let crate::helpers::Backend::Postgres = crate::helpers::Backend::current() {
        let client = server_storage.postgres().await;
        let sql = format!("SELECT p::text FROM rm_products_g{generation}.products p ORDER BY 1");
        return client
            .query(&sql, &[])
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"))
            .iter()
            .map(|row| row.get(0))
            .collect();
    }
    let conn = server_storage.sqlite_file(&format!("read/products.g{generation}.db"));
    let mut stmt = conn
        .prepare("SELECT * FROM products ORDER BY 1")
        .expect("prepare");
    let width = stmt.column_count();
    stmt.query_map([], |row| {
        Ok((0..width)
            .map(|i| format!("{:?}", row.get_ref(i).expect("value")))
            .collect::<Vec<_>>()
            .join("|"))
    })
    .expect("query")
    .collect::<Result<_, _>>()
    .expect("rows")
}

pub async fn a_rebuild_under_writes_keeps_reads_consistent_and_matches_a_fresh_one() {
    let mut server = Server::start().await;
    let serving = wait_products_serving(&server).await;
    let stop = AtomicBool::new(false);
    let rebuild = async {
        let never = AtomicBool::new(false);
        write_and_read_back(&server, "before", 20, &never).await;
        server
            .post_empty("/admin/projections/products/rebuild")
            .await
            .expect(202);
        // The rebuild races two writers to the head: on PostgreSQL on a busy machine that takes
        // over a minute, so it is allowed six default deadlines (as the search index's rebuild).
        eventually_within("the rebuild to finish", wait::deadline() * 6, || async {
            let (entry, _) = projection(&server, "products").await;
            if entry["generation"].as_u64() == Some(serving + 1) && entry["rebuild"].is_null() {
                Ok(())
            } else {
                Err(entry)
            }
        })
        .await;
        // A few more writes on the new generation before stopping.
        write_and_read_back(&server, "after", 5, &never).await;
        stop.store(true, Ordering::Relaxed);
    };
    let ((), w1, w2) = tokio::join!(
        rebuild,
        write_and_read_back(&server, "w1", usize::MAX, &stop),
        write_and_read_back(&server, "w2", usize::MAX, &stop),
    );
    assert!(w1 + w2 > 0);
    let rebuilt = serving + 1;
    let storage = server.storage_args();
    let kept = server.keep_storage();
    assert!(server.terminate(), "a clean exit on SIGTERM");
    let after_writes = rows(&kept, rebuilt).await;
    assert_eq!(
        after_writes.len(),
        25 + w1 + w2,
        "every product is in the table"
    );

    let fresh = projector(&["rebuild", "products"], &storage, Duration::from_secs(60)).await;
    assert!(fresh.success, "{}", fresh.stderr);
    assert_eq!(rows(&kept, rebuilt + 1).await, after_writes);
}

/// Posts products `{prefix}-{i}` through `client` until the server stops answering, counting
/// each one answered 201 in `acknowledged`.
async fn post_until_gone(
    client: reqwest::Client,
    base: String,
    prefix: String,
    acknowledged: Arc<Mutex<Vec<String>>>,
) {
    for i in 0.. {
        let id = format!("{prefix}-{i}");
        let answer = client
            .post(format!("{base}/api/products"))
            .json(&product(&id, "crash"))
            .send()
            .await;
        match answer {
            Ok(answer) if answer.status() == 201 => acknowledged.lock().expect("lock").push(id),
            Ok(answer) => panic!("{id}: {}", answer.status()),
            Err(_) => return,
        }
    }
}

/// A real server killed with SIGKILL while writers add products, three times over: after each
/// restart every acknowledged product is readable at once, and in the end the inline read model
/// equals one rebuilt from the events.
pub async fn killed_mid_write_the_inline_read_model_equals_a_rebuild() {
    let mut server = Server::start().await;
    let acknowledged = Arc::new(Mutex::new(Vec::new()));
    for round in 0..3 {
        wait_products_serving(&server).await;
        let before = acknowledged.lock().expect("lock").len();
        let writers: Vec<_> = (0..3)
            .map(|w| {
                tokio::spawn(post_until_gone(
                    server.client.clone(),
                    server.base.clone(),
                    format!("r{round}w{w}"),
                    Arc::clone(&acknowledged),
                ))
            })
            .collect();
        eventually_sync("30 more writes acknowledged", || {
            let now = acknowledged.lock().expect("lock").len();
            if now >= before + 30 {
                Ok(())
            } else {
                Err(format!("{} more", now - before))
            }
        })
        .await;
        let kept = server.keep_storage();
        server.kill();
        for writer in writers {
            writer.await.expect("writer");
        }
        server = Server::start_with(kept).await;
        wait_products_serving(&server).await;
        // Every acknowledged write is readable at once (the next append catches a checkpoint
        // left behind by the crash up first, so make one).
        server
            .post(
                "/api/products",
                &product(&format!("after-{round}"), "after"),
            )
            .await
            .expect(201);
        let ids = acknowledged.lock().expect("lock").clone();
        for id in &ids {
            server.get(&format!("/api/products/{id}")).await.expect(200);
        }
    }
    let (entry, _) = projection(&server, "products").await;
    let serving = entry["generation"].as_u64().expect("generation");
    let storage = server.storage_args();
    let kept = server.keep_storage();
    assert!(server.terminate(), "a clean exit on SIGTERM");
    let before = rows(&kept, serving).await;
    // A write whose answer the kill cut off may have committed too: at least every
    // acknowledged one is there.
    let acknowledged = acknowledged.lock().expect("lock").len() + 3;
    assert!(
        before.len() >= acknowledged,
        "{} rows, {acknowledged} acknowledged",
        before.len()
    );
    let fresh = projector(&["rebuild", "products"], &storage, Duration::from_secs(60)).await;
    assert!(fresh.success, "{}", fresh.stderr);
    assert_eq!(rows(&kept, serving + 1).await, before);
}

/// `GET /admin/projections` says `inline` for `products` on every backend (the appends apply
/// it), and `async` for the projections the projector applies after the commit.
pub async fn the_mode_says_whether_the_appends_apply_the_read_model() {
    let server = Server::start().await;
    let (products, _) = projection(&server, "products").await;
    assert_eq!(products["mode"], "inline", "{products}");
    let (orders, _) = projection(&server, "order_summary").await;
    assert_eq!(orders["mode"], "async", "{orders}");
}
