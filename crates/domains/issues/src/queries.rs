//! Reading the issue read models: typed queries in portable SQL over any [`SqlReadStore`].

use chrono::{DateTime, Utc};
use projector_core::ReadStoreError;
use projector_sql::{Row, SqlError, SqlParam, SqlReadStore, parse_sql_time};
use serde::Serialize;

use crate::projections::{ISSUE_HISTORY, ISSUES};

/// An issue as it stands.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct IssueView {
    /// Its id.
    pub id: String,
    /// Its title.
    pub title: String,
    /// Its description.
    pub description: String,
    /// `low`, `medium`, `high` or `critical`.
    pub priority: String,
    /// `open`, `in_progress`, `resolved` or `closed`.
    pub state: String,
    /// Who works on it.
    pub assignee: Option<String>,
    /// The stream version its read model reflects: the version for `If-Match`.
    pub version: u64,
    /// How many comments it has.
    pub comment_count: i64,
    /// Who reported it.
    pub created_by: Option<String>,
    /// When.
    pub created_at: DateTime<Utc>,
    /// Who changed it last.
    pub updated_by: Option<String>,
    /// When.
    pub updated_at: DateTime<Utc>,
}

/// A comment on an issue.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CommentView {
    /// Its id.
    pub comment_id: String,
    /// What was said.
    pub body: String,
    /// Who said it.
    pub author: Option<String>,
    /// When.
    pub added_at: DateTime<Utc>,
}

const ISSUE_COLUMNS: &str = "SELECT issue_id, title, description, priority, state, assignee, version, comment_count, \
     created_by, created_at, updated_by, updated_at FROM issues";

fn issue_view(row: &Row) -> Result<IssueView, SqlError> {
    Ok(IssueView {
        id: row.get(0)?,
        title: row.get(1)?,
        description: row.get(2)?,
        priority: row.get(3)?,
        state: row.get(4)?,
        assignee: row.get(5)?,
        version: row.get(6)?,
        comment_count: row.get(7)?,
        created_by: row.get(8)?,
        created_at: time(row, 9)?,
        updated_by: row.get(10)?,
        updated_at: time(row, 11)?,
    })
}

/// Issue `issue_id` and its comments, if the read model has it.
///
/// # Errors
/// The read store's error.
pub async fn issue(
    store: &dyn SqlReadStore,
    issue_id: &str,
) -> Result<Option<(IssueView, Vec<CommentView>)>, ReadStoreError> {
    let rows = store
        .query(
            &ISSUES,
            &format!("{ISSUE_COLUMNS} WHERE issue_id = $1"),
            &[issue_id.into()],
        )
        .await?;
    let Some(row) = rows.first() else {
        return Ok(None);
    };
    let view = issue_view(row)?;
    let comments = store
        .query(
            &ISSUES,
            "SELECT comment_id, body, author, added_at FROM issue_comments WHERE issue_id = $1 AND version <= $2 ORDER BY version",
            &[issue_id.into(), i64::try_from(view.version).unwrap_or(i64::MAX).into()],
        )
        .await?
        .iter()
        .map(|row| {
            Ok(CommentView {
                comment_id: row.get(0)?,
                body: row.get(1)?,
                author: row.get(2)?,
                added_at: time(row, 3)?,
            })
        })
        .collect::<Result<_, SqlError>>()?;
    Ok(Some((view, comments)))
}

/// What to list.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct IssueFilter {
    /// Only issues in this state.
    pub state: Option<String>,
    /// Only issues of this priority.
    pub priority: Option<String>,
    /// Only issues assigned to this user.
    pub assignee: Option<String>,
}

/// Where a page of issues ends.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IssuesCursor {
    created_at: String,
    issue_id: String,
}

impl IssuesCursor {
    /// The cursor as an opaque token for clients.
    pub fn to_token(&self) -> String {
        format!("{}~{}", self.created_at, self.issue_id)
    }

    /// Reads a token made by [`IssuesCursor::to_token`].
    pub fn from_token(token: &str) -> Option<Self> {
        let (created_at, issue_id) = token.split_once('~')?;
        parse_sql_time(created_at).ok()?;
        (!issue_id.is_empty() && issue_id.len() <= 128).then(|| Self {
            created_at: created_at.to_owned(),
            issue_id: issue_id.to_owned(),
        })
    }
}

/// Up to `limit` issues matching `filter`, newest first, after `after`; with the cursor of the
/// next page if there is one.
///
/// # Errors
/// The read store's error.
pub async fn issues(
    store: &dyn SqlReadStore,
    filter: &IssueFilter,
    limit: u32,
    after: Option<&IssuesCursor>,
) -> Result<(Vec<IssueView>, Option<IssuesCursor>), ReadStoreError> {
    let mut conditions: Vec<String> = Vec::new();
    let mut params: Vec<SqlParam<'_>> = Vec::new();
    for (column, value) in [
        ("state", &filter.state),
        ("priority", &filter.priority),
        ("assignee", &filter.assignee),
    ] {
        if let Some(value) = value {
            params.push(value.as_str().into());
            conditions.push(format!("{column} = ${}", params.len()));
        }
    }
    if let Some(cursor) = after {
        params.push(cursor.created_at.as_str().into());
        let created = params.len();
        params.push(cursor.issue_id.as_str().into());
        let id = params.len();
        conditions.push(format!(
            "(created_at < ${created} OR (created_at = ${created} AND issue_id < ${id}))"
        ));
    }
    params.push((i64::from(limit) + 1).into());
    let limit_param = params.len();
    let filter_sql = if conditions.is_empty() {
        String::new()
    } else {
        format!(" WHERE {}", conditions.join(" AND "))
    };
    let sql = format!(
        "{ISSUE_COLUMNS}{filter_sql} ORDER BY created_at DESC, issue_id DESC LIMIT ${limit_param}"
    );
    let rows = store.query(&ISSUES, &sql, &params).await?;
    let more = rows.len() > limit as usize;
    let mut views = Vec::new();
    let mut next = None;
    for row in rows.iter().take(limit as usize) {
        let view = issue_view(row)?;
        next = Some(IssuesCursor {
            created_at: row.get(9)?,
            issue_id: view.id.clone(),
        });
        views.push(view);
    }
    Ok((views, if more { next } else { None }))
}

/// One line of the audit log.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct HistoryEntry {
    /// The issue's version after the change.
    pub version: u64,
    /// The event's global position.
    pub position: u64,
    /// `created`, `retitled`, `description_changed`, `priority_changed`, `state_changed`,
    /// `assigned` or `commented`.
    pub change: String,
    /// The field changed, if one was.
    pub field: Option<String>,
    /// The value before.
    pub from: Option<String>,
    /// The value after.
    pub to: Option<String>,
    /// Who made the change.
    pub user_id: Option<String>,
    /// The command that made it.
    pub command_id: Option<String>,
    /// The request that sent the command.
    pub correlation_id: Option<String>,
    /// When it was recorded.
    pub at: DateTime<Utc>,
}

/// Up to `limit` changes to `issue_id` after stream version `after_version`, oldest first;
/// empty if the read model has none there.
///
/// # Errors
/// The read store's error.
pub async fn history(
    store: &dyn SqlReadStore,
    issue_id: &str,
    after_version: u64,
    limit: u32,
) -> Result<Vec<HistoryEntry>, ReadStoreError> {
    let after = i64::try_from(after_version).unwrap_or(i64::MAX);
    let rows = store
        .query(
            &ISSUE_HISTORY,
            "SELECT version, position, change, field, from_value, to_value, user_id, command_id, correlation_id, at \
             FROM issue_history WHERE issue_id = $1 AND version > $2 ORDER BY version LIMIT $3",
            &[issue_id.into(), after.into(), i64::from(limit).into()],
        )
        .await?;
    rows.iter()
        .map(|row| {
            Ok(HistoryEntry {
                version: row.get(0)?,
                position: row.get(1)?,
                change: row.get(2)?,
                field: row.get(3)?,
                from: row.get(4)?,
                to: row.get(5)?,
                user_id: row.get(6)?,
                command_id: row.get(7)?,
                correlation_id: row.get(8)?,
                at: time(row, 9)?,
            })
        })
        .collect::<Result<_, SqlError>>()
        .map_err(ReadStoreError::from)
}

fn time(row: &Row, index: usize) -> Result<DateTime<Utc>, SqlError> {
    parse_sql_time(&row.get::<String>(index)?)
}
