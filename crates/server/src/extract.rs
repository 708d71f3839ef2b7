//! Reading requests: JSON bodies, query strings and headers, each refusing bad input as
//! problem+json that names what is wrong.

use axum::extract::{FromRequest, FromRequestParts, RawQuery, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, header};
use bytes::Bytes;
use chrono::NaiveDate;
use http_body_util::BodyExt;
use projector_core::{StreamVersion, UserId};
use serde_json::Value;

use crate::auth::Principal;
use crate::error::{ApiError, FieldError};
use crate::limits::IDEMPOTENCY_KEY_MAX;
use crate::state::AppState;

/// A request body parsed as JSON, with its raw bytes (for idempotency fingerprints). An empty
/// body is `None`.
#[derive(Debug)]
pub(crate) struct JsonBody {
    pub(crate) value: Option<Value>,
    pub(crate) bytes: Bytes,
}

impl JsonBody {
    /// The body, which must be present.
    pub(crate) fn required(&self) -> Result<&Value, ApiError> {
        self.value.as_ref().ok_or_else(|| {
            ApiError::Malformed("the request body is empty; send a JSON object".into())
        })
    }
}

impl FromRequest<AppState> for JsonBody {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &AppState) -> Result<Self, ApiError> {
        let declared = request
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let bytes = read_limited(request, state.config().max_body_bytes).await?;
        Self::parse(declared.as_deref(), bytes)
    }
}

impl JsonBody {
    /// A body read whole, declared as `content_type`: none if blank, else JSON.
    pub(crate) fn parse(content_type: Option<&str>, bytes: Bytes) -> Result<Self, ApiError> {
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(Self { value: None, bytes });
        }
        if !content_type.is_some_and(is_json) {
            return Err(ApiError::UnsupportedMediaType);
        }
        let value = serde_json::from_slice(&bytes)
            .map_err(|e| ApiError::Malformed(format!("the request body is not valid JSON: {e}")))?;
        Ok(Self {
            value: Some(value),
            bytes,
        })
    }
}

/// Reads at most `limit` bytes of body. A larger body is drained (up to a bound) before the
/// 413 is sent, so the client finishes writing and reads the answer instead of a reset.
async fn read_limited(request: Request, limit: usize) -> Result<Bytes, ApiError> {
    /// Beyond this much, stop draining and let the connection close.
    const DRAIN_MAX: usize = 4 * 1024 * 1024;
    let too_large = || ApiError::PayloadTooLarge(limit);
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|length| length > DRAIN_MAX) {
        return Err(too_large());
    }
    let mut body = request.into_body();
    let mut bytes = Vec::new();
    let mut seen = 0usize;
    while let Some(frame) = body.frame().await {
        let frame =
            frame.map_err(|e| ApiError::Malformed(format!("cannot read the request body: {e}")))?;
        let Ok(data) = frame.into_data() else {
            continue;
        };
        seen += data.len();
        if seen > DRAIN_MAX {
            return Err(too_large());
        }
        if seen <= limit {
            bytes.extend_from_slice(&data);
        }
    }
    if seen > limit {
        return Err(too_large());
    }
    Ok(Bytes::from(bytes))
}

/// `application/json`, or any `+json` type, with or without parameters.
fn is_json(content_type: &str) -> bool {
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    essence == "application/json"
        || (essence.starts_with("application/") && essence.ends_with("+json"))
}

/// The query string as name/value pairs, read one parameter at a time; parameters left over
/// at the end are errors.
#[derive(Debug, Default)]
pub(crate) struct QueryParams {
    pairs: Vec<(String, String)>,
    errors: Vec<FieldError>,
}

impl<S: Send + Sync> FromRequestParts<S> for QueryParams {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let RawQuery(raw) = RawQuery::from_request_parts(parts, state)
            .await
            .map_err(|_| ApiError::field("query", "cannot be read"))?;
        Self::parse(raw.as_deref())
    }
}

impl QueryParams {
    /// The parameters of a raw query string (`None`: the URI has none).
    pub(crate) fn parse(raw: Option<&str>) -> Result<Self, ApiError> {
        let pairs = match raw {
            None => Vec::new(),
            Some(raw) => serde_urlencoded::from_str::<Vec<(String, String)>>(raw).map_err(|e| {
                ApiError::field("query", format!("is not a valid query string: {e}"))
            })?,
        };
        Ok(Self {
            pairs,
            errors: Vec::new(),
        })
    }

    /// The value of `name`, once; a repeated parameter is an error.
    pub(crate) fn take(&mut self, name: &str) -> Option<String> {
        let mut found: Vec<String> = Vec::new();
        self.pairs.retain(|(key, value)| {
            if key == name {
                found.push(value.clone());
                false
            } else {
                true
            }
        });
        if found.len() > 1 {
            self.error(name, "is given more than once");
        }
        found.into_iter().next()
    }

    /// `name` as a whole number in `min..=max`.
    pub(crate) fn number(&mut self, name: &str, min: u64, max: u64) -> Option<u64> {
        let text = self.take(name)?;
        match text.parse::<u64>() {
            Ok(n) if (min..=max).contains(&n) => Some(n),
            _ => {
                self.error(
                    name,
                    format!("must be a whole number from {min} to {max}, not {text:?}"),
                );
                None
            }
        }
    }

    /// `name` as an amount of money from 0 to `max_cents` cents, with at most two decimal
    /// places (`12`, `12.5`, `12.50`), in whole cents.
    pub(crate) fn amount(&mut self, name: &str, max_cents: i64) -> Option<i64> {
        let text = self.take(name)?;
        let cents = amount_cents(&text).filter(|cents| *cents <= max_cents);
        if cents.is_none() {
            let max = format!("{}.{:02}", max_cents / 100, max_cents % 100);
            self.error(
                name,
                format!("must be an amount from 0 to {max} with at most two decimal places, not {text:?}"),
            );
        }
        cents
    }

    /// `name` as a date `YYYY-MM-DD`, which must be given.
    pub(crate) fn required_date(&mut self, name: &str) -> Option<NaiveDate> {
        let Some(text) = self.take(name) else {
            self.error(name, "is required");
            return None;
        };
        match NaiveDate::parse_from_str(&text, "%Y-%m-%d") {
            Ok(date) if text.len() == 10 => Some(date),
            _ => {
                self.error(name, format!("must be a date YYYY-MM-DD, not {text:?}"));
                None
            }
        }
    }

    /// Records an error about parameter `name`.
    pub(crate) fn error(&mut self, name: &str, message: impl Into<String>) {
        self.errors
            .push(FieldError::new(format!("query.{name}"), message));
    }

    /// Fails with every error, including parameters nobody asked for.
    pub(crate) fn finish(mut self) -> Result<(), ApiError> {
        for (name, _) in std::mem::take(&mut self.pairs) {
            self.errors.push(FieldError::new(
                format!("query.{name}"),
                "is not a known parameter",
            ));
        }
        if self.errors.is_empty() {
            Ok(())
        } else {
            Err(ApiError::Validation(self.errors))
        }
    }
}

/// `text` (digits, then a fraction of at most two places, as a decimal number may be written:
/// `0.57` may arrive as `0.5700000000000001`) in whole cents; `None` for anything else.
fn amount_cents(text: &str) -> Option<i64> {
    let (whole, fraction) = text.split_once('.').unwrap_or((text, "0"));
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if !digits(whole) || !digits(fraction) || whole.len() > 15 {
        return None;
    }
    let value: f64 = text.parse().ok()?;
    let cents = (value * 100.0).round();
    ((value * 100.0 - cents).abs() < 1e-6).then_some(cents as i64)
}

/// `If-Match: "<stream version>"` (also `W/"<version>"`; `*` matches any version): exactly
/// [`crate::limits::IF_MATCH_PATTERN`] (at most 19 digits, so the version fits in 64 bits).
pub(crate) fn if_match(headers: &HeaderMap) -> Result<Option<StreamVersion>, FieldError> {
    let Some(value) = headers.get(header::IF_MATCH) else {
        return Ok(None);
    };
    let bad = || {
        FieldError::new(
            "header.If-Match",
            "must be a stream version in quotes, e.g. \"3\"",
        )
    };
    let text = value.to_str().map_err(|_| bad())?.trim();
    if text == "*" {
        return Ok(None);
    }
    let quoted = text.strip_prefix("W/").unwrap_or(text);
    let inner = quoted
        .strip_prefix('"')
        .and_then(|t| t.strip_suffix('"'))
        .ok_or_else(bad)?;
    if inner.is_empty() || inner.len() > 19 || !inner.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    inner
        .parse::<u64>()
        .map(|v| Some(StreamVersion::new(v)))
        .map_err(|_| bad())
}

/// `Idempotency-Key`: 1 to 255 visible ASCII characters.
pub(crate) fn idempotency_key(headers: &HeaderMap) -> Result<Option<String>, FieldError> {
    let Some(value) = headers.get("idempotency-key") else {
        return Ok(None);
    };
    let bad = || {
        FieldError::new(
            "header.Idempotency-Key",
            format!("must be 1 to {IDEMPOTENCY_KEY_MAX} visible ASCII characters"),
        )
    };
    let text = value.to_str().map_err(|_| bad())?;
    if text.is_empty()
        || text.len() > IDEMPOTENCY_KEY_MAX
        || !text.bytes().all(|b| b.is_ascii_graphic())
    {
        return Err(bad());
    }
    Ok(Some(text.to_owned()))
}

/// `X-User-Id`, the acting user when authentication is off.
pub(crate) fn user_id(headers: &HeaderMap) -> Result<Option<UserId>, FieldError> {
    let Some(value) = headers.get("x-user-id") else {
        return Ok(None);
    };
    let text = value
        .to_str()
        .map_err(|_| FieldError::new("header.X-User-Id", "must be visible ASCII"))?;
    UserId::parse(text)
        .map(Some)
        .map_err(|e| FieldError::new("header.X-User-Id", e.to_string()))
}

/// The headers every write reads.
#[derive(Debug, Default)]
pub(crate) struct WriteHeaders {
    pub(crate) if_match: Option<StreamVersion>,
    pub(crate) idempotency_key: Option<String>,
    pub(crate) user_id: Option<UserId>,
}

impl WriteHeaders {
    /// Reads them, collecting every bad one. The acting user is the authenticated
    /// `principal` when there is one (a well-formed `X-User-Id` is then ignored), else
    /// `X-User-Id`.
    pub(crate) fn read(
        headers: &HeaderMap,
        principal: Option<&Principal>,
    ) -> (Self, Vec<FieldError>) {
        let mut errors = Vec::new();
        // Checked even when a principal is the acting user: a malformed header is refused
        // as the document says, not silently ignored.
        let named = keep_other(&mut errors, user_id(headers));
        let user_id = match principal {
            Some(principal) => Some(principal.id.clone()),
            None => named,
        };
        let parsed = Self {
            if_match: keep_other(&mut errors, if_match(headers)),
            idempotency_key: keep_other(&mut errors, idempotency_key(headers)),
            user_id,
        };
        (parsed, errors)
    }
}

fn keep_other<T>(errors: &mut Vec<FieldError>, result: Result<Option<T>, FieldError>) -> Option<T> {
    result.map_err(|e| errors.push(e)).ok().flatten()
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn amounts_in_cents() {
        for (text, cents) in [("12", 1200), ("12.5", 1250), ("0.07", 7), ("0", 0)] {
            assert_eq!(super::amount_cents(text), Some(cents), "{text}");
        }
        assert_eq!(super::amount_cents("0.5700000000000001"), Some(57));
        for bad in [
            "",
            ".5",
            "5.",
            "1.234",
            "-1",
            "1e3",
            "1,5",
            " 1",
            "x",
            "1234567890123456",
        ] {
            assert_eq!(super::amount_cents(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn content_types() {
        assert!(is_json("application/json"));
        assert!(is_json("Application/JSON; charset=utf-8"));
        assert!(is_json("application/merge-patch+json"));
        assert!(!is_json("text/plain"));
        assert!(!is_json("application/jsonp"));
    }

    #[test]
    fn a_malformed_user_id_is_refused_even_with_a_principal() {
        let mut headers = HeaderMap::new();
        headers.insert(
            "x-user-id",
            HeaderValue::from_bytes(b"\xd7\xf8").expect("a latin-1 header value"),
        );
        let principal = Principal {
            id: UserId::parse("alice").expect("a user id"),
            scopes: std::collections::BTreeSet::new(),
        };
        let (parsed, errors) = WriteHeaders::read(&headers, Some(&principal));
        assert_eq!(
            parsed.user_id.map(|u| u.to_string()).as_deref(),
            Some("alice")
        );
        let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["header.X-User-Id"]);
    }

    #[test]
    fn if_match_values() {
        let parse = |v: &str| {
            let mut headers = HeaderMap::new();
            headers.insert(header::IF_MATCH, HeaderValue::from_str(v).expect("header"));
            if_match(&headers)
        };
        assert_eq!(parse("\"3\""), Ok(Some(StreamVersion::new(3))));
        assert_eq!(parse("W/\"0\""), Ok(Some(StreamVersion::new(0))));
        assert_eq!(parse("*"), Ok(None));
        assert!(parse("3").is_err());
        assert!(parse("\"x\"").is_err());
        assert!(parse("\"-1\"").is_err());
        assert!(parse("\"+1\"").is_err(), "the pattern allows digits only");
        assert!(parse("\"\"").is_err());
        assert_eq!(
            parse("\"9999999999999999999\""),
            Ok(Some(StreamVersion::new(9_999_999_999_999_999_999))),
            "19 digits, as the pattern allows"
        );
        assert!(
            parse("\"00000000000000000001\"").is_err(),
            "20 digits, which the pattern refuses even when they fit in 64 bits"
        );
    }
}
