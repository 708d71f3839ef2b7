//! The write side as another domain reads it: [`load_product`] over a real SQLite store tells
//! a product never created, a live one and a deleted one apart.

use chrono::Utc;
use projector_core::{CommandOptions, EventStore, StreamVersion, execute};
use projector_products::{
    Price, ProductCommand, ProductDecider, ProductId, load_product, product_stream,
};

async fn run(store: &dyn EventStore, id: &ProductId, command: ProductCommand) {
    execute(
        &ProductDecider,
        store,
        &product_stream(id),
        &command,
        &CommandOptions::default(),
    )
    .await
    .unwrap_or_else(|e| panic!("{command:?} failed: {e}"));
}

#[tokio::test]
async fn another_domain_sees_whether_a_product_is_live() {
    let dir = projector_testkit::temp_dir();
    let store = projector_testkit::sqlite::event_store(dir.path());
    let store: &dyn EventStore = &store;
    let lamp = ProductId::parse("lamp").expect("an id");
    let (never, version) = load_product(store, &lamp).await.expect("load");
    assert!(!never.exists() && !never.is_live());
    assert_eq!(version, StreamVersion::NONE);

    let create = ProductCommand::Create {
        product_id: lamp.clone(),
        name: "Desk lamp".into(),
        description: String::new(),
        category: "lighting".into(),
        price: Price::from_cents(2599).expect("a price"),
        tags: vec![],
        at: Utc::now(),
    };
    run(store, &lamp, create).await;
    let (live, version) = load_product(store, &lamp).await.expect("load");
    assert!(live.is_live());
    assert_eq!(live.name, "Desk lamp");
    assert_eq!(version, StreamVersion::new(1));

    run(store, &lamp, ProductCommand::Delete { at: Utc::now() }).await;
    let (gone, version) = load_product(store, &lamp).await.expect("load");
    assert!(gone.exists() && !gone.is_live());
    assert_eq!(version, StreamVersion::new(2));
    // Another product's stream is another product.
    let other = ProductId::parse("lamp-2").expect("an id");
    assert!(!load_product(store, &other).await.expect("load").0.exists());
}
