//! The shapes of the product API's requests and responses, and the parsing that enforces their
//! limits (which `schemas` writes into the OpenAPI document from the same constants).
//!
//! Prices stay whole cents ([`Price`]) up to here; the responses write them as decimal numbers
//! with at most two decimals, as every amount of the API.

use chrono::{DateTime, Utc};
use projector_orders::Money;
use projector_products::queries::ProductView;
use projector_products::{Price, ProductChanges};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use crate::limits::{
    CATEGORY_MAX, PRICE_MAX, PRODUCT_DESCRIPTION_MAX, PRODUCT_NAME_MAX, TAG_MAX, TAGS_MAX,
};
use crate::validate::{Checker, Object, Text};

/// `POST /api/products`: add a product to the catalogue.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)] // Documents the body; `validate` reads it from the JSON, naming every bad field.
pub(crate) struct CreateProductRequest {
    /// The product's id; made by the server when absent.
    id: Option<String>,
    /// What it is called.
    name: String,
    /// What it is (line breaks allowed); empty when absent.
    description: Option<String>,
    /// Where it is listed: lowercase letters and digits in words joined by `-`.
    category: String,
    /// What it costs: more than 0, at most two decimal places.
    price: f64,
    /// Its tags, each once, of the same form as the category; none when absent.
    tags: Option<Vec<String>>,
}

/// `PATCH /api/products/{id}`: change any of these fields. An update that gives every field it
/// names the value it already has changes nothing and is refused (409).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)] // Documents the body; `validate` reads it from the JSON, naming every bad field.
pub(crate) struct UpdateProductRequest {
    name: Option<String>,
    description: Option<String>,
    category: Option<String>,
    /// Replaces the tags; `[]` removes them all.
    tags: Option<Vec<String>>,
}

/// `POST /api/products/{id}/price`: set a new price (the price the product has is refused with
/// 409).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)] // Documents the body; `validate` reads it from the JSON, naming every bad field.
pub(crate) struct PriceRequest {
    /// The new price: more than 0, at most two decimal places.
    price: f64,
}

/// A validated product creation.
#[derive(Debug)]
pub(crate) struct CreateProduct {
    pub(crate) id: Option<String>,
    pub(crate) name: String,
    pub(crate) description: String,
    pub(crate) category: String,
    pub(crate) price: Price,
    pub(crate) tags: Vec<String>,
}

impl CreateProduct {
    pub(crate) fn check(checker: &mut Checker, body: &Value) -> Option<Self> {
        let object = checker.object(
            body,
            "",
            &["id", "name", "description", "category", "price", "tags"],
        )?;
        let id = checker.optional_text(&object, "id", Text::Id);
        let name = checker.text(&object, "name", NAME);
        let description = checker.optional_text(&object, "description", DESCRIPTION);
        let category = checker.text(&object, "category", CATEGORY);
        let price = price(checker, &object);
        let tags = checker.optional_distinct_texts(&object, "tags", TAGS_MAX, TAG);
        Some(Self {
            id: id?,
            name: name?,
            description: description?.unwrap_or_default(),
            category: category?,
            price: price?,
            tags: tags?.unwrap_or_default(),
        })
    }
}

/// How a product's fields are checked.
const NAME: Text = Text::Free {
    max: PRODUCT_NAME_MAX,
};
const DESCRIPTION: Text = Text::Prose {
    max: PRODUCT_DESCRIPTION_MAX,
    allow_empty: true,
};
const CATEGORY: Text = Text::Slug { max: CATEGORY_MAX };
const TAG: Text = Text::Slug { max: TAG_MAX };

/// A validated update.
pub(crate) fn check_update(checker: &mut Checker, body: &Value) -> Option<ProductChanges> {
    let object = checker.object(body, "", &["name", "description", "category", "tags"])?;
    let name = checker.optional_text(&object, "name", NAME);
    let description = checker.optional_text(&object, "description", DESCRIPTION);
    let category = checker.optional_text(&object, "category", CATEGORY);
    let tags = checker.optional_distinct_texts(&object, "tags", TAGS_MAX, TAG);
    Some(ProductChanges {
        name: name?,
        description: description?,
        category: category?,
        tags: tags?,
    })
}

/// A validated new price.
pub(crate) fn check_price(checker: &mut Checker, body: &Value) -> Option<Price> {
    let object = checker.object(body, "", &["price"])?;
    price(checker, &object)
}

/// The `price` of `object`, in whole cents.
fn price(checker: &mut Checker, object: &Object<'_>) -> Option<Price> {
    let amount = checker.amount_up_to(object, "price", true, PRICE_MAX)?;
    match Price::from_cents(amount.cents()) {
        Ok(price) => Some(price),
        Err(reason) => {
            checker.error("price", reason.to_string());
            None
        }
    }
}

/// A product as the `products` read model holds it.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct Product {
    id: String,
    name: String,
    description: String,
    category: String,
    #[schema(value_type = f64, exclusive_minimum = 0, multiple_of = 0.01)]
    price: Money,
    tags: Vec<String>,
    /// The stream version: send it back in `If-Match` (also the `ETag`).
    version: u64,
    created_at: DateTime<Utc>,
    /// When it last changed.
    updated_at: DateTime<Utc>,
}

impl Product {
    pub(crate) fn version(&self) -> u64 {
        self.version
    }
}

impl From<ProductView> for Product {
    fn from(v: ProductView) -> Self {
        Self {
            id: v.id,
            name: v.name,
            description: v.description,
            category: v.category,
            price: Money::from_cents(v.price.cents()),
            tags: v.tags,
            version: v.version,
            created_at: v.created_at,
            updated_at: v.updated_at,
        }
    }
}
