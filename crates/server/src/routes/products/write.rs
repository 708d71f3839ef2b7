//! The product catalogue's writes: each route validates its input, turns it into a product
//! command and runs it; nothing reaches the event store unless every field is valid.

use axum::http::StatusCode;
use axum::response::Response;
use chrono::Utc;
use projector_core::{EventSet, IdError, StreamId};
use projector_products::limits::RESERVED_IDS;
use projector_products::{ProductCommand, ProductDecider, ProductError, ProductEvent, ProductId};

use super::models::{
    CreateProduct, CreateProductRequest, PriceRequest, UpdateProductRequest, check_price,
    check_update,
};
use crate::command::{Accepted, HttpWrite, WriteTarget};
use crate::error::ApiError;
use crate::routes::orders::models::NoFields;
use crate::routes::params::WriteHeaderParams;
use crate::routes::path::ProductPath;
use crate::routes::problems::{MissingResource, WriteProblems};

/// A creation answers 201.
const CREATES: WriteTarget = WriteTarget {
    stream: product_stream,
    location: product_location,
    success: StatusCode::CREATED,
    require_user: false,
};

/// A change answers 202.
const CHANGES: WriteTarget = WriteTarget {
    success: StatusCode::ACCEPTED,
    ..CREATES
};

/// The stream of a product id the route has already checked.
fn product_stream(product_id: &str) -> Result<StreamId, IdError> {
    ProductEvent::stream(product_id)
}

fn product_location(product_id: &str) -> String {
    format!("/api/products/{product_id}")
}

/// The HTTP answer to each reason the product decider refuses a command.
fn refusal(product_id: &str, error: &ProductError) -> ApiError {
    match error {
        ProductError::NotFound => ApiError::NotFound(format!("product {product_id} not found")),
        ProductError::TooManyChanges => ApiError::field("path.id", error.to_string()),
        ProductError::Invalid { field, message } => ApiError::field(field, message.clone()),
        _ => ApiError::Conflict(error.to_string()),
    }
}

/// Add a product to the catalogue: records `ProductCreated`.
#[utoipa::path(
    post, path = "/api/products", tag = "products",
    security(("bearer" = ["write"])),
    params(WriteHeaderParams),
    request_body(content = CreateProductRequest, content_type = "application/json"),
    responses(
        (status = 201, description = "Recorded; the read model follows", body = Accepted,
            headers(("Location" = String, description = "The product"), ("ETag" = String, description = "The product's version"))),
        WriteProblems,
    )
)]
pub(crate) async fn create_product(write: HttpWrite) -> Result<Response, ApiError> {
    write
        .submit(
            &ProductDecider,
            CREATES,
            None,
            true,
            |checker, body, new_ids| {
                let product = CreateProduct::check(checker, body?)?;
                // Made from the command id, so a retry under the same one names the same product.
                let id = product.id.unwrap_or_else(|| new_ids.make("prd"));
                if RESERVED_IDS.contains(&id.as_str()) {
                    checker.error(
                        "id",
                        format!("{id:?} is reserved: it names a route beside the products'"),
                    );
                    return None;
                }
                let product_id = match ProductId::parse(&id) {
                    Ok(product_id) => product_id,
                    Err(reason) => {
                        checker.error("id", reason.to_string());
                        return None;
                    }
                };
                let command = ProductCommand::Create {
                    product_id,
                    name: product.name,
                    description: product.description,
                    category: product.category,
                    price: product.price,
                    tags: product.tags,
                    at: Utc::now(),
                };
                Some((id, command))
            },
            refusal,
        )
        .await
}

macro_rules! product_write {
    (
        $(#[$doc:meta])* $name:ident, $method:ident, $path:literal,
        body = $body:ty, required = $required:expr,
        |$checker:ident, $value:ident| $build:expr
    ) => {
        $(#[$doc])*
        #[utoipa::path(
            $method, path = $path, tag = "products",
            security(("bearer" = ["write"])),
            params(ProductPath, WriteHeaderParams),
            request_body(content = $body, content_type = "application/json"),
            responses(
                (status = 202, description = "Recorded; the read model follows", body = Accepted,
                    headers(("Location" = String, description = "The product"), ("ETag" = String, description = "The product's version"))),
                WriteProblems,
                MissingResource,
            )
        )]
        pub(crate) async fn $name(
            ProductPath { id }: ProductPath,
            write: HttpWrite,
        ) -> Result<Response, ApiError> {
            let product_id = id.into_string();
            write
                .submit(&ProductDecider, CHANGES, Some(product_id.clone()), $required, move |$checker, $value, _| {
                    let command = $build?;
                    Some((product_id.clone(), command))
                }, refusal)
                .await
        }
    };
}

product_write!(
    /// Change a product's name, description, category or tags: records `ProductUpdated` with
    /// the fields that change. An update that changes nothing is refused (409).
    update_product, patch, "/api/products/{id}",
    body = UpdateProductRequest, required = true,
    |checker, value| check_update(checker, value?).map(|changes| ProductCommand::Update { changes, at: Utc::now() })
);

product_write!(
    /// Set a product's price: records `ProductPriceChanged` from the price it had. The price it
    /// already has is refused (409).
    change_price, post, "/api/products/{id}/price",
    body = PriceRequest, required = true,
    |checker, value| check_price(checker, value?).map(|price| ProductCommand::ChangePrice { price, at: Utc::now() })
);

product_write!(
    /// Take a product out of the catalogue for good: records `ProductDeleted`. No body (or
    /// `{}`). Its read model row goes; nothing more can be done to it.
    delete_product, delete, "/api/products/{id}",
    body = NoFields, required = false,
    |checker, value| {
        checker.empty_object(value);
        Some(ProductCommand::Delete { at: Utc::now() })
    }
);
