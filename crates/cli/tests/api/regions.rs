//! An order shows the region its customer lives in now: customer events appended straight to
//! the event store (as another service would record them) reach every order of theirs.
//!
//! On PostgreSQL the events are appended while the server runs; on SQLite, which one process
//! appends to at a time, between a stop and a restart on the same data.

use projector_core::{DomainEvent, EventAppender, EventMetadata, EventSet, ExpectedVersion};
use projector_customers::CustomerEvent;
use projector_customers::events::{CustomerMoved, CustomerRegistered};
use projector_postgres::{PgEventStore, PgEventStoreOptions};
use serde_json::Value;

use crate::helpers::{Server, Storage};

fn registered(customer: &str, region: &str) -> CustomerEvent {
    CustomerEvent::Registered(CustomerRegistered {
        customer_id: customer.into(),
        email: format!("{customer}@example.com"),
        name: "Robin".into(),
        region: region.into(),
        registered_at: chrono::Utc::now(),
    })
}

fn moved(customer: &str, from: &str, region: &str) -> CustomerEvent {
    CustomerEvent::Moved(CustomerMoved {
        customer_id: customer.into(),
        from: from.into(),
        region: region.into(),
        moved_at: chrono::Utc::now(),
    })
}

/// Appends `event` to its customer's stream through the event store of `server`'s storage,
/// returning the server to read from and the event's position.
async fn append(mut server: Server, event: &CustomerEvent) -> (Server, u64) {
    let stream = CustomerEvent::stream(event.customer_id()).expect("a stream id");
    let new = event
        .to_new_event(&EventMetadata::default())
        .expect("encodes");
    if let Storage::Postgres(database, _) = server.storage() {
        let events = PgEventStore::connect(database.url(), PgEventStoreOptions::default())
            .await
            .expect("the server's event store");
        let appended = events
            .append(&stream, ExpectedVersion::Any, vec![new])
            .await
            .expect("appended");
        events.close().await;
        return (server, appended.last_position.get());
    }
    let storage = server.keep_storage();
    let Storage::Sqlite(dir) = &storage else {
        unreachable!("PostgreSQL appends above")
    };
    assert!(server.terminate(), "a clean exit on SIGTERM");
    let events = projector_testkit::sqlite::event_store(&dir.path().join("data"));
    let appended = events
        .append(&stream, ExpectedVersion::Any, vec![new])
        .await
        .expect("appended");
    events.close().await;
    // The store holds its lock until dropped: the server takes it again.
    drop(events);
    (
        Server::start_with(storage).await,
        appended.last_position.get(),
    )
}

#[track_caller]
fn region(order: &Value) -> &Value {
    order
        .as_object()
        .and_then(|o| o.get("customer_region"))
        .unwrap_or_else(|| panic!("no customer_region in {order}"))
}

pub async fn an_orders_customer_region_follows_registration_and_moves() {
    let server = Server::start().await;
    let placed = server.place("r1", "robin", &[("sku-1", 1, 9.5)]).await;
    assert_eq!(
        region(&server.order("r1", placed).await),
        &Value::Null,
        "unknown until the customer registers"
    );

    let (server, at) = append(server, &registered("robin", "Ontario")).await;
    assert_eq!(region(&server.order("r1", at).await), "Ontario");
    let placed = server.place("r2", "robin", &[("sku-2", 2, 1.25)]).await;
    assert_eq!(region(&server.order("r2", placed).await), "Ontario");
    let stranger = server.place("r3", "sam", &[("sku-3", 1, 3.0)]).await;

    let (server, at) = append(server, &moved("robin", "Ontario", "Quebec")).await;
    for order in ["r1", "r2"] {
        let order = server.order(order, at.max(stranger)).await;
        assert_eq!(region(&order), "Quebec", "{order}");
        assert_eq!(order["customer_id"], "robin");
    }
    assert_eq!(
        region(&server.order("r3", at).await),
        &Value::Null,
        "another customer's order"
    );
}
