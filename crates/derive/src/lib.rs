//! `#[derive(DomainEvent)]`: a plain serde enum becomes a domain's events, with the stored type
//! names known without an instance (for filters), a schema version per variant, and the codec
//! (through upcasters) written out, so no one writes encode and decode by hand.
//!
//! ```ignore
//! #[derive(Serialize, Deserialize, DomainEvent)]
//! #[event(category = "counter", upcasters = UPCASTERS)]
//! enum CounterEvent {
//!     Incremented { by: u32 },          // stored as "Incremented", schema version 1
//!     #[event(name = "CounterReset", version = 2)]
//!     Reset,
//! }
//! ```
//!
//! Enum attributes: `category` (the stream category, `counter` for `counter-1`), `upcasters`
//! (a `static` of `Upcasters`), `crate` (the path of the core crate; `::projector` unless set).
//! Variant attributes: `name` (the stored type name; the variant's name unless set) and
//! `version` (the schema version new events are written with; 1 unless set).
//!
//! Payloads: a newtype variant stores its field as it serializes; a struct or tuple variant
//! stores its fields as the enum's serde representation does (so the enum derives
//! `Serialize` and `Deserialize` and keeps serde's default, externally tagged layout); a unit
//! variant stores `{}`.
//!
//! It is not: a serializer. Field layouts, renames and defaults are serde's.

mod attrs;
mod expand;

use proc_macro::TokenStream;

/// Implements `DomainEvent` and `EventSet` for an enum; see the crate documentation.
#[proc_macro_derive(DomainEvent, attributes(event))]
pub fn derive_domain_event(input: TokenStream) -> TokenStream {
    let input = syn::parse_macro_input!(input as syn::DeriveInput);
    expand::domain_event(&input)
        .unwrap_or_else(syn::Error::into_compile_error)
        .into()
}
