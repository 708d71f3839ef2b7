//! A client of a running server's admin API, for the commands that must act in the process
//! that runs a projection (`--server URL`): a rebuild, a pause, a dead letter's retry.

use std::time::Duration;

use anyhow::{Context, bail};
use reqwest::{Method, StatusCode};
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::opts::ServerArgs;

/// How long one admin request may take; the slow actions answer at once and run on.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// The admin API of one running server.
#[derive(Debug, Clone)]
pub(crate) struct AdminClient {
    http: reqwest::Client,
    base: String,
    token: Option<String>,
}

impl AdminClient {
    /// A client of the server `args` names, if it names one.
    pub(crate) fn from_args(args: &ServerArgs) -> anyhow::Result<Option<Self>> {
        let Some(server) = &args.server else {
            return Ok(None);
        };
        let base = server.trim_end_matches('/').to_owned();
        if !(base.starts_with("http://") || base.starts_with("https://")) {
            bail!("--server must be an http:// or https:// URL, not {server:?}");
        }
        let http = reqwest::Client::builder()
            .timeout(REQUEST_TIMEOUT)
            .build()
            .context("building the HTTP client")?;
        Ok(Some(Self {
            http,
            base,
            token: args.token.clone(),
        }))
    }

    /// `GET path` (under `/admin`), decoded.
    pub(crate) async fn get<T: DeserializeOwned>(&self, path: &str) -> anyhow::Result<T> {
        self.send(Method::GET, path, None).await
    }

    /// `POST path` (under `/admin`) with an optional JSON body, the answer decoded.
    pub(crate) async fn post<T: DeserializeOwned>(
        &self,
        path: &str,
        body: Option<&Value>,
    ) -> anyhow::Result<T> {
        self.send(Method::POST, path, body).await
    }

    async fn send<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> anyhow::Result<T> {
        let url = format!("{}/admin/{}", self.base, path.trim_start_matches('/'));
        let mut request = self.http.request(method.clone(), &url);
        if let Some(token) = &self.token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request
            .send()
            .await
            .with_context(|| format!("{method} {url}"))?;
        let status = response.status();
        let text = response
            .text()
            .await
            .with_context(|| format!("reading the answer to {method} {url}"))?;
        if !status.is_success() {
            bail!("{method} {url}: {}", refusal(status, &text));
        }
        let text = if text.is_empty() { "null" } else { &text };
        serde_json::from_str(text).with_context(|| format!("decoding the answer to {method} {url}"))
    }
}

/// What a refused request says: the problem's title and detail when it sent one.
fn refusal(status: StatusCode, body: &str) -> String {
    let Ok(problem) = serde_json::from_str::<Value>(body) else {
        return format!("{status}");
    };
    let field = |name: &str| problem.get(name).and_then(Value::as_str);
    match (field("title"), field("detail")) {
        (Some(title), Some(detail)) => format!("{status}: {title}: {detail}"),
        (Some(title), None) => format!("{status}: {title}"),
        (None, Some(detail)) => format!("{status}: {detail}"),
        (None, None) => format!("{status}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refusal_names_the_problem() {
        let body = r#"{"title":"Standby","detail":"another process runs it"}"#;
        assert_eq!(
            refusal(StatusCode::CONFLICT, body),
            "409 Conflict: Standby: another process runs it"
        );
        assert_eq!(
            refusal(StatusCode::BAD_GATEWAY, "<html>"),
            "502 Bad Gateway"
        );
    }

    #[test]
    fn only_http_urls_are_servers() {
        let args = ServerArgs {
            server: Some("127.0.0.1:8080".into()),
            token: None,
        };
        assert!(AdminClient::from_args(&args).is_err());
        let args = ServerArgs {
            server: Some("http://127.0.0.1:8080/".into()),
            token: None,
        };
        let client = AdminClient::from_args(&args)
            .expect("a valid URL")
            .expect("a client");
        assert_eq!(client.base, "http://127.0.0.1:8080");
    }
}
