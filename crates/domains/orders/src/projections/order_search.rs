//! `order_search`: every order as a document of a search index, found by any word of its id,
//! its customer's id, its SKUs, its tracking number or its cancellation reason, and filtered by
//! status and customer.
//!
//! A [`TypedSearchProjection`] of [`OrderEvent`]. The index keeps each order's
//! [`OrderDocument`] whole (its source), so an event that changes an order in part (an item
//! added, the order shipped with a tracking number) reads the document as it was, folds the
//! event into it through [`OrderView`] (the fold every read model of single orders shares), and
//! puts it back. Each process keeps its own index (see `projector_search`); queries are in
//! [`crate::search`].

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use projector_core::{DomainEvent, Envelope, ProjectionError, ProjectionName};
use projector_search::tantivy::schema::{FAST, NumericOptions, STRING, SchemaBuilder, TEXT};
use projector_search::{DocumentBuilder, SearchBatch, TypedSearchProjection};
use serde::{Deserialize, Serialize};

use crate::events::OrderEvent;
use crate::money::Money;
use crate::state::OrderStatus;
use crate::sum::OutOfRange;
use crate::view::OrderView;

/// The projection's name.
pub const ORDER_SEARCH: ProjectionName = ProjectionName::from_static("order_search");

/// The index's fields.
pub mod fields {
    /// The order's id, as words (`ord-2024-7` is `ord`, `2024`, `7`).
    pub const ORDER_ID: &str = "order_id";
    /// The customer's id, as words.
    pub const CUSTOMER: &str = "customer";
    /// Each SKU of its lines, as words.
    pub const SKU: &str = "sku";
    /// Its tracking number, as words.
    pub const TRACKING: &str = "tracking";
    /// Why it was cancelled, as words.
    pub const REASON: &str = "reason";
    /// Its status, whole: for filters.
    pub const STATUS: &str = "status";
    /// The customer's id, whole: for filters.
    pub const CUSTOMER_ID: &str = "customer_id";
    /// When it was created, in microseconds since the epoch: for the newest first.
    pub const CREATED_AT: &str = "created_at";

    /// The fields a text query searches.
    pub const TEXT: [&str; 5] = [ORDER_ID, CUSTOMER, SKU, TRACKING, REASON];
}

/// Keeps the order search index current.
#[derive(Clone, Copy, Debug, Default)]
pub struct OrderSearchProjection;

/// An order as the search index keeps it, and as a hit shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderDocument {
    /// The order.
    pub order_id: String,
    /// Who placed it.
    pub customer_id: String,
    /// Where it is in its life.
    pub status: OrderStatus,
    /// The SKUs of its lines, each once.
    pub skus: BTreeSet<String>,
    /// How many items it holds.
    pub item_count: i64,
    /// What it comes to, in cents.
    pub total_cents: i64,
    /// Its tracking number, once shipped.
    pub tracking: Option<String>,
    /// Why it was cancelled.
    pub cancellation_reason: Option<String>,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When its last event was recorded.
    pub updated_at: DateTime<Utc>,
}

impl OrderDocument {
    /// The document of an order as `view` shows it, with the SKUs of its lines.
    fn of(view: OrderView, skus: BTreeSet<String>) -> Self {
        Self {
            order_id: view.order_id,
            customer_id: view.customer_id,
            status: view.status,
            skus,
            item_count: view.item_count,
            total_cents: view.total.cents(),
            tracking: view.tracking,
            cancellation_reason: view.cancellation_reason,
            created_at: view.created_at,
            updated_at: view.updated_at,
        }
    }

    /// The view it was made from (the fields it keeps), to fold more events into.
    fn view(&self) -> OrderView {
        let mut view = OrderView::listed(
            self.order_id.clone(),
            self.customer_id.clone(),
            self.status,
            self.item_count,
            Money::from_cents(self.total_cents),
            self.created_at,
            self.updated_at,
        );
        view.tracking = self.tracking.clone();
        view.cancellation_reason = self.cancellation_reason.clone();
        view
    }

    /// The document after `event`, recorded at `recorded_at`.
    fn apply(&mut self, event: &OrderEvent, recorded_at: DateTime<Utc>) -> Result<(), OutOfRange> {
        let mut skus = std::mem::take(&mut self.skus);
        match event {
            OrderEvent::ItemAdded(e) => {
                skus.insert(e.sku.clone());
            }
            OrderEvent::ItemRemoved(e) => {
                skus.remove(&e.sku);
            }
            _ => {}
        }
        let mut view = self.view();
        view.apply(event, recorded_at)?;
        *self = Self::of(view, skus);
        Ok(())
    }
}

impl TypedSearchProjection for OrderSearchProjection {
    type Event = OrderEvent;
    type Document = OrderDocument;
    const NAME: ProjectionName = ORDER_SEARCH;

    fn schema(&self, schema: &mut SchemaBuilder) {
        for field in fields::TEXT {
            schema.add_text_field(field, TEXT);
        }
        schema.add_text_field(fields::STATUS, STRING);
        schema.add_text_field(fields::CUSTOMER_ID, STRING);
        schema.add_i64_field(fields::CREATED_AT, NumericOptions::from(FAST));
    }

    fn index(
        &self,
        order: &OrderDocument,
        document: &mut DocumentBuilder<'_>,
    ) -> Result<(), ProjectionError> {
        document
            .text(fields::ORDER_ID, &order.order_id)?
            .text(fields::CUSTOMER, &order.customer_id)?
            .text(fields::STATUS, order.status.as_str())?
            .text(fields::CUSTOMER_ID, &order.customer_id)?
            .i64(fields::CREATED_AT, order.created_at.timestamp_micros())?;
        for sku in &order.skus {
            document.text(fields::SKU, sku)?;
        }
        if let Some(tracking) = &order.tracking {
            document.text(fields::TRACKING, tracking)?;
        }
        if let Some(reason) = &order.cancellation_reason {
            document.text(fields::REASON, reason)?;
        }
        Ok(())
    }

    fn apply(
        &self,
        batch: &mut SearchBatch<OrderDocument>,
        envelope: &Envelope<'_, OrderEvent>,
    ) -> Result<(), ProjectionError> {
        let event = &envelope.event;
        let id = event.order_id();
        let document = match event {
            OrderEvent::Created(created) => {
                OrderDocument::of(OrderView::created(created), BTreeSet::new())
            }
            _ => {
                let Some(mut document) = batch.get(id)? else {
                    return Err(ProjectionError::at(
                        envelope.position,
                        format!(
                            "{} for order {id}, which the index has never seen",
                            event.event_type()
                        ),
                    ));
                };
                document
                    .apply(event, envelope.recorded_at)
                    .map_err(|e| e.at(envelope.position))?;
                document
            }
        };
        batch.put(id, document);
        Ok(())
    }
}
