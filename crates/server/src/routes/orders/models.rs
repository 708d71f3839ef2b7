//! The shapes of the order API's requests and responses, and the parsing that enforces their
//! limits (which `schemas` writes into the OpenAPI document from the same constants).
//!
//! Amounts stay [`Money`] (whole cents) up to here; the responses write them as decimal numbers
//! with at most two decimals (`0.3`, never `0.30000000000000004` nor `-0.0`).

use chrono::{DateTime, NaiveDate, Utc};
use projector_orders::queries::{
    CustomerActivityView, CustomerOrderView, DailySalesView, OrderSummaryView,
};
use projector_orders::{Money, NewItem};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use crate::limits::{ITEMS_MAX, QUANTITY_MAX, REASON_MAX, TRACKING_MAX};
use crate::validate::{Checker, Object, Text};

/// `POST /api/orders`: open, fill and confirm an order.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)] // Documents the body; `validate` reads it from the JSON, naming every bad field.
pub(crate) struct CreateOrderRequest {
    /// The order's id; made by the server when absent.
    pub(crate) id: Option<String>,
    /// Who places it.
    pub(crate) customer_id: String,
    /// Its lines, each SKU once. An order holds at most 100 lines of at most 10000 units and
    /// comes to at most 1000000000000; an order past that is refused (422) naming the limit.
    pub(crate) items: Vec<OrderItemRequest>,
}

/// One line of an order.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)] // Documents the body; `validate` reads it from the JSON, naming every bad field.
pub(crate) struct OrderItemRequest {
    /// The product.
    pub(crate) sku: String,
    /// How many. Adding to a line the order already holds may not take it past 10000 units,
    /// nor the order past 100 lines or a total of 1000000000000 (422 naming the limit).
    pub(crate) quantity: i64,
    /// Price of one, with at most two decimal places.
    pub(crate) unit_price: f64,
}

/// `POST /api/orders/{id}/ship`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)] // Documents the body; `validate` reads it from the JSON, naming every bad field.
pub(crate) struct ShipRequest {
    /// The carrier's tracking number.
    pub(crate) tracking: String,
}

/// `POST /api/orders/{id}/cancel`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)] // Documents the body; `validate` reads it from the JSON, naming every bad field.
pub(crate) struct CancelRequest {
    /// Why.
    pub(crate) reason: String,
}

/// `POST /api/orders/{id}/refund`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)] // Documents the body; `validate` reads it from the JSON, naming every bad field.
pub(crate) struct RefundRequest {
    /// How much to pay back: more than 0, at most two decimal places, no more than is left
    /// of what was paid.
    pub(crate) amount: f64,
}

/// The body of a write that takes none: nothing, or an empty object.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct NoFields {}

/// A validated order creation.
pub(crate) struct CreateOrder {
    pub(crate) id: Option<String>,
    pub(crate) customer_id: String,
    pub(crate) items: Vec<NewItem>,
}

impl CreateOrder {
    pub(crate) fn check(checker: &mut Checker, body: &Value) -> Option<Self> {
        let object = checker.object(body, "", &["id", "customer_id", "items"])?;
        let id = checker.optional_text(&object, "id", Text::Id);
        let customer_id = checker.text(&object, "customer_id", Text::Id);
        let items = checker.array(&object, "items", 1, ITEMS_MAX).map(|values| {
            let mut items = Vec::with_capacity(values.len());
            for (i, value) in values.iter().enumerate() {
                let path = format!("items[{i}]");
                if let Some(item) = checker.object(value, &path, &["sku", "quantity", "unit_price"])
                {
                    items.push(check_item(checker, &item));
                }
            }
            items
        });
        let items: Vec<NewItem> = items?.into_iter().collect::<Option<_>>()?;
        let mut seen = std::collections::BTreeSet::new();
        for (i, item) in items.iter().enumerate() {
            if !seen.insert(item.sku.clone()) {
                checker.error(
                    format!("items[{i}].sku"),
                    format!("{} is listed more than once", item.sku),
                );
            }
        }
        Some(Self {
            id: id?,
            customer_id: customer_id?,
            items,
        })
    }
}

/// A validated line (for `POST /api/orders/{id}/items` and inside creations).
pub(crate) fn check_item(checker: &mut Checker, object: &Object<'_>) -> Option<NewItem> {
    let sku = checker.text(object, "sku", Text::Id);
    let quantity = checker.integer(object, "quantity", 1, QUANTITY_MAX);
    let unit_price = checker.amount(object, "unit_price", false);
    Some(NewItem {
        sku: sku?,
        quantity: u32::try_from(quantity?).ok()?,
        unit_price: unit_price?,
    })
}

/// A validated item addition.
pub(crate) fn check_add_item(checker: &mut Checker, body: &Value) -> Option<NewItem> {
    let object = checker.object(body, "", &["sku", "quantity", "unit_price"])?;
    check_item(checker, &object)
}

/// A validated tracking number.
pub(crate) fn check_ship(checker: &mut Checker, body: &Value) -> Option<String> {
    let object = checker.object(body, "", &["tracking"])?;
    checker.text(&object, "tracking", Text::Free { max: TRACKING_MAX })
}

/// A validated cancellation reason.
pub(crate) fn check_cancel(checker: &mut Checker, body: &Value) -> Option<String> {
    let object = checker.object(body, "", &["reason"])?;
    checker.text(&object, "reason", Text::Free { max: REASON_MAX })
}

/// A validated refund amount.
pub(crate) fn check_refund(checker: &mut Checker, body: &Value) -> Option<Money> {
    let object = checker.object(body, "", &["amount"])?;
    checker.amount(&object, "amount", true)
}

/// The flattened order, as the `order_summary` read model holds it.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct OrderView {
    pub(crate) id: String,
    pub(crate) customer_id: String,
    /// `pending`, `confirmed`, `shipped`, `completed` or `cancelled`.
    pub(crate) status: String,
    pub(crate) item_count: i64,
    #[schema(value_type = f64, minimum = 0, multiple_of = 0.01)]
    pub(crate) total_amount: Money,
    pub(crate) created_at: DateTime<Utc>,
    pub(crate) updated_at: DateTime<Utc>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) shipped_at: Option<DateTime<Utc>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) tracking: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) completed_at: Option<DateTime<Utc>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) cancelled_at: Option<DateTime<Utc>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) cancellation_reason: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<f64>, minimum = 0, multiple_of = 0.01)]
    pub(crate) refunded_amount: Option<Money>,
    /// The region the customer lives in now, following them when they move; null until the
    /// customer registers.
    #[schema(required = true)]
    pub(crate) customer_region: Option<String>,
}

impl From<OrderSummaryView> for OrderView {
    fn from(v: OrderSummaryView) -> Self {
        Self {
            id: v.id,
            customer_id: v.customer_id,
            status: v.status,
            item_count: v.item_count,
            total_amount: v.total_amount,
            created_at: v.created_at,
            updated_at: v.updated_at,
            shipped_at: v.shipped_at,
            tracking: v.tracking,
            completed_at: v.completed_at,
            cancelled_at: v.cancelled_at,
            cancellation_reason: v.cancellation_reason,
            refunded_amount: v.refunded_amount,
            customer_region: v.customer_region,
        }
    }
}

/// One recorded event of an order: the audit log.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct HistoryEvent {
    pub(crate) position: u64,
    pub(crate) stream_version: u64,
    pub(crate) event_id: uuid::Uuid,
    #[serde(rename = "type")]
    pub(crate) event_type: String,
    pub(crate) schema_version: u32,
    /// The event's payload, its amount a decimal whichever schema version stored it.
    #[schema(value_type = Object)]
    pub(crate) data: Value,
    pub(crate) recorded_at: DateTime<Utc>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) correlation_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) causation_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) user_id: Option<String>,
}

/// An order's history, oldest first.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct History {
    pub(crate) id: String,
    pub(crate) events: Vec<HistoryEvent>,
    /// The stream version to pass as `after_version` for the next page; absent on the last.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) next_after_version: Option<u64>,
}

/// One line of "my orders".
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct CustomerOrder {
    pub(crate) order_id: String,
    pub(crate) status: String,
    pub(crate) item_count: i64,
    #[schema(value_type = f64, minimum = 0, multiple_of = 0.01)]
    pub(crate) total_amount: Money,
    pub(crate) created_at: DateTime<Utc>,
    pub(crate) updated_at: DateTime<Utc>,
}

impl From<CustomerOrderView> for CustomerOrder {
    fn from(v: CustomerOrderView) -> Self {
        Self {
            order_id: v.order_id,
            status: v.status,
            item_count: v.item_count,
            total_amount: v.total_amount,
            created_at: v.created_at,
            updated_at: v.updated_at,
        }
    }
}

/// A page of a customer's orders, newest first.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct CustomerOrders {
    pub(crate) customer_id: String,
    pub(crate) orders: Vec<CustomerOrder>,
    /// Pass as `cursor` for the next page; absent on the last.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) next_cursor: Option<String>,
}

/// What a customer has done: their orders and reviews.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct CustomerActivity {
    pub(crate) customer_id: String,
    pub(crate) orders_placed: i64,
    pub(crate) orders_completed: i64,
    pub(crate) orders_cancelled: i64,
    #[schema(value_type = f64, minimum = 0, multiple_of = 0.01)]
    pub(crate) total_spent: Money,
    #[schema(value_type = f64, minimum = 0, multiple_of = 0.01)]
    pub(crate) total_refunded: Money,
    /// Absent before the first order.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) first_order_at: Option<DateTime<Utc>>,
    /// Absent before the first order.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) last_order_at: Option<DateTime<Utc>>,
    pub(crate) reviews_written: i64,
    /// Absent before the first review.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) last_review_at: Option<DateTime<Utc>>,
    /// When anything last happened to the customer's orders or reviews.
    pub(crate) last_activity_at: DateTime<Utc>,
}

impl From<CustomerActivityView> for CustomerActivity {
    fn from(v: CustomerActivityView) -> Self {
        Self {
            customer_id: v.customer_id,
            orders_placed: v.orders_placed,
            orders_completed: v.orders_completed,
            orders_cancelled: v.orders_cancelled,
            total_spent: v.total_spent,
            total_refunded: v.total_refunded,
            first_order_at: v.first_order_at,
            last_order_at: v.last_order_at,
            reviews_written: v.reviews_written,
            last_review_at: v.last_review_at,
            last_activity_at: v.last_activity_at,
        }
    }
}

/// One day of sales. A sale counts on the day its order completed; refunds are charged back
/// to that day.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct DailySales {
    pub(crate) date: NaiveDate,
    pub(crate) orders_completed: i64,
    pub(crate) items_sold: i64,
    #[schema(value_type = f64, minimum = 0, multiple_of = 0.01)]
    pub(crate) gross_revenue: Money,
    pub(crate) refunds: i64,
    #[schema(value_type = f64, minimum = 0, multiple_of = 0.01)]
    pub(crate) refunded_amount: Money,
    #[schema(value_type = f64, minimum = 0, multiple_of = 0.01)]
    pub(crate) net_revenue: Money,
}

impl From<DailySalesView> for DailySales {
    fn from(v: DailySalesView) -> Self {
        Self {
            date: v.date,
            orders_completed: v.orders_completed,
            items_sold: v.items_sold,
            gross_revenue: v.gross_revenue,
            refunds: v.refunds,
            refunded_amount: v.refunded_amount,
            net_revenue: v.net_revenue,
        }
    }
}

/// Sales per day over a range, with totals.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct DailySalesReport {
    pub(crate) from: NaiveDate,
    pub(crate) to: NaiveDate,
    /// Days with sales, in date order.
    pub(crate) days: Vec<DailySales>,
    pub(crate) orders_completed: i64,
    #[schema(value_type = f64, minimum = 0, multiple_of = 0.01)]
    pub(crate) gross_revenue: Money,
    #[schema(value_type = f64, minimum = 0, multiple_of = 0.01)]
    pub(crate) refunded_amount: Money,
    #[schema(value_type = f64, minimum = 0, multiple_of = 0.01)]
    pub(crate) net_revenue: Money,
}
