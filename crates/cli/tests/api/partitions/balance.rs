//! Partitions spread over the servers sharing them on PostgreSQL: a server started later gets
//! its share from the first, the spread then holds still, the survivor of a SIGKILL runs every
//! partition, and a server started after that gets its share again.

use std::time::{Duration, Instant};

use projector_testkit::wait::{eventually, eventually_within};

use super::failover::{TAKEOVER, held, running_count};
use crate::helpers::Server;

/// How long after a second server starts the partitions may take to spread: the README says
/// within a second or so per partition handed over; the rest is slack for a loaded machine.
const SPREAD: Duration = Duration::from_secs(15);

/// Waits until `a` runs `want_a` of the 4 partitions and `b` the others, each partition run
/// by exactly one of them; returns which partitions `a` runs.
async fn wait_spread(a: &Server, b: &Server, want_a: usize) -> Vec<bool> {
    eventually_within(
        "the partitions spread over both servers",
        SPREAD,
        || async {
            let (x, y) = (held(a).await, held(b).await);
            let runs_a: Vec<bool> = x.iter().map(|(_, state, _)| state != "standby").collect();
            let runs_b: Vec<bool> = y.iter().map(|(_, state, _)| state != "standby").collect();
            let one_each =
                x.len() == 4 && y.len() == 4 && runs_a.iter().zip(&runs_b).all(|(p, q)| p != q);
            if one_each && running_count(&x) == want_a {
                Ok(runs_a)
            } else {
                Err((x, y))
            }
        },
    )
    .await
}

/// `order_summary=4` on two servers: the first alone runs all four; the second, started
/// later, gets two of them and the spread holds still; killed with SIGKILL, the second's
/// partitions pass back to the first; a third server started then gets two again.
pub async fn a_later_server_gets_its_share_of_the_partitions_and_a_survivor_takes_them_all() {
    let Some(database) = projector_testkit::postgres::TestDatabase::create().await else {
        return;
    };
    let args = ["--partitions", "order_summary=4"];
    let first = Server::start_on_database_with_args(database.url(), &args).await;
    first.ready().await;
    eventually("the first server alone runs every partition", || async {
        let now = held(&first).await;
        if now.len() == 4 && running_count(&now) == 4 {
            Ok(())
        } else {
            Err(now)
        }
    })
    .await;

    let second = Server::start_on_database_with_args(database.url(), &args).await;
    second.ready().await;
    let started = Instant::now();
    let spread = wait_spread(&first, &second, 2).await;
    eprintln!(
        "spread after {:?}: first runs {spread:?}",
        started.elapsed()
    );

    // No partition passes back and forth once spread: watched over several retry intervals.
    let watched = Instant::now();
    while watched.elapsed() < Duration::from_secs(4) {
        assert_eq!(
            wait_spread(&first, &second, 2).await,
            spread,
            "a partition moved after the spread"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    second.kill();
    eventually_within(
        "the survivor to run all four partitions",
        TAKEOVER,
        || async {
            let now = held(&first).await;
            if running_count(&now) == 4 {
                Ok(())
            } else {
                Err(now)
            }
        },
    )
    .await;

    let third = Server::start_on_database_with_args(database.url(), &args).await;
    third.ready().await;
    wait_spread(&first, &third, 2).await;
}
