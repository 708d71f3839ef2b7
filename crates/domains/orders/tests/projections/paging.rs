//! Cursor paging of "my orders" against a full listing: for generated orders (with ties on
//! their creation time) and page sizes, walking the pages returns every order of the customer
//! once, newest first (ties by id, descending), each page full but the last.

use std::collections::BTreeMap;
use std::sync::Arc;

use projector_orders::projections::{CUSTOMERS, CustomersProjection};
use projector_orders::queries::{self, OrdersCursor};
use projector_sql::TypedSql;
use proptest::prelude::*;
use proptest::test_runner::{TestCaseError, TestRunner};

use crate::helpers::{Service, at, item, patience, place};

/// Orders by id: their customer (of two) and creation hour (of three, so times tie).
fn orders() -> impl Strategy<Value = BTreeMap<String, (u8, u32)>> {
    prop::collection::btree_map("[a-e]{1,2}", (0u8..2, 9u32..12), 0..14)
}

#[test]
fn paging_with_cursors_lists_every_order_once_in_order() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime");
    // Each case projects its orders into a fresh SQLite read model: 16 cases here, more in CI.
    let mut runner = TestRunner::new(projector_testkit::property::config(16));
    let result = runner.run(&(orders(), 1u32..6), |(orders, limit)| {
        runtime.block_on(check(orders, limit))
    });
    if let Err(failure) = result {
        panic!("{failure}");
    }
}

async fn check(orders: BTreeMap<String, (u8, u32)>, limit: u32) -> Result<(), TestCaseError> {
    let service = Service::start_with(vec![Arc::new(TypedSql(CustomersProjection))]);
    // Its read model exists even when no order is placed.
    prop_assert!(service.projector.wait_started(patience()).await, "started");
    for (id, (customer, hour)) in &orders {
        service
            .run(
                id,
                place(
                    id,
                    &format!("c{customer}"),
                    vec![item("a", 1, 100)],
                    at(1, *hour),
                ),
            )
            .await;
    }
    service.rows(&CUSTOMERS, "SELECT 1").await;
    for customer in ["c0", "c1"] {
        // The model: this customer's orders, newest first, ties by id descending.
        let mut wanted: Vec<(u32, &str)> = orders
            .iter()
            .filter(|(_, (c, _))| format!("c{c}") == customer)
            .map(|(id, (_, hour))| (*hour, id.as_str()))
            .collect();
        wanted.sort_unstable_by(|a, b| b.cmp(a));
        let wanted: Vec<&str> = wanted.into_iter().map(|(_, id)| id).collect();

        let mut walked: Vec<String> = Vec::new();
        let mut cursor: Option<OrdersCursor> = None;
        loop {
            let page =
                queries::customer_orders(service.reads.as_ref(), customer, limit, cursor.as_ref())
                    .await
                    .map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert!(page.orders.len() <= limit as usize);
            walked.extend(page.orders.iter().map(|o| o.order_id.clone()));
            match page.next {
                Some(next) => {
                    prop_assert_eq!(
                        page.orders.len(),
                        limit as usize,
                        "a short page before the last"
                    );
                    // The token a client gets reads back as the same cursor.
                    prop_assert_eq!(
                        OrdersCursor::from_token(&next.to_token()),
                        Some(next.clone())
                    );
                    cursor = Some(next);
                }
                None => break,
            }
            prop_assert!(walked.len() <= wanted.len(), "the pages never end");
        }
        prop_assert_eq!(&walked, &wanted, "{}'s pages", customer);
        let full = queries::customer_orders(service.reads.as_ref(), customer, 1_000, None)
            .await
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        let listed: Vec<String> = full.orders.iter().map(|o| o.order_id.clone()).collect();
        prop_assert_eq!(&walked, &listed, "{}'s full listing", customer);
    }
    Ok(())
}
