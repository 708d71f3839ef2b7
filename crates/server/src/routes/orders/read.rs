//! The order read API: the flattened order from its read model, and its audit log from the
//! event stream.

use axum::extract::State;
use axum::response::Response;
use projector_core::{ReadDirection, StreamVersion};
use projector_orders::events::amounts::with_decimal_amounts;
use projector_orders::order_stream;
use projector_orders::projections::ORDER_SUMMARY;
use projector_orders::queries;

use super::models::{History, HistoryEvent, OrderView};
use crate::command::store_error;
use crate::consistency::ReadConsistency;
use crate::error::ApiError;
use crate::extract::QueryParams;
use crate::read_path::{Answer, EventStore, answer, answer_from};
use crate::routes::params::ReadParams;
use crate::routes::params::history_query;
use crate::routes::path::OrderPath;
use crate::routes::problems::{MissingResource, ReadProblems};
use crate::state::AppState;

/// The flattened order from the `order_summary` read model.
#[utoipa::path(
    get, path = "/api/orders/{id}/projection", tag = "orders",
    security(("bearer" = ["read"])),
    params(OrderPath, ReadParams),
    responses(
        (status = 200, description = "The order as the read model holds it", body = OrderView,
            headers(("Projection-Position" = u64, description = "The position the read model has reached"),
                    ("Read-Model" = String, description = "The read model that answered: a projection, or `events` for the event store"))),
        ReadProblems,
        MissingResource,
    )
)]
pub(crate) async fn get_order(
    State(state): State<AppState>,
    OrderPath { id }: OrderPath,
    mut query: QueryParams,
) -> Result<Response, ApiError> {
    let consistency = ReadConsistency::from_query(&mut query, &state);
    query.finish()?;
    answer(&state, &ORDER_SUMMARY, consistency, || async {
        let view = queries::order_summary(state.reads(), id.as_str()).await?;
        Ok(Answer::found(view.map(OrderView::from), || {
            format!("order {id} not found")
        }))
    })
    .await
}

/// The order's events in order, with who and what caused them: the audit log. Read from the
/// event store, so always current.
#[utoipa::path(
    get, path = "/api/orders/{id}/history", tag = "orders",
    security(("bearer" = ["read"])),
    params(OrderPath, crate::routes::params::HistoryParams, ReadParams),
    responses(
        (status = 200, description = "The events, oldest first", body = History,
            headers(("Projection-Position" = u64, description = "The head of the event store"),
                    ("Read-Model" = String, description = "The read model that answered: a projection, or `events` for the event store"))),
        ReadProblems,
        MissingResource,
    )
)]
pub(crate) async fn get_history(
    State(state): State<AppState>,
    OrderPath { id }: OrderPath,
    mut query: QueryParams,
) -> Result<Response, ApiError> {
    let (after, limit) = history_query(&mut query);
    let consistency = ReadConsistency::from_query(&mut query, &state);
    query.finish()?;
    let stream = order_stream(id.as_str()).map_err(|e| ApiError::Internal(e.to_string()))?;
    answer_from(&state, &EventStore, consistency, |()| async {
        let events = state
            .stream_reads()
            .read_stream(
                &stream,
                StreamVersion::new(after + 1),
                ReadDirection::Forwards,
                limit + 1,
            )
            .await
            .map_err(store_error)?;
        if events.is_empty() && after == 0 {
            return Ok(Answer::Missing(format!("order {id} not found")));
        }
        let more = events.len() > limit;
        let events: Vec<HistoryEvent> = events
            .into_iter()
            .take(limit)
            .map(|e| HistoryEvent {
                position: e.position.get(),
                stream_version: e.stream_version.get(),
                event_id: e.event_id,
                event_type: e.event_type.to_string(),
                schema_version: e.schema_version,
                // Amounts as decimals, whichever schema stored them.
                data: with_decimal_amounts(
                    e.event_type.as_str(),
                    e.schema_version,
                    e.data.to_value().unwrap_or_default(),
                ),
                recorded_at: e.recorded_at,
                correlation_id: e.metadata.correlation_id.map(|c| c.to_string()),
                causation_id: e.metadata.causation_id.map(|c| c.to_string()),
                user_id: e.metadata.user_id.map(|u| u.to_string()),
            })
            .collect();
        let next_after_version = if more {
            events.last().map(|e| e.stream_version)
        } else {
            None
        };
        Ok(Answer::View(History {
            id: id.to_string(),
            events,
            next_after_version,
        }))
    })
    .await
}
