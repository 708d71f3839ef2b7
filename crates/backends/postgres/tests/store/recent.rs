//! The events a store appended last are read back from memory: exactly as the database holds
//! them, and never in place of events another process appended between or after them.

use projector_core::{
    CausationId, CorrelationId, EventAppender, EventFeed, EventMetadata, ExpectedVersion,
    GlobalPosition, StreamId, UserId,
};
use projector_postgres::{PgEventStore, PgEventStoreOptions};
use projector_testkit::events::numbered;
use projector_testkit::postgres::TestDatabase;
use projector_testkit::wait::eventually;

async fn append(store: &PgEventStore, stream: &str, events: usize) {
    let metadata = EventMetadata {
        correlation_id: Some(CorrelationId::parse("corr-1").expect("id")),
        causation_id: Some(CausationId::parse("cause-1").expect("id")),
        user_id: Some(UserId::parse("user-1").expect("id")),
    };
    let events = numbered(events)
        .into_iter()
        .map(|e| e.with_metadata(metadata.clone()).with_schema_version(2))
        .collect();
    store
        .append(
            &StreamId::parse(stream).expect("stream"),
            ExpectedVersion::NoStream,
            events,
        )
        .await
        .expect("append");
}

fn positions(events: &[projector_core::RecordedEvent]) -> Vec<u64> {
    events.iter().map(|e| e.position.get()).collect()
}

#[tokio::test]
async fn a_store_reads_its_own_recent_events_as_stored_and_another_process_s_from_the_database() {
    let Some(database) = TestDatabase::create().await else {
        return;
    };
    let connect = || PgEventStore::connect(database.url(), PgEventStoreOptions::default());
    let (ours, theirs, reader) =
        tokio::try_join!(connect(), connect(), connect()).expect("connect");

    append(&ours, "ours-1", 2).await;
    append(&theirs, "theirs-1", 1).await;
    append(&ours, "ours-2", 2).await;

    // From the database (a store that appended nothing), every event.
    let stored = reader
        .read_all(GlobalPosition::ZERO, 100)
        .await
        .expect("read");
    assert_eq!(positions(&stored), [1, 2, 3, 4, 5]);
    // The events after the other process's are this store's own, in its window: they must
    // equal the stored ones field by field (times, payloads, metadata).
    let recent = ours
        .read_all(GlobalPosition::new(3), 100)
        .await
        .expect("read");
    assert_eq!(recent, stored[3..]);
    // Reads reaching back past the window go to the database, the other process's event too.
    let all = ours
        .read_all(GlobalPosition::ZERO, 100)
        .await
        .expect("read");
    assert_eq!(all, stored);

    // Another process appends after this store's last event: once this store knows of that
    // head, a read from its last event must find the new one, not the window's nothing.
    append(&theirs, "theirs-2", 1).await;
    eventually("our store to learn of the other's head", || async {
        ours.known_head() >= GlobalPosition::new(6)
    })
    .await;
    let after = ours
        .read_all(GlobalPosition::new(5), 100)
        .await
        .expect("read");
    assert_eq!(positions(&after), [6]);
    assert_eq!(after[0].stream_id.as_str(), "theirs-2");

    for store in [ours, theirs, reader] {
        store.close().await;
    }
}
