//! Query strings, read as the read routes read them.

use crate::config::ServerConfig;
use crate::consistency::ReadConsistency;
use crate::error::ApiError;
use crate::extract::QueryParams;
use crate::limits::{PAGE_MAX, REPORT_DAYS_MAX, SEARCH_TEXT_MAX, is_id};
use crate::routes::{customers, issues, orders, products, reports};

use super::{assert_free_text, assert_refusal};

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
