//! The order service's read models: [`TypedSqlProjection`](projector_sql::TypedSqlProjection)s
//! of [`OrderEvent`](crate::OrderEvent) in portable SQL, so the same code runs on SQLite and
//! PostgreSQL, a Redis cache of each customer's orders
//! ([`CustomerOrdersCacheProjection`], a [`TypedRedisProjection`](projector_redis::TypedRedisProjection)),
//! and a search index of every order ([`OrderSearchProjection`], a
//! [`TypedSearchProjection`](projector_search::TypedSearchProjection)).
//! The per-order ones fold a batch through one [`OrderView`](crate::OrderView). Each reads
//! order streams; `customers` and `order_summary` also read customer streams (an
//! [`Either`](projector_core::Either) of both event sets): the customer's profile, and the
//! region each order's customer lives in now.

mod batch_orders;
mod customer_orders_cache;
mod customers;
mod daily_sales;
pub mod order_search;
mod order_summary;

use std::sync::Arc;

use projector_sql::{SqlProjection, TypedSql};

pub use customer_orders_cache::{
    CUSTOMER_ORDERS_CACHE, CachedOrder, CustomerOrdersCacheProjection, customer_key, list_member,
    order_key,
};
pub use customers::{CUSTOMERS, CustomersProjection};
pub use daily_sales::{DAILY_SALES, DailySalesProjection};
pub use order_search::{ORDER_SEARCH, OrderDocument, OrderSearchProjection};
pub use order_summary::{ORDER_SUMMARY, OrderSummaryProjection};

/// Every order projection kept in SQL.
pub fn all() -> Vec<Arc<dyn SqlProjection>> {
    vec![
        Arc::new(TypedSql(OrderSummaryProjection)),
        Arc::new(TypedSql(DailySalesProjection)),
        Arc::new(TypedSql(CustomersProjection)),
    ]
}
