//! The issue tracker's writes. Every write names its user (`X-User-Id`, else 401); the command
//! is recorded under its id, which the events carry as their causation id.

use axum::http::StatusCode;
use axum::response::Response;
use chrono::Utc;
use projector_issues::{IssueCommand, IssueDecider, IssueError, issue_stream};

use super::models::{
    CommentRequest, CreateIssueRequest, UpdateIssueRequest, check_comment, check_create,
    check_update,
};
use crate::command::{Accepted, HttpWrite, WriteTarget};
use crate::error::ApiError;
use crate::routes::params::WriteHeaderParams;
use crate::routes::path::IssuePath;
use crate::routes::problems::{Anonymous, MissingResource, WriteProblems};

fn issue_location(issue_id: &str) -> String {
    format!("/api/issues/{issue_id}")
}

/// Writes that create something answer 201.
const CREATES: WriteTarget = WriteTarget {
    stream: issue_stream,
    location: issue_location,
    success: StatusCode::CREATED,
    require_user: true,
};

/// Writes that change an issue answer 202 (or 200 when nothing changed).
const CHANGES: WriteTarget = WriteTarget {
    success: StatusCode::ACCEPTED,
    ..CREATES
};

fn refusal(issue_id: &str, error: &IssueError) -> ApiError {
    match error {
        IssueError::NotFound => ApiError::NotFound(format!("issue {issue_id} not found")),
        IssueError::TooManyComments { .. } | IssueError::TooManyChanges { .. } => {
            ApiError::field("path.id", error.to_string())
        }
        _ => ApiError::Conflict(error.to_string()),
    }
}

/// Report an issue: records `IssueCreated` (state `open`).
#[utoipa::path(
    post, path = "/api/issues", tag = "issues",
    security(("bearer" = ["write"])),
    params(WriteHeaderParams),
    request_body(content = CreateIssueRequest, content_type = "application/json"),
    responses(
        (status = 201, description = "Recorded", body = Accepted,
            headers(("Location" = String, description = "The issue"), ("ETag" = String, description = "The issue's version"))),
        WriteProblems,
        Anonymous,
    )
)]
pub(crate) async fn create_issue(write: HttpWrite) -> Result<Response, ApiError> {
    write
        .submit(
            &IssueDecider,
            CREATES,
            None,
            true,
            |checker, body, new_ids| {
                let (title, description, priority) = check_create(checker, body?)?;
                let issue_id = new_ids.make("iss");
                let command = IssueCommand::Create {
                    issue_id: issue_id.clone(),
                    title,
                    description,
                    priority,
                    at: Utc::now(),
                };
                Some((issue_id, command))
            },
            refusal,
        )
        .await
}

/// Change an issue's title, description, priority, state or assignee: one event per field
/// that changes (`IssueRetitled`, `DescriptionChanged`, `PriorityChanged`, `StateChanged`,
/// `IssueAssigned`); a request that changes nothing records nothing and answers 200.
#[utoipa::path(
    patch, path = "/api/issues/{id}", tag = "issues",
    security(("bearer" = ["write"])),
    params(IssuePath, WriteHeaderParams),
    request_body(content = UpdateIssueRequest, content_type = "application/json"),
    responses(
        (status = 200, description = "Nothing changed; nothing recorded", body = Accepted),
        (status = 202, description = "Recorded", body = Accepted,
            headers(("Location" = String, description = "The issue"), ("ETag" = String, description = "The issue's version"))),
        WriteProblems,
        MissingResource,
        Anonymous,
    )
)]
pub(crate) async fn update_issue(
    IssuePath { id }: IssuePath,
    write: HttpWrite,
) -> Result<Response, ApiError> {
    let issue_id = id.into_string();
    write
        .submit(
            &IssueDecider,
            CHANGES,
            Some(issue_id.clone()),
            false,
            move |checker, body, _| {
                let changes = check_update(checker, body)?;
                Some((issue_id.clone(), IssueCommand::Update(changes)))
            },
            refusal,
        )
        .await
}

/// Comment on an issue: records `CommentAdded`.
#[utoipa::path(
    post, path = "/api/issues/{id}/comments", tag = "issues",
    security(("bearer" = ["write"])),
    params(IssuePath, WriteHeaderParams),
    request_body(content = CommentRequest, content_type = "application/json"),
    responses(
        (status = 201, description = "Recorded", body = Accepted,
            headers(("Location" = String, description = "The issue"), ("ETag" = String, description = "The issue's version"))),
        WriteProblems,
        MissingResource,
        Anonymous,
    )
)]
pub(crate) async fn add_comment(
    IssuePath { id }: IssuePath,
    write: HttpWrite,
) -> Result<Response, ApiError> {
    let issue_id = id.into_string();
    write
        .submit(
            &IssueDecider,
            CREATES,
            Some(issue_id.clone()),
            true,
            move |checker, body, new_ids| {
                let text = check_comment(checker, body?)?;
                Some((
                    issue_id.clone(),
                    IssueCommand::Comment {
                        // A new comment for each command, even one sent with a key used before.
                        comment_id: new_ids.make("cmt"),
                        body: text,
                    },
                ))
            },
            refusal,
        )
        .await
}
