//! A lease whose connection hangs (no FIN, no RST): the holder gives it up within the lease
//! timeout, and only after that does the database free it for a standby.

use std::time::Duration;

use projector_core::ProjectionName;
use projector_postgres::PgLeases;
use projector_testkit::postgres::TestDatabase;
use projector_testkit::proxy::Proxy;
use tokio::time::Instant;

const PROJECTION: ProjectionName = ProjectionName::from_static("order_summary");
/// The lease timeout `T` of both processes.
const TIMEOUT: Duration = Duration::from_millis(1_000);
/// How often the standby tries for the lease.
const RETRY: Duration = Duration::from_millis(50);
/// Leeway for a loaded machine on top of each bound.
const SLACK: Duration = Duration::from_millis(1_500);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hung_holder_gives_the_lease_up_before_a_standby_can_take_it() {
    let Some(database) = TestDatabase::create().await else {
        return;
    };
    let proxy = Proxy::start(database.url()).await;
    let holder = PgLeases::new(proxy.url())
        .expect("leases")
        .with_timeout(TIMEOUT)
        .with_heartbeat(Duration::from_millis(100));
    let standby = PgLeases::new(database.url())
        .expect("leases")
        .with_timeout(TIMEOUT)
        .with_retry(RETRY);
    let lease = holder
        .try_acquire(&PROJECTION)
        .await
        .expect("reachable")
        .expect("free");
    // A few heartbeats go through while the network works. This sleep stays: that the lease
    // outlives two timeouts untouched is the claim, and nothing else marks the time passing.
    tokio::time::sleep(TIMEOUT * 2).await;
    assert!(lease.is_held(), "a working lease was given up");
    assert!(
        standby
            .try_acquire(&PROJECTION)
            .await
            .expect("reachable")
            .is_none(),
        "the lease is held"
    );

    proxy.pause();
    let paused = Instant::now();
    let lost = lease.lost();
    let holder_gave_up = tokio::spawn(async move {
        lost.cancelled().await;
        Instant::now()
    });
    let standby_took = tokio::spawn(async move {
        let guard = standby.acquire(&PROJECTION).await;
        (Instant::now(), guard)
    });

    // The holder notices within T of its last answered heartbeat, so within T of the pause.
    let t1 = tokio::time::timeout(TIMEOUT + SLACK, holder_gave_up)
        .await
        .expect("the holder notices the hung connection within the lease timeout")
        .expect("task");
    assert!(!lease.is_held());
    // The database ends the silent session (2 T after the last heartbeat it got), which
    // frees the lease for the standby.
    let (t2, taken) = tokio::time::timeout(TIMEOUT * 2 + RETRY + SLACK, standby_took)
        .await
        .expect("the standby takes the lease over within twice the lease timeout")
        .expect("task");
    let taken = taken.expect("acquired");
    assert_ne!(taken.backend_pid(), lease.backend_pid());
    assert!(
        t1 < t2,
        "the standby took the lease {:?} after the pause, before the holder gave it up ({:?})",
        t2 - paused,
        t1 - paused
    );
    // Once the network works again, the old holder finds the lease taken.
    proxy.resume();
    let again = PgLeases::new(proxy.url()).expect("leases");
    assert!(
        again
            .try_acquire(&PROJECTION)
            .await
            .expect("reachable")
            .is_none()
    );
}
