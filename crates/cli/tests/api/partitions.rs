//! `order_summary` run as partitions by the real server: reads with `min_position` wait for
//! every partition (and an idle one never holds them back), a position one has not reached is
//! a 503 naming the slowest partition's, the admin API lists each partition, a new number of
//! partitions rebuilds beside, two servers on one PostgreSQL database hand a partition over
//! when its holder is killed, and a `project` killed mid-batch ends equal to a rebuild.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use projector_core::{GlobalPosition, Partition, ProjectionName};
use projector_orders::order_stream;
use projector_orders::projections::ORDER_SUMMARY;
use projector_testkit::wait::{eventually, eventually_every, eventually_within};
use serde_json::{Value, json};

use crate::helpers::{Server, Storage};
use crate::rebuilt;

/// The partition of `count` order `id`'s stream belongs to.
fn partition_of(id: &str, count: u16) -> u16 {
    Partition::of_stream(&order_stream(id).expect("an order id"), count)
}

/// An order id in partition `index` of `count`, `prefix`-ed.
fn id_in(prefix: &str, index: u16, count: u16) -> String {
    (0..)
        .map(|n| format!("{prefix}-{n}"))
        .find(|id| partition_of(id, count) == index)
        .expect("some id falls in every partition")
}

/// The entries of `GET /admin/projections` for the partitions of `base`, by name, and the head.
async fn partition_entries(server: &Server, base: &str) -> (Vec<Value>, u64) {
    let list = server.get("/admin/projections").await.expect(200).json();
    let head = list["head"].as_u64().expect("head");
    let mut entries: Vec<Value> = list["projections"]
        .as_array()
        .expect("projections")
        .iter()
        .filter(|p| {
            p["name"]
                .as_str()
                .is_some_and(|n| n.starts_with(&format!("{base}_p")))
        })
        .cloned()
        .collect();
    entries.sort_by_key(|e| e["name"].as_str().map(String::from));
    (entries, head)
}

/// Waits until every partition of `order_summary` run as `count` serves a generation other
/// than `not`, with no rebuild, at the head; returns their entries.
async fn wait_partitions_at_head(server: &Server, count: u16, not: Option<u64>) -> Vec<Value> {
    eventually(
        &format!("{count} partitions of order_summary at the head"),
        || async {
            let (entries, head) = partition_entries(server, "order_summary").await;
            let settled = entries.len() == usize::from(count)
                && entries.iter().all(|e| {
                    e["checkpoint"] == head
                        && e["rebuild"].is_null()
                        && e["generation"].as_u64().is_some()
                        && e["generation"].as_u64() != not
                });
            if settled { Ok(entries) } else { Err(entries) }
        },
    )
    .await
}

/// Reads order `id` with `min_position`, waiting at most `wait_ms`.
async fn read_at(server: &Server, id: &str, position: u64, wait_ms: u64) -> crate::helpers::Reply {
    server
        .get(&format!(
            "/api/orders/{id}/projection?min_position={position}&wait_ms={wait_ms}"
        ))
        .await
}

pub async fn reads_wait_for_every_partition_and_the_admin_api_lists_each() {
    let server =
        Server::start_with_args(Storage::fresh().await, &["--partitions", "order_summary=4"]).await;
    server.ready().await;

    // Orders in every partition, each read back at once at its write's position.
    let mut shares = [0; 4];
    for i in 0..16 {
        let id = format!("w-{i}");
        shares[usize::from(partition_of(&id, 4))] += 1;
        let position = server
            .place(&id, &format!("c{}", i % 3), &[("a", 1 + i % 2, 2.5)])
            .await;
        let read = read_at(&server, &id, position, 10_000).await.expect(200);
        let at: u64 = read
            .header("projection-position")
            .and_then(|p| p.parse().ok())
            .expect("a Projection-Position");
        assert!(at >= position, "answered at {at}, asked {position}");
        assert_eq!(read.json()["item_count"], 1 + i % 2, "{}", read.text);
    }
    assert!(
        shares.iter().all(|n| *n > 0),
        "every partition has orders: {shares:?}"
    );

    // A lone order: one partition has work, the three others only move past it, and the read
    // waiting for all four is answered as soon as its own partition has applied it.
    for index in 0..4 {
        let id = id_in(&format!("lone{index}"), index, 4);
        let position = server.place(&id, "c9", &[("z", 3, 1.0)]).await;
        let asked = Instant::now();
        let read = read_at(&server, &id, position, 10_000).await.expect(200);
        assert_eq!(read.json()["item_count"], 3, "{}", read.text);
        assert!(
            asked.elapsed() < Duration::from_secs(5),
            "the idle partitions held the read back {:?}",
            asked.elapsed()
        );
    }

    // The admin API lists each partition under its own name, all at the head in one
    // generation, each saying which projection and partition it is.
    let entries = wait_partitions_at_head(&server, 4, None).await;
    let generation = entries[0]["generation"].clone();
    for (index, entry) in entries.iter().enumerate() {
        assert_eq!(
            entry["name"],
            format!("order_summary_p{index}of4"),
            "{entry}"
        );
        assert_eq!(entry["state"], "live", "{entry}");
        assert_eq!(entry["generation"], generation, "one generation: {entry}");
        assert_eq!(entry["lag_events"], 0, "{entry}");
        assert_eq!(entry["local"], false, "{entry}");
        assert_eq!(entry["dead_letters"], 0, "{entry}");
        assert_eq!(
            entry["partition"],
            json!({"projection": "order_summary", "index": index, "count": 4}),
            "{entry}"
        );
    }
    let list = server.get("/admin/projections").await.expect(200).json();
    let whole = list["projections"]
        .as_array()
        .expect("projections")
        .iter()
        .filter(|p| p["name"] == "order_summary")
        .count();
    assert_eq!(whole, 0, "the partitions stand for the projection: {list}");
    let daily = list["projections"]
        .as_array()
        .expect("projections")
        .iter()
        .find(|p| p["name"] == "daily_sales")
        .expect("daily_sales is listed");
    assert!(daily.get("partition").is_none(), "not partitioned: {daily}");
}

pub async fn a_position_a_partition_has_not_reached_is_a_503_naming_the_slowest() {
    let server =
        Server::start_with_args(Storage::fresh().await, &["--partitions", "order_summary=4"]).await;
    server.ready().await;
    for index in 0..4 {
        server
            .place(
                &id_in(&format!("first{index}"), index, 4),
                "c1",
                &[("a", 1, 1.0)],
            )
            .await;
    }
    let slowest = server.head().await;
    wait_partitions_at_head(&server, 4, None).await;

    // Partition 2 is paused at `slowest`; partition 0 later, further on.
    let paused = server
        .post_empty("/admin/projections/order_summary_p2of4/pause")
        .await
        .expect(200)
        .json();
    assert_eq!(paused["checkpoint"], slowest, "{paused}");
    let later = server
        .place(&id_in("later", 0, 4), "c1", &[("a", 1, 1.0)])
        .await;
    eventually("partition 0 past the pause of partition 2", || async {
        let (entries, _) = partition_entries(&server, "order_summary").await;
        if entries[0]["checkpoint"] == later {
            Ok(())
        } else {
            Err(entries)
        }
    })
    .await;
    let paused = server
        .post_empty("/admin/projections/order_summary_p0of4/pause")
        .await
        .expect(200)
        .json();
    assert_eq!(paused["checkpoint"], later, "{paused}");

    // A write whose partition (1) runs: the read of it waits for all four, and answers 503
    // naming the slowest partition's position.
    let id = id_in("waited", 1, 4);
    let wanted = server.place(&id, "c1", &[("a", 2, 1.0)]).await;
    let reply = read_at(&server, &id, wanted, 300).await.expect(503);
    assert_eq!(
        reply.header("content-type"),
        Some("application/problem+json")
    );
    let problem = reply.json();
    assert_eq!(
        problem["type"], "urn:projector:problem:projection-not-reached",
        "{problem}"
    );
    assert_eq!(
        problem["position"], slowest,
        "the slowest partition's: {problem}"
    );
    let detail = problem["detail"].as_str().expect("a detail");
    assert!(
        detail.contains("order_summary") && !detail.contains("order_summary_p"),
        "names the projection: {detail}"
    );
    assert!(
        detail.contains(&format!("reached position {slowest}, not {wanted}")),
        "{detail}"
    );

    // Resumed, both catch up and the same read answers.
    for paused in ["order_summary_p2of4", "order_summary_p0of4"] {
        server
            .post_empty(&format!("/admin/projections/{paused}/resume"))
            .await
            .expect(200);
    }
    assert_eq!(
        read_at(&server, &id, wanted, 10_000)
            .await
            .expect(200)
            .json()["item_count"],
        2
    );
}

/// Places `count` orders, ships and completes every third, cancels every seventh; returns the
/// ids.
async fn order_load(server: &Server, prefix: &str, count: usize) -> Vec<String> {
    let mut ids = Vec::new();
    for i in 0..count {
        let id = format!("{prefix}{i}");
        server
            .place(
                &id,
                &format!("c{}", i % 5),
                &[("a", 1 + (i % 3) as u32, 2.5), ("b", 1, 0.75)],
            )
            .await;
        if i % 3 == 0 {
            server
                .post(
                    &format!("/api/orders/{id}/ship"),
                    &json!({"tracking": format!("T{i}")}),
                )
                .await
                .expect(202);
            server
                .post_empty(&format!("/api/orders/{id}/complete"))
                .await
                .expect(202);
        } else if i % 7 == 0 {
            server
                .post(
                    &format!("/api/orders/{id}/cancel"),
                    &json!({"reason": "test"}),
                )
                .await
                .expect(202);
        }
        ids.push(id);
    }
    ids
}

/// Every order of `ids` as `order_summary` answers it at `position`.
async fn listing(server: &Server, ids: &[String], position: u64) -> Vec<Value> {
    let mut orders = Vec::new();
    for id in ids {
        orders.push(
            read_at(server, id, position, 30_000)
                .await
                .expect(200)
                .json(),
        );
    }
    orders
}

pub async fn a_new_number_of_partitions_rebuilds_beside_and_the_reads_agree() {
    let server =
        Server::start_with_args(Storage::fresh().await, &["--partitions", "order_summary=4"]).await;
    server.ready().await;
    let ids = order_load(&server, "n", 30).await;
    let head = server.head().await;
    let four = wait_partitions_at_head(&server, 4, None).await;
    let before = listing(&server, &ids, head).await;
    let mut server = server;
    let storage = server.keep_storage();
    assert!(server.terminate(), "a clean exit on SIGTERM");

    // Two partitions now: a new generation built beside, swapped in once both caught up.
    let server = Server::start_with_args(storage, &["--partitions", "order_summary=2"]).await;
    server.ready().await;
    let two = wait_partitions_at_head(&server, 2, four[0]["generation"].as_u64()).await;
    assert!(
        two[0]["generation"].as_u64() > four[0]["generation"].as_u64(),
        "a new generation: {two:?} after {four:?}"
    );
    let (entries, _) = partition_entries(&server, "order_summary").await;
    assert_eq!(
        entries.len(),
        2,
        "only the two partitions run now: {entries:?}"
    );
    assert_eq!(listing(&server, &ids, head).await, before);

    // New writes land in the new generation and are read back.
    let id = "after-2";
    let position = server.place(id, "c1", &[("a", 4, 1.0)]).await;
    assert_eq!(
        read_at(&server, id, position, 10_000)
            .await
            .expect(200)
            .json()["item_count"],
        4
    );

    // Every row of every read model equals a rebuild from the events.
    let Storage::Sqlite(dir) = server.storage() else {
        return;
    };
    let data = dir.path().join("data");
    server.wait_every_projection_at(position).await;
    let rebuilt = rebuilt::rebuilt(&data.join("events.db")).await;
    let mut server = server;
    let storage = server.keep_storage();
    assert!(server.terminate(), "a clean exit on SIGTERM");
    let (kept, _) = rebuilt::kept(&data).await;
    rebuilt::assert_equal("after two partitions replaced four", &kept, &rebuilt);
    drop(storage);
}

/// How long a surviving server may take to run a partition once its holder is dead: the
/// README promises "about a second"; the rest is slack for a loaded machine.
const TAKEOVER: Duration = Duration::from_secs(3);

/// The partitions of `order_summary` a server runs (not standing by), and the holder it names
/// for each.
async fn held(server: &Server) -> Vec<(String, String, String)> {
    let (entries, _) = partition_entries(server, "order_summary").await;
    entries
        .iter()
        .map(|e| {
            (
                e["name"].as_str().unwrap_or_default().to_owned(),
                e["state"].as_str().unwrap_or_default().to_owned(),
                e["holder"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

/// Two servers on one PostgreSQL database, both running `order_summary` as two partitions:
/// each partition is held by one of them, and the other names the holder; killed with
/// SIGKILL under a write load, the holder's partitions pass to the survivor within the bound
/// the README promises, and the read models end equal to a rebuild.
pub async fn two_servers_share_the_partitions_and_one_takes_over_from_the_other() {
    let Some(database) = projector_testkit::postgres::TestDatabase::create().await else {
        return;
    };
    // The first applies one event per batch, so under load it is seen behind; the second,
    // which takes the load and then the partitions, catches up at its normal pace.
    let first = Server::start_on_database_with_args(
        database.url(),
        &["--partitions", "order_summary=2", "--batch-size", "1"],
    )
    .await;
    first.ready().await;
    let second =
        Server::start_on_database_with_args(database.url(), &["--partitions", "order_summary=2"])
            .await;
    second.ready().await;

    // Each partition runs in exactly one server; the other stands by naming it.
    let (ran_first, ran_second) = eventually("every partition held, its holder named", || async {
        let (a, b) = (held(&first).await, held(&second).await);
        let settled = a.len() == 2
            && b.len() == 2
            && a.iter().zip(&b).all(|(x, y)| {
                let (running, standing) = match (x.1.as_str(), y.1.as_str()) {
                    ("standby", "standby") => return false,
                    ("standby", _) => (y, x),
                    (_, "standby") => (x, y),
                    _ => return false,
                };
                // The standby names the holder's label and its database session.
                !running.2.is_empty() && standing.2.contains(&running.2)
            });
        if settled { Ok((a, b)) } else { Err((a, b)) }
    })
    .await;
    eprintln!("partitions: first {ran_first:?}, second {ran_second:?}");
    // The victim is whichever server holds partition 0; the survivor takes the load.
    let (victim, survivor) = if ran_first[0].1 == "standby" {
        (second, first)
    } else {
        (first, second)
    };

    let (client, base) = (survivor.client.clone(), survivor.base.clone());
    let written = Arc::new(AtomicUsize::new(0));
    let progress = Arc::clone(&written);
    const ORDERS: usize = 120; // k116 is the last completed
    let load = tokio::spawn(async move {
        let mut last = 0;
        for i in 0..ORDERS {
            let body = json!({"id": format!("k{i}"), "customer_id": format!("c{}", i % 7), "items": [
                {"sku": "a", "quantity": 1 + i % 3, "unit_price": 2.5}]});
            let accepted: Value = client
                .post(format!("{base}/api/orders"))
                .json(&body)
                .send()
                .await
                .expect("write")
                .json()
                .await
                .expect("json");
            last = accepted["position"].as_u64().expect("position");
            if i % 4 == 0 {
                let ship = json!({"tracking": format!("T{i}")});
                for (action, body) in [("ship", Some(ship)), ("complete", None)] {
                    let mut request = client.post(format!("{base}/api/orders/k{i}/{action}"));
                    if let Some(body) = body {
                        request = request.json(&body);
                    }
                    let done: Value = request
                        .send()
                        .await
                        .expect(action)
                        .json()
                        .await
                        .expect("json");
                    last = done["position"]
                        .as_u64()
                        .unwrap_or_else(|| panic!("{action}: {done}"));
                }
            }
            progress.store(i + 1, Ordering::SeqCst);
        }
        last
    });
    // Killed with writes in flight and the victim's partition 0 behind the head.
    eventually_every(
        "the victim's partition behind the write load",
        Duration::from_millis(5),
        || async {
            let done = written.load(Ordering::SeqCst);
            assert!(
                done < ORDERS / 2,
                "never seen behind ({done} orders written)"
            );
            if done < ORDERS / 6 {
                return Err(format!("{done} orders written"));
            }
            let (entries, head) = partition_entries(&victim, "order_summary").await;
            if entries[0]["checkpoint"].as_u64() < Some(head) {
                Ok(())
            } else {
                Err(format!("{entries:?}"))
            }
        },
    )
    .await;
    victim.kill();
    let killed = Instant::now();
    assert!(
        written.load(Ordering::SeqCst) < ORDERS,
        "the load was over at the kill"
    );
    eventually_within("the survivor to run both partitions", TAKEOVER, || async {
        let now = held(&survivor).await;
        if now.len() == 2 && now.iter().all(|(_, state, _)| state != "standby") {
            Ok(())
        } else {
            Err(now)
        }
    })
    .await;
    eprintln!("takeover after {:?}", killed.elapsed());
    let last = load.await.expect("the load finished");
    assert_eq!(
        read_at(&survivor, "k116", last, 10_000)
            .await
            .expect(200)
            .json()["status"],
        "completed"
    );
    let head = survivor.head().await;
    survivor.wait_every_projection_at(head).await;
    compare_with_a_rebuild(database.url()).await;
}

/// Asserts that the order read models in the PostgreSQL database at `url` equal the ones a
/// fresh rebuild of its events gives, row by row.
async fn compare_with_a_rebuild(url: &str) {
    use projector_postgres::{PgEventStore, PgEventStoreOptions, PgReadStore, PgReadStoreOptions};
    use projector_runtime::{Projector, ProjectorOptions};
    use projector_sql::{SqlReadStore, SqlTarget, SqlValue};
    use projector_testkit::postgres::TestDatabase;
    use tokio_util::sync::CancellationToken;

    let served = Arc::new(
        PgReadStore::connect(url, PgReadStoreOptions::default())
            .await
            .expect("read store"),
    );
    let fresh = TestDatabase::create().await.expect("a second database");
    let rebuilt = Arc::new(
        PgReadStore::connect(fresh.url(), PgReadStoreOptions::default())
            .await
            .expect("read store"),
    );
    let events = Arc::new(
        PgEventStore::connect(url, PgEventStoreOptions::default())
            .await
            .expect("event store"),
    );
    let mut projector = Projector::new(events.clone(), ProjectorOptions::default());
    for projection in projector_orders::projections::all() {
        projector = projector.with_target(SqlTarget::new(
            rebuilt.clone() as Arc<dyn SqlReadStore>,
            projection,
        ));
    }
    let shutdown = CancellationToken::new();
    let handle = projector.start(shutdown.clone()).expect("start");
    handle
        .wait_caught_up(Duration::from_secs(60))
        .await
        .expect("the rebuild caught up");
    for (projection, table) in [
        (ORDER_SUMMARY, "order_summary"),
        (projector_orders::projections::DAILY_SALES, "daily_sales"),
        (projector_orders::projections::CUSTOMERS, "customer_orders"),
    ] {
        let dump = |store: Arc<PgReadStore>, projection: ProjectionName| async move {
            store
                .query(
                    &projection,
                    &format!("SELECT * FROM {table} ORDER BY 1"),
                    &[],
                )
                .await
                .expect("dump")
                .into_iter()
                .map(|row| row.values().to_vec())
                .collect::<Vec<Vec<SqlValue>>>()
        };
        let got = dump(served.clone(), projection.clone()).await;
        let want = dump(rebuilt.clone(), projection.clone()).await;
        assert!(!want.is_empty(), "{table} has rows");
        assert_eq!(got.len(), want.len(), "{table}: rows");
        assert_eq!(got, want, "{table} differs from a rebuild");
    }
    shutdown.cancel();
    handle.join().await;
    events.close().await;
}

/// The checkpoint of each partition of `order_summary` run as `count` in the read models under
/// `data` (none before it serves a generation built so).
async fn partition_checkpoints(data: &std::path::Path, count: u16) -> Option<Vec<GlobalPosition>> {
    use projector_sql::SqlReadStore;
    use projector_sqlite::{SqliteReadStore, SqliteReadStoreOptions};

    let reads = SqliteReadStore::open(
        data.join("read"),
        SqliteReadStoreOptions {
            read_only: true,
            ..SqliteReadStoreOptions::default()
        },
    )
    .ok()?;
    let serving = reads.serving(&ORDER_SUMMARY).await.ok()??;
    if reads
        .partitions(&ORDER_SUMMARY, serving.generation)
        .await
        .ok()?
        != count
    {
        return None;
    }
    let mut positions = Vec::new();
    for partition in Partition::all(count).expect("a count") {
        let view = reads.partition(partition)?;
        positions.push(
            view.checkpoint(&ORDER_SUMMARY, serving.generation)
                .await
                .ok()?
                .position,
        );
    }
    Some(positions)
}

/// Kill rounds of the crash test.
const KILLS: usize = 6;

/// `projector project --partitions order_summary=4` killed with SIGKILL while its partitions
/// apply their batches, restarted each time; at last brought to the head, every read model
/// equals a rebuild.
pub async fn killed_mid_batch_the_partitions_still_equal_a_rebuild() {
    let server = Server::start().await;
    server.ready().await;
    order_load(&server, "x", 90).await;
    let head = server.head().await;
    let mut server = server;
    let storage = server.keep_storage();
    assert!(server.terminate(), "a clean exit on SIGTERM");
    let Storage::Sqlite(dir) = &storage else {
        panic!("the crash test runs on SQLite");
    };
    let data = dir.path().join("data");
    // The read models go, so the partitions build them from the first event.
    std::fs::remove_dir_all(data.join("read")).expect("remove the read models");

    let binary = env!("CARGO_BIN_EXE_projector");
    let mut interrupted = 0;
    for round in 0..KILLS {
        let mut child = std::process::Command::new(binary)
            .args([
                "project",
                "--partitions",
                "order_summary=4",
                "--batch-size",
                "3",
            ])
            .args(["--log-level", "warn", "--data"])
            .arg(&data)
            .stdout(std::process::Stdio::null())
            .spawn()
            .expect("start projector project");
        // Killed once some partition has moved on since the last round, at a moment that
        // differs each round.
        let before = partition_checkpoints(&data, 4).await.unwrap_or_default();
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline && child.try_wait().expect("poll").is_none() {
            let now = partition_checkpoints(&data, 4).await.unwrap_or_default();
            if now.len() == 4 && now != before {
                break;
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        // This sleep stays: a different delay each round spreads the kills over a batch.
        tokio::time::sleep(Duration::from_micros(700 * round as u64)).await;
        child.kill().expect("SIGKILL");
        child.wait().expect("reap");
        let at_kill = partition_checkpoints(&data, 4).await.unwrap_or_default();
        eprintln!("round {round}: killed with the partitions at {at_kill:?} of {head}");
        if at_kill.iter().any(|p| p.get() > 0 && p.get() < head) {
            interrupted += 1;
        }
    }
    assert!(
        interrupted * 2 >= KILLS,
        "only {interrupted} of {KILLS} kills left a partition mid-way; the test did not test much"
    );
    let done = crate::helpers::projector(
        &[
            "project",
            "--until-caught-up",
            "--partitions",
            "order_summary=4",
        ],
        &[
            std::ffi::OsString::from("--data"),
            data.clone().into_os_string(),
        ],
        Duration::from_secs(120),
    )
    .await;
    assert!(done.success, "the last run failed: {}", done.stderr);
    let reached = partition_checkpoints(&data, 4)
        .await
        .expect("four partitions");
    assert!(
        reached.iter().all(|p| p.get() == head),
        "{reached:?} short of {head}"
    );
    let (kept, _) = rebuilt::kept(&data).await;
    rebuilt::assert_equal(
        "after partitions killed mid-batch",
        &kept,
        &rebuilt::rebuilt(&data.join("events.db")).await,
    );
    drop(storage);
}

/// The serving generation of `order_summary` under `data` and how many partitions built it.
async fn serving_built_by(data: &std::path::Path) -> (u32, u16) {
    use projector_sql::SqlReadStore;
    use projector_sqlite::{SqliteReadStore, SqliteReadStoreOptions};

    let reads = SqliteReadStore::open(
        data.join("read"),
        SqliteReadStoreOptions {
            read_only: true,
            ..SqliteReadStoreOptions::default()
        },
    )
    .expect("the read models");
    let serving = reads
        .serving(&ORDER_SUMMARY)
        .await
        .expect("the catalog")
        .expect("a serving generation");
    let count = reads
        .partitions(&ORDER_SUMMARY, serving.generation)
        .await
        .expect("its partitions");
    (serving.generation.get(), count)
}

/// A projection run as partitions is rebuilt by its own name: over the admin API, into one
/// new generation all partitions fill; from the command line, as as many partitions as built
/// its serving read model (or as `--partitions` says), each time equal to a rebuild.
pub async fn a_partitioned_projection_is_rebuilt_by_its_name() {
    let server =
        Server::start_with_args(Storage::fresh().await, &["--partitions", "order_summary=4"]).await;
    server.ready().await;
    let ids = order_load(&server, "r", 20).await;
    let head = server.head().await;
    let first = wait_partitions_at_head(&server, 4, None).await;
    let before = listing(&server, &ids, head).await;

    let started = server
        .post_empty("/admin/projections/order_summary/rebuild")
        .await
        .expect(202)
        .json();
    assert_eq!(started["projection"], "order_summary", "{started}");
    let generation = started["generation"].as_u64().expect("a generation");
    assert!(
        Some(generation) > first[0]["generation"].as_u64(),
        "{started} after {first:?}"
    );
    let rebuilt_four = wait_partitions_at_head(&server, 4, first[0]["generation"].as_u64()).await;
    assert!(
        rebuilt_four.iter().all(|e| e["generation"] == generation),
        "every partition serves the new generation: {rebuilt_four:?}"
    );
    assert_eq!(listing(&server, &ids, head).await, before);
    let unknown = server
        .post_empty("/admin/projections/order_summary_p9of4/rebuild")
        .await;
    assert_eq!(unknown.status, 404, "{}", unknown.text);

    let Storage::Sqlite(dir) = server.storage() else {
        return;
    };
    let data = dir.path().join("data");
    let storage_args = server.storage_args();
    let mut server = server;
    let storage = server.keep_storage();
    assert!(server.terminate(), "a clean exit on SIGTERM");
    assert_eq!(serving_built_by(&data).await, (generation as u32, 4));

    // From the command line: as many partitions as built the serving read model.
    let limit = Duration::from_secs(120);
    let done = crate::helpers::projector(&["rebuild", "order_summary"], &storage_args, limit).await;
    assert!(done.success, "{}", done.stderr);
    assert!(
        done.stdout.contains("rebuilt order_summary"),
        "{}",
        done.stdout
    );
    let (by_command, count) = serving_built_by(&data).await;
    assert!(u64::from(by_command) > generation, "a new generation");
    assert_eq!(count, 4, "rebuilt as the four partitions that built it");
    let reached = partition_checkpoints(&data, 4)
        .await
        .expect("four partitions");
    assert!(
        reached.iter().all(|p| p.get() == head),
        "{reached:?} at {head}"
    );
    let (kept, _) = rebuilt::kept(&data).await;
    let fresh = rebuilt::rebuilt(&data.join("events.db")).await;
    rebuilt::assert_equal("after a rebuild from the command line", &kept, &fresh);

    // Or as many as asked.
    let done = crate::helpers::projector(
        &[
            "rebuild",
            "order_summary",
            "--partitions",
            "order_summary=2",
        ],
        &storage_args,
        limit,
    )
    .await;
    assert!(done.success, "{}", done.stderr);
    let (by_two, count) = serving_built_by(&data).await;
    assert!(by_two > by_command, "a new generation");
    assert_eq!(count, 2);
    let (kept, _) = rebuilt::kept(&data).await;
    rebuilt::assert_equal("after a rebuild as two partitions", &kept, &fresh);
    drop(storage);
}

/// A dead letter of a partition, addressed by the projection's name: listed, shown, retried
/// once the read model is mended (the partition goes on), and skipped.
pub async fn dead_letters_named_by_the_projection_reach_their_partition() {
    const LETTERS: &str = "/admin/projections/order_summary/dead-letters";
    let server =
        Server::start_with_args(Storage::fresh().await, &["--partitions", "order_summary=4"]).await;
    server.ready().await;
    server.place("d-first", "c1", &[("a", 1, 1.0)]).await;
    wait_partitions_at_head(&server, 4, None).await;
    crate::dead_letters::break_read_model(&server).await;
    let id = id_in("poison", 2, 4);
    let blocked = server.place(&id, "c1", &[("a", 2, 1.0)]).await;
    let stopped = eventually("partition 2 stopped at the order", || async {
        let (entries, _) = partition_entries(&server, "order_summary").await;
        if entries[2]["state"] == "stopped" {
            Ok(entries)
        } else {
            Err(entries)
        }
    })
    .await;
    // It stops at the order's first event; the other partitions go on past all of them.
    let at = stopped[2]["stopped_at"].as_u64().expect("stopped_at");
    assert!(at <= blocked, "{stopped:?}");
    assert_eq!(stopped[2]["dead_letters"], 1, "{stopped:?}");
    for other in [0, 1, 3] {
        assert_ne!(stopped[other]["state"], "stopped", "{stopped:?}");
    }

    let list = server.get(LETTERS).await.expect(200).json();
    let listed = list["dead_letters"].as_array().expect("dead_letters");
    assert_eq!(listed.len(), 1, "{list}");
    assert_eq!(listed[0]["position"], at, "{list}");
    assert!(
        listed[0]["stream_id"]
            .as_str()
            .is_some_and(|s| s.ends_with(&id)),
        "{list}"
    );
    let shown = server
        .get(&format!("{LETTERS}/{at}"))
        .await
        .expect(200)
        .json();
    assert_eq!(shown["event"]["position"], at, "{shown}");

    crate::dead_letters::mend_read_model(&server).await;
    let applied = server
        .post_empty(&format!("{LETTERS}/{at}/retry"))
        .await
        .expect(200)
        .json();
    assert_eq!(applied["outcome"], "applied", "{applied}");
    assert_eq!(
        read_at(&server, &id, blocked, 10_000)
            .await
            .expect(200)
            .json()["item_count"],
        2
    );
    assert!(
        server.get(LETTERS).await.expect(200).json()["dead_letters"]
            .as_array()
            .is_some_and(Vec::is_empty)
    );

    // Stopped again in another partition, and skipped by the projection's name.
    crate::dead_letters::break_read_model(&server).await;
    let id = id_in("skipped", 1, 4);
    let blocked = server.place(&id, "c1", &[("a", 3, 1.0)]).await;
    let at = eventually("partition 1 stopped at the order", || async {
        let (entries, _) = partition_entries(&server, "order_summary").await;
        entries[1]["stopped_at"].as_u64().ok_or(entries)
    })
    .await;
    crate::dead_letters::mend_read_model(&server).await;
    let skipped = server
        .post_empty(&format!("{LETTERS}/{at}/skip"))
        .await
        .expect(200)
        .json();
    assert_eq!(skipped["position"], at, "{skipped}");
    assert_eq!(skipped["skipped"], true, "{skipped}");
    // Without its first event the order has no summary: the partition stops at each later
    // event of it, each skipped by the projection's name in turn, and then goes on.
    let skips = std::sync::Mutex::new(vec![at]);
    eventually("partition 1 past the skipped order", || async {
        let (entries, _) = partition_entries(&server, "order_summary").await;
        match entries[1]["stopped_at"].as_u64() {
            Some(next) if !skips.lock().expect("skips").contains(&next) => {
                server
                    .post_empty(&format!("{LETTERS}/{next}/skip"))
                    .await
                    .expect(200);
                skips.lock().expect("skips").push(next);
                Err(entries)
            }
            _ if entries[1]["checkpoint"].as_u64() >= Some(blocked) => Ok(()),
            _ => Err(entries),
        }
    })
    .await;
    let after = server.place("after-skip", "c1", &[("a", 1, 1.0)]).await;
    assert_eq!(
        read_at(&server, "after-skip", after, 10_000)
            .await
            .expect(200)
            .json()["item_count"],
        1
    );
    let unknown = server
        .post_empty(&format!("{LETTERS}/{}/retry", after))
        .await;
    assert_eq!(unknown.status, 404, "{}", unknown.text);
}
