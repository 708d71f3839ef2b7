//! The code `#[derive(DomainEvent)]` writes.

use proc_macro2::TokenStream;
use quote::quote;
use syn::{Data, DeriveInput, Fields, LitStr};

use crate::attrs::{enum_attrs, serde_rename, variant_attrs};

/// One variant as stored.
struct Variant {
    ident: syn::Ident,
    stored: String,
    serde_key: String,
    version: u32,
    shape: Shape,
}

enum Shape {
    Unit,
    Newtype,
    Other,
}

pub(crate) fn domain_event(input: &DeriveInput) -> syn::Result<TokenStream> {
    let Data::Enum(data) = &input.data else {
        return Err(syn::Error::new_spanned(input, "DomainEvent is for enums"));
    };
    if !input.generics.params.is_empty() {
        return Err(syn::Error::new_spanned(
            &input.generics,
            "DomainEvent enums take no generic parameters",
        ));
    }
    let attrs = enum_attrs(&input.attrs)?;
    if let Some(category) = &attrs.category {
        check_category(category)?;
    }
    let mut variants = Vec::new();
    for v in &data.variants {
        let va = variant_attrs(&v.attrs)?;
        let stored = va
            .name
            .as_ref()
            .map_or_else(|| v.ident.to_string(), LitStr::value);
        check_type_name(
            &stored,
            va.name.as_ref().map_or(v.ident.span(), LitStr::span),
        )?;
        if variants.iter().any(|o: &Variant| o.stored == stored) {
            return Err(syn::Error::new_spanned(
                v,
                format!("two variants are stored as {stored}"),
            ));
        }
        variants.push(Variant {
            ident: v.ident.clone(),
            serde_key: serde_rename(&v.attrs).unwrap_or_else(|| v.ident.to_string()),
            stored,
            version: va.version,
            shape: match &v.fields {
                Fields::Unit => Shape::Unit,
                Fields::Unnamed(f) if f.unnamed.len() == 1 => Shape::Newtype,
                _ => Shape::Other,
            },
        });
    }
    Ok(expand(
        input,
        &attrs.krate,
        attrs.category.as_ref(),
        attrs.upcasters.as_ref(),
        &variants,
    ))
}

fn expand(
    input: &DeriveInput,
    krate: &syn::Path,
    category: Option<&LitStr>,
    upcasters: Option<&syn::Path>,
    variants: &[Variant],
) -> TokenStream {
    let name = &input.ident;
    let private = quote!(#krate::__private);
    let category = category.map_or_else(|| quote!(None), |c| quote!(Some(#c)));
    let upcasters = upcasters.map_or_else(|| quote!(&#private::NO_UPCASTERS), |u| quote!(&#u));
    let patterns: Vec<TokenStream> = variants
        .iter()
        .map(|v| {
            let ident = &v.ident;
            match v.shape {
                Shape::Unit => quote!(Self::#ident),
                _ => quote!(Self::#ident { .. }),
            }
        })
        .collect();
    let stored: Vec<&str> = variants.iter().map(|v| v.stored.as_str()).collect();
    let versions: Vec<u32> = variants.iter().map(|v| v.version).collect();
    let encode = variants.iter().map(|v| {
        let ident = &v.ident;
        match v.shape {
            Shape::Unit => quote!(Self::#ident => #krate::JsonPayload::from_json("{}")),
            Shape::Newtype => quote!(Self::#ident(inner) => #krate::JsonPayload::encode(inner)),
            Shape::Other => quote!(Self::#ident { .. } => #private::encode_variant(self)),
        }
    });
    let decode = variants.iter().map(|v| {
        let (ident, stored, key) = (&v.ident, &v.stored, &v.serde_key);
        match v.shape {
            Shape::Unit => quote!(#stored => Ok(Self::#ident)),
            Shape::Newtype => quote!(#stored => payload.decode().map(Self::#ident)),
            Shape::Other => quote!(#stored => #private::decode_variant::<Self>(#key, &payload)),
        }
    });
    let enum_name = name.to_string();
    quote! {
        impl #krate::DomainEvent for #name {
            fn event_type(&self) -> #krate::EventType {
                match self { #(#patterns => #krate::EventType::from_static(#stored),)* }
            }

            fn schema_version(&self) -> u32 {
                match self { #(#patterns => #versions,)* }
            }

            fn encode(&self) -> ::core::result::Result<#krate::JsonPayload, #private::serde_json::Error> {
                match self { #(#encode,)* }
            }

            fn decode(event: &#krate::RecordedEvent) -> ::core::result::Result<Self, #krate::DecodeError> {
                #private::check_category(event, <Self as #krate::EventSet>::CATEGORY)?;
                let (payload, _version) = #krate::Upcasters::upcast(#upcasters, event)?;
                let decoded: ::core::result::Result<Self, #private::serde_json::Error> =
                    match event.event_type.as_str() {
                        #(#decode,)*
                        other => return Err(#krate::DecodeError::new(
                            event,
                            ::std::format!("{other} is not one of {}", #enum_name),
                        )),
                    };
                decoded.map_err(|e| #krate::DecodeError::new(event, e))
            }
        }

        impl #krate::EventSet for #name {
            const CATEGORY: ::core::option::Option<&'static str> = #category;
            const TYPES: &'static [#krate::StoredType] = &[
                #(#krate::StoredType { name: #stored, schema_version: #versions },)*
            ];
        }
    }
}

/// A stored type name must be a valid `EventType`: checked here so the error points at it.
fn check_type_name(name: &str, span: proc_macro2::Span) -> syn::Result<()> {
    let ok = name.len() <= 128
        && name.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c));
    if ok {
        Ok(())
    } else {
        Err(syn::Error::new(
            span,
            format!(
                "{name:?} is not an event type: ASCII letters, digits and _ . -, starting with a letter"
            ),
        ))
    }
}

/// A category is the part of a stream id before its first `-`, so it holds none.
fn check_category(category: &LitStr) -> syn::Result<()> {
    let value = category.value();
    let ok = value
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphanumeric())
        && value.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && value.len() <= 64;
    if ok {
        Ok(())
    } else {
        Err(syn::Error::new_spanned(
            category,
            "a category is ASCII letters, digits and _ (the part of a stream id before its first -)",
        ))
    }
}
