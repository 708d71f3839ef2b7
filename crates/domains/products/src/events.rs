//! The events of a product's stream, and how they are stored.
//!
//! Every payload carries `product_id`, so projections never depend on how streams are named.
//! Prices are whole cents (`price_cents`, `from_cents`, `to_cents`).

use chrono::{DateTime, Utc};
use projector_core::DomainEvent;
use serde::{Deserialize, Serialize};

use crate::price::Price;

/// `ProductCreated`: a product entered the catalogue.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProductCreated {
    /// The product.
    pub product_id: String,
    /// What it is called.
    pub name: String,
    /// What it is (may be empty).
    pub description: String,
    /// Where it is listed: a slug.
    pub category: String,
    /// What it costs.
    pub price_cents: Price,
    /// Its tags, in the order given: distinct slugs.
    pub tags: Vec<String>,
    /// When.
    #[serde(with = "projector_core::time::rfc3339")]
    pub created_at: DateTime<Utc>,
}

/// `ProductUpdated`: the fields that changed, each with its new value; a field that did not
/// change is absent.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProductUpdated {
    /// The product.
    pub product_id: String,
    /// A new name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// A new description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// A new category.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub category: Option<String>,
    /// New tags, replacing the old ones.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tags: Option<Vec<String>>,
    /// When.
    #[serde(with = "projector_core::time::rfc3339")]
    pub updated_at: DateTime<Utc>,
}

/// `ProductPriceChanged`: the price went from one amount to another.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProductPriceChanged {
    /// The product.
    pub product_id: String,
    /// The price before.
    pub from_cents: Price,
    /// The price now.
    pub to_cents: Price,
    /// When.
    #[serde(with = "projector_core::time::rfc3339")]
    pub changed_at: DateTime<Utc>,
}

/// `ProductDeleted`: the product left the catalogue; nothing more happens to it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProductDeleted {
    /// The product.
    pub product_id: String,
    /// When.
    #[serde(with = "projector_core::time::rfc3339")]
    pub deleted_at: DateTime<Utc>,
}

/// Everything that can happen to a product, stored in the product's stream (`product-<id>`),
/// each type at schema version 1.
#[derive(Clone, Debug, PartialEq, Eq, DomainEvent)]
#[event(crate = "projector_core", category = "product")]
pub enum ProductEvent {
    /// See [`ProductCreated`].
    #[event(name = "ProductCreated")]
    Created(ProductCreated),
    /// See [`ProductUpdated`].
    #[event(name = "ProductUpdated")]
    Updated(ProductUpdated),
    /// See [`ProductPriceChanged`].
    #[event(name = "ProductPriceChanged")]
    PriceChanged(ProductPriceChanged),
    /// See [`ProductDeleted`].
    #[event(name = "ProductDeleted")]
    Deleted(ProductDeleted),
}

impl ProductEvent {
    /// The product the event belongs to.
    pub fn product_id(&self) -> &str {
        match self {
            ProductEvent::Created(e) => &e.product_id,
            ProductEvent::Updated(e) => &e.product_id,
            ProductEvent::PriceChanged(e) => &e.product_id,
            ProductEvent::Deleted(e) => &e.product_id,
        }
    }
}

#[cfg(test)]
mod tests;
