//! The limits the OpenAPI document states, built from the constants the validators enforce
//! ([`crate::limits`], the core's id rules), so the document cannot drift from the checks.
//!
//! Parameters take their schema from a function here (`schema_with`); request bodies keep
//! their doc comments and have the limits written into their properties by
//! [`state_body_limits`], from one table.

use projector_core::{CorrelationId, ProjectionName, UserId};
use utoipa::openapi::OpenApi;
use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{Object, ObjectBuilder, Schema, Type};

use crate::limits::{
    AMOUNT_MAX, ID_MAX, ID_PATTERN, IDEMPOTENCY_KEY_MAX, IF_MATCH_PATTERN, ITEMS_MAX, PAGE_MAX,
    PROSE_MAX, QUANTITY_MAX, REASON_MAX, TITLE_MAX, TRACKING_MAX,
};

/// A string of 1 to `max` characters following `pattern`.
fn text(max: usize, pattern: Option<String>) -> Object {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .min_length(Some(1))
        .max_length(Some(max))
        .pattern(pattern)
        .build()
}

/// An id: [`ID_PATTERN`].
pub(crate) fn id() -> Object {
    text(ID_MAX, Some(ID_PATTERN.to_owned()))
}

/// A projection name, as the core checks it.
pub(crate) fn projection_name() -> Object {
    let max = ProjectionName::MAX_LEN;
    text(max, Some(format!("^[a-z][a-z0-9_]{{0,{}}}$", max - 1)))
}

/// Visible ASCII, 1 to `max` characters.
fn token(max: usize) -> Object {
    text(max, Some(format!("^[!-~]{{1,{max}}}$")))
}

/// `Idempotency-Key`.
pub(crate) fn idempotency_key() -> Object {
    token(IDEMPOTENCY_KEY_MAX)
}

/// A user id (`X-User-Id`, an issue's assignee).
pub(crate) fn user_id() -> Object {
    token(UserId::MAX_LEN)
}

/// `X-Correlation-Id`.
pub(crate) fn correlation_id() -> Object {
    token(CorrelationId::MAX_LEN)
}

/// `If-Match`: a stream version in quotes, or `*`.
pub(crate) fn if_match() -> Object {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .pattern(Some(IF_MATCH_PATTERN))
        .build()
}

/// A page size.
pub(crate) fn page_limit() -> Object {
    ObjectBuilder::new()
        .schema_type(Type::Integer)
        .minimum(Some(1))
        .maximum(Some(PAGE_MAX))
        .build()
}

/// What a property of a request body must be.
#[derive(Clone, Copy, Debug)]
enum Limit {
    /// An id.
    Id,
    /// A user id.
    User,
    /// Text of 1 to `max` characters (of 0 to `max` if not `required`).
    Text { max: usize, required: bool },
    /// A whole number in `min..=max`.
    Integer { min: i64, max: i64 },
    /// An amount of money with at most two decimals; above zero if `positive`.
    Amount { positive: bool },
    /// An array of `min..=max` items.
    Items { min: usize, max: usize },
}

/// Every limited property of every request body: (schema, property, limit).
const BODY_LIMITS: &[(&str, &str, Limit)] = &[
    ("CreateOrderRequest", "id", Limit::Id),
    ("CreateOrderRequest", "customer_id", Limit::Id),
    (
        "CreateOrderRequest",
        "items",
        Limit::Items {
            min: 1,
            max: ITEMS_MAX,
        },
    ),
    ("OrderItemRequest", "sku", Limit::Id),
    (
        "OrderItemRequest",
        "quantity",
        Limit::Integer {
            min: 1,
            max: QUANTITY_MAX,
        },
    ),
    (
        "OrderItemRequest",
        "unit_price",
        Limit::Amount { positive: false },
    ),
    ("RefundRequest", "amount", Limit::Amount { positive: true }),
    (
        "ShipRequest",
        "tracking",
        Limit::Text {
            max: TRACKING_MAX,
            required: true,
        },
    ),
    (
        "CancelRequest",
        "reason",
        Limit::Text {
            max: REASON_MAX,
            required: true,
        },
    ),
    (
        "CreateIssueRequest",
        "title",
        Limit::Text {
            max: TITLE_MAX,
            required: true,
        },
    ),
    (
        "CreateIssueRequest",
        "description",
        Limit::Text {
            max: PROSE_MAX,
            required: false,
        },
    ),
    (
        "UpdateIssueRequest",
        "title",
        Limit::Text {
            max: TITLE_MAX,
            required: true,
        },
    ),
    (
        "UpdateIssueRequest",
        "description",
        Limit::Text {
            max: PROSE_MAX,
            required: false,
        },
    ),
    ("UpdateIssueRequest", "assignee", Limit::User),
    (
        "CommentRequest",
        "body",
        Limit::Text {
            max: PROSE_MAX,
            required: true,
        },
    ),
];

/// Writes [`BODY_LIMITS`] into the request bodies' schemas.
///
/// # Panics
/// If a property of the table is not in the document: the table names a field that was
/// renamed or removed, which every test that starts a server catches.
pub(crate) fn state_body_limits(document: &mut OpenApi) {
    let schemas = document
        .components
        .as_mut()
        .map(|components| &mut components.schemas);
    let Some(schemas) = schemas else {
        panic!("the document has no schemas");
    };
    for (schema, property, limit) in BODY_LIMITS {
        let found = match schemas.get_mut(*schema) {
            Some(RefOr::T(Schema::Object(object))) => object.properties.get_mut(*property),
            _ => None,
        };
        match found {
            Some(RefOr::T(Schema::Object(object))) => limit_object(object, *limit),
            Some(RefOr::T(Schema::Array(array))) => {
                if let Limit::Items { min, max } = limit {
                    array.min_items = Some(*min);
                    array.max_items = Some(*max);
                }
            }
            _ => panic!("{schema}.{property} is not in the OpenAPI document"),
        }
    }
}

fn limit_object(object: &mut Object, limit: Limit) {
    match limit {
        Limit::Id => {
            object.min_length = Some(1);
            object.max_length = Some(ID_MAX);
            object.pattern = Some(ID_PATTERN.to_owned());
        }
        Limit::User => {
            let user = user_id();
            object.min_length = user.min_length;
            object.max_length = user.max_length;
            object.pattern = user.pattern;
        }
        Limit::Text { max, required } => {
            object.min_length = required.then_some(1);
            object.max_length = Some(max);
        }
        Limit::Integer { min, max } => {
            object.minimum = Some(min.into());
            object.maximum = Some(max.into());
        }
        Limit::Amount { positive } => {
            if positive {
                object.minimum = None;
                object.exclusive_minimum = Some(0.into());
            } else {
                object.minimum = Some(0.into());
            }
            object.maximum = Some(AMOUNT_MAX.into());
            object.multiple_of = Some(0.01.into());
        }
        Limit::Items { .. } => {}
    }
}
