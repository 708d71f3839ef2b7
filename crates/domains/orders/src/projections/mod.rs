//! The order service's read models, each a [`SqlProjection`](projector_sql::SqlProjection)
//! in portable SQL, so the same code runs on SQLite and PostgreSQL.

mod batch_orders;
mod customers;
mod daily_sales;
mod order_summary;

use std::sync::Arc;

use projector_sql::SqlProjection;

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
