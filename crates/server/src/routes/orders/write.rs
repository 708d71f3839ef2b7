//! The order write API: each route validates its input, turns it into an order command and
//! runs it; nothing reaches the event store unless every field is valid.

use axum::http::StatusCode;
use axum::response::Response;
use chrono::Utc;
use projector_orders::{OrderCommand, OrderDecider, OrderError, order_stream};

use super::models::{
    CancelRequest, CreateOrder, CreateOrderRequest, NoFields, OrderItemRequest, RefundRequest,
    ShipRequest, check_add_item, check_cancel, check_refund, check_ship,
};
use crate::command::{Accepted, HttpWrite, WriteTarget};
use crate::error::ApiError;
use crate::routes::params::WriteHeaderParams;
use crate::routes::path::{OrderItemPath, OrderPath};
use crate::routes::problems::{MissingResource, WriteProblems};

/// How order writes map onto streams and answers.
const ORDERS: WriteTarget = WriteTarget {
    stream: order_stream,
    location: order_location,
    success: StatusCode::ACCEPTED,
    require_user: false,
};

fn order_location(order_id: &str) -> String {
    format!("/api/orders/{order_id}/projection")
}

/// The HTTP answer to each reason the order decider refuses a command.
fn refusal(order_id: &str, error: &OrderError) -> ApiError {
    match error {
        OrderError::NotFound => ApiError::NotFound(format!("order {order_id} not found")),
        OrderError::NoSuchItem { .. } => ApiError::NotFound(error.to_string()),
        OrderError::Invalid(message) => ApiError::field("body", message.clone()),
        OrderError::LimitExceeded { field, limit } => ApiError::field(field, limit.to_string()),
        _ => ApiError::Conflict(error.to_string()),
    }
}

/// Place an order: records `OrderCreated`, one `OrderItemAdded` per item and `OrderConfirmed`.
#[utoipa::path(
    post, path = "/api/orders", tag = "orders",
    security(("bearer" = ["write"])),
    params(WriteHeaderParams),
    request_body(content = CreateOrderRequest, content_type = "application/json"),
    responses(
        (status = 202, description = "Recorded; the read model follows", body = Accepted,
            headers(("Location" = String, description = "The order's read model"), ("ETag" = String, description = "The stream version"))),
        WriteProblems,
    )
)]
pub(crate) async fn create_order(write: HttpWrite) -> Result<Response, ApiError> {
    write
        .submit(
            &OrderDecider,
            ORDERS,
            None,
            true,
            |checker, body, new_ids| {
                let order = CreateOrder::check(checker, body?)?;
                // Made from the command id, so a retry under the same one names the same order.
                let order_id = order.id.unwrap_or_else(|| new_ids.make("ord"));
                let command = OrderCommand::Place {
                    order_id: order_id.clone(),
                    customer_id: order.customer_id,
                    items: order.items,
                    at: Utc::now(),
                };
                Some((order_id, command))
            },
            refusal,
        )
        .await
}

macro_rules! order_write {
    (
        $(#[$doc:meta])* $name:ident, $method:ident, $path:literal, $params:ty,
        body = $body:ty, required = $required:expr,
        |$checker:ident, $value:ident, $ids:ident| $build:expr
    ) => {
        $(#[$doc])*
        #[utoipa::path(
            $method, path = $path, tag = "orders",
            security(("bearer" = ["write"])),
            params($params, WriteHeaderParams),
            request_body(content = $body, content_type = "application/json"),
            responses(
                (status = 202, description = "Recorded; the read model follows", body = Accepted,
                    headers(("Location" = String, description = "The order's read model"), ("ETag" = String, description = "The stream version"))),
                WriteProblems,
                MissingResource,
            )
        )]
        pub(crate) async fn $name(
            $ids: $params,
            write: HttpWrite,
        ) -> Result<Response, ApiError> {
            let order_id = $ids.id.as_str().to_owned();
            write
                .submit(&OrderDecider, ORDERS, Some(order_id.clone()), $required, move |$checker, $value, _| {
                    let command = $build?;
                    Some((order_id.clone(), command))
                }, refusal)
                .await
        }
    };
}

order_write!(
    /// Add an item, or more of an item at the same price: records `OrderItemAdded`.
    add_item, post, "/api/orders/{id}/items", OrderPath,
    body = OrderItemRequest, required = true,
    |checker, value, ids| check_add_item(checker, value?).map(|item| OrderCommand::AddItem { item, at: Utc::now() })
);

order_write!(
    /// Remove an item's whole line: records `OrderItemRemoved`. No body.
    remove_item, delete, "/api/orders/{id}/items/{sku}", OrderItemPath,
    body = NoFields, required = false,
    |checker, value, ids| {
        checker.empty_object(value);
        Some(OrderCommand::RemoveItem { sku: ids.sku.as_str().to_owned(), at: Utc::now() })
    }
);

order_write!(
    /// Ship a confirmed order: records `OrderShipped`.
    ship_order, post, "/api/orders/{id}/ship", OrderPath,
    body = ShipRequest, required = true,
    |checker, value, ids| check_ship(checker, value?).map(|tracking| OrderCommand::Ship { tracking, at: Utc::now() })
);

order_write!(
    /// Mark a shipped order delivered: records `OrderCompleted`. No body (or `{}`).
    complete_order, post, "/api/orders/{id}/complete", OrderPath,
    body = NoFields, required = false,
    |checker, value, ids| {
        checker.empty_object(value);
        Some(OrderCommand::Complete { at: Utc::now() })
    }
);

order_write!(
    /// Cancel an order that has not shipped: records `OrderCancelled`.
    cancel_order, post, "/api/orders/{id}/cancel", OrderPath,
    body = CancelRequest, required = true,
    |checker, value, ids| check_cancel(checker, value?).map(|reason| OrderCommand::Cancel { reason, at: Utc::now() })
);

order_write!(
    /// Pay back part or all of a completed order: records `OrderRefunded`.
    refund_order, post, "/api/orders/{id}/refund", OrderPath,
    body = RefundRequest, required = true,
    |checker, value, ids| check_refund(checker, value?).map(|amount| OrderCommand::Refund { amount, at: Utc::now() })
);
