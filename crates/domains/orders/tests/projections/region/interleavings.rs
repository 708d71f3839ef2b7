//! Each way a customer's registration and moves can fall around their orders' events: in
//! earlier or later batches, between an order's events, and inside one batch with them.

use projector_core::RecordedEvent;
use projector_orders::projections::ORDER_SUMMARY;
use projector_sql::SqlValue;

use super::{
    Fact, History, Summary, append, created, item_added, moved, moves, registered, reviewed,
};
use crate::helpers::{Service, at, item, place, text};

/// Appends `facts` and returns the events they became, in feed order.
async fn recorded(history: &History, facts: &[Fact]) -> Vec<RecordedEvent> {
    let before = history.recorded().await.len();
    history.append_all(facts).await;
    history.recorded().await.split_off(before)
}

fn region(name: &str) -> Option<String> {
    Some(name.to_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn orders_placed_before_registration_get_the_region_when_the_customer_registers() {
    let history = History::new();
    let mut summary = Summary::open().await;

    // c1 registers in a later batch; c2 in the same batch as its order, after it.
    let orders = [
        created("o1", "c1"),
        item_added("o1", 250),
        created("o2", "c2"),
    ];
    let batch = recorded(&history, &orders).await;
    let ran = summary.apply(&batch).await;
    assert!(moves(&ran).is_empty(), "nobody registered yet: {ran:?}");
    assert_eq!(summary.region_of("o1").await, None);
    assert_eq!(summary.region_of("o2").await, None);

    let batch = recorded(&history, &[registered("c1", "north")]).await;
    let ran = summary.apply(&batch).await;
    assert_eq!(
        moves(&ran).iter().map(|r| r.changed).collect::<Vec<_>>(),
        [1],
        "one statement gives c1's stored order its region"
    );
    assert_eq!(summary.region_of("o1").await, region("north"));
    assert_eq!(summary.region_of("o2").await, None, "c2 has not registered");

    let batch = recorded(
        &history,
        &[
            item_added("o2", 100),
            registered("c2", "west"),
            created("o3", "c2"),
        ],
    )
    .await;
    summary.apply(&batch).await;
    assert_eq!(
        summary.regions().await,
        [
            ("o1".into(), "c1".into(), region("north")),
            ("o2".into(), "c2".into(), region("west")),
            ("o3".into(), "c2".into(), region("west")),
        ]
    );
    let stored = summary
        .query(
            "SELECT customer_id, region FROM customer_regions ORDER BY customer_id",
            &[],
        )
        .await;
    let stored: Vec<&[SqlValue]> = stored.iter().map(|r| r.values()).collect();
    assert_eq!(
        stored,
        [[text("c1"), text("north")], [text("c2"), text("west")]]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_order_placed_after_registration_takes_the_region_the_customer_has_then() {
    let history = History::new();
    let mut summary = Summary::open().await;
    let batch = recorded(
        &history,
        &[registered("c1", "north"), moved("c1", "north", "south")],
    )
    .await;
    summary.apply(&batch).await;

    let batch = recorded(&history, &[created("o1", "c1"), created("o2", "stranger")]).await;
    let ran = summary.apply(&batch).await;
    assert!(
        moves(&ran).is_empty(),
        "nobody moved in this batch: {ran:?}"
    );
    assert_eq!(summary.region_of("o1").await, region("south"));
    assert_eq!(summary.region_of("o2").await, None, "never registered");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_move_between_an_orders_events_reaches_it_and_the_customers_other_orders() {
    let history = History::new();
    let mut summary = Summary::open().await;
    let first = [
        registered("c1", "north"),
        created("o1", "c1"),
        created("o2", "c1"),
        registered("c2", "west"),
        created("o3", "c2"),
    ];
    let batch = recorded(&history, &first).await;
    summary.apply(&batch).await;
    let batch = recorded(&history, &[item_added("o1", 500)]).await;
    summary.apply(&batch).await;
    assert_eq!(summary.region_of("o1").await, region("north"));

    let batch = recorded(&history, &[moved("c1", "north", "south"), reviewed("c1")]).await;
    let ran = summary.apply(&batch).await;
    assert_eq!(
        moves(&ran).iter().map(|r| r.changed).collect::<Vec<_>>(),
        [2],
        "one statement moves both of c1's orders: {ran:?}"
    );
    let batch = recorded(&history, &[item_added("o1", 700)]).await;
    summary.apply(&batch).await;
    assert_eq!(
        summary.regions().await,
        [
            ("o1".into(), "c1".into(), region("south")),
            ("o2".into(), "c1".into(), region("south")),
            ("o3".into(), "c2".into(), region("west")),
        ]
    );
    let total = summary
        .query(
            "SELECT total_cents FROM order_summary WHERE order_id = 'o1'",
            &[],
        )
        .await;
    assert_eq!(
        total[0].values(),
        [SqlValue::Int(1200)],
        "the order's own events still count"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn moves_and_order_events_in_one_batch_leave_every_row_at_the_last_region() {
    let history = History::new();
    let mut summary = Summary::open().await;
    let batch = recorded(
        &history,
        &[
            registered("c1", "north"),
            created("o1", "c1"),
            created("o2", "c1"),
            registered("c2", "west"),
            created("o9", "c2"),
        ],
    )
    .await;
    summary.apply(&batch).await;

    // o1 is stored and untouched by the batch; o2 changes before, between and after two moves;
    // o3 is placed between them.
    let batch = recorded(
        &history,
        &[
            item_added("o2", 100),
            moved("c1", "north", "south"),
            item_added("o2", 200),
            created("o3", "c1"),
            moved("c1", "south", "east"),
            item_added("o3", 300),
        ],
    )
    .await;
    let ran = summary.apply(&batch).await;
    let moved_rows: Vec<u64> = moves(&ran).iter().map(|r| r.changed).collect();
    assert_eq!(
        moved_rows,
        [2],
        "one statement for c1 however often they moved, over its stored orders: {ran:?}"
    );
    assert_eq!(
        summary.regions().await,
        [
            ("o1".into(), "c1".into(), region("east")),
            ("o2".into(), "c1".into(), region("east")),
            ("o3".into(), "c1".into(), region("east")),
            ("o9".into(), "c2".into(), region("west")),
        ]
    );
}

/// `(order, region)` of every order once the projector has caught up.
async fn projected_regions(service: &Service) -> Vec<Vec<SqlValue>> {
    service
        .rows(
            &ORDER_SUMMARY,
            "SELECT order_id, customer_region FROM order_summary ORDER BY order_id",
        )
        .await
}

/// The running projector reads customer streams beside order streams: a registration and a
/// move appended while it runs reach the orders placed through the decider.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_projector_follows_customer_streams_beside_order_streams() {
    let service = Service::start();
    service
        .run("a", place("a", "c1", vec![item("x", 1, 100)], at(1, 9)))
        .await;
    assert_eq!(
        projected_regions(&service).await,
        [vec![text("a"), SqlValue::Null]]
    );

    for fact in [registered("c1", "north"), moved("c1", "north", "south")] {
        append(service.events.as_ref(), &fact).await;
    }
    service
        .run("b", place("b", "c1", vec![item("y", 1, 100)], at(2, 9)))
        .await;
    assert_eq!(
        projected_regions(&service).await,
        [
            vec![text("a"), text("south")],
            vec![text("b"), text("south")]
        ]
    );
}
