//! A product as the decider sees it: folded from its events, nothing more than decisions need.

use crate::events::ProductEvent;
use crate::price::Price;

/// The decider's view of one product.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Product {
    /// The product's id; `None` until it is created.
    pub id: Option<String>,
    /// Its name.
    pub name: String,
    /// Its description.
    pub description: String,
    /// Its category.
    pub category: String,
    /// Its price; `None` until it is created.
    pub price: Option<Price>,
    /// Its tags, in order.
    pub tags: Vec<String>,
    /// Whether it was deleted.
    pub deleted: bool,
    /// How many events its stream holds.
    pub events: u32,
}

impl Product {
    /// Whether the product was ever created (a deleted one was).
    pub fn exists(&self) -> bool {
        self.id.is_some()
    }

    /// Whether the product exists and was not deleted: what another domain checks before it
    /// refers to the product.
    pub fn is_live(&self) -> bool {
        self.exists() && !self.deleted
    }

    /// The product after `event`.
    pub fn evolve(mut self, event: &ProductEvent) -> Self {
        self.events = self.events.saturating_add(1);
        match event {
            ProductEvent::Created(e) => {
                self.id = Some(e.product_id.clone());
                self.name.clone_from(&e.name);
                self.description.clone_from(&e.description);
                self.category.clone_from(&e.category);
                self.price = Some(e.price_cents);
                self.tags.clone_from(&e.tags);
            }
            ProductEvent::Updated(e) => {
                if let Some(name) = &e.name {
                    self.name.clone_from(name);
                }
                if let Some(description) = &e.description {
                    self.description.clone_from(description);
                }
                if let Some(category) = &e.category {
                    self.category.clone_from(category);
                }
                if let Some(tags) = &e.tags {
                    self.tags.clone_from(tags);
                }
            }
            ProductEvent::PriceChanged(e) => self.price = Some(e.to_cents),
            ProductEvent::Deleted(_) => self.deleted = true,
        }
        self
    }
}
