//! The query and header parameters routes share, as documented in the OpenAPI document
//! (path parameters are typed: see `path`).

use serde::Deserialize;
use utoipa::IntoParams;

/// Read-your-writes parameters, accepted by every read.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub(crate) struct ReadParams {
    /// Answer only once the read model has applied the feed up to this position (the
    /// `position` a write answered with). A position no write has reached yet is refused
    /// with 422.
    #[param(schema_with = crate::schemas::position, required = false)]
    min_position: Option<u64>,
    /// How long to wait for `min_position`, in milliseconds (default 2000).
    #[param(schema_with = crate::schemas::wait_ms, required = false)]
    wait_ms: Option<u64>,
}

/// The headers a write reads.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Header)]
#[allow(dead_code)]
pub(crate) struct WriteHeaderParams {
    /// Makes a retry safe. For 24 hours, a retry with the same key and body gets the first
    /// answer again (`Idempotent-Replayed: true`) and appends nothing; the same key with
    /// another request is refused with 422. A 5xx, or no answer, is not final: retry with the
    /// same key.
    #[serde(rename = "Idempotency-Key")]
    #[param(schema_with = crate::schemas::idempotency_key, required = false)]
    idempotency_key: Option<String>,
    /// The stream version the client last saw, in quotes (the `ETag` of a write or read);
    /// the write fails with 412 if the resource has moved on.
    #[serde(rename = "If-Match")]
    #[param(schema_with = crate::schemas::if_match, required = false)]
    if_match: Option<String>,
    /// The acting user, recorded in the events' metadata.
    #[serde(rename = "X-User-Id")]
    #[param(schema_with = crate::schemas::user_id, required = false)]
    user_id: Option<String>,
    /// Ties the request to its log lines and events: 1 to 128 visible ASCII characters. Made by
    /// the server when absent, and in place of one that is not of that form.
    #[serde(rename = "X-Correlation-Id")]
    #[param(schema_with = crate::schemas::correlation_id, required = false)]
    correlation_id: Option<String>,
}

/// Paging through an audit log (an order's events, an issue's changes).
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub(crate) struct HistoryParams {
    /// Start after this stream version (0 = from the first entry).
    #[param(schema_with = crate::schemas::after_version, required = false)]
    after_version: Option<u64>,
    /// Most entries per page (default 100, at most 1000).
    #[param(schema_with = crate::schemas::history_limit, required = false)]
    limit: Option<u64>,
}

/// Where a page of an audit log starts and how long it is, each bad one recorded in `query`.
pub(crate) fn history_query(query: &mut crate::extract::QueryParams) -> (u64, usize) {
    use crate::limits::{HISTORY_PAGE_DEFAULT, HISTORY_PAGE_MAX};
    let after = query
        .number("after_version", 0, i64::MAX as u64)
        .unwrap_or(0);
    let limit = query
        .number("limit", 1, u64::from(HISTORY_PAGE_MAX))
        .map_or(HISTORY_PAGE_DEFAULT, |l| l as u32);
    (after, limit as usize)
}
