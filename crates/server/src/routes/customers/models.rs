//! The shapes of the customer API's requests and responses, and the parsing that enforces
//! their limits: the customer decider's own rules and constants
//! (`projector_customers::limits`), which `schemas` writes into the OpenAPI document.

use chrono::{DateTime, Utc};
use projector_customers::Tier;
use projector_orders::Money;
use projector_orders::queries::customers::{ActivitySummary, CustomerView};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use crate::limits::{NAME_MAX, RATING_MAX, RATING_MIN, REGION_MAX, REVIEW_TEXT_MAX};
use crate::validate::{Checker, Object, Text};

/// `POST /api/customers`: register a customer.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)] // Documents the body; `validate` reads it from the JSON, naming every bad field.
pub(crate) struct RegisterCustomerRequest {
    /// The customer's id; made by the server when absent.
    pub(crate) id: Option<String>,
    /// Where to write to them: an address as HTML forms take one, with a domain of two or
    /// more labels.
    pub(crate) email: String,
    /// Their name.
    pub(crate) name: String,
    /// Where they live: a state, province or similar region.
    pub(crate) region: String,
}

/// `PATCH /api/customers/{id}`: change any of these; at least one. A new name or email is
/// recorded as `CustomerUpdated`, a new region as `CustomerMoved`, both in one append; a value
/// the customer already has changes nothing, and a request that changes nothing is refused
/// (409).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(min_properties = 1)]
#[allow(dead_code)] // Documents the body; `validate` reads it from the JSON, naming every bad field.
pub(crate) struct UpdateCustomerRequest {
    #[serde(default)]
    pub(crate) name: String,
    #[serde(default)]
    pub(crate) email: String,
    #[serde(default)]
    pub(crate) region: String,
}

/// `POST /api/customers/{id}/tier`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)] // Documents the body; `validate` reads it from the JSON, naming every bad field.
pub(crate) struct ChangeTierRequest {
    /// `bronze`, `silver`, `gold` or `platinum`; another tier than the customer's.
    pub(crate) tier: String,
}

/// `POST /api/products/{id}/reviews`: a customer rates a product, once per product.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)] // Documents the body; `validate` reads it from the JSON, naming every bad field.
pub(crate) struct SubmitReviewRequest {
    /// Who writes it: a registered customer.
    pub(crate) customer_id: String,
    /// From 1 to 5.
    pub(crate) rating: i64,
    /// What they write (line breaks allowed); may be empty.
    pub(crate) text: String,
}

/// A validated registration.
pub(crate) struct RegisterCustomer {
    pub(crate) id: Option<String>,
    pub(crate) email: String,
    pub(crate) name: String,
    pub(crate) region: String,
}

impl RegisterCustomer {
    pub(crate) fn check(checker: &mut Checker, body: &Value) -> Option<Self> {
        let object = checker.object(body, "", &["id", "email", "name", "region"])?;
        let id = checker.optional_text(&object, "id", Text::Id);
        let email = checker.text(&object, "email", Text::Email);
        let name = checker.text(&object, "name", Text::Free { max: NAME_MAX });
        let region = checker.text(&object, "region", Text::Free { max: REGION_MAX });
        Some(Self {
            id: id?,
            email: email?,
            name: name?,
            region: region?,
        })
    }
}

/// A validated profile change: the fields given.
pub(crate) struct UpdateCustomer {
    pub(crate) name: Option<String>,
    pub(crate) email: Option<String>,
    pub(crate) region: Option<String>,
}

impl UpdateCustomer {
    pub(crate) fn check(checker: &mut Checker, body: &Value) -> Option<Self> {
        let object = checker.object(body, "", &["name", "email", "region"])?;
        let name = present_text(checker, &object, "name", Text::Free { max: NAME_MAX });
        let email = present_text(checker, &object, "email", Text::Email);
        let region = present_text(checker, &object, "region", Text::Free { max: REGION_MAX });
        let update = Self {
            name: name?,
            email: email?,
            region: region?,
        };
        if update.name.is_none() && update.email.is_none() && update.region.is_none() {
            checker.error("body", "must set at least one of name, email, region");
            return None;
        }
        Some(update)
    }
}

/// An optional text field that is a string when present: `null` is refused, as the document
/// states (a field to leave alone is left out).
fn present_text(
    checker: &mut Checker,
    object: &Object<'_>,
    name: &str,
    rule: Text,
) -> Option<Option<String>> {
    match checker.nullable_text(object, name, rule)? {
        None => Some(None),
        Some(Some(text)) => Some(Some(text)),
        Some(None) => {
            checker.error(
                name,
                "must be a string, not null; leave the field out instead",
            );
            None
        }
    }
}

/// A validated tier.
pub(crate) fn check_tier(checker: &mut Checker, body: &Value) -> Option<Tier> {
    let object = checker.object(body, "", &["tier"])?;
    let names: Vec<&str> = Tier::ALL.iter().map(|t| t.as_str()).collect();
    checker
        .choice(&object, "tier", &names)
        .and_then(|name| Tier::parse(&name))
}

/// A validated review.
pub(crate) struct SubmitReview {
    pub(crate) customer_id: String,
    pub(crate) rating: u8,
    pub(crate) text: String,
}

impl SubmitReview {
    pub(crate) fn check(checker: &mut Checker, body: &Value) -> Option<Self> {
        let object = checker.object(body, "", &["customer_id", "rating", "text"])?;
        let customer_id = checker.text(&object, "customer_id", Text::Id);
        let rating = checker.integer(&object, "rating", RATING_MIN, RATING_MAX);
        let text = checker.text(
            &object,
            "text",
            Text::Prose {
                max: REVIEW_TEXT_MAX,
                allow_empty: true,
            },
        );
        Some(Self {
            customer_id: customer_id?,
            rating: u8::try_from(rating?).ok()?,
            text: text?,
        })
    }
}

/// A registered customer, with what they have done.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct CustomerProfile {
    pub(crate) id: String,
    pub(crate) email: String,
    pub(crate) name: String,
    pub(crate) region: String,
    /// `bronze`, `silver`, `gold` or `platinum`.
    #[schema(value_type = String)]
    pub(crate) tier: Tier,
    pub(crate) registered_at: DateTime<Utc>,
    /// When the profile or tier last changed (the registration, if never).
    pub(crate) updated_at: DateTime<Utc>,
    pub(crate) activity: CustomerSummary,
}

/// What a customer has done, orders placed before they registered included.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct CustomerSummary {
    pub(crate) orders_placed: i64,
    pub(crate) orders_completed: i64,
    /// What their delivered orders came to.
    #[schema(value_type = f64, minimum = 0, multiple_of = 0.01)]
    pub(crate) total_spent: Money,
    pub(crate) reviews_written: i64,
    /// Absent before their first order.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) last_order_at: Option<DateTime<Utc>>,
    /// Absent before their first review.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) last_review_at: Option<DateTime<Utc>>,
}

impl From<CustomerView> for CustomerProfile {
    fn from(v: CustomerView) -> Self {
        Self {
            id: v.customer_id,
            email: v.email,
            name: v.name,
            region: v.region,
            tier: v.tier,
            registered_at: v.registered_at,
            updated_at: v.updated_at,
            activity: v.activity.into(),
        }
    }
}

impl From<ActivitySummary> for CustomerSummary {
    fn from(v: ActivitySummary) -> Self {
        Self {
            orders_placed: v.orders_placed,
            orders_completed: v.orders_completed,
            total_spent: v.total_spent,
            reviews_written: v.reviews_written,
            last_order_at: v.last_order_at,
            last_review_at: v.last_review_at,
        }
    }
}
