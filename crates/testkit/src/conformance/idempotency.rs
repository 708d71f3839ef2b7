//! Idempotency store conformance: a key is claimed under the command id offered for it and
//! keeps that id while it is remembered (taken over when abandoned or released, answered
//! once), and is new again, under a new command id, once forgotten.
//!
//! Each check takes `make`, which opens a fresh store remembering keys for the given retention
//! (`None` to skip when the backend's service is away outside CI). A backend's test file stamps
//! them all out with [`idempotency_conformance!`](crate::idempotency_conformance).

use std::any::Any;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use projector_core::{CausationId, Claim, IdempotencyStore, StoredResponse};

/// A fresh idempotency store for one test, with whatever must outlive it.
pub struct KeysFixture {
    store: Arc<dyn IdempotencyStore>,
    _guard: Box<dyn Any + Send + Sync>,
}

impl std::fmt::Debug for KeysFixture {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeysFixture").finish_non_exhaustive()
    }
}

impl KeysFixture {
    /// A store and the guard that keeps its storage alive.
    pub fn new(store: Arc<dyn IdempotencyStore>, guard: impl Any + Send + Sync) -> Self {
        Self {
            store,
            _guard: Box::new(guard),
        }
    }
}

/// Remembered for the whole test.
const A_DAY: Duration = Duration::from_secs(24 * 3600);
/// Long enough that no claim is taken to be abandoned during a test.
const A_MINUTE: Duration = Duration::from_secs(60);

fn command(id: &'static str) -> CausationId {
    CausationId::from_static(id)
}

fn answer(status: u16) -> StoredResponse {
    StoredResponse {
        status,
        headers: vec![("location".into(), "/there".into())],
        body: format!("answer {status}"),
    }
}

#[track_caller]
fn assert_claimed(claim: Claim, command_id: &str, taken_over: bool) {
    assert_eq!(
        claim,
        Claim::Claimed {
            command_id: CausationId::parse(command_id).expect("a command id"),
            taken_over,
        }
    );
}

/// A new key runs under the command id offered; while it runs a retry is told so, another
/// request is refused; once answered, the answer is replayed.
pub async fn a_new_key_runs_under_the_offered_command_id<F, Fut>(make: F)
where
    F: Fn(Duration) -> Fut,
    Fut: Future<Output = Option<KeysFixture>>,
{
    let Some(fixture) = make(A_DAY).await else {
        return;
    };
    let keys = fixture.store.as_ref();
    let claim = keys.claim("k", "fp", &command("c1"), A_MINUTE).await;
    assert_claimed(claim.expect("claim"), "c1", false);
    let again = keys.claim("k", "fp", &command("c2"), A_MINUTE).await;
    assert_eq!(again.expect("claim"), Claim::InProgress);
    let other = keys.claim("k", "other", &command("c3"), A_MINUTE).await;
    assert_eq!(other.expect("claim"), Claim::Mismatch);

    keys.complete("k", &command("c1"), &answer(202))
        .await
        .expect("complete");
    let replayed = keys.claim("k", "fp", &command("c4"), Duration::ZERO).await;
    assert_eq!(replayed.expect("claim"), Claim::Completed(answer(202)));
    let other = keys.claim("k", "other", &command("c5"), A_MINUTE).await;
    assert_eq!(other.expect("claim"), Claim::Mismatch);
}

/// A claim left unanswered past `abandoned_after` is taken over under its first command id,
/// so the retry finds what the first attempt appended.
pub async fn an_abandoned_claim_is_taken_over_under_its_first_command_id<F, Fut>(make: F)
where
    F: Fn(Duration) -> Fut,
    Fut: Future<Output = Option<KeysFixture>>,
{
    let Some(fixture) = make(A_DAY).await else {
        return;
    };
    let keys = fixture.store.as_ref();
    let first = keys.claim("k", "fp", &command("c1"), A_MINUTE).await;
    assert_claimed(first.expect("claim"), "c1", false);
    let other = keys
        .claim("k", "other", &command("c2"), Duration::ZERO)
        .await;
    assert_eq!(
        other.expect("claim"),
        Claim::Mismatch,
        "not by another request"
    );
    let taken = keys.claim("k", "fp", &command("c3"), Duration::ZERO).await;
    assert_claimed(taken.expect("claim"), "c1", true);
    let again = keys.claim("k", "fp", &command("c4"), A_MINUTE).await;
    assert_eq!(again.expect("claim"), Claim::InProgress, "held again");
}

/// A released claim is taken over at once, under its command id; only by the same request.
pub async fn a_released_claim_is_taken_over_at_once<F, Fut>(make: F)
where
    F: Fn(Duration) -> Fut,
    Fut: Future<Output = Option<KeysFixture>>,
{
    let Some(fixture) = make(A_DAY).await else {
        return;
    };
    let keys = fixture.store.as_ref();
    let first = keys.claim("k", "fp", &command("c1"), A_MINUTE).await;
    assert_claimed(first.expect("claim"), "c1", false);
    keys.release("k", &command("c1")).await.expect("release");
    let other = keys.claim("k", "other", &command("c2"), A_MINUTE).await;
    assert_eq!(other.expect("claim"), Claim::Mismatch);
    let taken = keys.claim("k", "fp", &command("c3"), A_MINUTE).await;
    assert_claimed(taken.expect("claim"), "c1", true);

    // Releasing under another command id, or an answered key, changes nothing.
    keys.release("k", &command("c3")).await.expect("release");
    let held = keys.claim("k", "fp", &command("c4"), A_MINUTE).await;
    assert_eq!(held.expect("claim"), Claim::InProgress);
    keys.complete("k", &command("c1"), &answer(409))
        .await
        .expect("complete");
    keys.release("k", &command("c1")).await.expect("release");
    let answered = keys.claim("k", "fp", &command("c5"), A_MINUTE).await;
    assert_eq!(answered.expect("claim"), Claim::Completed(answer(409)));
}

/// The first answer recorded stays: an attempt that took the claim over does not replace it,
/// nor does one under another command id.
pub async fn the_first_answer_stays<F, Fut>(make: F)
where
    F: Fn(Duration) -> Fut,
    Fut: Future<Output = Option<KeysFixture>>,
{
    let Some(fixture) = make(A_DAY).await else {
        return;
    };
    let keys = fixture.store.as_ref();
    let first = keys.claim("k", "fp", &command("c1"), A_MINUTE).await;
    assert_claimed(first.expect("claim"), "c1", false);
    keys.complete("k", &command("c2"), &answer(500))
        .await
        .expect("complete under another id");
    let held = keys.claim("k", "fp", &command("c3"), A_MINUTE).await;
    assert_eq!(
        held.expect("claim"),
        Claim::InProgress,
        "not answered by c2"
    );
    keys.complete("k", &command("c1"), &answer(202))
        .await
        .expect("complete");
    keys.complete("k", &command("c1"), &answer(409))
        .await
        .expect("complete again");
    let replayed = keys.claim("k", "fp", &command("c4"), A_MINUTE).await;
    assert_eq!(replayed.expect("claim"), Claim::Completed(answer(202)));
}

/// A key older than the retention is forgotten, answered or not, swept or not: it is new
/// again, for any request, under the command id offered now.
pub async fn a_forgotten_key_is_new_again<F, Fut>(make: F)
where
    F: Fn(Duration) -> Fut,
    Fut: Future<Output = Option<KeysFixture>>,
{
    let Some(fixture) = make(Duration::ZERO).await else {
        return;
    };
    let keys = fixture.store.as_ref();
    let first = keys.claim("k", "fp", &command("c1"), A_MINUTE).await;
    assert_claimed(first.expect("claim"), "c1", false);
    keys.complete("k", &command("c1"), &answer(202))
        .await
        .expect("complete");
    for (fingerprint, offered) in [("fp", "c2"), ("other", "c3"), ("other", "c4")] {
        let claim = keys
            .claim("k", fingerprint, &command(offered), A_MINUTE)
            .await;
        assert_claimed(claim.expect("claim"), offered, false);
    }
}

/// Stamps out every check as a test, given a function from the retention to
/// `impl Future<Output = Option<KeysFixture>>`.
#[macro_export]
macro_rules! idempotency_conformance {
    ($make:expr) => {
        $crate::idempotency_conformance!(@each $make;
            a_new_key_runs_under_the_offered_command_id,
            an_abandoned_claim_is_taken_over_under_its_first_command_id,
            a_released_claim_is_taken_over_at_once,
            the_first_answer_stays,
            a_forgotten_key_is_new_again,
        );
    };
    (@each $make:expr; $($name:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                $crate::conformance::idempotency::$name($make).await;
            }
        )*
    };
}
