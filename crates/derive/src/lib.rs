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

/// `#[projector::events(category = "...")]`: the whole of an event enum's set-up for an
/// application that depends on the `projector` crate alone. It derives `Serialize` and
/// `Deserialize` through `projector::serde` and `DomainEvent`, taking the arguments of the
/// enum's `#[event(...)]`; variants keep their own `#[event(...)]`.
#[proc_macro_attribute]
pub fn events(args: TokenStream, item: TokenStream) -> TokenStream {
    let args = proc_macro2::TokenStream::from(args);
    let item = proc_macro2::TokenStream::from(item);
    let separator = (!args.is_empty()).then(|| quote::quote!(,));
    quote::quote! {
        #[derive(::projector::serde::Serialize, ::projector::serde::Deserialize, ::projector::DomainEvent)]
        #[serde(crate = "::projector::serde")]
        #[event(crate = "::projector" #separator #args)]
        #item
    }
    .into()
}
