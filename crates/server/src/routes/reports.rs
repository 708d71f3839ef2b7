//! Reports over the `daily_sales` projection.

use axum::extract::State;
use axum::response::Response;
use chrono::NaiveDate;
use projector_orders::projections::DAILY_SALES;
use projector_orders::queries::{self, DailySalesView, SalesTotals};
use projector_orders::sum::OutOfRange;
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::consistency::ReadConsistency;
use crate::error::ApiError;
use crate::extract::QueryParams;
use crate::limits::REPORT_DAYS_MAX;
use crate::read_path::{Answer, answer};
use crate::routes::orders::models::DailySalesReport;
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
    let (from, to) = date_range(&mut query);
    let consistency = ReadConsistency::from_query(&mut query, &state);
    query.finish()?;
    let (Some(from), Some(to)) = (from, to) else {
        return Err(ApiError::Internal("dates checked above".into()));
    };
    answer(&state, &DAILY_SALES, consistency, || async {
        let days = queries::daily_sales(state.reads(), from, to).await?;
        Ok(Answer::View(report(from, to, days)?))
    })
    .await
}

/// The report's range, `from` and `to`, each bad one recorded in `query`.
pub(crate) fn date_range(query: &mut QueryParams) -> (Option<NaiveDate>, Option<NaiveDate>) {
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
    (from, to)
}

/// The report of `days`, with their totals (zero for no days).
fn report(
    from: NaiveDate,
    to: NaiveDate,
    days: Vec<DailySalesView>,
) -> Result<DailySalesReport, OutOfRange> {
    let totals = SalesTotals::of(&days)?;
    Ok(DailySalesReport {
        from,
        to,
        orders_completed: totals.orders_completed,
        gross_revenue: totals.gross_revenue,
        refunded_amount: totals.refunded_amount,
        net_revenue: totals.net_revenue,
        days: days.into_iter().map(Into::into).collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use projector_orders::Money;

    #[test]
    fn an_empty_report_is_zero_and_sums_are_exact() {
        let date = |d| NaiveDate::from_ymd_opt(2026, 4, d).expect("a day");
        let empty = serde_json::to_value(report(date(1), date(3), Vec::new()).expect("in range"))
            .expect("json");
        let text = empty.to_string();
        assert!(!text.contains(":-"), "no negative number in {text}");
        assert_eq!(empty["gross_revenue"].as_f64(), Some(0.0), "{text}");
        let day = |d, cents| DailySalesView {
            date: date(d),
            orders_completed: 1,
            items_sold: 1,
            gross_revenue: Money::from_cents(cents),
            refunds: 0,
            refunded_amount: Money::ZERO,
            net_revenue: Money::from_cents(cents),
        };
        let report = report(date(1), date(3), vec![day(1, 10), day(2, 20)]).expect("in range");
        let text = serde_json::to_string(&report).expect("json");
        assert!(text.contains(r#""gross_revenue":0.3,"#), "{text}");
    }
}
