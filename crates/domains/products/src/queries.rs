//! Reading the product read model: typed queries in portable SQL over any [`SqlReadStore`].
//!
//! These are what an API serves; they never touch the event store. Prices stay whole cents
//! ([`Price`]): an API turns them into decimals only when it writes its answer.

use chrono::{DateTime, Utc};
use projector_core::ReadStoreError;
use projector_sql::{
    FromSqlValue, Row, SqlError, SqlErrorKind, SqlReadStore, SqlValue, params, parse_sql_time,
};
use serde::Serialize;

use crate::price::Price;
use crate::projections::PRODUCTS;

/// A live product as `products` holds it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ProductView {
    /// The product.
    pub id: String,
    /// What it is called.
    pub name: String,
    /// What it is.
    pub description: String,
    /// Where it is listed.
    pub category: String,
    /// What it costs, in cents.
    pub price: Price,
    /// Its tags, in order.
    pub tags: Vec<String>,
    /// The stream version the row reflects: the version for `If-Match`.
    pub version: u64,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
}

/// Prices are stored as whole cents.
impl FromSqlValue for Price {
    fn from_sql_value(value: &SqlValue) -> Result<Self, String> {
        let cents = i64::from_sql_value(value)?;
        Price::from_cents(cents).map_err(|e| format!("{cents} cents: {e}"))
    }
}

/// Product `product_id`, if the read model has it (a deleted product it does not).
///
/// # Errors
/// The read store's error.
pub async fn product(
    store: &dyn SqlReadStore,
    product_id: &str,
) -> Result<Option<ProductView>, ReadStoreError> {
    let rows = store
        .query(
            &PRODUCTS,
            "SELECT product_id, name, description, category, price_cents, tags, version, \
             created_at, updated_at FROM products WHERE product_id = $1",
            params![product_id],
        )
        .await?;
    rows.first()
        .map(product_view)
        .transpose()
        .map_err(Into::into)
}

fn product_view(row: &Row) -> Result<ProductView, SqlError> {
    let tags: String = row.get("tags")?;
    Ok(ProductView {
        id: row.get("product_id")?,
        name: row.get("name")?,
        description: row.get("description")?,
        category: row.get("category")?,
        price: row.get("price_cents")?,
        tags: serde_json::from_str(&tags)
            .map_err(|e| SqlError::new(SqlErrorKind::Conversion, format!("column tags: {e}")))?,
        version: row.get("version")?,
        created_at: parse_sql_time(&row.get::<String>("created_at")?)?,
        updated_at: parse_sql_time(&row.get::<String>("updated_at")?)?,
    })
}
