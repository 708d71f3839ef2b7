//! The customer write API: registration, profile changes and tiers. Each route validates its
//! input, turns it into a customer command and runs it on the customer's stream; nothing
//! reaches the event store unless every field is valid.

use axum::http::StatusCode;
use axum::response::Response;
use chrono::Utc;
use projector_customers::{CustomerCommand, CustomerDecider, CustomerError, customer_stream};

use super::models::{
    ChangeTierRequest, RegisterCustomer, RegisterCustomerRequest, UpdateCustomer,
    UpdateCustomerRequest, check_tier,
};
use crate::command::{Accepted, HttpWrite, WriteTarget};
use crate::error::ApiError;
use crate::routes::params::WriteHeaderParams;
use crate::routes::path::CustomerPath;
use crate::routes::problems::{MissingResource, WriteProblems};

/// Where a customer is served.
pub(super) fn customer_location(customer_id: &str) -> String {
    format!("/api/customers/{customer_id}")
}

/// Registration answers 201.
pub(super) const CREATES: WriteTarget = WriteTarget {
    stream: customer_stream,
    location: customer_location,
    success: StatusCode::CREATED,
    require_user: false,
};

/// Writes that change a customer answer 202.
const CHANGES: WriteTarget = WriteTarget {
    success: StatusCode::ACCEPTED,
    ..CREATES
};

/// The HTTP answer to each reason the customer decider refuses a command of a route whose
/// path names the customer.
fn refusal(customer_id: &str, error: &CustomerError) -> ApiError {
    match error {
        CustomerError::NotFound => ApiError::NotFound(format!("customer {customer_id} not found")),
        CustomerError::TooManyEvents => ApiError::field("path.id", error.to_string()),
        CustomerError::Invalid { field, reason } => ApiError::field(*field, reason.clone()),
        _ => ApiError::Conflict(error.to_string()),
    }
}

/// Register a customer: records `CustomerRegistered` (tier `bronze`).
#[utoipa::path(
    post, path = "/api/customers", tag = "customers",
    security(("bearer" = ["write"])),
    params(WriteHeaderParams),
    request_body(content = RegisterCustomerRequest, content_type = "application/json"),
    responses(
        (status = 201, description = "Registered; the read model follows", body = Accepted,
            headers(("Location" = String, description = "The customer"), ("ETag" = String, description = "The stream version"))),
        WriteProblems,
    )
)]
pub(crate) async fn register_customer(write: HttpWrite) -> Result<Response, ApiError> {
    write
        .submit(
            &CustomerDecider,
            CREATES,
            None,
            true,
            |checker, body, new_ids| {
                let customer = RegisterCustomer::check(checker, body?)?;
                // Made from the command id, so a retry under the same one names the same customer.
                let customer_id = customer.id.unwrap_or_else(|| new_ids.make("cus"));
                let command = CustomerCommand::Register {
                    customer_id: customer_id.clone(),
                    email: customer.email,
                    name: customer.name,
                    region: customer.region,
                    at: Utc::now(),
                };
                Some((customer_id, command))
            },
            refusal,
        )
        .await
}

/// Change a customer's name, email or region: a new name or email records `CustomerUpdated`,
/// a new region `CustomerMoved`, both in one append.
#[utoipa::path(
    patch, path = "/api/customers/{id}", tag = "customers",
    security(("bearer" = ["write"])),
    params(CustomerPath, WriteHeaderParams),
    request_body(content = UpdateCustomerRequest, content_type = "application/json"),
    responses(
        (status = 202, description = "Recorded; the read model follows", body = Accepted,
            headers(("Location" = String, description = "The customer"), ("ETag" = String, description = "The stream version"))),
        WriteProblems,
        MissingResource,
    )
)]
pub(crate) async fn update_customer(
    CustomerPath { id }: CustomerPath,
    write: HttpWrite,
) -> Result<Response, ApiError> {
    let customer_id = id.into_string();
    write
        .submit(
            &CustomerDecider,
            CHANGES,
            Some(customer_id.clone()),
            true,
            move |checker, body, _| {
                let update = UpdateCustomer::check(checker, body?)?;
                let command = CustomerCommand::Update {
                    name: update.name,
                    email: update.email,
                    region: update.region,
                    at: Utc::now(),
                };
                Some((customer_id.clone(), command))
            },
            refusal,
        )
        .await
}

/// Give a customer another loyalty tier: records `CustomerTierChanged`.
#[utoipa::path(
    post, path = "/api/customers/{id}/tier", tag = "customers",
    security(("bearer" = ["write"])),
    params(CustomerPath, WriteHeaderParams),
    request_body(content = ChangeTierRequest, content_type = "application/json"),
    responses(
        (status = 202, description = "Recorded; the read model follows", body = Accepted,
            headers(("Location" = String, description = "The customer"), ("ETag" = String, description = "The stream version"))),
        WriteProblems,
        MissingResource,
    )
)]
pub(crate) async fn change_tier(
    CustomerPath { id }: CustomerPath,
    write: HttpWrite,
) -> Result<Response, ApiError> {
    let customer_id = id.into_string();
    write
        .submit(
            &CustomerDecider,
            CHANGES,
            Some(customer_id.clone()),
            true,
            move |checker, body, _| {
                let tier = check_tier(checker, body?)?;
                Some((
                    customer_id.clone(),
                    CustomerCommand::ChangeTier {
                        tier,
                        at: Utc::now(),
                    },
                ))
            },
            refusal,
        )
        .await
}
