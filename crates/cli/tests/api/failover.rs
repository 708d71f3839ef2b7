//! Two `projector serve` processes on one PostgreSQL database: one runs the projections, the
//! other stands by. Killing the first with SIGKILL in the middle of a write load (writes in
//! flight, the holder seen behind the head) hands the projections to the second within about
//! a second, and the read models end equal to a rebuild.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use projector_cli::read_models::sql_projections;
use projector_postgres::{PgEventStore, PgEventStoreOptions, PgReadStore, PgReadStoreOptions};
use projector_runtime::{Projector, ProjectorOptions};
use projector_sql::{SqlProjection, SqlReadStore, SqlTarget};
use projector_testkit::dump::{self, read_models};
use projector_testkit::postgres::TestDatabase;
use projector_testkit::wait::{eventually_every, eventually_within};
use serde_json::json;
use tokio_util::sync::CancellationToken;

use crate::helpers::Server;

/// How long the standby may take to run every projection once the holder is dead. The README
/// promises "about a second": a standby tries for a free lease once a second, so that is what
/// a takeover takes on an idle machine. This test runs on a loaded CI machine of two cores
/// shared with the rest of the suite, where taking the leases and opening the read models adds
/// to that second (1.2 to 1.7 s measured on such a machine), so the bound is 3 s: the promised
/// second plus slack for the load, still well short of the 10 s a hung holder's lease takes to
/// free.
const TAKEOVER: Duration = Duration::from_secs(3);
/// Orders of the write load.
const ORDERS: usize = 150;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_standby_takes_over_when_the_holder_dies() {
    let Some(database) = TestDatabase::create().await else {
        return;
    };
    // The holder applies one event per batch, so under load it is seen behind the head.
    let holder = Server::start_on_database_with_args(database.url(), &["--batch-size", "1"]).await;
    holder.ready().await;
    assert!(holder.projection_states().await.iter().all(|s| s == "live"));
    let standby = Server::start_on_database(database.url()).await;
    standby.ready().await;
    assert!(
        standby
            .shared_projection_states()
            .await
            .iter()
            .all(|s| s == "standby"),
        "the second process stands by"
    );

    // A write load through the standby while the holder projects it; kill the holder midway.
    let (client, base) = (standby.client.clone(), standby.base.clone());
    let written = Arc::new(AtomicUsize::new(0));
    let progress = Arc::clone(&written);
    let load = tokio::spawn(async move {
        let mut last = 0;
        for i in 0..ORDERS {
            let body = json!({"id": format!("o{i}"), "customer_id": format!("c{}", i % 7), "items": [
                {"sku": "a", "quantity": 1 + i % 3, "unit_price": 2.5}, {"sku": "b", "quantity": 1, "unit_price": 0.75}]});
            let accepted: serde_json::Value = client
                .post(format!("{base}/api/orders"))
                .json(&body)
                .send()
                .await
                .expect("write")
                .json()
                .await
                .expect("json");
            last = accepted["position"].as_u64().expect("position");
            if i % 3 == 0 {
                let ship = json!({"tracking": format!("T{i}")});
                client
                    .post(format!("{base}/api/orders/o{i}/ship"))
                    .json(&ship)
                    .send()
                    .await
                    .expect("ship");
                let done = client
                    .post(format!("{base}/api/orders/o{i}/complete"))
                    .send()
                    .await
                    .expect("complete");
                last = done.json::<serde_json::Value>().await.expect("json")["position"]
                    .as_u64()
                    .expect("position");
            }
            progress.store(i + 1, Ordering::SeqCst);
        }
        last
    });
    // Killed under load: past the first writes, well short of the last, and with the holder
    // behind the head on some shared projection just before the kill.
    eventually_every(
        "the holder behind the write load",
        Duration::from_millis(5),
        || async {
            let done = written.load(Ordering::SeqCst);
            assert!(
                done < ORDERS / 2,
                "the holder was never seen behind the write load ({done} orders written)"
            );
            if done < ORDERS / 5 {
                return Err(format!("{done} orders written"));
            }
            let list = holder.get("/admin/projections").await.expect(200).json();
            let head = list["head"].as_u64().expect("head");
            let behind = list["projections"]
                .as_array()
                .expect("projections")
                .iter()
                .any(|p| p["local"] == false && p["checkpoint"].as_u64() < Some(head));
            if behind {
                Ok(())
            } else {
                Err(list.to_string())
            }
        },
    )
    .await;
    holder.kill();
    let killed = Instant::now();
    let at_kill = written.load(Ordering::SeqCst);
    assert!(at_kill < ORDERS, "the load was over at the kill");
    // The shared read models (the standby's own search index ran there all along): each is
    // taken over once the standby runs it, catching up from the holder's checkpoint. The bound
    // is the README's promise, so it is not scaled.
    eventually_within("the standby to take over", TAKEOVER, || async {
        let states = standby.shared_projection_states().await;
        if states.iter().all(|s| s != "standby") {
            Ok(())
        } else {
            Err(states)
        }
    })
    .await;
    eprintln!("takeover after {:?}", killed.elapsed());
    let last = load.await.expect("the load finished");
    assert!(
        written.load(Ordering::SeqCst) == ORDERS,
        "writes went on after the kill"
    );
    let order = standby.order(&format!("o{}", ORDERS - 1), last).await;
    assert_eq!(order["status"], "confirmed");

    // The read models equal a rebuild of the same events from scratch: every table of every
    // SQL projection (the testkit's dump takes them from each projection's own schema), so
    // none is left out by a hand-written list.
    let served = Arc::new(
        PgReadStore::connect(database.url(), PgReadStoreOptions::default())
            .await
            .expect("read store"),
    );
    let rebuilt_database = TestDatabase::create().await.expect("a second database");
    let rebuilt = Arc::new(
        PgReadStore::connect(rebuilt_database.url(), PgReadStoreOptions::default())
            .await
            .expect("read store"),
    );
    let events = Arc::new(
        PgEventStore::connect(database.url(), PgEventStoreOptions::default())
            .await
            .expect("event store"),
    );
    let mut projector = Projector::new(events.clone(), ProjectorOptions::default());
    for projection in sql_projections() {
        projector = projector.with_target(SqlTarget::new(
            rebuilt.clone() as Arc<dyn SqlReadStore>,
            projection,
        ));
    }
    let shutdown = CancellationToken::new();
    let handle = projector.start(shutdown.clone()).expect("start");
    let head = handle
        .wait_caught_up(Duration::from_secs(60))
        .await
        .expect("the rebuild caught up");
    // Every projection of the standby has applied the whole history before the comparison.
    standby.wait_every_projection_at(head.get()).await;
    let projections = sql_projections();
    let projections: Vec<&dyn SqlProjection> = projections.iter().map(|p| p.as_ref()).collect();
    let (got, want) = (
        read_models(served.as_ref(), &projections).await,
        read_models(rebuilt.as_ref(), &projections).await,
    );
    assert!(
        !dump::rows(&want, "order_summary").is_empty(),
        "the rebuild has the orders"
    );
    assert_eq!(
        got.iter().map(|t| &t.name).collect::<Vec<_>>(),
        want.iter().map(|t| &t.name).collect::<Vec<_>>(),
        "the same tables"
    );
    for (mine, theirs) in got.iter().zip(&want) {
        assert!(
            mine == theirs,
            "{} differs from a rebuild ({} rows served, {} rebuilt)\nserved, not rebuilt: {:?}\n\
             rebuilt, not served: {:?}",
            mine.name,
            mine.rows.len(),
            theirs.rows.len(),
            mine.rows
                .iter()
                .filter(|r| !theirs.rows.contains(r))
                .take(3)
                .collect::<Vec<_>>(),
            theirs
                .rows
                .iter()
                .filter(|r| !mine.rows.contains(r))
                .take(3)
                .collect::<Vec<_>>(),
        );
    }
    shutdown.cancel();
    handle.join().await;
    events.close().await;
}
