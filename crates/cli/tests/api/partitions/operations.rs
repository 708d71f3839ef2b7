//! Operating a partitioned `order_summary` on SQLite: `project` killed mid-batch, rebuilds
//! and dead-letter actions named by the projection.

use std::time::{Duration, Instant};

use projector_core::{GlobalPosition, Partition};
use projector_orders::projections::ORDER_SUMMARY;
use projector_testkit::wait::eventually;

use super::{id_in, listing, order_load, partition_entries, read_at, wait_partitions_at_head};
use crate::helpers::{Server, Storage};
use crate::rebuilt;

/// The checkpoint of each partition of `order_summary` run as `count` in the read models under
/// `data` (none before it serves a generation built so).
async fn partition_checkpoints(data: &std::path::Path, count: u16) -> Option<Vec<GlobalPosition>> {
    use projector_sql::SqlReadStore;

    let reads = projector_testkit::sqlite::read_only_read_store(data).ok()?;
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

    let reads = projector_testkit::sqlite::read_only_read_store(data).expect("the read models");
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

    // From the command line once the server has stopped: the letter of partition 3 is
    // skipped by the projection's name, run as the four partitions that built the read model
    // (never rebuilt as one).
    crate::dead_letters::break_read_model(&server).await;
    let id = id_in("offline", 3, 4);
    server.place(&id, "c1", &[("a", 5, 1.0)]).await;
    let at = eventually("partition 3 stopped at the order", || async {
        let (entries, _) = partition_entries(&server, "order_summary").await;
        entries[3]["stopped_at"].as_u64().ok_or(entries)
    })
    .await;
    let Storage::Sqlite(dir) = server.storage() else {
        return;
    };
    let data = dir.path().join("data");
    let storage_args = server.storage_args();
    let mut server = server;
    let storage = server.keep_storage();
    assert!(server.terminate(), "a clean exit on SIGTERM");
    let served = serving_built_by(&data).await;
    let position = at.to_string();
    let skipped = crate::helpers::projector(
        &["dead-letters", "skip", "order_summary", &position],
        &storage_args,
        Duration::from_secs(90),
    )
    .await;
    assert!(skipped.success, "{}{}", skipped.stdout, skipped.stderr);
    assert!(skipped.stdout.contains("skipped"), "{}", skipped.stdout);
    assert_eq!(
        serving_built_by(&data).await,
        served,
        "the same read model serves"
    );
    assert_eq!(building(&data).await, 0, "no rebuild started");
    let reached = partition_checkpoints(&data, 4)
        .await
        .expect("four partitions");
    assert!(
        reached[3].get() >= at,
        "partition 3 went on past the letter: {reached:?}"
    );
    drop(storage);
}

/// An event every partition applies (a customer's registration: each partition copies the
/// region onto that customer's orders in its share) fails in all four while
/// `customer_regions` is away. Its letter is listed and counted once, by the partition of the
/// customer's stream; retried by the projection's name, every partition applies it and goes
/// on; a second such letter, skipped by the name, moves every partition past it.
pub async fn a_dead_letter_of_an_event_every_partition_applies_reaches_them_all() {
    const LETTERS: &str = "/admin/projections/order_summary/dead-letters";
    let server =
        Server::start_with_args(Storage::fresh().await, &["--partitions", "order_summary=4"]).await;
    server.ready().await;
    let orders: Vec<String> = (0..4).map(|index| id_in("spread", index, 4)).collect();
    for id in &orders {
        server.place(id, "cust-moving", &[("a", 1, 1.0)]).await;
    }
    wait_partitions_at_head(&server, 4, None).await;

    let at = stop_every_partition_at_a_registration(&server, "cust-moving").await;
    let listed = server.get(LETTERS).await.expect(200).json();
    assert_eq!(
        listed["dead_letters"].as_array().map(Vec::len),
        Some(1),
        "listed once by the projection's name: {listed}"
    );
    customer_regions(&server, Regions::Back).await;
    let applied = server
        .post_empty(&format!("{LETTERS}/{at}/retry"))
        .await
        .expect(200)
        .json();
    assert_eq!(applied["outcome"], "applied", "{applied}");
    assert!(
        server.get(LETTERS).await.expect(200).json()["dead_letters"]
            .as_array()
            .is_some_and(Vec::is_empty)
    );
    let head = server.head().await;
    for id in &orders {
        let order = read_at(&server, id, head, 10_000).await.expect(200).json();
        assert_eq!(order["customer_region"], "Yukon", "{order}");
    }
    let settled = wait_partitions_at_head(&server, 4, None).await;
    assert!(
        settled
            .iter()
            .all(|e| e["dead_letters"] == 0 && e["state"] != "stopped"),
        "{settled:?}"
    );

    let at = stop_every_partition_at_a_registration(&server, "cust-skipped").await;
    customer_regions(&server, Regions::Back).await;
    let skipped = server
        .post_empty(&format!("{LETTERS}/{at}/skip"))
        .await
        .expect(200)
        .json();
    assert_eq!(skipped["skipped"], true, "{skipped}");
    let settled = wait_partitions_at_head(&server, 4, None).await;
    assert!(
        settled.iter().all(|e| e["state"] != "stopped"),
        "every partition went on past the skipped letter: {settled:?}"
    );
    let listed = server.get(LETTERS).await.expect(200).json();
    assert_eq!(
        listed["dead_letters"][0]["skipped"], true,
        "the letter is kept, skipped: {listed}"
    );
}

/// Whether `customer_regions` is where `order_summary` looks for it.
enum Regions {
    Away,
    Back,
}

/// Renames `order_summary`'s `customer_regions` away, so every customer event fails, or back.
async fn customer_regions(server: &Server, to: Regions) {
    let statement = match to {
        Regions::Away => "ALTER TABLE customer_regions RENAME TO customer_regions_away",
        Regions::Back => "ALTER TABLE customer_regions_away RENAME TO customer_regions",
    };
    server
        .storage()
        .alter_read_model("order_summary", statement)
        .await;
}

/// Takes `customer_regions` away and registers `customer`, which stops every partition at the
/// registration; checks that only the partition of the customer's stream lists (and counts)
/// the letter, and returns its position.
async fn stop_every_partition_at_a_registration(server: &Server, customer: &str) -> u64 {
    customer_regions(server, Regions::Away).await;
    let body = serde_json::json!({"id": customer, "email": format!("{customer}@example.com"),
        "name": "Robin", "region": "Yukon"});
    let registered = server
        .post("/api/customers", &body)
        .await
        .expect(201)
        .position();
    let stopped = eventually("every partition stopped at the registration", || async {
        let (entries, _) = partition_entries(server, "order_summary").await;
        if entries.iter().all(|e| e["stopped_at"].as_u64().is_some()) {
            Ok(entries)
        } else {
            Err(entries)
        }
    })
    .await;
    let at = stopped[0]["stopped_at"].as_u64().expect("stopped_at");
    assert!(at <= registered, "{stopped:?}");
    let stream = <projector_customers::CustomerEvent as projector_core::EventSet>::stream(customer)
        .expect("a stream id");
    let owner = usize::from(projector_core::Partition::of_stream(&stream, 4));
    for (index, entry) in stopped.iter().enumerate() {
        assert_eq!(entry["stopped_at"], at, "{stopped:?}");
        let counted = u64::from(index == owner);
        assert_eq!(entry["dead_letters"], counted, "{stopped:?}");
    }
    at
}

/// How many generations of `order_summary` under `data` are being built.
async fn building(data: &std::path::Path) -> usize {
    use projector_sql::SqlReadStore;

    projector_testkit::sqlite::read_only_read_store(data)
        .expect("the read models")
        .building(&ORDER_SUMMARY)
        .await
        .expect("the catalog")
        .len()
}

/// Whether every one of the four partitions of `order_summary` is paused.
async fn all_four(
    server: &Server,
    paused: bool,
) -> Result<Vec<serde_json::Value>, Vec<serde_json::Value>> {
    let (entries, _) = partition_entries(server, "order_summary").await;
    let as_asked = entries.len() == 4
        && entries
            .iter()
            .all(|e| e["paused"] == paused && (e["state"] == "paused") == paused);
    if as_asked { Ok(entries) } else { Err(entries) }
}

/// A projection run as partitions is paused and resumed by its name, as one: over the admin
/// API, and from the command line beside the running server, whose partitions read the one
/// pause they share.
pub async fn a_partitioned_projection_pauses_and_resumes_by_its_name() {
    let server =
        Server::start_with_args(Storage::fresh().await, &["--partitions", "order_summary=4"]).await;
    server.ready().await;
    let ids = order_load(&server, "pz", 12).await;
    let head = server.head().await;
    wait_partitions_at_head(&server, 4, None).await;

    let paused = server
        .post_empty("/admin/projections/order_summary/pause")
        .await
        .expect(200)
        .json();
    assert_eq!(paused["state"], "paused", "{paused}");
    assert_eq!(paused["checkpoint"], head, "{paused}");
    let entries = all_four(&server, true)
        .await
        .expect("every partition paused at once");
    assert!(
        entries.iter().all(|e| e["checkpoint"] == head),
        "{entries:?}"
    );
    server
        .post_empty("/admin/projections/order_summary/pause")
        .await
        .expect(409);

    // Writes in every partition go on; none of them is applied while paused.
    let mut wanted = 0;
    for index in 0..4 {
        wanted = server
            .place(&id_in("held", index, 4), "c1", &[("a", 1, 1.0)])
            .await;
    }
    assert_eq!(read_at(&server, &ids[0], head, 300).await.status, 200);
    assert_eq!(
        read_at(&server, &id_in("held", 3, 4), wanted, 300)
            .await
            .status,
        503
    );
    let (entries, _) = partition_entries(&server, "order_summary").await;
    assert!(
        entries.iter().all(|e| e["checkpoint"] == head),
        "{entries:?}"
    );

    let resumed = server
        .post_empty("/admin/projections/order_summary/resume")
        .await
        .expect(200)
        .json();
    assert_eq!(resumed["projection"], "order_summary", "{resumed}");
    all_four(&server, false)
        .await
        .expect("every partition resumed at once");
    for index in 0..4 {
        let id = id_in("held", index, 4);
        assert_eq!(
            read_at(&server, &id, wanted, 10_000).await.status,
            200,
            "{id}"
        );
    }
    server
        .post_empty("/admin/projections/order_summary/resume")
        .await
        .expect(409);

    // From the command line, on the server's storage: the partitions read the pause.
    let storage_args = server.storage_args();
    let limit = Duration::from_secs(60);
    let done = crate::helpers::projector(&["pause", "order_summary"], &storage_args, limit).await;
    assert!(done.success, "{}", done.stderr);
    eventually("every partition paused by the command line", || {
        all_four(&server, true)
    })
    .await;
    let held = server
        .place(&id_in("cli", 2, 4), "c1", &[("a", 1, 1.0)])
        .await;
    assert_eq!(
        read_at(&server, &id_in("cli", 2, 4), held, 300)
            .await
            .status,
        503
    );
    let done = crate::helpers::projector(&["resume", "order_summary"], &storage_args, limit).await;
    assert!(done.success, "{}", done.stderr);
    eventually("every partition resumed by the command line", || {
        all_four(&server, false)
    })
    .await;
    assert_eq!(
        read_at(&server, &id_in("cli", 2, 4), held, 10_000)
            .await
            .status,
        200
    );
}
