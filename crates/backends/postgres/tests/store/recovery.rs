//! Losing the database: operations fail as `Unavailable` while it is away and work again once
//! it returns, without reopening the store; subscribers are woken again by the reconnected
//! listener.

use std::pin::pin;
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;

use projector_core::{
    EventAppender, EventFeed, ExpectedVersion, GlobalPosition, StoreError, StreamId, Subscription,
};
use projector_postgres::{PgEventStore, PgEventStoreOptions, PgReadStore, PgReadStoreOptions};
use projector_sql::SqlReadStore;
use projector_testkit::events::numbered;
use projector_testkit::postgres::TestDatabase;
use projector_testkit::wait::{self, eventually};

use projector_testkit::proxy::Proxy;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operations_fail_as_unavailable_while_the_database_is_away_then_recover() {
    let Some(database) = TestDatabase::create().await else {
        return;
    };
    let proxy = Proxy::start(database.url()).await;
    // Polling as good as off (an hour): past the catch-up poll each (re)connect makes, only a
    // notification the listener receives moves the head.
    let options = PgEventStoreOptions {
        poll_interval: Duration::from_secs(3600),
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
    let (admin, connection) = tokio_postgres::connect(database.url(), tokio_postgres::NoTls)
        .await
        .expect("an admin connection");
    tokio::spawn(connection);
    let before = listening(&admin, None).await;
    // A store that appends nothing, so every read of the feed goes to the database; closed
    // before the database is back, so one listener is left.
    let reader = PgEventStore::connect(proxy.url(), options)
        .await
        .expect("connect");

    proxy.cut();
    let append = store.append(&s, ExpectedVersion::Any, numbered(1)).await;
    assert!(
        matches!(append, Err(StoreError::Unavailable { .. })),
        "{append:?}"
    );
    let read = reader.read_all(GlobalPosition::ZERO, 10).await;
    assert!(
        matches!(read, Err(StoreError::Unavailable { .. })),
        "{read:?}"
    );
    reader.close().await;
    // The events the writing store appended are still answered, from memory.
    let recent = store.read_all(GlobalPosition::ZERO, 10).await;
    assert_eq!(recent.expect("recent events").len(), 2);
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

    // The listener reconnected on its own, listens, and has made its catch-up poll: from here
    // on only a notification can move the head this store's subscribers wait on.
    listening(&admin, Some(before)).await;
    let other = PgEventStore::connect(database.url(), PgEventStoreOptions::default())
        .await
        .expect("connect directly");
    let mut head = store.watch_head();
    assert_eq!(*head.borrow_and_update(), GlobalPosition::new(3));
    let mut woken = pin!(head.wait_for(|head| *head >= GlobalPosition::new(4)));
    // Parked before the append: the wait ends only if the listener's notification wakes it.
    let parked = std::future::poll_fn(|cx| Poll::Ready(woken.as_mut().poll(cx).is_pending()));
    assert!(parked.await, "the head moved with nothing appended");
    other
        .append(&s, ExpectedVersion::Any, numbered(1))
        .await
        .expect("append from another store");
    tokio::time::timeout(wait::deadline(), woken)
        .await
        .expect("the reconnected listener's notification woke the waiter")
        .expect("the store is open");
    // And a subscriber at the head reads what woke it.
    let mut subscription = Subscription::new(
        Arc::clone(&store) as Arc<dyn EventFeed>,
        GlobalPosition::new(3),
        10,
    );
    let batch = tokio::time::timeout(wait::deadline(), subscription.next_batch())
        .await
        .expect("the subscriber reads")
        .expect("batch");
    assert_eq!(batch[0].position, GlobalPosition::new(4));
}

/// Waits until the one event listener of the database (but not the session `not`) listens and
/// has made its catch-up poll of the head (its last statement is no longer the `LISTEN`), and
/// returns its session's process id.
async fn listening(admin: &tokio_postgres::Client, not: Option<i32>) -> i32 {
    eventually("the event listener to listen and poll", || async {
        let sessions: Vec<(i32, Option<String>, String)> = admin
            .query(
                "SELECT pid, state, query FROM pg_stat_activity \
                 WHERE datname = current_database() AND application_name LIKE $1",
                &[&LISTENER],
            )
            .await
            .expect("the listeners")
            .iter()
            .map(|row| (row.get(0), row.get(1), row.get(2)))
            .collect();
        match sessions.as_slice() {
            [(pid, Some(state), query)]
                if Some(*pid) != not && state == "idle" && !query.starts_with("LISTEN") =>
            {
                Ok(*pid)
            }
            _ => Err(sessions),
        }
    })
    .await
}

/// Retries an operation while it fails as unavailable, up to the default deadline; any other
/// error fails the test at once.
async fn retry<T, F, Fut>(mut operation: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, StoreError>>,
{
    eventually("the store to recover", || {
        let attempt = operation();
        async move {
            match attempt.await {
                Ok(value) => Ok(value),
                Err(unavailable @ StoreError::Unavailable { .. }) => Err(unavailable),
                Err(other) => panic!("did not recover: {other:?}"),
            }
        }
    })
    .await
}

/// How the listener's session is named.
const LISTENER: &str = "% event listener";

/// With polling as good as off (an hour), only `LISTEN` moves a store's head when another
/// process appends. Its connection killed by the server, the listener reconnects, catches up on
/// what was committed meanwhile, and is woken by notifications again: a broken listener could
/// not hide behind the poll.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_listener_alone_follows_another_writer_and_recovers_when_its_connection_is_killed() {
    let Some(database) = TestDatabase::create().await else {
        return;
    };
    let options = PgEventStoreOptions {
        poll_interval: Duration::from_secs(3600),
        ..PgEventStoreOptions::default()
    };
    let follower = PgEventStore::connect(database.url(), options)
        .await
        .expect("follower");
    let writer = PgEventStore::connect(database.url(), options)
        .await
        .expect("writer");
    let mut head = follower.watch_head();
    let stream = StreamId::from_static("listened-1");
    let reached = |head: &mut projector_core::HeadWatch, position: u64| {
        let mut head = head.clone();
        async move {
            tokio::time::timeout(
                wait::deadline(),
                head.wait_for(|h| *h >= GlobalPosition::new(position)),
            )
            .await
            .is_ok_and(|seen| seen.is_ok())
        }
    };

    writer
        .append(&stream, ExpectedVersion::NoStream, numbered(1))
        .await
        .expect("append");
    assert!(reached(&mut head, 1).await, "a notification moves the head");

    // Every listener of this database is cut off by the server; one more commit lands while
    // they reconnect.
    let (admin, connection) = tokio_postgres::connect(database.url(), tokio_postgres::NoTls)
        .await
        .expect("an admin connection");
    tokio::spawn(connection);
    let killed = admin
        .query_one(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity \
             WHERE datname = current_database() AND application_name LIKE $1",
            &[&LISTENER],
        )
        .await
        .expect("terminate the listeners")
        .get::<_, i64>(0);
    assert_eq!(killed, 2, "both stores listen");
    writer
        .append(&stream, ExpectedVersion::Any, numbered(1))
        .await
        .expect("append while the listeners reconnect");
    assert!(
        reached(&mut head, 2).await,
        "the reconnected listener catches up on what was committed while away"
    );

    // Listening again: the next commit arrives by notification alone.
    eventually("both listeners back", || async {
        let listening = admin
            .query_one(
                "SELECT count(*) FROM pg_stat_activity \
                 WHERE datname = current_database() AND application_name LIKE $1",
                &[&LISTENER],
            )
            .await
            .expect("count the listeners")
            .get::<_, i64>(0);
        if listening == 2 {
            Ok(())
        } else {
            Err(listening)
        }
    })
    .await;
    writer
        .append(&stream, ExpectedVersion::Any, numbered(1))
        .await
        .expect("append after the reconnect");
    assert!(reached(&mut head, 3).await, "notifications wake it again");
    follower.close().await;
    writer.close().await;
}
