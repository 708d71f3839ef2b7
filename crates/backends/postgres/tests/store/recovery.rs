//! Losing the database: operations fail as `Unavailable` while it is away and work again once
//! it returns, without reopening the store; subscribers are woken again by the reconnected
//! listener.

use std::sync::Arc;
use std::time::Duration;

use projector_core::{
    EventAppender, EventFeed, ExpectedVersion, GlobalPosition, StoreError, StreamId, Subscription,
};
use projector_postgres::{PgEventStore, PgEventStoreOptions, PgReadStore, PgReadStoreOptions};
use projector_sql::SqlReadStore;
use projector_testkit::events::numbered;
use projector_testkit::postgres::TestDatabase;

use projector_testkit::proxy::Proxy;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operations_fail_as_unavailable_while_the_database_is_away_then_recover() {
    let Some(database) = TestDatabase::create().await else {
        return;
    };
    let proxy = Proxy::start(database.url()).await;
    let options = PgEventStoreOptions {
        poll_interval: Duration::from_millis(200),
        ..PgEventStoreOptions::default()
    };
    let store = Arc::new(
        PgEventStore::connect(proxy.url(), options)
            .await
            .expect("connect"),
    );
    let reads = PgReadStore::connect(proxy.url(), PgReadStoreOptions::default())
        .await
        .expect("read store");
    let s = StreamId::from_static("away-1");
    store
        .append(&s, ExpectedVersion::NoStream, numbered(2))
        .await
        .expect("append before the cut");

    proxy.cut();
    let append = store.append(&s, ExpectedVersion::Any, numbered(1)).await;
    assert!(
        matches!(append, Err(StoreError::Unavailable { .. })),
        "{append:?}"
    );
    let read = store.read_all(GlobalPosition::ZERO, 10).await;
    assert!(
        matches!(read, Err(StoreError::Unavailable { .. })),
        "{read:?}"
    );
    assert!(matches!(
        store.head().await,
        Err(StoreError::Unavailable { .. })
    ));
    assert!(matches!(
        reads
            .serving(&projector_core::ProjectionName::from_static("x"))
            .await,
        Err(projector_core::ReadStoreError::Unavailable { .. })
    ));

    proxy.restore();
    // The pool reconnects on the next call; give the server a moment to accept.
    let outcome = retry(|| store.append(&s, ExpectedVersion::Any, numbered(1))).await;
    assert_eq!(outcome.first_position, GlobalPosition::new(3));
    assert_eq!(
        store
            .read_all(GlobalPosition::ZERO, 10)
            .await
            .expect("read")
            .len(),
        3
    );
    assert!(
        reads
            .serving(&projector_core::ProjectionName::from_static("x"))
            .await
            .expect("read store back")
            .is_none()
    );

    // A subscriber on another store is woken by its listener, which reconnected on its own.
    let other = PgEventStore::connect(database.url(), PgEventStoreOptions::default())
        .await
        .expect("connect directly");
    let mut subscription = Subscription::new(
        Arc::clone(&store) as Arc<dyn EventFeed>,
        GlobalPosition::new(3),
        10,
    );
    let next = tokio::spawn(async move { subscription.next_batch().await });
    tokio::time::sleep(Duration::from_millis(100)).await;
    other
        .append(&s, ExpectedVersion::Any, numbered(1))
        .await
        .expect("append from another store");
    let batch = tokio::time::timeout(Duration::from_secs(10), next)
        .await
        .expect("woken")
        .expect("task")
        .expect("batch");
    assert_eq!(batch[0].position, GlobalPosition::new(4));
}

/// Retries an operation that fails as unavailable for up to ten seconds.
async fn retry<T, F, Fut>(mut operation: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, StoreError>>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        match operation().await {
            Ok(value) => return value,
            Err(StoreError::Unavailable { .. }) if tokio::time::Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(other) => panic!("did not recover: {other:?}"),
        }
    }
}
