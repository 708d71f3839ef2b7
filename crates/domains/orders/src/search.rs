//! Searching orders in the `order_search` index: words anywhere in an order's id, its
//! customer's id, its SKUs, its tracking number or its cancellation reason, filtered by status
//! and customer, the most relevant or the newest first.
//!
//! The text is the user's: it is parsed leniently (a quote left open, a stray `:` or `(`, a
//! field that does not exist are searched as well as they can be, never refused), and the
//! parser is given no regular expressions. A search is synchronous: it reads the index on
//! local disk, so an async caller runs it on a blocking thread.

use projector_core::ReadStoreError;
use projector_search::SearchRead;
use projector_search::tantivy::collector::TopDocs;
use projector_search::tantivy::query::{
    AllQuery, BooleanQuery, Occur, Query, QueryParser, TermQuery,
};
use projector_search::tantivy::schema::{Field, IndexRecordOption, Schema};
use projector_search::tantivy::{DocAddress, Order, Term};

use crate::projections::order_search::{OrderDocument, fields};
use crate::state::OrderStatus;

/// Which hits come first.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SearchOrder {
    /// The best matches of the text first.
    Relevance,
    /// The most recently created orders first.
    Newest,
}

impl SearchOrder {
    /// The name the API takes.
    pub fn as_str(self) -> &'static str {
        match self {
            SearchOrder::Relevance => "relevance",
            SearchOrder::Newest => "newest",
        }
    }

    /// Reads a name written by [`SearchOrder::as_str`].
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "relevance" => Some(SearchOrder::Relevance),
            "newest" => Some(SearchOrder::Newest),
            _ => None,
        }
    }

    /// Every order, as the API lists them.
    pub const ALL: [SearchOrder; 2] = [SearchOrder::Relevance, SearchOrder::Newest];
}

/// What a search asks for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OrderSearch {
    /// Words to find, in the user's query syntax (`red shirt`, `"damaged in transit"`,
    /// `sku:red`); none for every order the filters let through.
    pub text: Option<String>,
    /// Only orders in this status.
    pub status: Option<OrderStatus>,
    /// Only this customer's orders.
    pub customer_id: Option<String>,
    /// The most hits to answer.
    pub limit: usize,
    /// Which come first.
    pub order: SearchOrder,
}

/// One order found.
#[derive(Clone, Debug, PartialEq)]
pub struct OrderHit {
    /// The order, as the index holds it.
    pub order: OrderDocument,
    /// How well it matched the text (higher is better), when ordered by relevance.
    pub score: Option<f32>,
}

/// The orders `search` finds in what `read` reads, at most `search.limit` of them.
///
/// # Errors
/// `ReadStoreError::Query` when the index cannot be searched or lacks the fields of this
/// version of the projection.
pub fn search_orders(
    read: &SearchRead,
    search: &OrderSearch,
) -> Result<Vec<OrderHit>, ReadStoreError> {
    let schema = read.schema();
    let query = query(read, schema, search)?;
    let limit = search.limit.max(1);
    let searcher = read.searcher();
    let found: Vec<(Option<f32>, DocAddress)> = match search.order {
        SearchOrder::Relevance => searcher
            .search(&query, &TopDocs::with_limit(limit).order_by_score())
            .map_err(failed)?
            .into_iter()
            .map(|(score, address)| (Some(score), address))
            .collect(),
        SearchOrder::Newest => searcher
            .search(
                &query,
                &TopDocs::with_limit(limit)
                    .order_by_fast_field::<i64>(fields::CREATED_AT, Order::Desc),
            )
            .map_err(failed)?
            .into_iter()
            .map(|(_, address)| (None, address))
            .collect(),
    };
    found
        .into_iter()
        .map(|(score, address)| {
            let (_, order) = read.hit::<OrderDocument>(address)?;
            Ok(OrderHit { order, score })
        })
        .collect()
}

/// The text (if any) and every filter, all of which a hit must match.
fn query(
    read: &SearchRead,
    schema: &Schema,
    search: &OrderSearch,
) -> Result<Box<dyn Query>, ReadStoreError> {
    let mut clauses: Vec<(Occur, Box<dyn Query>)> = Vec::new();
    if let Some(text) = &search.text {
        let text_fields = fields::TEXT
            .iter()
            .map(|name| field(schema, name))
            .collect::<Result<Vec<_>, _>>()?;
        let parser = QueryParser::for_index(read.searcher().index(), text_fields);
        // What cannot be parsed is searched as well as it can be, never refused.
        let (parsed, _unparsed) = parser.parse_query_lenient(text);
        clauses.push((Occur::Must, parsed));
    }
    if let Some(status) = search.status {
        clauses.push((
            Occur::Must,
            exactly(field(schema, fields::STATUS)?, status.as_str()),
        ));
    }
    if let Some(customer_id) = &search.customer_id {
        clauses.push((
            Occur::Must,
            exactly(field(schema, fields::CUSTOMER_ID)?, customer_id),
        ));
    }
    if clauses.is_empty() {
        return Ok(Box::new(AllQuery));
    }
    Ok(Box::new(BooleanQuery::new(clauses)))
}

/// Documents whose `field` holds `value` whole.
fn exactly(field: Field, value: &str) -> Box<dyn Query> {
    Box::new(TermQuery::new(
        Term::from_field_text(field, value),
        IndexRecordOption::Basic,
    ))
}

fn field(schema: &Schema, name: &str) -> Result<Field, ReadStoreError> {
    schema.get_field(name).map_err(|_| ReadStoreError::Query {
        message: format!("the order search index has no field {name}"),
        transient: false,
        source: None,
    })
}

fn failed(error: projector_search::tantivy::TantivyError) -> ReadStoreError {
    ReadStoreError::Query {
        message: format!("searching orders: {error}"),
        transient: false,
        source: Some(Box::new(error)),
    }
}

#[cfg(test)]
mod tests;
