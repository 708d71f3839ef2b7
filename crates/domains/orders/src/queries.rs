//! Reading the order read models: typed queries in portable SQL over any [`SqlReadStore`].
//!
//! These are what an API serves; they never touch the event store.

use chrono::{DateTime, NaiveDate, Utc};
use projector_core::ReadStoreError;
use projector_redis::RedisRead;
use projector_sql::{Row, SqlError, SqlErrorKind, SqlReadStore, parse_sql_time};
use serde::Serialize;

use crate::projections::{
    CUSTOMERS, CachedOrder, DAILY_SALES, ORDER_SUMMARY, customer_key, order_key,
};

/// One order as `order_summary` holds it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct OrderSummaryView {
    /// The order.
    pub id: String,
    /// Who placed it.
    pub customer_id: String,
    /// Where it is in its life.
    pub status: String,
    /// How many items it holds.
    pub item_count: i64,
    /// What it comes to.
    pub total_amount: f64,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When its last event was recorded.
    pub updated_at: DateTime<Utc>,
    /// When it shipped.
    pub shipped_at: Option<DateTime<Utc>>,
    /// The carrier's tracking number.
    pub tracking: Option<String>,
    /// When it was delivered.
    pub completed_at: Option<DateTime<Utc>>,
    /// When it was cancelled.
    pub cancelled_at: Option<DateTime<Utc>>,
    /// Why it was cancelled.
    pub cancellation_reason: Option<String>,
    /// How much was paid back (present once anything was).
    pub refunded_amount: Option<f64>,
}

/// The flattened order `order_id`, if the read model has it.
///
/// # Errors
/// The read store's error.
pub async fn order_summary(
    store: &dyn SqlReadStore,
    order_id: &str,
) -> Result<Option<OrderSummaryView>, ReadStoreError> {
    let rows = store
        .query(
            &ORDER_SUMMARY,
            "SELECT order_id, customer_id, status, item_count, total_amount, created_at, updated_at, \
             shipped_at, tracking, completed_at, cancelled_at, cancellation_reason, refunded_amount \
             FROM order_summary WHERE order_id = $1",
            &[order_id.into()],
        )
        .await?;
    let Some(row) = rows.first() else {
        return Ok(None);
    };
    let refunded: f64 = row.get(12)?;
    Ok(Some(OrderSummaryView {
        id: row.get(0)?,
        customer_id: row.get(1)?,
        status: row.get(2)?,
        item_count: row.get(3)?,
        total_amount: row.get(4)?,
        created_at: time(row, 5)?,
        updated_at: time(row, 6)?,
        shipped_at: optional_time(row, 7)?,
        tracking: row.get(8)?,
        completed_at: optional_time(row, 9)?,
        cancelled_at: optional_time(row, 10)?,
        cancellation_reason: row.get(11)?,
        refunded_amount: (refunded > 0.0).then_some(refunded),
    }))
}

/// One line of a customer's "my orders" list.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CustomerOrderView {
    /// The order.
    pub order_id: String,
    /// Where it is in its life.
    pub status: String,
    /// How many items it holds.
    pub item_count: i64,
    /// What it comes to.
    pub total_amount: f64,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When its last event was recorded.
    pub updated_at: DateTime<Utc>,
}

/// Where a page of "my orders" ends: the next page starts after this order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OrdersCursor {
    created_at: String,
    order_id: String,
}

impl OrdersCursor {
    /// The cursor just after the order `order_id` created at `created_at` (fixed-width RFC
    /// 3339 text, as the read models store it).
    pub(crate) fn after(created_at: &str, order_id: &str) -> Self {
        Self {
            created_at: created_at.to_owned(),
            order_id: order_id.to_owned(),
        }
    }

    /// The cursor as an opaque token for clients (and the member of the order in the cache's
    /// list, which sorts the same way).
    pub fn to_token(&self) -> String {
        format!("{}~{}", self.created_at, self.order_id)
    }

    /// Reads a token made by [`OrdersCursor::to_token`]; `None` if it is not one.
    pub fn from_token(token: &str) -> Option<Self> {
        let (created_at, order_id) = token.split_once('~')?;
        parse_sql_time(created_at).ok()?;
        if order_id.is_empty() || order_id.len() > 128 {
            return None;
        }
        Some(Self {
            created_at: created_at.to_owned(),
            order_id: order_id.to_owned(),
        })
    }
}

/// A page of "my orders", newest first.
#[derive(Clone, Debug, PartialEq)]
pub struct CustomerOrdersPage {
    /// The orders on this page.
    pub orders: Vec<CustomerOrderView>,
    /// Where the next page starts; `None` on the last page.
    pub next: Option<OrdersCursor>,
}

/// Up to `limit` orders of `customer_id`, newest first, after `after`.
///
/// # Errors
/// The read store's error.
pub async fn customer_orders(
    store: &dyn SqlReadStore,
    customer_id: &str,
    limit: u32,
    after: Option<&OrdersCursor>,
) -> Result<CustomerOrdersPage, ReadStoreError> {
    const COLUMNS: &str = "SELECT order_id, status, item_count, total_cents, created_at, updated_at FROM customer_orders";
    // One row more than asked tells whether another page follows.
    let fetch = i64::from(limit) + 1;
    let rows = match after {
        None => {
            store
                .query(
                    &CUSTOMERS,
                    &format!("{COLUMNS} WHERE customer_id = $1 ORDER BY created_at DESC, order_id DESC LIMIT $2"),
                    &[customer_id.into(), fetch.into()],
                )
                .await?
        }
        Some(cursor) => {
            store
                .query(
                    &CUSTOMERS,
                    &format!(
                        "{COLUMNS} WHERE customer_id = $1 AND (created_at < $2 OR (created_at = $2 AND order_id < $3)) \
                         ORDER BY created_at DESC, order_id DESC LIMIT $4"
                    ),
                    &[customer_id.into(), cursor.created_at.as_str().into(), cursor.order_id.as_str().into(), fetch.into()],
                )
                .await?
        }
    };
    let more = rows.len() > limit as usize;
    let mut orders = Vec::with_capacity(rows.len().min(limit as usize));
    let mut next = None;
    for row in rows.iter().take(limit as usize) {
        let cents: i64 = row.get(3)?;
        let created_text: String = row.get(4)?;
        let order = CustomerOrderView {
            order_id: row.get(0)?,
            status: row.get(1)?,
            item_count: row.get(2)?,
            total_amount: cents as f64 / 100.0,
            created_at: parse_sql_time(&created_text)?,
            updated_at: time(row, 5)?,
        };
        next = Some(OrdersCursor {
            created_at: created_text,
            order_id: order.order_id.clone(),
        });
        orders.push(order);
    }
    Ok(CustomerOrdersPage {
        orders,
        next: if more { next } else { None },
    })
}

/// Up to `limit` orders of `customer_id`, newest first, after `after`: the same page as
/// [`customer_orders`], from the Redis cache's generation that `read` names.
///
/// # Errors
/// The cache's error: unreachable, or its generation gone (the caller reads the SQL model).
pub async fn customer_orders_cached(
    read: &RedisRead,
    customer_id: &str,
    limit: u32,
    after: Option<&OrdersCursor>,
) -> Result<CustomerOrdersPage, ReadStoreError> {
    let below = after.map(OrdersCursor::to_token);
    let members = read
        .zrange_by_lex_rev(
            &customer_key(customer_id),
            below.as_deref(),
            u64::from(limit) + 1,
        )
        .await?;
    let more = members.len() > limit as usize;
    let listed: Vec<(&str, &str)> = members
        .iter()
        .take(limit as usize)
        .map(|member| member.split_once('~').unwrap_or((member.as_str(), "")))
        .collect();
    let keys: Vec<String> = listed.iter().map(|(_, id)| order_key(id)).collect();
    let key_refs: Vec<&str> = keys.iter().map(String::as_str).collect();
    let values = read.mget(&key_refs).await?;
    let corrupt = |what: String| ReadStoreError::Query {
        message: what,
        transient: false,
        source: None,
    };
    let mut orders = Vec::with_capacity(listed.len());
    let mut next = None;
    for ((created_at, order_id), value) in listed.iter().zip(values) {
        let json =
            value.ok_or_else(|| corrupt(format!("the cache lists order {order_id} without it")))?;
        let cached: CachedOrder = serde_json::from_str(&json)
            .map_err(|e| corrupt(format!("the cached order {order_id} is corrupt: {e}")))?;
        let time = |text: &str| {
            parse_sql_time(text).map_err(|e| corrupt(format!("order {order_id}: {e}")))
        };
        orders.push(CustomerOrderView {
            order_id: (*order_id).to_owned(),
            status: cached.status,
            item_count: cached.item_count,
            total_amount: cached.total_cents as f64 / 100.0,
            created_at: time(&cached.created_at)?,
            updated_at: time(&cached.updated_at)?,
        });
        next = Some(OrdersCursor::after(created_at, order_id));
    }
    Ok(CustomerOrdersPage {
        orders,
        next: if more { next } else { None },
    })
}

/// What a customer has done, in one row.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CustomerActivityView {
    /// The customer.
    pub customer_id: String,
    /// Orders placed.
    pub orders_placed: i64,
    /// Orders delivered.
    pub orders_completed: i64,
    /// Orders cancelled.
    pub orders_cancelled: i64,
    /// What delivered orders came to.
    pub total_spent: f64,
    /// What was paid back.
    pub total_refunded: f64,
    /// When the first order was placed.
    pub first_order_at: DateTime<Utc>,
    /// When the latest order was placed.
    pub last_order_at: DateTime<Utc>,
    /// When anything last happened to the customer's orders.
    pub last_activity_at: DateTime<Utc>,
}

/// The activity of `customer_id`, if the read model has any.
///
/// # Errors
/// The read store's error.
pub async fn customer_activity(
    store: &dyn SqlReadStore,
    customer_id: &str,
) -> Result<Option<CustomerActivityView>, ReadStoreError> {
    let rows = store
        .query(
            &CUSTOMERS,
            "SELECT customer_id, orders_placed, orders_completed, orders_cancelled, spent_cents, refunded_cents, \
             first_order_at, last_order_at, last_activity_at FROM customer_activity WHERE customer_id = $1",
            &[customer_id.into()],
        )
        .await?;
    let Some(row) = rows.first() else {
        return Ok(None);
    };
    Ok(Some(CustomerActivityView {
        customer_id: row.get(0)?,
        orders_placed: row.get(1)?,
        orders_completed: row.get(2)?,
        orders_cancelled: row.get(3)?,
        total_spent: row.get::<i64>(4)? as f64 / 100.0,
        total_refunded: row.get::<i64>(5)? as f64 / 100.0,
        first_order_at: time(row, 6)?,
        last_order_at: time(row, 7)?,
        last_activity_at: time(row, 8)?,
    }))
}

/// One day of sales.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct DailySalesView {
    /// The day (UTC).
    pub date: NaiveDate,
    /// Orders delivered that day.
    pub orders_completed: i64,
    /// Items in them.
    pub items_sold: i64,
    /// What they came to.
    pub gross_revenue: f64,
    /// Refunds later made on them.
    pub refunds: i64,
    /// What those refunds paid back.
    pub refunded_amount: f64,
    /// Gross revenue less refunds.
    pub net_revenue: f64,
}

/// Sales per day from `from` to `to`, inclusive, in date order; days without sales are absent.
///
/// # Errors
/// The read store's error.
pub async fn daily_sales(
    store: &dyn SqlReadStore,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<Vec<DailySalesView>, ReadStoreError> {
    let (from, to) = (
        from.format("%Y-%m-%d").to_string(),
        to.format("%Y-%m-%d").to_string(),
    );
    let rows = store
        .query(
            &DAILY_SALES,
            "SELECT day, orders_completed, items_sold, gross_cents, refunds, refunded_cents FROM daily_sales \
             WHERE day >= $1 AND day <= $2 ORDER BY day",
            &[from.as_str().into(), to.as_str().into()],
        )
        .await?;
    rows.iter()
        .map(|row| {
            let day: String = row.get(0)?;
            let gross: i64 = row.get(3)?;
            let refunded: i64 = row.get(5)?;
            Ok(DailySalesView {
                date: NaiveDate::parse_from_str(&day, "%Y-%m-%d").map_err(|e| {
                    SqlError::new(SqlErrorKind::Conversion, format!("day {day:?}: {e}"))
                })?,
                orders_completed: row.get(1)?,
                items_sold: row.get(2)?,
                gross_revenue: gross as f64 / 100.0,
                refunds: row.get(4)?,
                refunded_amount: refunded as f64 / 100.0,
                net_revenue: gross.saturating_sub(refunded) as f64 / 100.0,
            })
        })
        .collect()
}

fn time(row: &Row, index: usize) -> Result<DateTime<Utc>, SqlError> {
    parse_sql_time(&row.get::<String>(index)?)
}

fn optional_time(row: &Row, index: usize) -> Result<Option<DateTime<Utc>>, SqlError> {
    row.get::<Option<String>>(index)?
        .as_deref()
        .map(parse_sql_time)
        .transpose()
}
