//! The OpenAPI document matches the server: every route, and the validation limits it enforces.

use serde_json::Value;

use crate::helpers::{Reply, Server};

fn schema<'a>(document: &'a Value, name: &str) -> &'a Value {
    &document["components"]["schemas"][name]
}

/// The schema of parameter `name` of `method path`.
fn parameter<'a>(document: &'a Value, path: &str, method: &str, name: &str) -> &'a Value {
    let parameters = document["paths"][path][method]["parameters"]
        .as_array()
        .unwrap_or_else(|| panic!("{method} {path} has no parameters"));
    let found = parameters.iter().find(|p| p["name"] == name);
    &found.unwrap_or_else(|| panic!("{method} {path} has no {name}"))["schema"]
}

/// The document states what the validators enforce, from the same constants: ids and names in
/// paths, headers, page sizes, and amounts (above zero where they must be, in cents).
fn the_limits_come_from_the_validators(document: &Value) {
    use projector_server::limits::{
        AMOUNT_MAX, ID_MAX, ID_PATTERN, IDEMPOTENCY_KEY_MAX, IF_MATCH_PATTERN, PAGE_MAX,
    };
    for (path, method, name) in [
        ("/api/orders/{id}/projection", "get", "id"),
        ("/api/orders/{id}/ship", "post", "id"),
        ("/api/orders/{id}/items/{sku}", "delete", "sku"),
        ("/api/customers/{id}/orders", "get", "id"),
        ("/api/customers/{id}", "patch", "id"),
        ("/api/products/{id}/reviews", "post", "id"),
        ("/api/issues/{id}", "patch", "id"),
    ] {
        let id = parameter(document, path, method, name);
        assert_eq!(id["maxLength"], ID_MAX, "{method} {path} {name}");
        assert_eq!(id["minLength"], 1, "{method} {path} {name}");
        assert_eq!(id["pattern"], ID_PATTERN, "{method} {path} {name}");
    }
    let projection = parameter(
        document,
        "/admin/projections/{name}/rebuild",
        "post",
        "name",
    );
    assert_eq!(
        projection["maxLength"],
        projector_core::ProjectionName::MAX_LEN
    );
    assert_eq!(projection["pattern"], "^[a-z][a-z0-9_]{0,47}$");
    let if_match = parameter(document, "/api/orders/{id}/ship", "post", "If-Match");
    assert_eq!(if_match["pattern"], IF_MATCH_PATTERN);
    let key = parameter(document, "/api/orders", "post", "Idempotency-Key");
    assert_eq!(key["maxLength"], IDEMPOTENCY_KEY_MAX);
    let user = parameter(document, "/api/issues", "post", "X-User-Id");
    assert_eq!(user["maxLength"], projector_core::UserId::MAX_LEN);
    let page = parameter(document, "/api/customers/{id}/orders", "get", "limit");
    assert_eq!(page["maximum"], PAGE_MAX);
    let wait = parameter(document, "/api/customers/{id}/orders", "get", "wait_ms");
    assert_eq!(wait["maximum"], projector_server::limits::WAIT_MS_MAX);
    let position = parameter(
        document,
        "/api/orders/{id}/projection",
        "get",
        "min_position",
    );
    assert_eq!(position["maximum"], i64::MAX);
    for path in ["/api/orders/{id}/history", "/api/issues/{id}/history"] {
        let limit = parameter(document, path, "get", "limit");
        assert_eq!(
            limit["maximum"],
            projector_server::limits::HISTORY_PAGE_MAX,
            "{path}"
        );
    }
    let q = parameter(document, "/api/orders/search", "get", "q");
    assert_eq!(q["maxLength"], projector_server::limits::SEARCH_TEXT_MAX);
    assert_eq!(q["minLength"], 1);
    let search_limit = parameter(document, "/api/orders/search", "get", "limit");
    assert_eq!(search_limit["maximum"], PAGE_MAX);
    let customer = parameter(document, "/api/orders/search", "get", "customer_id");
    assert_eq!(customer["pattern"], ID_PATTERN);
    let status = parameter(document, "/api/orders/search", "get", "status");
    for name in projector_orders::OrderStatus::ALL.map(|s| s.as_str()) {
        assert!(
            status["pattern"].as_str().is_some_and(|p| p.contains(name)),
            "{name} is not in {status}"
        );
    }
    let sort = parameter(document, "/api/orders/search", "get", "sort");
    assert_eq!(sort["pattern"], "^(relevance|newest)$");
    let state = parameter(document, "/api/issues", "get", "state");
    for name in projector_issues::IssueState::ALL.iter().map(|s| s.as_str()) {
        assert!(
            state["pattern"].as_str().is_some_and(|p| p.contains(name)),
            "{name} is not in {state}"
        );
    }

    let price = &schema(document, "OrderItemRequest")["properties"]["unit_price"];
    assert_eq!(price["minimum"], 0, "{price}");
    assert!(price.get("exclusiveMinimum").is_none(), "a price may be 0");
    assert_eq!(price["multipleOf"].as_f64(), Some(0.01), "{price}");
    assert_eq!(price["maximum"].as_f64(), Some(AMOUNT_MAX), "{price}");
    let refund = &schema(document, "RefundRequest")["properties"]["amount"];
    assert_eq!(refund["exclusiveMinimum"], 0, "{refund}");
    assert!(refund.get("minimum").is_none(), "{refund}");
    assert_eq!(refund["multipleOf"].as_f64(), Some(0.01), "{refund}");
    assert_eq!(refund["maximum"].as_f64(), Some(AMOUNT_MAX), "{refund}");
    let report = &schema(document, "DailySalesReport")["properties"];
    for field in ["gross_revenue", "refunded_amount", "net_revenue"] {
        assert_eq!(report[field]["multipleOf"].as_f64(), Some(0.01), "{field}");
        assert_eq!(report[field]["minimum"], 0, "{field}");
    }
    let update = schema(document, "UpdateIssueRequest");
    assert_eq!(
        update["properties"]["assignee"]["maxLength"],
        projector_core::UserId::MAX_LEN
    );
    assert_eq!(
        update["properties"]["title"]["maxLength"],
        projector_server::limits::TITLE_MAX
    );
}

/// The product bodies state the product domain's limits: text lengths, slug patterns, distinct
/// tags, and a price above zero up to its maximum, in cents.
fn the_product_limits_come_from_the_domain(document: &Value) {
    use projector_products::limits::SLUG_PATTERN;
    use projector_server::limits::{
        CATEGORY_MAX, ID_PATTERN, PRICE_MAX, PRODUCT_DESCRIPTION_MAX, PRODUCT_NAME_MAX, TAG_MAX,
        TAGS_MAX,
    };
    for (path, method) in [
        ("/api/products/{id}", "get"),
        ("/api/products/{id}", "patch"),
        ("/api/products/{id}", "delete"),
        ("/api/products/{id}/price", "post"),
    ] {
        assert_eq!(
            parameter(document, path, method, "id")["pattern"],
            ID_PATTERN,
            "{method} {path}"
        );
    }
    for body in ["CreateProductRequest", "UpdateProductRequest"] {
        let properties = &schema(document, body)["properties"];
        assert_eq!(properties["name"]["maxLength"], PRODUCT_NAME_MAX, "{body}");
        assert_eq!(
            properties["description"]["maxLength"], PRODUCT_DESCRIPTION_MAX,
            "{body}"
        );
        assert_eq!(properties["category"]["maxLength"], CATEGORY_MAX, "{body}");
        assert_eq!(properties["category"]["pattern"], SLUG_PATTERN, "{body}");
        let tags = &properties["tags"];
        assert_eq!(tags["maxItems"], TAGS_MAX, "{body}");
        assert_eq!(tags["uniqueItems"], true, "{body}");
        assert_eq!(tags["items"]["maxLength"], TAG_MAX, "{body}");
        assert_eq!(tags["items"]["pattern"], SLUG_PATTERN, "{body}");
        assert_eq!(
            schema(document, body)["additionalProperties"],
            false,
            "{body}"
        );
    }
    let create = schema(document, "CreateProductRequest");
    let required: Vec<&str> = create["required"]
        .as_array()
        .expect("required")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert_eq!(required, ["name", "category", "price"]);
    for body in ["CreateProductRequest", "PriceRequest"] {
        let price = &schema(document, body)["properties"]["price"];
        assert_eq!(price["exclusiveMinimum"], 0, "{body}: {price}");
        assert!(price.get("minimum").is_none(), "{body}: {price}");
        assert_eq!(price["maximum"].as_f64(), Some(PRICE_MAX), "{body}");
        assert_eq!(price["multipleOf"].as_f64(), Some(0.01), "{body}");
    }
    let product = &document["paths"]["/api/products"]["post"];
    assert_eq!(product["tags"][0], "products");
    assert!(product["responses"]["201"].is_object());
}

/// The customer bodies state the customer decider's limits.
fn the_customer_limits_come_from_the_decider(document: &Value) {
    use projector_server::limits::{
        EMAIL_MAX, ID_PATTERN, NAME_MAX, RATING_MAX, RATING_MIN, REGION_MAX, REVIEW_TEXT_MAX,
    };
    for body in ["RegisterCustomerRequest", "UpdateCustomerRequest"] {
        let properties = &schema(document, body)["properties"];
        assert_eq!(properties["email"]["maxLength"], EMAIL_MAX, "{body}");
        assert!(
            properties["email"]["pattern"]
                .as_str()
                .is_some_and(|p| p.contains('@')),
            "{body}: {}",
            properties["email"]
        );
        assert_eq!(properties["name"]["maxLength"], NAME_MAX, "{body}");
        assert_eq!(properties["region"]["maxLength"], REGION_MAX, "{body}");
    }
    assert_eq!(
        schema(document, "RegisterCustomerRequest")["properties"]["id"]["pattern"],
        ID_PATTERN
    );
    let update = schema(document, "UpdateCustomerRequest");
    assert_eq!(update["minProperties"], 1, "{update}");
    assert!(
        update.get("required").is_none() && update["properties"]["name"]["type"] == "string",
        "every field optional, none null: {update}"
    );
    let tier = &schema(document, "ChangeTierRequest")["properties"]["tier"];
    for name in projector_customers::Tier::ALL.iter().map(|t| t.as_str()) {
        assert!(
            tier["pattern"].as_str().is_some_and(|p| p.contains(name)),
            "{name} is not in {tier}"
        );
    }
    let review = &schema(document, "SubmitReviewRequest")["properties"];
    assert_eq!(review["rating"]["minimum"], RATING_MIN);
    assert_eq!(review["rating"]["maximum"], RATING_MAX);
    assert_eq!(review["text"]["maxLength"], REVIEW_TEXT_MAX);
    assert!(
        review["text"].get("minLength").is_none(),
        "a review may be a rating alone"
    );
    assert_eq!(review["customer_id"]["pattern"], ID_PATTERN);
}

pub async fn the_document_covers_every_route_and_states_the_limits() {
    let server = Server::start().await;
    let document = server.get("/openapi.json").await.expect(200).json();
    assert_eq!(document["openapi"], "3.1.0");
    let paths = document["paths"].as_object().expect("paths");
    for (path, methods) in [
        ("/api/orders", &["post"][..]),
        ("/api/orders/{id}/items", &["post"][..]),
        ("/api/orders/{id}/items/{sku}", &["delete"][..]),
        ("/api/orders/{id}/ship", &["post"][..]),
        ("/api/orders/{id}/complete", &["post"][..]),
        ("/api/orders/{id}/cancel", &["post"][..]),
        ("/api/orders/{id}/refund", &["post"][..]),
        ("/api/orders/{id}/projection", &["get"][..]),
        ("/api/orders/{id}/history", &["get"][..]),
        ("/api/customers", &["post"][..]),
        ("/api/customers/{id}", &["patch", "get"][..]),
        ("/api/customers/{id}/tier", &["post"][..]),
        ("/api/products/{id}/reviews", &["post"][..]),
        ("/api/orders/search", &["get"][..]),
        ("/api/customers/{id}/orders", &["get"][..]),
        ("/api/customers/{id}/activity", &["get"][..]),
        ("/api/reports/daily-sales", &["get"][..]),
        ("/health", &["get"][..]),
        ("/ready", &["get"][..]),
        ("/metrics", &["get"][..]),
        ("/openapi.json", &["get"][..]),
        ("/api/issues", &["post", "get"][..]),
        ("/api/issues/{id}", &["patch", "get"][..]),
        ("/api/issues/{id}/comments", &["post"][..]),
        ("/api/issues/{id}/history", &["get"][..]),
        ("/api/products", &["post"][..]),
        ("/api/products/{id}", &["patch", "delete", "get"][..]),
        ("/api/products/{id}/price", &["post"][..]),
        ("/admin/projections", &["get"][..]),
        ("/admin/projections/{name}/rebuild", &["post"][..]),
        ("/admin/projections/{name}/resume", &["post"][..]),
        ("/admin/projections/{name}/dead-letters", &["get"][..]),
        (
            "/admin/projections/{name}/dead-letters/retry",
            &["post"][..],
        ),
        (
            "/admin/projections/{name}/dead-letters/{position}",
            &["get"][..],
        ),
        (
            "/admin/projections/{name}/dead-letters/{position}/retry",
            &["post"][..],
        ),
        (
            "/admin/projections/{name}/dead-letters/{position}/skip",
            &["post"][..],
        ),
        ("/admin/projections/{name}/pause", &["post"][..]),
        ("/admin", &["get"][..]),
        ("/admin/", &["get"][..]),
        ("/admin/assets/{file}", &["get"][..]),
        ("/admin/live", &["get"][..]),
    ] {
        for method in methods {
            let operation = &paths[path][method];
            assert!(operation.is_object(), "{method} {path} is not documented");
            if path.starts_with("/api/") || path.starts_with("/admin/projections/") {
                let responses = operation["responses"].as_object().expect("responses");
                assert!(
                    responses.contains_key("422"),
                    "{method} {path} does not document 422"
                );
                let problem =
                    &responses["422"]["content"]["application/problem+json"]["schema"]["$ref"];
                assert_eq!(problem, "#/components/schemas/Problem", "{method} {path}");
                for status in ["401", "403"] {
                    assert!(
                        responses.contains_key(status),
                        "{method} {path} does not document {status}"
                    );
                }
            }
        }
    }
    assert_eq!(
        paths.len(),
        42,
        "a route the test does not know: {:?}",
        paths.keys().collect::<Vec<_>>()
    );

    let position = parameter(
        &document,
        "/admin/projections/{name}/dead-letters/{position}/retry",
        "post",
        "position",
    );
    assert_eq!(position["type"], "integer", "{position}");
    assert_eq!(position["minimum"], 0, "{position}");
    let retried = &paths["/admin/projections/{name}/dead-letters/{position}/retry"]["post"];
    for status in ["200", "404", "409", "422", "503"] {
        assert!(
            retried["responses"].get(status).is_some(),
            "the retry of a dead letter does not document {status}"
        );
    }

    let rebuild = &paths["/admin/projections/{name}/rebuild"]["post"];
    assert_eq!(rebuild["tags"][0], "admin");
    for status in ["202", "400", "404", "409", "415", "422", "503"] {
        assert!(
            rebuild["responses"][status].is_object(),
            "the rebuild route does not document {status}"
        );
    }
    // Where a backfill starts: the optional body.
    let body = &rebuild["requestBody"]["content"]["application/json"]["schema"];
    assert!(
        body.is_object(),
        "the rebuild documents its body: {rebuild}"
    );
    assert!(
        !rebuild["requestBody"]["required"]
            .as_bool()
            .unwrap_or(false),
        "{rebuild}"
    );
    let request = schema(&document, "RebuildRequest");
    assert_eq!(
        request["oneOf"].as_array().map(Vec::len),
        Some(3),
        "{request}"
    );
    let position = schema(&document, "RebuildFromPosition");
    assert_eq!(
        position["properties"]["from_position"]["minimum"], 1,
        "{position}"
    );
    assert_eq!(position["additionalProperties"], false, "{position}");
    let since = schema(&document, "RebuildSince");
    assert_eq!(
        since["properties"]["since"]["format"], "date-time",
        "{since}"
    );
    let pause = &paths["/admin/projections/{name}/pause"]["post"];
    for status in ["200", "404", "409", "422", "503"] {
        assert!(
            pause["responses"][status].is_object(),
            "the pause route does not document {status}"
        );
    }
    let admin = document["tags"]
        .as_array()
        .expect("tags")
        .iter()
        .find(|t| t["name"] == "admin")
        .expect("an admin tag");
    assert!(
        admin["description"]
            .as_str()
            .is_some_and(|d| d.contains("`admin` scope")),
        "{admin}"
    );
    assert!(schema(&document, "ProjectionList").is_object());
    // A projection run as partitions is listed as each partition, which says what it is.
    let view = schema(&document, "ProjectionView");
    assert!(
        view["description"]
            .as_str()
            .is_some_and(|d| d.contains("partitions")),
        "{view}"
    );
    assert!(view["properties"]["partition"].is_object(), "{view}");
    let partition = schema(&document, "PartitionView");
    for field in ["projection", "index", "count"] {
        assert!(partition["properties"][field].is_object(), "{partition}");
    }

    let create = schema(&document, "CreateOrderRequest");
    assert_eq!(create["additionalProperties"], false);
    assert_eq!(
        create["properties"]["customer_id"]["maxLength"],
        projector_server::limits::ID_MAX
    );
    assert_eq!(
        create["properties"]["customer_id"]["pattern"],
        projector_server::limits::ID_PATTERN
    );
    assert_eq!(
        create["properties"]["items"]["maxItems"],
        projector_server::limits::ITEMS_MAX
    );
    assert_eq!(create["properties"]["items"]["minItems"], 1);
    let item = schema(&document, "OrderItemRequest");
    assert_eq!(item["properties"]["quantity"]["minimum"], 1);
    assert_eq!(
        item["properties"]["quantity"]["maximum"],
        projector_server::limits::QUANTITY_MAX
    );
    assert_eq!(item["properties"]["unit_price"]["minimum"], 0);
    assert_eq!(
        item["properties"]["unit_price"]["maximum"].as_f64(),
        Some(projector_server::limits::AMOUNT_MAX)
    );
    assert_eq!(
        schema(&document, "ShipRequest")["properties"]["tracking"]["maxLength"],
        projector_server::limits::TRACKING_MAX
    );
    assert_eq!(
        schema(&document, "CancelRequest")["properties"]["reason"]["maxLength"],
        projector_server::limits::REASON_MAX
    );
    let issue = schema(&document, "CreateIssueRequest");
    assert_eq!(
        issue["properties"]["title"]["maxLength"],
        projector_server::limits::TITLE_MAX
    );
    assert_eq!(
        issue["properties"]["description"]["maxLength"],
        projector_server::limits::PROSE_MAX
    );
    assert_eq!(
        schema(&document, "CommentRequest")["properties"]["body"]["maxLength"],
        projector_server::limits::PROSE_MAX
    );
    the_limits_come_from_the_validators(&document);
    the_product_limits_come_from_the_domain(&document);
    the_customer_limits_come_from_the_decider(&document);
    // The order's customer region is always present, null until the customer registers.
    let order = schema(&document, "OrderView");
    let region = &order["properties"]["customer_region"];
    assert_eq!(
        region["type"],
        serde_json::json!(["string", "null"]),
        "{region}"
    );
    assert!(
        region["description"]
            .as_str()
            .is_some_and(|d| d.contains("null until")),
        "{region}"
    );
    assert!(
        order["required"]
            .as_array()
            .is_some_and(|r| r.iter().any(|f| f == "customer_region")),
        "{order}"
    );
    let problem = schema(&document, "Problem");
    for field in ["type", "title", "status", "detail", "errors"] {
        assert!(
            problem["properties"][field].is_object(),
            "Problem lacks {field}"
        );
    }

    // The docs page loads everything from this server: no CDN, no online validator.
    let docs = server.get("/docs").await.expect(200);
    assert!(
        docs.header("content-type")
            .is_some_and(|c| c.starts_with("text/html"))
    );
    let mut assets = Vec::new();
    for attribute in ["src=\"", "href=\""] {
        for piece in docs.text.split(attribute).skip(1) {
            let url = piece.split('"').next().unwrap_or_default();
            assert!(
                url.starts_with("data:") || !url.contains("//"),
                "the docs page loads {url} from another host"
            );
            if !url.starts_with("data:") && !url.is_empty() {
                assets.push(url.trim_start_matches("./").to_owned());
            }
        }
    }
    assert!(assets.iter().any(|a| a.ends_with(".js")), "{assets:?}");
    for asset in &assets {
        let served = server.get(&format!("/docs/{asset}")).await;
        assert_eq!(served.status, 200, "/docs/{asset}");
    }
    let initializer = server.get("/docs/swagger-initializer.js").await.expect(200);
    assert!(
        initializer.text.contains("/openapi.json") && !initializer.text.contains("http"),
        "the docs page reads this server's document, and nothing from elsewhere: {}",
        initializer.text
    );
}

/// The server's own OpenAPI document, to check every answer against what it promises: that
/// the status is documented for the operation, with the content type the answer has, and that
/// the body matches that response's schema.
///
/// Uses the `jsonschema` crate: the document is OpenAPI 3.1, whose schemas are JSON Schema
/// 2020-12 (`type` arrays for nullables, `oneOf`, `multipleOf`, patterns), which a hand-written
/// subset would check less faithfully.
///
/// The check is stricter than the document alone. The response schemas leave their objects
/// open (no `additionalProperties`), so a field the document does not declare, or a misspelt
/// optional one, would pass; here every object schema that lists its properties is closed.
/// And `format` (`date-time`, `date`, `uuid`) is validated, not only annotated.
pub struct Contract {
    document: Value,
    /// The document's components, every object schema of them closed.
    components: Value,
}

/// Content types whose bodies are JSON.
const JSON_TYPES: [&str; 2] = ["application/json", "application/problem+json"];

impl Contract {
    /// Loads `GET /openapi.json` from `server`.
    pub async fn load(server: &Server) -> Self {
        Self::new(server.get("/openapi.json").await.expect(200).json())
    }

    /// Checks answers against `document`.
    pub fn new(document: Value) -> Self {
        let mut components = document["components"].clone();
        if let Some(schemas) = components.get_mut("schemas").and_then(Value::as_object_mut) {
            schemas.values_mut().for_each(close_objects);
        }
        Self {
            document,
            components,
        }
    }

    /// The operation `operation_id` of the document.
    #[track_caller]
    fn operation(&self, operation_id: &str) -> &Value {
        self.document["paths"]
            .as_object()
            .expect("paths")
            .values()
            .flat_map(|methods| methods.as_object().expect("methods").values())
            .find(|op| op["operationId"] == operation_id)
            .unwrap_or_else(|| panic!("no operation {operation_id} in the document"))
    }

    /// Whatever is wrong with answering `body` as `content_type` with `status` to
    /// `operation_id`, by the document: an undocumented status or content type, a body its
    /// schema refuses, or a problem whose `status` is not the answer's. Empty when nothing is.
    pub fn violations(
        &self,
        operation_id: &str,
        status: u16,
        content_type: &str,
        body: &Value,
    ) -> Vec<String> {
        let response = &self.operation(operation_id)["responses"][status.to_string()];
        if !response.is_object() {
            return vec![format!("{operation_id} does not document {status}")];
        }
        let schema = &response["content"][content_type]["schema"];
        if !schema.is_object() {
            let documented: Vec<&String> = response["content"]
                .as_object()
                .map(|c| c.keys().collect())
                .unwrap_or_default();
            return vec![format!(
                "{operation_id} {status} documents no {content_type} body, only {documented:?}"
            )];
        }
        let mut schema = schema.clone();
        close_objects(&mut schema);
        // The components are in the root, so `#/components/schemas/...` resolves; the
        // response's schema is its only constraint.
        let root = serde_json::json!({
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "components": self.components,
            "allOf": [schema],
        });
        let validator = jsonschema::options()
            .should_validate_formats(true)
            .build(&root)
            .unwrap_or_else(|e| panic!("the schema of {operation_id} {status} compiles: {e}"));
        let mut violations: Vec<String> = validator
            .iter_errors(body)
            .map(|e| format!("{e} at {:?}", e.instance_path().to_string()))
            .collect();
        if content_type == "application/problem+json" && body["status"] != status {
            violations.push(format!(
                "a {status} problem says its status is {}",
                body["status"]
            ));
        }
        violations
    }

    /// Asserts `body` is a JSON body the document promises for `status` of the operation
    /// `operation_id`. Returns the body for chaining.
    #[track_caller]
    pub fn assert_body<'b>(&self, operation_id: &str, status: u16, body: &'b Value) -> &'b Value {
        let violations = self.violations(operation_id, status, "application/json", body);
        assert!(
            violations.is_empty(),
            "{operation_id} {status} answered a body its schema refuses:\n{}\n{body:#}",
            violations.join("\n")
        );
        body
    }

    /// Asserts `reply` has `status`, and that status, its content type and its body are what
    /// the document promises for `operation_id`. Returns the body.
    #[track_caller]
    pub fn assert_reply(&self, operation_id: &str, status: u16, reply: &Reply) -> Value {
        assert_eq!(
            reply.status.as_u16(),
            status,
            "{operation_id}: unexpected answer: {}",
            reply.text
        );
        let content_type = reply
            .header("content-type")
            .and_then(|t| t.split(';').next())
            .unwrap_or_default()
            .trim()
            .to_owned();
        assert!(
            JSON_TYPES.contains(&content_type.as_str()),
            "{operation_id} {status} answered {content_type:?}: {}",
            reply.text
        );
        let body = reply.json();
        let violations = self.violations(operation_id, status, &content_type, &body);
        assert!(
            violations.is_empty(),
            "{operation_id} {status} ({content_type}) broke its contract:\n{}\n{body:#}",
            violations.join("\n")
        );
        body
    }

    /// Asserts `reply` is a `status` problem the document promises for `operation_id`,
    /// naming exactly `fields` (in `errors`). Returns the problem.
    #[track_caller]
    pub fn assert_problem(
        &self,
        operation_id: &str,
        status: u16,
        fields: &[&str],
        reply: &Reply,
    ) -> Value {
        assert_eq!(
            reply.header("content-type"),
            Some("application/problem+json"),
            "{operation_id} {status}: {}",
            reply.text
        );
        let problem = self.assert_reply(operation_id, status, reply);
        let mut named = reply.fields();
        named.sort();
        let mut wanted: Vec<String> = fields.iter().map(|f| (*f).to_owned()).collect();
        wanted.sort();
        assert_eq!(named, wanted, "{operation_id} {status}: {problem}");
        problem
    }
}

/// Closes every object schema in `schema` that lists its properties and says nothing of
/// others (`additionalProperties: false`), through properties, items and `oneOf`/`anyOf`.
/// `allOf` is left alone: a closed part of it would refuse the other parts' properties.
fn close_objects(schema: &mut Value) {
    let Some(object) = schema.as_object_mut() else {
        return;
    };
    if object.get("properties").is_some_and(Value::is_object)
        && !object.contains_key("additionalProperties")
        && !object.contains_key("unevaluatedProperties")
        && !object.contains_key("allOf")
    {
        object.insert("additionalProperties".into(), Value::Bool(false));
    }
    if let Some(properties) = object.get_mut("properties").and_then(Value::as_object_mut) {
        properties.values_mut().for_each(close_objects);
    }
    for key in ["items", "additionalProperties"] {
        if let Some(inner) = object.get_mut(key) {
            close_objects(inner);
        }
    }
    for key in ["oneOf", "anyOf", "prefixItems"] {
        if let Some(Value::Array(parts)) = object.get_mut(key) {
            parts.iter_mut().for_each(close_objects);
        }
    }
}
