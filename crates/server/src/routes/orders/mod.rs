//! The orders service over HTTP.

pub(crate) mod models;
pub(crate) mod read;
pub(crate) mod search;
mod write;

use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::state::AppState;

/// The order routes, documented.
pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(write::create_order))
        .routes(routes!(write::add_item))
        .routes(routes!(write::remove_item))
        .routes(routes!(write::ship_order))
        .routes(routes!(write::complete_order))
        .routes(routes!(write::cancel_order))
        .routes(routes!(write::refund_order))
        .routes(routes!(read::get_order))
        .routes(routes!(read::get_history))
        .routes(routes!(search::search))
}
