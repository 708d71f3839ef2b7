//! Two servers on one PostgreSQL database sharing the partitions of `order_summary`, one
//! each: the holder of a partition killed under load, the survivor takes it over, and the read models
//! end equal to a rebuild.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use projector_testkit::wait::{eventually, eventually_every, eventually_within};
use serde_json::{Value, json};

use super::{partition_entries, read_at};
use crate::helpers::Server;

/// How long a surviving server may take to run a partition once its holder is dead: the
/// README promises "about a second"; the rest is slack for a loaded machine.
pub(super) const TAKEOVER: Duration = Duration::from_secs(3);

/// The partitions of `order_summary` a server runs (not standing by), and the holder it names
/// for each.
pub(super) async fn held(server: &Server) -> Vec<(String, String, String)> {
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

/// How many of `partitions` a server runs rather than stands by for.
pub(super) fn running_count(partitions: &[(String, String, String)]) -> usize {
    partitions
        .iter()
        .filter(|(_, state, _)| state != "standby")
        .count()
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

    // Each partition runs in exactly one server, one partition in each (the second, started
    // later, gets its share from the first); the other stands by naming it.
    let (ran_first, ran_second) = eventually(
        "one partition held by each server, its holder named",
        || async {
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
                })
                && running_count(&a) == 1
                && running_count(&b) == 1;
            if settled { Ok((a, b)) } else { Err((a, b)) }
        },
    )
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
    use projector_sql::{SqlProjection, SqlReadStore, SqlTarget};
    use projector_testkit::dump::{read_models, rows};
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
    let all = projector_orders::projections::all();
    let all: Vec<&dyn SqlProjection> = all.iter().map(|p| p.as_ref()).collect();
    let got = read_models(served.as_ref(), &all).await;
    let want = read_models(rebuilt.as_ref(), &all).await;
    for table in ["order_summary", "daily_sales", "customer_orders"] {
        assert!(!rows(&want, table).is_empty(), "{table} has rows");
    }
    assert_eq!(got, want, "the read models differ from a rebuild");
    shutdown.cancel();
    handle.join().await;
    events.close().await;
}
