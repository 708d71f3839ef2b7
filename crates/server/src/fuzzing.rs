//! Entry points for the fuzz targets in `fuzz/` (not a stable API: hidden from the docs).
//!
//! Each runs the very functions a route runs on a request's body, query string or headers,
//! without a store, so a fuzzer reaches millions of inputs; and each checks what the route
//! relies on: whatever is accepted keeps the documented limits and names a valid stream, and
//! whatever is refused is a 4xx problem+json naming a field. A broken promise panics, which is
//! what the fuzzer reports.

use axum::http::{HeaderMap, HeaderName, HeaderValue};
use bytes::Bytes;
use projector_customers::customer_stream;
use projector_customers::limits;
use projector_issues::Changes;
use projector_orders::{Money, NewItem};

use crate::config::ServerConfig;
use crate::consistency::ReadConsistency;
use crate::error::ApiError;
use crate::extract::{JsonBody, QueryParams, WriteHeaders};
use crate::limits::{
    AMOUNT_MAX, EMAIL_MAX, ITEMS_MAX, NAME_MAX, PAGE_MAX, PROSE_MAX, QUANTITY_MAX, REASON_MAX,
    REGION_MAX, REPORT_DAYS_MAX, SEARCH_TEXT_MAX, TITLE_MAX, TRACKING_MAX, is_id,
};
use crate::routes::{customers, issues, orders, products, reports};
use crate::validate::Checker;

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

fn assert_free_text(text: &str, max: usize) {
    let length = text.chars().count();
    assert!(
        length > 0 && length <= max,
        "accepted text of {length} chars"
    );
    assert!(!text.trim().is_empty(), "accepted blank text");
    assert!(
        !text.chars().any(char::is_control),
        "accepted control chars"
    );
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

/// Every read whose query string is more than `min_position` and `wait_ms`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum QueryRoute {
    /// Reads of one resource: only the read-your-writes parameters.
    Plain,
    /// `GET /api/orders/{id}/history`.
    OrderHistory,
    /// `GET /api/issues`.
    IssueList,
    /// `GET /api/customers/{id}/orders`.
    CustomerOrders,
    /// `GET /api/reports/daily-sales`.
    DailySales,
    /// `GET /api/orders/search`.
    OrderSearch,
    /// `GET /api/products/search`.
    ProductSearch,
}

impl QueryRoute {
    /// All of them, for a fuzzer to pick from.
    /// New routes go last, so a stored input keeps the route its first byte picked (modulo
    /// the count, so seeds name routes by their index: byte 6 is the product search).
    pub const ALL: [Self; 7] = [
        Self::Plain,
        Self::OrderHistory,
        Self::IssueList,
        Self::CustomerOrders,
        Self::DailySales,
        Self::OrderSearch,
        Self::ProductSearch,
    ];
}

/// Reads the raw query string `raw` as `route` does, before it asks a read model.
///
/// # Errors
/// The route's refusal.
///
/// # Panics
/// When an accepted query breaks a documented limit, or a refusal is not a 4xx problem+json.
pub fn query(route: QueryRoute, raw: Option<&str>) -> Result<(), ApiError> {
    let result = check_query(route, raw);
    if let Err(error) = &result {
        assert_refusal(error);
    }
    result
}

fn check_query(route: QueryRoute, raw: Option<&str>) -> Result<(), ApiError> {
    let mut query = QueryParams::parse(raw)?;
    let config = ServerConfig::default();
    match route {
        QueryRoute::Plain => {}
        QueryRoute::OrderHistory => {
            let (after, limit) = crate::routes::params::history_query(&mut query);
            assert!(after <= i64::MAX as u64 && (1..=1000).contains(&limit));
        }
        QueryRoute::IssueList => {
            let (_, limit, cursor) = issues::read::list_query(&mut query);
            assert!((1..=PAGE_MAX).contains(&limit));
            if let Some(cursor) = cursor {
                let token = cursor.to_token();
                let again = projector_issues::queries::IssuesCursor::from_token(&token);
                assert_eq!(again.as_ref(), Some(&cursor), "issue cursor round trip");
            }
        }
        QueryRoute::CustomerOrders => {
            let (limit, cursor) = customers::page_query(&mut query);
            assert!((1..=PAGE_MAX).contains(&limit));
            if let Some(cursor) = cursor {
                let token = cursor.to_token();
                let again = projector_orders::queries::OrdersCursor::from_token(&token);
                assert_eq!(again.as_ref(), Some(&cursor), "orders cursor round trip");
            }
        }
        QueryRoute::OrderSearch => {
            let search = orders::search::search_query(&mut query);
            let consistency = ReadConsistency::from_query_with(&mut query, &config);
            query.finish()?;
            assert!((1..=PAGE_MAX as usize).contains(&search.limit));
            if let Some(text) = &search.text {
                assert_free_text(text, SEARCH_TEXT_MAX);
            }
            if let Some(customer_id) = &search.customer_id {
                assert!(is_id(customer_id), "customer id {customer_id:?}");
            }
            assert!(consistency.wait() <= config.max_read_wait);
            return Ok(());
        }
        QueryRoute::ProductSearch => {
            let search = products::search::search_query(&mut query);
            let consistency = ReadConsistency::from_query_with(&mut query, &config);
            query.finish()?;
            assert_product_search(&search);
            assert!(consistency.wait() <= config.max_read_wait);
            return Ok(());
        }
        QueryRoute::DailySales => {
            let (from, to) = reports::date_range(&mut query);
            let consistency = ReadConsistency::from_query_with(&mut query, &config);
            query.finish()?;
            let (Some(from), Some(to)) = (from, to) else {
                panic!("a report was accepted without both dates");
            };
            let days = (to - from).num_days();
            assert!((0..REPORT_DAYS_MAX).contains(&days), "range of {days} days");
            assert!(consistency.wait() <= config.max_read_wait);
            return Ok(());
        }
    }
    let consistency = ReadConsistency::from_query_with(&mut query, &config);
    query.finish()?;
    assert!(consistency.wait() <= config.max_read_wait);
    if let Some(position) = consistency.min_position() {
        assert!(position.get() <= i64::MAX as u64);
    }
    Ok(())
}

/// What an accepted product search holds: the documented bounds, and a cursor that reads back
/// as itself for this search.
fn assert_product_search(search: &projector_products::search::ProductSearch) {
    use projector_products::search::{Cursor, DEPTH_MAX};

    assert!((1..=PAGE_MAX as usize).contains(&search.limit), "limit");
    if let Some(text) = &search.text {
        assert_free_text(text, SEARCH_TEXT_MAX);
    }
    if let Some(category) = &search.category {
        assert!(
            projector_products::limits::category_problem(category).is_none(),
            "accepted category {category:?}"
        );
    }
    let max_cents = projector_products::Price::MAX.cents();
    for cents in [search.min_price_cents, search.max_price_cents]
        .into_iter()
        .flatten()
    {
        assert!((0..=max_cents).contains(&cents), "accepted {cents} cents");
    }
    if let (Some(min), Some(max)) = (search.min_price_cents, search.max_price_cents) {
        assert!(min <= max, "accepted min_price above max_price");
    }
    if let Some(cursor) = search.cursor {
        assert!((1..=DEPTH_MAX).contains(&cursor.offset()), "cursor offset");
        assert_eq!(
            Cursor::decode(&cursor.encode(), search),
            Ok(cursor),
            "product cursor round trip"
        );
    }
}

/// Reads the headers of a write, as every write route does: `(name, value)` pairs.
///
/// # Errors
/// A refusal naming every bad header.
///
/// # Panics
/// When an accepted header breaks its documented pattern.
pub fn write_headers(pairs: &[(&str, &[u8])]) -> Result<(), ApiError> {
    let mut headers = HeaderMap::new();
    for (name, value) in pairs {
        let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_bytes(value),
        ) else {
            continue;
        };
        headers.append(name, value);
    }
    let (parsed, errors) = WriteHeaders::read(&headers, None);
    if !errors.is_empty() {
        let error = ApiError::Validation(errors);
        assert_refusal(&error);
        return Err(error);
    }
    if let Some(version) = parsed.if_match {
        let text = headers
            .get("if-match")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .trim();
        let digits = text.trim_start_matches("W/").trim_matches('"');
        assert_eq!(digits.parse::<u64>().ok(), Some(version.get()), "If-Match");
    }
    if let Some(key) = &parsed.idempotency_key {
        assert!(!key.is_empty() && key.bytes().all(|b| b.is_ascii_graphic()));
    }
    Ok(())
}

/// A refusal must be a client error, in problem+json, and name each bad field.
fn assert_refusal(error: &ApiError) {
    let status = error.status_code();
    assert!(status.is_client_error(), "{error} answered {status}");
    if let ApiError::Validation(fields) = error {
        assert!(!fields.is_empty(), "a validation error without fields");
        assert!(
            fields
                .iter()
                .all(|f| !f.field.is_empty() && !f.message.is_empty())
        );
    }
    let problem = error.problem();
    assert_eq!(problem.status, status.as_u16());
    assert!(
        serde_json::to_vec(&problem).is_ok(),
        "the problem is not JSON"
    );
}
