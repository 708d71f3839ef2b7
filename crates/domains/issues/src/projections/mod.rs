//! The issue tracker's read models, in portable SQL.

mod history;
mod issues;

use std::sync::Arc;

use projector_sql::{SqlProjection, TypedSql};

pub use history::{ISSUE_HISTORY, IssueHistoryProjection};
pub use issues::{ISSUES, IssuesProjection};

/// Every issue projection.
pub fn all() -> Vec<Arc<dyn SqlProjection>> {
    vec![
        Arc::new(TypedSql(IssuesProjection)),
        Arc::new(TypedSql(IssueHistoryProjection)),
    ]
}
