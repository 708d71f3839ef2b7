//! Reports over the `daily_sales` projection.

use axum::extract::State;
use axum::response::Response;
use chrono::NaiveDate;
use projector_orders::projections::DAILY_SALES;
use projector_orders::queries;
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::consistency::ReadConsistency;
use crate::error::ApiError;
use crate::extract::QueryParams;
use crate::limits::REPORT_DAYS_MAX;
use crate::read_path::{Answer, answer};
use crate::routes::orders::models::{DailySales, DailySalesReport};
use crate::routes::params::ReadParams;
use crate::routes::problems::ReadProblems;
use crate::state::AppState;

/// The report routes, documented.
pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(daily_sales))
}

/// A range of days.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub(crate) struct DateRange {
    /// First day, `YYYY-MM-DD` (UTC).
    #[param(value_type = String, format = Date)]
    from: String,
    /// Last day, `YYYY-MM-DD` (UTC), at most 366 days after `from`.
    #[param(value_type = String, format = Date)]
    to: String,
}

/// Sales per day over a range (both ends included), net of refunds, with totals.
#[utoipa::path(
    get, path = "/api/reports/daily-sales", tag = "reports",
    security(("bearer" = ["read"])),
    params(DateRange, ReadParams),
    responses(
        (status = 200, description = "The days with sales in the range", body = DailySalesReport,
            headers(("Projection-Position" = u64, description = "The position the read model has reached"),
                    ("Read-Model" = String, description = "The read model that answered: a projection, or `events` for the event store"))),
        ReadProblems,
    )
)]
pub(crate) async fn daily_sales(
    State(state): State<AppState>,
    mut query: QueryParams,
) -> Result<Response, ApiError> {
    let from = query.required_date("from");
    let to = query.required_date("to");
    if let (Some(from), Some(to)) = (from, to) {
        let days = (to - from).num_days();
        if days < 0 {
            query.error("to", "must not be before from");
        } else if days >= REPORT_DAYS_MAX {
            query.error(
                "to",
                format!("must be less than {REPORT_DAYS_MAX} days after from"),
            );
        }
    }
    let consistency = ReadConsistency::from_query(&mut query, &state);
    query.finish()?;
    let (Some(from), Some(to)) = (from, to) else {
        return Err(ApiError::Internal("dates checked above".into()));
    };
    answer(&state, &DAILY_SALES, consistency, || async {
        let days: Vec<DailySales> = queries::daily_sales(state.reads(), from, to)
            .await?
            .into_iter()
            .map(Into::into)
            .collect();
        Ok(Answer::View(report(from, to, days)))
    })
    .await
}

/// The report of `days`, with their totals. Each day's counts may already sit at `i64::MAX`
/// (the read model clamps there), so the total clamps too instead of overflowing.
fn report(from: NaiveDate, to: NaiveDate, days: Vec<DailySales>) -> DailySalesReport {
    let sum = |f: fn(&DailySales) -> f64| (days.iter().map(f).sum::<f64>() * 100.0).round() / 100.0;
    DailySalesReport {
        from,
        to,
        orders_completed: days
            .iter()
            .fold(0, |sum: i64, d| sum.saturating_add(d.orders_completed)),
        gross_revenue: sum(|d| d.gross_revenue),
        refunded_amount: sum(|d| d.refunded_amount),
        net_revenue: sum(|d| d.net_revenue),
        days,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn totals_clamp_where_a_days_counts_already_do() {
        let date = |d| NaiveDate::from_ymd_opt(2026, 4, d).expect("a day");
        let day = |d, orders_completed| DailySales {
            date: date(d),
            orders_completed,
            items_sold: i64::MAX,
            gross_revenue: 1.5,
            refunds: 0,
            refunded_amount: 0.0,
            net_revenue: 1.5,
        };
        let clamped = report(date(1), date(3), vec![day(1, i64::MAX), day(2, 7)]);
        assert_eq!(clamped.orders_completed, i64::MAX);
        assert_eq!(clamped.gross_revenue, 3.0);
        let exact = report(date(1), date(3), vec![day(1, 2), day(2, 7)]);
        assert_eq!(exact.orders_completed, 9);
    }
}
