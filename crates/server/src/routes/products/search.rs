//! Searching the catalogue: `GET /api/products/search`, answered from this process's
//! `product_search` index through the one read path (`min_position`, `Projection-Position`,
//! `Read-Model`).

use axum::extract::State;
use axum::response::Response;
use chrono::{DateTime, Utc};
use projector_orders::Money;
use projector_products::limits::category_problem;
use projector_products::projections::{PRODUCT_SEARCH, ProductDocument};
use projector_products::search::{
    CategoryCount, Cursor, ProductHit, ProductResults, ProductSearch, ProductSort, search_products,
};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::consistency::ReadConsistency;
use crate::error::ApiError;
use crate::extract::QueryParams;
use crate::limits::{PAGE_DEFAULT, PAGE_MAX, SEARCH_TEXT_MAX};
use crate::read_path::{Answer, answer, search_index};
use crate::routes::params::ReadParams;
use crate::routes::problems::ReadProblems;
use crate::state::AppState;
use crate::validate::free_text_problem;

/// What to search for.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub(crate) struct ProductSearchParams {
    /// Words to find in a product's name, tags and description. Each word must match; forms
    /// of a word match each other (`headphone` finds "Headphones"), and a word the catalogue
    /// does not hold may have a typo if it has five letters or more (nine or more, two).
    /// Double quotes make a phrase (`"noise cancelling"`). Without it, every product the
    /// filters let through.
    #[param(schema_with = crate::schemas::search_text, required = false)]
    q: Option<String>,
    /// Only products of this category (the whole slug).
    #[param(schema_with = crate::schemas::category, required = false)]
    category: Option<String>,
    /// Only products costing at least this much (inclusive, at most two decimal places).
    #[param(schema_with = crate::schemas::price_bound, required = false)]
    min_price: Option<f64>,
    /// Only products costing at most this much (inclusive, at most two decimal places).
    #[param(schema_with = crate::schemas::price_bound, required = false)]
    max_price: Option<f64>,
    /// `relevance` (the best matches of `q` first, the default), `price` (the cheapest first)
    /// or `-price` (the dearest first).
    #[param(schema_with = crate::schemas::product_search_sort, required = false)]
    sort: Option<String>,
    /// Most hits to answer (default 20).
    #[param(schema_with = crate::schemas::page_limit, required = false)]
    limit: Option<u32>,
    /// Where the page starts: the `next_cursor` of the page before, with the same `q`,
    /// filters and `sort`. Pages reach at most 10 000 hits deep.
    #[param(schema_with = crate::schemas::search_cursor, required = false)]
    cursor: Option<String>,
}

/// The products found.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ProductSearchResults {
    /// `relevance`, `price` or `-price`: the order of `hits`.
    sort: String,
    /// How many products matched in all.
    total: usize,
    /// This page: at most `limit` products.
    hits: Vec<ProductSearchHit>,
    /// Counts over every product that matched (not only this page).
    facets: ProductFacets,
    /// The `cursor` of the next page; null on the last.
    next_cursor: Option<String>,
}

/// Counts per value of a field, over every product that matched.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ProductFacets {
    /// Per category, the most first.
    category: Vec<FacetCount>,
}

/// How many matching products hold a value.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct FacetCount {
    value: String,
    count: u64,
}

/// One product found, as the search index holds it.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ProductSearchHit {
    id: String,
    name: String,
    description: String,
    category: String,
    #[schema(value_type = f64, minimum = 0, multiple_of = 0.01)]
    price: Money,
    tags: Vec<String>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    /// How well it matched `q` (higher is better), when sorted by relevance.
    #[serde(skip_serializing_if = "Option::is_none")]
    score: Option<f32>,
    /// Where `q` matched, when it did in the description or the name.
    #[serde(skip_serializing_if = "Option::is_none")]
    snippet: Option<HitSnippet>,
}

/// A fragment of the text that matched.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct HitSnippet {
    /// `description` or `name`.
    field: String,
    /// The fragment as HTML: the matched words in `<mark>…</mark>`, everything else escaped.
    html: String,
}

impl From<ProductHit> for ProductSearchHit {
    fn from(hit: ProductHit) -> Self {
        let ProductDocument {
            product_id,
            name,
            description,
            category,
            price_cents,
            tags,
            created_at,
            updated_at,
        } = hit.product;
        Self {
            id: product_id,
            name,
            description,
            category,
            price: Money::from_cents(price_cents),
            tags,
            created_at,
            updated_at,
            score: hit.score,
            snippet: hit.snippet.map(|s| HitSnippet {
                field: s.field.to_owned(),
                html: s.html,
            }),
        }
    }
}

impl ProductSearchResults {
    fn new(sort: ProductSort, results: ProductResults) -> Self {
        Self {
            sort: sort.as_str().to_owned(),
            total: results.total,
            hits: results.hits.into_iter().map(Into::into).collect(),
            facets: ProductFacets {
                category: results
                    .categories
                    .into_iter()
                    .map(|CategoryCount { category, count }| FacetCount {
                        value: category,
                        count,
                    })
                    .collect(),
            },
            next_cursor: results.next.map(Cursor::encode),
        }
    }
}

/// Products by words, category and price, from the `product_search` index this server keeps.
#[utoipa::path(
    get, path = "/api/products/search", tag = "products",
    security(("bearer" = ["read"])),
    params(ProductSearchParams, ReadParams),
    responses(
        (status = 200, description = "The products found (none is not an error)", body = ProductSearchResults,
            headers(("Projection-Position" = u64, description = "The position the read model has reached"),
                    ("Read-Model" = String, description = "The read model that answered: a projection, or `events` for the event store"))),
        ReadProblems,
    )
)]
pub(crate) async fn search_products_route(
    State(state): State<AppState>,
    mut query: QueryParams,
) -> Result<Response, ApiError> {
    let search = search_query(&mut query);
    let consistency = ReadConsistency::from_query(&mut query, &state);
    query.finish()?;
    let store = state.search().cloned();
    answer(&state, &PRODUCT_SEARCH, consistency, || async move {
        let sort = search.sort;
        let results = search_index(store, PRODUCT_SEARCH, move |read| {
            search_products(read, &search)
        })
        .await?;
        Ok(Answer::View(ProductSearchResults::new(sort, results)))
    })
    .await
}

/// The search a query asks for, each bad parameter recorded in `query` (which then fails
/// `finish`, so what stands in for it is never used).
pub(crate) fn search_query(query: &mut QueryParams) -> ProductSearch {
    let text = query.take("q");
    if let Some(problem) = text
        .as_deref()
        .and_then(|t| free_text_problem(t, SEARCH_TEXT_MAX))
    {
        query.error("q", problem);
    }
    let category = query.take("category");
    if let Some(problem) = category.as_deref().and_then(category_problem) {
        query.error("category", problem);
    }
    let max_cents = projector_products::Price::MAX.cents();
    let min_price_cents = query.amount("min_price", max_cents);
    let max_price_cents = query.amount("max_price", max_cents);
    if let (Some(min), Some(max)) = (min_price_cents, max_price_cents)
        && min > max
    {
        query.error("max_price", "must not be below min_price");
    }
    let sort = match query.take("sort") {
        None => ProductSort::Relevance,
        Some(name) => ProductSort::parse(&name).unwrap_or_else(|| {
            query.error("sort", "must be one of relevance, price or -price");
            ProductSort::Relevance
        }),
    };
    let limit = query
        .number("limit", 1, u64::from(PAGE_MAX))
        .map_or(PAGE_DEFAULT, |l| l as u32);
    let mut search = ProductSearch {
        text,
        category,
        min_price_cents,
        max_price_cents,
        sort,
        limit: limit as usize,
        cursor: None,
    };
    if let Some(cursor) = query.take("cursor") {
        match Cursor::decode(&cursor, &search) {
            Ok(cursor) => search.cursor = Some(cursor),
            Err(problem) => query.error("cursor", problem.to_string()),
        }
    }
    search
}
