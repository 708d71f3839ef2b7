//! Reading the order read models: typed queries in portable SQL over any [`SqlReadStore`].
//!
//! These are what an API serves; they never touch the event store. Every amount is [`Money`],
//! whole cents, summed with checked arithmetic (a sum out of range is an error, never a
//! clamped figure): an API turns it into a decimal only when it writes its answer.

use chrono::{DateTime, NaiveDate, Utc};
use projector_core::ReadStoreError;
use projector_redis::RedisRead;
use projector_sql::{
    ColumnIndex, FromSqlValue, Row, SqlError, SqlErrorKind, SqlReadStore, SqlValue, params,
    parse_sql_time,
};
use serde::Serialize;

use crate::money::Money;
use crate::projections::{
    CUSTOMERS, CachedOrder, DAILY_SALES, ORDER_SUMMARY, customer_key, order_key,
};
use crate::sum::{self, OutOfRange};

pub mod customers;

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
    pub total_amount: Money,
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
    pub refunded_amount: Option<Money>,
    /// Where the customer lives now; `None` until they register.
    pub customer_region: Option<String>,
}

/// The flattened order `order_id`, if the read model has it.
///
/// # Errors
/// The read store's error.
pub async fn order_summary(
    store: &dyn SqlReadStore,
    order_id: &str,
) -> Result<Option<OrderSummaryView>, ReadStoreError> {
    // Every column, found by name: while a newer version of the read model builds, the serving
    // one may still be an older one's (version 1's amounts are decimals, `total_amount`).
    let rows = store
        .query(
            &ORDER_SUMMARY,
            "SELECT * FROM order_summary WHERE order_id = $1",
            params![order_id],
        )
        .await?;
    let Some(row) = rows.first() else {
        return Ok(None);
    };
    let refunded = summary_amount(row, "refunded")?;
    Ok(Some(OrderSummaryView {
        id: row.get("order_id")?,
        customer_id: row.get("customer_id")?,
        status: row.get("status")?,
        item_count: row.get("item_count")?,
        total_amount: summary_amount(row, "total")?,
        created_at: time(row, "created_at")?,
        updated_at: time(row, "updated_at")?,
        shipped_at: optional_time(row, "shipped_at")?,
        tracking: row.get("tracking")?,
        completed_at: optional_time(row, "completed_at")?,
        cancelled_at: optional_time(row, "cancelled_at")?,
        cancellation_reason: row.get("cancellation_reason")?,
        refunded_amount: (refunded > Money::ZERO).then_some(refunded),
        // A row of version 2, serving while version 3 builds, has no region yet.
        customer_region: if row.columns().iter().any(|c| c == "customer_region") {
            row.get("customer_region")?
        } else {
            None
        },
    }))
}

/// The amount `what` of an `order_summary` row: `<what>_cents` as version 2 writes it, or the
/// decimal `<what>_amount` of a row that version 1 wrote.
fn summary_amount(row: &Row, what: &str) -> Result<Money, SqlError> {
    let cents = format!("{what}_cents");
    if row.columns().contains(&cents) {
        return row.get(cents.as_str());
    }
    let decimal = format!("{what}_amount");
    Money::from_decimal(row.get(decimal.as_str())?).map_err(|e| {
        SqlError::new(
            SqlErrorKind::Conversion,
            format!("column {what}_amount: {e}"),
        )
    })
}

/// Amounts are stored as whole cents.
impl FromSqlValue for Money {
    fn from_sql_value(value: &SqlValue) -> Result<Self, String> {
        let cents = i64::from_sql_value(value)?;
        Money::try_from_cents(cents).map_err(|e| format!("{cents} cents: {e}"))
    }
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
    pub total_amount: Money,
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
                    params![customer_id, fetch],
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
                    params![customer_id, &cursor.created_at, &cursor.order_id, fetch],
                )
                .await?
        }
    };
    let more = rows.len() > limit as usize;
    let mut orders = Vec::with_capacity(rows.len().min(limit as usize));
    let mut next = None;
    for row in rows.iter().take(limit as usize) {
        let created_text: String = row.get("created_at")?;
        let order = CustomerOrderView {
            order_id: row.get("order_id")?,
            status: row.get("status")?,
            item_count: row.get("item_count")?,
            total_amount: row.get("total_cents")?,
            created_at: parse_sql_time(&created_text)?,
            updated_at: time(row, "updated_at")?,
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
            total_amount: Money::try_from_cents(cached.total_cents)
                .map_err(|e| corrupt(format!("order {order_id}: total_cents {e}")))?,
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

/// What a customer has done, in one row: their orders and reviews.
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
    pub total_spent: Money,
    /// What was paid back.
    pub total_refunded: Money,
    /// When the first order was placed; `None` before any.
    pub first_order_at: Option<DateTime<Utc>>,
    /// When the latest order was placed; `None` before any.
    pub last_order_at: Option<DateTime<Utc>>,
    /// Reviews written.
    pub reviews_written: i64,
    /// When the latest review was written; `None` before any.
    pub last_review_at: Option<DateTime<Utc>>,
    /// When anything last happened to the customer's orders or reviews.
    pub last_activity_at: DateTime<Utc>,
}

/// The activity of `customer_id`, if the read model has any (an order or a review).
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
             first_order_at, last_order_at, reviews_written, last_review_at, last_activity_at \
             FROM customer_activity WHERE customer_id = $1",
            params![customer_id],
        )
        .await?;
    let Some(row) = rows.first() else {
        return Ok(None);
    };
    Ok(Some(CustomerActivityView {
        customer_id: row.get("customer_id")?,
        orders_placed: row.get("orders_placed")?,
        orders_completed: row.get("orders_completed")?,
        orders_cancelled: row.get("orders_cancelled")?,
        total_spent: row.get("spent_cents")?,
        total_refunded: row.get("refunded_cents")?,
        first_order_at: optional_time(row, "first_order_at")?,
        last_order_at: optional_time(row, "last_order_at")?,
        reviews_written: row.get("reviews_written")?,
        last_review_at: optional_time(row, "last_review_at")?,
        last_activity_at: time(row, "last_activity_at")?,
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
    pub gross_revenue: Money,
    /// Refunds later made on them.
    pub refunds: i64,
    /// What those refunds paid back.
    pub refunded_amount: Money,
    /// Gross revenue less refunds (never below zero: a refund never exceeds its order).
    pub net_revenue: Money,
}

/// The totals of a range of days of sales, added with checked arithmetic: totals past
/// `i64::MAX` are an error, never a clamped figure.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct SalesTotals {
    /// Orders delivered.
    pub orders_completed: i64,
    /// What they came to.
    pub gross_revenue: Money,
    /// What refunds paid back.
    pub refunded_amount: Money,
    /// Gross revenue less refunds.
    pub net_revenue: Money,
}

impl SalesTotals {
    /// The totals of `days`; zero for none.
    ///
    /// # Errors
    /// [`OutOfRange`] when a total would pass `i64::MAX`.
    pub fn of(days: &[DailySalesView]) -> Result<Self, OutOfRange> {
        let money = |what, amount: fn(&DailySalesView) -> Money| {
            Money::checked_sum(days.iter().map(amount)).ok_or(OutOfRange(what))
        };
        Ok(Self {
            orders_completed: days.iter().try_fold(0, |total, d| {
                sum::add("orders completed", total, d.orders_completed)
            })?,
            gross_revenue: money("the gross revenue", |d| d.gross_revenue)?,
            refunded_amount: money("the amount refunded", |d| d.refunded_amount)?,
            net_revenue: money("the net revenue", |d| d.net_revenue)?,
        })
    }
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
            params![&from, &to],
        )
        .await?;
    rows.iter()
        .map(|row| {
            let day: String = row.get("day")?;
            let gross: Money = row.get("gross_cents")?;
            let refunded: Money = row.get("refunded_cents")?;
            Ok(DailySalesView {
                date: NaiveDate::parse_from_str(&day, "%Y-%m-%d").map_err(|e| {
                    SqlError::new(SqlErrorKind::Conversion, format!("day {day:?}: {e}"))
                })?,
                orders_completed: row.get("orders_completed")?,
                items_sold: row.get("items_sold")?,
                gross_revenue: gross,
                refunds: row.get("refunds")?,
                refunded_amount: refunded,
                net_revenue: gross
                    .checked_sub(refunded)
                    .ok_or(OutOfRange("the net revenue"))?,
            })
        })
        .collect()
}

fn time(row: &Row, column: impl ColumnIndex) -> Result<DateTime<Utc>, SqlError> {
    parse_sql_time(&row.get::<String>(column)?)
}

fn optional_time(row: &Row, column: impl ColumnIndex) -> Result<Option<DateTime<Utc>>, SqlError> {
    row.get::<Option<String>>(column)?
        .as_deref()
        .map(parse_sql_time)
        .transpose()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sales_totals_are_zero_for_no_days_and_fail_past_what_a_sum_holds() {
        assert_eq!(SalesTotals::of(&[]), Ok(SalesTotals::default()));
        let day = |d, orders_completed, gross| DailySalesView {
            date: NaiveDate::from_ymd_opt(2026, 4, d).expect("a day"),
            orders_completed,
            items_sold: 1,
            gross_revenue: Money::from_cents(gross),
            refunds: 0,
            refunded_amount: Money::ZERO,
            net_revenue: Money::from_cents(gross),
        };
        let exact = SalesTotals::of(&[day(1, 2, 10), day(2, 7, 20)]).expect("in range");
        assert_eq!(
            (exact.orders_completed, exact.gross_revenue),
            (9, Money::from_cents(30))
        );
        assert_eq!(
            SalesTotals::of(&[day(1, i64::MAX, 1), day(2, 7, 20)]),
            Err(OutOfRange("orders completed"))
        );
        assert_eq!(
            SalesTotals::of(&[day(1, 1, i64::MAX), day(2, 7, 20)]),
            Err(OutOfRange("the gross revenue"))
        );
    }
}
