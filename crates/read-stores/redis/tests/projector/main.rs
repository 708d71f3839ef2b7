//! The projector with a Redis read model over a real SQLite event store: it catches up and
//! follows live commits, rebuilds without downtime, dead-letters a poison event, and builds
//! the read model again when Redis loses it (`FLUSHDB`), idle or under a write load, ending
//! equal to a fresh build every time.

mod helpers;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use helpers::{Events, LEDGER, Running, fresh_build, patience};
use projector_core::{EventFeed, PoisonPolicy, ProjectionTarget};
use projector_redis::RedisStoreOptions;
use projector_testkit::redis::TestRedis;
use projector_testkit::wait::eventually;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn catches_up_then_follows_live_commits() {
    let Some(redis) = TestRedis::create().await else {
        return;
    };
    let events = Events::new();
    for s in 0..4 {
        events.append(&format!("s-{s}"), 150, None).await;
    }
    let running = Running::start(
        &events,
        &redis,
        RedisStoreOptions::default(),
        PoisonPolicy::Stop,
    )
    .await;
    let head = running
        .handle
        .wait_caught_up(patience())
        .await
        .expect("caught up");
    assert_eq!(head.get(), 600);
    let dump = running.dump().await;
    assert_eq!((dump.applied, dump.seen.len()), (600, 600));

    let live = events.append("s-live", 10, None).await;
    running
        .handle
        .wait_for(&LEDGER, live, patience())
        .await
        .expect("live events applied");
    let read = running.target.read().await.expect("read");
    assert!(
        read.checkpoint().position >= live,
        "the handle names how far it has got"
    );
    assert_eq!(read.generation(), running.generation());
    assert_eq!(helpers::dump(&read).await, fresh_build(&events).await);
    assert_eq!(
        read.hget("stream:s-live", "9").await.expect("hget"),
        Some(live.get().to_string())
    );
    running.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rebuilds_without_downtime_while_events_arrive() {
    let Some(redis) = TestRedis::create().await else {
        return;
    };
    let events = Events::new();
    for s in 0..3 {
        events.append(&format!("s-{s}"), 200, None).await;
    }
    let options = RedisStoreOptions {
        retired_grace: Duration::from_millis(500),
        ..RedisStoreOptions::default()
    };
    let running = Running::start(&events, &redis, options, PoisonPolicy::Stop).await;
    running
        .handle
        .wait_caught_up(patience())
        .await
        .expect("caught up");
    let old = running.generation();

    // Readers take a handle per read: every read must answer from a whole generation, never
    // from the one being built, and never fail.
    let done = Arc::new(AtomicBool::new(false));
    let readers: Vec<_> = (0..2)
        .map(|_| {
            let target = Arc::clone(&running.target);
            let done = Arc::clone(&done);
            tokio::spawn(async move {
                let (mut last, mut generations, mut failures) = (0, Vec::new(), Vec::new());
                while !done.load(Ordering::SeqCst) {
                    let read = match target.read().await {
                        Ok(read) => read,
                        Err(error) => {
                            failures.push(error.to_string());
                            continue;
                        }
                    };
                    match read.get("applied").await {
                        Ok(Some(applied)) => {
                            let applied: u64 = applied.parse().expect("a count");
                            if applied < last {
                                failures.push(format!("went back from {last} to {applied}"));
                            }
                            last = applied;
                        }
                        other => failures.push(format!("{other:?}")),
                    }
                    if generations.last() != Some(&read.generation()) {
                        generations.push(read.generation());
                    }
                }
                (generations, failures)
            })
        })
        .collect();

    let rebuild = running.handle.rebuild(&LEDGER).await.expect("rebuild");
    assert!(rebuild > old);
    for s in 0..3 {
        events.append(&format!("s-live-{s}"), 20, None).await;
    }
    running.wait_for_new_generation(old).await;
    running
        .handle
        .wait_caught_up(patience())
        .await
        .expect("caught up");
    done.store(true, Ordering::SeqCst);
    for reader in readers {
        let (generations, failures) = reader.await.expect("reader");
        assert!(
            failures.is_empty(),
            "reads during the rebuild: {failures:?}"
        );
        assert_eq!(
            generations.first(),
            Some(&old),
            "the old generation served first"
        );
        assert!(
            generations.iter().all(|g| *g == old || *g == rebuild),
            "only the old and the rebuilt generation served: {generations:?}"
        );
    }
    assert_eq!(running.generation(), rebuild);
    assert_eq!(running.dump().await, fresh_build(&events).await);

    // The old generation's keys go once its grace has passed.
    let old_prefix = format!("{{{}:ledger}}:", redis.namespace());
    let old_marker = format!(":g{}:", old.get());
    eventually("the old generation's keys removed", || async {
        running.target.sweep().await.expect("sweep");
        let keys = redis.keys().await;
        if keys
            .iter()
            .any(|k| k.starts_with(&old_prefix) && k.contains(&old_marker))
        {
            Err(keys)
        } else {
            Ok(())
        }
    })
    .await;
    running.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_poison_event_is_dead_lettered_and_skipped() {
    let Some(redis) = TestRedis::create().await else {
        return;
    };
    let events = Events::new();
    events.append("s-0", 30, Some(17)).await;
    let running = Running::start(
        &events,
        &redis,
        RedisStoreOptions::default(),
        PoisonPolicy::Skip,
    )
    .await;
    running
        .handle
        .wait_caught_up(patience())
        .await
        .expect("caught up");
    let letters = running.target.dead_letters().await.expect("dead letters");
    assert_eq!(
        letters
            .iter()
            .map(|l| (l.position.get(), l.skipped, l.attempts))
            .collect::<Vec<_>>(),
        [(18, true, 3)]
    );
    assert_eq!(running.dump().await.applied, 29);
    assert_eq!(
        running.handle.status(&LEDGER).expect("status").dead_letters,
        1
    );
    running.stop().await;
}

/// Redis loses everything while the projector has nothing to do: it notices on its own,
/// builds the read model again from the events, and ends equal to a fresh build.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn survives_a_flush_while_idle() {
    let Some(redis) = TestRedis::exclusive().await else {
        return;
    };
    let events = Events::new();
    for s in 0..3 {
        events.append(&format!("s-{s}"), 100, None).await;
    }
    let running = Running::start(
        &events,
        &redis,
        RedisStoreOptions::default(),
        PoisonPolicy::Stop,
    )
    .await;
    running
        .handle
        .wait_caught_up(patience())
        .await
        .expect("caught up");
    let before = running.dump().await;
    let old = running.generation();

    redis.flush().await;
    assert!(
        running.target.serving().await.expect("serving").is_none(),
        "nothing serves once Redis lost the keys"
    );
    // No event arrives: only the idle worker's probe can notice.
    running.wait_for_new_generation(old).await;
    running
        .handle
        .wait_caught_up(patience())
        .await
        .expect("caught up again");
    let after = running.dump().await;
    assert_eq!(after, before);
    assert_eq!(after, fresh_build(&events).await);
    running.stop().await;
}

/// Redis loses everything, twice, while events keep arriving: every event ends applied once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn survives_flushes_under_a_write_load() {
    let Some(redis) = TestRedis::exclusive().await else {
        return;
    };
    let events = Arc::new(Events::new());
    events.append("s-0", 100, None).await;
    let running = Running::start(
        &events,
        &redis,
        RedisStoreOptions::default(),
        PoisonPolicy::Stop,
    )
    .await;
    running
        .handle
        .wait_caught_up(patience())
        .await
        .expect("caught up");

    let writing = Arc::new(AtomicBool::new(true));
    let writer = {
        let (events, writing) = (Arc::clone(&events), Arc::clone(&writing));
        tokio::spawn(async move {
            let mut appends = 0;
            // A stream per append: the ledger's members are `<stream>:<n>`. Paced, so that the
            // appends go on through both flushes however quickly the store commits them.
            while writing.load(Ordering::SeqCst) && appends < 20_000 {
                events.append(&format!("w-{appends}"), 5, None).await;
                appends += 1;
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
            appends
        })
    };
    for _ in 0..2 {
        // Let the load build up past the current head before pulling the keys away.
        let head = events.store.head().await.expect("head");
        let mut status = running.handle.watch(&LEDGER).expect("status");
        tokio::time::timeout(
            projector_testkit::wait::deadline(),
            status.wait_for(|s| s.checkpoint >= head),
        )
        .await
        .expect("progress")
        .expect("running");
        let old = running.generation();
        redis.flush().await;
        running.wait_for_new_generation(old).await;
    }
    assert!(
        !writer.is_finished(),
        "the flushes came while events were still arriving"
    );
    writing.store(false, Ordering::SeqCst);
    let appends = writer.await.expect("writer");
    assert!(appends > 0);
    running
        .handle
        .wait_caught_up(patience())
        .await
        .expect("caught up");
    let after = running.dump().await;
    assert_eq!(
        after.applied,
        100 + 5 * appends as u64,
        "every event applied once"
    );
    assert_eq!(after, fresh_build(&events).await);
    running.stop().await;
}
