//! Running a domain command for a write request: validation of headers and body together, idempotency keys, optimistic concurrency,
//! event metadata, and the `202 Accepted` answer. Generic over the domain's decider, so every
//! built-in service writes the same way.

use std::time::Duration;

use axum::extract::{FromRequest, Request};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use projector_core::{
    CausationId, Claim, CommandError, CommandOptions, Decider, EventMetadata, IdError, StoreError,
    StoredResponse, StreamId, execute,
};
use serde::Serialize;
use serde_json::Value;
use sha2::{Digest, Sha256};
use utoipa::ToSchema;

use crate::context::RequestContext;
use crate::error::ApiError;
use crate::extract::{JsonBody, WriteHeaders};
use crate::state::AppState;
use crate::validate::Checker;

/// The answer to an accepted write.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct Accepted {
    /// The id of the resource written.
    pub id: String,
    /// Always `accepted`: the events are recorded; read models follow.
    pub status: String,
    /// The global position of the write's last event: pass it as `min_position` to read
    /// your own write.
    pub position: u64,
    /// The id the command was recorded under: the causation id of the events it produced.
    pub command_id: String,
}

/// One write to run.
#[derive(Debug)]
pub(crate) struct Write<'a, C> {
    /// The stream the command targets.
    pub(crate) stream: StreamId,
    /// The command.
    pub(crate) command: C,
    /// The id reported back.
    pub(crate) resource_id: String,
    /// Where the resource's read model is.
    pub(crate) location: String,
    /// `If-Match`, `Idempotency-Key`, `X-User-Id`.
    pub(crate) headers: WriteHeaders,
    /// Identifies the request for its idempotency key.
    pub(crate) fingerprint: String,
    /// The correlation id.
    pub(crate) context: &'a RequestContext,
    /// The status of a write that recorded events (`201` or `202`).
    pub(crate) success: StatusCode,
}

/// How many times a write without `If-Match` decides again after losing a race.
const WRITE_ATTEMPTS: u32 = 32;

/// A write request as its handler received it.
pub(crate) struct HttpWrite {
    state: AppState,
    context: RequestContext,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: JsonBody,
}

impl FromRequest<AppState> for HttpWrite {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &AppState) -> Result<Self, ApiError> {
        let context = request
            .extensions()
            .get::<RequestContext>()
            .cloned()
            .ok_or_else(|| {
                ApiError::Internal("the request context middleware did not run".into())
            })?;
        let (method, uri, headers) = (
            request.method().clone(),
            request.uri().clone(),
            request.headers().clone(),
        );
        let body = JsonBody::from_request(request, state).await?;
        Ok(Self {
            state: state.clone(),
            context,
            method,
            uri,
            headers,
            body,
        })
    }
}

/// How one service's writes map onto streams and answers.
#[derive(Clone, Copy, Debug)]
pub(crate) struct WriteTarget {
    /// The stream a resource id names.
    pub(crate) stream: fn(&str) -> Result<StreamId, IdError>,
    /// Where the resource's read model is served.
    pub(crate) location: fn(&str) -> String,
    /// The status of a write that recorded events.
    pub(crate) success: StatusCode,
    /// Whether writes must name the acting user (`X-User-Id`), else 401.
    pub(crate) require_user: bool,
}

impl HttpWrite {
    /// Validates headers and body together (every bad field named at once), builds the
    /// command with `build` (which returns the resource id and the command), and runs it.
    /// `id` is the resource id from the path, if the route has one.
    pub(crate) async fn submit<D: Decider>(
        self,
        decider: &D,
        target: WriteTarget,
        id: Option<String>,
        body_required: bool,
        build: impl FnOnce(&mut Checker, Option<&Value>, &WriteHeaders) -> Option<(String, D::Command)>,
        refusal: impl Fn(&str, &D::Error) -> ApiError,
    ) -> Result<Response, ApiError> {
        let (headers, header_errors) = WriteHeaders::read(&self.headers);
        if target.require_user
            && headers.user_id.is_none()
            && header_errors.iter().all(|e| e.field != "header.X-User-Id")
        {
            return Err(ApiError::Unauthorized(
                "writes must name the acting user in X-User-Id".into(),
            ));
        }
        if body_required {
            self.body.required()?;
        }
        let mut checker = Checker::new();
        for error in header_errors {
            checker.error(error.field, error.message);
        }
        let built = build(&mut checker, self.body.value.as_ref(), &headers);
        let (built_id, command) = checker.finish(built)?;
        let resource_id = id.unwrap_or(built_id);
        let stream =
            (target.stream)(&resource_id).map_err(|e| ApiError::Internal(e.to_string()))?;
        let write = Write {
            stream,
            command,
            resource_id: resource_id.clone(),
            location: (target.location)(&resource_id),
            headers,
            fingerprint: fingerprint(&self.method, self.uri.path(), &self.body.bytes),
            context: &self.context,
            success: target.success,
        };
        run(&self.state, decider, write, |e| refusal(&resource_id, e)).await
    }
}

/// A hash of what makes a request itself: its method, path and body.
pub(crate) fn fingerprint(method: &Method, path: &str, body: &[u8]) -> String {
    let mut hasher = Sha256::new();
    hasher.update(method.as_str().as_bytes());
    hasher.update(b" ");
    hasher.update(path.as_bytes());
    hasher.update(b"\n");
    hasher.update(body);
    hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Runs `write` with `decider`; `refusal` turns the domain's reasons into HTTP errors.
///
/// With an idempotency key, the first answer (success or refusal) is stored and replayed to
/// retries, and nothing is appended again.
pub(crate) async fn run<D: Decider>(
    state: &AppState,
    decider: &D,
    write: Write<'_, D::Command>,
    refusal: impl Fn(&D::Error) -> ApiError,
) -> Result<Response, ApiError> {
    let Some(key) = write.headers.idempotency_key.clone() else {
        let command_id = CausationId::parse(uuid::Uuid::now_v7().to_string()).ok();
        return carry_out(state, decider, &write, command_id, &refusal)
            .await
            .map(into_response);
    };
    match claim(state, &key, &write.fingerprint).await? {
        Claim::Claimed => {}
        Claim::Completed(stored) => {
            let mut response = into_response(stored);
            response
                .headers_mut()
                .insert("idempotent-replayed", HeaderValue::from_static("true"));
            return Ok(response);
        }
        Claim::Mismatch => return Err(ApiError::IdempotencyMismatch),
        Claim::InProgress => return Err(ApiError::IdempotencyInProgress),
    }
    // The command's id comes from the key, so a retry after a lost answer finds the first
    // attempt's events in the stream instead of running again.
    let command_id = CausationId::parse(format!(
        "idem-{}",
        uuid::Uuid::new_v5(&uuid::Uuid::NAMESPACE_URL, key.as_bytes())
    ))
    .ok();
    let stored = match carry_out(state, decider, &write, command_id, &refusal).await {
        Ok(stored) => stored,
        Err(error) if error.status_code().is_server_error() => {
            if let Err(release) = state.idempotency().release(&key).await {
                tracing::warn!(error = %release, "could not release an idempotency key");
            }
            return Err(error);
        }
        Err(error) => stored_error(&error),
    };
    if let Err(error) = state.idempotency().complete(&key, &stored).await {
        tracing::warn!(%error, "could not record the answer to an idempotency key");
    }
    Ok(into_response(stored))
}

/// Claims the key, waiting a little for a first attempt still in flight.
async fn claim(state: &AppState, key: &str, fingerprint: &str) -> Result<Claim, ApiError> {
    let abandoned_after = state.config().idempotency_abandoned_after;
    for _ in 0..50 {
        let claim = state
            .idempotency()
            .claim(key, fingerprint, abandoned_after)
            .await
            .map_err(store_error)?;
        if claim != Claim::InProgress {
            return Ok(claim);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Ok(Claim::InProgress)
}

async fn carry_out<D: Decider>(
    state: &AppState,
    decider: &D,
    write: &Write<'_, D::Command>,
    command_id: Option<CausationId>,
    refusal: &impl Fn(&D::Error) -> ApiError,
) -> Result<StoredResponse, ApiError> {
    let options = CommandOptions {
        if_version: write.headers.if_match,
        // Each round of a race has one winner, so n writers to one stream need up to n tries.
        max_attempts: WRITE_ATTEMPTS,
        metadata: EventMetadata {
            correlation_id: Some(write.context.correlation_id.clone()),
            causation_id: command_id,
            user_id: write.headers.user_id.clone(),
        },
    };
    let executed = execute(
        decider,
        state.store(),
        &write.stream,
        &write.command,
        &options,
    )
    .await
    .map_err(|e| command_error(e, refusal))?;
    let position = match executed.position {
        Some(position) => position,
        // Nothing changed: any read at the current head sees the resource as it is.
        None => state.store().head().await.map_err(store_error)?,
    };
    if executed.replayed {
        tracing::info!(stream = %write.stream, %position, "command already ran; answering from its events");
    }
    let body = Accepted {
        id: write.resource_id.clone(),
        status: if executed.events.is_empty() && !executed.replayed {
            "unchanged"
        } else {
            "accepted"
        }
        .into(),
        position: position.get(),
        command_id: options
            .metadata
            .causation_id
            .as_ref()
            .map(ToString::to_string)
            .unwrap_or_default(),
    };
    let status = if executed.events.is_empty() && !executed.replayed {
        StatusCode::OK
    } else {
        write.success
    };
    Ok(StoredResponse {
        status: status.as_u16(),
        headers: vec![
            (header::CONTENT_TYPE.to_string(), "application/json".into()),
            (header::LOCATION.to_string(), write.location.clone()),
            (
                header::ETAG.to_string(),
                format!("\"{}\"", executed.stream_version),
            ),
        ],
        body: serde_json::to_string(&body).unwrap_or_default(),
    })
}

fn command_error<E: std::error::Error + 'static>(
    error: CommandError<E>,
    refusal: &impl Fn(&E) -> ApiError,
) -> ApiError {
    match error {
        CommandError::Rejected(reason) => refusal(&reason),
        CommandError::PreconditionFailed {
            expected, actual, ..
        } => ApiError::PreconditionFailed {
            expected: expected.get(),
            actual: actual.get(),
        },
        CommandError::Conflict(conflict) => ApiError::Conflict(format!(
            "other writes kept changing the resource ({conflict}); try again"
        )),
        CommandError::Store(error) => store_error(error),
        other => ApiError::Internal(other.to_string()),
    }
}

/// The HTTP error for a store failure.
pub(crate) fn store_error(error: StoreError) -> ApiError {
    match error {
        StoreError::Conflict(conflict) => ApiError::Conflict(conflict.to_string()),
        StoreError::DuplicateEvent { .. } => ApiError::Conflict(error.to_string()),
        StoreError::InvalidRequest(message) => ApiError::field("body", message),
        StoreError::Corrupt(_) => ApiError::Internal(error.to_string()),
        other => ApiError::Unavailable(other.to_string()),
    }
}

fn stored_error(error: &ApiError) -> StoredResponse {
    StoredResponse {
        status: error.status_code().as_u16(),
        headers: vec![(
            header::CONTENT_TYPE.to_string(),
            "application/problem+json".into(),
        )],
        body: serde_json::to_string(&error.problem()).unwrap_or_default(),
    }
}

fn into_response(stored: StoredResponse) -> Response {
    let status = StatusCode::from_u16(stored.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut response = (status, stored.body).into_response();
    for (name, value) in stored.headers {
        if let (Ok(name), Ok(value)) = (HeaderName::try_from(name), HeaderValue::try_from(value)) {
            response.headers_mut().insert(name, value);
        }
    }
    response
}
