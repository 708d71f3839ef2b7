//! A customer's orders ("my orders", newest first), from the `customers` projection or the
//! Redis cache that accelerates it.

use std::time::Duration;

use axum::extract::State;
use axum::response::Response;
use projector_orders::projections::{CUSTOMER_ORDERS_CACHE, CUSTOMERS};
use projector_orders::queries::{self, OrdersCursor};
use serde::Deserialize;
use utoipa::IntoParams;

use crate::consistency::ReadConsistency;
use crate::error::ApiError;
use crate::extract::QueryParams;
use crate::limits::{PAGE_DEFAULT, PAGE_MAX, cursor_has_documented_form};
use crate::read_path::{Answer, Cache, Fallback, answer, answer_from};
use crate::routes::orders::models::CustomerOrders;
use crate::routes::params::ReadParams;
use crate::routes::path::CustomerPath;
use crate::routes::problems::ReadProblems;
use crate::state::AppState;

/// How long "my orders" waits for the cache to catch up with what it must show before
/// answering from SQL instead.
const CACHE_PATIENCE: Duration = Duration::from_millis(250);

/// Paging through a list.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub(crate) struct PageParams {
    /// Most items per page (default 20).
    #[param(schema_with = crate::schemas::page_limit, required = false)]
    limit: Option<u32>,
    /// Where to continue: the `next_cursor` of the previous page.
    #[param(schema_with = crate::schemas::cursor, required = false)]
    cursor: Option<String>,
}

/// A customer's orders, newest first, a page at a time. With a cache configured, answered from
/// it (`Read-Model: customer_orders_cache`) whenever it is as fresh as the SQL read model, and
/// from the SQL read model (`Read-Model: customers`) otherwise; the answer is the same.
#[utoipa::path(
    get, path = "/api/customers/{id}/orders", tag = "customers",
    security(("bearer" = ["read"])),
    params(CustomerPath, PageParams, ReadParams),
    responses(
        (status = 200, description = "A page of orders (empty for a customer without orders)", body = CustomerOrders,
            headers(("Projection-Position" = u64, description = "The position the read model has reached"),
                    ("Read-Model" = String, description = "The read model that answered: a projection, or `events` for the event store"))),
        ReadProblems,
    )
)]
pub(crate) async fn customer_orders(
    State(state): State<AppState>,
    CustomerPath { id }: CustomerPath,
    mut query: QueryParams,
) -> Result<Response, ApiError> {
    let (limit, cursor) = page_query(&mut query);
    let consistency = ReadConsistency::from_query(&mut query, &state);
    query.finish()?;
    let customer_id = id.into_string();
    if let Some(response) =
        from_cache(&state, &customer_id, limit, cursor.as_ref(), consistency).await
    {
        return Ok(response);
    }
    answer(&state, &CUSTOMERS, consistency, || async {
        let page =
            queries::customer_orders(state.reads(), &customer_id, limit, cursor.as_ref()).await?;
        Ok(Answer::View(CustomerOrders {
            customer_id: customer_id.clone(),
            orders: page.orders.into_iter().map(Into::into).collect(),
            next_cursor: page.next.map(|c| c.to_token()),
        }))
    })
    .await
}

/// The page size and cursor of "my orders", each bad one recorded in `query`.
pub(crate) fn page_query(query: &mut QueryParams) -> (u32, Option<OrdersCursor>) {
    let limit = query
        .number("limit", 1, u64::from(PAGE_MAX))
        .map_or(PAGE_DEFAULT, |l| l as u32);
    let cursor = match query.take("cursor") {
        None => None,
        Some(token) => match OrdersCursor::from_token(&token) {
            Some(cursor) if cursor_has_documented_form(&token) => Some(cursor),
            _ => {
                query.error("cursor", "is not a cursor this API returned");
                None
            }
        },
    };
    (limit, cursor)
}

/// "My orders" from the cache, if it can answer at least as freshly as the SQL read model
/// would: it is configured and reachable, serves a generation, and has applied the request's
/// `min_position` and everything the SQL read model has applied in this process. Otherwise
/// (missing, rebuilding after Redis lost it, behind, or away) `None`, and the route answers
/// from SQL; each fallback is counted.
async fn from_cache(
    state: &AppState,
    customer_id: &str,
    limit: u32,
    cursor: Option<&OrdersCursor>,
    consistency: ReadConsistency,
) -> Option<Response> {
    let cache = Cache {
        target: state.customer_orders_cache()?,
        name: &CUSTOMER_ORDERS_CACHE,
        stands_in_for: &CUSTOMERS,
        patience: CACHE_PATIENCE,
    };
    let answered = answer_from(state, &cache, consistency, |read| async move {
        let page = queries::customer_orders_cached(&read, customer_id, limit, cursor)
            .await
            .map_err(|_| Fallback::Unavailable)?;
        Ok(Answer::View(CustomerOrders {
            customer_id: customer_id.to_owned(),
            orders: page.orders.into_iter().map(Into::into).collect(),
            next_cursor: page.next.map(|c| c.to_token()),
        }))
    })
    .await;
    match answered {
        Ok(response) => Some(response),
        Err(fallback) => {
            metrics::counter!("projector_read_model_fallbacks_total",
                "projection" => CUSTOMER_ORDERS_CACHE.to_string(), "reason" => fallback.reason())
            .increment(1);
            None
        }
    }
}
