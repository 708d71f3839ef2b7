//! Schema evolution on a real store: `IssueCreated` v1 events, written before issues had a
//! priority, are read as v2 with priority `medium` by the decider and by a rebuild.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use projector_core::{
    CommandOptions, DomainEvent, EventAppender, EventStore, EventType, ExpectedVersion,
    JsonPayload, NewEvent, ReadDirection, StreamReader, StreamVersion, execute,
};
use projector_issues::events::IssueEvent;
use projector_issues::{
    Changes, IssueCommand, IssueDecider, Priority, issue_stream, projections, queries,
};
use projector_runtime::{Projector, ProjectorOptions};
use projector_sql::{SqlReadStore, SqlTarget};
use tokio_util::sync::CancellationToken;

/// An `IssueCreated` exactly as version 1 of the schema wrote it.
fn created_v1(issue_id: &str) -> NewEvent {
    let payload = serde_json::json!({
        "issue_id": issue_id,
        "title": "Crash on save",
        "description": "Since 1.2",
        "created_at": "2025-01-10T08:00:00Z",
    });
    NewEvent::new(
        EventType::from_static("IssueCreated"),
        JsonPayload::encode(&payload).expect("json"),
    )
    .with_schema_version(1)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn old_events_read_as_the_new_shape_by_the_decider_and_by_a_rebuild() {
    let dir = projector_testkit::temp_dir();
    let store = Arc::new(projector_testkit::sqlite::event_store(dir.path()));
    let stream = issue_stream("legacy-1").expect("valid");
    store
        .append(
            &stream,
            ExpectedVersion::NoStream,
            vec![created_v1("legacy-1")],
        )
        .await
        .expect("append v1");

    // The stored event stays v1; reading it gives v2.
    let stored = store
        .read_stream(&stream, StreamVersion::new(1), ReadDirection::Forwards, 10)
        .await
        .expect("read");
    assert_eq!(stored[0].schema_version, 1);
    match IssueEvent::decode(&stored[0]).expect("decodes") {
        IssueEvent::Created(created) => assert_eq!(created.priority, Priority::Medium),
        other => panic!("expected IssueCreated, got {other:?}"),
    }

    // The decider sees medium: asking for medium changes nothing, asking for high records
    // the change from medium.
    let events: &dyn EventStore = store.as_ref();
    let update = |priority| {
        IssueCommand::Update(Changes {
            priority: Some(priority),
            ..Changes::default()
        })
    };
    let unchanged = execute(
        &IssueDecider,
        events,
        &stream,
        &update(Priority::Medium),
        &CommandOptions::default(),
    )
    .await
    .expect("no-op");
    assert!(unchanged.events.is_empty());
    let changed = execute(
        &IssueDecider,
        events,
        &stream,
        &update(Priority::High),
        &CommandOptions::default(),
    )
    .await
    .expect("change");
    let [IssueEvent::PriorityChanged(change)] = changed.events.as_slice() else {
        panic!("expected one PriorityChanged, got {:?}", changed.events);
    };
    assert_eq!((change.from, change.to), (Priority::Medium, Priority::High));

    // A new issue is written as v2.
    let fresh = issue_stream("fresh-1").expect("valid");
    let create = IssueCommand::Create {
        issue_id: "fresh-1".into(),
        title: "New".into(),
        description: String::new(),
        priority: Priority::Low,
        at: Utc::now(),
    };
    execute(
        &IssueDecider,
        events,
        &fresh,
        &create,
        &CommandOptions::default(),
    )
    .await
    .expect("create");
    let fresh_events = store
        .read_stream(&fresh, StreamVersion::new(1), ReadDirection::Forwards, 10)
        .await
        .expect("read");
    assert_eq!(fresh_events[0].schema_version, 2);

    // A rebuild from the first event reads both shapes.
    let reads = Arc::new(projector_testkit::sqlite::read_store(dir.path()));
    let mut projector = Projector::new(store.clone(), ProjectorOptions::default());
    for projection in projections::all() {
        projector = projector.with_target(SqlTarget::new(
            reads.clone() as Arc<dyn SqlReadStore>,
            projection,
        ));
    }
    let handle = projector.start(CancellationToken::new()).expect("start");
    handle
        .wait_caught_up(Duration::from_secs(20))
        .await
        .expect("caught up");
    let (legacy, _) = queries::issue(reads.as_ref(), "legacy-1")
        .await
        .expect("query")
        .expect("projected");
    assert_eq!(legacy.priority, "high");
    assert_eq!(legacy.title, "Crash on save");
    let history = queries::history(reads.as_ref(), "legacy-1", 0, 1000)
        .await
        .expect("history");
    let changes: Vec<(&str, Option<&str>, Option<&str>)> = history
        .iter()
        .map(|h| (h.change.as_str(), h.from.as_deref(), h.to.as_deref()))
        .collect();
    assert_eq!(
        changes,
        [
            ("created", None, Some("Crash on save")),
            ("priority_changed", Some("medium"), Some("high"))
        ]
    );
}
