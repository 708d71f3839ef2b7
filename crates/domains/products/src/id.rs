//! [`ProductId`]: a product's id, checked when it is made, and the stream it names.

use std::fmt;

use projector_core::{EventSet, StreamId};

use crate::events::ProductEvent;
use crate::limits::ID_MAX;

/// A product's id: 1 to [`ID_MAX`] characters, a letter or digit, then letters, digits and
/// `_ . : -` (the form of every id of the API). It carries its stream, so naming the stream of
/// a checked id cannot fail.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ProductId {
    id: String,
    stream: StreamId,
}

/// Why a text is not a product id.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error(
    "must be 1 to {ID_MAX} characters: a letter or digit, then letters, digits, '_', '.', ':' or '-'"
)]
pub struct InvalidProductId;

impl ProductId {
    /// Reads a product id.
    ///
    /// # Errors
    /// [`InvalidProductId`] when `text` is not of the form above.
    pub fn parse(text: &str) -> Result<Self, InvalidProductId> {
        if !is_id(text) {
            return Err(InvalidProductId);
        }
        let stream = ProductEvent::stream(text).map_err(|_| InvalidProductId)?;
        Ok(Self {
            id: text.to_owned(),
            stream,
        })
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.id
    }

    /// The id as an owned string.
    pub fn into_string(self) -> String {
        self.id
    }
}

impl fmt::Display for ProductId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.id)
    }
}

/// The stream that holds product `id`'s events: `product-<id>`, in [`ProductEvent`]'s
/// category, the only streams the product projections read.
pub fn product_stream(id: &ProductId) -> StreamId {
    id.stream.clone()
}

/// Whether `text` has the form of an id, checked without a regex engine.
fn is_id(text: &str) -> bool {
    let bytes = text.as_bytes();
    !bytes.is_empty()
        && bytes.len() <= ID_MAX
        && bytes[0].is_ascii_alphanumeric()
        && bytes[1..]
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b':' | b'-'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_of_the_api_form_name_product_streams() {
        let id = ProductId::parse("sku-1.a:b_c").expect("an id");
        assert_eq!(id.as_str(), "sku-1.a:b_c");
        assert_eq!(product_stream(&id).as_str(), "product-sku-1.a:b_c");
        assert_eq!(product_stream(&id).category(), "product");
        let longest = "a".repeat(ID_MAX);
        assert!(ProductId::parse(&longest).is_ok());
        for bad in ["", "-a", "a b", "a/b", "ä", "a@b", &"a".repeat(ID_MAX + 1)] {
            assert_eq!(ProductId::parse(bad), Err(InvalidProductId), "{bad:?}");
        }
    }
}
