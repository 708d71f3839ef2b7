//! The product decider: which events each command records, or why it is refused.

use chrono::{DateTime, Utc};
use projector_core::{CommandError, Decider, EventStore, StreamVersion, load};

use crate::error::ProductError;
use crate::events::{
    ProductCreated, ProductDeleted, ProductEvent, ProductPriceChanged, ProductUpdated,
};
use crate::id::{ProductId, product_stream};
use crate::limits::{
    EVENTS_MAX, category_problem, description_problem, name_problem, tags_problem,
};
use crate::price::Price;
use crate::state::Product;

/// The fields an update may set; `None` leaves a field as it is.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ProductChanges {
    /// A new name.
    pub name: Option<String>,
    /// A new description.
    pub description: Option<String>,
    /// A new category.
    pub category: Option<String>,
    /// New tags, replacing the old ones (`Some(vec![])` removes them all).
    pub tags: Option<Vec<String>>,
}

/// What can be asked of a product. Each carries the time it is decided at, so the decider
/// stays pure.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ProductCommand {
    /// Add a product to the catalogue.
    Create {
        /// The new product's id.
        product_id: ProductId,
        /// What it is called.
        name: String,
        /// What it is (may be empty).
        description: String,
        /// Where it is listed: a slug.
        category: String,
        /// What it costs.
        price: Price,
        /// Its tags: distinct slugs.
        tags: Vec<String>,
        /// Now.
        at: DateTime<Utc>,
    },
    /// Change some of its fields.
    Update {
        /// The fields to set.
        changes: ProductChanges,
        /// Now.
        at: DateTime<Utc>,
    },
    /// Set a new price.
    ChangePrice {
        /// The new price.
        price: Price,
        /// Now.
        at: DateTime<Utc>,
    },
    /// Take it out of the catalogue for good.
    Delete {
        /// Now.
        at: DateTime<Utc>,
    },
}

/// The product decider.
#[derive(Clone, Copy, Debug, Default)]
pub struct ProductDecider;

impl Decider for ProductDecider {
    type State = Product;
    type Command = ProductCommand;
    type Event = ProductEvent;
    type Error = ProductError;

    fn decide(
        &self,
        product: &Product,
        command: &ProductCommand,
    ) -> Result<Vec<ProductEvent>, ProductError> {
        if let ProductCommand::Create {
            product_id,
            name,
            description,
            category,
            price,
            tags,
            at,
        } = command
        {
            if product.exists() {
                return Err(ProductError::AlreadyExists);
            }
            check(name_problem(name), "name")?;
            check(description_problem(description), "description")?;
            check(category_problem(category), "category")?;
            check_tags(tags)?;
            check_price(*price)?;
            return Ok(vec![ProductEvent::Created(ProductCreated {
                product_id: product_id.as_str().to_owned(),
                name: name.clone(),
                description: description.clone(),
                category: category.clone(),
                price_cents: *price,
                tags: tags.clone(),
                created_at: *at,
            })]);
        }
        let Some(product_id) = product.id.clone() else {
            return Err(ProductError::NotFound);
        };
        if product.deleted {
            return Err(ProductError::Deleted {
                action: match command {
                    ProductCommand::Create { .. } => "create",
                    ProductCommand::Update { .. } => "update",
                    ProductCommand::ChangePrice { .. } => "change the price of",
                    ProductCommand::Delete { .. } => "delete",
                },
            });
        }
        // A delete is taken even at the cap: it is the last event a product ever gets, so the
        // stream stays bounded and a product that reached the cap can still leave.
        let deleting = matches!(command, ProductCommand::Delete { .. });
        if product.events >= EVENTS_MAX && !deleting {
            return Err(ProductError::TooManyChanges);
        }
        match command {
            ProductCommand::Create { .. } => Err(ProductError::AlreadyExists),
            ProductCommand::Update { changes, at } => {
                update(product, product_id, changes, *at).map(|event| vec![event])
            }
            ProductCommand::ChangePrice { price, at } => {
                check_price(*price)?;
                let from = product.price.unwrap_or(*price);
                if from == *price {
                    return Err(ProductError::SamePrice { price: *price });
                }
                Ok(vec![ProductEvent::PriceChanged(ProductPriceChanged {
                    product_id,
                    from_cents: from,
                    to_cents: *price,
                    changed_at: *at,
                })])
            }
            ProductCommand::Delete { at } => Ok(vec![ProductEvent::Deleted(ProductDeleted {
                product_id,
                deleted_at: *at,
            })]),
        }
    }

    /// Only a new stream takes it: it is appended without reading the stream first.
    fn creates(&self, command: &ProductCommand) -> bool {
        matches!(command, ProductCommand::Create { .. })
    }

    fn evolve(&self, product: Product, event: &ProductEvent) -> Product {
        product.evolve(event)
    }
}

/// `ProductUpdated` with the fields of `changes` that differ from `product`'s, or
/// [`ProductError::NothingChanged`] when none does.
fn update(
    product: &Product,
    product_id: String,
    changes: &ProductChanges,
    at: DateTime<Utc>,
) -> Result<ProductEvent, ProductError> {
    if let Some(name) = &changes.name {
        check(name_problem(name), "name")?;
    }
    if let Some(description) = &changes.description {
        check(description_problem(description), "description")?;
    }
    if let Some(category) = &changes.category {
        check(category_problem(category), "category")?;
    }
    if let Some(tags) = &changes.tags {
        check_tags(tags)?;
    }
    let changed = |new: &Option<String>, old: &String| new.clone().filter(|new| new != old);
    let event = ProductUpdated {
        product_id,
        name: changed(&changes.name, &product.name),
        description: changed(&changes.description, &product.description),
        category: changed(&changes.category, &product.category),
        tags: changes.tags.clone().filter(|tags| *tags != product.tags),
        updated_at: at,
    };
    let nothing = event.name.is_none()
        && event.description.is_none()
        && event.category.is_none()
        && event.tags.is_none();
    if nothing {
        return Err(ProductError::NothingChanged);
    }
    Ok(ProductEvent::Updated(event))
}

fn check(problem: Option<String>, field: &str) -> Result<(), ProductError> {
    match problem {
        None => Ok(()),
        Some(message) => Err(ProductError::Invalid {
            field: field.to_owned(),
            message,
        }),
    }
}

fn check_tags(tags: &[String]) -> Result<(), ProductError> {
    match tags_problem(tags) {
        None => Ok(()),
        Some((field, message)) => Err(ProductError::Invalid { field, message }),
    }
}

fn check_price(price: Price) -> Result<(), ProductError> {
    // A `Price` is made within its limits; one read from elsewhere is checked again.
    Price::from_cents(price.cents())
        .map(drop)
        .map_err(|reason| ProductError::Invalid {
            field: "price".into(),
            message: reason.to_string(),
        })
}

/// Product `id` as its events leave it, with its stream's version: how another domain checks,
/// from the write side, that a product it refers to is [live](Product::is_live). A product
/// never created folds to [`Product::default`] at [`StreamVersion::NONE`].
///
/// # Errors
/// The store's error, or a stored event that is not a product event.
pub async fn load_product<S: EventStore + ?Sized>(
    store: &S,
    id: &ProductId,
) -> Result<(Product, StreamVersion), CommandError<ProductError>> {
    load(&ProductDecider, store, &product_stream(id)).await
}

#[cfg(test)]
mod tests;
