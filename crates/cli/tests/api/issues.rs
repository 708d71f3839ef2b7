//! The issue tracker over HTTP: users on every write, an audit log of who changed what, no
//! dirty writes, forbidden transitions refused with nothing appended.

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{Reply, Server};

impl Server {
    async fn as_user(
        &self,
        user: &str,
        method: Method,
        path: &str,
        body: Option<&Value>,
        extra: &[(&str, &str)],
    ) -> Reply {
        let mut headers = vec![("X-User-Id", user)];
        headers.extend_from_slice(extra);
        self.send(method, path, body, &headers).await
    }

    async fn new_issue(&self, user: &str, title: &str) -> (String, u64) {
        let reply = self
            .as_user(user, Method::POST, "/api/issues", Some(&json!({"title": title, "description": "steps:\n1. log in", "priority": "high"})), &[])
            .await
            .expect(201);
        let body = reply.json();
        assert_eq!(
            reply.header("location").map(String::from),
            Some(format!("/api/issues/{}", body["id"].as_str().expect("id")))
        );
        (
            body["id"].as_str().expect("id").to_owned(),
            reply.position(),
        )
    }

    async fn issue(&self, id: &str, position: u64) -> Reply {
        self.get(&format!("/api/issues/{id}?min_position={position}"))
            .await
            .expect(200)
    }
}

pub async fn every_write_names_its_user() {
    let server = Server::start().await;
    let before = server.appended().await;
    let anonymous = server
        .post("/api/issues", &json!({"title": "t"}))
        .await
        .expect(401);
    assert_eq!(
        anonymous.json()["type"],
        "urn:projector:problem:unauthorized"
    );
    let (id, _) = server.new_issue("alice", "Login fails").await;
    server
        .send(
            Method::PATCH,
            &format!("/api/issues/{id}"),
            Some(&json!({"title": "x"})),
            &[],
        )
        .await
        .expect(401);
    server
        .post(
            &format!("/api/issues/{id}/comments"),
            &json!({"body": "hi"}),
        )
        .await
        .expect(401);
    server
        .as_user(
            "not a user",
            Method::POST,
            "/api/issues",
            Some(&json!({"title": "t"})),
            &[],
        )
        .await
        .expect(422);
    assert_eq!(server.appended().await, before + 1);
}

pub async fn the_history_shows_each_users_changes_in_order() {
    let server = Server::start().await;
    let (id, _) = server.new_issue("alice", "Login fails").await;
    let path = format!("/api/issues/{id}");
    server
        .as_user(
            "bob",
            Method::PATCH,
            &path,
            Some(&json!({"state": "in_progress", "assignee": "bob"})),
            &[],
        )
        .await
        .expect(202);
    server
        .as_user(
            "carol",
            Method::PATCH,
            &path,
            Some(&json!({"priority": "critical", "title": "Login fails on Safari"})),
            &[],
        )
        .await
        .expect(202);
    server
        .as_user(
            "bob",
            Method::POST,
            &format!("{path}/comments"),
            Some(&json!({"body": "Found it.\nPatch coming."})),
            &[("X-Correlation-Id", "fix-42")],
        )
        .await
        .expect(201);
    let last = server
        .as_user(
            "bob",
            Method::PATCH,
            &path,
            Some(&json!({"state": "resolved", "assignee": null})),
            &[],
        )
        .await
        .expect(202)
        .position();

    let issue = server.issue(&id, last).await;
    assert_eq!(issue.header("etag"), Some("\"8\""));
    let issue = issue.json();
    assert_eq!(issue["title"], "Login fails on Safari");
    assert_eq!(issue["priority"], "critical");
    assert_eq!(issue["state"], "resolved");
    assert_eq!(issue["assignee"], Value::Null);
    assert_eq!(issue["version"], 8);
    assert_eq!(issue["created_by"], "alice");
    assert_eq!(issue["updated_by"], "bob");
    assert_eq!(issue["comments"][0]["body"], "Found it.\nPatch coming.");
    assert_eq!(issue["comments"][0]["author"], "bob");

    let history = server
        .get(&format!("{path}/history?min_position={last}"))
        .await
        .expect(200)
        .json();
    let changes: Vec<(String, String, Value, Value)> = history["changes"]
        .as_array()
        .expect("changes")
        .iter()
        .map(|c| {
            (
                c["user_id"].as_str().unwrap_or("").to_owned(),
                c["change"].as_str().unwrap_or("").to_owned(),
                c["from"].clone(),
                c["to"].clone(),
            )
        })
        .collect();
    assert_eq!(
        changes,
        [
            (
                "alice".into(),
                "created".into(),
                Value::Null,
                json!("Login fails")
            ),
            (
                "bob".into(),
                "state_changed".into(),
                json!("open"),
                json!("in_progress")
            ),
            ("bob".into(), "assigned".into(), Value::Null, json!("bob")),
            (
                "carol".into(),
                "retitled".into(),
                json!("Login fails"),
                json!("Login fails on Safari")
            ),
            (
                "carol".into(),
                "priority_changed".into(),
                json!("high"),
                json!("critical")
            ),
            (
                "bob".into(),
                "commented".into(),
                Value::Null,
                json!("Found it.\nPatch coming.")
            ),
            (
                "bob".into(),
                "state_changed".into(),
                json!("in_progress"),
                json!("resolved")
            ),
            ("bob".into(), "assigned".into(), json!("bob"), Value::Null),
        ]
    );
    let entries = history["changes"].as_array().expect("changes");
    assert!(
        entries
            .iter()
            .all(|c| c["at"].is_string() && c["command_id"].is_string())
    );
    assert_eq!(
        entries[1]["command_id"], entries[2]["command_id"],
        "one command, two events, one causation id"
    );
    assert_ne!(entries[2]["command_id"], entries[3]["command_id"]);
    assert_eq!(entries[5]["correlation_id"], "fix-42");
}

pub async fn concurrent_edits_with_the_same_version_one_wins() {
    let server = Server::start().await;
    let (id, position) = server.new_issue("alice", "Race").await;
    let etag = server
        .issue(&id, position)
        .await
        .header("etag")
        .expect("etag")
        .to_owned();
    let path = format!("/api/issues/{id}");
    let (a, b) = (json!({"title": "From Bob"}), json!({"priority": "low"}));
    let guard = [("If-Match", etag.as_str())];
    let (first, second) = tokio::join!(
        server.as_user("bob", Method::PATCH, &path, Some(&a), &guard),
        server.as_user("carol", Method::PATCH, &path, Some(&b), &guard),
    );
    let mut statuses = [first.status.as_u16(), second.status.as_u16()];
    statuses.sort_unstable();
    assert_eq!(statuses, [202, 412]);
    let loser = if first.status == 412 { first } else { second };
    assert_eq!(loser.json()["current_version"], 2);
}

pub async fn concurrent_edits_of_different_fields_without_if_match_both_succeed() {
    let server = Server::start().await;
    let (id, _) = server.new_issue("alice", "Both").await;
    let path = format!("/api/issues/{id}");
    let mut writes = Vec::new();
    for i in 0..6 {
        let body = if i % 2 == 0 {
            json!({"title": format!("title {i}")})
        } else {
            json!({"description": format!("text {i}")})
        };
        writes.push(body);
    }
    let replies = futures::future::join_all(
        writes
            .iter()
            .map(|body| server.as_user("dave", Method::PATCH, &path, Some(body), &[])),
    )
    .await;
    let last = replies
        .into_iter()
        .map(|r| r.expect(202).position())
        .max()
        .expect("positions");
    let history = server
        .get(&format!("{path}/history?min_position={last}"))
        .await
        .expect(200)
        .json();
    assert_eq!(
        history["changes"].as_array().map(Vec::len),
        Some(7),
        "every edit recorded: {history}"
    );
}

pub async fn forbidden_transitions_and_no_ops_append_nothing() {
    let server = Server::start().await;
    let (id, _) = server.new_issue("alice", "Lifecycle").await;
    let path = format!("/api/issues/{id}");
    let before = server.appended().await;
    let refused = server
        .as_user(
            "bob",
            Method::PATCH,
            &path,
            Some(&json!({"state": "closed", "title": "new"})),
            &[],
        )
        .await
        .expect(409);
    assert!(
        refused.json()["detail"]
            .as_str()
            .is_some_and(|d| d.contains("open to closed"))
    );
    let unchanged = server
        .as_user(
            "bob",
            Method::PATCH,
            &path,
            Some(&json!({"title": "Lifecycle", "priority": "high"})),
            &[],
        )
        .await
        .expect(200);
    assert_eq!(unchanged.json()["status"], "unchanged");
    server
        .as_user("bob", Method::PATCH, &path, Some(&json!({})), &[])
        .await
        .expect(200);
    assert_eq!(server.appended().await, before);

    for step in ["in_progress", "resolved", "closed"] {
        server
            .as_user(
                "bob",
                Method::PATCH,
                &path,
                Some(&json!({"state": step})),
                &[],
            )
            .await
            .expect(202);
    }
    server
        .as_user(
            "bob",
            Method::PATCH,
            &path,
            Some(&json!({"state": "in_progress"})),
            &[],
        )
        .await
        .expect(409);
    server
        .as_user(
            "bob",
            Method::PATCH,
            &path,
            Some(&json!({"state": "open"})),
            &[],
        )
        .await
        .expect(202);
    server
        .as_user(
            "bob",
            Method::PATCH,
            "/api/issues/nope",
            Some(&json!({"title": "x"})),
            &[],
        )
        .await
        .expect(404);
    server
        .as_user(
            "bob",
            Method::POST,
            "/api/issues/nope/comments",
            Some(&json!({"body": "x"})),
            &[],
        )
        .await
        .expect(404);
}

pub async fn bad_input_is_named_and_lists_filter() {
    let server = Server::start().await;
    let bad = server
        .as_user(
            "u",
            Method::POST,
            "/api/issues",
            Some(&json!({"title": "", "priority": "urgent", "severity": 1})),
            &[],
        )
        .await
        .expect(422);
    assert_eq!(bad.fields(), ["severity", "title", "priority"]);
    let (id, _) = server.new_issue("u", "One").await;
    let path = format!("/api/issues/{id}");
    let bad = server
        .as_user(
            "u",
            Method::PATCH,
            &path,
            Some(&json!({"state": "done", "assignee": "a b", "title": 5, "description": "x\u{0}"})),
            &[],
        )
        .await
        .expect(422);
    assert_eq!(bad.fields(), ["title", "description", "state", "assignee"]);
    server
        .as_user(
            "u",
            Method::POST,
            &format!("{path}/comments"),
            Some(&json!({"body": ""})),
            &[],
        )
        .await
        .expect(422);

    let (second, _) = server.new_issue("u", "Two").await;
    let last = server
        .as_user(
            "u",
            Method::PATCH,
            &format!("/api/issues/{second}"),
            Some(&json!({"state": "in_progress", "assignee": "zoe"})),
            &[],
        )
        .await
        .expect(202)
        .position();
    let all = server
        .get(&format!("/api/issues?min_position={last}"))
        .await
        .expect(200)
        .json();
    let titles: Vec<&str> = all["issues"]
        .as_array()
        .expect("issues")
        .iter()
        .filter_map(|i| i["title"].as_str())
        .collect();
    assert_eq!(titles, ["Two", "One"]);
    let mine = server
        .get("/api/issues?assignee=zoe&state=in_progress")
        .await
        .expect(200)
        .json();
    assert_eq!(mine["issues"].as_array().map(Vec::len), Some(1));
    let page = server.get("/api/issues?limit=1").await.expect(200).json();
    let next = page["next_cursor"].as_str().expect("a next page");
    let rest = server
        .get(&format!("/api/issues?limit=1&cursor={next}"))
        .await
        .expect(200)
        .json();
    assert_eq!(rest["issues"][0]["title"], "One");
    assert!(rest.get("next_cursor").is_none());
    server.get("/api/issues?state=done").await.expect(422);
    server.get("/api/issues?priority=urgent").await.expect(422);
}

/// An issue's audit log comes a page at a time, like an order's, and the pages join up.
#[tokio::test]
async fn the_history_comes_a_page_at_a_time() {
    let server = Server::start().await;
    let (id, _) = server.new_issue("alice", "Paging").await;
    let mut last = 0;
    for priority in ["low", "medium", "high", "low", "critical"] {
        let reply = server
            .as_user(
                "bob",
                Method::PATCH,
                &format!("/api/issues/{id}"),
                Some(&json!({"priority": priority})),
                &[],
            )
            .await
            .expect(202);
        last = reply.json()["position"].as_u64().expect("position");
    }
    let whole = server
        .get(&format!("/api/issues/{id}/history?min_position={last}"))
        .await
        .expect(200)
        .json();
    let all = whole["changes"].as_array().expect("changes").clone();
    assert_eq!(all.len(), 6, "{whole}");
    assert!(whole.get("next_after_version").is_none());
    let mut paged = Vec::new();
    let mut after = 0;
    loop {
        let page = server
            .get(&format!(
                "/api/issues/{id}/history?limit=2&after_version={after}"
            ))
            .await
            .expect(200)
            .json();
        paged.extend(page["changes"].as_array().expect("changes").iter().cloned());
        match page["next_after_version"].as_u64() {
            Some(next) => after = next,
            None => break,
        }
    }
    assert_eq!(paged, all);
    let bad = server
        .get(&format!("/api/issues/{id}/history?limit=1001"))
        .await
        .expect(422);
    assert!(bad.text.contains("query.limit"), "{}", bad.text);
}
