//! The plain tantivy loop beside phase B: the same documents, in the same fields with the same
//! tokenizer, each with its key and its JSON source, added to an index and committed every
//! batch, with nothing else around it. The physical limit of indexing them.

use std::path::Path;
use std::time::Instant;

use anyhow::Context;
use projector_products::projections::product_search::{TOKENIZER, fields};
use projector_search::tantivy::schema::Facet;
use projector_search::tantivy::schema::{
    FAST, FacetOptions, INDEXED, IndexRecordOption, NumericOptions, STORED, STRING, Schema,
    TextFieldIndexing, TextOptions,
};
use projector_search::tantivy::{Index, IndexWriter, TantivyDocument, indexer::IndexWriterOptions};
use projector_search::{ID_FIELD, SOURCE_FIELD};

use super::data;

/// Indexes `products` documents into a new index under `dir`, committing every `batch_size`;
/// events (documents) per second.
pub(crate) fn run(dir: &Path, products: u64, batch_size: usize) -> anyhow::Result<f64> {
    let mut builder = Schema::builder();
    let id = builder.add_text_field(ID_FIELD, STRING | STORED);
    let source = builder.add_text_field(SOURCE_FIELD, STORED);
    let stemmed = TextOptions::default().set_indexing_options(
        TextFieldIndexing::default()
            .set_tokenizer(TOKENIZER)
            .set_index_option(IndexRecordOption::WithFreqsAndPositions),
    );
    let name = builder.add_text_field(fields::NAME, stemmed.clone());
    let tags = builder.add_text_field(fields::TAGS, stemmed.clone());
    let description = builder.add_text_field(fields::DESCRIPTION, stemmed);
    let category = builder.add_text_field(fields::CATEGORY, STRING);
    let facet = builder.add_facet_field(fields::CATEGORY_FACET, FacetOptions::default());
    let price = builder.add_i64_field(fields::PRICE, NumericOptions::from(FAST | INDEXED));
    std::fs::create_dir_all(dir).context("creating the plain index's directory")?;
    let index = Index::create_in_dir(dir, builder.build())?;
    let mut writer: IndexWriter = index.writer_with_options(
        IndexWriterOptions::builder()
            .memory_budget_per_thread(32 << 20)
            .num_worker_threads(1)
            .num_merge_threads(1)
            .build(),
    )?;
    let started = Instant::now();
    for i in 0..products {
        let product = data::document(i);
        let mut document = TantivyDocument::default();
        document.add_text(id, &product.product_id);
        document.add_text(source, serde_json::to_string(&product)?);
        document.add_text(name, &product.name);
        document.add_text(description, &product.description);
        for tag in &product.tags {
            document.add_text(tags, tag);
        }
        document.add_text(category, &product.category);
        document.add_facet(facet, Facet::from_path([product.category.as_str()]));
        document.add_i64(price, product.price_cents);
        writer.add_document(document)?;
        if (i + 1) % batch_size.max(1) as u64 == 0 {
            writer.commit()?;
        }
    }
    writer.commit()?;
    let seconds = started.elapsed().as_secs_f64();
    writer.wait_merging_threads()?;
    Ok(products as f64 / seconds)
}
