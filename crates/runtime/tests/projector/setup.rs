//! Stores for the projector tests on SQLite or PostgreSQL, with an empty read store beside them
//! for a reference build, and the projector over them.

use std::any::Any;
use std::sync::Arc;
use std::time::Duration;

use projector_core::{
    EventStore, ExpectedVersion, LeaseProvider, PoisonPolicy, ProjectionName, StreamId,
};
use projector_postgres::{
    PgEventStore, PgEventStoreOptions, PgLeases, PgReadStore, PgReadStoreOptions,
};
use projector_runtime::{Projector, ProjectorHandle, ProjectorOptions, RetryPolicy};
use projector_sql::{SqlReadStore, SqlTarget, SqlValue};
use projector_testkit::postgres::TestDatabase;
use projector_testkit::sqlite;
use tokio_util::sync::CancellationToken;

use crate::helpers::{Counting, patience};

pub const NAME: ProjectionName = ProjectionName::from_static("resumed");
/// Events in the usual history: three streams of this many.
pub const PER_STREAM: usize = 300;
/// Events per batch.
pub const BATCH: usize = 50;

/// An event store and a read store over one storage, and an empty read store beside them for
/// the reference build.
pub struct Setup {
    pub events: Arc<dyn EventStore>,
    pub reads: Arc<dyn SqlReadStore>,
    pub reference: Arc<dyn SqlReadStore>,
    _guards: Vec<Box<dyn Any + Send>>,
}

impl Setup {
    pub fn sqlite() -> Self {
        let dir = projector_testkit::temp_dir();
        let reference = projector_testkit::temp_dir();
        Self {
            events: Arc::new(sqlite::event_store(dir.path())),
            reads: Arc::new(sqlite::read_store(dir.path())),
            reference: Arc::new(sqlite::read_store(reference.path())),
            _guards: vec![Box::new(dir), Box::new(reference)],
        }
    }

    /// Reopens the stores of a SQLite setup, as a restarted process would.
    pub fn reopen_sqlite(self) -> Self {
        let Setup {
            events,
            reads,
            reference,
            mut _guards,
        } = self;
        drop((events, reads));
        let dir = _guards[0]
            .downcast_ref::<tempfile::TempDir>()
            .expect("the data directory");
        Self {
            events: Arc::new(sqlite::event_store(dir.path())),
            reads: Arc::new(sqlite::read_store(dir.path())),
            reference,
            _guards,
        }
    }

    /// The data directory of a SQLite setup.
    pub fn data_dir(&self) -> Option<&std::path::Path> {
        self._guards
            .first()?
            .downcast_ref::<tempfile::TempDir>()
            .map(tempfile::TempDir::path)
    }

    /// Another process's stores over the same database, without a reference store of its own.
    pub fn over(events: Arc<dyn EventStore>, reads: Arc<dyn SqlReadStore>) -> Self {
        Self {
            events,
            reference: Arc::clone(&reads),
            reads,
            _guards: Vec::new(),
        }
    }

    pub async fn postgres() -> Option<(Self, String)> {
        let database = TestDatabase::create().await?;
        let reference = TestDatabase::create().await?;
        let url = database.url().to_owned();
        let (events, reads) = postgres_stores(&url).await;
        let reference_reads = PgReadStore::connect(reference.url(), PgReadStoreOptions::default())
            .await
            .expect("reference read store");
        Some((
            Self {
                events,
                reads,
                reference: Arc::new(reference_reads),
                _guards: vec![Box::new(database), Box::new(reference)],
            },
            url,
        ))
    }
}

/// A second process's connections to one PostgreSQL database.
pub async fn postgres_stores(url: &str) -> (Arc<dyn EventStore>, Arc<dyn SqlReadStore>) {
    let events = PgEventStore::connect(url, PgEventStoreOptions::default())
        .await
        .expect("event store");
    let reads = PgReadStore::connect(url, PgReadStoreOptions::default())
        .await
        .expect("read store");
    (Arc::new(events), Arc::new(reads))
}

pub async fn append(events: &dyn EventStore, stream: &str, count: usize) {
    append_marked(events, stream, count, None).await;
}

/// Appends `count` events to `stream`; the one at `mark`, if any, gets `"<key>": true` in its
/// payload (`"poison"` fails the projection, `"panic"` makes it panic).
pub async fn append_marked(
    events: &dyn EventStore,
    stream: &str,
    count: usize,
    mark: Option<(usize, &str)>,
) {
    let batch = (0..count)
        .map(|i| {
            let mut data = serde_json::json!({"n": i, "poison": false});
            if let Some((at, key)) = mark
                && at == i
            {
                data[key] = true.into();
            }
            projector_testkit::events::event("Counted", data)
        })
        .collect();
    events
        .append(
            &StreamId::parse(stream).expect("valid"),
            ExpectedVersion::Any,
            batch,
        )
        .await
        .expect("append");
}

pub fn start(
    events: Arc<dyn EventStore>,
    reads: Arc<dyn SqlReadStore>,
    projection: Arc<Counting>,
    leases: Option<Arc<dyn LeaseProvider>>,
) -> (ProjectorHandle, CancellationToken) {
    let shutdown = CancellationToken::new();
    let options = ProjectorOptions {
        batch_size: BATCH,
        retry: RetryPolicy {
            max_attempts: 3,
            initial_backoff: Duration::from_millis(1),
            max_backoff: Duration::from_millis(5),
        },
        lease_retry: Duration::from_millis(50),
        ..ProjectorOptions::default()
    };
    let mut projector =
        Projector::new(events, options).with_target(SqlTarget::new(reads, projection));
    if let Some(leases) = leases {
        projector = projector.with_leases(leases);
    }
    let handle = projector.start(shutdown.clone()).expect("start");
    (handle, shutdown)
}

/// Leases on `url` that hand a projection over quickly.
pub fn leases(url: &str) -> Arc<dyn LeaseProvider> {
    Arc::new(
        PgLeases::new(url)
            .expect("leases")
            .with_retry(Duration::from_millis(50))
            .with_heartbeat(Duration::from_millis(100)),
    )
}

/// The serving read model of [`NAME`]: every `seen` row, then the totals.
pub async fn dump(reads: &dyn SqlReadStore) -> Vec<Vec<SqlValue>> {
    let mut rows: Vec<Vec<SqlValue>> = reads
        .query(
            &NAME,
            "SELECT position, stream, n FROM seen ORDER BY position",
            &[],
        )
        .await
        .expect("seen")
        .into_iter()
        .map(|row| row.values().to_vec())
        .collect();
    let totals = reads
        .query(&NAME, "SELECT applied FROM totals", &[])
        .await
        .expect("totals");
    rows.extend(totals.into_iter().map(|row| row.values().to_vec()));
    rows
}

impl Setup {
    /// The read model a fresh build of every event so far makes, in the reference store.
    pub async fn fresh_build(&self) -> Vec<Vec<SqlValue>> {
        let reference = Arc::new(Counting::new("resumed", PoisonPolicy::Stop));
        let (fresh, stop) = start(self.events.clone(), self.reference.clone(), reference, None);
        fresh.wait_caught_up(patience()).await.expect("fresh build");
        stop.cancel();
        fresh.join().await;
        dump(self.reference.as_ref()).await
    }
}
