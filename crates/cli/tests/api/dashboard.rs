//! The dashboard over HTTP: its page and files under a strict policy, and its live feed read
//! event by event and checked against `GET /admin/projections`.

use std::time::Duration;

use projector_testkit::wait::{self, eventually, eventually_every};
use serde_json::Value;

use crate::helpers::{Server, Storage, projector};

/// A Server-Sent Events stream, read an event at a time.
pub struct Events {
    response: reqwest::Response,
    buffer: String,
}

impl Events {
    /// Opens `url` (a `/admin/live`) with `headers`, checking it answers an event stream.
    pub async fn open(client: &reqwest::Client, url: &str, headers: &[(&str, &str)]) -> Self {
        let mut request = client.get(url);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let response = request.send().await.expect("the live feed answers");
        assert_eq!(response.status(), 200, "{url}");
        let content_type = response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        assert!(
            content_type.starts_with("text/event-stream"),
            "{content_type}"
        );
        Self {
            response,
            buffer: String::new(),
        }
    }

    /// The next event's name and JSON data; fails the test at the default deadline without one.
    pub async fn next(&mut self) -> (String, Value) {
        let limit = wait::deadline();
        tokio::time::timeout(limit, self.read())
            .await
            .unwrap_or_else(|_| panic!("no event within {limit:?}"))
    }

    /// The next event, however long it takes.
    async fn read(&mut self) -> (String, Value) {
        loop {
            if let Some(end) = self.buffer.find("\n\n") {
                let block: String = self.buffer.drain(..end + 2).collect();
                let mut name = String::from("message");
                let mut data = String::new();
                for line in block.lines() {
                    if let Some(n) = line.strip_prefix("event:") {
                        name = n.trim().to_owned();
                    } else if let Some(d) = line.strip_prefix("data:") {
                        data.push_str(d.trim_start());
                    }
                }
                if data.is_empty() {
                    continue; // a keep-alive comment
                }
                let json = serde_json::from_str(&data)
                    .unwrap_or_else(|e| panic!("event {name} is not JSON ({e}): {data}"));
                return (name, json);
            }
            let chunk = self
                .response
                .chunk()
                .await
                .expect("the stream reads")
                .expect("the stream goes on");
            self.buffer.push_str(&String::from_utf8_lossy(&chunk));
        }
    }

    /// The next event named `wanted` that satisfies `test`, within the default deadline.
    pub async fn until(&mut self, wanted: &str, test: impl Fn(&Value) -> bool) -> Value {
        let events = tokio::sync::Mutex::new(self);
        let (events, test) = (&events, &test);
        // The events wait in the stream already: read each as soon as the last is judged.
        eventually_every(
            &format!("a {wanted} event as wanted"),
            Duration::ZERO,
            move || async move {
                let (name, data) = events.lock().await.next().await;
                if name == wanted && test(&data) {
                    Ok(data)
                } else {
                    Err(format!("{name} {data}"))
                }
            },
        )
        .await
    }
}

/// Places orders one after another on a task of its own, until aborted: a write load.
pub fn order_load(server: &Server, prefix: &str) -> tokio::task::JoinHandle<()> {
    let base = server.base.clone();
    let client = server.client.clone();
    let prefix = prefix.to_owned();
    tokio::spawn(async move {
        for i in 0.. {
            let body = serde_json::json!({
                "id": format!("{prefix}-{i}"),
                "customer_id": "c-load",
                "items": [{"sku": "SKU-1", "quantity": 1, "unit_price": 2.5}],
            });
            let _ = client
                .post(format!("{base}/api/orders"))
                .json(&body)
                .send()
                .await;
        }
    })
}

/// The projections of a list by name, each with what does not move under load.
fn fixed(list: &Value) -> Vec<(String, Value, Value, bool)> {
    list["projections"]
        .as_array()
        .expect("projections")
        .iter()
        .map(|p| {
            (
                p["name"].as_str().expect("name").to_owned(),
                p["version"].clone(),
                p["generation"].clone(),
                p["local"].as_bool().expect("local"),
            )
        })
        .collect()
}

pub async fn the_live_feed_sends_the_projections_and_their_last_hour() {
    let server =
        Server::start_with_args(Storage::fresh().await, &["--dashboard-lag-alert", "2.5"]).await;
    server.ready().await;
    let mut position = 0;
    for i in 0..5 {
        position = server
            .place(&format!("o-live-{i}"), "c-live", &[("SKU-1", 1, 2.5)])
            .await;
    }
    server.wait_every_projection_at(position).await;
    let listed = server.get("/admin/projections").await.expect(200).json();

    let mut events =
        Events::open(&server.client, &format!("{}/admin/live", server.base), &[]).await;
    let (name, settings) = events.next().await;
    assert_eq!(name, "settings", "{settings}");
    assert_eq!(settings["lag_alert_seconds"], 2.5);
    assert_eq!(settings["sample_every_seconds"], 5);
    let (name, history) = events.next().await;
    assert_eq!(name, "history", "{history}");
    let history = history["samples"]
        .as_object()
        .expect("samples by projection");
    for samples in history.values() {
        for sample in samples.as_array().expect("a list") {
            assert!(sample["at"].is_string(), "{sample}");
            assert!(sample["lag_events"].is_u64(), "{sample}");
            assert!(sample["lag_seconds"].is_number(), "{sample}");
            assert!(sample["throughput_per_s"].is_number(), "{sample}");
        }
    }
    let (name, live) = events.next().await;
    assert_eq!(name, "projections", "{live}");
    // The same list as the admin API: what cannot move is equal, the rest moved forward only.
    assert_eq!(fixed(&live), fixed(&listed));
    assert!(live["head"].as_u64().expect("head") >= position);
    for (p, q) in listed["projections"]
        .as_array()
        .expect("projections")
        .iter()
        .zip(live["projections"].as_array().expect("projections"))
    {
        assert!(
            q["checkpoint"].as_u64() >= p["checkpoint"].as_u64(),
            "{p} {q}"
        );
        assert!(
            q["throughput_per_s"].as_f64().expect("throughput") >= 0.0,
            "{q}"
        );
        assert_eq!(q["state"], "live", "{q}");
        // This server runs every projection: it is the holder, by the label of its leases.
        let holder = q["holder"].as_str().expect("a holder");
        assert!(
            holder.starts_with(&format!("projector serve {} pid ", server.base)),
            "{q}"
        );
    }

    // Under writes, throughput shows, and the sampler's next samples follow.
    let writer = order_load(&server, "o-load");
    let moving = events
        .until("projections", |list| {
            list["projections"].as_array().is_some_and(|ps| {
                ps.iter()
                    .any(|p| p["throughput_per_s"].as_f64() > Some(0.0))
            })
        })
        .await;
    assert!(moving["head"].as_u64() > Some(position), "{moving}");
    let samples = events.until("samples", |_| true).await;
    let samples = samples["samples"]
        .as_object()
        .expect("samples by projection");
    assert!(!samples.is_empty());
    for (name, kept) in samples {
        assert!(history.contains_key(name), "{name}");
        assert_eq!(
            kept.as_array().map(Vec::len),
            Some(1),
            "one new sample: {kept}"
        );
    }
    writer.abort();
    let listed = server.get("/admin/projections").await.expect(200).json();
    assert!(
        listed["projections"][0]["throughput_per_s"].is_number(),
        "{listed}"
    );
}

pub async fn the_page_and_its_files_come_from_this_server_only() {
    let server = Server::start().await;
    let moved = server.get("/admin").await;
    // reqwest follows the redirect to the page itself.
    assert_eq!(moved.status, 200);
    assert!(moved.text.contains("<title>projector dashboard</title>"));
    let page = server.get("/admin/").await.expect(200);
    assert_eq!(
        page.header("content-type"),
        Some("text/html; charset=utf-8")
    );
    let policy = page.header("content-security-policy").expect("a policy");
    for directive in [
        "default-src 'none'",
        "script-src 'self'",
        "connect-src 'self'",
        "frame-ancestors 'none'",
    ] {
        assert!(policy.contains(directive), "{policy}");
    }
    assert_eq!(page.header("x-content-type-options"), Some("nosniff"));
    // Every file the page loads is one of its own, and each is served.
    let linked: Vec<&str> = page
        .text
        .split(['"', '\''])
        .filter(|s| s.starts_with("/admin/") || s.contains("://"))
        .collect();
    assert!(linked.len() >= 2, "{linked:?}");
    for link in linked {
        assert!(link.starts_with("/admin/assets/"), "{link}");
        let file = server.get(link).await.expect(200);
        let kind = file.header("content-type").expect("content type");
        assert!(
            kind.starts_with("text/css") || kind.starts_with("text/javascript"),
            "{kind}"
        );
        assert!(file.header("content-security-policy").is_some());
    }
    for script in ["app.js", "table.js", "charts.js", "actions.js"] {
        let file = server
            .get(&format!("/admin/assets/{script}"))
            .await
            .expect(200);
        // Nothing from another host: the one URL is the SVG namespace, a name, not a fetch.
        let code = file.text.replace("\"http://www.w3.org/2000/svg\"", "");
        assert!(
            !code.contains("http://") && !code.contains("https://"),
            "{script}"
        );
    }
    let missing = server.get("/admin/assets/..%2Fmod.rs").await.expect(404);
    assert_eq!(
        missing.header("content-type"),
        Some("application/problem+json")
    );
    assert!(
        missing.json()["detail"]
            .as_str()
            .is_some_and(|d| d.contains("no file"))
    );
}

pub async fn a_lag_alert_that_is_not_a_number_of_seconds_is_refused() {
    for bad in ["-1", "soon", "NaN", "100000"] {
        let refused = projector(
            &[
                "serve",
                "--addr",
                "127.0.0.1:0",
                &format!("--dashboard-lag-alert={bad}"),
            ],
            &[],
            Duration::from_secs(30),
        )
        .await;
        assert!(!refused.success, "{bad}");
        assert!(
            refused.stderr.contains("--dashboard-lag-alert"),
            "{bad}: {}",
            refused.stderr
        );
    }
}

/// On PostgreSQL a standby names the process holding each projection's lease: the holder's
/// label, as PostgreSQL lists its session.
pub async fn a_standby_names_the_holder_of_each_lease() {
    let Some(database) = projector_testkit::postgres::TestDatabase::create().await else {
        return;
    };
    let (holder, standby) = Server::holder_and_standby(database.url(), &[]).await;
    let label = format!("'projector serve {} pid ", holder.base);
    eventually(&format!("the standby to name {label}"), || async {
        let list = standby.get("/admin/projections").await.expect(200).json();
        let summary = list["projections"]
            .as_array()
            .expect("projections")
            .iter()
            .find(|p| p["name"] == "order_summary")
            .expect("order_summary")
            .clone();
        assert_eq!(summary["state"], "standby", "{summary}");
        if summary["holder"]
            .as_str()
            .is_some_and(|h| h.starts_with(&label) && h.contains("PostgreSQL backend"))
        {
            Ok(())
        } else {
            Err(summary)
        }
    })
    .await;
    // The holder names itself.
    let own = holder.get("/admin/projections").await.expect(200).json();
    let own = own["projections"][0]["holder"].as_str().expect("a holder");
    assert!(
        own.starts_with(&format!("projector serve {} pid ", holder.base)),
        "{own}"
    );
}
