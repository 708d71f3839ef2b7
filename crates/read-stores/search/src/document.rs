//! The fields every index has besides a projection's own, and [`DocumentBuilder`], through
//! which a projection says what it indexes of a document.
//!
//! Each indexed document carries its key (`_id`, indexed whole) and its source (`_source`,
//! stored only): the document as the projection last put it, as JSON. The source is what a
//! batch reads back to change a document in part, and what a query shows of a hit.

use chrono::{DateTime, Utc};
use projector_core::ProjectionError;
use tantivy::schema::{Facet, Field, STORED, STRING, Schema, SchemaBuilder};
use tantivy::{TantivyDocument, Term};

use crate::error::SearchError;

/// The field holding each document's key.
pub const ID_FIELD: &str = "_id";
/// The field holding each document's source, as JSON.
pub const SOURCE_FIELD: &str = "_source";

/// The store's own fields in an index's schema.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Reserved {
    pub(crate) id: Field,
    pub(crate) source: Field,
}

impl Reserved {
    /// The store's fields of `schema`.
    pub(crate) fn of(schema: &Schema) -> Result<Self, SearchError> {
        let field = |name: &str| {
            schema
                .get_field(name)
                .map_err(|_| SearchError::Corrupt(format!("an index without its {name} field")))
        };
        Ok(Self {
            id: field(ID_FIELD)?,
            source: field(SOURCE_FIELD)?,
        })
    }

    /// The term that finds the document keyed `id`.
    pub(crate) fn key(&self, id: &str) -> Term {
        Term::from_field_text(self.id, id)
    }
}

/// The schema of an index: the store's fields, then those `own` adds.
///
/// # Errors
/// `SearchError::Corrupt` when the projection adds a field of the store's own name.
pub(crate) fn schema(own: impl FnOnce(&mut SchemaBuilder)) -> Result<Schema, SearchError> {
    let mut projection = Schema::builder();
    own(&mut projection);
    let projection = projection.build();
    let mut schema = Schema::builder();
    schema.add_text_field(ID_FIELD, STRING | STORED);
    schema.add_text_field(SOURCE_FIELD, STORED);
    for (_, entry) in projection.fields() {
        if entry.name() == ID_FIELD || entry.name() == SOURCE_FIELD {
            return Err(SearchError::Corrupt(format!(
                "a projection schema naming a field {}, which is the store's own",
                entry.name()
            )));
        }
        schema.add_field(entry.clone());
    }
    Ok(schema.build())
}

/// The indexed fields of one document, as a projection's `index` fills them; fields are named
/// as the projection's schema names them.
#[derive(Debug)]
pub struct DocumentBuilder<'s> {
    schema: &'s Schema,
    document: TantivyDocument,
}

impl<'s> DocumentBuilder<'s> {
    pub(crate) fn new(schema: &'s Schema) -> Self {
        Self {
            schema,
            document: TantivyDocument::default(),
        }
    }

    fn field(&self, name: &str) -> Result<Field, ProjectionError> {
        self.schema
            .get_field(name)
            .map_err(|_| ProjectionError::new(format!("the index has no field {name:?}")))
    }

    /// Adds `text` to the text field `name` (a field may take several values).
    ///
    /// # Errors
    /// A permanent [`ProjectionError`] when the schema has no such field; the other adders
    /// fail the same way.
    pub fn text(&mut self, name: &str, text: &str) -> Result<&mut Self, ProjectionError> {
        let field = self.field(name)?;
        self.document.add_text(field, text);
        Ok(self)
    }

    /// Adds `value` to the signed integer field `name`.
    pub fn i64(&mut self, name: &str, value: i64) -> Result<&mut Self, ProjectionError> {
        let field = self.field(name)?;
        self.document.add_i64(field, value);
        Ok(self)
    }

    /// Adds `value` to the unsigned integer field `name`.
    pub fn u64(&mut self, name: &str, value: u64) -> Result<&mut Self, ProjectionError> {
        let field = self.field(name)?;
        self.document.add_u64(field, value);
        Ok(self)
    }

    /// Adds the facet `path` (`["audio", "headphones"]` is `/audio/headphones`) to the facet
    /// field `name`, for counts per facet.
    pub fn facet(&mut self, name: &str, path: &[&str]) -> Result<&mut Self, ProjectionError> {
        let field = self.field(name)?;
        self.document.add_facet(field, Facet::from_path(path));
        Ok(self)
    }

    /// Adds `value` to the date field `name`, to the microsecond.
    pub fn date(&mut self, name: &str, value: DateTime<Utc>) -> Result<&mut Self, ProjectionError> {
        let field = self.field(name)?;
        self.document.add_date(
            field,
            tantivy::DateTime::from_timestamp_micros(value.timestamp_micros()),
        );
        Ok(self)
    }

    /// The document, with its key and source.
    pub(crate) fn finish(mut self, reserved: Reserved, id: &str, source: &str) -> TantivyDocument {
        self.document.add_text(reserved.id, id);
        self.document.add_text(reserved.source, source);
        self.document
    }
}
