//! Searching orders: `GET /api/orders/search`, answered from this process's `order_search`
//! index through the one read path (`min_position`, `Projection-Position`, `Read-Model`).

use axum::extract::State;
use axum::response::Response;
use chrono::{DateTime, Utc};
use projector_orders::projections::{ORDER_SEARCH, OrderDocument};
use projector_orders::search::{OrderHit, OrderSearch, SearchOrder, search_orders};
use projector_orders::{Money, OrderStatus};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::consistency::ReadConsistency;
use crate::error::ApiError;
use crate::extract::QueryParams;
use crate::limits::{PAGE_DEFAULT, PAGE_MAX, SEARCH_TEXT_MAX, id_message, is_id};
use crate::read_path::{Answer, answer, search_index};
use crate::routes::params::ReadParams;
use crate::routes::problems::ReadProblems;
use crate::state::AppState;
use crate::validate::free_text_problem;

/// What to search for.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub(crate) struct SearchParams {
    /// Words to find in an order's id, its customer's id, its SKUs, its tracking number and
    /// its cancellation reason. Quotes make a phrase (`"damaged in transit"`), `sku:red` looks
    /// in one field, `AND`, `OR` and `-` combine words; text that does not parse as a query is
    /// searched as well as it can be, never refused. Without it, every order the filters let
    /// through.
    #[param(schema_with = crate::schemas::search_text, required = false)]
    q: Option<String>,
    /// Only orders in this status.
    #[param(schema_with = crate::schemas::order_status, required = false)]
    status: Option<String>,
    /// Only this customer's orders (the whole id).
    #[param(schema_with = crate::schemas::id, required = false)]
    customer_id: Option<String>,
    /// Most hits to answer (default 20).
    #[param(schema_with = crate::schemas::page_limit, required = false)]
    limit: Option<u32>,
    /// `relevance` (the best matches of `q` first; the default with `q`) or `newest` (the most
    /// recently created first; the default without `q`).
    #[param(schema_with = crate::schemas::search_sort, required = false)]
    sort: Option<String>,
}

/// The orders found.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct OrderSearchResults {
    /// `relevance` or `newest`: the order of `hits`.
    sort: String,
    /// At most `limit` orders.
    hits: Vec<OrderSearchHit>,
}

/// One order found, as the search index holds it.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct OrderSearchHit {
    id: String,
    customer_id: String,
    /// `pending`, `confirmed`, `shipped`, `completed` or `cancelled`.
    status: String,
    /// The SKUs of its lines.
    skus: Vec<String>,
    item_count: i64,
    #[schema(value_type = f64, minimum = 0, multiple_of = 0.01)]
    total_amount: Money,
    #[serde(skip_serializing_if = "Option::is_none")]
    tracking: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    cancellation_reason: Option<String>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    /// How well it matched `q` (higher is better), when sorted by relevance.
    #[serde(skip_serializing_if = "Option::is_none")]
    score: Option<f32>,
}

impl From<OrderHit> for OrderSearchHit {
    fn from(hit: OrderHit) -> Self {
        let OrderDocument {
            order_id,
            customer_id,
            status,
            skus,
            item_count,
            total_cents,
            tracking,
            cancellation_reason,
            created_at,
            updated_at,
        } = hit.order;
        Self {
            id: order_id,
            customer_id,
            status: status.as_str().to_owned(),
            skus: skus.into_iter().collect(),
            item_count,
            total_amount: Money::from_cents(total_cents),
            tracking,
            cancellation_reason,
            created_at,
            updated_at,
            score: hit.score,
        }
    }
}

/// Orders by words and filters, from the `order_search` index this server keeps.
#[utoipa::path(
    get, path = "/api/orders/search", tag = "orders",
    security(("bearer" = ["read"])),
    params(SearchParams, ReadParams),
    responses(
        (status = 200, description = "The orders found (none is not an error)", body = OrderSearchResults,
            headers(("Projection-Position" = u64, description = "The position the read model has reached"),
                    ("Read-Model" = String, description = "The read model that answered: a projection, or `events` for the event store"))),
        ReadProblems,
    )
)]
pub(crate) async fn search(
    State(state): State<AppState>,
    mut query: QueryParams,
) -> Result<Response, ApiError> {
    let search = search_query(&mut query);
    let consistency = ReadConsistency::from_query(&mut query, &state);
    query.finish()?;
    let store = state.search().cloned();
    answer(&state, &ORDER_SEARCH, consistency, || async move {
        let sort = search.order.as_str().to_owned();
        let hits = search_index(store, ORDER_SEARCH, move |read| {
            search_orders(read, &search)
        })
        .await?;
        Ok(Answer::View(OrderSearchResults {
            sort,
            hits: hits.into_iter().map(Into::into).collect(),
        }))
    })
    .await
}

/// The search a query asks for, each bad parameter recorded in `query` (which then fails
/// `finish`, so what stands in for it is never used).
pub(crate) fn search_query(query: &mut QueryParams) -> OrderSearch {
    let text = query.take("q");
    if let Some(problem) = text
        .as_deref()
        .and_then(|t| free_text_problem(t, SEARCH_TEXT_MAX))
    {
        query.error("q", problem);
    }
    let status = query.take("status").and_then(|name| {
        let status = OrderStatus::parse(&name);
        if status.is_none() {
            let choices = names(OrderStatus::ALL.map(OrderStatus::as_str));
            query.error("status", format!("must be one of {choices}"));
        }
        status
    });
    let customer_id = query.take("customer_id");
    if customer_id.as_deref().is_some_and(|id| !is_id(id)) {
        query.error("customer_id", id_message());
    }
    let limit = query
        .number("limit", 1, u64::from(PAGE_MAX))
        .map_or(PAGE_DEFAULT, |l| l as u32);
    let order = match query.take("sort") {
        None if text.is_some() => SearchOrder::Relevance,
        None => SearchOrder::Newest,
        Some(name) => SearchOrder::parse(&name).unwrap_or_else(|| {
            let choices = names(SearchOrder::ALL.map(SearchOrder::as_str));
            query.error("sort", format!("must be one of {choices}"));
            SearchOrder::Newest
        }),
    };
    OrderSearch {
        text,
        status,
        customer_id,
        limit: limit as usize,
        order,
    }
}

/// `a, b or c`.
fn names<const N: usize>(names: [&str; N]) -> String {
    match names.split_last() {
        Some((last, [])) => (*last).to_owned(),
        Some((last, rest)) => format!("{} or {last}", rest.join(", ")),
        None => String::new(),
    }
}
