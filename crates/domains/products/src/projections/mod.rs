//! The product catalogue's read models: `products`, a
//! [`TypedSqlProjection`](projector_sql::TypedSqlProjection) of
//! [`ProductEvent`](crate::ProductEvent) in portable SQL, so the same code runs on SQLite and
//! PostgreSQL; and `product_search`, a search index of the catalogue
//! ([`ProductSearchProjection`], a [`TypedSearchProjection`](projector_search::TypedSearchProjection)).

pub mod product_search;
mod products;

use std::sync::Arc;

use projector_sql::{SqlProjection, TypedSql};

pub use product_search::{PRODUCT_SEARCH, ProductDocument, ProductSearchProjection};
pub use products::{PRODUCTS, ProductsProjection};

/// Every product projection.
pub fn all() -> Vec<Arc<dyn SqlProjection>> {
    vec![Arc::new(TypedSql(ProductsProjection))]
}
