//! A real SQLite event store, a Redis read model of it kept by the projector, and a ledger
//! projection that refuses to apply an event twice, so double application shows.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use projector_core::{
    EventAppender, EventFilter, ExpectedVersion, GlobalPosition, PoisonPolicy, Projection,
    ProjectionError, ProjectionName, RecordedEvent, StreamId,
};
use projector_redis::{
    Namespace, RedisBatch, RedisProjection, RedisRead, RedisStore, RedisStoreOptions, RedisTarget,
};
use projector_runtime::{Projector, ProjectorHandle, ProjectorOptions, RetryPolicy};
use projector_sqlite::SqliteEventStore;
use projector_testkit::redis::TestRedis;
use tokio_util::sync::CancellationToken;

/// The suites' one deadline for waiting on something that should happen.
pub fn patience() -> Duration {
    projector_testkit::wait::deadline()
}
pub const LEDGER: ProjectionName = ProjectionName::from_static("ledger");

/// Records each `Counted` event under `seen` (member `<stream>:<n>`, scored by position) and in
/// its stream's hash, and counts them in `applied`. An event already in `seen` fails the batch
/// (applied twice); one whose payload says `"poison": true` fails too.
pub struct Ledger {
    pub policy: PoisonPolicy,
}

impl Projection for Ledger {
    fn name(&self) -> ProjectionName {
        LEDGER
    }

    fn handles(&self) -> EventFilter {
        EventFilter::types(&["Counted"])
    }

    fn poison_policy(&self) -> PoisonPolicy {
        self.policy
    }
}

#[derive(serde::Deserialize)]
struct Counted {
    n: u64,
    #[serde(default)]
    poison: bool,
}

#[async_trait]
impl RedisProjection for Ledger {
    async fn apply(
        &self,
        batch: &mut RedisBatch,
        events: &[RecordedEvent],
    ) -> Result<(), ProjectionError> {
        for event in events {
            let counted: Counted = event.decode()?;
            if counted.poison {
                return Err(ProjectionError::at(event.position, "a poison event"));
            }
            let member = format!("{}:{}", event.stream_id, counted.n);
            if batch.zscore("seen", &member).await?.is_some() {
                return Err(ProjectionError::at(
                    event.position,
                    format!("{member} applied twice"),
                ));
            }
            batch.zadd("seen", member, event.position.get() as f64);
            batch.hset(
                format!("stream:{}", event.stream_id),
                counted.n.to_string(),
                event.position.get().to_string(),
            );
        }
        let applied: u64 = batch
            .get("applied")
            .await?
            .map_or(0, |v| v.parse().unwrap_or(0));
        batch.set("applied", (applied + events.len() as u64).to_string());
        Ok(())
    }
}

/// Everything the ledger holds, read through one handle.
#[derive(Debug, PartialEq)]
pub struct Dump {
    pub applied: u64,
    pub seen: Vec<(String, f64)>,
    pub streams: BTreeMap<String, BTreeMap<String, String>>,
}

pub async fn dump(read: &RedisRead) -> Dump {
    let applied = read
        .get("applied")
        .await
        .expect("applied")
        .map_or(0, |v| v.parse().expect("a count"));
    let seen = read.zrange("seen", 0, -1, false).await.expect("seen");
    let names: std::collections::BTreeSet<String> = seen
        .iter()
        .map(|(member, _)| member.rsplit_once(':').expect("stream:n").0.to_owned())
        .collect();
    let mut streams = BTreeMap::new();
    for stream in names {
        let hash = read
            .hgetall(&format!("stream:{stream}"))
            .await
            .expect("stream");
        streams.insert(stream, hash);
    }
    Dump {
        applied,
        seen,
        streams,
    }
}

/// A fresh event store in a temporary directory.
pub struct Events {
    pub store: Arc<SqliteEventStore>,
    _dir: tempfile::TempDir,
}

impl Events {
    pub fn new() -> Self {
        let dir = projector_testkit::temp_dir();
        let store = projector_testkit::sqlite::event_store(dir.path());
        Self {
            store: Arc::new(store),
            _dir: dir,
        }
    }

    /// Appends `count` events `{"n": i}` to `stream`, the one at `poison` poisoned.
    pub async fn append(
        &self,
        stream: &str,
        count: usize,
        poison: Option<usize>,
    ) -> GlobalPosition {
        let events = (0..count)
            .map(|i| {
                projector_testkit::events::event(
                    "Counted",
                    serde_json::json!({"n": i, "poison": Some(i) == poison}),
                )
            })
            .collect();
        self.store
            .append(
                &StreamId::parse(stream).expect("valid"),
                ExpectedVersion::Any,
                events,
            )
            .await
            .expect("append")
            .last_position
    }
}

pub async fn store(redis: &TestRedis, options: RedisStoreOptions) -> RedisStore {
    RedisStore::connect_with(
        redis.url(),
        Namespace::parse(redis.namespace()).expect("namespace"),
        options,
    )
    .await
    .expect("store")
}

/// The ledger projected into `redis` by a projector over `events`.
pub struct Running {
    pub target: Arc<RedisTarget>,
    pub handle: ProjectorHandle,
    shutdown: CancellationToken,
}

impl Running {
    pub async fn start(
        events: &Events,
        redis: &TestRedis,
        options: RedisStoreOptions,
        policy: PoisonPolicy,
    ) -> Self {
        let target = Arc::new(RedisTarget::new(
            store(redis, options).await,
            Arc::new(Ledger { policy }),
        ));
        let shutdown = CancellationToken::new();
        let options = ProjectorOptions {
            batch_size: 50,
            retry: RetryPolicy {
                max_attempts: 3,
                initial_backoff: Duration::from_millis(1),
                max_backoff: Duration::from_millis(20),
            },
            ..ProjectorOptions::default()
        };
        let handle = Projector::new(events.store.clone(), options)
            .with_target(Arc::clone(&target))
            .start(shutdown.clone())
            .expect("start");
        Self {
            target,
            handle,
            shutdown,
        }
    }

    pub async fn stop(self) {
        self.shutdown.cancel();
        self.handle.join().await;
    }

    /// The serving generation's contents.
    pub async fn dump(&self) -> Dump {
        dump(&self.target.read().await.expect("a serving generation")).await
    }

    /// Waits until the serving generation is no longer `old` (the read model was rebuilt).
    pub async fn wait_for_new_generation(&self, old: projector_core::Generation) {
        let mut status = self.handle.watch(&LEDGER).expect("status");
        tokio::time::timeout(
            projector_testkit::wait::deadline(),
            status.wait_for(|s| s.generation.is_some_and(|g| g != old)),
        )
        .await
        .expect("a new generation in time")
        .expect("the projector runs");
    }

    pub fn generation(&self) -> projector_core::Generation {
        self.handle
            .status(&LEDGER)
            .and_then(|s| s.generation)
            .expect("a serving generation")
    }
}

/// What a fresh build of every event so far makes, in a namespace of its own.
pub async fn fresh_build(events: &Events) -> Dump {
    let redis = TestRedis::create().await.expect("Redis");
    let fresh = Running::start(
        events,
        &redis,
        RedisStoreOptions::default(),
        PoisonPolicy::Skip,
    )
    .await;
    fresh
        .handle
        .wait_caught_up(patience())
        .await
        .expect("fresh build");
    let dump = fresh.dump().await;
    fresh.stop().await;
    dump
}
