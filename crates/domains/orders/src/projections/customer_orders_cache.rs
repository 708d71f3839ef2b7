//! `customer_orders_cache`: each customer's orders, newest first, in Redis: what a "my orders"
//! page shows, answered from memory. The SQL `customers` read model holds the same list, and
//! reads fall back to it whenever the cache cannot answer as freshly.
//!
//! Keys (relative to the generation; the store prefixes them):
//! - `order:<id>`: the order as the list shows it, as JSON ([`CachedOrder`]);
//! - `customer:<id>:orders`: a sorted set whose members, all scored 0, are
//!   `<created_at>~<order_id>` with the time as fixed-width RFC 3339 text, so member order is
//!   "oldest first" and a page newest first is a reverse range below a cursor, which is the
//!   member itself.
//!
//! A [`TypedRedisProjection`] of [`OrderEvent`]: it reads only order streams. The batch is
//! folded in memory through [`OrderView`], the same fold as the SQL read models: the orders it
//! touches are read once (one `MGET`), every event applied, and each written once.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use projector_core::{DomainEvent, Envelope, ProjectionError, ProjectionName};
use projector_redis::{RedisBatch, TypedRedisProjection};
use projector_sql::{parse_sql_time, sql_time};
use serde::{Deserialize, Serialize};

use crate::events::OrderEvent;
use crate::money::Money;
use crate::queries::OrdersCursor;
use crate::state::OrderStatus;
use crate::view::OrderView;

/// The projection's name.
pub const CUSTOMER_ORDERS_CACHE: ProjectionName =
    ProjectionName::from_static("customer_orders_cache");

/// Keeps the "my orders" cache current.
#[derive(Clone, Copy, Debug, Default)]
pub struct CustomerOrdersCacheProjection;

/// An order as the cache keeps it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CachedOrder {
    /// Who placed it.
    pub customer_id: String,
    /// Where it is in its life.
    pub status: String,
    /// How many items it holds.
    pub item_count: i64,
    /// What it comes to, in cents.
    pub total_cents: i64,
    /// When it was created, as fixed-width RFC 3339 text.
    pub created_at: String,
    /// When its last event was recorded.
    pub updated_at: String,
}

impl CachedOrder {
    /// The order as the cache keeps it.
    pub fn of(view: &OrderView) -> Self {
        Self {
            customer_id: view.customer_id.clone(),
            status: view.status.as_str().to_owned(),
            item_count: view.item_count,
            total_cents: view.total.cents(),
            created_at: sql_time(view.created_at),
            updated_at: sql_time(view.updated_at),
        }
    }

    /// The view it was made from (the fields it keeps).
    fn view(&self, order_id: &str) -> Result<OrderView, String> {
        let time = |text: &str| -> Result<DateTime<Utc>, String> {
            parse_sql_time(text).map_err(|e| e.to_string())
        };
        Ok(OrderView::listed(
            order_id.to_owned(),
            self.customer_id.clone(),
            OrderStatus::parse(&self.status)
                .ok_or_else(|| format!("unknown status {}", self.status))?,
            self.item_count,
            Money::from_cents(self.total_cents),
            time(&self.created_at)?,
            time(&self.updated_at)?,
        ))
    }
}

/// The key of an order (relative to the generation; for tools that write the same keys).
pub fn order_key(order_id: &str) -> String {
    format!("order:{order_id}")
}

/// The key of a customer's list of orders.
pub fn customer_key(customer_id: &str) -> String {
    format!("customer:{customer_id}:orders")
}

/// The member of `order` in its customer's list.
pub fn list_member(order: &CachedOrder, order_id: &str) -> String {
    OrdersCursor::after(&order.created_at, order_id).to_token()
}

impl TypedRedisProjection for CustomerOrdersCacheProjection {
    type Event = OrderEvent;
    const NAME: ProjectionName = CUSTOMER_ORDERS_CACHE;

    async fn apply(
        &self,
        batch: &mut RedisBatch,
        event: &Envelope<'_, OrderEvent>,
    ) -> Result<(), ProjectionError> {
        self.apply_batch(batch, std::slice::from_ref(event)).await
    }

    /// Reads through the batch see the cache as the batch found it, so the batch is folded
    /// in memory first and each order written once.
    async fn apply_batch(
        &self,
        batch: &mut RedisBatch,
        events: &[Envelope<'_, OrderEvent>],
    ) -> Result<(), ProjectionError> {
        // The orders the batch changes without creating them first: read all at once.
        let mut created: HashSet<&str> = HashSet::new();
        let mut stored: Vec<&str> = Vec::new();
        for envelope in events {
            let id = envelope.event.order_id();
            match envelope.event {
                OrderEvent::Created(_) => {
                    created.insert(id);
                }
                _ if !created.contains(id) && !stored.contains(&id) => stored.push(id),
                _ => {}
            }
        }
        let mut views: Vec<OrderView> = Vec::new();
        let mut index: HashMap<String, usize> = HashMap::new();
        let keys: Vec<String> = stored.iter().map(|id| order_key(id)).collect();
        let key_refs: Vec<&str> = keys.iter().map(String::as_str).collect();
        let found = batch.mget(&key_refs).await?;
        let mut loaded: HashMap<&str, CachedOrder> = HashMap::new();
        for (id, value) in stored.iter().zip(found) {
            if let Some(json) = value {
                let cached: CachedOrder = serde_json::from_str(&json).map_err(|e| {
                    ProjectionError::new(format!("the cached order {id} is corrupt: {e}"))
                })?;
                loaded.insert(id, cached);
            }
        }
        for envelope in events {
            let (event, position) = (&envelope.event, envelope.position);
            let id = event.order_id();
            let slot = match index.get(id) {
                Some(slot) => *slot,
                None => {
                    let view = match (event, loaded.get(id)) {
                        (OrderEvent::Created(created), _) => OrderView::created(created),
                        (_, Some(cached)) => cached
                            .view(id)
                            .map_err(|e| ProjectionError::at(position, e))?,
                        (_, None) => {
                            return Err(ProjectionError::at(
                                position,
                                format!(
                                    "{} for order {id}, which the cache has never seen",
                                    event.event_type()
                                ),
                            ));
                        }
                    };
                    index.insert(id.to_owned(), views.len());
                    views.push(view);
                    views.len() - 1
                }
            };
            views[slot]
                .apply(event, envelope.recorded_at)
                .map_err(|e| e.at(position))?;
        }
        for view in &views {
            let cached = CachedOrder::of(view);
            batch.zadd(
                customer_key(&view.customer_id),
                list_member(&cached, &view.order_id),
                0.0,
            );
            let json =
                serde_json::to_string(&cached).map_err(|e| ProjectionError::new(e.to_string()))?;
            batch.set(order_key(&view.order_id), json);
        }
        metrics::counter!("projector_read_model_upserts_total", "projection" => CUSTOMER_ORDERS_CACHE.to_string())
            .increment(views.len() as u64);
        Ok(())
    }
}
