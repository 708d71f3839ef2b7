//! The issue tracker's reads, from its read models only.

use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::Response;
use projector_issues::projections::{ISSUE_HISTORY, ISSUES};
use projector_issues::queries::{self, IssueFilter, IssuesCursor};
use projector_issues::{IssueState, Priority};
use serde::Deserialize;
use utoipa::IntoParams;

use super::models::{Issue, IssueHistory, IssueList};
use crate::consistency::ReadConsistency;
use crate::error::ApiError;
use crate::extract::QueryParams;
use crate::limits::{PAGE_DEFAULT, PAGE_MAX, cursor_has_documented_form};
use crate::read_path::{Answer, answer};
use crate::routes::params::ReadParams;
use crate::routes::path::IssuePath;
use crate::routes::problems::{MissingResource, ReadProblems};
use crate::state::AppState;

/// An issue as it stands, with its comments; its version is also the `ETag`.
#[utoipa::path(
    get, path = "/api/issues/{id}", tag = "issues",
    security(("bearer" = ["read"])),
    params(IssuePath, ReadParams),
    responses(
        (status = 200, description = "The issue", body = Issue,
            headers(("ETag" = String, description = "The issue's version, for If-Match"),
                    ("Projection-Position" = u64, description = "The position the read model has reached"),
                    ("Read-Model" = String, description = "The read model that answered: a projection, or `events` for the event store"))),
        ReadProblems,
        MissingResource,
    )
)]
pub(crate) async fn get_issue(
    State(state): State<AppState>,
    IssuePath { id }: IssuePath,
    mut query: QueryParams,
) -> Result<Response, ApiError> {
    let consistency = ReadConsistency::from_query(&mut query, &state);
    query.finish()?;
    let issue_id = id.into_string();
    let mut etag = None;
    let mut response = answer(&state, &ISSUES, consistency, || async {
        let issue = queries::issue(state.reads(), &issue_id)
            .await?
            .map(|(view, comments)| Issue::new(view, Some(comments)));
        etag = issue.as_ref().map(|i| format!("\"{}\"", i.version()));
        Ok(Answer::found(issue, || {
            format!("issue {issue_id} not found")
        }))
    })
    .await?;
    if let Some(etag) = etag.and_then(|e| HeaderValue::from_str(&e).ok()) {
        response.headers_mut().insert(header::ETAG, etag);
    }
    Ok(response)
}

/// Filters and pages of the issue list.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub(crate) struct IssueListParams {
    /// Only issues in this state.
    #[param(schema_with = crate::schemas::issue_state, required = false)]
    state: Option<String>,
    /// Only issues of this priority.
    #[param(schema_with = crate::schemas::issue_priority, required = false)]
    priority: Option<String>,
    /// Only issues assigned to this user.
    #[param(schema_with = crate::schemas::user_id, required = false)]
    assignee: Option<String>,
    /// Most issues per page (default 20).
    #[param(schema_with = crate::schemas::page_limit, required = false)]
    limit: Option<u32>,
    /// Where to continue: the `next_cursor` of the previous page.
    #[param(schema_with = crate::schemas::cursor, required = false)]
    cursor: Option<String>,
}

/// Issues, newest first, filtered by state, priority and assignee, a page at a time.
#[utoipa::path(
    get, path = "/api/issues", tag = "issues",
    security(("bearer" = ["read"])),
    params(IssueListParams, ReadParams),
    responses(
        (status = 200, description = "A page of issues", body = IssueList,
            headers(("Projection-Position" = u64, description = "The position the read model has reached"),
                    ("Read-Model" = String, description = "The read model that answered: a projection, or `events` for the event store"))),
        ReadProblems,
    )
)]
pub(crate) async fn list_issues(
    State(state): State<AppState>,
    mut query: QueryParams,
) -> Result<Response, ApiError> {
    let (filter, limit, cursor) = list_query(&mut query);
    let consistency = ReadConsistency::from_query(&mut query, &state);
    query.finish()?;
    answer(&state, &ISSUES, consistency, || async {
        let (views, next) = queries::issues(state.reads(), &filter, limit, cursor.as_ref()).await?;
        Ok(Answer::View(IssueList {
            issues: views.into_iter().map(|v| Issue::new(v, None)).collect(),
            next_cursor: next.map(|c| c.to_token()),
        }))
    })
    .await
}

/// The filters, page size and cursor of `GET /api/issues`, each bad one recorded in `query`.
pub(crate) fn list_query(query: &mut QueryParams) -> (IssueFilter, u32, Option<IssuesCursor>) {
    let mut filter = IssueFilter::default();
    if let Some(value) = query.take("state") {
        match IssueState::parse(&value) {
            Some(_) => filter.state = Some(value),
            None => query.error(
                "state",
                "must be one of open, in_progress, resolved, closed",
            ),
        }
    }
    if let Some(value) = query.take("priority") {
        match Priority::parse(&value) {
            Some(_) => filter.priority = Some(value),
            None => query.error("priority", "must be one of low, medium, high, critical"),
        }
    }
    if let Some(value) = query.take("assignee") {
        match projector_core::UserId::parse(value.as_str()) {
            Ok(_) => filter.assignee = Some(value),
            Err(e) => query.error("assignee", e.to_string()),
        }
    }
    let limit = query
        .number("limit", 1, u64::from(PAGE_MAX))
        .map_or(PAGE_DEFAULT, |l| l as u32);
    let cursor = match query.take("cursor").map(|token| {
        IssuesCursor::from_token(&token).filter(|_| cursor_has_documented_form(&token))
    }) {
        Some(None) => {
            query.error("cursor", "is not a cursor this API returned");
            None
        }
        other => other.flatten(),
    };
    (filter, limit, cursor)
}

/// The audit log: every change to an issue, with who made it, when, by which command, and
/// from which value to which.
#[utoipa::path(
    get, path = "/api/issues/{id}/history", tag = "issues",
    security(("bearer" = ["read"])),
    params(IssuePath, crate::routes::params::HistoryParams, ReadParams),
    responses(
        (status = 200, description = "The changes, oldest first, a page at a time", body = IssueHistory,
            headers(("Projection-Position" = u64, description = "The position the read model has reached"),
                    ("Read-Model" = String, description = "The read model that answered: a projection, or `events` for the event store"))),
        ReadProblems,
        MissingResource,
    )
)]
pub(crate) async fn issue_history(
    State(state): State<AppState>,
    IssuePath { id }: IssuePath,
    mut query: QueryParams,
) -> Result<Response, ApiError> {
    let (after, limit) = crate::routes::params::history_query(&mut query);
    let limit = limit as u32;
    let consistency = ReadConsistency::from_query(&mut query, &state);
    query.finish()?;
    let issue_id = id.into_string();
    answer(&state, &ISSUE_HISTORY, consistency, || async {
        let mut changes = queries::history(state.reads(), &issue_id, after, limit + 1).await?;
        let more = changes.len() > limit as usize;
        changes.truncate(limit as usize);
        let next_after_version = more.then(|| changes.last().map(|c| c.version)).flatten();
        let history = (!changes.is_empty() || after > 0).then(|| IssueHistory {
            id: issue_id.clone(),
            changes: changes.into_iter().map(Into::into).collect(),
            next_after_version,
        });
        Ok(Answer::found(history, || {
            format!("issue {issue_id} not found")
        }))
    })
    .await
}
