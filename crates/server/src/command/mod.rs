//! Running a domain command for a write request: validation of headers and body together,
//! idempotency keys, optimistic concurrency, event metadata, and the `202 Accepted` answer.
//! Generic over the domain's decider, so every built-in service writes the same way.
//!
//! # Layout
//! - here: the request ([`HttpWrite`]), its validation, and the task it runs on;
//! - `keyed`: a write with an `Idempotency-Key`: claim, run, record the answer;
//! - `outcome`: running the command and turning what it did into the answer.

mod keyed;
mod outcome;

use axum::extract::{FromRequest, Request};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::Response;
use projector_core::{CausationId, CorrelationId, Decider, IdError, StreamId};
use serde::Serialize;
use serde_json::Value;
use sha2::{Digest, Sha256};
use utoipa::ToSchema;

use crate::auth::Principal;
use crate::context::{self, RequestContext};
use crate::error::ApiError;
use crate::extract::{JsonBody, WriteHeaders};
use crate::state::AppState;
use crate::validate::Checker;
use crate::write_queue::WritePlace;

pub(crate) use outcome::store_error;

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

/// Ids the server makes for a write (a new order's, issue's or comment's): the command id's,
/// with a prefix. A retry that runs under the same command id names the same resource; a key
/// used again once forgotten runs a new command, so it names a new one.
#[derive(Debug)]
pub(crate) struct NewIds<'a>(&'a CausationId);

impl NewIds<'_> {
    /// The id of a new resource of the kind `prefix` names (`ord`, `iss`, `cmt`).
    pub(crate) fn make(&self, prefix: &str) -> String {
        let text = self.0.as_str();
        let id = uuid::Uuid::parse_str(text)
            .unwrap_or_else(|_| uuid::Uuid::new_v5(&uuid::Uuid::NAMESPACE_OID, text.as_bytes()));
        format!("{prefix}-{}", id.simple())
    }
}

/// Checks a write's body and builds its command, naming the resource written; the ids the
/// server makes come from `NewIds`. Called again if the command must run under another id.
pub(crate) trait Build<C>:
    Fn(&mut Checker, Option<&Value>, &NewIds<'_>) -> Option<(String, C)> + Send + Sync + 'static
{
}

impl<C, F> Build<C> for F where
    F: Fn(&mut Checker, Option<&Value>, &NewIds<'_>) -> Option<(String, C)> + Send + Sync + 'static
{
}

/// One write to run: a valid command for one stream, and what its answer needs.
#[derive(Debug)]
pub(crate) struct Write<C> {
    /// The service's streams and answers.
    target: WriteTarget,
    /// The resource written, and its stream.
    resource_id: String,
    stream: StreamId,
    /// The command.
    command: C,
    /// The id it runs under: the causation id of its events.
    command_id: CausationId,
    /// `If-Match`, `Idempotency-Key`, `X-User-Id`.
    headers: WriteHeaders,
    /// Identifies the request for its idempotency key.
    fingerprint: String,
    /// The correlation id.
    correlation_id: CorrelationId,
}

impl<C> Write<C> {
    /// The same write with the command built under `command_id`.
    fn rebuilt(
        self,
        command_id: CausationId,
        built: Option<(String, C)>,
    ) -> Result<Self, ApiError> {
        let (resource_id, command) = built.ok_or_else(|| {
            ApiError::Internal("a write that was valid could not be built again".into())
        })?;
        let stream =
            (self.target.stream)(&resource_id).map_err(|e| ApiError::Internal(e.to_string()))?;
        Ok(Self {
            resource_id,
            stream,
            command,
            command_id,
            ..self
        })
    }
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
    principal: Option<Principal>,
    body: JsonBody,
    /// Its place among the writes waiting for the event store.
    place: WritePlace,
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
        let principal = request.extensions().get::<Principal>().cloned();
        // Turned away here, before its body is read and before anything is recorded, when
        // too many writes already wait: shedding is cheapest before any work is done.
        let place = state.write_place()?;
        let body = JsonBody::from_request(request, state).await?;
        Ok(Self {
            state: state.clone(),
            context,
            method,
            uri,
            headers,
            principal,
            body,
            place,
        })
    }
}

impl HttpWrite {
    /// Validates headers and body together (every bad field named at once), builds the
    /// command with `build` (which returns the resource id and the command), and runs it.
    /// `id` is the resource id from the path, if the route has one.
    ///
    /// The command runs on a task of its own, to its end even if the client goes away: a
    /// write cut off between claiming its key and recording its answer would leave the key
    /// "in progress" to every retry until the claim counted as abandoned. The request waits
    /// for it at most the write timeout, then answers 503 with the outcome unknown.
    pub(crate) async fn submit<D>(
        self,
        decider: &D,
        target: WriteTarget,
        id: Option<String>,
        body_required: bool,
        build: impl Build<D::Command>,
        refusal: fn(&str, &D::Error) -> ApiError,
    ) -> Result<Response, ApiError>
    where
        D: Decider + Clone + 'static,
    {
        let (mut headers, header_errors) =
            WriteHeaders::read(&self.headers, self.principal.as_ref());
        // A key names a request of its caller only: two principals may pick the same key.
        if let (Some(principal), Some(key)) = (&self.principal, &headers.idempotency_key) {
            headers.idempotency_key = Some(scoped_key(principal, key));
        }
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
        let command_id = new_command_id();
        let built = build(&mut checker, self.body.value.as_ref(), &NewIds(&command_id));
        let (built_id, command) = checker.finish(built)?;
        let resource_id = id.clone().unwrap_or(built_id);
        let stream =
            (target.stream)(&resource_id).map_err(|e| ApiError::Internal(e.to_string()))?;
        let write = Write {
            target,
            resource_id,
            stream,
            command,
            command_id,
            headers,
            fingerprint: fingerprint(&self.method, self.uri.path(), &self.body.bytes),
            correlation_id: self.context.correlation_id,
        };
        let body = self.body.value;
        let rebuild = move |command_id: &CausationId| {
            build(&mut Checker::new(), body.as_ref(), &NewIds(command_id))
                .map(|(built_id, command)| (id.clone().unwrap_or(built_id), command))
        };
        let place = self.place;
        let state = self.state.clone();
        let decider = decider.clone();
        let task = context::spawn_detached(self.state.writes(), async move {
            let answer = keyed::run(&state, &decider, write, rebuild, refusal).await;
            place.release(answer.as_ref().is_ok_and(|r| r.status().is_success()));
            answer
        });
        let waiting = Waiting::new();
        let bound = self.state.config().write_timeout;
        let Ok(answer) = tokio::time::timeout(bound, task).await else {
            // `waiting` is dropped unanswered: the log says the write carries on.
            return Err(ApiError::Unavailable(format!(
                "the store did not answer the write within {} ms, so whether it was recorded \
                 is unknown; retry with the same Idempotency-Key to learn its outcome",
                bound.as_millis()
            )));
        };
        waiting.answered();
        answer.unwrap_or_else(|e| Err(ApiError::Internal(format!("the write's task failed: {e}"))))
    }
}

/// Logs, if dropped before [`Waiting::answered`], that nobody waits for the answer any more.
struct Waiting {
    answered: bool,
    span: tracing::Span,
}

impl Waiting {
    fn new() -> Self {
        Self {
            answered: false,
            span: tracing::Span::current(),
        }
    }

    fn answered(mut self) {
        self.answered = true;
    }
}

impl Drop for Waiting {
    fn drop(&mut self) {
        if !self.answered {
            self.span.in_scope(|| {
                tracing::info!(
                    "nobody waits for the answer (the client went away or the request timed out); the write carries on"
                );
            });
        }
    }
}

/// The idempotency key as stored for `principal`: a hash of both, so keys of different callers
/// never meet, and of the same length as any key.
fn scoped_key(principal: &Principal, key: &str) -> String {
    let mut hasher = Sha256::new();
    hasher.update(principal.id.as_str().as_bytes());
    hasher.update(b"\n");
    hasher.update(key.as_bytes());
    let digest: String = hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("p:{digest}")
}

/// A new command id: a UUIDv7, so ids made from it sort by time.
fn new_command_id() -> CausationId {
    CausationId::parse(uuid::Uuid::now_v7().to_string())
        .unwrap_or(CausationId::from_static("command"))
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
