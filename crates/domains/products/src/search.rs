//! Searching the catalogue in the `product_search` index: words in a product's name, tags and
//! description (stemmed, forgiving typos in longer words it does not hold, `"quoted phrases"` in order),
//! filtered by category and price, sorted by relevance or price, with a count per category of
//! everything that matched, a highlighted snippet per hit, and cursors to page on.
//!
//! A search is synchronous: it reads the index on local disk, so an async caller runs it on a
//! blocking thread.

mod cursor;
mod text;

use std::ops::Bound;

use projector_core::ReadStoreError;
use projector_search::SearchRead;
use projector_search::tantivy::collector::{Collector, Count, FacetCollector, TopDocs};
use projector_search::tantivy::query::{
    AllQuery, BooleanQuery, Occur, Query, RangeQuery, TermQuery,
};
use projector_search::tantivy::schema::{Facet, Field, IndexRecordOption, Schema};
use projector_search::tantivy::snippet::SnippetGenerator;
use projector_search::tantivy::{DocAddress, Order, Searcher, Term};

pub use cursor::{Cursor, CursorError, DEPTH_MAX};

use crate::projections::product_search::{ProductDocument, fields};
use text::Text;

/// Which hits come first.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ProductSort {
    /// The best matches of the text first (without text, every product scores the same).
    #[default]
    Relevance,
    /// The cheapest first.
    PriceAscending,
    /// The dearest first.
    PriceDescending,
}

impl ProductSort {
    /// The name the API takes.
    pub fn as_str(self) -> &'static str {
        match self {
            ProductSort::Relevance => "relevance",
            ProductSort::PriceAscending => "price",
            ProductSort::PriceDescending => "-price",
        }
    }

    /// Reads a name written by [`ProductSort::as_str`].
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|sort| sort.as_str() == name)
    }

    /// Every sort, as the API lists them.
    pub const ALL: [ProductSort; 3] = [
        ProductSort::Relevance,
        ProductSort::PriceAscending,
        ProductSort::PriceDescending,
    ];
}

/// What a search asks for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProductSearch {
    /// Words to find; none for every product the filters let through.
    pub text: Option<String>,
    /// Only products of this category.
    pub category: Option<String>,
    /// Only products costing at least this many cents.
    pub min_price_cents: Option<i64>,
    /// Only products costing at most this many cents.
    pub max_price_cents: Option<i64>,
    /// Which come first.
    pub sort: ProductSort,
    /// The most hits to answer.
    pub limit: usize,
    /// Where the page starts: none for the first page.
    pub cursor: Option<Cursor>,
}

impl Default for ProductSearch {
    fn default() -> Self {
        Self {
            text: None,
            category: None,
            min_price_cents: None,
            max_price_cents: None,
            sort: ProductSort::Relevance,
            limit: 20,
            cursor: None,
        }
    }
}

/// One product found.
#[derive(Clone, Debug, PartialEq)]
pub struct ProductHit {
    /// The product, as the index holds it.
    pub product: ProductDocument,
    /// How well it matched the text (higher is better), when sorted by relevance.
    pub score: Option<f32>,
    /// Where the text matched, when it did in the description or the name.
    pub snippet: Option<Snippet>,
}

/// A fragment of a hit's description (or, failing that, its name) with the matched words
/// marked `<mark>…</mark>`; the rest of the text is HTML-escaped.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Snippet {
    /// `description` or `name`.
    pub field: &'static str,
    /// The fragment, as HTML.
    pub html: String,
}

/// How many matching products a category holds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CategoryCount {
    /// The category.
    pub category: String,
    /// Its products that matched.
    pub count: u64,
}

/// What a search found.
#[derive(Clone, Debug, PartialEq)]
pub struct ProductResults {
    /// How many products matched in all.
    pub total: usize,
    /// This page's hits.
    pub hits: Vec<ProductHit>,
    /// How many matched per category, the most first (then by name).
    pub categories: Vec<CategoryCount>,
    /// Where the next page starts, when there is one within [`DEPTH_MAX`].
    pub next: Option<Cursor>,
}

/// The products `search` finds in what `read` reads: one page of them, with the count per
/// category of all that matched.
///
/// # Errors
/// `ReadStoreError::Query` when the index cannot be searched or lacks the fields of this
/// version of the projection.
pub fn search_products(
    read: &SearchRead,
    search: &ProductSearch,
) -> Result<ProductResults, ReadStoreError> {
    let schema = read.schema();
    let searcher = read.searcher();
    let mut text = match &search.text {
        Some(text) => Text::read(text, &mut analyzer(searcher, field(schema, fields::NAME)?)?),
        None => Text::default(),
    };
    let query = query(searcher, schema, search, &mut text)?;
    let offset = search.cursor.map_or(0, Cursor::offset);
    let limit = search
        .limit
        .clamp(1, DEPTH_MAX.saturating_sub(offset).max(1));
    let top = TopDocs::with_limit(limit).and_offset(offset);
    let (total, categories, found) = match search.sort {
        ProductSort::Relevance => {
            let (total, categories, found) = collect(searcher, &*query, top.order_by_score())?;
            let found = found.into_iter().map(|(s, a)| (Some(s), a)).collect();
            (total, categories, found)
        }
        ProductSort::PriceAscending | ProductSort::PriceDescending => {
            let order = match search.sort {
                ProductSort::PriceAscending => Order::Asc,
                _ => Order::Desc,
            };
            let by_price = top.order_by_fast_field::<i64>(fields::PRICE, order);
            let (total, categories, found) = collect(searcher, &*query, by_price)?;
            let found = found.into_iter().map(|(_, a)| (None, a)).collect();
            (total, categories, found)
        }
    };
    let snippets = Snippets::new(searcher, schema, &text)?;
    let found: Vec<(Option<f32>, DocAddress)> = found;
    let next = (offset + found.len() < total.min(DEPTH_MAX) && !found.is_empty())
        .then(|| Cursor::at(search, offset + found.len()));
    let hits = found
        .into_iter()
        .map(|(score, address)| {
            let (_, product) = read.hit::<ProductDocument>(address)?;
            let snippet = snippets.of(&product);
            Ok(ProductHit {
                product,
                score,
                snippet,
            })
        })
        .collect::<Result<_, ReadStoreError>>()?;
    Ok(ProductResults {
        total,
        hits,
        categories,
        next,
    })
}

/// Runs `query` once for the page (`top`), the total and the count per category.
fn collect<C: Collector>(
    searcher: &Searcher,
    query: &dyn Query,
    top: C,
) -> Result<(usize, Vec<CategoryCount>, C::Fruit), ReadStoreError> {
    let mut facets = FacetCollector::for_field(fields::CATEGORY_FACET);
    facets.add_facet(Facet::root());
    let (total, counts, page) = searcher
        .search(query, &(Count, facets, top))
        .map_err(failed)?;
    let mut categories: Vec<CategoryCount> = counts
        .get(Facet::root())
        .filter_map(|(facet, count)| {
            let path = facet.to_path();
            path.first().map(|category| CategoryCount {
                category: (*category).to_owned(),
                count,
            })
        })
        .collect();
    categories.sort_by(|a, b| b.count.cmp(&a.count).then(a.category.cmp(&b.category)));
    Ok((total, categories, page))
}

/// The text (if any) and every filter, all of which a hit must match.
fn query(
    searcher: &Searcher,
    schema: &Schema,
    search: &ProductSearch,
    text: &mut Text,
) -> Result<Box<dyn Query>, ReadStoreError> {
    let mut clauses: Vec<(Occur, Box<dyn Query>)> = Vec::new();
    if !text.is_empty() {
        let weighted = fields::TEXT
            .iter()
            .map(|(name, weight)| Ok((field(schema, name)?, *weight)))
            .collect::<Result<Vec<_>, ReadStoreError>>()?;
        clauses.push((Occur::Must, text.query(searcher, &weighted)));
    }
    if let Some(category) = &search.category {
        let category = Term::from_field_text(field(schema, fields::CATEGORY)?, category);
        clauses.push((
            Occur::Must,
            Box::new(TermQuery::new(category, IndexRecordOption::Basic)),
        ));
    }
    if search.min_price_cents.is_some() || search.max_price_cents.is_some() {
        let price = field(schema, fields::PRICE)?;
        let bound = |cents: Option<i64>| {
            cents.map_or(Bound::Unbounded, |c| {
                Bound::Included(Term::from_field_i64(price, c))
            })
        };
        clauses.push((
            Occur::Must,
            Box::new(RangeQuery::new(
                bound(search.min_price_cents),
                bound(search.max_price_cents),
            )),
        ));
    }
    if clauses.is_empty() {
        return Ok(Box::new(AllQuery));
    }
    Ok(Box::new(BooleanQuery::new(clauses)))
}

/// Snippets of the description, or the name when the description shows no match.
struct Snippets {
    description: Option<SnippetGenerator>,
    name: Option<SnippetGenerator>,
}

impl Snippets {
    /// The longest snippet, in characters.
    const LENGTH: usize = 160;

    fn new(searcher: &Searcher, schema: &Schema, text: &Text) -> Result<Self, ReadStoreError> {
        let generator = |name: &str| -> Result<Option<SnippetGenerator>, ReadStoreError> {
            if text.is_empty() {
                return Ok(None);
            }
            let field = field(schema, name)?;
            Ok(Some(SnippetGenerator::new(
                text.highlighted(searcher, field),
                analyzer(searcher, field)?,
                field,
                Self::LENGTH,
            )))
        };
        Ok(Self {
            description: generator(fields::DESCRIPTION)?,
            name: generator(fields::NAME)?,
        })
    }

    fn of(&self, product: &ProductDocument) -> Option<Snippet> {
        [
            (fields::DESCRIPTION, &self.description, &product.description),
            (fields::NAME, &self.name, &product.name),
        ]
        .into_iter()
        .find_map(|(field, generator, text)| {
            let mut snippet = generator.as_ref()?.snippet(text);
            if snippet.highlighted().is_empty() {
                return None;
            }
            snippet.set_snippet_prefix_postfix("<mark>", "</mark>");
            Some(Snippet {
                field,
                html: snippet.to_html(),
            })
        })
    }
}

fn analyzer(
    searcher: &Searcher,
    field: Field,
) -> Result<projector_search::tantivy::tokenizer::TextAnalyzer, ReadStoreError> {
    searcher.index().tokenizer_for_field(field).map_err(failed)
}

fn field(schema: &Schema, name: &str) -> Result<Field, ReadStoreError> {
    schema.get_field(name).map_err(|_| ReadStoreError::Query {
        message: format!("the product search index has no field {name}"),
        transient: false,
        source: None,
    })
}

fn failed(error: projector_search::tantivy::TantivyError) -> ReadStoreError {
    ReadStoreError::Query {
        message: format!("searching products: {error}"),
        transient: false,
        source: Some(Box::new(error)),
    }
}

#[cfg(test)]
mod tests;
