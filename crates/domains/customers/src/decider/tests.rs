//! Given/when/then tests of the customer decider: no store, no I/O.

use chrono::{DateTime, TimeZone, Utc};
use projector_testkit::harness::given;

use super::*;
use crate::limits::{RATING_MAX, REVIEW_TEXT_MAX};

fn at(minute: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 5, 4, 9, minute, 0)
        .single()
        .expect("valid time")
}

fn register() -> CustomerCommand {
    CustomerCommand::Register {
        customer_id: "cust-42".into(),
        email: "ada@example.com".into(),
        name: "Ada".into(),
        region: "Ontario".into(),
        at: at(0),
    }
}

fn registered() -> CustomerEvent {
    CustomerEvent::Registered(CustomerRegistered {
        customer_id: "cust-42".into(),
        email: "ada@example.com".into(),
        name: "Ada".into(),
        region: "Ontario".into(),
        registered_at: at(0),
    })
}

fn moved_to(from: &str, region: &str, minute: u32) -> CustomerEvent {
    CustomerEvent::Moved(CustomerMoved {
        customer_id: "cust-42".into(),
        from: from.into(),
        region: region.into(),
        moved_at: at(minute),
    })
}

fn review(product: &str, rating: u8, text: &str) -> CustomerCommand {
    CustomerCommand::SubmitReview {
        product_id: product.into(),
        rating,
        text: text.into(),
        at: at(7),
    }
}

fn reviewed(product: &str, rating: u8, text: &str) -> CustomerEvent {
    CustomerEvent::ReviewSubmitted(ReviewSubmitted {
        customer_id: "cust-42".into(),
        product_id: product.into(),
        rating,
        text: text.into(),
        submitted_at: at(7),
    })
}

fn update(name: Option<&str>, email: Option<&str>, region: Option<&str>) -> CustomerCommand {
    CustomerCommand::Update {
        name: name.map(Into::into),
        email: email.map(Into::into),
        region: region.map(Into::into),
        at: at(3),
    }
}

#[test]
fn registering_records_the_profile_once() {
    given(&CustomerDecider, [])
        .when(&register())
        .then([registered()]);
    given(&CustomerDecider, [registered()])
        .when(&register())
        .then_refused(|e| *e == CustomerError::AlreadyExists);
}

#[test]
fn registering_refuses_a_bad_email_name_or_region_naming_it() {
    let with = |email: &str, name: &str, region: &str| CustomerCommand::Register {
        customer_id: "c".into(),
        email: email.into(),
        name: name.into(),
        region: region.into(),
        at: at(0),
    };
    for (command, field) in [
        (with("not-an-address", "Ada", "Ontario"), "email"),
        (with("ada@example.com", " ", "Ontario"), "name"),
        (with("ada@example.com", "Ada", &"r".repeat(101)), "region"),
    ] {
        given(&CustomerDecider, [])
            .when(&command)
            .then_refused(|e| matches!(e, CustomerError::Invalid { field: f, .. } if *f == field));
    }
}

#[test]
fn every_command_but_registering_needs_a_registered_customer() {
    for command in [
        update(Some("Bea"), None, None),
        CustomerCommand::Move {
            region: "Quebec".into(),
            at: at(1),
        },
        CustomerCommand::ChangeTier {
            tier: Tier::Gold,
            at: at(1),
        },
        review("p-1", 5, "Fine"),
    ] {
        given(&CustomerDecider, [])
            .when(&command)
            .then_refused(|e| *e == CustomerError::NotFound);
    }
}

#[test]
fn an_update_records_only_what_changes_and_a_new_region_as_a_move() {
    given(&CustomerDecider, [registered()])
        .when(&update(Some("Ada L."), Some("ada@example.com"), None))
        .then([CustomerEvent::Updated(CustomerUpdated {
            customer_id: "cust-42".into(),
            email: None,
            name: Some("Ada L.".into()),
            updated_at: at(3),
        })]);
    // Both kinds of change in one decision: one append.
    given(&CustomerDecider, [registered()])
        .when(&update(None, Some("ada@example.org"), Some("Quebec")))
        .then([
            CustomerEvent::Updated(CustomerUpdated {
                customer_id: "cust-42".into(),
                email: Some("ada@example.org".into()),
                name: None,
                updated_at: at(3),
            }),
            moved_to("Ontario", "Quebec", 3),
        ]);
    given(&CustomerDecider, [registered()])
        .when(&update(Some("Ada"), None, Some("Ontario")))
        .then_refused(|e| *e == CustomerError::Unchanged);
    given(&CustomerDecider, [registered()])
        .when(&update(None, None, None))
        .then_refused(|e| *e == CustomerError::Unchanged);
    given(&CustomerDecider, [registered()])
        .when(&update(None, Some("ada at example"), None))
        .then_refused(|e| matches!(e, CustomerError::Invalid { field: "email", .. }));
}

#[test]
fn a_move_needs_another_region() {
    given(&CustomerDecider, [registered()])
        .when(&CustomerCommand::Move {
            region: "Quebec".into(),
            at: at(5),
        })
        .then([moved_to("Ontario", "Quebec", 5)]);
    given(
        &CustomerDecider,
        [registered(), moved_to("Ontario", "Quebec", 5)],
    )
    .when(&CustomerCommand::Move {
        region: "Quebec".into(),
        at: at(6),
    })
    .then_refused(|e| {
        *e == CustomerError::SameRegion {
            region: "Quebec".into(),
        }
    });
}

#[test]
fn a_tier_change_records_both_tiers_and_needs_another_tier() {
    let change = |tier| CustomerCommand::ChangeTier { tier, at: at(2) };
    let changed = |from, to| {
        CustomerEvent::TierChanged(CustomerTierChanged {
            customer_id: "cust-42".into(),
            from,
            to,
            changed_at: at(2),
        })
    };
    given(&CustomerDecider, [registered()])
        .when(&change(Tier::Gold))
        .then([changed(Tier::Bronze, Tier::Gold)]);
    given(&CustomerDecider, [registered()])
        .when(&change(Tier::Bronze))
        .then_refused(|e| *e == CustomerError::SameTier { tier: Tier::Bronze });
    given(
        &CustomerDecider,
        [registered(), changed(Tier::Bronze, Tier::Gold)],
    )
    .when(&change(Tier::Silver))
    .then([changed(Tier::Gold, Tier::Silver)]);
}

#[test]
fn a_review_is_rated_one_to_five_with_bounded_text() {
    given(&CustomerDecider, [registered()])
        .when(&review("p-1", RATING_MAX, "Sturdy.\nWould buy again."))
        .then([reviewed("p-1", RATING_MAX, "Sturdy.\nWould buy again.")]);
    given(&CustomerDecider, [registered()])
        .when(&review("p-1", 1, ""))
        .then([reviewed("p-1", 1, "")]);
    for (command, field) in [
        (review("p-1", 0, "x"), "rating"),
        (review("p-1", 6, "x"), "rating"),
        (review("p-1", 3, &"x".repeat(REVIEW_TEXT_MAX + 1)), "text"),
        (review("p-1", 3, "bell\u{7}"), "text"),
        (review("", 3, "x"), "product_id"),
    ] {
        given(&CustomerDecider, [registered()])
            .when(&command)
            .then_refused(|e| matches!(e, CustomerError::Invalid { field: f, .. } if *f == field));
    }
}

#[test]
fn a_customer_reviews_a_product_once() {
    given(&CustomerDecider, [registered(), reviewed("p-1", 4, "Good")])
        .when(&review("p-1", 2, "Worse than I said"))
        .then_refused(|e| {
            *e == CustomerError::AlreadyReviewed {
                product_id: "p-1".into(),
            }
        });
    given(&CustomerDecider, [registered(), reviewed("p-1", 4, "Good")])
        .when(&review("p-2", 2, "Meh"))
        .then([reviewed("p-2", 2, "Meh")]);
}

#[test]
fn a_full_stream_takes_no_more_commands() {
    let mut history = vec![registered()];
    let mut region = "Ontario".to_owned();
    for i in 1..EVENTS_MAX {
        let next = format!("r{i}");
        history.push(moved_to(&region, &next, 1));
        region = next;
    }
    given(&CustomerDecider, history.clone())
        .when(&review("p-1", 5, ""))
        .then_refused(|e| *e == CustomerError::TooManyEvents);
    history.pop();
    given(&CustomerDecider, history)
        .when(&review("p-1", 5, ""))
        .then([reviewed("p-1", 5, "")]);
}
