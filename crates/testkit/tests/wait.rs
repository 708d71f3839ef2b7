//! The one polling helper: it returns as soon as its condition holds, and on timeout panics
//! naming what it waited for and the last value it saw.

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use projector_testkit::wait::{eventually, eventually_sync, eventually_within};

#[tokio::test]
async fn returns_the_value_once_the_condition_holds() {
    let polls = AtomicU32::new(0);
    let value = eventually("the third poll", || async {
        let n = polls.fetch_add(1, Ordering::SeqCst) + 1;
        if n >= 3 { Ok(n * 10) } else { Err(n) }
    })
    .await;
    assert_eq!(value, 30);
    assert_eq!(polls.load(Ordering::SeqCst), 3, "it stops polling at once");
}

#[tokio::test]
async fn accepts_options_and_flags() {
    let polls = AtomicU32::new(0);
    let some = eventually_sync("an option", || {
        (polls.fetch_add(1, Ordering::SeqCst) >= 1).then_some("here")
    })
    .await;
    assert_eq!(some, "here");
    eventually_sync("a flag", || polls.load(Ordering::SeqCst) >= 2).await;
}

#[tokio::test]
async fn times_out_naming_what_it_awaited_and_the_last_observation() {
    let polls = AtomicU32::new(0);
    let waiting = tokio::spawn(async move {
        eventually_within("the answer", Duration::from_millis(200), || async {
            Err::<(), _>(format!("poll {}", polls.fetch_add(1, Ordering::SeqCst)))
        })
        .await;
    });
    let panic = waiting.await.expect_err("it gives up").into_panic();
    let message = panic
        .downcast_ref::<String>()
        .expect("a formatted message")
        .clone();
    assert!(message.contains("for the answer"), "{message}");
    assert!(message.contains("last observed: \"poll "), "{message}");
    assert!(
        message.contains("wait.rs"),
        "it names the caller: {message}"
    );
}
