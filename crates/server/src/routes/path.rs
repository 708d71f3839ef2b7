//! Typed path parameters: a route takes `OrderPath { id }` and gets an [`OrderId`] that is
//! already checked, instead of looking a string up by name. A bad parameter is refused before
//! the handler runs, as 422 problem+json naming `path.<name>`, and the same struct documents
//! the parameters with the limits the check enforces.

use std::fmt;

use axum::extract::{FromRequestParts, RawPathParams};
use axum::http::request::Parts;
use projector_core::{GlobalPosition, ProjectionName};
use projector_products::ProductId;
use utoipa::IntoParams;

use crate::error::{ApiError, FieldError};
use crate::limits::{id_message, is_id};
use crate::schemas;

/// A value read from one path parameter.
pub(crate) trait PathValue: Sized {
    /// The value, or what is wrong with `text`.
    fn parse(text: &str) -> Result<Self, String>;
}

impl PathValue for ProjectionName {
    fn parse(text: &str) -> Result<Self, String> {
        ProjectionName::parse(text).map_err(|e| e.to_string())
    }
}

/// An event's position in the feed: a whole number no larger than a database's signed integer.
impl PathValue for GlobalPosition {
    fn parse(text: &str) -> Result<Self, String> {
        text.parse::<i64>()
            .ok()
            .filter(|n| *n >= 0 && text.bytes().all(|b| b.is_ascii_digit()))
            .map(|n| GlobalPosition::new(n.unsigned_abs()))
            .ok_or_else(|| {
                format!(
                    "must be an event position, a whole number from 0 to {}",
                    i64::MAX
                )
            })
    }
}

/// A product's id is the domain's own type, of the same form as every id of the API.
impl PathValue for ProductId {
    fn parse(text: &str) -> Result<Self, String> {
        ProductId::parse(text).map_err(|_| id_message())
    }
}

/// Declares an id type of the API: [`crate::limits::ID_PATTERN`], checked when read.
macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Debug, PartialEq, Eq)]
        pub(crate) struct $name(String);

        #[allow(dead_code)] // Not every kind of id needs both.
        impl $name {
            pub(crate) fn as_str(&self) -> &str {
                &self.0
            }

            pub(crate) fn into_string(self) -> String {
                self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl PathValue for $name {
            fn parse(text: &str) -> Result<Self, String> {
                if is_id(text) {
                    Ok(Self(text.to_owned()))
                } else {
                    Err(id_message())
                }
            }
        }
    };
}

id_type!(
    /// The id of an order.
    OrderId
);
id_type!(
    /// The SKU of an order's item.
    Sku
);
id_type!(
    /// The id of a customer.
    CustomerId
);
id_type!(
    /// The id of an issue.
    IssueId
);

/// Reads `name` from `raw` into a `T`, recording what is wrong in `errors`.
fn read<T: PathValue>(raw: &RawPathParams, name: &str, errors: &mut Vec<FieldError>) -> Option<T> {
    let value = raw
        .iter()
        .find(|(key, _)| *key == name)
        .map_or("", |(_, value)| value);
    T::parse(value)
        .map_err(|message| errors.push(FieldError::new(format!("path.{name}"), message)))
        .ok()
}

/// Declares a route's path parameters: the struct, its documentation and its extractor, which
/// checks every field and names each bad one.
macro_rules! path_params {
    ($(#[$doc:meta])* $name:ident {
        $($(#[$field_doc:meta])* $field:ident: $ty:ty = $schema:path),+ $(,)?
    }) => {
        $(#[$doc])*
        #[derive(Debug, IntoParams)]
        #[into_params(parameter_in = Path)]
        pub(crate) struct $name {
            $(
                $(#[$field_doc])*
                #[param(schema_with = $schema, required = true)]
                pub(crate) $field: $ty,
            )+
        }

        impl<S: Send + Sync> FromRequestParts<S> for $name {
            type Rejection = ApiError;

            async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
                let raw = RawPathParams::from_request_parts(parts, state)
                    .await
                    .map_err(|e| ApiError::field("path", e.body_text()))?;
                let mut errors = Vec::new();
                $(let $field = read::<$ty>(&raw, stringify!($field), &mut errors);)+
                match ($($field,)+) {
                    ($(Some($field),)+) => Ok(Self { $($field),+ }),
                    _ => Err(ApiError::Validation(errors)),
                }
            }
        }
    };
}

path_params!(
    /// The order in the path.
    OrderPath {
        /// The order's id.
        id: OrderId = schemas::id,
    }
);

path_params!(
    /// An order and one of its items in the path.
    OrderItemPath {
        /// The order's id.
        id: OrderId = schemas::id,
        /// The item's SKU.
        sku: Sku = schemas::id,
    }
);

path_params!(
    /// The customer in the path.
    CustomerPath {
        /// The customer's id.
        id: CustomerId = schemas::id,
    }
);

path_params!(
    /// The product in the path.
    ProductPath {
        /// The product's id.
        id: ProductId = schemas::id,
    }
);

path_params!(
    /// The issue in the path.
    IssuePath {
        /// The issue's id.
        id: IssueId = schemas::id,
    }
);

path_params!(
    /// The projection in the path.
    ProjectionPath {
        /// The projection's name, such as `order_summary`.
        name: ProjectionName = schemas::projection_name,
    }
);

path_params!(
    /// A projection and one of its dead letters in the path.
    DeadLetterPath {
        /// The projection's name, such as `order_summary`.
        name: ProjectionName = schemas::projection_name,
        /// The position of the dead letter's event in the feed.
        position: GlobalPosition = schemas::position,
    }
);
