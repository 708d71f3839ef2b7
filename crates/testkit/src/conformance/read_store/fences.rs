//! Fencing: every write to a checkpoint or to the catalog names the state the caller last saw,
//! and is refused, changing nothing, when another process has changed it since. This is what
//! keeps a process that lost its lease (and has not noticed yet), or one whose answer was lost
//! after a commit, from undoing the work of the process that runs the projection now.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use chrono::Utc;
use projector_core::{
    Checkpoint, DeadLetter, Generation, GlobalPosition, ReadStoreError, ServingAt,
};
use projector_sql::SqlReadStore;

use super::{TALLY, Tally, apply_range, building, event, tally};

fn letter(position: u64, skipped: bool) -> DeadLetter {
    let poison = event(position);
    DeadLetter {
        projection: TALLY,
        position: poison.position,
        event_id: poison.event_id,
        stream_id: poison.stream_id,
        event_type: poison.event_type,
        error: "refused".into(),
        attempts: 3,
        first_failed_at: Utc::now(),
        last_failed_at: Utc::now(),
        skipped,
    }
}

async fn serving_tally(store: &dyn SqlReadStore) -> Generation {
    let generation = store
        .create_generation(&Tally(1))
        .await
        .expect("generation");
    store
        .activate(&TALLY, generation, None)
        .await
        .expect("activate");
    generation
}

fn at(generation: Generation, checkpoint: Checkpoint) -> Option<ServingAt> {
    Some(ServingAt {
        generation,
        checkpoint: checkpoint.position,
    })
}

/// A dead letter whose batch started where the checkpoint no longer is (a process that lost
/// its lease, after the new holder committed further) is refused: the checkpoint does not go
/// back and no letter is recorded. From the current checkpoint it is recorded and skipped.
pub async fn a_stale_dead_letter_changes_nothing(store: Arc<dyn SqlReadStore>) {
    let generation = serving_tally(store.as_ref()).await;
    let reached = apply_range(store.as_ref(), generation, 0, 1..=3).await;

    let stale = store
        .record_dead_letter(
            generation,
            letter(2, true),
            GlobalPosition::new(1),
            Some(Checkpoint::after(&event(2))),
        )
        .await;
    match stale {
        Err(ReadStoreError::CheckpointMoved {
            expected, found, ..
        }) => assert_eq!(
            (expected, found),
            (GlobalPosition::new(1), GlobalPosition::new(3))
        ),
        other => panic!("expected the stale dead letter to be refused, got {other:?}"),
    }
    assert_eq!(
        store
            .checkpoint(&TALLY, generation)
            .await
            .expect("checkpoint"),
        reached,
        "the checkpoint did not move back"
    );
    assert!(
        store
            .dead_letters(&TALLY)
            .await
            .expect("dead letters")
            .is_empty()
    );

    let skip_to = Checkpoint::after(&event(4));
    store
        .record_dead_letter(generation, letter(4, true), reached.position, Some(skip_to))
        .await
        .expect("a dead letter from the current checkpoint");
    assert_eq!(
        store
            .checkpoint(&TALLY, generation)
            .await
            .expect("checkpoint"),
        skip_to
    );
    let letters = store.dead_letters(&TALLY).await.expect("dead letters");
    assert_eq!(
        letters.iter().map(|l| l.position.get()).collect::<Vec<_>>(),
        [4]
    );
    assert_eq!(tally(store.as_ref()).await, 3, "a skip applies nothing");

    // A letter of the stop policy moves nothing, but is fenced all the same.
    let stop = store
        .record_dead_letter(generation, letter(5, false), reached.position, None)
        .await;
    assert!(
        matches!(stop, Err(ReadStoreError::CheckpointMoved { .. })),
        "{stop:?}"
    );
    store
        .record_dead_letter(generation, letter(5, false), skip_to.position, None)
        .await
        .expect("a letter of the stop policy");
    assert_eq!(
        store
            .checkpoint(&TALLY, generation)
            .await
            .expect("checkpoint"),
        skip_to
    );
}

/// A swap names the serving generation and checkpoint it replaces: it is refused if another
/// generation serves or the checkpoint moved, and a retry of a swap that went through (its
/// answer lost) is refused too, leaving the new generation serving.
pub async fn a_stale_swap_changes_nothing(store: Arc<dyn SqlReadStore>) {
    let serving = serving_tally(store.as_ref()).await;
    let serving_at = apply_range(store.as_ref(), serving, 0, 1..=3).await;
    let rebuild = store
        .create_generation(&Tally(1))
        .await
        .expect("generation");
    apply_range(store.as_ref(), rebuild, 0, 1..=3).await;

    let moved = store
        .activate(
            &TALLY,
            rebuild,
            Some(ServingAt {
                generation: serving,
                checkpoint: GlobalPosition::new(2),
            }),
        )
        .await;
    assert!(
        matches!(moved, Err(ReadStoreError::CheckpointMoved { .. })),
        "a swap over a serving checkpoint that moved: {moved:?}"
    );
    let unseen = store.activate(&TALLY, rebuild, None).await;
    match unseen {
        Err(ReadStoreError::ServingChanged {
            expected, found, ..
        }) => assert_eq!((expected, found), (None, Some(serving))),
        other => panic!("a swap that did not see the serving generation: {other:?}"),
    }
    assert_eq!(
        store
            .serving(&TALLY)
            .await
            .expect("serving")
            .map(|s| s.generation),
        Some(serving),
        "refused swaps change nothing"
    );
    assert_eq!(building(store.as_ref()).await, [(rebuild.get(), 1)]);

    store
        .activate(&TALLY, rebuild, at(serving, serving_at))
        .await
        .expect("the swap as seen");
    let retried = store
        .activate(&TALLY, rebuild, at(serving, serving_at))
        .await;
    match retried {
        Err(ReadStoreError::ServingChanged {
            expected, found, ..
        }) => assert_eq!((expected, found), (Some(serving), Some(rebuild))),
        other => panic!("a retried swap must be refused: {other:?}"),
    }
    assert_eq!(
        store
            .serving(&TALLY)
            .await
            .expect("serving")
            .map(|s| s.generation),
        Some(rebuild)
    );
    assert_eq!(tally(store.as_ref()).await, 3);
    assert!(
        store.checkpoint(&TALLY, serving).await.is_err(),
        "the replaced generation is gone"
    );
}

/// Dropping a building generation names the checkpoint it was seen at: refused when another
/// process has built on since; a serving generation is never dropped; a generation that is
/// gone already stays gone.
pub async fn a_stale_drop_changes_nothing(store: Arc<dyn SqlReadStore>) {
    let serving = serving_tally(store.as_ref()).await;
    let rebuild = store
        .create_generation(&Tally(1))
        .await
        .expect("generation");
    let built = apply_range(store.as_ref(), rebuild, 0, 1..=2).await;

    let moved = store
        .drop_generation(&TALLY, rebuild, GlobalPosition::ZERO)
        .await;
    match moved {
        Err(ReadStoreError::CheckpointMoved {
            expected, found, ..
        }) => assert_eq!((expected, found), (GlobalPosition::ZERO, built.position)),
        other => panic!("a drop of a generation built on since: {other:?}"),
    }
    assert_eq!(building(store.as_ref()).await, [(rebuild.get(), 1)]);

    let refused = store
        .drop_generation(&TALLY, serving, GlobalPosition::ZERO)
        .await;
    assert!(
        matches!(refused, Err(ReadStoreError::ServingChanged { .. })),
        "the serving generation is never dropped: {refused:?}"
    );

    store
        .drop_generation(&TALLY, rebuild, built.position)
        .await
        .expect("the drop as seen");
    assert_eq!(building(store.as_ref()).await, []);
    store
        .drop_generation(&TALLY, rebuild, built.position)
        .await
        .expect("dropping it again, as a retry after a lost answer would");
    assert_eq!(
        store
            .serving(&TALLY)
            .await
            .expect("serving")
            .map(|s| s.generation),
        Some(serving)
    );
}

/// Reads go on while generations are swapped over and over: each read is answered from one
/// generation or the other (both hold the same rows here), and none fails because the
/// generation it picked was dropped under it.
pub async fn reads_never_fail_during_swaps(store: Arc<dyn SqlReadStore>) {
    const SWAPS: usize = 100;
    const READERS: usize = 3;
    let mut serving = serving_tally(store.as_ref()).await;
    let mut serving_at = apply_range(store.as_ref(), serving, 0, 1..=3).await;
    let done = Arc::new(AtomicBool::new(false));
    let readers: Vec<_> = (0..READERS)
        .map(|_| {
            let store = Arc::clone(&store);
            let done = Arc::clone(&done);
            tokio::spawn(async move {
                let (mut reads, mut failures) = (0_usize, Vec::new());
                while !done.load(Ordering::SeqCst) {
                    match store
                        .query(&TALLY, "SELECT applied FROM tally WHERE id = 1", &[])
                        .await
                    {
                        Ok(rows) if rows.len() == 1 => reads += 1,
                        Ok(rows) => failures.push(format!("{} rows", rows.len())),
                        Err(error) => failures.push(error.to_string()),
                    }
                }
                (reads, failures)
            })
        })
        .collect();
    for _ in 0..SWAPS {
        let rebuild = store
            .create_generation(&Tally(1))
            .await
            .expect("generation");
        apply_range(store.as_ref(), rebuild, 0, 1..=3).await;
        store
            .activate(&TALLY, rebuild, at(serving, serving_at))
            .await
            .expect("swap");
        serving = rebuild;
        serving_at = store.checkpoint(&TALLY, rebuild).await.expect("checkpoint");
    }
    done.store(true, Ordering::SeqCst);
    for reader in readers {
        let (reads, failures) = reader.await.expect("reader");
        assert!(
            failures.is_empty(),
            "reads failed during swaps: {failures:?}"
        );
        assert!(
            reads > SWAPS,
            "the reader kept reading during the swaps ({reads})"
        );
    }
}
