//! The dashboard: a page at `/admin/` showing every projection live, with its actions.
//!
//! Plain HTML, CSS and JavaScript from `src/dashboard/`, built into the binary; nothing is
//! fetched from another host, and the page's `Content-Security-Policy` allows only this origin.
//! The page follows `GET /admin/live` and acts through the admin routes, so it can do nothing
//! the admin API does not let its caller do.

use axum::extract::Path;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::ApiError;
use crate::state::AppState;

/// The page and what it loads: only this origin, no inline script or style, never framed.
const POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; \
    connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// The dashboard's files: name, media type, content.
const FILES: [(&str, &str, &str); 5] = [
    (
        "style.css",
        "text/css; charset=utf-8",
        include_str!("../../dashboard/style.css"),
    ),
    (
        "app.js",
        "text/javascript; charset=utf-8",
        include_str!("../../dashboard/app.js"),
    ),
    (
        "table.js",
        "text/javascript; charset=utf-8",
        include_str!("../../dashboard/table.js"),
    ),
    (
        "charts.js",
        "text/javascript; charset=utf-8",
        include_str!("../../dashboard/charts.js"),
    ),
    (
        "actions.js",
        "text/javascript; charset=utf-8",
        include_str!("../../dashboard/actions.js"),
    ),
];

/// The dashboard's routes, documented.
pub(super) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(page))
        .routes(routes!(to_page))
        .routes(routes!(file))
}

/// Answers `body` as `media_type` under the dashboard's security headers.
fn served(media_type: &'static str, body: &'static str) -> Response {
    let mut response = (StatusCode::OK, body).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(media_type));
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(POLICY),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response
}

/// The dashboard: every projection's state, lag, throughput, dead letters, lease holder and
/// rebuild, live, with charts of the last hour and the admin actions. With authentication on,
/// a browser signs in with HTTP Basic: any user name, and an API key or JWT with the `admin`
/// scope as the password.
#[utoipa::path(get, path = "/admin/", tag = "admin",
    security(("bearer" = ["admin"])),
    responses(
        (status = 200, description = "The dashboard page", content_type = "text/html",
            body = String,
            headers(("Content-Security-Policy" = String, description = "Only this origin"))),
    ))]
pub(crate) async fn page() -> Response {
    served(
        "text/html; charset=utf-8",
        include_str!("../../dashboard/index.html"),
    )
}

/// Sends a browser to the dashboard at `/admin/`, where its relative links resolve.
#[utoipa::path(get, path = "/admin", tag = "admin",
    security(("bearer" = ["admin"])),
    responses(
        (status = 308, description = "The dashboard is at /admin/",
            headers(("Location" = String, description = "/admin/"))),
    ))]
pub(crate) async fn to_page() -> Redirect {
    Redirect::permanent("/admin/")
}

/// One of the dashboard's scripts or its style sheet.
#[utoipa::path(get, path = "/admin/assets/{file}", tag = "admin",
    security(("bearer" = ["admin"])),
    params(("file" = String, Path, description = "The file's name, such as `app.js`")),
    responses(
        (status = 200, description = "The file: a script or the style sheet",
            content((String = "text/javascript"), (String = "text/css"))),
        (status = 404, description = "The dashboard has no such file", body = crate::error::Problem,
            content_type = "application/problem+json"),
    ))]
pub(crate) async fn file(Path(name): Path<String>) -> Result<Response, ApiError> {
    FILES
        .iter()
        .find(|(file, _, _)| *file == name)
        .map(|(_, media_type, body)| served(media_type, body))
        .ok_or_else(|| {
            ApiError::NotFound(format!(
                "the dashboard has no file {:?}",
                name.chars().take(100).collect::<String>()
            ))
        })
}
