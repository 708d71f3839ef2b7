//! Projection leases: one holder at a time, taken over when the holder's session dies.

use std::time::Duration;

use projector_core::ProjectionName;
use projector_postgres::PgLeases;
use projector_testkit::postgres::TestDatabase;
use tokio_postgres::NoTls;

const PROJECTION: ProjectionName = ProjectionName::from_static("order_summary");

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_holder_at_a_time_and_takeover_when_it_dies() {
    let Some(database) = TestDatabase::create().await else {
        return;
    };
    let leases = PgLeases::new(database.url())
        .expect("leases")
        .with_retry(Duration::from_millis(50))
        .with_heartbeat(Duration::from_millis(100));

    let first = leases
        .try_acquire(&PROJECTION)
        .await
        .expect("reachable")
        .expect("free");
    assert!(
        leases
            .try_acquire(&PROJECTION)
            .await
            .expect("reachable")
            .is_none()
    );
    let other = ProjectionName::from_static("daily_sales");
    let unrelated = leases.try_acquire(&other).await.expect("reachable");
    assert!(
        unrelated.is_some(),
        "leases of other projections are independent"
    );

    // A second process waits while the first holds the lease.
    let waiting = {
        let leases = leases.clone();
        tokio::spawn(async move { leases.acquire(&PROJECTION).await })
    };
    // This sleep stays: that the waiter gets nothing over several of its retries is the claim.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!waiting.is_finished(), "acquired a held lease");

    // The holder's session dies (an operator kills it, or its process crashes): the lease
    // passes to the waiter, and the old holder learns it lost it.
    let lost = first.lost();
    let (admin, connection) = tokio_postgres::connect(database.url(), NoTls)
        .await
        .expect("admin");
    tokio::spawn(connection);
    admin
        .execute("SELECT pg_terminate_backend($1)", &[&first.backend_pid()])
        .await
        .expect("terminate");
    let second = tokio::time::timeout(Duration::from_secs(10), waiting)
        .await
        .expect("taken over")
        .expect("task")
        .expect("acquired");
    assert_ne!(second.backend_pid(), first.backend_pid());
    tokio::time::timeout(Duration::from_secs(5), lost.cancelled())
        .await
        .expect("the old holder is told");
    assert!(!first.is_held());
    assert!(second.is_held());

    // Dropping a guard ends its session, which frees the lease; releasing frees it at once.
    drop(second);
    let third = leases.acquire(&PROJECTION).await.expect("free again");
    third.release().await.expect("release");
    let fourth = leases.try_acquire(&PROJECTION).await.expect("reachable");
    assert!(fourth.is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_holder_of_a_lease_is_named_by_its_label() {
    let Some(database) = TestDatabase::create().await else {
        return;
    };
    let holder = PgLeases::new(database.url())
        .expect("leases")
        .with_label("projector serve http://127.0.0.1:8080 pid 42");
    let observer = PgLeases::new(database.url()).expect("leases");
    let other = ProjectionName::from_static("daily_sales");
    let both = [PROJECTION, other.clone()];
    assert!(
        observer.holders(&both).await.expect("reachable").is_empty(),
        "nobody holds a lease yet"
    );

    let lease = holder
        .try_acquire(&PROJECTION)
        .await
        .expect("reachable")
        .expect("free");
    let holders = observer.holders(&both).await.expect("reachable");
    assert_eq!(holders.len(), 1, "{holders:?}");
    let named = &holders[&PROJECTION];
    assert_eq!(named.backend_pid, lease.backend_pid());
    assert_eq!(
        named.application_name.as_deref(),
        Some("projector serve http://127.0.0.1:8080 pid 42")
    );
    assert!(named.since.is_some());
    assert!(
        named
            .to_string()
            .contains("projector serve http://127.0.0.1:8080"),
        "{named}"
    );

    lease.release().await.expect("release");
    assert!(
        observer.holders(&both).await.expect("reachable").is_empty(),
        "a released lease has no holder"
    );
}

/// Members of a partitioned projection's group are counted by their shared locks, each
/// membership once, apart from the leases; a membership left or dead is no longer counted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn group_members_are_counted_and_the_held_partitions_listed() {
    let Some(database) = TestDatabase::create().await else {
        return;
    };
    let leases = PgLeases::new(database.url())
        .expect("leases")
        .with_heartbeat(Duration::from_millis(100));
    let partitions = [
        ProjectionName::from_static("order_summary_p0of2"),
        ProjectionName::from_static("order_summary_p1of2"),
    ];
    let first = leases
        .join_group(&PROJECTION)
        .await
        .expect("reachable")
        .expect("joined");
    let survey = first.survey(&partitions).await.expect("survey");
    assert_eq!((survey.members, survey.held), (1, vec![false, false]));

    let second = leases
        .join_group(&PROJECTION)
        .await
        .expect("reachable")
        .expect("joined");
    let lease = leases
        .try_acquire(&partitions[1])
        .await
        .expect("reachable")
        .expect("a membership does not take a partition's lease");
    let other_group = leases
        .join_group(&ProjectionName::from_static("daily_sales"))
        .await
        .expect("reachable")
        .expect("joined");
    let survey = first.survey(&partitions).await.expect("survey");
    assert_eq!((survey.members, survey.held), (2, vec![false, true]));

    drop(lease);
    drop(other_group);
    drop(second);
    projector_testkit::wait::eventually("the left member and the lease gone", || async {
        let survey = first.survey(&partitions).await.expect("survey");
        if (survey.members, &survey.held) == (1, &vec![false, false]) {
            Ok(())
        } else {
            Err(survey)
        }
    })
    .await;

    // Its session terminated, a membership says so rather than counting on.
    let (admin, connection) = tokio_postgres::connect(database.url(), NoTls)
        .await
        .expect("admin");
    tokio::spawn(connection);
    admin
        .execute(
            "SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory' AND mode = 'ShareLock'",
            &[],
        )
        .await
        .expect("terminate");
    projector_testkit::wait::eventually("the dead membership refused", || async {
        let lost = <projector_postgres::PgMembership as projector_core::Membership>::survey(
            &first,
            &partitions,
        )
        .await;
        if lost.is_err() { Ok(()) } else { Err(lost) }
    })
    .await;
}
