//! The `issues` projection applies a whole batch as one set of statements (pipelined where
//! the read store can): every kind of change lands in order, and an event for an issue the
//! read model does not have stops the projection at that event, with the events before it
//! applied. On real SQLite and on the real PostgreSQL.

use std::sync::Arc;
use std::time::Duration;

use chrono::{TimeZone, Utc};
use projector_core::{
    CommandOptions, DomainEvent, EventAppender, EventStore, ExpectedVersion, NewEvent, execute,
};
use projector_issues::events::{IssueEvent, TextChanged};
use projector_issues::projections::{ISSUES, IssuesProjection};
use projector_issues::{
    Changes, IssueCommand, IssueDecider, IssueState, Priority, issue_stream, queries,
};
use projector_postgres::{PgEventStore, PgEventStoreOptions, PgReadStore, PgReadStoreOptions};
use projector_runtime::{Projector, ProjectorOptions, RetryPolicy, WaitError};
use projector_sql::{SqlReadStore, SqlTarget};
use projector_testkit::postgres::TestDatabase;
use tokio_util::sync::CancellationToken;

/// The suites' one deadline for waiting on something that should happen.
fn patience() -> Duration {
    projector_testkit::wait::deadline()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_sqlite() {
    let dir = projector_testkit::temp_dir();
    let events = projector_testkit::sqlite::event_store(dir.path());
    let reads = projector_testkit::sqlite::read_store(dir.path());
    one_batch_lands_in_order_and_a_missing_issue_stops_it(Arc::new(events), Arc::new(reads)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_postgres() {
    let Some(database) = TestDatabase::create().await else {
        return;
    };
    let events = PgEventStore::connect(database.url(), PgEventStoreOptions::default())
        .await
        .expect("events");
    let reads = PgReadStore::connect(database.url(), PgReadStoreOptions::default())
        .await
        .expect("reads");
    one_batch_lands_in_order_and_a_missing_issue_stops_it(Arc::new(events), Arc::new(reads)).await;
}

async fn one_batch_lands_in_order_and_a_missing_issue_stops_it(
    events: Arc<dyn EventStore>,
    reads: Arc<dyn SqlReadStore>,
) {
    // Everything is appended before the projector starts, so it arrives as one batch.
    let at = Utc
        .with_ymd_and_hms(2026, 3, 1, 9, 0, 0)
        .single()
        .expect("time");
    for id in ["a", "b"] {
        let create = IssueCommand::Create {
            issue_id: id.into(),
            title: format!("Issue {id}"),
            description: "As reported".into(),
            priority: Priority::Low,
            at,
        };
        run(events.as_ref(), id, create).await;
    }
    let update = |changes: Changes| IssueCommand::Update(changes);
    run(
        events.as_ref(),
        "a",
        update(Changes {
            title: Some("Crash on save".into()),
            assignee: Some(Some("ann".into())),
            state: Some(IssueState::InProgress),
            ..Changes::default()
        }),
    )
    .await;
    for (comment, body) in [("c1", "Seen on 1.2"), ("c2", "And on 1.3")] {
        let comment = IssueCommand::Comment {
            comment_id: comment.into(),
            body: body.into(),
        };
        run(events.as_ref(), "a", comment).await;
    }
    run(
        events.as_ref(),
        "b",
        update(Changes {
            priority: Some(Priority::High),
            description: Some("Worse than reported".into()),
            ..Changes::default()
        }),
    )
    .await;
    // A change to an issue that was never created (written around the decider).
    let ghost = IssueEvent::Retitled(TextChanged {
        issue_id: "ghost".into(),
        from: "Before".into(),
        to: "After".into(),
    });
    let ghost_at = events
        .append(
            &issue_stream("ghost").expect("stream"),
            ExpectedVersion::NoStream,
            vec![NewEvent::new(
                ghost.event_type(),
                ghost.encode().expect("encode"),
            )],
        )
        .await
        .expect("append the ghost")
        .first_position;
    run(
        events.as_ref(),
        "b",
        update(Changes {
            title: Some("Never projected".into()),
            ..Changes::default()
        }),
    )
    .await;

    let options = ProjectorOptions {
        retry: RetryPolicy {
            max_attempts: 1,
            initial_backoff: Duration::from_millis(10),
            max_backoff: Duration::from_millis(10),
        },
        ..ProjectorOptions::default()
    };
    let projector = Projector::new(events.clone(), options)
        .with_target(SqlTarget::typed(reads.clone(), IssuesProjection))
        .start(CancellationToken::new())
        .expect("start");
    let Err(WaitError::Stopped {
        stopped_at: position,
        error,
        ..
    }) = projector.wait_for(&ISSUES, ghost_at, patience()).await
    else {
        panic!("the projection did not stop at the ghost");
    };
    assert_eq!(position, ghost_at, "stopped at the ghost's event");
    assert!(error.contains("ghost"), "{error}");

    let (a, comments) = queries::issue(reads.as_ref(), "a")
        .await
        .expect("query")
        .expect("a is there");
    assert_eq!(
        (
            a.title.as_str(),
            a.state.as_str(),
            a.assignee.as_deref(),
            a.priority.as_str(),
            a.comment_count,
            a.version,
        ),
        ("Crash on save", "in_progress", Some("ann"), "low", 2, 6)
    );
    let bodies: Vec<&str> = comments.iter().map(|c| c.body.as_str()).collect();
    assert_eq!(bodies, ["Seen on 1.2", "And on 1.3"]);
    let (b, _) = queries::issue(reads.as_ref(), "b")
        .await
        .expect("query")
        .expect("b is there");
    assert_eq!(
        (
            b.title.as_str(),
            b.description.as_str(),
            b.priority.as_str(),
            b.version,
        ),
        ("Issue b", "Worse than reported", "high", 3),
        "what came after the ghost is not applied"
    );
    assert!(
        queries::issue(reads.as_ref(), "ghost")
            .await
            .expect("query")
            .is_none()
    );
    lists_page_by_page_with_and_without_filters(reads.as_ref()).await;
}

/// The list: an absent filter passes every issue, a given one narrows, and a cursor goes on
/// from the page before.
async fn lists_page_by_page_with_and_without_filters(reads: &dyn SqlReadStore) {
    let list = |filter: queries::IssueFilter, after: Option<queries::IssuesCursor>| async move {
        let (views, next) = queries::issues(reads, &filter, 1, after.as_ref())
            .await
            .expect("list");
        let ids: Vec<String> = views.into_iter().map(|v| v.id).collect();
        (ids, next)
    };
    let (first, next) = list(queries::IssueFilter::default(), None).await;
    let (second, last) = list(queries::IssueFilter::default(), next).await;
    let mut both = [first, second].concat();
    both.sort();
    assert_eq!(both, ["a", "b"]);
    assert!(last.is_none(), "two issues fill two pages of one");
    let high = queries::IssueFilter {
        priority: Some("high".into()),
        ..queries::IssueFilter::default()
    };
    assert_eq!(list(high, None).await.0, ["b"]);
    let ann_in_progress = queries::IssueFilter {
        state: Some("in_progress".into()),
        assignee: Some("ann".into()),
        ..queries::IssueFilter::default()
    };
    assert_eq!(list(ann_in_progress, None).await.0, ["a"]);
}

async fn run(events: &dyn EventStore, issue: &str, command: IssueCommand) {
    let stream = issue_stream(issue).expect("stream");
    execute(
        &IssueDecider,
        events,
        &stream,
        &command,
        &CommandOptions::default(),
    )
    .await
    .unwrap_or_else(|e| panic!("{command:?} failed: {e}"));
}
