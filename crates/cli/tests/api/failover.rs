//! Two `projector serve` processes on one PostgreSQL database: one runs the projections, the
//! other stands by. Killing the first with SIGKILL in the middle of a write load hands the
//! projections to the second within a bounded time, and the read models end equal to a rebuild.

use std::sync::Arc;
use std::time::{Duration, Instant};

use projector_postgres::{PgEventStore, PgEventStoreOptions, PgReadStore, PgReadStoreOptions};
use projector_runtime::{Projector, ProjectorOptions};
use projector_sql::{SqlReadStore, SqlTarget, SqlValue};
use projector_testkit::postgres::TestDatabase;
use serde_json::json;
use tokio_util::sync::CancellationToken;

use crate::helpers::Server;

/// How long the standby may take to run every projection once the holder is dead.
const TAKEOVER: Duration = Duration::from_secs(15);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_standby_takes_over_when_the_holder_dies() {
    let Some(database) = TestDatabase::create().await else {
        return;
    };
    let holder = Server::start_on_database(database.url()).await;
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
    let load = tokio::spawn(async move {
        let mut last = 0;
        for i in 0..150 {
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
        }
        last
    });
    tokio::time::sleep(Duration::from_millis(400)).await;
    holder.kill();
    let killed = Instant::now();
    loop {
        // The shared read models: the standby's own search index ran there all along.
        if standby
            .shared_projection_states()
            .await
            .iter()
            .all(|s| s == "live")
        {
            break;
        }
        assert!(
            killed.elapsed() < TAKEOVER,
            "the standby did not take over within {TAKEOVER:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    eprintln!("takeover after {:?}", killed.elapsed());
    let last = load.await.expect("the load finished");
    let order = standby.order("o149", last).await;
    assert_eq!(order["status"], "confirmed");

    // The read models equal a rebuild of the same events from scratch.
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
    let mut projections = projector_orders::projections::all();
    projections.extend(projector_issues::projections::all());
    for projection in projections {
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
    standby
        .get(&format!("/api/orders/o0/projection?min_position={head}"))
        .await
        .expect(200);
    for (projection, table) in [
        (
            projector_orders::projections::ORDER_SUMMARY,
            "order_summary",
        ),
        (projector_orders::projections::DAILY_SALES, "daily_sales"),
        (projector_orders::projections::CUSTOMERS, "customer_orders"),
        (
            projector_orders::projections::CUSTOMERS,
            "customer_activity",
        ),
    ] {
        let standby_checkpoint = standby.get("/ready").await.json();
        let dump = |store: Arc<PgReadStore>| {
            let projection = projection.clone();
            async move {
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
            }
        };
        let (got, want) = (dump(served.clone()).await, dump(rebuilt.clone()).await);
        assert_eq!(got.len(), want.len(), "{table}: {standby_checkpoint}");
        assert_eq!(got, want, "{table} differs from a rebuild");
    }
    shutdown.cancel();
    handle.join().await;
    events.close().await;
}
