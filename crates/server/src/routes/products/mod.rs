//! The product catalogue over HTTP.
//!
//! `/api/products/{id}` takes its id as a path parameter beside any static segment a later
//! route adds (`/api/products/search`): axum routes a static segment before a parameter, so
//! such a route is never read as a product id (a test here holds it to that).

pub(crate) mod models;
pub(crate) mod read;
pub(crate) mod search;
mod write;

use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::state::AppState;

/// The product routes, documented.
pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(write::create_product))
        .routes(routes!(
            write::update_product,
            write::delete_product,
            read::get_product
        ))
        .routes(routes!(write::change_price))
        .routes(routes!(search::search_products_route))
}

#[cfg(test)]
mod tests;
