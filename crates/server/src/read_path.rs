//! The one way a read route answers, so every route behaves the same and a new one cannot
//! forget a step: wait until the source (a read model, the event store, a cache) has reached
//! the request's `min_position` (or answer 503 naming the position it reached), query it, and
//! answer with its view, or a 404 naming what is missing, with the `Projection-Position` it had
//! reached and the `Read-Model` that answered.

mod sources;

use std::future::Future;

use axum::Json;
use axum::http::HeaderValue;
use axum::response::{IntoResponse, Response};
use projector_core::{ProjectionName, ReadStoreError};
use projector_search::{SearchRead, SearchStore};
use serde::Serialize;

use crate::consistency::{ReadConsistency, with_position};
use crate::error::ApiError;
use crate::state::AppState;

pub(crate) use sources::{Cache, EventStore, Fallback, Reached, ReadModel, ReadSource};

/// The header naming the read model that answered a read.
pub const READ_MODEL_HEADER: &str = "read-model";

/// What a read model answered.
#[derive(Debug)]
pub(crate) enum Answer<T> {
    /// The view to return.
    View(T),
    /// Nothing was found: what is missing, for the 404.
    Missing(String),
}

impl<T> Answer<T> {
    /// The view if there is one, else a 404 saying what is `missing`.
    pub(crate) fn found(view: Option<T>, missing: impl FnOnce() -> String) -> Self {
        match view {
            Some(view) => Answer::View(view),
            None => Answer::Missing(missing()),
        }
    }
}

/// Answers a read from `read_model`, as [the module](self) says.
pub(crate) async fn answer<T, F, Fut>(
    state: &AppState,
    read_model: &ProjectionName,
    consistency: ReadConsistency,
    query: F,
) -> Result<Response, ApiError>
where
    T: Serialize,
    F: FnOnce() -> Fut,
    Fut: Future<Output = Result<Answer<T>, ReadStoreError>>,
{
    answer_from(
        state,
        &ReadModel(read_model),
        consistency,
        |()| async move { query().await.map_err(read_model_error) },
    )
    .await
}

/// Answers a read from `source`, as [the module](self) says: `query` reads through what the
/// source reached, and the answer is labelled with the position that stands for.
pub(crate) async fn answer_from<S, T, F, Fut>(
    state: &AppState,
    source: &S,
    consistency: ReadConsistency,
    query: F,
) -> Result<Response, S::Error>
where
    S: ReadSource,
    T: Serialize,
    F: FnOnce(S::Handle) -> Fut,
    Fut: Future<Output = Result<Answer<T>, S::Error>>,
{
    let Reached { position, handle } = source.reach(state, consistency).await?;
    let response = match query(handle).await? {
        Answer::View(view) => Json(view).into_response(),
        Answer::Missing(what) => {
            metrics::counter!("projector_read_model_misses_total", "projection" => source.name().to_owned())
                .increment(1);
            ApiError::NotFound(what).into_response()
        }
    };
    Ok(answered_by(
        with_position(response, position),
        source.name(),
    ))
}

/// Adds the `Read-Model` header naming `read_model`.
fn answered_by(mut response: Response, read_model: &str) -> Response {
    if let Ok(value) = HeaderValue::from_str(read_model) {
        response.headers_mut().insert(READ_MODEL_HEADER, value);
    }
    response
}

/// The HTTP error for a read model that could not be read.
pub(crate) fn read_model_error(error: ReadStoreError) -> ApiError {
    match error {
        ReadStoreError::NoGeneration { projection, .. } => {
            ApiError::Unavailable(format!("the {projection} read model is not built yet"))
        }
        ReadStoreError::Query {
            message,
            transient: false,
            ..
        } => ApiError::Internal(message),
        other => ApiError::Unavailable(other.to_string()),
    }
}

/// Runs `search` against the serving generation of `projection`'s index in `store` (the
/// search indexes this server keeps), on a blocking thread: the index is read from disk.
///
/// # Errors
/// `ReadStoreError::NoGeneration` when this server keeps no search indexes, the store's error
/// when the index cannot be read, and `search`'s own.
pub(crate) async fn search_index<T: Send + 'static>(
    store: Option<SearchStore>,
    projection: ProjectionName,
    search: impl FnOnce(&SearchRead) -> Result<T, ReadStoreError> + Send + 'static,
) -> Result<T, ReadStoreError> {
    let store = store.ok_or_else(|| ReadStoreError::NoGeneration {
        projection: projection.clone(),
        generation: "serving".into(),
    })?;
    tokio::task::spawn_blocking(move || search(&store.read(&projection)?))
        .await
        .map_err(|e| ReadStoreError::Unavailable {
            message: format!("the search did not finish: {e}"),
            source: None,
        })?
}
