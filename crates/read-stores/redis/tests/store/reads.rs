//! Reads: through a handle on the serving generation, and inside a batch.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use projector_core::{ProjectionTarget, ServingAt};
use projector_redis::RedisStoreOptions;
use serde_json::json;

use crate::helpers::{Setup, ops};

/// Every read a handle offers, on every kind of value.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_handle_reads_every_kind_of_value() {
    let Some(setup) = Setup::new(RedisStoreOptions::default()).await else {
        return;
    };
    let generation = setup.serving().await;
    let batch = json!([
        ["set", "a", "1"],
        ["set", "b", "2"],
        ["hset", "h", "x", "10"],
        ["hset", "h", "y", "20"],
        ["sadd", "s", "p"],
        ["sadd", "s", "q"],
        ["srem", "s", "q"],
        ["zadd", "z", "low", -1.5],
        ["zadd", "z", "mid", 2],
        ["zadd", "z", "high", 1e300],
        ["zadd", "z", "gone", 3],
        ["zrem", "z", "gone"],
        ["hdel", "h", "y"],
    ]);
    Setup::apply(setup.target.as_ref(), generation, 0, vec![ops(7, batch)])
        .await
        .expect("batch");
    let read = setup.target.read().await.expect("read");
    assert_eq!((read.generation(), read.version()), (generation, 1));
    assert_eq!(read.checkpoint().position.get(), 7);
    assert_eq!(
        read.mget(&["a", "missing", "b"]).await.expect("mget"),
        [Some("1".to_owned()), None, Some("2".to_owned())]
    );
    assert!(read.exists("h").await.expect("exists"));
    assert!(!read.exists("missing").await.expect("exists"));
    assert_eq!(
        read.hgetall("h").await.expect("hgetall"),
        BTreeMap::from([("x".to_owned(), "10".to_owned())])
    );
    assert_eq!(read.hget("h", "y").await.expect("hget"), None);
    assert_eq!(
        read.smembers("s").await.expect("smembers"),
        BTreeSet::from(["p".to_owned()])
    );
    assert!(read.sismember("s", "p").await.expect("sismember"));
    assert_eq!(read.zcard("z").await.expect("zcard"), 3);
    assert_eq!(read.zscore("z", "high").await.expect("zscore"), Some(1e300));
    assert_eq!(read.zscore("z", "gone").await.expect("zscore"), None);
    let names = |pairs: Vec<(String, f64)>| pairs.into_iter().map(|(m, _)| m).collect::<Vec<_>>();
    assert_eq!(
        read.zrange("z", 0, -1, false).await.expect("zrange"),
        [
            ("low".to_owned(), -1.5),
            ("mid".to_owned(), 2.0),
            ("high".to_owned(), 1e300)
        ]
    );
    assert_eq!(
        names(read.zrange("z", 0, 0, true).await.expect("zrange")),
        ["high"]
    );
    assert_eq!(
        names(
            read.zrange_by_score("z", f64::NEG_INFINITY, 2.0, None)
                .await
                .expect("by score")
        ),
        ["low", "mid"]
    );
    assert_eq!(
        names(
            read.zrange_by_score("z", -10.0, f64::INFINITY, Some((1, 1)))
                .await
                .expect("by score")
        ),
        ["mid"]
    );
}

/// A handle keeps reading the generation it names across a swap, while the grace lasts;
/// a new handle reads the new generation.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_handle_stays_on_its_generation_across_a_swap() {
    let Some(setup) = Setup::new(RedisStoreOptions {
        retired_grace: Duration::from_secs(60),
        ..RedisStoreOptions::default()
    })
    .await
    else {
        return;
    };
    let target = setup.target.as_ref();
    let first = setup.serving().await;
    let at = Setup::apply(target, first, 0, vec![ops(1, json!([["set", "a", "old"]]))])
        .await
        .expect("batch");
    let before = setup.target.read().await.expect("read");
    let rebuild = target.create_generation().await.expect("generation");
    Setup::apply(
        target,
        rebuild,
        0,
        vec![ops(1, json!([["set", "a", "new"]]))],
    )
    .await
    .expect("batch");
    target
        .activate(
            rebuild,
            Some(ServingAt {
                generation: first,
                checkpoint: at.position,
            }),
        )
        .await
        .expect("swap");
    assert_eq!(setup.target.sweep().await.expect("sweep"), 0, "not due yet");
    assert_eq!(before.generation(), first);
    assert_eq!(before.get("a").await.expect("get").as_deref(), Some("old"));
    let after = setup.target.read().await.expect("read");
    assert_eq!(after.generation(), rebuild);
    assert_eq!(after.get("a").await.expect("get").as_deref(), Some("new"));
}

/// Reads in a batch see the generation as the batch found it, not the batch's own writes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_reads_the_generation_as_it_found_it() {
    let Some(setup) = Setup::new(RedisStoreOptions::default()).await else {
        return;
    };
    let target = setup.target.as_ref();
    let generation = setup.serving().await;
    Setup::apply(
        target,
        generation,
        0,
        vec![
            ops(1, json!([["set", "a", "1"]])),
            ops(2, json!([["get", "a"]])),
        ],
    )
    .await
    .expect("batch");
    Setup::apply(target, generation, 2, vec![ops(3, json!([["get", "a"]]))])
        .await
        .expect("batch");
    let read = setup.target.read().await.expect("read");
    assert_eq!(
        read.get("read:2:a").await.expect("get").as_deref(),
        Some("nil")
    );
    assert_eq!(
        read.get("read:3:a").await.expect("get").as_deref(),
        Some("1")
    );
}

/// Members scored alike page by member order, highest first, below a cursor: newest first
/// when members start with a sortable time.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn members_page_newest_first_by_member_order() {
    let Some(setup) = Setup::new(RedisStoreOptions::default()).await else {
        return;
    };
    let generation = setup.serving().await;
    let batch = json!([
        ["zadd", "mine", "2026-01-01T10:00:00.000000Z~o-1", 0],
        ["zadd", "mine", "2026-01-01T11:00:00.000000Z~o-2", 0],
        ["zadd", "mine", "2026-01-01T11:00:00.000000Z~o-3", 0],
        ["zadd", "mine", "2026-01-02T09:00:00.000000Z~o-4", 0],
    ]);
    Setup::apply(setup.target.as_ref(), generation, 0, vec![ops(1, batch)])
        .await
        .expect("batch");
    let read = setup.target.read().await.expect("read");
    let first = read.zrange_by_lex_rev("mine", None, 2).await.expect("page");
    assert_eq!(
        first,
        [
            "2026-01-02T09:00:00.000000Z~o-4",
            "2026-01-01T11:00:00.000000Z~o-3"
        ]
    );
    let second = read
        .zrange_by_lex_rev("mine", Some(&first[1]), 2)
        .await
        .expect("page");
    assert_eq!(
        second,
        [
            "2026-01-01T11:00:00.000000Z~o-2",
            "2026-01-01T10:00:00.000000Z~o-1"
        ]
    );
    assert!(
        read.zrange_by_lex_rev("mine", Some(&second[1]), 2)
            .await
            .expect("page")
            .is_empty()
    );
    assert!(
        read.zrange_by_lex_rev("missing", None, 2)
            .await
            .expect("page")
            .is_empty()
    );
}
