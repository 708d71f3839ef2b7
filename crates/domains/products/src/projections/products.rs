//! `products`: each live product as it stands, one row per product; a deleted product's row is
//! removed.
//!
//! A [`TypedSqlProjection`] of [`ProductEvent`]: it reads only product streams and is handed
//! decoded envelopes. Each event is one statement, and a batch's statements go out together
//! (one round trip where the read store pipelines them). Every statement must touch exactly
//! one row: an event for a product the read model does not have stops the projection at that
//! event.

use projector_core::{DomainEvent, Envelope, GlobalPosition, ProjectionError, ProjectionName};
use projector_sql::{SqlParam, SqlRun, SqlTransaction, TypedSqlProjection, sql_time};

use crate::events::ProductEvent;

/// The projection's name.
pub const PRODUCTS: ProjectionName = ProjectionName::from_static("products");

/// Keeps `products` current.
#[derive(Clone, Copy, Debug, Default)]
pub struct ProductsProjection;

impl TypedSqlProjection for ProductsProjection {
    type Event = ProductEvent;
    const NAME: ProjectionName = PRODUCTS;
    const SCHEMA: &'static [&'static str] = &[include_str!("sql/products_schema.sql")];
    /// Inline: whoever adds or edits a product lists the catalogue next and expects to see it,
    /// and catalogue writes are rare enough that the append can carry the row.
    const INLINE: bool = true;

    async fn apply(
        &self,
        tx: &mut dyn SqlTransaction,
        event: &Envelope<'_, ProductEvent>,
    ) -> Result<(), ProjectionError> {
        self.apply_batch(tx, std::slice::from_ref(event)).await
    }

    async fn apply_batch(
        &self,
        tx: &mut dyn SqlTransaction,
        events: &[Envelope<'_, ProductEvent>],
    ) -> Result<(), ProjectionError> {
        let writes = events
            .iter()
            .map(Write::new)
            .collect::<Result<Vec<_>, _>>()?;
        let statements: Vec<(&'static str, Vec<SqlParam<'_>>)> =
            writes.iter().map(Write::statement).collect();
        let runs: Vec<SqlRun<'_, '_>> = statements
            .iter()
            .map(|(sql, params)| (*sql, params.as_slice()))
            .collect();
        let changed = tx.execute_batch(&runs).await.map_err(|failed| {
            let position = events
                .get(failed.index)
                .map_or(GlobalPosition::ZERO, |e| e.position);
            failed.error.at(position)
        })?;
        for (envelope, rows) in events.iter().zip(&changed) {
            if *rows != 1 {
                return Err(ProjectionError::at(
                    envelope.position,
                    format!(
                        "{} for product {}, which the read model does not have",
                        envelope.event.event_type(),
                        envelope.event.product_id()
                    ),
                ));
            }
        }
        Ok(())
    }
}

/// One event's change to the read model, with the values its statement binds.
struct Write<'e> {
    event: &'e ProductEvent,
    version: i64,
    /// The time the event carries: when its command was decided.
    at: String,
    /// The tags as JSON text, for events that set them.
    tags: Option<String>,
}

impl<'e> Write<'e> {
    fn new(envelope: &'e Envelope<'e, ProductEvent>) -> Result<Self, ProjectionError> {
        let event = &envelope.event;
        let tags = match event {
            ProductEvent::Created(e) => Some(&e.tags),
            ProductEvent::Updated(e) => e.tags.as_ref(),
            ProductEvent::PriceChanged(_) | ProductEvent::Deleted(_) => None,
        };
        let tags = tags
            .map(serde_json::to_string)
            .transpose()
            .map_err(|e| ProjectionError::at(envelope.position, format!("tags as JSON: {e}")))?;
        let at = match event {
            ProductEvent::Created(e) => e.created_at,
            ProductEvent::Updated(e) => e.updated_at,
            ProductEvent::PriceChanged(e) => e.changed_at,
            ProductEvent::Deleted(e) => e.deleted_at,
        };
        Ok(Self {
            event,
            version: i64::try_from(envelope.stream_version.get()).unwrap_or(i64::MAX),
            at: sql_time(at),
            tags,
        })
    }

    /// The event's statement: it touches the product's row, and only that row.
    fn statement(&self) -> (&'static str, Vec<SqlParam<'_>>) {
        let id = self.event.product_id();
        let at = self.at.as_str();
        let tags = self.tags.as_deref();
        match self.event {
            ProductEvent::Created(e) => (
                include_str!("sql/products_insert.sql"),
                vec![
                    id.into(),
                    e.name.as_str().into(),
                    e.description.as_str().into(),
                    e.category.as_str().into(),
                    e.price_cents.cents().into(),
                    tags.into(),
                    self.version.into(),
                    at.into(),
                    at.into(),
                ],
            ),
            ProductEvent::Updated(e) => (
                include_str!("sql/products_update.sql"),
                vec![
                    id.into(),
                    e.name.as_deref().into(),
                    e.description.as_deref().into(),
                    e.category.as_deref().into(),
                    tags.into(),
                    self.version.into(),
                    at.into(),
                ],
            ),
            ProductEvent::PriceChanged(e) => (
                include_str!("sql/products_price.sql"),
                vec![
                    id.into(),
                    e.to_cents.cents().into(),
                    self.version.into(),
                    at.into(),
                ],
            ),
            ProductEvent::Deleted(_) => (include_str!("sql/products_delete.sql"), vec![id.into()]),
        }
    }
}
