//! The Redis read store beyond what every kind of target does (the conformance suite): its
//! key layout and hash tag, batches Redis would refuse, reads, removing retired generations,
//! and losing its keys.

mod helpers;
mod reads;
mod vanish;

use std::time::Duration;

use helpers::{Setup, ops};
use projector_core::{ApplyError, ProjectionTarget, ReadStoreError};
use projector_redis::{Namespace, RedisStore, RedisStoreOptions};
use serde_json::json;

/// Options that remove a retired generation as soon as it is swept, a few keys a step.
fn no_grace() -> RedisStoreOptions {
    RedisStoreOptions {
        retired_grace: Duration::ZERO,
        sweep_step: 3,
        ..RedisStoreOptions::default()
    }
}

/// Writes of every kind, to `n` keys of each.
fn writes(position: u64, n: usize, tag: &str) -> projector_core::RecordedEvent {
    let mut list = Vec::new();
    for i in 0..n {
        list.push(json!(["set", format!("s:{i}"), tag]));
        list.push(json!(["hset", format!("h:{i}"), "f", tag]));
        list.push(json!(["zadd", "z", format!("m{i}"), i]));
        list.push(json!(["sadd", "set", format!("m{i}")]));
    }
    ops(position, json!(list))
}

/// Every key shares the projection's hash tag, so one slot holds them all; a generation
/// swapped out is removed, checkpoint first, in `SCAN` steps; a handle on it is refused after.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_share_one_hash_tag_and_retired_generations_are_removed() {
    let Some(setup) = Setup::new(no_grace()).await else {
        return;
    };
    let first = setup.serving().await;
    let at = Setup::apply(setup.target.as_ref(), first, 0, vec![writes(1, 20, "old")])
        .await
        .expect("batch");
    let old_read = setup.target.read().await.expect("read");
    let rebuild = setup.target.create_generation().await.expect("generation");
    Setup::apply(
        setup.target.as_ref(),
        rebuild,
        0,
        vec![writes(1, 20, "new")],
    )
    .await
    .expect("batch");
    setup
        .target
        .activate(
            rebuild,
            Some(projector_core::ServingAt {
                generation: first,
                checkpoint: at.position,
            }),
        )
        .await
        .expect("swap");
    setup.target.sweep().await.expect("sweep");

    let keys = setup.redis.keys().await;
    let tag = format!("{{{}:scripted}}", setup.redis.namespace());
    for key in &keys {
        let hashed = &key[key.find('{').expect("{")..=key.find('}').expect("}")];
        assert_eq!(hashed, tag, "{key} hashes elsewhere");
    }
    let old = format!(":g{}:", first.get());
    assert!(
        !keys.iter().any(|k| k.contains(&old)),
        "the old generation's keys are gone: {keys:?}"
    );
    // 20 strings, 20 hashes, the sorted set, the set, and the checkpoint; the catalog.
    let new = format!(":g{}:", rebuild.get());
    assert_eq!(keys.iter().filter(|k| k.contains(&new)).count(), 43);
    assert!(keys.contains(&format!("{tag}:catalog")));
    match old_read.get("s:1").await {
        Err(ReadStoreError::NoGeneration { .. }) => {}
        other => panic!("a read of a removed generation: {other:?}"),
    }
    let read = setup.target.read().await.expect("read");
    assert_eq!(read.get("s:1").await.expect("get").as_deref(), Some("new"));
}

/// A batch with a write Redis would refuse for its key's type fails as the projection's
/// error, with nothing written and the checkpoint where it was; writes that change a key's
/// type in order are fine.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_redis_would_refuse_changes_nothing() {
    let Some(setup) = Setup::new(RedisStoreOptions::default()).await else {
        return;
    };
    let generation = setup.serving().await;
    let target = setup.target.as_ref();
    let at = Setup::apply(
        target,
        generation,
        0,
        vec![ops(1, json!([["set", "s", "x"]]))],
    )
    .await
    .expect("batch");

    let refused = Setup::apply(
        target,
        generation,
        1,
        vec![
            ops(2, json!([["set", "a", "1"], ["zadd", "z", "m", 1]])),
            ops(3, json!([["hset", "s", "f", "v"]])),
        ],
    )
    .await;
    match refused {
        Err(ApplyError::Projection(error)) => {
            assert!(!error.transient, "{error}");
            assert!(error.message.contains("\"s\""), "names the key: {error}");
        }
        other => panic!("a write of the wrong type: {other:?}"),
    }
    let read = setup.target.read().await.expect("read");
    assert_eq!(
        read.get("a").await.expect("get"),
        None,
        "nothing was written"
    );
    assert_eq!(read.zcard("z").await.expect("zcard"), 0);
    assert_eq!(target.checkpoint(generation).await.expect("checkpoint"), at);

    Setup::apply(
        target,
        generation,
        1,
        vec![ops(
            2,
            json!([["del", "s"], ["hset", "s", "f", "v"], ["sadd", "t", "m"]]),
        )],
    )
    .await
    .expect("a key deleted, then written as another type");
    let read = setup.target.read().await.expect("read");
    assert_eq!(
        read.hget("s", "f").await.expect("hget").as_deref(),
        Some("v")
    );
    match read.get("s").await {
        Err(ReadStoreError::Query {
            transient: false, ..
        }) => {}
        other => panic!("a read of the wrong type: {other:?}"),
    }
}

/// A panic in the projection and a score Redis cannot take fail the batch as the
/// projection's error, with nothing written.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panic_or_a_nan_score_fails_the_batch() {
    let Some(setup) = Setup::new(RedisStoreOptions::default()).await else {
        return;
    };
    let generation = setup.serving().await;
    let target = setup.target.as_ref();
    for (bad, says) in [
        (json!([["set", "a", "1"], ["panic"]]), "panicked"),
        (
            json!([["set", "a", "1"], ["zadd", "z", "m", "not a number"]]),
            "NaN",
        ),
    ] {
        match Setup::apply(target, generation, 0, vec![ops(1, bad)]).await {
            Err(ApplyError::Projection(error)) => {
                assert!(error.message.contains(says), "{error}");
                assert!(!error.transient);
            }
            other => panic!("expected the batch to fail: {other:?}"),
        }
    }
    let read = setup.target.read().await.expect("read");
    assert_eq!(read.get("a").await.expect("get"), None);
    assert_eq!(read.checkpoint().position.get(), 0);
}

/// A bad URL or a server that does not answer is `Unavailable`, which the projector retries.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_urls_and_absent_servers_are_unavailable() {
    let namespace = Namespace::parse("nowhere").expect("namespace");
    let quick = RedisStoreOptions {
        connection_timeout: Duration::from_millis(200),
        ..RedisStoreOptions::default()
    };
    for url in ["not a url", "redis://127.0.0.1:1"] {
        match RedisStore::connect_with(url, namespace.clone(), quick).await {
            Err(error @ ReadStoreError::Unavailable { .. }) => assert!(!error.is_fenced()),
            other => panic!("{url}: {other:?}"),
        }
    }
}
