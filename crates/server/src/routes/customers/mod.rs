//! The customers service over HTTP: registration, profile changes, tiers and reviews of
//! products on the write side; a customer's profile, activity and orders from the `customers`
//! read model on the read side.

pub(crate) mod models;
mod orders;
mod read;
mod reviews;
mod write;

use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::state::AppState;

pub(crate) use orders::page_query;

/// The customer routes, documented.
pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(write::register_customer))
        .routes(routes!(write::update_customer, read::get_customer))
        .routes(routes!(write::change_tier))
        .routes(routes!(reviews::submit_review))
        .routes(routes!(orders::customer_orders))
        .routes(routes!(read::customer_activity))
}
