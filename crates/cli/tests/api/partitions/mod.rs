//! `order_summary` run as partitions by the real server: reads with `min_position` wait for
//! every partition (and an idle one never holds them back), a position one has not reached is
//! a 503 naming the slowest partition's, the admin API lists each partition, a new number of
//! partitions rebuilds beside, two servers on one PostgreSQL database spread the partitions
//! over them and hand a partition over when its holder is killed, and a `project` killed
//! mid-batch ends equal to a rebuild.

use std::time::{Duration, Instant};

use projector_core::Partition;
use projector_orders::order_stream;
use projector_testkit::wait::eventually;
use serde_json::{Value, json};

use crate::helpers::{Server, Storage};
use crate::rebuilt;

mod balance;
mod failover;
mod operations;

pub use balance::a_later_server_gets_its_share_of_the_partitions_and_a_survivor_takes_them_all;
pub use failover::two_servers_share_the_partitions_and_one_takes_over_from_the_other;
pub use operations::{
    a_dead_letter_of_an_event_every_partition_applies_reaches_them_all,
    a_partitioned_projection_is_rebuilt_by_its_name,
    a_partitioned_projection_pauses_and_resumes_by_its_name,
    dead_letters_named_by_the_projection_reach_their_partition,
    killed_mid_batch_the_partitions_still_equal_a_rebuild,
};

/// The partition of `count` order `id`'s stream belongs to.
pub(crate) fn partition_of(id: &str, count: u16) -> u16 {
    Partition::of_stream(&order_stream(id).expect("an order id"), count)
}

/// An order id in partition `index` of `count`, `prefix`-ed.
pub(crate) fn id_in(prefix: &str, index: u16, count: u16) -> String {
    (0..)
        .map(|n| format!("{prefix}-{n}"))
        .find(|id| partition_of(id, count) == index)
        .expect("some id falls in every partition")
}

/// The entries of `GET /admin/projections` for the partitions of `base`, by name, and the head.
pub(crate) async fn partition_entries(server: &Server, base: &str) -> (Vec<Value>, u64) {
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
pub(crate) async fn wait_partitions_at_head(
    server: &Server,
    count: u16,
    not: Option<u64>,
) -> Vec<Value> {
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
pub(crate) async fn read_at(
    server: &Server,
    id: &str,
    position: u64,
    wait_ms: u64,
) -> crate::helpers::Reply {
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
    // The partitions race to make the first generation; the losers open the winner's at once,
    // never as a failure to retry.
    wait_partitions_at_head(&server, 4, None).await;
    let metrics = server.get("/metrics").await.expect(200).text;
    if metrics
        .lines()
        .any(|l| l.starts_with("projector_projection_retries_total{projection=\"order_summary_p"))
    {
        let retry = server
            .wait_for_log("the retry's log line", |l| l.contains("retrying"))
            .await;
        panic!("a partition retried at a fresh start: {retry}");
    }

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
pub(crate) async fn order_load(server: &Server, prefix: &str, count: usize) -> Vec<String> {
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
pub(crate) async fn listing(server: &Server, ids: &[String], position: u64) -> Vec<Value> {
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
