//! `order_summary` run as partitions by the projector over real SQLite files: the rows equal a
//! build by one worker, each partition keeps its own checkpoint (idle ones too), and changing
//! the number of partitions builds a new generation.

use std::sync::Arc;

use std::sync::atomic::{AtomicUsize, Ordering};

use async_trait::async_trait;
use projector_core::{
    EventFeed, GlobalPosition, HeadWatch, Partition, ProjectionName, RecordedEvent, StoreError,
};
use projector_orders::projections::{ORDER_SUMMARY, OrderSummaryProjection};
use projector_runtime::{Projector, ProjectorHandle, ProjectorOptions};
use projector_sql::{SqlReadStore, SqlTarget, TypedSql};
use projector_sqlite::{SqliteEventStore, SqliteReadStore};
use projector_testkit::dump::{Dump, read_models, rows};
use tokio_util::sync::CancellationToken;

use super::region::{Fact, append, created, item_added, moved, registered};
use projector_testkit::sqlite;
use projector_testkit::wait::eventually;

use crate::helpers::patience;

/// Customers registering and moving between their orders' events, interleaved by a fixed
/// pseudo-random sequence, so customer events fall between every partition's batches.
fn interleaved(customers: usize, orders: usize) -> Vec<Fact> {
    let regions = ["north", "south", "east", "west"];
    let mut facts: Vec<Fact> = Vec::new();
    let mut state: u64 = 0x2545_f491_4f6c_dd1d;
    let mut next = |n: usize| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        usize::try_from(state % n as u64).unwrap_or(0)
    };
    let mut region_of: Vec<&str> = Vec::new();
    for c in 0..customers {
        let region = regions[next(regions.len())];
        region_of.push(region);
        facts.push(registered(&format!("c{c}"), region));
    }
    for o in 0..orders {
        let c = next(customers);
        facts.push(created(&format!("o{o}"), &format!("c{c}")));
        for _ in 0..=next(3) {
            let earlier = next(o + 1);
            facts.push(item_added(&format!("o{earlier}"), 100 + next(900) as i64));
        }
        if next(3) == 0 {
            let mover = next(customers);
            let to = regions[next(regions.len())];
            facts.push(moved(&format!("c{mover}"), region_of[mover], to));
            region_of[mover] = to;
        }
    }
    facts
}

/// `order_summary` as `count` partitions over `reads`, fed by `events`.
fn start(
    events: &Arc<SqliteEventStore>,
    reads: &Arc<SqliteReadStore>,
    count: u16,
    batch_size: usize,
) -> ProjectorHandle {
    start_over(events.clone(), reads, count, batch_size)
}

/// `order_summary` as `count` partitions over `reads`, fed by `feed`.
fn start_over(
    feed: Arc<dyn EventFeed>,
    reads: &Arc<SqliteReadStore>,
    count: u16,
    batch_size: usize,
) -> ProjectorHandle {
    let options = ProjectorOptions {
        batch_size,
        ..ProjectorOptions::default()
    };
    let mut projector = Projector::new(feed, options);
    for target in SqlTarget::partitioned(
        reads.clone() as Arc<dyn SqlReadStore>,
        Arc::new(TypedSql(OrderSummaryProjection)),
        count,
    )
    .expect("partitions")
    {
        projector = projector.with_target(target);
    }
    projector.start(CancellationToken::new()).expect("start")
}

/// Both tables of `order_summary`, whole, once every worker has caught up.
async fn tables(projector: &ProjectorHandle, reads: &dyn SqlReadStore) -> Dump {
    projector
        .wait_caught_up(patience())
        .await
        .expect("caught up");
    read_models(reads, &[&TypedSql(OrderSummaryProjection)]).await
}

fn partition_names(count: u16) -> Vec<ProjectionName> {
    Partition::all(count)
        .expect("partitions")
        .into_iter()
        .map(|p| p.worker_name(&ORDER_SUMMARY).expect("a name"))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn four_partitions_build_the_same_tables_as_one_worker() {
    let (_dir, events, whole_reads) = sqlite::stores();
    let parted_dir = projector_testkit::temp_dir();
    let parted_reads = Arc::new(sqlite::read_store(parted_dir.path()));
    // Small batches, so partitions interleave customer moves with each other's orders.
    let whole = start(&events, &whole_reads, 1, 7);
    let parted = start(&events, &parted_reads, 4, 7);
    let facts = interleaved(12, 150);
    for fact in &facts {
        append(events.as_ref(), fact).await;
    }
    let expected = tables(&whole, whole_reads.as_ref()).await;
    assert_eq!(
        rows(&expected, "order_summary").len(),
        150,
        "one row per order"
    );
    assert_eq!(tables(&parted, parted_reads.as_ref()).await, expected);

    // Every partition has its own checkpoint, and each reached the head.
    let head = events.head().await.expect("head");
    for name in partition_names(4) {
        let status = parted.status(&name).expect("a partition's status");
        assert_eq!(status.checkpoint, head, "{name}");
    }
    // The projection as one shows its slowest partition, and lists each.
    let whole_status = parted
        .status(&ORDER_SUMMARY)
        .expect("the projection's status");
    assert_eq!(whole_status.checkpoint, head);
    assert_eq!(whole_status.name, ORDER_SUMMARY);
    assert_eq!(parted.partitions(&ORDER_SUMMARY).len(), 4);
    whole.stop().await;
    parted.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_partitions_move_their_checkpoints_with_the_feed() {
    let (_dir, events, reads) = sqlite::stores();
    let projector = start(&events, &reads, 4, 100);
    // Every event in one stream: three partitions have nothing to do.
    let mut facts = vec![created("o1", "c1")];
    facts.extend((0..20).map(|n| item_added("o1", 100 + n)));
    for fact in &facts {
        append(events.as_ref(), fact).await;
    }
    let head = events.head().await.expect("head");
    // A read of the projection waits for every partition, and the idle ones do not hold it.
    let reached = projector
        .wait_for(&ORDER_SUMMARY, head, patience())
        .await
        .expect("every partition reached the head");
    assert_eq!(reached, head);
    for name in partition_names(4) {
        let reached = projector
            .wait_for(&name, head, patience())
            .await
            .unwrap_or_else(|e| panic!("{name} did not reach {head}: {e}"));
        assert!(reached >= head);
    }
    // A restart reads each partition's checkpoint back from the generation.
    projector.stop().await;
    let again = start(&events, &reads, 4, 100);
    assert!(again.wait_started(patience()).await);
    for name in partition_names(4) {
        let status = again.status(&name).expect("status");
        assert_eq!(status.checkpoint, head, "{name} after a restart");
    }
    again.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changing_the_number_of_partitions_builds_a_new_generation() {
    let (_dir, events, reads) = sqlite::stores();
    let facts = interleaved(5, 40);
    for fact in &facts {
        append(events.as_ref(), fact).await;
    }
    let whole = start(&events, &reads, 1, 10);
    let expected = tables(&whole, reads.as_ref()).await;
    let first = whole
        .status(&ORDER_SUMMARY)
        .and_then(|s| s.generation)
        .expect("a generation");
    whole.stop().await;
    assert_eq!(
        reads
            .partitions(&ORDER_SUMMARY, first)
            .await
            .expect("count"),
        1
    );

    let parted = start(&events, &reads, 2, 10);
    let second = eventually("the two-partition generation to swap in", || async {
        let serving = reads
            .serving(&ORDER_SUMMARY)
            .await
            .expect("catalog")
            .expect("serving");
        if serving.generation == first {
            Err(serving.generation)
        } else {
            Ok(serving.generation)
        }
    })
    .await;
    assert_eq!(
        reads
            .partitions(&ORDER_SUMMARY, second)
            .await
            .expect("count"),
        2
    );
    assert_eq!(tables(&parted, reads.as_ref()).await, expected);
    parted.stop().await;
}

/// The event store, counting the events the projector reads from it.
struct Counting {
    events: Arc<SqliteEventStore>,
    read: AtomicUsize,
}

#[async_trait]
impl EventFeed for Counting {
    async fn read_all(
        &self,
        after: GlobalPosition,
        limit: usize,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        let events = self.events.read_all(after, limit).await?;
        self.read.fetch_add(events.len(), Ordering::SeqCst);
        Ok(events)
    }

    async fn head(&self) -> Result<GlobalPosition, StoreError> {
        self.events.head().await
    }

    fn watch_head(&self) -> HeadWatch {
        self.events.watch_head()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn partitions_in_one_process_read_the_feed_once_between_them() {
    let (_dir, events, whole_reads) = sqlite::stores();
    let counting = Arc::new(Counting {
        events: events.clone(),
        read: AtomicUsize::new(0),
    });
    let parted_dir = projector_testkit::temp_dir();
    let parted_reads = Arc::new(sqlite::read_store(parted_dir.path()));
    // The partitions' generation made first, so they all start together below, catching up.
    let parted = start_over(counting.clone(), &parted_reads, 4, 25);
    assert!(parted.wait_started(patience()).await);
    parted.stop().await;
    for fact in &interleaved(10, 300) {
        append(events.as_ref(), fact).await;
    }
    let head = events.head().await.expect("head").get();
    let whole = start(&events, &whole_reads, 1, 25);
    let expected = tables(&whole, whole_reads.as_ref()).await;
    whole.stop().await;

    let parted = start_over(counting.clone(), &parted_reads, 4, 25);
    assert_eq!(tables(&parted, parted_reads.as_ref()).await, expected);
    parted.stop().await;
    // Each of four partitions reading the whole feed would read it four times over; shared,
    // it is read about once (a partition that falls behind reads some of it again).
    let read = counting.read.load(Ordering::SeqCst) as u64;
    assert!(
        read < head * 2,
        "{read} events read for a feed of {head}, by four partitions"
    );
}
