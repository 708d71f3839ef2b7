//! Authentication and scopes, for real: keys made with `projector api-key create`, JWTs signed
//! with RSA and EC keys checked against a JWKS file and URL, and every operation of the OpenAPI
//! document refused without its scope.

use std::path::{Path, PathBuf};
use std::time::Duration;

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use projector_testkit::wait::eventually;
use reqwest::Method;
use serde_json::{Value, json};
use tokio::io::AsyncBufReadExt;

use crate::helpers::{Reply, Server, Storage, projector};

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/api/fixtures");
const ISSUER: &str = "https://id.example.test/";
const AUDIENCE: &str = "projector-api";

/// Makes an API key with `projector api-key create`, returning the key it printed.
async fn make_key(file: &Path, principal: &str, scopes: &str) -> String {
    let file = file.to_str().expect("path");
    let made = projector(
        &[
            "api-key",
            "create",
            "--principal",
            principal,
            "--scopes",
            scopes,
            "--file",
            file,
        ],
        &[],
        Duration::from_secs(30),
    )
    .await;
    assert!(made.success, "{}", made.stderr);
    let key = made.stdout.trim().to_owned();
    assert_eq!(made.stdout, format!("{key}\n"), "the key alone on stdout");
    assert!(key.starts_with("pjk_") && key.len() > 60, "{key}");
    key
}

async fn call(
    server: &Server,
    method: Method,
    path: &str,
    token: Option<&str>,
    body: Option<&Value>,
) -> Reply {
    let bearer = token.map(|t| format!("Bearer {t}"));
    let headers: Vec<(&str, &str)> = bearer
        .as_deref()
        .map(|b| vec![("Authorization", b)])
        .unwrap_or_default();
    server.send(method, path, body, &headers).await
}

fn assert_problem(reply: &Reply, status: u16, challenge: &str, what: &str) {
    assert_eq!(reply.status.as_u16(), status, "{what}: {}", reply.text);
    assert_eq!(
        reply.header("content-type"),
        Some("application/problem+json"),
        "{what}"
    );
    let header = reply.header("www-authenticate").unwrap_or_default();
    assert!(
        header.starts_with("Bearer") && header.contains(challenge),
        "{what}: WWW-Authenticate {header:?}"
    );
    assert_eq!(reply.json()["status"], status, "{what}");
}

/// A concrete request for an operation of the document: its path with ids filled in, and a
/// body when it takes one.
fn concrete(path: &str) -> String {
    path.replace("{id}", "x1")
        .replace("{name}", "order_summary")
}

/// A keys file with one key per scope, and a server that accepts them.
pub(crate) struct Keyed {
    pub(crate) server: Server,
    keys: Vec<(&'static str, String)>,
    _dir: tempfile::TempDir,
    file: PathBuf,
}

impl Keyed {
    pub(crate) async fn start(extra: &[&str]) -> Self {
        let dir = projector_testkit::temp_dir();
        let file = dir.path().join("api-keys");
        let mut keys = Vec::new();
        for scope in ["read", "write", "admin"] {
            keys.push((
                scope,
                make_key(&file, &format!("{scope}-user"), scope).await,
            ));
        }
        let mut args = vec!["--api-keys", file.to_str().expect("path")];
        args.extend_from_slice(extra);
        let server = Server::start_with_args(Storage::fresh().await, &args).await;
        Self {
            server,
            keys,
            _dir: dir,
            file,
        }
    }

    pub(crate) fn key(&self, scope: &str) -> &str {
        &self
            .keys
            .iter()
            .find(|(s, _)| *s == scope)
            .expect("scope")
            .1
    }
}

#[tokio::test]
async fn every_operation_in_the_document_needs_its_scope() {
    let keyed = Keyed::start(&[]).await;
    let server = &keyed.server;
    let document = server.get("/openapi.json").await.expect(200).json();
    assert_eq!(
        document["components"]["securitySchemes"]["bearer"]["scheme"],
        "bearer"
    );
    let mut checked = Vec::new();
    for (path, item) in document["paths"].as_object().expect("paths") {
        for (method, operation) in item.as_object().expect("operations") {
            let method = Method::from_bytes(method.to_uppercase().as_bytes()).expect("method");
            let what = format!("{method} {path}");
            let security = operation["security"]
                .as_array()
                .unwrap_or_else(|| panic!("{what} declares no security"));
            let url = concrete(path);
            let body = (method != Method::GET).then(|| json!({}));
            if security
                .iter()
                .any(|r| r.as_object().is_some_and(|o| o.is_empty()))
            {
                let open = call(server, method.clone(), &url, None, body.as_ref()).await;
                assert!(
                    open.status != 401 && open.status != 403,
                    "{what} is declared open: {}",
                    open.status
                );
                continue;
            }
            let scope = security[0]["bearer"][0]
                .as_str()
                .unwrap_or_else(|| panic!("{what}: {security:?}"));
            let expected = if path == "/openapi.json" {
                "read"
            } else if path.starts_with("/admin") || path == "/metrics" {
                "admin"
            } else if method == Method::GET {
                "read"
            } else {
                "write"
            };
            assert_eq!(scope, expected, "{what}");

            let anonymous = call(server, method.clone(), &url, None, body.as_ref()).await;
            assert_problem(&anonymous, 401, r#"realm="projector""#, &what);
            let forged = call(
                server,
                method.clone(),
                &url,
                Some("pjk_not-a-key"),
                body.as_ref(),
            )
            .await;
            assert_problem(&forged, 401, r#"error="invalid_token""#, &what);
            for (other, key) in &keyed.keys {
                let reply = call(server, method.clone(), &url, Some(key), body.as_ref()).await;
                if *other == scope {
                    assert!(
                        reply.status != 401 && reply.status != 403,
                        "{what} with the {scope} scope: {} {}",
                        reply.status,
                        reply.text
                    );
                } else {
                    assert_problem(
                        &reply,
                        403,
                        &format!(r#"error="insufficient_scope", scope="{scope}""#),
                        &format!("{what} with the {other} scope"),
                    );
                }
            }
            checked.push(what);
        }
    }
    assert!(checked.len() >= 18, "only {checked:?} checked");
    // Every service's operations are walked, the product catalogue's too.
    for operation in [
        "POST /api/products",
        "PATCH /api/products/{id}",
        "DELETE /api/products/{id}",
        "GET /api/products/{id}",
        "POST /api/products/{id}/price",
    ] {
        assert!(
            checked.iter().any(|c| c == operation),
            "{operation} is not in {checked:?}"
        );
    }

    // /health and /ready stay open; /docs is open by default and /metrics is not.
    assert_eq!(server.get("/health").await.status, 200);
    assert_eq!(server.get("/docs").await.status, 200);
    assert_problem(&server.get("/metrics").await, 401, "Bearer", "/metrics");
    // A route that does not exist says so only to a caller with a valid token.
    assert_problem(
        &server.get("/api/nothing").await,
        401,
        "Bearer",
        "/api/nothing",
    );
    let missing = call(
        server,
        Method::GET,
        "/api/nothing",
        Some(keyed.key("read")),
        None,
    )
    .await;
    assert_eq!(missing.status, 404);
}

#[tokio::test]
async fn metrics_and_docs_are_opened_or_closed_by_configuration() {
    let keyed = Keyed::start(&["--public", "metrics"]).await;
    let server = &keyed.server;
    assert_eq!(server.get("/metrics").await.status, 200);
    assert_problem(&server.get("/docs").await, 401, "Bearer", "/docs");
    assert_problem(
        &server.get("/openapi.json").await,
        401,
        "Bearer",
        "/openapi.json",
    );
    let document = call(
        server,
        Method::GET,
        "/openapi.json",
        Some(keyed.key("read")),
        None,
    )
    .await
    .expect(200)
    .json();
    assert_eq!(
        document["paths"]["/metrics"]["get"]["security"],
        json!([{}]),
        "the document says /metrics is open"
    );
}

#[tokio::test]
async fn the_acting_user_is_the_principal_and_keys_are_read_again() {
    let keyed = Keyed::start(&[]).await;
    let server = &keyed.server;
    let alice = make_key(&keyed.file, "alice", "read,write").await;
    // The file changed after the server read it: the new key works without a restart.
    let created =
        eventually("the new key to be accepted", || async {
            let reply = server
            .send(
                Method::POST,
                "/api/issues",
                Some(&json!({"title": "Login fails", "description": "always", "priority": "high"})),
                &[("Authorization", &format!("Bearer {alice}")), ("X-User-Id", "mallory")],
            )
            .await;
            if reply.status == 201 {
                Ok(reply)
            } else {
                Err(reply)
            }
        })
        .await;
    let body = created.json();
    let id = body["id"].as_str().expect("id").to_owned();
    let position = body["position"].as_u64().expect("position");
    let issue = call(
        server,
        Method::GET,
        &format!("/api/issues/{id}?min_position={position}"),
        Some(&alice),
        None,
    )
    .await
    .expect(200)
    .json();
    assert_eq!(
        issue["created_by"], "alice",
        "X-User-Id is ignored once authenticated"
    );

    // Two callers may use the same idempotency key for different requests.
    let writer = keyed.key("write");
    for (token, title) in [(alice.as_str(), "first"), (writer, "second")] {
        let reply = server
            .send(
                Method::POST,
                "/api/issues",
                Some(&json!({"title": title, "description": "d", "priority": "low"})),
                &[
                    ("Authorization", &format!("Bearer {token}")),
                    ("Idempotency-Key", "same-key"),
                ],
            )
            .await;
        assert_eq!(reply.status, 201, "{title}: {}", reply.text);
    }
}

#[tokio::test]
async fn without_keys_the_server_stays_on_loopback() {
    let dir = projector_testkit::temp_dir();
    let data = dir.path().join("data");
    let refused = projector(
        &[
            "serve",
            "--addr",
            "0.0.0.0:0",
            "--data",
            data.to_str().expect("path"),
        ],
        &[],
        Duration::from_secs(30),
    )
    .await;
    assert!(!refused.success);
    assert!(
        refused.stderr.contains("--insecure-no-auth"),
        "{}",
        refused.stderr
    );
    // Told explicitly, it serves; and on loopback it serves without being told, saying so.
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_projector"))
        .args([
            "serve",
            "--addr",
            "0.0.0.0:0",
            "--insecure-no-auth",
            "--data",
        ])
        .arg(&data)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("start projector serve");
    let mut lines = tokio::io::BufReader::new(child.stdout.take().expect("stdout")).lines();
    let listening = tokio::time::timeout(Duration::from_secs(30), lines.next_line())
        .await
        .expect("started in time")
        .expect("stdout")
        .unwrap_or_default();
    assert!(
        listening.starts_with("projector listening on http://0.0.0.0:"),
        "{listening}"
    );
    child.kill().await.expect("stopped");
    let local = Server::start_with(Storage::fresh().await).await;
    local
        .wait_for_log("the start-up log says authentication is off", |l| {
            l.contains("authentication is off")
        })
        .await;
}

/// Signs a token with the fixture key `pem` (`kid` in its header).
fn token(pem: &str, algorithm: Algorithm, kid: Option<&str>, claims: &Value) -> String {
    let pem = std::fs::read(Path::new(FIXTURES).join(pem)).expect("fixture key");
    let key = match algorithm {
        Algorithm::ES256 => EncodingKey::from_ec_pem(&pem),
        _ => EncodingKey::from_rsa_pem(&pem),
    }
    .expect("signing key");
    let mut header = Header::new(algorithm);
    header.kid = kid.map(str::to_owned);
    jsonwebtoken::encode(&header, claims, &key).expect("signed")
}

fn claims(sub: &str, scope: &str, exp_in: i64) -> Value {
    let now = chrono::Utc::now().timestamp();
    json!({"sub": sub, "scope": scope, "iss": ISSUER, "aud": AUDIENCE, "iat": now, "exp": now + exp_in})
}

async fn check_jwts(server: &Server) {
    let path = "/api/customers/c1/orders";
    for (pem, algorithm, kid) in [
        ("jwt-rsa.pem", Algorithm::RS256, "rsa-1"),
        ("jwt-ec.pem", Algorithm::ES256, "ec-1"),
    ] {
        let good = token(
            pem,
            algorithm,
            Some(kid),
            &claims("carol", "openid read", 300),
        );
        assert_eq!(
            call(server, Method::GET, path, Some(&good), None)
                .await
                .status,
            200,
            "{algorithm:?}"
        );
        let writer = token(pem, algorithm, Some(kid), &claims("carol", "write", 300));
        assert_problem(
            &call(server, Method::GET, path, Some(&writer), None).await,
            403,
            "insufficient_scope",
            "write scope only",
        );
    }
    let refused = [
        (
            "expired",
            token(
                "jwt-rsa.pem",
                Algorithm::RS256,
                Some("rsa-1"),
                &claims("carol", "read", -120),
            ),
        ),
        ("not yet valid", {
            let mut c = claims("carol", "read", 600);
            c["nbf"] = json!(chrono::Utc::now().timestamp() + 300);
            token("jwt-rsa.pem", Algorithm::RS256, Some("rsa-1"), &c)
        }),
        ("another issuer", {
            let mut c = claims("carol", "read", 300);
            c["iss"] = json!("https://elsewhere.test/");
            token("jwt-rsa.pem", Algorithm::RS256, Some("rsa-1"), &c)
        }),
        ("another audience", {
            let mut c = claims("carol", "read", 300);
            c["aud"] = json!("someone-else");
            token("jwt-ec.pem", Algorithm::ES256, Some("ec-1"), &c)
        }),
        (
            "an unknown key",
            token(
                "jwt-rsa-stranger.pem",
                Algorithm::RS256,
                Some("rsa-1"),
                &claims("carol", "read", 300),
            ),
        ),
        ("no expiry", {
            let mut c = claims("carol", "read", 300);
            c.as_object_mut().expect("claims").remove("exp");
            token("jwt-rsa.pem", Algorithm::RS256, Some("rsa-1"), &c)
        }),
        ("an HMAC over the public key", {
            let jwks = std::fs::read(Path::new(FIXTURES).join("jwks.json")).expect("jwks");
            let mut header = Header::new(Algorithm::HS256);
            header.kid = Some("rsa-1".into());
            jsonwebtoken::encode(
                &header,
                &claims("carol", "read admin", 300),
                &EncodingKey::from_secret(&jwks).expect("an HMAC key"),
            )
            .expect("signed")
        }),
    ];
    for (what, bad) in refused {
        assert_problem(
            &call(server, Method::GET, path, Some(&bad), None).await,
            401,
            "invalid_token",
            what,
        );
    }
}

/// A JWT's `sub` is who acts: the issue tracker records it as the creator and as the user of
/// every change in the history, whatever `X-User-Id` says.
async fn check_jwt_subject_acts(server: &Server) {
    let dave = token(
        "jwt-ec.pem",
        Algorithm::ES256,
        Some("ec-1"),
        &claims("dave", "read write", 300),
    );
    let bearer = format!("Bearer {dave}");
    let headers = [("Authorization", bearer.as_str()), ("X-User-Id", "mallory")];
    let created = server
        .send(
            Method::POST,
            "/api/issues",
            Some(&json!({"title": "Checkout slow", "description": "d", "priority": "low"})),
            &headers,
        )
        .await
        .expect(201)
        .json();
    let id = created["id"].as_str().expect("id").to_owned();
    let position = server
        .send(
            Method::PATCH,
            &format!("/api/issues/{id}"),
            Some(&json!({"priority": "high"})),
            &headers,
        )
        .await
        .expect(202)
        .position();
    let issue = call(
        server,
        Method::GET,
        &format!("/api/issues/{id}?min_position={position}"),
        Some(&dave),
        None,
    )
    .await
    .expect(200)
    .json();
    assert_eq!(issue["created_by"], "dave", "{issue}");
    assert_eq!(issue["updated_by"], "dave", "{issue}");
    let history = call(
        server,
        Method::GET,
        &format!("/api/issues/{id}/history?min_position={position}"),
        Some(&dave),
        None,
    )
    .await
    .expect(200)
    .json();
    let changes = history["changes"].as_array().expect("changes");
    assert!(changes.len() >= 2, "{history}");
    for change in changes {
        assert_eq!(change["user_id"], "dave", "{change}");
    }
}

#[tokio::test]
async fn jwts_from_a_jwks_file_are_verified() {
    let jwks = format!("{FIXTURES}/jwks.json");
    let server = Server::start_with_args(
        Storage::fresh().await,
        &[
            "--jwks",
            &jwks,
            "--jwt-issuer",
            ISSUER,
            "--jwt-audience",
            AUDIENCE,
        ],
    )
    .await;
    check_jwts(&server).await;
    check_jwt_subject_acts(&server).await;
}

// The identity provider runs on the test's runtime while the server starts: it needs a thread
// of its own.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jwts_from_a_jwks_url_are_verified() {
    let jwks = std::fs::read_to_string(format!("{FIXTURES}/jwks.json")).expect("jwks");
    let url = serve_once_per_connection(jwks).await;
    let server = Server::start_with_args(
        Storage::fresh().await,
        &[
            "--jwks",
            &url,
            "--jwt-issuer",
            ISSUER,
            "--jwt-audience",
            AUDIENCE,
        ],
    )
    .await;
    check_jwts(&server).await;
}

/// A tiny identity provider on loopback: answers every request with `body` as JSON.
async fn serve_once_per_connection(body: String) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("address");
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let body = body.clone();
            tokio::spawn(async move {
                let mut request = vec![0u8; 4096];
                let _ = socket.read(&mut request).await;
                let response = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = socket.write_all(response.as_bytes()).await;
            });
        }
    });
    format!("http://{addr}/.well-known/jwks.json")
}

#[tokio::test]
async fn the_admin_api_can_have_a_listener_of_its_own() {
    let keyed = Keyed::start(&["--admin-addr", "0"]).await;
    let server = &keyed.server;
    let admin = server.admin_base().expect("an admin listener");
    assert!(admin.starts_with("http://127.0.0.1:"), "{admin}");
    // Not on the main listener, even with the admin scope.
    let main = call(
        server,
        Method::GET,
        "/admin/projections",
        Some(keyed.key("admin")),
        None,
    )
    .await;
    assert_eq!(main.status, 404, "{}", main.text);
    let document = call(server, Method::GET, "/openapi.json", None, None)
        .await
        .expect(200)
        .json();
    assert!(document["paths"].get("/admin/projections").is_none());
    // On loopback its own listener needs no token, and serves its own document.
    let client = reqwest::Client::new();
    let listed = client
        .get(format!("{admin}/admin/projections"))
        .send()
        .await
        .expect("admin");
    assert_eq!(listed.status(), 200);
    let listed: Value = listed.json().await.expect("json");
    assert!(
        listed["projections"]
            .as_array()
            .is_some_and(|p| !p.is_empty())
    );
    let rebuild = client
        .post(format!("{admin}/admin/projections/order_summary/rebuild"))
        .send()
        .await
        .expect("rebuild");
    assert_eq!(rebuild.status(), 202);
    let admin_document: Value = client
        .get(format!("{admin}/openapi.json"))
        .send()
        .await
        .expect("document")
        .json()
        .await
        .expect("json");
    assert!(admin_document["paths"].get("/admin/projections").is_some());
    assert!(admin_document["paths"].get("/api/orders").is_none());
    // Anything else is not there.
    let orders = client
        .get(format!("{admin}/api/customers/c1/orders"))
        .send()
        .await
        .expect("get");
    assert_eq!(orders.status(), 404);
}

/// Off loopback (here every address, `0.0.0.0`), the admin listener is not open: with
/// authentication on, its admin routes need the `admin` scope like the main listener's, while
/// health stays open.
#[tokio::test]
async fn an_admin_listener_off_loopback_needs_the_admin_scope() {
    let keyed = Keyed::start(&["--admin-addr", "0.0.0.0:0"]).await;
    let server = &keyed.server;
    let listening = server.admin_base().expect("an admin listener");
    let port = listening
        .strip_prefix("http://0.0.0.0:")
        .unwrap_or_else(|| panic!("listening on {listening}"));
    // Reached over loopback, but listening on every address: not open.
    let admin = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();
    let ask = |token: Option<&str>, method: Method, path: &str| {
        let mut request = client.request(method, format!("{admin}{path}"));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        async move {
            let response = request.send().await.expect("admin listener");
            let status = response.status().as_u16();
            let headers = response.headers().clone();
            (status, headers, response.text().await.expect("body"))
        }
    };
    let rebuild = "/admin/projections/order_summary/rebuild";
    for (token, status, what) in [
        (None, 401, "no token"),
        (Some("pjk_not-a-key"), 401, "an unknown key"),
        (Some(keyed.key("read")), 403, "the read scope"),
        (Some(keyed.key("write")), 403, "the write scope"),
    ] {
        for (method, path) in [(Method::GET, "/admin/projections"), (Method::POST, rebuild)] {
            let (got, headers, body) = ask(token, method.clone(), path).await;
            assert_eq!(got, status, "{what}, {method} {path}: {body}");
            assert_eq!(
                headers.get("content-type").and_then(|v| v.to_str().ok()),
                Some("application/problem+json"),
                "{what}"
            );
            assert!(
                headers
                    .get("www-authenticate")
                    .and_then(|v| v.to_str().ok())
                    .is_some_and(|v| v.starts_with("Bearer")),
                "{what}: no challenge"
            );
        }
    }
    let (listed, _, body) = ask(Some(keyed.key("admin")), Method::GET, "/admin/projections").await;
    assert_eq!(listed, 200, "{body}");
    let (rebuilt, _, body) = ask(Some(keyed.key("admin")), Method::POST, rebuild).await;
    assert_eq!(rebuilt, 202, "{body}");
    let (health, _, body) = ask(None, Method::GET, "/health").await;
    assert_eq!(health, 200, "{body}");
}
