//! A customer from the `customers` read model: their profile with a summary of what they have
//! done, and their activity in full.

use axum::extract::State;
use axum::response::Response;
use projector_orders::projections::CUSTOMERS;
use projector_orders::queries;

use super::models::CustomerProfile;
use crate::consistency::ReadConsistency;
use crate::error::ApiError;
use crate::extract::QueryParams;
use crate::read_path::{Answer, answer};
use crate::routes::orders::models::CustomerActivity;
use crate::routes::params::ReadParams;
use crate::routes::path::CustomerPath;
use crate::routes::problems::{MissingResource, ReadProblems};
use crate::state::AppState;

/// A registered customer: profile, tier, and what they have done (orders placed before they
/// registered included). 404 until they register, even if orders name them.
#[utoipa::path(
    get, path = "/api/customers/{id}", tag = "customers",
    security(("bearer" = ["read"])),
    params(CustomerPath, ReadParams),
    responses(
        (status = 200, description = "The customer as the read model holds them", body = CustomerProfile,
            headers(("Projection-Position" = u64, description = "The position the read model has reached"),
                    ("Read-Model" = String, description = "The read model that answered: a projection, or `events` for the event store"))),
        ReadProblems,
        MissingResource,
    )
)]
pub(crate) async fn get_customer(
    State(state): State<AppState>,
    CustomerPath { id }: CustomerPath,
    mut query: QueryParams,
) -> Result<Response, ApiError> {
    let consistency = ReadConsistency::from_query(&mut query, &state);
    query.finish()?;
    answer(&state, &CUSTOMERS, consistency, || async {
        let view = queries::customers::customer(state.reads(), id.as_str()).await?;
        Ok(Answer::found(view.map(CustomerProfile::from), || {
            format!("customer {id} not found")
        }))
    })
    .await
}

/// What a customer has done: orders placed, completed and cancelled, spent and refunded, and
/// reviews written. 404 before their first order or review.
#[utoipa::path(
    get, path = "/api/customers/{id}/activity", tag = "customers",
    security(("bearer" = ["read"])),
    params(CustomerPath, ReadParams),
    responses(
        (status = 200, description = "The customer's activity", body = CustomerActivity,
            headers(("Projection-Position" = u64, description = "The position the read model has reached"),
                    ("Read-Model" = String, description = "The read model that answered: a projection, or `events` for the event store"))),
        ReadProblems,
        MissingResource,
    )
)]
pub(crate) async fn customer_activity(
    State(state): State<AppState>,
    CustomerPath { id }: CustomerPath,
    mut query: QueryParams,
) -> Result<Response, ApiError> {
    let consistency = ReadConsistency::from_query(&mut query, &state);
    query.finish()?;
    let customer_id = id.into_string();
    answer(&state, &CUSTOMERS, consistency, || async {
        let view = queries::customer_activity(state.reads(), &customer_id).await?;
        Ok(Answer::found(view.map(CustomerActivity::from), || {
            format!("no activity for customer {customer_id}")
        }))
    })
    .await
}
