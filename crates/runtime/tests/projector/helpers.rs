//! A real event store and read store in a temporary directory, and a test projection that
//! counts what it applies so double application shows.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use projector_core::{
    EventAppender, EventFilter, ExpectedVersion, PoisonPolicy, Projection, ProjectionError,
    ProjectionName, RecordedEvent, StartFrom, StreamId,
};
use projector_runtime::{Projector, ProjectorHandle, ProjectorOptions, RetryPolicy};
use projector_sql::{SqlProjection, SqlReadStore, SqlTarget, SqlTransaction};
use projector_sqlite::{SqliteEventStore, SqliteReadStore};
use projector_testkit::sqlite;
use tokio_util::sync::CancellationToken;

/// The suites' one deadline for waiting on something that should happen.
pub fn patience() -> Duration {
    projector_testkit::wait::deadline()
}

/// A fresh event store and read store.
pub struct Stores {
    pub events: Arc<SqliteEventStore>,
    pub reads: Arc<SqliteReadStore>,
    pub _dir: tempfile::TempDir,
}

impl Stores {
    pub fn new() -> Self {
        Self::open(projector_testkit::temp_dir())
    }

    pub fn open(dir: tempfile::TempDir) -> Self {
        Self {
            events: Arc::new(sqlite::event_store(dir.path())),
            reads: Arc::new(sqlite::read_store(dir.path())),
            _dir: dir,
        }
    }

    /// Appends `count` events `{"n": i, "poison": i == poison_at}` to `stream`.
    pub async fn append(&self, stream: &str, count: usize, poison_at: Option<usize>) {
        let events = (0..count)
            .map(|i| {
                projector_testkit::events::event(
                    "Counted",
                    serde_json::json!({"n": i, "poison": Some(i) == poison_at}),
                )
            })
            .collect();
        self.events
            .append(
                &StreamId::parse(stream).expect("valid"),
                ExpectedVersion::Any,
                events,
            )
            .await
            .expect("append");
    }

    pub fn start(
        &self,
        projection: Arc<dyn SqlProjection>,
        batch_size: usize,
    ) -> (ProjectorHandle, CancellationToken) {
        let shutdown = CancellationToken::new();
        let options = ProjectorOptions {
            batch_size,
            retry: RetryPolicy {
                max_attempts: 3,
                initial_backoff: Duration::from_millis(1),
                max_backoff: Duration::from_millis(5),
            },
            ..ProjectorOptions::default()
        };
        let handle = Projector::new(self.events.clone(), options)
            .with_target(SqlTarget::new(
                self.reads.clone() as Arc<dyn SqlReadStore>,
                projection,
            ))
            .start(shutdown.clone())
            .expect("start");
        (handle, shutdown)
    }

    /// The checkpoint the store holds for `name`'s serving generation.
    pub async fn stored_checkpoint(&self, name: &ProjectionName) -> u64 {
        let serving = self
            .reads
            .serving(name)
            .await
            .expect("serving")
            .expect("a serving generation");
        self.reads
            .checkpoint(name, serving.generation)
            .await
            .expect("checkpoint")
            .position
            .get()
    }

    /// `(rows in seen, applied counter)` of the serving generation.
    pub async fn counted(&self, name: &ProjectionName) -> (i64, i64) {
        let rows = self
            .reads
            .query(
                name,
                "SELECT (SELECT count(*) FROM seen), (SELECT applied FROM totals WHERE id = 1)",
                &[],
            )
            .await
            .expect("query");
        (
            rows[0].get(0).expect("count"),
            rows[0].get::<Option<i64>>(1).expect("applied").unwrap_or(0),
        )
    }
}

/// Records every event in `seen` (keyed by position) and bumps a counter per event, so applying
/// an event twice fails on the key and a lost one shows in the count. Events whose payload says
/// `"poison": true` fail (until `cured` is set), and `"panic": true` panic; the first `flaky` applies fail
/// transiently, and so does every `hiccup_every`-th one (when not 0); a batch past an armed `stall` waits for its release and then fails transiently
/// (it is rolled back); `schema` panics while `schema_panics` is set. `applied` counts the
/// events this instance applied.
pub struct Counting {
    pub name: ProjectionName,
    pub version: u32,
    pub policy: PoisonPolicy,
    pub flaky: AtomicU32,
    pub stall: Option<Stall>,
    pub schema_panics: AtomicBool,
    pub hiccup_every: u64,
    pub calls: AtomicU64,
    pub applied: AtomicU64,
    /// Poison events apply like any other once set: the projection was mended.
    pub cured: AtomicBool,
    /// Where a new generation starts.
    pub start: StartFrom,
}

impl Counting {
    pub fn new(name: &'static str, policy: PoisonPolicy) -> Self {
        Self {
            name: ProjectionName::from_static(name),
            version: 1,
            policy,
            flaky: AtomicU32::new(0),
            stall: None,
            schema_panics: AtomicBool::new(false),
            hiccup_every: 0,
            calls: AtomicU64::new(0),
            applied: AtomicU64::new(0),
            cured: AtomicBool::new(false),
            start: StartFrom::Beginning,
        }
    }
}

/// Holds back every batch with an event past a position, once armed: a rebuild that gets
/// stuck there until the projector is shut down (the token released).
pub struct Stall {
    after: AtomicU64,
    release: CancellationToken,
}

impl Stall {
    /// Disarmed until [`Stall::arm`]; a held batch waits for `release`.
    pub fn new(release: CancellationToken) -> Self {
        Self {
            after: AtomicU64::new(u64::MAX),
            release,
        }
    }

    /// Holds back every batch with an event past `position`.
    pub fn arm(&self, position: u64) {
        self.after.store(position, Ordering::SeqCst);
    }

    async fn hold(&self, events: &[RecordedEvent]) -> Result<(), ProjectionError> {
        let after = self.after.load(Ordering::SeqCst);
        if events.iter().any(|e| e.position.get() > after) {
            self.release.cancelled().await;
            return Err(ProjectionError {
                position: None,
                transient: true,
                message: "stalled until shutdown".into(),
            });
        }
        Ok(())
    }
}

impl Projection for Counting {
    fn name(&self) -> ProjectionName {
        self.name.clone()
    }

    fn version(&self) -> u32 {
        self.version
    }

    fn handles(&self) -> EventFilter {
        EventFilter::types(&["Counted"])
    }

    fn poison_policy(&self) -> PoisonPolicy {
        self.policy
    }

    fn start_from(&self) -> StartFrom {
        self.start
    }
}

#[async_trait]
impl SqlProjection for Counting {
    fn schema(&self) -> &[&str] {
        assert!(
            !self.schema_panics.load(Ordering::SeqCst),
            "the schema panicked on purpose"
        );
        &[
            "CREATE TABLE seen (position BIGINT PRIMARY KEY, stream TEXT NOT NULL, n BIGINT NOT NULL)",
            "CREATE TABLE totals (id BIGINT PRIMARY KEY, applied BIGINT NOT NULL)",
        ]
    }

    async fn apply(
        &self,
        tx: &mut dyn SqlTransaction,
        events: &[RecordedEvent],
    ) -> Result<(), ProjectionError> {
        if self
            .flaky
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |f| f.checked_sub(1))
            .is_ok()
        {
            return Err(ProjectionError {
                position: None,
                transient: true,
                message: "the read store blinked".into(),
            });
        }
        let call = self.calls.fetch_add(1, Ordering::SeqCst) + 1;
        if self.hiccup_every > 0 && call.is_multiple_of(self.hiccup_every) {
            return Err(ProjectionError {
                position: None,
                transient: true,
                message: "a hiccup".into(),
            });
        }
        if let Some(stall) = &self.stall {
            stall.hold(events).await?;
        }
        for event in events {
            let data: serde_json::Value = event
                .data
                .decode()
                .map_err(|e| ProjectionError::at(event.position, e.to_string()))?;
            if data["poison"] == true && !self.cured.load(Ordering::SeqCst) {
                return Err(ProjectionError::at(event.position, "this event is poison"));
            }
            assert!(
                data["panic"] != true,
                "this event makes the projection panic"
            );
            let position = i64::try_from(event.position.get()).expect("small");
            let n = data["n"].as_i64().unwrap_or(-1);
            tx.execute(
                "INSERT INTO seen (position, stream, n) VALUES ($1, $2, $3)",
                &[position.into(), event.stream_id.as_str().into(), n.into()],
            )
            .await
            .map_err(|e| e.at(event.position))?;
            tx.execute(
                "INSERT INTO totals (id, applied) VALUES (1, 1) ON CONFLICT (id) DO UPDATE SET applied = totals.applied + 1",
                &[],
            )
            .await
            .map_err(|e| e.at(event.position))?;
        }
        self.applied
            .fetch_add(events.len() as u64, Ordering::SeqCst);
        Ok(())
    }
}
