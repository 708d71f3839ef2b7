//! Retrying a dead letter: its event is applied once more and the letter deleted together,
//! from the checkpoint the caller saw, or not at all.

use projector_core::{ApplyError, Checkpoint, GlobalPosition, ReadStoreError};

use super::{TargetFixture, apply_range, event, fences, serving, tally};

/// A skipped letter's event is applied again without moving the checkpoint, and a stopped
/// letter's moves it past the event; either way the letter goes with the same write. A retry
/// from a stale checkpoint, or of a letter that is not there (retried already), changes
/// nothing.
pub async fn a_retried_dead_letter_applies_its_event_once(fixture: impl TargetFixture) {
    let target = fixture.target(1);
    let generation = serving(target.as_ref()).await;
    let reached = apply_range(target.as_ref(), generation, 0, 1..=2).await;
    let skipped_to = Checkpoint::after(&event(3));
    target
        .dead_letter(
            generation,
            fences::letter(3, true),
            reached.position,
            Some(skipped_to),
        )
        .await
        .expect("a skipped letter");
    assert_eq!(tally(&fixture).await, 2);

    match target
        .retry_dead_letter(generation, event(3), reached.position, None)
        .await
    {
        Err(ApplyError::Store(ReadStoreError::CheckpointMoved {
            expected, found, ..
        })) => assert_eq!((expected, found), (reached.position, skipped_to.position)),
        other => panic!("expected a stale retry to be refused, got {other:?}"),
    }
    assert_no_letter(
        target
            .retry_dead_letter(generation, event(1), skipped_to.position, None)
            .await,
        1,
    );
    assert_eq!(tally(&fixture).await, 2, "a refused retry applies nothing");
    assert_eq!(target.dead_letters().await.expect("letters").len(), 1);

    target
        .retry_dead_letter(generation, event(3), skipped_to.position, None)
        .await
        .expect("the skipped event applied again");
    assert_eq!(tally(&fixture).await, 3);
    assert_eq!(
        target.checkpoint(generation).await.expect("checkpoint"),
        skipped_to,
        "the checkpoint stays"
    );
    assert!(target.dead_letters().await.expect("letters").is_empty());
    assert_no_letter(
        target
            .retry_dead_letter(generation, event(3), skipped_to.position, None)
            .await,
        3,
    );
    assert_eq!(tally(&fixture).await, 3, "a letter is retried once");

    target
        .dead_letter(
            generation,
            fences::letter(4, false),
            skipped_to.position,
            None,
        )
        .await
        .expect("a letter the projection stopped at");
    let past = Checkpoint::after(&event(4));
    target
        .retry_dead_letter(generation, event(4), skipped_to.position, Some(past))
        .await
        .expect("the stopped event applied again");
    assert_eq!(tally(&fixture).await, 4);
    assert_eq!(
        target.checkpoint(generation).await.expect("checkpoint"),
        past,
        "the checkpoint moves past the event"
    );
    assert!(target.dead_letters().await.expect("letters").is_empty());
}

#[track_caller]
fn assert_no_letter(result: Result<(), ApplyError>, position: u64) {
    match result {
        Err(ApplyError::Store(ReadStoreError::NoDeadLetter { position: p, .. })) => {
            assert_eq!(p, GlobalPosition::new(position));
        }
        other => panic!("expected no dead letter at {position}, got {other:?}"),
    }
}
