//! `product_search`: every live product as a document of a search index, found by the words of
//! its name, description and tags (stemmed, so "headphone" finds "Wireless Headphones"),
//! filtered by category and price, sorted by relevance or price, with a count per category.
//!
//! A [`TypedSearchProjection`] of [`ProductEvent`]. The index keeps each product's
//! [`ProductDocument`] whole (its source), so an update or a price change reads the document
//! as it was, changes it and puts it back; a deletion removes it. Each process keeps its own
//! index (see `projector_search`); queries are in [`crate::search`].

use chrono::{DateTime, Utc};
use projector_core::{DomainEvent, Envelope, ProjectionError, ProjectionName};
use projector_search::tantivy::schema::{
    FAST, FacetOptions, INDEXED, IndexRecordOption, NumericOptions, STRING, SchemaBuilder,
    TextFieldIndexing, TextOptions,
};
use projector_search::{DocumentBuilder, SearchBatch, TypedSearchProjection};
use serde::{Deserialize, Serialize};

use crate::events::ProductEvent;

/// The projection's name.
pub const PRODUCT_SEARCH: ProjectionName = ProjectionName::from_static("product_search");

/// The tokenizer of the text fields: words, lower-cased, reduced to their English stem.
pub const TOKENIZER: &str = "en_stem";

/// The index's fields.
pub mod fields {
    /// The product's name, as stemmed words.
    pub const NAME: &str = "name";
    /// Its description, as stemmed words.
    pub const DESCRIPTION: &str = "description";
    /// Its tags, as stemmed words.
    pub const TAGS: &str = "tags";
    /// Its category, whole: for filters.
    pub const CATEGORY: &str = "category";
    /// Its category as a facet (`/<category>`): for the count per category.
    pub const CATEGORY_FACET: &str = "category_facet";
    /// Its price in cents: for the price filter and the price sort.
    pub const PRICE: &str = "price";

    /// The fields a text query searches, each with its weight: a word in the name counts for
    /// more than one in the tags, which counts for more than one in the description.
    pub const TEXT: [(&str, f32); 3] = [(NAME, 3.0), (TAGS, 2.0), (DESCRIPTION, 1.0)];
}

/// Keeps the product search index current.
#[derive(Clone, Copy, Debug, Default)]
pub struct ProductSearchProjection;

/// A product as the search index keeps it, and as a hit shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProductDocument {
    /// The product.
    pub product_id: String,
    /// What it is called.
    pub name: String,
    /// What it is.
    pub description: String,
    /// Where it is listed.
    pub category: String,
    /// What it costs, in cents.
    pub price_cents: i64,
    /// Its tags.
    pub tags: Vec<String>,
    /// When it entered the catalogue.
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
}

impl ProductDocument {
    /// The document after `event`, which is not its creation or deletion.
    fn apply(&mut self, event: &ProductEvent) {
        match event {
            ProductEvent::Updated(updated) => {
                if let Some(name) = &updated.name {
                    self.name.clone_from(name);
                }
                if let Some(description) = &updated.description {
                    self.description.clone_from(description);
                }
                if let Some(category) = &updated.category {
                    self.category.clone_from(category);
                }
                if let Some(tags) = &updated.tags {
                    self.tags.clone_from(tags);
                }
                self.updated_at = updated.updated_at;
            }
            ProductEvent::PriceChanged(changed) => {
                self.price_cents = changed.to_cents.cents();
                self.updated_at = changed.changed_at;
            }
            ProductEvent::Created(_) | ProductEvent::Deleted(_) => {}
        }
    }
}

/// The text options of a stemmed, searchable field with positions (for phrases and snippets).
fn stemmed() -> TextOptions {
    TextOptions::default().set_indexing_options(
        TextFieldIndexing::default()
            .set_tokenizer(TOKENIZER)
            .set_index_option(IndexRecordOption::WithFreqsAndPositions),
    )
}

impl TypedSearchProjection for ProductSearchProjection {
    type Event = ProductEvent;
    type Document = ProductDocument;
    const NAME: ProjectionName = PRODUCT_SEARCH;

    fn schema(&self, schema: &mut SchemaBuilder) {
        for (field, _) in fields::TEXT {
            schema.add_text_field(field, stemmed());
        }
        schema.add_text_field(fields::CATEGORY, STRING);
        schema.add_facet_field(fields::CATEGORY_FACET, FacetOptions::default());
        schema.add_i64_field(fields::PRICE, NumericOptions::from(FAST | INDEXED));
    }

    fn index(
        &self,
        product: &ProductDocument,
        document: &mut DocumentBuilder<'_>,
    ) -> Result<(), ProjectionError> {
        document
            .text(fields::NAME, &product.name)?
            .text(fields::DESCRIPTION, &product.description)?
            .text(fields::CATEGORY, &product.category)?
            .facet(fields::CATEGORY_FACET, &[product.category.as_str()])?
            .i64(fields::PRICE, product.price_cents)?;
        for tag in &product.tags {
            document.text(fields::TAGS, tag)?;
        }
        Ok(())
    }

    fn apply(
        &self,
        batch: &mut SearchBatch<ProductDocument>,
        envelope: &Envelope<'_, ProductEvent>,
    ) -> Result<(), ProjectionError> {
        let event = &envelope.event;
        let id = event.product_id();
        match event {
            ProductEvent::Created(created) => batch.put(
                id,
                ProductDocument {
                    product_id: created.product_id.clone(),
                    name: created.name.clone(),
                    description: created.description.clone(),
                    category: created.category.clone(),
                    price_cents: created.price_cents.cents(),
                    tags: created.tags.clone(),
                    created_at: created.created_at,
                    updated_at: created.created_at,
                },
            ),
            ProductEvent::Deleted(_) => batch.delete(id),
            ProductEvent::Updated(_) | ProductEvent::PriceChanged(_) => {
                let Some(mut document) = batch.get(id)? else {
                    return Err(ProjectionError::at(
                        envelope.position,
                        format!(
                            "{} for product {id}, which the index does not hold",
                            event.event_type()
                        ),
                    ));
                };
                document.apply(event);
                batch.put(id, document);
            }
        }
        Ok(())
    }
}
