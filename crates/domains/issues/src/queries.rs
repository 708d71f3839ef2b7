//! Reading the issue read models: typed queries in portable SQL over any [`SqlReadStore`].

use chrono::{DateTime, Utc};
use projector_core::ReadStoreError;
use projector_sql::{ColumnIndex, Row, SqlError, SqlReadStore, params, parse_sql_time};
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
        id: row.get("issue_id")?,
        title: row.get("title")?,
        description: row.get("description")?,
        priority: row.get("priority")?,
        state: row.get("state")?,
        assignee: row.get("assignee")?,
        version: row.get("version")?,
        comment_count: row.get("comment_count")?,
        created_by: row.get("created_by")?,
        created_at: time(row, "created_at")?,
        updated_by: row.get("updated_by")?,
        updated_at: time(row, "updated_at")?,
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
            params![issue_id],
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
            params![issue_id, i64::try_from(view.version).unwrap_or(i64::MAX)],
        )
        .await?
        .iter()
        .map(|row| {
            Ok(CommentView {
                comment_id: row.get("comment_id")?,
                body: row.get("body")?,
                author: row.get("author")?,
                added_at: time(row, "added_at")?,
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
    // An absent filter is a NULL that every row passes; one row more than asked tells whether
    // another page follows.
    const MATCHING: &str = "WHERE (CAST($1 AS TEXT) IS NULL OR state = $1) \
        AND (CAST($2 AS TEXT) IS NULL OR priority = $2) \
        AND (CAST($3 AS TEXT) IS NULL OR assignee = $3)";
    const NEWEST_FIRST: &str = "ORDER BY created_at DESC, issue_id DESC";
    let state = filter.state.as_deref();
    let (priority, assignee) = (filter.priority.as_deref(), filter.assignee.as_deref());
    let fetch = i64::from(limit) + 1;
    let rows = match after {
        None => {
            let sql = format!("{ISSUE_COLUMNS} {MATCHING} {NEWEST_FIRST} LIMIT $4");
            let params = params![state, priority, assignee, fetch];
            store.query(&ISSUES, &sql, params).await?
        }
        Some(cursor) => {
            let sql = format!(
                "{ISSUE_COLUMNS} {MATCHING} \
                 AND (created_at < $4 OR (created_at = $4 AND issue_id < $5)) {NEWEST_FIRST} LIMIT $6"
            );
            let (created_at, issue_id) = (&cursor.created_at, &cursor.issue_id);
            let params = params![state, priority, assignee, created_at, issue_id, fetch];
            store.query(&ISSUES, &sql, params).await?
        }
    };
    let more = rows.len() > limit as usize;
    let mut views = Vec::new();
    let mut next = None;
    for row in rows.iter().take(limit as usize) {
        let view = issue_view(row)?;
        next = Some(IssuesCursor {
            created_at: row.get("created_at")?,
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
            params![issue_id, after, limit],
        )
        .await?;
    rows.iter()
        .map(|row| {
            Ok(HistoryEntry {
                version: row.get("version")?,
                position: row.get("position")?,
                change: row.get("change")?,
                field: row.get("field")?,
                from: row.get("from_value")?,
                to: row.get("to_value")?,
                user_id: row.get("user_id")?,
                command_id: row.get("command_id")?,
                correlation_id: row.get("correlation_id")?,
                at: time(row, "at")?,
            })
        })
        .collect::<Result<_, SqlError>>()
        .map_err(ReadStoreError::from)
}

fn time(row: &Row, column: impl ColumnIndex) -> Result<DateTime<Utc>, SqlError> {
    parse_sql_time(&row.get::<String>(column)?)
}
