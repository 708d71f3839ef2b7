//! Given/when/then tests of the product decider: no store, no I/O.

use chrono::{DateTime, TimeZone, Utc};
use projector_testkit::harness::given;

use super::*;
use crate::limits::{NAME_MAX, TAGS_MAX};

fn at(minute: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 6, 1, 9, minute, 0)
        .single()
        .expect("valid time")
}

fn cents(c: i64) -> Price {
    Price::from_cents(c).expect("a price")
}

fn tags(list: &[&str]) -> Vec<String> {
    list.iter().map(|t| (*t).to_owned()).collect()
}

fn create() -> ProductCommand {
    ProductCommand::Create {
        product_id: ProductId::parse("lamp-1").expect("an id"),
        name: "Desk lamp".into(),
        description: "Warm light".into(),
        category: "lighting".into(),
        price: cents(2599),
        tags: tags(&["led", "desk"]),
        at: at(0),
    }
}

fn created() -> ProductEvent {
    ProductEvent::Created(ProductCreated {
        product_id: "lamp-1".into(),
        name: "Desk lamp".into(),
        description: "Warm light".into(),
        category: "lighting".into(),
        price_cents: cents(2599),
        tags: tags(&["led", "desk"]),
        created_at: at(0),
    })
}

fn deleted() -> ProductEvent {
    ProductEvent::Deleted(ProductDeleted {
        product_id: "lamp-1".into(),
        deleted_at: at(5),
    })
}

fn update(changes: ProductChanges) -> ProductCommand {
    ProductCommand::Update { changes, at: at(1) }
}

fn change_price(c: i64) -> ProductCommand {
    ProductCommand::ChangePrice {
        price: cents(c),
        at: at(2),
    }
}

#[test]
fn creating_records_the_product() {
    given(&ProductDecider, []).when(&create()).then([created()]);
}

#[test]
fn creating_twice_is_refused_even_after_a_delete() {
    given(&ProductDecider, [created()])
        .when(&create())
        .then_refused(|e| *e == ProductError::AlreadyExists);
    given(&ProductDecider, [created(), deleted()])
        .when(&create())
        .then_refused(|e| *e == ProductError::AlreadyExists);
}

#[test]
fn a_creation_past_a_limit_names_the_field() {
    let with = |edit: fn(&mut ProductCommand)| {
        let mut command = create();
        edit(&mut command);
        command
    };
    let cases: [(ProductCommand, &str); 6] = [
        (
            with(|c| {
                if let ProductCommand::Create { name, .. } = c {
                    *name = "n".repeat(NAME_MAX + 1);
                }
            }),
            "name",
        ),
        (
            with(|c| {
                if let ProductCommand::Create { name, .. } = c {
                    *name = "  ".into();
                }
            }),
            "name",
        ),
        (
            with(|c| {
                if let ProductCommand::Create { description, .. } = c {
                    *description = "bell\u{7}".into();
                }
            }),
            "description",
        ),
        (
            with(|c| {
                if let ProductCommand::Create { category, .. } = c {
                    *category = "Garden Tools".into();
                }
            }),
            "category",
        ),
        (
            with(|c| {
                if let ProductCommand::Create { tags: t, .. } = c {
                    *t = tags(&["led", "led"]);
                }
            }),
            "tags[1]",
        ),
        (
            with(|c| {
                if let ProductCommand::Create { tags: t, .. } = c {
                    *t = (0..=TAGS_MAX).map(|i| format!("t{i}")).collect();
                }
            }),
            "tags",
        ),
    ];
    for (command, field) in cases {
        given(&ProductDecider, [])
            .when(&command)
            .then_refused(|e| matches!(e, ProductError::Invalid { field: f, .. } if f == field));
    }
}

#[test]
fn commands_on_a_missing_product_are_not_found() {
    for command in [
        update(ProductChanges {
            name: Some("x".into()),
            ..ProductChanges::default()
        }),
        change_price(100),
        ProductCommand::Delete { at: at(1) },
    ] {
        given(&ProductDecider, [])
            .when(&command)
            .then_refused(|e| *e == ProductError::NotFound);
    }
}

#[test]
fn an_update_records_only_the_fields_that_change() {
    given(&ProductDecider, [created()])
        .when(&update(ProductChanges {
            name: Some("Desk lamp".into()),
            description: Some("Warm light, two settings".into()),
            category: Some("lighting".into()),
            tags: Some(vec![]),
        }))
        .then([ProductEvent::Updated(ProductUpdated {
            product_id: "lamp-1".into(),
            name: None,
            description: Some("Warm light, two settings".into()),
            category: None,
            tags: Some(vec![]),
            updated_at: at(1),
        })]);
}

#[test]
fn an_update_that_changes_nothing_is_refused() {
    given(&ProductDecider, [created()])
        .when(&update(ProductChanges::default()))
        .then_refused(|e| *e == ProductError::NothingChanged);
    given(&ProductDecider, [created()])
        .when(&update(ProductChanges {
            name: Some("Desk lamp".into()),
            tags: Some(tags(&["led", "desk"])),
            ..ProductChanges::default()
        }))
        .then_refused(|e| *e == ProductError::NothingChanged);
    given(&ProductDecider, [created()])
        .when(&update(ProductChanges {
            category: Some("Not A Slug".into()),
            ..ProductChanges::default()
        }))
        .then_refused(|e| matches!(e, ProductError::Invalid { field, .. } if field == "category"));
}

#[test]
fn a_price_change_records_the_old_and_new_price() {
    given(&ProductDecider, [created()])
        .when(&change_price(1999))
        .then([ProductEvent::PriceChanged(ProductPriceChanged {
            product_id: "lamp-1".into(),
            from_cents: cents(2599),
            to_cents: cents(1999),
            changed_at: at(2),
        })]);
    let changed = ProductEvent::PriceChanged(ProductPriceChanged {
        product_id: "lamp-1".into(),
        from_cents: cents(2599),
        to_cents: cents(1999),
        changed_at: at(2),
    });
    given(&ProductDecider, [created(), changed.clone()])
        .when(&change_price(2599))
        .then([ProductEvent::PriceChanged(ProductPriceChanged {
            product_id: "lamp-1".into(),
            from_cents: cents(1999),
            to_cents: cents(2599),
            changed_at: at(2),
        })]);
    given(&ProductDecider, [created(), changed])
        .when(&change_price(1999))
        .then_refused(|e| *e == ProductError::SamePrice { price: cents(1999) });
}

#[test]
fn a_deleted_product_takes_no_more_commands() {
    given(&ProductDecider, [created()])
        .when(&ProductCommand::Delete { at: at(5) })
        .then([deleted()]);
    for (command, action) in [
        (
            update(ProductChanges {
                name: Some("Back".into()),
                ..ProductChanges::default()
            }),
            "update",
        ),
        (change_price(100), "change the price of"),
        (ProductCommand::Delete { at: at(6) }, "delete"),
    ] {
        given(&ProductDecider, [created(), deleted()])
            .when(&command)
            .then_refused(|e| *e == ProductError::Deleted { action });
    }
}

#[test]
fn the_folded_product_says_whether_it_is_live() {
    let never = ProductDecider.fold(&[]);
    assert!(!never.exists() && !never.is_live());
    let live = ProductDecider.fold(&[created()]);
    assert!(live.exists() && live.is_live());
    assert_eq!(live.price, Some(cents(2599)));
    assert_eq!(live.tags, tags(&["led", "desk"]));
    let gone = ProductDecider.fold(&[created(), deleted()]);
    assert!(gone.exists() && !gone.is_live());
}

#[test]
fn a_product_takes_at_most_its_number_of_changes() {
    let flip = |i: u32| {
        ProductEvent::PriceChanged(ProductPriceChanged {
            product_id: "lamp-1".into(),
            from_cents: cents(if i.is_multiple_of(2) { 2599 } else { 1999 }),
            to_cents: cents(if i.is_multiple_of(2) { 1999 } else { 2599 }),
            changed_at: at(3),
        })
    };
    let mut history = vec![created()];
    history.extend((0..EVENTS_MAX - 2).map(flip));
    // One change short of the cap: the last one is taken.
    given(&ProductDecider, history.clone())
        .when(&change_price(100))
        .then([ProductEvent::PriceChanged(ProductPriceChanged {
            product_id: "lamp-1".into(),
            from_cents: cents(2599),
            to_cents: cents(100),
            changed_at: at(2),
        })]);
    history.push(flip(EVENTS_MAX - 2));
    given(&ProductDecider, history.clone())
        .when(&change_price(100))
        .then_refused(|e| *e == ProductError::TooManyChanges);
    // A product at the cap can still be deleted: that is its last event.
    given(&ProductDecider, history)
        .when(&ProductCommand::Delete { at: at(9) })
        .then([ProductEvent::Deleted(ProductDeleted {
            product_id: "lamp-1".into(),
            deleted_at: at(9),
        })]);
}
