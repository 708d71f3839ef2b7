//! The limits the OpenAPI document states, built from the constants the validators enforce
//! ([`crate::limits`], the core's id rules), so the document cannot drift from the checks.
//!
//! Parameters take their schema from a function here (`schema_with`); request bodies keep
//! their doc comments and have the limits written into their properties by
//! [`state_body_limits`], from one table.

use projector_core::{ProjectionName, UserId};
use utoipa::openapi::OpenApi;
use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{Object, ObjectBuilder, Schema, Type};

use projector_products::limits::SLUG_PATTERN;
use utoipa::openapi::schema::ArrayItems;

use crate::limits::{
    AMOUNT_MAX, CATEGORY_MAX, CURSOR_MAX, CURSOR_PATTERN, EMAIL_MAX, ID_MAX, ID_PATTERN,
    IDEMPOTENCY_KEY_MAX, IF_MATCH_PATTERN, ITEMS_MAX, NAME_MAX, PAGE_MAX, PRICE_MAX,
    PRODUCT_DESCRIPTION_MAX, PRODUCT_NAME_MAX, PROSE_MAX, QUANTITY_MAX, RATING_MAX, RATING_MIN,
    REASON_MAX, REGION_MAX, REVIEW_TEXT_MAX, SEARCH_TEXT_MAX, TAG_MAX, TAGS_MAX, TITLE_MAX,
    TRACKING_MAX,
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

/// `X-Correlation-Id`: any value. One that is not 1 to 128 visible ASCII characters is not
/// refused but replaced by one the server makes, so the document states no pattern.
pub(crate) fn correlation_id() -> Object {
    ObjectBuilder::new().schema_type(Type::String).build()
}

/// `If-Match`: a stream version in quotes, or `*`.
pub(crate) fn if_match() -> Object {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .pattern(Some(IF_MATCH_PATTERN))
        .build()
}

/// A page cursor: [`CURSOR_PATTERN`].
pub(crate) fn cursor() -> Object {
    text(CURSOR_MAX, Some(CURSOR_PATTERN.to_owned()))
}

/// A page size.
pub(crate) fn page_limit() -> Object {
    ObjectBuilder::new()
        .schema_type(Type::Integer)
        .minimum(Some(1))
        .maximum(Some(PAGE_MAX))
        .build()
}

/// A feed position (`min_position`): what a `u64` position the store can hold may be.
pub(crate) fn position() -> Object {
    ObjectBuilder::new()
        .schema_type(Type::Integer)
        .minimum(Some(0))
        .maximum(Some(i64::MAX))
        .build()
}

/// How long a read may wait for its position, in milliseconds.
pub(crate) fn wait_ms() -> Object {
    ObjectBuilder::new()
        .schema_type(Type::Integer)
        .minimum(Some(0))
        .maximum(Some(crate::limits::WAIT_MS_MAX))
        .build()
}

/// A stream version to continue an audit log after.
pub(crate) fn after_version() -> Object {
    position()
}

/// An audit log's page size.
pub(crate) fn history_limit() -> Object {
    ObjectBuilder::new()
        .schema_type(Type::Integer)
        .minimum(Some(1))
        .maximum(Some(crate::limits::HISTORY_PAGE_MAX))
        .build()
}

/// One of `names`, exactly.
fn choice(names: impl IntoIterator<Item = &'static str>) -> Object {
    let names: Vec<&str> = names.into_iter().collect();
    ObjectBuilder::new()
        .schema_type(Type::String)
        .pattern(Some(format!("^({})$", names.join("|"))))
        .build()
}

/// A customer's loyalty tier.
pub(crate) fn tier() -> Object {
    choice(projector_customers::Tier::ALL.iter().map(|t| t.as_str()))
}

/// An email address as the customer decider takes it (`check_email`): local part, `@`, and
/// two or more domain labels of letters, digits and inner hyphens; the length is stated
/// apart, as `maxLength`.
pub(crate) fn email_pattern() -> String {
    use projector_customers::limits::{EMAIL_LABEL_MAX, EMAIL_LOCAL_MAX, EMAIL_LOCAL_SYMBOLS};
    let label = format!(
        "[A-Za-z0-9]([A-Za-z0-9-]{{0,{}}}[A-Za-z0-9])?",
        EMAIL_LABEL_MAX - 2
    );
    format!("^[A-Za-z0-9{EMAIL_LOCAL_SYMBOLS}]{{1,{EMAIL_LOCAL_MAX}}}@{label}(\\.{label})+$")
}

/// An issue's state, as the list filter takes it.
pub(crate) fn issue_state() -> Object {
    choice(projector_issues::IssueState::ALL.iter().map(|s| s.as_str()))
}

/// An issue's priority, as the list filter takes it.
pub(crate) fn issue_priority() -> Object {
    choice(projector_issues::Priority::ALL.iter().map(|p| p.as_str()))
}

/// An order's status, as the search filter takes it.
pub(crate) fn order_status() -> Object {
    choice(
        projector_orders::OrderStatus::ALL
            .iter()
            .map(|s| s.as_str()),
    )
}

/// Which search hits come first.
pub(crate) fn search_sort() -> Object {
    choice(
        projector_orders::search::SearchOrder::ALL
            .iter()
            .map(|o| o.as_str()),
    )
}

/// Which product search hits come first.
pub(crate) fn product_search_sort() -> Object {
    choice(
        projector_products::search::ProductSort::ALL
            .iter()
            .map(|o| o.as_str()),
    )
}

/// A product category, as the search filter takes it.
pub(crate) fn category() -> Object {
    slug(CATEGORY_MAX)
}

/// A price bound of a search: an amount from 0 to the highest price, in cents' steps.
pub(crate) fn price_bound() -> Object {
    ObjectBuilder::new()
        .schema_type(Type::Number)
        .minimum(Some(0))
        .maximum(Some(PRICE_MAX))
        .multiple_of(Some(0.01))
        .build()
}

/// A product search's cursor: the `next_cursor` of a page, as written.
pub(crate) fn search_cursor() -> Object {
    text(
        16 + 1 + 16,
        Some("^[0-9a-f]{1,16}\\.[0-9a-f]{1,16}$".to_owned()),
    )
}

/// Search text: free text of 1 to [`SEARCH_TEXT_MAX`] characters.
pub(crate) fn search_text() -> Object {
    text(SEARCH_TEXT_MAX, Some(FREE_TEXT_PATTERN.to_owned()))
}

/// Free text (`validate::Text::Free`): no control character (Unicode `Cc`, as Rust's
/// `char::is_control`), and at least one that is not white space.
pub(crate) const FREE_TEXT_PATTERN: &str = "^[^\\u0000-\\u001F\\u007F-\\u009F]*[^\\s\\u0000-\\u001F\\u007F-\\u009F][^\\u0000-\\u001F\\u007F-\\u009F]*$";
/// Prose (`validate::Text::Prose`): no control character but tab, line feed and carriage
/// return.
pub(crate) const PROSE_PATTERN: &str =
    "^[^\\u0000-\\u0008\\u000B\\u000C\\u000E-\\u001F\\u007F-\\u009F]*$";

/// What a property of a request body must be.
#[derive(Clone, Copy, Debug)]
enum Limit {
    /// An id.
    Id,
    /// A user id.
    User,
    /// An email address.
    Email,
    /// A customer's tier.
    Tier,
    /// Free text of 1 to `max` characters, not blank, without control characters if
    /// `required`; else prose (`validate::Text::Prose`) of 0 to `max` characters.
    Text { max: usize, required: bool },
    /// Prose of 1 to `max` characters: line breaks and tabs, no other control characters.
    Prose { max: usize },
    /// A whole number in `min..=max`.
    Integer { min: i64, max: i64 },
    /// An amount of money with at most two decimals, at most `max`; above zero if `positive`.
    Amount { positive: bool, max: f64 },
    /// An array of `min..=max` items.
    Items { min: usize, max: usize },
    /// A slug of 1 to `max` characters ([`SLUG_PATTERN`]).
    Slug { max: usize },
    /// An array of at most `items` distinct slugs of 1 to `max` characters.
    Slugs { items: usize, max: usize },
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
        Limit::Amount {
            positive: false,
            max: AMOUNT_MAX,
        },
    ),
    (
        "RefundRequest",
        "amount",
        Limit::Amount {
            positive: true,
            max: AMOUNT_MAX,
        },
    ),
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
    ("CommentRequest", "body", Limit::Prose { max: PROSE_MAX }),
    ("CreateProductRequest", "id", Limit::Id),
    ("CreateProductRequest", "name", PRODUCT_NAME),
    ("CreateProductRequest", "description", PRODUCT_DESCRIPTION),
    ("CreateProductRequest", "category", CATEGORY),
    ("CreateProductRequest", "price", PRICE),
    ("CreateProductRequest", "tags", TAGS),
    ("UpdateProductRequest", "name", PRODUCT_NAME),
    ("UpdateProductRequest", "description", PRODUCT_DESCRIPTION),
    ("UpdateProductRequest", "category", CATEGORY),
    ("UpdateProductRequest", "tags", TAGS),
    ("PriceRequest", "price", PRICE),
    ("RegisterCustomerRequest", "id", Limit::Id),
    ("RegisterCustomerRequest", "email", Limit::Email),
    (
        "RegisterCustomerRequest",
        "name",
        Limit::Text {
            max: NAME_MAX,
            required: true,
        },
    ),
    (
        "RegisterCustomerRequest",
        "region",
        Limit::Text {
            max: REGION_MAX,
            required: true,
        },
    ),
    ("UpdateCustomerRequest", "email", Limit::Email),
    (
        "UpdateCustomerRequest",
        "name",
        Limit::Text {
            max: NAME_MAX,
            required: true,
        },
    ),
    (
        "UpdateCustomerRequest",
        "region",
        Limit::Text {
            max: REGION_MAX,
            required: true,
        },
    ),
    ("ChangeTierRequest", "tier", Limit::Tier),
    ("SubmitReviewRequest", "customer_id", Limit::Id),
    (
        "SubmitReviewRequest",
        "rating",
        Limit::Integer {
            min: RATING_MIN,
            max: RATING_MAX,
        },
    ),
    (
        "SubmitReviewRequest",
        "text",
        Limit::Text {
            max: REVIEW_TEXT_MAX,
            required: false,
        },
    ),
];

/// A product's name, as its create and update bodies take it.
const PRODUCT_NAME: Limit = Limit::Text {
    max: PRODUCT_NAME_MAX,
    required: true,
};
/// A product's description: prose, may be empty.
const PRODUCT_DESCRIPTION: Limit = Limit::Text {
    max: PRODUCT_DESCRIPTION_MAX,
    required: false,
};
/// A product's category.
const CATEGORY: Limit = Limit::Slug { max: CATEGORY_MAX };
/// A product's price.
const PRICE: Limit = Limit::Amount {
    positive: true,
    max: PRICE_MAX,
};
/// A product's tags.
const TAGS: Limit = Limit::Slugs {
    items: TAGS_MAX,
    max: TAG_MAX,
};

/// Writes [`BODY_LIMITS`] into the request bodies' schemas.
///
/// Bodies the document does not have are skipped (the admin listener's document has none).
///
/// # Panics
/// If a property of the table is not in a body the document has: the table names a field
/// that was renamed or removed, which every test that starts a server catches.
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
            // A document without this body (the admin listener's has no order or issue
            // routes): nothing to state.
            None => continue,
            Some(RefOr::T(Schema::Object(object))) => object.properties.get_mut(*property),
            Some(_) => None,
        };
        match found {
            Some(RefOr::T(Schema::Object(object))) => limit_object(object, *limit),
            Some(RefOr::T(Schema::Array(array))) => match *limit {
                Limit::Items { min, max } => {
                    array.min_items = Some(min);
                    array.max_items = Some(max);
                }
                Limit::Slugs { items, max } => {
                    array.max_items = Some(items);
                    array.unique_items = true;
                    array.items =
                        ArrayItems::RefOrSchema(Box::new(RefOr::T(Schema::Object(slug(max)))));
                }
                _ => panic!("{schema}.{property} is an array, not a {limit:?}"),
            },
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
        Limit::Email => {
            object.min_length = Some(1);
            object.max_length = Some(EMAIL_MAX);
            object.pattern = Some(email_pattern());
        }
        Limit::Tier => object.pattern = tier().pattern,
        Limit::Text { max, required } => {
            object.min_length = required.then_some(1);
            object.max_length = Some(max);
            object.pattern = Some(if required {
                FREE_TEXT_PATTERN.to_owned()
            } else {
                PROSE_PATTERN.to_owned()
            });
        }
        Limit::Prose { max } => {
            object.min_length = Some(1);
            object.max_length = Some(max);
            object.pattern = Some(PROSE_PATTERN.to_owned());
        }
        Limit::Integer { min, max } => {
            object.minimum = Some(min.into());
            object.maximum = Some(max.into());
        }
        Limit::Amount { positive, max } => {
            if positive {
                object.minimum = None;
                object.exclusive_minimum = Some(0.into());
            } else {
                object.minimum = Some(0.into());
            }
            object.maximum = Some(max.into());
            object.multiple_of = Some(0.01.into());
        }
        Limit::Slug { max } => {
            let slug = slug(max);
            object.min_length = slug.min_length;
            object.max_length = slug.max_length;
            object.pattern = slug.pattern;
        }
        Limit::Items { .. } | Limit::Slugs { .. } => {}
    }
}

/// A slug of 1 to `max` characters: [`SLUG_PATTERN`].
fn slug(max: usize) -> Object {
    text(max, Some(SLUG_PATTERN.to_owned()))
}

#[cfg(test)]
mod tests;
