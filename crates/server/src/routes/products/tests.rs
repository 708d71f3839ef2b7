//! The product routes keep static segments beside `{id}` apart: `GET /api/products/search`
//! reaches its own handler, not be read as product `search` (an id refused at creation).

use axum::Router;
use axum::body::Body;
use axum::http::{Method, Request};
use axum::routing::{MethodRouter, get};
use tower::ServiceExt;

use super::router;

/// The path templates this module registers, from the document its router builds.
fn templates() -> Vec<String> {
    let (_, document) = router().split_for_parts();
    document.paths.paths.keys().cloned().collect()
}

/// A handler that answers with `name`.
fn answers(name: &'static str) -> MethodRouter {
    get(move || async move { name })
        .patch(move || async move { name })
        .post(move || async move { name })
        .delete(move || async move { name })
}

async fn reached(router: &Router, method: Method, path: &str) -> String {
    let request = Request::builder()
        .method(method)
        .uri(path)
        .body(Body::empty())
        .expect("a request");
    let response = router.clone().oneshot(request).await.expect("an answer");
    let body = axum::body::to_bytes(response.into_body(), 1024)
        .await
        .expect("a body");
    String::from_utf8_lossy(&body).into_owned()
}

#[tokio::test]
async fn a_static_segment_beside_the_id_routes_to_its_own_handler() {
    let templates = templates();
    assert_eq!(
        templates,
        [
            "/api/products",
            "/api/products/search",
            "/api/products/{id}",
            "/api/products/{id}/price"
        ]
    );
    // The same templates, each answering with its own name.
    let mut routes = Router::new();
    for template in &templates {
        routes = routes.route(template, answers(template_name(template)));
    }
    assert_eq!(
        reached(&routes, Method::GET, "/api/products/search").await,
        "search"
    );
    assert_eq!(
        reached(&routes, Method::GET, "/api/products/lamp-1").await,
        "{id}"
    );
    assert_eq!(
        reached(&routes, Method::PATCH, "/api/products/lamp-1").await,
        "{id}"
    );
    assert_eq!(
        reached(&routes, Method::DELETE, "/api/products/searching").await,
        "{id}"
    );
    assert_eq!(
        reached(&routes, Method::POST, "/api/products/search/price").await,
        "{id}/price",
        "a path below the static segment is a product's"
    );
    assert_eq!(
        reached(&routes, Method::POST, "/api/products").await,
        "collection"
    );
}

fn template_name(template: &str) -> &'static str {
    match template {
        "/api/products" => "collection",
        "/api/products/search" => "search",
        "/api/products/{id}" => "{id}",
        "/api/products/{id}/price" => "{id}/price",
        other => panic!("a template the test does not know: {other}"),
    }
}

/// The fields a product body is refused for, through the route's own checks (and, for what is
/// accepted, the decider's: see `fuzzing::write_body`).
fn refused_fields(kind: crate::fuzzing::WriteBody, body: &str) -> Vec<String> {
    match crate::fuzzing::write_body(kind, body.as_bytes()) {
        Ok(()) => Vec::new(),
        Err(crate::error::ApiError::Validation(errors)) => {
            errors.into_iter().map(|e| e.field).collect()
        }
        Err(other) => panic!("{body}: {other}"),
    }
}

#[test]
fn product_bodies_are_checked_field_by_field() {
    use crate::fuzzing::WriteBody::{CreateProduct, ProductPrice, UpdateProduct};
    let good = r#"{"id": "lamp-1", "name": "Desk lamp", "description": "Warm.\nTwo settings.",
        "category": "lighting", "price": 25.99, "tags": ["led", "desk"]}"#;
    assert_eq!(refused_fields(CreateProduct, good), Vec::<String>::new());
    let minimal = r#"{"name": "Lamp", "category": "lighting", "price": 0.01}"#;
    assert_eq!(refused_fields(CreateProduct, minimal), Vec::<String>::new());
    let bad = r#"{"id": "a b", "name": " ", "description": "bell\u0007", "category": "Garden Tools",
        "price": 1000000.01, "tags": ["led", "LED", "led"], "colour": "red"}"#;
    assert_eq!(
        refused_fields(CreateProduct, bad),
        [
            "colour",
            "id",
            "name",
            "description",
            "category",
            "price",
            "tags[1]",
            "tags[2]"
        ]
    );
    let many: Vec<String> = (0..=crate::limits::TAGS_MAX)
        .map(|i| format!("\"t{i}\""))
        .collect();
    let too_many = format!(
        r#"{{"name": "Lamp", "category": "lighting", "price": 1, "tags": [{}]}}"#,
        many.join(",")
    );
    assert_eq!(refused_fields(CreateProduct, &too_many), ["tags"]);
    for (price, field) in [
        ("0", "price"),
        ("-1", "price"),
        ("0.001", "price"),
        ("\"1\"", "price"),
    ] {
        assert_eq!(
            refused_fields(ProductPrice, &format!(r#"{{"price": {price}}}"#)),
            [field],
            "{price}"
        );
    }
    assert_eq!(
        refused_fields(ProductPrice, r#"{"price": 1000000}"#),
        Vec::<String>::new()
    );
    assert_eq!(refused_fields(UpdateProduct, "{}"), Vec::<String>::new());
    assert_eq!(
        refused_fields(UpdateProduct, r#"{"name": null, "tags": []}"#),
        Vec::<String>::new()
    );
    assert_eq!(
        refused_fields(UpdateProduct, r#"{"category": "a--b", "price": 3}"#),
        ["price", "category"]
    );
}
