//! The product catalogue's read models: [`TypedSqlProjection`](projector_sql::TypedSqlProjection)s
//! of [`ProductEvent`](crate::ProductEvent) in portable SQL, so the same code runs on SQLite
//! and PostgreSQL.

mod products;

use std::sync::Arc;

use projector_sql::{SqlProjection, TypedSql};

pub use products::{PRODUCTS, ProductsProjection};

/// Every product projection.
pub fn all() -> Vec<Arc<dyn SqlProjection>> {
    vec![Arc::new(TypedSql(ProductsProjection))]
}
