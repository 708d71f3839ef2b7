//! Fencing: every write to a checkpoint or to the catalog names the state the caller last saw,
//! and is refused, changing nothing, when another process has changed it since. This is what
//! keeps a process that lost its lease (and has not noticed yet), or one whose answer was lost
//! after a commit, from undoing the work of the process that runs the projection now.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use chrono::Utc;
use projector_core::{
    ApplyError, Checkpoint, DeadLetter, Generation, GlobalPosition, ReadStoreError, ServingAt,
};

use super::{
    TALLY, TargetFixture, apply_range, assert_no_generation, building, event, serving, serving_now,
    tally,
};

/// A dead letter of the tally for the event at `position`, tried 3 times.
pub(crate) fn letter(position: u64, skipped: bool) -> DeadLetter {
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

fn at(generation: Generation, checkpoint: Checkpoint) -> Option<ServingAt> {
    Some(ServingAt {
        generation,
        checkpoint: checkpoint.position,
    })
}

/// A dead letter whose batch started where the checkpoint no longer is (a process that lost
/// its lease, after the new holder committed further) is refused: the checkpoint does not go
/// back and no letter is recorded. From the current checkpoint it is recorded and skipped.
pub async fn a_stale_dead_letter_changes_nothing(fixture: impl TargetFixture) {
    let target = fixture.target(1);
    let generation = serving(target.as_ref()).await;
    let reached = apply_range(target.as_ref(), generation, 0, 1..=3).await;

    let stale = target
        .dead_letter(
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
        target.checkpoint(generation).await.expect("checkpoint"),
        reached,
        "the checkpoint did not move back"
    );
    assert!(
        target
            .dead_letters()
            .await
            .expect("dead letters")
            .is_empty(),
        "no letter was recorded"
    );

    let skip_to = Checkpoint::after(&event(4));
    target
        .dead_letter(generation, letter(4, true), reached.position, Some(skip_to))
        .await
        .expect("a dead letter from the current checkpoint");
    assert_eq!(
        target.checkpoint(generation).await.expect("checkpoint"),
        skip_to
    );
    let letters = target.dead_letters().await.expect("dead letters");
    assert_eq!(letters.len(), 1);
    let recorded = &letters[0];
    let sent = letter(4, true);
    assert_eq!(
        (
            recorded.position,
            recorded.event_type.clone(),
            recorded.stream_id.clone(),
            recorded.attempts,
            recorded.skipped
        ),
        (sent.position, sent.event_type, sent.stream_id, 3, true)
    );
    assert_eq!(tally(&fixture).await, 3, "a skip applies nothing");

    // A letter of the stop policy moves nothing, but is fenced all the same.
    let stop = target
        .dead_letter(generation, letter(5, false), reached.position, None)
        .await;
    assert!(
        matches!(stop, Err(ReadStoreError::CheckpointMoved { .. })),
        "{stop:?}"
    );
    target
        .dead_letter(generation, letter(5, false), skip_to.position, None)
        .await
        .expect("a letter of the stop policy");
    assert_eq!(
        target.checkpoint(generation).await.expect("checkpoint"),
        skip_to
    );
}

/// A swap names the serving generation and checkpoint it replaces: it is refused if another
/// generation serves or the checkpoint moved, and a retry of a swap that went through (its
/// answer lost) is refused too, leaving the new generation serving.
pub async fn a_stale_swap_changes_nothing(fixture: impl TargetFixture) {
    let target = fixture.target(1);
    let first = serving(target.as_ref()).await;
    let first_at = apply_range(target.as_ref(), first, 0, 1..=3).await;
    let rebuild = target.create_generation().await.expect("generation");
    apply_range(target.as_ref(), rebuild, 0, 1..=3).await;

    let moved = target
        .activate(
            rebuild,
            Some(ServingAt {
                generation: first,
                checkpoint: GlobalPosition::new(2),
            }),
        )
        .await;
    match moved {
        Err(ReadStoreError::CheckpointMoved {
            expected, found, ..
        }) => assert_eq!(
            (expected, found),
            (GlobalPosition::new(2), GlobalPosition::new(3))
        ),
        other => panic!("a swap over a serving checkpoint that moved: {other:?}"),
    }
    match target.activate(rebuild, None).await {
        Err(ReadStoreError::ServingChanged {
            expected, found, ..
        }) => assert_eq!((expected, found), (None, Some(first))),
        other => panic!("a swap that did not see the serving generation: {other:?}"),
    }
    assert_eq!(
        serving_now(target.as_ref()).await,
        Some((first, 1)),
        "refused swaps change nothing"
    );
    assert_eq!(building(target.as_ref()).await, [(rebuild.get(), 1)]);

    target
        .activate(rebuild, at(first, first_at))
        .await
        .expect("the swap as seen");
    match target.activate(rebuild, at(first, first_at)).await {
        Err(ReadStoreError::ServingChanged {
            expected, found, ..
        }) => assert_eq!((expected, found), (Some(first), Some(rebuild))),
        other => panic!("a retried swap must be refused: {other:?}"),
    }
    assert_eq!(serving_now(target.as_ref()).await, Some((rebuild, 1)));
    assert_eq!(tally(&fixture).await, 3);
    assert_no_generation(target.checkpoint(first).await, "the replaced generation");
}

/// Dropping a building generation names the checkpoint it was seen at: refused when another
/// process has built on since; a serving generation is never dropped; a generation that is
/// gone already stays gone.
pub async fn a_stale_drop_changes_nothing(fixture: impl TargetFixture) {
    let target = fixture.target(1);
    let first = serving(target.as_ref()).await;
    let rebuild = target.create_generation().await.expect("generation");
    let built = apply_range(target.as_ref(), rebuild, 0, 1..=2).await;

    match target.drop_generation(rebuild, GlobalPosition::ZERO).await {
        Err(ReadStoreError::CheckpointMoved {
            expected, found, ..
        }) => assert_eq!((expected, found), (GlobalPosition::ZERO, built.position)),
        other => panic!("a drop of a generation built on since: {other:?}"),
    }
    assert_eq!(building(target.as_ref()).await, [(rebuild.get(), 1)]);
    assert_eq!(
        target.checkpoint(rebuild).await.expect("checkpoint"),
        built,
        "the refused drop left the build whole"
    );

    let refused = target.drop_generation(first, GlobalPosition::ZERO).await;
    assert!(
        matches!(refused, Err(ReadStoreError::ServingChanged { .. })),
        "the serving generation is never dropped: {refused:?}"
    );
    assert_eq!(serving_now(target.as_ref()).await, Some((first, 1)));

    target
        .drop_generation(rebuild, built.position)
        .await
        .expect("the drop as seen");
    assert_eq!(building(target.as_ref()).await, []);
    target
        .drop_generation(rebuild, built.position)
        .await
        .expect("dropping it again, as a retry after a lost answer would");
    assert_eq!(serving_now(target.as_ref()).await, Some((first, 1)));
}

/// Once a generation is dropped, writes to it (from a process that has not noticed) are
/// refused as `NoGeneration`, a fenced refusal: the writer reads the catalog again.
pub async fn a_dropped_generation_refuses_writes(fixture: impl TargetFixture) {
    let target = fixture.target(1);
    let first = serving(target.as_ref()).await;
    let first_at = apply_range(target.as_ref(), first, 0, 1..=2).await;
    let rebuild = target.create_generation().await.expect("generation");
    let built = apply_range(target.as_ref(), rebuild, 0, 1..=2).await;
    target
        .drop_generation(rebuild, built.position)
        .await
        .expect("drop");

    let batch: Arc<[projector_core::RecordedEvent]> = Arc::from(vec![event(3)]);
    match target
        .apply(rebuild, batch, built.position, Checkpoint::after(&event(3)))
        .await
    {
        Err(ApplyError::Store(error @ ReadStoreError::NoGeneration { .. })) => {
            assert!(error.is_fenced());
        }
        other => panic!("a batch for a dropped generation: {other:?}"),
    }
    assert_no_generation(
        target
            .dead_letter(rebuild, letter(3, true), built.position, None)
            .await,
        "a dead letter for a dropped generation",
    );
    assert_no_generation(
        target.activate(rebuild, at(first, first_at)).await,
        "a swap to a dropped generation",
    );
    assert_no_generation(target.checkpoint(rebuild).await, "its checkpoint");
    assert_eq!(serving_now(target.as_ref()).await, Some((first, 1)));
    assert_eq!(tally(&fixture).await, 2);
}

/// Reads go on while generations are built and swapped over and over: each read is answered
/// whole from the old generation or the new one (both end with the same count), never from a
/// generation still being built, and none fails because the generation it picked was
/// swapped out or dropped under it.
pub async fn reads_never_fail_during_swaps(fixture: impl TargetFixture) {
    const SWAPS: usize = 60;
    const READERS: usize = 3;
    let fixture = Arc::new(fixture);
    let target = fixture.target(1);
    let mut serving_generation = serving(target.as_ref()).await;
    let mut serving_at = apply_range(target.as_ref(), serving_generation, 0, 1..=3).await;
    let done = Arc::new(AtomicBool::new(false));
    let readers: Vec<_> = (0..READERS)
        .map(|_| {
            let fixture = Arc::clone(&fixture);
            let done = Arc::clone(&done);
            tokio::spawn(async move {
                let (mut reads, mut failures) = (0_usize, Vec::new());
                while !done.load(Ordering::SeqCst) {
                    match fixture.tally().await {
                        Ok(3) => reads += 1,
                        Ok(other) => failures.push(format!("a tally of {other}")),
                        Err(error) => failures.push(error.to_string()),
                    }
                }
                (reads, failures)
            })
        })
        .collect();
    for _ in 0..SWAPS {
        let rebuild = target.create_generation().await.expect("generation");
        // One event a batch, so a read of the building generation would show.
        for position in 1..=3 {
            apply_range(target.as_ref(), rebuild, position - 1, position..=position).await;
        }
        target
            .activate(rebuild, at(serving_generation, serving_at))
            .await
            .expect("swap");
        serving_generation = rebuild;
        serving_at = target.checkpoint(rebuild).await.expect("checkpoint");
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
