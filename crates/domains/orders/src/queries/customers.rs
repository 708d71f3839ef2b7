//! Reading a customer from the `customers` read model: their profile with a summary of what
//! they have done, in one query.

use chrono::{DateTime, Utc};
use projector_core::ReadStoreError;
use projector_customers::Tier;
use projector_sql::{SqlError, SqlErrorKind, SqlReadStore, params};
use serde::Serialize;

use super::{optional_time, time};
use crate::money::Money;
use crate::projections::CUSTOMERS;

/// A registered customer: who they are, and what they have done.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CustomerView {
    /// The customer.
    pub customer_id: String,
    /// Where to write to them.
    pub email: String,
    /// Their name.
    pub name: String,
    /// Where they live.
    pub region: String,
    /// Their loyalty tier.
    pub tier: Tier,
    /// When they registered.
    pub registered_at: DateTime<Utc>,
    /// When their profile or tier last changed (their registration, if never).
    pub updated_at: DateTime<Utc>,
    /// What they have done, orders placed before they registered included.
    pub activity: ActivitySummary,
}

/// What a customer has done, in brief; zero and `None` before anything.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ActivitySummary {
    /// Orders placed.
    pub orders_placed: i64,
    /// Orders delivered.
    pub orders_completed: i64,
    /// What delivered orders came to.
    pub total_spent: Money,
    /// Reviews written.
    pub reviews_written: i64,
    /// When the latest order was placed.
    pub last_order_at: Option<DateTime<Utc>>,
    /// When the latest review was written.
    pub last_review_at: Option<DateTime<Utc>>,
}

/// Customer `customer_id` with their activity, if they have registered (orders that name an
/// unregistered customer make no customer).
///
/// # Errors
/// The read store's error.
pub async fn customer(
    store: &dyn SqlReadStore,
    customer_id: &str,
) -> Result<Option<CustomerView>, ReadStoreError> {
    let rows = store
        .query(
            &CUSTOMERS,
            "SELECT p.customer_id, p.email, p.name, p.region, p.tier, p.registered_at, p.updated_at, \
             a.orders_placed, a.orders_completed, a.spent_cents, a.reviews_written, \
             a.last_order_at, a.last_review_at \
             FROM customer_profiles p LEFT JOIN customer_activity a ON a.customer_id = p.customer_id \
             WHERE p.customer_id = $1",
            params![customer_id],
        )
        .await?;
    let Some(row) = rows.first() else {
        return Ok(None);
    };
    let tier: String = row.get("tier")?;
    let count = |column: &str| {
        row.get::<Option<i64>>(column)
            .map(Option::unwrap_or_default)
    };
    Ok(Some(CustomerView {
        customer_id: row.get("customer_id")?,
        email: row.get("email")?,
        name: row.get("name")?,
        region: row.get("region")?,
        tier: Tier::parse(&tier).ok_or_else(|| {
            SqlError::new(SqlErrorKind::Conversion, format!("unknown tier {tier}"))
        })?,
        registered_at: time(row, "registered_at")?,
        updated_at: time(row, "updated_at")?,
        activity: ActivitySummary {
            orders_placed: count("orders_placed")?,
            orders_completed: count("orders_completed")?,
            total_spent: row
                .get::<Option<Money>>("spent_cents")?
                .unwrap_or(Money::ZERO),
            reviews_written: count("reviews_written")?,
            last_order_at: optional_time(row, "last_order_at")?,
            last_review_at: optional_time(row, "last_review_at")?,
        },
    }))
}
