//! The product catalogue's reads, from its read model only.

use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::Response;
use projector_products::projections::PRODUCTS;
use projector_products::queries;

use super::models::Product;
use crate::consistency::ReadConsistency;
use crate::error::ApiError;
use crate::extract::QueryParams;
use crate::read_path::{Answer, answer};
use crate::routes::params::ReadParams;
use crate::routes::path::ProductPath;
use crate::routes::problems::{MissingResource, ReadProblems};
use crate::state::AppState;

/// A product as the `products` read model holds it; its version is also the `ETag`. A deleted
/// product is not found.
#[utoipa::path(
    get, path = "/api/products/{id}", tag = "products",
    security(("bearer" = ["read"])),
    params(ProductPath, ReadParams),
    responses(
        (status = 200, description = "The product", body = Product,
            headers(("ETag" = String, description = "The product's version, for If-Match"),
                    ("Projection-Position" = u64, description = "The position the read model has reached"),
                    ("Read-Model" = String, description = "The read model that answered: a projection, or `events` for the event store"))),
        ReadProblems,
        MissingResource,
    )
)]
pub(crate) async fn get_product(
    State(state): State<AppState>,
    ProductPath { id }: ProductPath,
    mut query: QueryParams,
) -> Result<Response, ApiError> {
    let consistency = ReadConsistency::from_query(&mut query, &state);
    query.finish()?;
    let mut etag = None;
    let mut response = answer(&state, &PRODUCTS, consistency, || async {
        let product = queries::product(state.reads(), id.as_str())
            .await?
            .map(Product::from);
        etag = product.as_ref().map(|p| format!("\"{}\"", p.version()));
        Ok(Answer::found(product, || format!("product {id} not found")))
    })
    .await?;
    if let Some(etag) = etag.and_then(|e| HeaderValue::from_str(&e).ok()) {
        response.headers_mut().insert(header::ETAG, etag);
    }
    Ok(response)
}
