//! Signing in to the dashboard with authentication on: a browser cannot add a bearer token to
//! a page load or an `EventSource`, so the admin routes take the token as the password of HTTP
//! Basic, and the dashboard's refusals ask for it.

use reqwest::{Method, StatusCode};

use crate::auth::Keyed;
use crate::dashboard::Events;
use crate::helpers::Server;

const BASIC: &str = r#"Basic realm="projector admin""#;

/// Sends `method path` with Basic credentials (any user name, `password`) and extra headers;
/// answers the status, the `WWW-Authenticate` challenges and the body (empty for a stream).
async fn basic(
    server: &Server,
    method: Method,
    path: &str,
    password: Option<&str>,
    headers: &[(&str, &str)],
) -> (StatusCode, Vec<String>, String) {
    let mut request = server
        .client
        .request(method, format!("{}{path}", server.base));
    if let Some(password) = password {
        request = request.basic_auth("operator", Some(password));
    }
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = request.send().await.expect("request");
    let status = response.status();
    let challenges = response
        .headers()
        .get_all("www-authenticate")
        .iter()
        .filter_map(|v| v.to_str().ok().map(str::to_owned))
        .collect();
    let streamed = response
        .headers()
        .get("content-type")
        .is_some_and(|t| t.as_bytes().starts_with(b"text/event-stream"));
    let text = if streamed {
        String::new()
    } else {
        response.text().await.expect("body")
    };
    (status, challenges, text)
}

fn asks_for_basic(challenges: &[String]) -> bool {
    challenges.iter().any(|c| c.starts_with(BASIC))
}

#[tokio::test]
async fn a_browser_signs_in_to_the_dashboard_with_a_key_as_the_basic_password() {
    let keyed = Keyed::start(&[]).await;
    let server = &keyed.server;
    let admin = keyed.key("admin");

    // Without credentials the dashboard's routes ask the browser to sign in, besides the
    // bearer challenge; the API's other routes do not (a script would not answer a prompt).
    for path in ["/admin/", "/admin", "/admin/live", "/admin/assets/app.js"] {
        let (status, challenges, _) = basic(server, Method::GET, path, None, &[]).await;
        assert_eq!(status, 401, "{path}");
        assert!(
            challenges.iter().any(|c| c.starts_with("Bearer")),
            "{path}: {challenges:?}"
        );
        assert!(asks_for_basic(&challenges), "{path}: {challenges:?}");
    }
    let (status, challenges, _) = basic(server, Method::GET, "/admin/projections", None, &[]).await;
    assert_eq!(status, 401);
    assert!(!asks_for_basic(&challenges), "{challenges:?}");

    // The admin key as the password opens the page, its files and its live feed.
    let (status, _, page) = basic(server, Method::GET, "/admin/", Some(admin), &[]).await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("/admin/assets/app.js"));
    let (status, _, _) = basic(
        server,
        Method::GET,
        "/admin/assets/app.js",
        Some(admin),
        &[],
    )
    .await;
    assert_eq!(status, 200);
    let mut events = Events::open(
        &server.client,
        &format!("{}/admin/live", server.base),
        &[("authorization", &basic_header(admin))],
    )
    .await;
    assert_eq!(events.next().await.0, "settings");

    // A wrong password is asked again; a key without the admin scope is refused.
    let (status, challenges, _) =
        basic(server, Method::GET, "/admin/", Some("pjk_not-a-key"), &[]).await;
    assert_eq!(status, 401);
    assert!(asks_for_basic(&challenges), "{challenges:?}");
    for scope in ["read", "write"] {
        let (status, _, text) =
            basic(server, Method::GET, "/admin/", Some(keyed.key(scope)), &[]).await;
        assert_eq!(status, 403, "{scope}: {text}");
    }
    // Basic is for the admin routes only: the rest of the API takes bearer tokens.
    let (status, _, _) = basic(
        server,
        Method::GET,
        "/api/orders/o-1/projection",
        Some(keyed.key("read")),
        &[],
    )
    .await;
    assert_eq!(status, 401);

    // A browser adds Basic credentials to another site's form posts too: a write with them
    // from another origin is refused and changes nothing; from the dashboard's own, it acts.
    let rebuild = "/admin/projections/order_summary/rebuild";
    for headers in [
        &[("origin", "http://evil.example")][..],
        &[("sec-fetch-site", "cross-site")][..],
    ] {
        let (status, _, text) = basic(server, Method::POST, rebuild, Some(admin), headers).await;
        assert_eq!(status, 403, "{headers:?}: {text}");
        assert!(text.contains("another origin"), "{text}");
    }
    let bearer = format!("Bearer {admin}");
    let list = server
        .send(
            Method::GET,
            "/admin/projections",
            None,
            &[("authorization", &bearer)],
        )
        .await
        .expect(200)
        .json();
    let order_summary = list["projections"]
        .as_array()
        .expect("projections")
        .iter()
        .find(|p| p["name"] == "order_summary")
        .expect("order_summary");
    assert!(order_summary["rebuild"].is_null(), "{order_summary}");
    assert_eq!(order_summary["generation"], 1);

    let own = server.base.clone();
    let (status, _, text) = basic(
        server,
        Method::POST,
        rebuild,
        Some(admin),
        &[("origin", &own)],
    )
    .await;
    assert_eq!(status, 202, "{text}");
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&text).expect("JSON")["generation"],
        2
    );
}

fn basic_header(password: &str) -> String {
    use std::fmt::Write as _;
    // RFC 7617: base64 of `user:password`, written out here to check the server's decoding.
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let bytes = format!("anyone:{password}").into_bytes();
    let mut out = String::from("Basic ");
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, b)| n | (u32::from(*b) << (16 - 8 * i)));
        for i in 0..4 {
            if i <= chunk.len() {
                let _ = write!(
                    out,
                    "{}",
                    ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char
                );
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// With an admin listener of its own, the dashboard is there (open on loopback, as the rest of
/// the admin API) and not on the main listener.
#[tokio::test]
async fn the_dashboard_is_on_the_admin_listener_when_there_is_one() {
    let keyed = Keyed::start(&["--admin-addr", "0"]).await;
    let server = &keyed.server;
    let admin = server.admin_base().expect("an admin listener");
    let (status, _, _) = basic(
        server,
        Method::GET,
        "/admin/",
        Some(keyed.key("admin")),
        &[],
    )
    .await;
    assert_eq!(status, 404);
    let page = server
        .client
        .get(format!("{admin}/admin/"))
        .send()
        .await
        .expect("the page");
    assert_eq!(page.status(), 200);
    let mut events = Events::open(&server.client, &format!("{admin}/admin/live"), &[]).await;
    assert_eq!(events.next().await.0, "settings");
    assert_eq!(events.next().await.0, "history");
    let (name, list) = events.next().await;
    assert_eq!(name, "projections");
    assert!(
        !list["projections"]
            .as_array()
            .expect("projections")
            .is_empty()
    );
}
