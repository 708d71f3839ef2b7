//! Acting on dead letters: retrying the letter a projection stopped at (failing again, then
//! applied once mended), retrying a letter it skipped (applied behind the checkpoint),
//! skipping the letter it stopped at, and retrying them all; checkpoint and read model
//! checked each time.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use projector_core::{GlobalPosition, PoisonPolicy, ProjectionName};
use projector_runtime::{ProjectorHandle, RetryOutcome, RuntimeError, WorkerState};

use crate::helpers::{Counting, Stores, patience};

const POISON: GlobalPosition = GlobalPosition::new(21);

/// Waits until the projection is stopped at [`POISON`].
async fn stopped(handle: &ProjectorHandle, name: &ProjectionName) {
    let mut watch = handle.watch(name).expect("watch");
    tokio::time::timeout(
        projector_testkit::wait::deadline(),
        watch.wait_for(
            |s| matches!(s.state, WorkerState::Stopped { position, .. } if position == POISON),
        ),
    )
    .await
    .expect("stops at the poison event in time")
    .expect("worker alive");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retrying_the_letter_a_projection_stopped_at_fails_again_then_applies_once_mended() {
    let stores = Stores::new();
    stores.append("p", 50, Some(20)).await;
    let projection = Arc::new(Counting::new("stopper", PoisonPolicy::Stop));
    let name = projection.name.clone();
    let (handle, _shutdown) = stores.start(projection.clone(), 16);
    stopped(&handle, &name).await;

    let event = handle.event(&name, POISON).await.expect("the event");
    assert_eq!(event.position, POISON);
    assert_eq!(
        event.data.decode::<serde_json::Value>().expect("json")["poison"],
        true
    );

    match handle
        .retry_dead_letter(&name, POISON)
        .await
        .expect("retry")
    {
        RetryOutcome::Failed { error, attempts } => {
            assert!(error.contains("poison"), "{error}");
            assert_eq!(attempts, 4, "one more than the three of the first run");
        }
        other => panic!("expected the retry to fail, got {other:?}"),
    }
    let letter = handle.dead_letter(&name, POISON).await.expect("the letter");
    assert_eq!((letter.attempts, letter.skipped), (4, false));
    assert!(letter.last_failed_at > letter.first_failed_at);
    assert!(matches!(
        handle.status(&name).expect("status").state,
        WorkerState::Stopped { position, .. } if position == POISON
    ));
    assert_eq!(stores.stored_checkpoint(&name).await, 20);
    assert_eq!(stores.counted(&name).await, (20, 20));

    projection.cured.store(true, Ordering::SeqCst);
    assert_eq!(
        handle
            .retry_dead_letter(&name, POISON)
            .await
            .expect("retry"),
        RetryOutcome::Applied
    );
    handle
        .wait_for(&name, GlobalPosition::new(50), patience())
        .await
        .expect("the projection goes on to the head");
    assert_eq!(stores.counted(&name).await, (50, 50), "every event once");
    assert_eq!(stores.stored_checkpoint(&name).await, 50);
    assert!(
        handle
            .dead_letters(&name)
            .await
            .expect("letters")
            .is_empty()
    );
    assert_eq!(handle.status(&name).expect("status").dead_letters, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retrying_a_skipped_letter_applies_its_event_and_leaves_the_checkpoint() {
    let stores = Stores::new();
    stores.append("p", 50, Some(20)).await;
    let projection = Arc::new(Counting::new("skipper", PoisonPolicy::Skip));
    let name = projection.name.clone();
    let (handle, _shutdown) = stores.start(projection.clone(), 16);
    handle
        .wait_for(&name, GlobalPosition::new(50), patience())
        .await
        .expect("reaches the head");
    assert_eq!(stores.counted(&name).await, (49, 49));

    match handle
        .retry_dead_letter(&name, POISON)
        .await
        .expect("retry")
    {
        RetryOutcome::Failed { attempts, .. } => assert_eq!(attempts, 4),
        other => panic!("expected the retry to fail, got {other:?}"),
    }
    let letter = handle.dead_letter(&name, POISON).await.expect("the letter");
    assert_eq!((letter.attempts, letter.skipped), (4, true));
    assert_eq!(stores.counted(&name).await, (49, 49));

    projection.cured.store(true, Ordering::SeqCst);
    assert_eq!(
        handle
            .retry_dead_letter(&name, POISON)
            .await
            .expect("retry"),
        RetryOutcome::Applied
    );
    assert_eq!(stores.counted(&name).await, (50, 50));
    assert_eq!(
        stores.stored_checkpoint(&name).await,
        50,
        "the checkpoint stays"
    );
    assert!(
        handle
            .dead_letters(&name)
            .await
            .expect("letters")
            .is_empty()
    );
    assert_eq!(handle.status(&name).expect("status").dead_letters, 0);
    assert!(
        matches!(
            handle.retry_dead_letter(&name, POISON).await,
            Err(RuntimeError::NoDeadLetter { position, .. }) if position == POISON
        ),
        "a letter is retried once"
    );
    assert_eq!(stores.counted(&name).await, (50, 50));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn skipping_the_letter_a_projection_stopped_at_moves_past_it() {
    let stores = Stores::new();
    stores.append("p", 50, Some(20)).await;
    let projection = Arc::new(Counting::new("stopper", PoisonPolicy::Stop));
    let name = projection.name.clone();
    let (handle, _shutdown) = stores.start(projection, 16);
    stopped(&handle, &name).await;
    assert!(matches!(
        handle.skip_dead_letter(&name, GlobalPosition::new(7)).await,
        Err(RuntimeError::NoDeadLetter { .. })
    ));

    let letter = handle.skip_dead_letter(&name, POISON).await.expect("skip");
    assert_eq!(
        (letter.position, letter.skipped, letter.attempts),
        (POISON, true, 3)
    );
    handle
        .wait_for(&name, GlobalPosition::new(50), patience())
        .await
        .expect("the projection goes on to the head");
    assert_eq!(stores.stored_checkpoint(&name).await, 50);
    assert_eq!(
        stores.counted(&name).await,
        (49, 49),
        "the skipped event is not applied"
    );
    let letters = handle.dead_letters(&name).await.expect("letters");
    assert_eq!(letters.len(), 1, "the letter is kept");
    assert!(letters[0].skipped);
    assert!(matches!(
        handle.skip_dead_letter(&name, POISON).await,
        Err(RuntimeError::DeadLetterConflict { .. })
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retrying_every_letter_goes_in_position_order() {
    let stores = Stores::new();
    stores.append("p", 50, Some(20)).await;
    stores.append("q", 10, Some(3)).await;
    let projection = Arc::new(Counting::new("skipper", PoisonPolicy::Skip));
    let name = projection.name.clone();
    let (handle, _shutdown) = stores.start(projection.clone(), 16);
    handle
        .wait_for(&name, GlobalPosition::new(60), patience())
        .await
        .expect("reaches the head");
    assert_eq!(stores.counted(&name).await, (58, 58));

    projection.cured.store(true, Ordering::SeqCst);
    let outcomes = handle.retry_dead_letters(&name).await.expect("retry all");
    let outcomes: Vec<_> = outcomes
        .into_iter()
        .map(|(position, outcome)| (position.get(), outcome.expect("retried")))
        .collect();
    assert_eq!(
        outcomes,
        [(21, RetryOutcome::Applied), (54, RetryOutcome::Applied)]
    );
    assert_eq!(stores.counted(&name).await, (60, 60));
    assert_eq!(stores.stored_checkpoint(&name).await, 60);
    assert!(
        handle
            .dead_letters(&name)
            .await
            .expect("letters")
            .is_empty()
    );
}
