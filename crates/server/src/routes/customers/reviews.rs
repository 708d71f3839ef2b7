//! Reviews of products, recorded on the reviewing customer's stream. A review is refused
//! when its product does not exist or was deleted: the product's own stream, folded by the
//! products domain, says so before the customer's command is decided.

use axum::extract::State;
use axum::response::Response;
use chrono::Utc;
use projector_core::{CommandError, Decider};
use projector_customers::{
    Customer, CustomerCommand, CustomerDecider, CustomerError, CustomerEvent,
};
use projector_products::{ProductId, load_product};

use super::models::{SubmitReview, SubmitReviewRequest};
use super::write::CREATES;
use crate::command::{Accepted, HttpWrite, store_error};
use crate::error::ApiError;
use crate::routes::params::WriteHeaderParams;
use crate::routes::path::ProductPath;
use crate::routes::problems::{MissingResource, WriteProblems};
use crate::state::AppState;

/// Whether `product` takes reviews: it exists and was not deleted, as its own stream says
/// (folded by the products domain, the write side's answer rather than a read model's).
///
/// # Errors
/// The store's failure, as its HTTP answer.
pub(crate) async fn product_accepts_reviews(
    state: &AppState,
    product: &ProductId,
) -> Result<bool, ApiError> {
    match load_product(state.store(), product).await {
        Ok((product, _)) => Ok(product.is_live()),
        Err(CommandError::Store(error)) => Err(store_error(error)),
        Err(error) => Err(ApiError::Internal(error.to_string())),
    }
}

/// Why a review is refused: its product, or the customer's decider.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ReviewRefused {
    /// The product does not exist or was deleted.
    #[error("product {product_id} not found")]
    NoSuchProduct {
        /// The product.
        product_id: String,
    },
    /// The customer decider refused it.
    #[error(transparent)]
    Customer(#[from] CustomerError),
}

/// The customer decider, deciding a review of a product whose state was read before: a
/// product that takes no reviews refuses it. The refusal is part of the decision, so a retry
/// of a review that was recorded is still answered from its events.
#[derive(Clone, Debug)]
struct ReviewOfProduct {
    product_id: String,
    accepts_reviews: bool,
}

impl Decider for ReviewOfProduct {
    type State = Customer;
    type Command = CustomerCommand;
    type Event = CustomerEvent;
    type Error = ReviewRefused;

    fn decide(
        &self,
        customer: &Customer,
        command: &CustomerCommand,
    ) -> Result<Vec<CustomerEvent>, ReviewRefused> {
        if !self.accepts_reviews {
            return Err(ReviewRefused::NoSuchProduct {
                product_id: self.product_id.clone(),
            });
        }
        Ok(CustomerDecider.decide(customer, command)?)
    }

    fn evolve(&self, customer: Customer, event: &CustomerEvent) -> Customer {
        customer.evolve(event)
    }
}

/// The HTTP answer to each reason a review is refused; the body names the customer.
fn refusal(customer_id: &str, error: &ReviewRefused) -> ApiError {
    match error {
        ReviewRefused::NoSuchProduct { .. } => ApiError::NotFound(error.to_string()),
        ReviewRefused::Customer(CustomerError::NotFound) => {
            ApiError::NotFound(format!("customer {customer_id} not found"))
        }
        ReviewRefused::Customer(CustomerError::TooManyEvents) => {
            ApiError::field("customer_id", error.to_string())
        }
        ReviewRefused::Customer(CustomerError::Invalid { field, reason }) => {
            let field = if *field == "product_id" {
                "path.id"
            } else {
                field
            };
            ApiError::field(field, reason.clone())
        }
        ReviewRefused::Customer(_) => ApiError::Conflict(error.to_string()),
    }
}

/// Review a product: records `ReviewSubmitted` on the customer's stream. A customer reviews a
/// product once (a second review is 409); the product must exist and not be deleted (404).
#[utoipa::path(
    post, path = "/api/products/{id}/reviews", tag = "customers",
    security(("bearer" = ["write"])),
    params(ProductPath, WriteHeaderParams),
    request_body(content = SubmitReviewRequest, content_type = "application/json"),
    responses(
        (status = 201, description = "Recorded on the customer's stream; the read model follows. `id` is the customer's", body = Accepted,
            headers(("Location" = String, description = "The customer"), ("ETag" = String, description = "The customer's stream version"))),
        WriteProblems,
        MissingResource,
    )
)]
pub(crate) async fn submit_review(
    State(state): State<AppState>,
    ProductPath { id }: ProductPath,
    write: HttpWrite,
) -> Result<Response, ApiError> {
    let accepts_reviews = product_accepts_reviews(&state, &id).await?;
    let product_id = id.into_string();
    let decider = ReviewOfProduct {
        accepts_reviews,
        product_id: product_id.clone(),
    };
    write
        .submit(
            &decider,
            CREATES,
            None,
            true,
            move |checker, body, _| {
                let review = SubmitReview::check(checker, body?)?;
                let command = CustomerCommand::SubmitReview {
                    product_id: product_id.clone(),
                    rating: review.rating,
                    text: review.text,
                    at: Utc::now(),
                };
                Some((review.customer_id, command))
            },
            refusal,
        )
        .await
}
