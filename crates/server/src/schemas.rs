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

use crate::limits::{
    AMOUNT_MAX, CURSOR_MAX, CURSOR_PATTERN, ID_MAX, ID_PATTERN, IDEMPOTENCY_KEY_MAX,
    IF_MATCH_PATTERN, ITEMS_MAX, PAGE_MAX, PROSE_MAX, QUANTITY_MAX, REASON_MAX, SEARCH_TEXT_MAX,
    TITLE_MAX, TRACKING_MAX,
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
    /// Free text of 1 to `max` characters, not blank, without control characters if
    /// `required`; else prose (`validate::Text::Prose`) of 0 to `max` characters.
    Text { max: usize, required: bool },
    /// Prose of 1 to `max` characters: line breaks and tabs, no other control characters.
    Prose { max: usize },
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
    ("CommentRequest", "body", Limit::Prose { max: PROSE_MAX }),
];

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

#[cfg(test)]
mod tests {
    //! The document's patterns against the checks the server runs: for every sample, the
    //! pattern and the check agree.
    use super::*;
    use utoipa::openapi::{ComponentsBuilder, OpenApiBuilder};

    #[test]
    fn a_document_without_the_bodies_is_left_as_it_is() {
        // The admin listener's document: no order or issue bodies (this panicked, and the
        // admin listener reset every connection).
        let mut document = OpenApiBuilder::new()
            .components(Some(ComponentsBuilder::new().build()))
            .build();
        state_body_limits(&mut document);
        let schemas = document.components.map(|c| c.schemas.len());
        assert_eq!(schemas, Some(0));
    }
    use crate::validate::{Checker, Text};
    use axum::http::{HeaderMap, HeaderValue, header};
    use serde_json::json;

    fn matches(pattern: &str, text: &str) -> bool {
        regex::Regex::new(pattern)
            .expect("a pattern")
            .is_match(text)
    }

    fn text_accepted(rule: Text, text: &str) -> bool {
        let body = json!({ "t": text });
        let mut checker = Checker::new();
        let object = checker.object(&body, "", &["t"]).expect("an object");
        checker.text(&object, "t", rule).is_some()
    }

    const SAMPLES: &[&str] = &[
        "a",
        "two words",
        " padded ",
        " ",
        "\t",
        "line\nbreak",
        "cr\r\n",
        "tab\there",
        "nul\u{0}",
        "bell\u{7}",
        "del\u{7f}",
        "c1\u{85}",
        "c1\u{9f}",
        "\u{a0}",
        "\u{a0}x",
        "\u{2003}",
        "\u{feff}",
        "caf\u{e9}",
        "\u{1f600}",
        "_\u{e}\u{a4}",
    ];

    #[test]
    fn free_text_pattern_is_the_check() {
        for sample in SAMPLES {
            assert_eq!(
                matches(FREE_TEXT_PATTERN, sample),
                text_accepted(Text::Free { max: 100 }, sample),
                "{sample:?}"
            );
        }
    }

    #[test]
    fn prose_pattern_is_the_check() {
        for sample in SAMPLES {
            assert_eq!(
                matches(PROSE_PATTERN, sample),
                text_accepted(
                    Text::Prose {
                        max: 100,
                        allow_empty: true
                    },
                    sample
                ),
                "{sample:?}"
            );
        }
    }

    #[test]
    fn if_match_pattern_is_the_check() {
        let samples = [
            "\"0\"",
            "\"3\"",
            "W/\"3\"",
            "*",
            "3",
            "\"\"",
            "\"+1\"",
            "\"-1\"",
            "w/\"3\"",
            "\"3\", \"4\"",
            "\"9999999999999999999\"",
            "\"18446744073709551615\"",
            "\"00000000000000000001\"",
        ];
        for sample in samples {
            let mut headers = HeaderMap::new();
            headers.insert(header::IF_MATCH, HeaderValue::from_static(sample));
            assert_eq!(
                matches(IF_MATCH_PATTERN, sample),
                crate::extract::if_match(&headers).is_ok(),
                "{sample:?}"
            );
        }
    }

    #[test]
    fn cursor_pattern_is_the_check() {
        let samples = [
            "2024-05-01T10:00:00.000000Z~ord-1",
            "2024-05-01T10:00:00Z~iss-0a1b",
            "2024-05-01T10:00:00+05:30~a",
            "2024-05-01T10:00:00.123456789-01:00~a.b:c_d-e",
            "2024-13-01T10:00:00Z~a",
            "2024-05-01t10:00:00Z~a",
            "2024-05-01T10:00:00Z~",
            "2024-05-01T10:00:00Z~-a",
            "2024-05-01T10:00:00Z~a~b",
            "2024-05-01T24:00:00Z~a",
            "2024-05-01 10:00:00Z~a",
            "2024-05-01T10:00:00z~a",
            "2024-06-30T23:59:60Z~a",
            "2024-05-01T10:00:00.1234567890Z~a",
            "2024-05-01T10:00:00.Z~a",
            "2024-05-01T10:00:00+0530~a",
            "0",
            "~a",
        ];
        for sample in samples {
            let decoded = projector_orders::queries::OrdersCursor::from_token(sample).is_some()
                && crate::limits::cursor_has_documented_form(sample);
            assert_eq!(matches(CURSOR_PATTERN, sample), decoded, "{sample:?}");
        }
    }
}
