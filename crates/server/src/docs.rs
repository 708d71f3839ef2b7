//! The interactive API docs at `/docs`: Swagger UI, its assets compiled into the binary, so the
//! page loads nothing from another host (no CDN, no online validator).

use axum::Router;
use utoipa_swagger_ui::{Config, SwaggerUi};

use crate::state::AppState;

/// The docs page, reading the document from `/openapi.json`. Who may fetch it is the guard's
/// business (`--public docs`, else the `read` scope).
pub(crate) fn router() -> Router<AppState> {
    let config = Config::from("/openapi.json")
        .validator_url("none")
        .try_it_out_enabled(true)
        .persist_authorization(true);
    SwaggerUi::new("/docs").config(config).into()
}
