//! The dashboard in a real browser: headless Chromium, driven through chromedriver (WebDriver),
//! against the real server under a write load. Outside CI a missing browser skips the test
//! with a reason; in CI (`CI=true`) it fails it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;

use fantoccini::{Client, ClientBuilder, Locator};
use projector_testkit::wait::eventually;
use serde_json::{Value, json};

use crate::dashboard::order_load;
use crate::helpers::{Server, Storage};

const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
const CHROMIUM: &str = "/usr/bin/chromium";

/// chromedriver on a free port, stopped with the test.
struct Driver {
    _process: tokio::process::Child,
    url: String,
}

impl Driver {
    /// Starts chromedriver, or says why it cannot (`None` outside CI, a failure in CI).
    async fn start() -> Option<Self> {
        for needed in [CHROMEDRIVER, CHROMIUM] {
            if !Path::new(needed).exists() {
                let reason =
                    format!("{needed} is missing (apt-get install chromium chromium-driver)");
                assert!(!projector_testkit::services::in_ci(), "{reason}");
                eprintln!("skipping the dashboard's browser test: {reason}");
                return None;
            }
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let process = tokio::process::Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("start chromedriver");
        let url = format!("http://127.0.0.1:{port}");
        let client = reqwest::Client::new();
        eventually("chromedriver to start", || async {
            let ready = client.get(format!("{url}/status")).send().await;
            if let Ok(reply) = ready
                && let Ok(status) = reply.json::<Value>().await
                && status["value"]["ready"] == true
            {
                Ok(())
            } else {
                Err("not ready")
            }
        })
        .await;
        Some(Self {
            _process: process,
            url,
        })
    }

    async fn browser(&self) -> Client {
        let mut capabilities = serde_json::Map::new();
        capabilities.insert(
            "goog:chromeOptions".into(),
            json!({
                "binary": CHROMIUM,
                "args": ["--headless=new", "--no-sandbox", "--disable-gpu",
                         "--disable-dev-shm-usage", "--window-size=1800,1000"],
            }),
        );
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        ClientBuilder::new(connector)
            .capabilities(capabilities)
            .connect(&self.url)
            .await
            .expect("a browser session")
    }
}

/// Waits until `test` gives a value, or fails at the default deadline saying `what`.
async fn until<T, F>(what: &str, test: impl FnMut() -> F) -> T
where
    F: Future<Output = Option<T>>,
{
    eventually(what, test).await
}

/// Clicks the button of `action` in `projection`'s row.
async fn click(browser: &Client, projection: &str, action: &str) {
    browser
        .find(Locator::Css(&format!(
            "tr[data-projection='{projection}'] button[data-action='{action}']"
        )))
        .await
        .expect("the action's button")
        .click()
        .await
        .expect("a click");
    until("the confirmation dialog", || async {
        browser
            .find(Locator::Css("dialog#confirm[open]"))
            .await
            .ok()
    })
    .await;
}

/// Clicks the button of `action` in `projection`'s row and confirms in the dialog.
async fn click_and_confirm(browser: &Client, projection: &str, action: &str) {
    click(browser, projection, action).await;
    browser
        .find(Locator::Id("confirm-yes"))
        .await
        .expect("a Confirm button")
        .click()
        .await
        .expect("a click");
}

/// Every row of the page's table, as the operator reads it: projection → field → text.
async fn page_rows(browser: &Client) -> BTreeMap<String, BTreeMap<String, String>> {
    let rows = browser
        .execute(
            "return [...document.querySelectorAll('#projections tbody tr')].map(row => [
                row.dataset.projection,
                Object.fromEntries([...row.querySelectorAll('td[data-field]')].map(cell => [
                    cell.dataset.field,
                    cell.dataset.field === 'state'
                        ? cell.querySelector('.state').textContent
                        : cell.dataset.field === 'rebuild'
                            ? (cell.dataset.generation || '')
                            : cell.textContent,
                ])),
            ]);",
            vec![],
        )
        .await
        .expect("the table reads");
    serde_json::from_value::<Vec<(String, BTreeMap<String, String>)>>(rows)
        .expect("rows")
        .into_iter()
        .collect()
}

async fn updates(browser: &Client) -> u64 {
    browser
        .execute("return Number(document.body.dataset.updates || 0);", vec![])
        .await
        .expect("updates")
        .as_u64()
        .unwrap_or(0)
}

async fn listed(server: &Server) -> BTreeMap<String, Value> {
    let list = server.get("/admin/projections").await.expect(200).json();
    list["projections"]
        .as_array()
        .expect("projections")
        .iter()
        .map(|p| (p["name"].as_str().expect("name").to_owned(), p.clone()))
        .collect()
}

fn text(value: &Value) -> String {
    match value {
        Value::Null => "–".into(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Where a screenshot goes: the workspace's target directory.
fn screenshot_path(name: &str) -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR").map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target"),
        PathBuf::from,
    );
    target.join(name)
}

pub async fn the_dashboard_shows_the_projections_and_rebuilds_one() {
    let Some(driver) = Driver::start().await else {
        return;
    };
    // Small batches, so a rebuild of a thousand events takes long enough to be seen.
    let server = Server::start_with_args(Storage::fresh().await, &["--batch-size", "5"]).await;
    server.ready().await;
    let placing: Vec<_> = (0..8)
        .map(|task| {
            let base = server.base.clone();
            let client = server.client.clone();
            tokio::spawn(async move {
                for i in 0..125 {
                    let body = json!({"id": format!("o-{task}-{i}"), "customer_id": "c-1",
                        "items": [{"sku": "SKU-1", "quantity": 1, "unit_price": 2.5}]});
                    let reply = client
                        .post(format!("{base}/api/orders"))
                        .json(&body)
                        .send()
                        .await
                        .expect("a write");
                    assert_eq!(reply.status(), 202);
                }
            })
        })
        .collect();
    for task in placing {
        task.await.expect("the writes");
    }
    let load = order_load(&server, "o-load");

    let browser = driver.browser().await;
    browser
        .goto(&format!("{}/admin/", server.base))
        .await
        .expect("the page opens");
    let names = listed(&server).await;
    until("the table filled", || async {
        (page_rows(&browser).await.len() == names.len()).then_some(())
    })
    .await;

    // The page agrees with the API. States flip between live and catching up under a load
    // of small batches, so the load stops while the numbers are compared: exactly on what
    // does not move, and checkpoints between the API's answers before and after the page was
    // read (from a list sent after the first answer).
    load.abort();
    let _ = load.await;
    server.wait_every_projection_at(server.head().await).await;
    let before = listed(&server).await;
    let seen = updates(&browser).await;
    until("two newer lists shown", || async {
        (updates(&browser).await >= seen + 2).then_some(())
    })
    .await;
    let rows = page_rows(&browser).await;
    let after = listed(&server).await;
    assert_eq!(
        rows.keys().collect::<Vec<_>>(),
        before.keys().collect::<Vec<_>>()
    );
    for (name, row) in &rows {
        let (first, last) = (&before[name], &after[name]);
        for field in ["version", "generation", "dead_letters"] {
            assert_eq!(row[field], text(&first[field]), "{name} {field}");
            assert_eq!(row[field], text(&last[field]), "{name} {field}");
        }
        let state = &row["state"];
        assert!(
            *state == text(&first["state"]) || *state == text(&last["state"]),
            "{name}: {state} on the page, {} then {}",
            first["state"],
            last["state"]
        );
        let checkpoint: u64 = row["checkpoint"].parse().expect("a checkpoint");
        let (low, high) = (
            first["checkpoint"].as_u64().expect("checkpoint"),
            last["checkpoint"].as_u64().expect("checkpoint"),
        );
        assert!(
            (low..=high).contains(&checkpoint),
            "{name}: {checkpoint} not within {low}..={high}"
        );
        assert_eq!(row["holder"], text(&first["holder"]), "{name}");
    }

    // Rebuild one projection from the page, under the load again: confirm in its dialog, see
    // the rebuild's progress, then the new generation serving.
    let load = order_load(&server, "o-rebuild");
    let projection = "order_summary";
    browser
        .find(Locator::Css(&format!(
            "tr[data-projection='{projection}'] button[data-action='rebuild']"
        )))
        .await
        .expect("a Rebuild button")
        .click()
        .await
        .expect("a click");
    let dialog = until("the confirmation dialog", || async {
        browser
            .find(Locator::Css("dialog#confirm[open]"))
            .await
            .ok()
    })
    .await;
    let question = dialog.text().await.expect("the question");
    assert!(
        question.contains(&format!("Rebuild {projection}?")),
        "{question}"
    );
    browser
        .find(Locator::Id("confirm-yes"))
        .await
        .expect("a Confirm button")
        .click()
        .await
        .expect("a click");
    let outcome = until("the action's outcome", || async {
        let text = browser
            .find(Locator::Css("#outcomes li"))
            .await
            .ok()?
            .text()
            .await
            .ok()?;
        (!text.is_empty()).then_some(text)
    })
    .await;
    assert!(
        outcome.contains(&format!("Rebuild of {projection} started: generation 2")),
        "{outcome}"
    );
    // A second rebuild while this one runs is refused, with the server's reason shown.
    click_and_confirm(&browser, projection, "rebuild").await;
    let refused = until("the refusal shown", || async {
        let items = browser
            .find_all(Locator::Css("#outcomes li.refused"))
            .await
            .ok()?;
        items.first()?.text().await.ok()
    })
    .await;
    assert!(
        refused.contains(&format!("Rebuild {projection} refused (409: "))
            && refused.contains("rebuild"),
        "{refused}"
    );
    // Cancelled in the dialog, an action sends nothing.
    let outcomes = browser
        .find_all(Locator::Css("#outcomes li"))
        .await
        .expect("outcomes")
        .len();
    click(&browser, projection, "pause").await;
    browser
        .find(Locator::Id("confirm-cancel"))
        .await
        .expect("Cancel")
        .click()
        .await
        .expect("a click");
    until("the dialog closed", || async {
        browser
            .find(Locator::Css("dialog#confirm[open]"))
            .await
            .is_err()
            .then_some(())
    })
    .await;
    let after = browser
        .find_all(Locator::Css("#outcomes li"))
        .await
        .expect("outcomes")
        .len();
    assert_eq!(after, outcomes, "a cancelled action reported an outcome");

    let progress = until("the rebuild shown", || async {
        let rows = page_rows(&browser).await;
        (rows[projection]["rebuild"] == "2").then(|| rows[projection]["rebuild"].clone())
    })
    .await;
    assert_eq!(progress, "2");
    let bar = browser
        .find(Locator::Css(&format!(
            "tr[data-projection='{projection}'] td[data-field='rebuild'] progress"
        )))
        .await
        .expect("a progress bar");
    assert!(bar.attr("max").await.expect("max").is_some());
    browser
        .screenshot()
        .await
        .map(|png| std::fs::write(screenshot_path("dashboard-rebuilding.png"), png))
        .expect("a screenshot")
        .expect("the screenshot saved");
    until("the new generation serving", || async {
        let rows = page_rows(&browser).await;
        let row = &rows[projection];
        (row["generation"] == "2" && row["rebuild"].is_empty()).then_some(())
    })
    .await;
    assert_eq!(listed(&server).await[projection]["generation"], 2);

    // A threshold set in the page marks, at once, a projection lagging past it under the
    // load: its row, a label, and the page's title.
    browser
        .execute(
            "const input = document.getElementById('lag-alert');
             input.value = '0';
             input.dispatchEvent(new Event('change'));",
            vec![],
        )
        .await
        .expect("the threshold set");
    let marked = until("a lagging projection marked", || async {
        let marked = browser
            .execute(
                "const row = document.querySelector('#projections tbody tr.alert');
                 return row && [row.dataset.projection, row.querySelector('.badge').textContent,
                                document.title];",
                vec![],
            )
            .await
            .ok()?;
        (!marked.is_null()).then_some(marked)
    })
    .await;
    assert_eq!(marked[1], "lagging", "{marked}");
    assert!(
        marked[2]
            .as_str()
            .is_some_and(|t| t.starts_with('(') && t.contains('⚠')),
        "{marked}"
    );
    load.abort();

    let png = browser.screenshot().await.expect("a screenshot");
    assert!(png.starts_with(b"\x89PNG"));
    std::fs::write(screenshot_path("dashboard.png"), png).expect("the screenshot saved");
    browser.close().await.expect("the browser closes");
}
