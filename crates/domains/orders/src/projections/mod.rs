//! The order service's read models: [`SqlProjection`](projector_sql::SqlProjection)s in
//! portable SQL, so the same code runs on SQLite and PostgreSQL, and a Redis cache of each
//! customer's orders ([`CustomerOrdersCacheProjection`]).

mod batch_orders;
mod customer_orders_cache;
mod customers;
mod daily_sales;
mod order_summary;

use std::sync::Arc;

use projector_sql::SqlProjection;

pub use customer_orders_cache::{
    CUSTOMER_ORDERS_CACHE, CachedOrder, CustomerOrdersCacheProjection, customer_key, list_member,
    order_key,
};
pub use customers::{CUSTOMERS, CustomersProjection};
pub use daily_sales::{DAILY_SALES, DailySalesProjection};
pub use order_summary::{ORDER_SUMMARY, OrderSummaryProjection};

/// Every order projection.
pub fn all() -> Vec<Arc<dyn SqlProjection>> {
    vec![
        Arc::new(OrderSummaryProjection),
        Arc::new(DailySalesProjection),
        Arc::new(CustomersProjection),
    ]
}
