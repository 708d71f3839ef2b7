//! The `products` projection end to end, on real SQLite files and on the real PostgreSQL:
//! commands through the decider, events through the projector, the read model checked row by
//! row, a rebuild that must match it, and an event for a product never created that stops the
//! projection there.

mod helpers;

use std::sync::Arc;
use std::time::Duration;

use projector_core::{DomainEvent, EventStore, ExpectedVersion, NewEvent};
use projector_products::events::{ProductEvent, ProductPriceChanged};
use projector_products::projections::{self, PRODUCTS, ProductsProjection};
use projector_products::queries::{self, ProductView};
use projector_products::{ProductChanges, ProductCommand, ProductId, product_stream};
use projector_runtime::{Projector, ProjectorOptions, RetryPolicy, WaitError};
use projector_sql::{SqlProjection, SqlReadStore, SqlTarget, SqlValue};
use projector_testkit::dump::{self, Dump};
use tokio_util::sync::CancellationToken;

use helpers::{Stores, at, create, patience, price, run, text};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_catalogue_lands_in_the_read_model_on_sqlite() {
    let stores = Stores::sqlite();
    a_catalogue_lands_in_the_read_model(&stores).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_catalogue_lands_in_the_read_model_on_postgres() {
    let Some(stores) = Stores::postgres().await else {
        return;
    };
    a_catalogue_lands_in_the_read_model(&stores).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_product_never_created_stops_the_projection_on_sqlite() {
    let stores = Stores::sqlite();
    a_product_never_created_stops_the_projection(&stores).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_product_never_created_stops_the_projection_on_postgres() {
    let Some(stores) = Stores::postgres().await else {
        return;
    };
    a_product_never_created_stops_the_projection(&stores).await;
}

/// Three products created, one renamed and retagged, one repriced twice, one deleted: the
/// rows, the typed view, and a rebuild from the first event that reproduces the table.
async fn a_catalogue_lands_in_the_read_model(stores: &Stores) {
    let events = stores.events.as_ref();
    run(
        events,
        create("lamp", "Desk lamp", "lighting", 2599, &["led", "desk"], 1),
    )
    .await;
    run(events, create("chair", "Chair", "furniture", 8900, &[], 2)).await;
    run(
        events,
        create("rug", "Rug", "furniture", 12000, &["wool"], 3),
    )
    .await;
    run(
        events,
        (
            "lamp",
            ProductCommand::Update {
                changes: ProductChanges {
                    name: Some("Desk lamp XL".into()),
                    description: Some("Warm light.\nTwo settings.".into()),
                    tags: Some(vec!["led".into(), "desk".into(), "dimmable".into()]),
                    ..ProductChanges::default()
                },
                at: at(4),
            },
        ),
    )
    .await;
    for (cents, minute) in [(1999, 5), (2199, 6)] {
        let change = ProductCommand::ChangePrice {
            price: price(cents),
            at: at(minute),
        };
        run(events, ("lamp", change)).await;
    }
    run(events, ("rug", ProductCommand::Delete { at: at(7) })).await;
    run(
        events,
        (
            "chair",
            ProductCommand::Update {
                changes: ProductChanges {
                    category: Some("office".into()),
                    ..ProductChanges::default()
                },
                at: at(8),
            },
        ),
    )
    .await;

    let projector = stores.start(ProjectorOptions::default());
    projector
        .wait_caught_up(patience())
        .await
        .expect("caught up");
    let rows = stores
        .rows(
            "SELECT product_id, name, category, price_cents, tags, version FROM products ORDER BY product_id",
        )
        .await;
    assert_eq!(
        rows,
        [
            vec![
                text("chair"),
                text("Chair"),
                text("office"),
                SqlValue::Int(8900),
                text("[]"),
                SqlValue::Int(2)
            ],
            vec![
                text("lamp"),
                text("Desk lamp XL"),
                text("lighting"),
                SqlValue::Int(2199),
                text(r#"["led","desk","dimmable"]"#),
                SqlValue::Int(4)
            ],
        ],
        "the deleted rug has no row"
    );

    let lamp = queries::product(stores.reads.as_ref(), "lamp")
        .await
        .expect("query")
        .expect("the lamp is there");
    assert_eq!(
        lamp,
        ProductView {
            id: "lamp".into(),
            name: "Desk lamp XL".into(),
            description: "Warm light.\nTwo settings.".into(),
            category: "lighting".into(),
            price: price(2199),
            tags: vec!["led".into(), "desk".into(), "dimmable".into()],
            version: 4,
            created_at: at(1),
            updated_at: at(6),
        },
        "created and updated when its first and last commands were decided"
    );
    for gone in ["rug", "never-made"] {
        assert_eq!(
            queries::product(stores.reads.as_ref(), gone)
                .await
                .expect("query"),
            None,
            "{gone}"
        );
    }

    // Every table the projection's schema creates, so a table added to it is compared too.
    let before = stores.dump().await;
    assert!(
        !dump::rows(&before, "products").is_empty(),
        "the dump holds the products"
    );
    let generation = projector.rebuild(&PRODUCTS).await.expect("rebuild");
    let mut status = projector.watch(&PRODUCTS).expect("watch");
    tokio::time::timeout(
        patience(),
        status.wait_for(|s| s.generation == Some(generation)),
    )
    .await
    .expect("the rebuild completes")
    .expect("the worker is alive");
    let after = stores.dump().await;
    assert_eq!(before, after, "a rebuild reproduces every table");
}

/// An event for a product the read model does not have (written around the decider) stops
/// the projection at that event, with what came before it applied and nothing after.
async fn a_product_never_created_stops_the_projection(stores: &Stores) {
    let events = stores.events.as_ref();
    run(events, create("before", "Before", "misc", 100, &[], 1)).await;
    let ghost = ProductEvent::PriceChanged(ProductPriceChanged {
        product_id: "ghost".into(),
        from_cents: price(100),
        to_cents: price(200),
        changed_at: at(2),
    });
    let ghost_id = ProductId::parse("ghost").expect("an id");
    let ghost_at = events
        .append(
            &product_stream(&ghost_id),
            ExpectedVersion::NoStream,
            vec![NewEvent::new(
                ghost.event_type(),
                ghost.encode().expect("encode"),
            )],
        )
        .await
        .expect("append the ghost")
        .first_position;
    run(events, create("after", "After", "misc", 300, &[], 3)).await;

    let projector = stores.start(ProjectorOptions {
        retry: RetryPolicy {
            max_attempts: 1,
            initial_backoff: Duration::from_millis(10),
            max_backoff: Duration::from_millis(10),
        },
        ..ProjectorOptions::default()
    });
    let Err(WaitError::Stopped {
        stopped_at, error, ..
    }) = projector.wait_for(&PRODUCTS, ghost_at, patience()).await
    else {
        panic!("the projection did not stop at the ghost");
    };
    assert_eq!(stopped_at, ghost_at, "stopped at the ghost's event");
    assert!(
        error
            .ends_with("ProductPriceChanged for product ghost, which the read model does not have"),
        "{error}"
    );
    let ids: Vec<Vec<SqlValue>> = stores
        .rows("SELECT product_id FROM products ORDER BY product_id")
        .await;
    assert_eq!(ids, [vec![text("before")]], "only what came first");
}

/// The stores as a projector over them sees them.
impl Stores {
    fn start(&self, options: ProjectorOptions) -> projector_runtime::ProjectorHandle {
        Projector::new(Arc::clone(&self.events) as Arc<dyn EventStore>, options)
            .with_target(SqlTarget::typed(
                Arc::clone(&self.reads) as Arc<dyn SqlReadStore>,
                ProductsProjection,
            ))
            .start(CancellationToken::new())
            .expect("start")
    }

    /// Every row of every table of the products read model.
    async fn dump(&self) -> Dump {
        let all = projections::all();
        let all: Vec<&dyn SqlProjection> = all.iter().map(|p| p.as_ref()).collect();
        dump::read_models(self.reads.as_ref(), &all).await
    }
}
