//! The target conformance checks, on Redis.

use std::sync::Arc;

use async_trait::async_trait;
use projector_core::{
    EventFilter, Projection, ProjectionError, ProjectionName, ProjectionTarget, ReadStoreError,
    RecordedEvent,
};
use projector_redis::{Namespace, RedisBatch, RedisProjection, RedisStore, RedisTarget};
use projector_testkit::conformance::target::{TALLY, TargetFixture};
use projector_testkit::redis::TestRedis;

/// Counts the events it applies under one key: reads the count before the batch, writes it
/// after.
struct Tally(u32);

impl Projection for Tally {
    fn name(&self) -> ProjectionName {
        TALLY
    }

    fn version(&self) -> u32 {
        self.0
    }

    fn handles(&self) -> EventFilter {
        EventFilter::All
    }
}

#[async_trait]
impl RedisProjection for Tally {
    async fn apply(
        &self,
        batch: &mut RedisBatch,
        events: &[RecordedEvent],
    ) -> Result<(), ProjectionError> {
        let applied = parse(batch.get("applied").await?)?;
        batch.set("applied", (applied + events.len() as i64).to_string());
        Ok(())
    }
}

fn parse(value: Option<String>) -> Result<i64, ProjectionError> {
    value.map_or(Ok(0), |v| {
        v.parse().map_err(|e| ProjectionError {
            position: None,
            transient: false,
            message: format!("the tally {v:?}: {e}"),
        })
    })
}

/// A fresh namespace on the test Redis.
struct RedisFixture {
    redis: TestRedis,
    store: RedisStore,
}

impl RedisFixture {
    async fn connect(redis: &TestRedis) -> RedisStore {
        RedisStore::connect(
            redis.url(),
            Namespace::parse(redis.namespace()).expect("namespace"),
        )
        .await
        .expect("store")
    }
}

async fn fixture() -> Option<RedisFixture> {
    let redis = TestRedis::create().await?;
    let store = RedisFixture::connect(&redis).await;
    Some(RedisFixture { redis, store })
}

#[async_trait]
impl TargetFixture for RedisFixture {
    fn target(&self, version: u32) -> Arc<dyn ProjectionTarget> {
        Arc::new(RedisTarget::new(
            self.store.clone(),
            Arc::new(Tally(version)),
        ))
    }

    async fn tally(&self) -> Result<i64, ReadStoreError> {
        let read = self.store.read(&TALLY).await?;
        parse(read.get("applied").await?).map_err(|e| ReadStoreError::Query {
            message: e.message,
            transient: false,
            source: None,
        })
    }

    async fn reopen(&mut self) {
        self.store = RedisFixture::connect(&self.redis).await;
    }
}

projector_testkit::target_conformance!(fixture());
