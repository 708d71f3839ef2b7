//! Redis losing the read model: all of it (a restart, a flush), or its catalog or a
//! checkpoint (an eviction).

use projector_core::{ApplyError, ProjectionTarget, ReadStoreError, ServingAt};
use projector_redis::RedisStoreOptions;
use redis::AsyncCommands;
use serde_json::json;

use crate::helpers::{Setup, ops};
use crate::no_grace;

#[track_caller]
fn assert_no_generation<T: std::fmt::Debug>(result: Result<T, ReadStoreError>, what: &str) {
    match result {
        Err(error @ ReadStoreError::NoGeneration { .. }) => assert!(error.is_fenced()),
        other => panic!("{what}: expected NoGeneration, got {other:?}"),
    }
}

/// Once the keys are gone nothing serves, every write to a generation that was there is
/// refused as fenced (the projector reads the catalog again), and a new build numbers its
/// generations past the ones this target saw.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_read_model_serves_nothing_and_refuses_writes() {
    let Some(setup) = Setup::new(RedisStoreOptions::default()).await else {
        return;
    };
    let target = setup.target.as_ref();
    let first = setup.serving().await;
    let at = Setup::apply(target, first, 0, vec![ops(1, json!([["set", "a", "1"]]))])
        .await
        .expect("batch");
    let rebuild = target.create_generation().await.expect("generation");
    setup.redis.remove_keys().await;

    assert_eq!(target.serving().await.expect("serving"), None);
    assert_eq!(target.building().await.expect("building"), []);
    assert_no_generation(setup.store.read(&target.name()).await.map(|_| ()), "a read");
    let batch = Setup::apply(target, first, 1, vec![ops(2, json!([["set", "a", "2"]]))]).await;
    match batch {
        Err(ApplyError::Store(error)) => assert_no_generation(Err::<(), _>(error), "a batch"),
        other => panic!("a batch for a lost generation: {other:?}"),
    }
    assert_no_generation(target.checkpoint(first).await, "a checkpoint");
    assert_no_generation(
        target
            .activate(
                rebuild,
                Some(ServingAt {
                    generation: first,
                    checkpoint: at.position,
                }),
            )
            .await,
        "a swap",
    );
    target
        .drop_generation(rebuild, projector_core::GlobalPosition::ZERO)
        .await
        .expect("a lost generation is dropped already");

    let again = target.create_generation().await.expect("generation");
    assert!(again > rebuild, "numbers go on past what this target saw");
    target.activate(again, None).await.expect("activate");
    let read = setup.target.read().await.expect("read");
    assert_eq!(
        read.get("a").await.expect("get"),
        None,
        "built from nothing"
    );
    assert!(setup.redis.keys().await.iter().all(|k| !k.contains(":k:a")));
}

/// A process that has not noticed the loss writes for the catalog it knew: refused, even
/// when another process built a new catalog whose generation has the same number and
/// checkpoint. Once it reads the catalog again it writes the new one, fenced as usual.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_for_a_lost_catalog_never_lands_in_a_new_one() {
    let Some(setup) = Setup::new(RedisStoreOptions::default()).await else {
        return;
    };
    let zombie = setup.target.as_ref();
    let first = setup.serving().await;
    Setup::apply(zombie, first, 0, vec![ops(1, json!([["set", "a", "old"]]))])
        .await
        .expect("batch");
    setup.redis.remove_keys().await;

    let other = setup.another_process().await;
    assert_eq!(other.serving().await.expect("serving"), None);
    let theirs = other.create_generation().await.expect("generation");
    assert_eq!(theirs, first, "a new catalog numbers from 1 again");
    other.activate(theirs, None).await.expect("activate");
    Setup::apply(
        other.as_ref(),
        theirs,
        0,
        vec![ops(1, json!([["set", "a", "new"]]))],
    )
    .await
    .expect("batch");

    let late = Setup::apply(
        zombie,
        first,
        1,
        vec![ops(2, json!([["set", "a", "zombie"]]))],
    )
    .await;
    assert!(
        matches!(
            late,
            Err(ApplyError::Store(ReadStoreError::NoGeneration { .. }))
        ),
        "{late:?}"
    );
    let letter = projector_core::DeadLetter {
        projection: zombie.name(),
        position: projector_core::GlobalPosition::new(2),
        event_id: uuid::Uuid::now_v7(),
        stream_id: projector_core::StreamId::from_static("tally-1"),
        event_type: projector_core::EventType::from_static("Tallied"),
        error: "refused".into(),
        attempts: 1,
        first_failed_at: chrono::Utc::now(),
        last_failed_at: chrono::Utc::now(),
        skipped: true,
    };
    assert_no_generation(
        zombie
            .dead_letter(first, letter, projector_core::GlobalPosition::new(1), None)
            .await,
        "a dead letter",
    );
    let read = other.read().await.expect("read");
    assert_eq!(read.get("a").await.expect("get").as_deref(), Some("new"));
    assert!(other.dead_letters().await.expect("dead letters").is_empty());

    assert_eq!(
        zombie.serving().await.expect("serving"),
        Some((theirs, 1)),
        "reading the catalog again"
    );
    Setup::apply(zombie, first, 1, vec![ops(2, json!([["set", "b", "2"]]))])
        .await
        .expect("fenced by the checkpoint as usual");
}

/// An evicted checkpoint of the serving generation is a lost read model: nothing serves,
/// the next build starts a new catalog, and what the old one left is removed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_checkpoint_loses_the_read_model_and_its_leftovers_go() {
    let Some(setup) = Setup::new(no_grace()).await else {
        return;
    };
    let target = setup.target.as_ref();
    let first = setup.serving().await;
    Setup::apply(target, first, 0, vec![crate::writes(1, 5, "old")])
        .await
        .expect("batch");
    let old_keys = setup.redis.keys().await;
    let checkpoint = old_keys
        .iter()
        .find(|k| k.ends_with(":cp"))
        .expect("a checkpoint key")
        .clone();
    let mut conn = setup.redis.connection().await;
    let _: () = conn.del(&checkpoint).await.expect("DEL");

    assert_eq!(target.serving().await.expect("serving"), None);
    let again = target.create_generation().await.expect("generation");
    target.activate(again, None).await.expect("activate");
    Setup::apply(
        target,
        again,
        0,
        vec![ops(1, json!([["set", "fresh", "1"]]))],
    )
    .await
    .expect("batch");
    target.sweep().await.expect("sweep");
    let keys = setup.redis.keys().await;
    let leftovers: Vec<_> = keys.iter().filter(|k| old_keys.contains(k)).collect();
    assert!(
        leftovers.iter().all(|k| k.ends_with(":catalog")),
        "only the catalog key is kept: {leftovers:?}"
    );
    let read = setup.target.read().await.expect("read");
    assert_eq!(read.get("fresh").await.expect("get").as_deref(), Some("1"));
    assert_eq!(read.get("s:1").await.expect("get"), None);
}
