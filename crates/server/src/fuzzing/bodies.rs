//! Write bodies, read as the write routes read them.

use bytes::Bytes;
use projector_customers::customer_stream;
use projector_customers::limits;
use projector_issues::Changes;
use projector_orders::{Money, NewItem};

use crate::error::ApiError;
use crate::extract::JsonBody;
use crate::limits::{
    AMOUNT_MAX, EMAIL_MAX, ITEMS_MAX, NAME_MAX, PROSE_MAX, QUANTITY_MAX, REASON_MAX, REGION_MAX,
    TITLE_MAX, TRACKING_MAX, is_id,
};
use crate::routes::{customers, issues, orders, products};
use crate::validate::Checker;

use super::{assert_free_text, assert_refusal};

/// Every kind of write body the API reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WriteBody {
    /// `POST /api/orders`.
    CreateOrder,
    /// `POST /api/orders/{id}/items`.
    AddItem,
    /// `DELETE /api/orders/{id}/items/{sku}` and `POST /api/orders/{id}/complete`: no body
    /// or `{}`.
    NoFields,
    /// `POST /api/orders/{id}/ship`.
    Ship,
    /// `POST /api/orders/{id}/cancel`.
    Cancel,
    /// `POST /api/orders/{id}/refund`.
    Refund,
    /// `POST /api/issues`.
    CreateIssue,
    /// `PATCH /api/issues/{id}`.
    UpdateIssue,
    /// `POST /api/issues/{id}/comments`.
    Comment,
    /// `POST /api/products`.
    CreateProduct,
    /// `PATCH /api/products/{id}`.
    UpdateProduct,
    /// `POST /api/products/{id}/price`.
    ProductPrice,
    /// `POST /api/customers`.
    RegisterCustomer,
    /// `PATCH /api/customers/{id}`.
    UpdateCustomer,
    /// `POST /api/customers/{id}/tier`.
    ChangeTier,
    /// `POST /api/products/{id}/reviews`.
    SubmitReview,
}

impl WriteBody {
    /// All of them, for a fuzzer to pick from (new kinds go last, so a stored input keeps
    /// the kind its first byte picked).
    pub const ALL: [Self; 16] = [
        Self::CreateOrder,
        Self::AddItem,
        Self::NoFields,
        Self::Ship,
        Self::Cancel,
        Self::Refund,
        Self::CreateIssue,
        Self::UpdateIssue,
        Self::Comment,
        Self::CreateProduct,
        Self::UpdateProduct,
        Self::ProductPrice,
        Self::RegisterCustomer,
        Self::UpdateCustomer,
        Self::ChangeTier,
        Self::SubmitReview,
    ];
}

/// Reads `bytes` as a JSON body of `kind` and validates it, as the route does.
///
/// # Errors
/// The route's refusal.
///
/// # Panics
/// When an accepted body breaks a documented limit, or a refusal is not a 4xx problem+json
/// naming what is wrong.
pub fn write_body(kind: WriteBody, bytes: &[u8]) -> Result<(), ApiError> {
    let result = check_body(kind, bytes);
    if let Err(error) = &result {
        assert_refusal(error);
    }
    result
}

fn check_body(kind: WriteBody, bytes: &[u8]) -> Result<(), ApiError> {
    let body = JsonBody::parse(Some("application/json"), Bytes::copy_from_slice(bytes))?;
    let required = !matches!(kind, WriteBody::NoFields | WriteBody::UpdateIssue);
    if required {
        body.required()?;
    }
    let value = body.value.as_ref();
    let mut checker = Checker::new();
    match kind {
        WriteBody::CreateOrder => {
            let order = value.and_then(|v| orders::models::CreateOrder::check(&mut checker, v));
            let order = checker.finish(order)?;
            if let Some(id) = &order.id {
                assert!(is_id(id), "accepted order id {id:?}");
                assert!(
                    projector_orders::order_stream(id).is_ok(),
                    "stream of {id:?}"
                );
            }
            assert!(is_id(&order.customer_id), "accepted customer id");
            assert!((1..=ITEMS_MAX).contains(&order.items.len()), "item count");
            let mut skus = std::collections::BTreeSet::new();
            for item in &order.items {
                assert_item(item);
                assert!(skus.insert(&item.sku), "sku {:?} accepted twice", item.sku);
            }
        }
        WriteBody::AddItem => {
            let item = value.and_then(|v| orders::models::check_add_item(&mut checker, v));
            assert_item(&checker.finish(item)?);
        }
        WriteBody::NoFields => {
            checker.empty_object(value);
            checker.finish(Some(()))?;
        }
        WriteBody::Ship => {
            let tracking = value.and_then(|v| orders::models::check_ship(&mut checker, v));
            assert_free_text(&checker.finish(tracking)?, TRACKING_MAX);
        }
        WriteBody::Cancel => {
            let reason = value.and_then(|v| orders::models::check_cancel(&mut checker, v));
            assert_free_text(&checker.finish(reason)?, REASON_MAX);
        }
        WriteBody::Refund => {
            let amount = value.and_then(|v| orders::models::check_refund(&mut checker, v));
            let amount = checker.finish(amount)?;
            assert!(amount > Money::ZERO, "accepted refund {amount:?}");
            assert_amount(amount);
        }
        WriteBody::CreateIssue => {
            let issue = value.and_then(|v| issues::models::check_create(&mut checker, v));
            let (title, description, _) = checker.finish(issue)?;
            assert_free_text(&title, TITLE_MAX);
            assert!(
                description.chars().count() <= PROSE_MAX,
                "description length"
            );
        }
        WriteBody::UpdateIssue => {
            let changes = issues::models::check_update(&mut checker, value);
            assert_changes(&checker.finish(changes)?);
        }
        WriteBody::Comment => {
            let text = value.and_then(|v| issues::models::check_comment(&mut checker, v));
            let text = checker.finish(text)?;
            let length = text.chars().count();
            assert!(length > 0 && length <= PROSE_MAX, "comment length {length}");
        }
        WriteBody::CreateProduct | WriteBody::UpdateProduct | WriteBody::ProductPrice => {
            product_body(kind, value, checker)?;
        }
        WriteBody::RegisterCustomer => {
            let customer =
                value.and_then(|v| customers::models::RegisterCustomer::check(&mut checker, v));
            let customer = checker.finish(customer)?;
            if let Some(id) = &customer.id {
                assert!(is_id(id), "accepted customer id {id:?}");
                assert!(customer_stream(id).is_ok(), "stream of {id:?}");
            }
            assert_profile(
                Some(&customer.email),
                Some(&customer.name),
                Some(&customer.region),
            );
        }
        WriteBody::UpdateCustomer => {
            let update =
                value.and_then(|v| customers::models::UpdateCustomer::check(&mut checker, v));
            let update = checker.finish(update)?;
            assert!(
                update.name.is_some() || update.email.is_some() || update.region.is_some(),
                "accepted an update of nothing"
            );
            assert_profile(
                update.email.as_deref(),
                update.name.as_deref(),
                update.region.as_deref(),
            );
        }
        WriteBody::ChangeTier => {
            let tier = value.and_then(|v| customers::models::check_tier(&mut checker, v));
            checker.finish(tier)?;
        }
        WriteBody::SubmitReview => {
            let review =
                value.and_then(|v| customers::models::SubmitReview::check(&mut checker, v));
            let review = checker.finish(review)?;
            assert!(
                is_id(&review.customer_id) && customer_stream(&review.customer_id).is_ok(),
                "accepted customer id {:?}",
                review.customer_id
            );
            assert!(
                limits::check_rating(review.rating).is_ok(),
                "accepted rating {}",
                review.rating
            );
            assert!(
                limits::check_review_text(&review.text).is_ok(),
                "accepted review text of {} chars",
                review.text.chars().count()
            );
        }
    }
    Ok(())
}

/// A product body, checked as its route does; what is accepted, the product decider accepts
/// too: the API's checks are the domain's, never looser.
fn product_body(
    kind: WriteBody,
    value: Option<&serde_json::Value>,
    mut checker: Checker,
) -> Result<(), ApiError> {
    use projector_core::Decider;
    use projector_products::{
        ProductChanges, ProductCommand, ProductDecider, ProductError, ProductId,
    };

    let at = chrono::DateTime::UNIX_EPOCH;
    let existing = || {
        let create = ProductCommand::Create {
            product_id: ProductId::parse("fuzz").expect("an id"),
            name: "Fuzz".into(),
            description: String::new(),
            category: "fuzz".into(),
            price: projector_products::Price::from_cents(1).expect("a price"),
            tags: Vec::new(),
            at,
        };
        let decider = ProductDecider;
        let events = decider
            .decide(&Default::default(), &create)
            .expect("a valid creation");
        decider.fold(&events)
    };
    let (state, command) = match kind {
        WriteBody::CreateProduct => {
            let product =
                value.and_then(|v| products::models::CreateProduct::check(&mut checker, v));
            let product = checker.finish(product)?;
            let id = product.id.unwrap_or_else(|| "made".into());
            let product_id = ProductId::parse(&id).expect("an accepted id is a product id");
            let command = ProductCommand::Create {
                product_id,
                name: product.name,
                description: product.description,
                category: product.category,
                price: product.price,
                tags: product.tags,
                at,
            };
            (Default::default(), command)
        }
        WriteBody::UpdateProduct => {
            let changes = value.and_then(|v| products::models::check_update(&mut checker, v));
            let changes: ProductChanges = checker.finish(changes)?;
            (existing(), ProductCommand::Update { changes, at })
        }
        _ => {
            let price = value.and_then(|v| products::models::check_price(&mut checker, v));
            let price = checker.finish(price)?;
            (existing(), ProductCommand::ChangePrice { price, at })
        }
    };
    match ProductDecider.decide(&state, &command) {
        Ok(_) | Err(ProductError::NothingChanged | ProductError::SamePrice { .. }) => Ok(()),
        Err(error) => panic!("the API accepted {command:?}, the decider refused it: {error}"),
    }
}

/// Whatever profile fields were accepted, the customer decider takes too.
fn assert_profile(email: Option<&str>, name: Option<&str>, region: Option<&str>) {
    if let Some(email) = email {
        assert!(
            limits::check_email(email).is_ok(),
            "accepted email {email:?}"
        );
        assert!(email.chars().count() <= EMAIL_MAX, "email length");
    }
    if let Some(name) = name {
        assert_free_text(name, NAME_MAX);
        assert!(
            limits::check_line(name, NAME_MAX).is_ok(),
            "accepted name {name:?}"
        );
    }
    if let Some(region) = region {
        assert_free_text(region, REGION_MAX);
        assert!(
            limits::check_line(region, REGION_MAX).is_ok(),
            "accepted region {region:?}"
        );
    }
}

fn assert_item(item: &NewItem) {
    assert!(is_id(&item.sku), "accepted sku {:?}", item.sku);
    assert!(
        (1..=QUANTITY_MAX).contains(&i64::from(item.quantity)),
        "accepted quantity {}",
        item.quantity
    );
    assert_amount(item.unit_price);
}

fn assert_amount(amount: Money) {
    let cents = amount.cents();
    assert!(cents >= 0, "accepted {cents} cents");
    assert!(cents as f64 <= AMOUNT_MAX * 100.0, "accepted {cents} cents");
}

fn assert_changes(changes: &Changes) {
    if let Some(title) = &changes.title {
        assert_free_text(title, TITLE_MAX);
    }
    if let Some(Some(assignee)) = &changes.assignee {
        assert!(
            projector_core::UserId::parse(assignee.as_str()).is_ok(),
            "accepted assignee {assignee:?}"
        );
    }
}
