//! The change feed under real concurrency: two stores on one database (as two processes
//! would be), each with its own group-commit writer, and sixteen tasks released together, each
//! making a fixed number of appends to random streams at full speed, while a subscriber on a
//! third store follows the feed. Every task must complete its appends, and the subscriber must
//! see every committed event exactly once and in position order, with no acknowledged append
//! missing: a feed that skipped a late commit would fail here. Nothing is timed, so a slow
//! machine only takes longer.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use projector_core::{
    AppendOutcome, EventFeed, EventStore, ExpectedVersion, GlobalPosition, StreamId, Subscription,
};
use projector_postgres::{PgEventStore, PgEventStoreOptions};
use projector_testkit::events::numbered;
use projector_testkit::postgres::TestDatabase;
use projector_testkit::wait;
use uuid::Uuid;

const TASKS: usize = 16;
/// Appends per task: 640 in all, to streams the tasks share.
const APPENDS: usize = 40;

type Acknowledged = Vec<(AppendOutcome, Vec<Uuid>)>;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sixteen_writers_on_two_stores_and_a_subscriber_see_one_ordered_feed() {
    let Some(database) = TestDatabase::create().await else {
        return;
    };
    // Three stores connecting at once also run the migrations at once: the advisory lock makes
    // one apply them and the others wait.
    let connect = || PgEventStore::connect(database.url(), PgEventStoreOptions::default());
    let (a, b, reader) = tokio::try_join!(connect(), connect(), connect()).expect("connect");
    let writers: [Arc<dyn EventStore>; 2] = [Arc::new(a), Arc::new(b)];

    let mut subscription = Subscription::new(
        Arc::new(reader) as Arc<dyn EventFeed>,
        GlobalPosition::ZERO,
        500,
    );
    let follower = tokio::spawn(async move {
        let mut seen = Vec::new();
        // Follow while the writers append, until the feed has been quiet for a second; what is
        // left is read below, once the total is known.
        loop {
            let batch =
                tokio::time::timeout(Duration::from_secs(1), subscription.next_batch()).await;
            match batch {
                Ok(batch) => seen.extend(batch.expect("batch")),
                Err(_) => return (seen, subscription),
            }
        }
    });

    // Released together, so the tasks' appends overlap on both stores.
    let start = Arc::new(tokio::sync::Barrier::new(TASKS));
    let mut tasks = Vec::new();
    for task in 0..TASKS {
        let store = Arc::clone(&writers[task % 2]);
        let start = Arc::clone(&start);
        tasks.push(tokio::spawn(async move {
            let mut acknowledged: Acknowledged = Vec::new();
            start.wait().await;
            for i in 0..APPENDS {
                // A pseudo-random walk over 64 streams, so streams are shared between tasks and
                // between the two stores.
                let s =
                    StreamId::parse(format!("conc-{}", (task * 31 + i * 17) % 64)).expect("valid");
                let events = numbered(1 + (task + i) % 4);
                let ids = events.iter().map(|e| e.event_id).collect();
                // However slow the machine, an append that never answers is a failure.
                let outcome = tokio::time::timeout(
                    wait::deadline(),
                    store.append(&s, ExpectedVersion::Any, events),
                )
                .await
                .expect("an append answers")
                .expect("append");
                acknowledged.push((outcome, ids));
            }
            acknowledged
        }));
    }
    let mut acknowledged: Acknowledged = Vec::new();
    for task in tasks {
        let done = task.await.expect("writer task");
        assert_eq!(done.len(), APPENDS, "a task completed all its appends");
        acknowledged.extend(done);
    }
    let total: usize = acknowledged.iter().map(|(_, ids)| ids.len()).sum();

    let (mut seen, mut subscription) = follower.await.expect("follower");
    while seen.len() < total {
        let batch = tokio::time::timeout(wait::deadline(), subscription.next_batch())
            .await
            .expect("the subscriber catches up")
            .expect("batch");
        seen.extend(batch);
    }

    let positions: Vec<u64> = seen.iter().map(|e| e.position.get()).collect();
    assert_eq!(
        positions,
        (1..=total as u64).collect::<Vec<_>>(),
        "gap, repeat or reorder in the feed"
    );
    let by_position: HashMap<u64, Uuid> = seen
        .iter()
        .map(|e| (e.position.get(), e.event_id))
        .collect();
    for (outcome, ids) in &acknowledged {
        let landed: Vec<Uuid> = (outcome.first_position.get()..=outcome.last_position.get())
            .map(|p| by_position[&p])
            .collect();
        assert_eq!(&landed, ids, "an acknowledged append is missing or split");
    }
    let mut versions: BTreeMap<&str, u64> = BTreeMap::new();
    for event in &seen {
        let last = versions.entry(event.stream_id.as_str()).or_insert(0);
        assert_eq!(
            event.stream_version.get(),
            *last + 1,
            "stream versions out of order"
        );
        *last += 1;
    }
    for store in &writers {
        assert_eq!(store.head().await.expect("head").get(), total as u64);
    }
    eprintln!(
        "{} appends, {total} events from {TASKS} tasks on two stores",
        acknowledged.len()
    );
}
