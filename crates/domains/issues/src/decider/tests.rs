//! Given/when/then tests of the issue decider: no store, no I/O.

use chrono::{TimeZone, Utc};
use projector_testkit::harness::given;

use super::*;

fn created() -> IssueEvent {
    IssueEvent::Created(IssueCreated {
        issue_id: "i1".into(),
        title: "Login fails".into(),
        description: "On Safari".into(),
        priority: Priority::High,
        created_at: Utc
            .with_ymd_and_hms(2026, 5, 1, 9, 0, 0)
            .single()
            .expect("time"),
    })
}

fn moved(from: IssueState, to: IssueState) -> IssueEvent {
    IssueEvent::StateChanged(StateChanged {
        issue_id: "i1".into(),
        from,
        to,
    })
}

fn update(changes: Changes) -> IssueCommand {
    IssueCommand::Update(changes)
}

#[test]
fn creating_opens_the_issue() {
    let IssueEvent::Created(c) = created() else {
        unreachable!()
    };
    given(&IssueDecider, [])
        .when(&IssueCommand::Create {
            issue_id: c.issue_id.clone(),
            title: c.title.clone(),
            description: c.description.clone(),
            priority: c.priority,
            at: c.created_at,
        })
        .then([created()]);
    given(&IssueDecider, [created()])
        .when(&IssueCommand::Create {
            issue_id: "i1".into(),
            title: "again".into(),
            description: String::new(),
            priority: Priority::Low,
            at: c.created_at,
        })
        .then_refused(|e| *e == IssueError::AlreadyExists);
}

#[test]
fn one_event_per_changed_field_and_none_for_unchanged_ones() {
    given(&IssueDecider, [created()])
        .when(&update(Changes {
            title: Some("Login fails on Safari".into()),
            description: Some("On Safari".into()),
            priority: Some(Priority::Critical),
            state: Some(IssueState::InProgress),
            assignee: Some(Some("bob".into())),
        }))
        .then([
            IssueEvent::Retitled(TextChanged {
                issue_id: "i1".into(),
                from: "Login fails".into(),
                to: "Login fails on Safari".into(),
            }),
            IssueEvent::PriorityChanged(PriorityChanged {
                issue_id: "i1".into(),
                from: Priority::High,
                to: Priority::Critical,
            }),
            moved(IssueState::Open, IssueState::InProgress),
            IssueEvent::Assigned(IssueAssigned {
                issue_id: "i1".into(),
                from: None,
                to: Some("bob".into()),
            }),
        ]);
    given(&IssueDecider, [created()])
        .when(&update(Changes {
            title: Some("Login fails".into()),
            priority: Some(Priority::High),
            state: Some(IssueState::Open),
            assignee: Some(None),
            ..Changes::default()
        }))
        .then_nothing();
    given(&IssueDecider, [created()])
        .when(&update(Changes::default()))
        .then_nothing();
}

#[test]
fn the_lifecycle_is_enforced() {
    use IssueState::{Closed, InProgress, Open, Resolved};
    given(&IssueDecider, [created()])
        .when(&update(Changes {
            state: Some(Resolved),
            ..Changes::default()
        }))
        .then_refused(|e| {
            *e == IssueError::InvalidTransition {
                from: Open,
                to: Resolved,
            }
        });
    let closed = [
        created(),
        moved(Open, InProgress),
        moved(InProgress, Resolved),
        moved(Resolved, Closed),
    ];
    given(&IssueDecider, closed.clone())
        .when(&update(Changes {
            state: Some(InProgress),
            ..Changes::default()
        }))
        .then_refused(|e| {
            *e == IssueError::InvalidTransition {
                from: Closed,
                to: InProgress,
            }
        });
    given(&IssueDecider, closed)
        .when(&update(Changes {
            state: Some(Open),
            ..Changes::default()
        }))
        .then([moved(Closed, Open)]);
    given(&IssueDecider, [created(), moved(Open, InProgress)])
        .when(&update(Changes {
            state: Some(Open),
            ..Changes::default()
        }))
        .then([moved(InProgress, Open)]);
}

#[test]
fn a_refused_state_change_refuses_the_whole_update() {
    given(&IssueDecider, [created()])
        .when(&update(Changes {
            title: Some("new".into()),
            state: Some(IssueState::Closed),
            ..Changes::default()
        }))
        .then_refused(|e| matches!(e, IssueError::InvalidTransition { .. }));
}

#[test]
fn comments_and_missing_issues() {
    given(&IssueDecider, [created()])
        .when(&IssueCommand::Comment {
            comment_id: "c1".into(),
            body: "me too".into(),
        })
        .then([IssueEvent::CommentAdded(CommentAdded {
            issue_id: "i1".into(),
            comment_id: "c1".into(),
            body: "me too".into(),
        })]);
    given(&IssueDecider, [])
        .when(&IssueCommand::Comment {
            comment_id: "c1".into(),
            body: "hello?".into(),
        })
        .then_refused(|e| *e == IssueError::NotFound);
    given(&IssueDecider, [])
        .when(&update(Changes::default()))
        .then_refused(|e| *e == IssueError::NotFound);
}

fn comment(n: u32) -> IssueEvent {
    IssueEvent::CommentAdded(CommentAdded {
        issue_id: "i1".into(),
        comment_id: format!("c{n}"),
        body: "me too".into(),
    })
}

#[test]
fn an_issue_holds_a_bounded_number_of_comments_and_changes() {
    let add = IssueCommand::Comment {
        comment_id: "last".into(),
        body: "one more".into(),
    };
    let almost: Vec<IssueEvent> = std::iter::once(created())
        .chain((1..MAX_COMMENTS).map(comment))
        .collect();
    given(&IssueDecider, almost.clone())
        .when(&add)
        .then([IssueEvent::CommentAdded(CommentAdded {
            issue_id: "i1".into(),
            comment_id: "last".into(),
            body: "one more".into(),
        })]);
    let full: Vec<IssueEvent> = almost.into_iter().chain([comment(0)]).collect();
    given(&IssueDecider, full.clone())
        .when(&add)
        .then_refused(|e| *e == IssueError::TooManyComments { max: MAX_COMMENTS });
    // Other changes go on until the stream itself is full.
    let flips = (full.len() as u32..MAX_CHANGES).map(|n| {
        if n % 2 == 0 {
            moved(IssueState::Open, IssueState::InProgress)
        } else {
            moved(IssueState::InProgress, IssueState::Open)
        }
    });
    let at_cap: Vec<IssueEvent> = full.into_iter().chain(flips).collect();
    assert_eq!(at_cap.len() as u32, MAX_CHANGES);
    given(&IssueDecider, at_cap)
        .when(&update(Changes {
            title: Some("Renamed".into()),
            ..Changes::default()
        }))
        .then_refused(|e| *e == IssueError::TooManyChanges { max: MAX_CHANGES });
}
