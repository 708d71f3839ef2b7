//! The issue tracker over HTTP.

pub(crate) mod models;
pub(crate) mod read;
mod write;

use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::state::AppState;

/// The issue routes, documented.
pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(write::create_issue, read::list_issues))
        .routes(routes!(write::update_issue, read::get_issue))
        .routes(routes!(write::add_comment))
        .routes(routes!(read::issue_history))
}
