//! A projection that does what its events say, and a store on a fresh namespace to run it in.

use std::sync::Arc;

use async_trait::async_trait;
use projector_core::{
    ApplyError, Checkpoint, EventFilter, Generation, GlobalPosition, Projection, ProjectionError,
    ProjectionName, ProjectionTarget, RecordedEvent,
};
use projector_redis::{
    Namespace, RedisBatch, RedisProjection, RedisStore, RedisStoreOptions, RedisTarget,
};
use projector_testkit::conformance::target::event;
use projector_testkit::redis::TestRedis;

pub const SCRIPTED: ProjectionName = ProjectionName::from_static("scripted");

/// Each event's payload is a list of operations, applied in order: the writes of
/// `RedisBatch` (`["set", k, v]`, `["hset", k, f, v]`, `["zadd", k, m, score]`, ...), `["get",
/// k]` which records what it read under `read:<position>:<k>` ("nil" for nothing), and
/// `["panic"]`.
pub struct Scripted;

impl Projection for Scripted {
    fn name(&self) -> ProjectionName {
        SCRIPTED
    }

    fn handles(&self) -> EventFilter {
        EventFilter::All
    }
}

#[async_trait]
impl RedisProjection for Scripted {
    async fn apply(
        &self,
        batch: &mut RedisBatch,
        events: &[RecordedEvent],
    ) -> Result<(), ProjectionError> {
        for event in events {
            let ops: Vec<Vec<serde_json::Value>> = event.decode()?;
            for op in ops {
                let arg = |i: usize| match &op[i] {
                    serde_json::Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                match arg(0).as_str() {
                    "set" => batch.set(arg(1), arg(2)),
                    "del" => batch.del(arg(1)),
                    "hset" => batch.hset(arg(1), arg(2), arg(3)),
                    "hdel" => batch.hdel(arg(1), arg(2)),
                    "zadd" => batch.zadd(arg(1), arg(2), op[3].as_f64().unwrap_or(f64::NAN)),
                    "zrem" => batch.zrem(arg(1), arg(2)),
                    "sadd" => batch.sadd(arg(1), arg(2)),
                    "srem" => batch.srem(arg(1), arg(2)),
                    "get" => {
                        let value = batch.get(&arg(1)).await?;
                        batch.set(
                            format!("read:{}:{}", event.position, arg(1)),
                            value.unwrap_or_else(|| "nil".into()),
                        );
                    }
                    "panic" => panic!("told to"),
                    other => {
                        return Err(ProjectionError::at(
                            event.position,
                            format!("no op {other}"),
                        ));
                    }
                }
            }
        }
        Ok(())
    }
}

/// An event at `position` whose payload is `ops`.
pub fn ops(position: u64, ops: serde_json::Value) -> RecordedEvent {
    RecordedEvent {
        data: projector_core::JsonPayload::encode(&ops).expect("json"),
        ..event(position)
    }
}

/// A store on a fresh namespace and the scripted projection bound to it.
pub struct Setup {
    pub redis: TestRedis,
    pub store: RedisStore,
    pub target: Arc<RedisTarget>,
}

impl Setup {
    pub async fn new(options: RedisStoreOptions) -> Option<Self> {
        let redis = TestRedis::create().await?;
        let store = connect(&redis, options).await;
        let target = Arc::new(RedisTarget::new(store.clone(), Arc::new(Scripted)));
        Some(Self {
            redis,
            store,
            target,
        })
    }

    /// Another process's target on the same namespace.
    pub async fn another_process(&self) -> Arc<RedisTarget> {
        let store = connect(&self.redis, self.store.options()).await;
        Arc::new(RedisTarget::new(store, Arc::new(Scripted)))
    }

    /// A generation created and serving.
    pub async fn serving(&self) -> Generation {
        let generation = self.target.create_generation().await.expect("generation");
        self.target
            .activate(generation, None)
            .await
            .expect("activate");
        generation
    }

    /// Applies `events` to `generation` of `target` from `from`.
    pub async fn apply(
        target: &dyn ProjectionTarget,
        generation: Generation,
        from: u64,
        events: Vec<RecordedEvent>,
    ) -> Result<Checkpoint, ApplyError> {
        let to = Checkpoint::after(events.last().expect("events"));
        target
            .apply(generation, Arc::from(events), GlobalPosition::new(from), to)
            .await
            .map(|()| to)
    }
}

pub async fn connect(redis: &TestRedis, options: RedisStoreOptions) -> RedisStore {
    RedisStore::connect_with(
        redis.url(),
        Namespace::parse(redis.namespace()).expect("namespace"),
        options,
    )
    .await
    .expect("store")
}
