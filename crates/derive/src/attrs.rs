//! The `#[event(...)]` attributes, and the few serde attributes that change a variant's key.

use proc_macro2::TokenTree;
use syn::{Attribute, LitInt, LitStr, Path};

/// What `#[event(...)]` on the enum says.
pub(crate) struct EnumAttrs {
    pub category: Option<LitStr>,
    pub upcasters: Option<Path>,
    pub krate: Path,
}

/// What `#[event(...)]` on a variant says.
pub(crate) struct VariantAttrs {
    pub name: Option<LitStr>,
    pub version: u32,
}

pub(crate) fn enum_attrs(attrs: &[Attribute]) -> syn::Result<EnumAttrs> {
    let mut out = EnumAttrs {
        category: None,
        upcasters: None,
        krate: syn::parse_quote!(::projector),
    };
    for attr in attrs.iter().filter(|a| a.path().is_ident("event")) {
        attr.parse_nested_meta(|meta| {
            if meta.path.is_ident("category") {
                out.category = Some(meta.value()?.parse()?);
            } else if meta.path.is_ident("upcasters") {
                out.upcasters = Some(meta.value()?.parse()?);
            } else if meta.path.is_ident("crate") {
                out.krate = meta.value()?.parse::<LitStr>()?.parse()?;
            } else {
                return Err(meta.error("expected `category`, `upcasters` or `crate`"));
            }
            Ok(())
        })?;
    }
    for attr in attrs.iter().filter(|a| a.path().is_ident("serde")) {
        for word in ["tag", "content", "untagged", "rename_all"] {
            if idents(attr).iter().any(|i| i == word) {
                return Err(syn::Error::new_spanned(
                    attr,
                    format!("DomainEvent needs serde's default enum layout; remove `{word}`"),
                ));
            }
        }
    }
    Ok(out)
}

pub(crate) fn variant_attrs(attrs: &[Attribute]) -> syn::Result<VariantAttrs> {
    let mut out = VariantAttrs {
        name: None,
        version: 1,
    };
    for attr in attrs.iter().filter(|a| a.path().is_ident("event")) {
        attr.parse_nested_meta(|meta| {
            if meta.path.is_ident("name") {
                out.name = Some(meta.value()?.parse()?);
            } else if meta.path.is_ident("version") {
                let version: LitInt = meta.value()?.parse()?;
                out.version = version.base10_parse()?;
                if out.version == 0 {
                    return Err(meta.error("schema versions start at 1"));
                }
            } else {
                return Err(meta.error("expected `name` or `version`"));
            }
            Ok(())
        })?;
    }
    Ok(out)
}

/// The key serde gives a variant: `#[serde(rename = "...")]` if present.
pub(crate) fn serde_rename(attrs: &[Attribute]) -> Option<String> {
    for attr in attrs.iter().filter(|a| a.path().is_ident("serde")) {
        let Ok(list) = attr.meta.require_list() else {
            continue;
        };
        let tokens: Vec<TokenTree> = list.tokens.clone().into_iter().collect();
        for window in tokens.windows(3) {
            if let [
                TokenTree::Ident(i),
                TokenTree::Punct(p),
                TokenTree::Literal(l),
            ] = window
                && i == "rename"
                && p.as_char() == '='
                && let Ok(lit) = syn::parse_str::<LitStr>(&l.to_string())
            {
                return Some(lit.value());
            }
        }
    }
    None
}

fn idents(attr: &Attribute) -> Vec<String> {
    attr.meta.require_list().map_or_else(
        |_| Vec::new(),
        |list| {
            list.tokens
                .clone()
                .into_iter()
                .filter_map(|t| match t {
                    TokenTree::Ident(i) => Some(i.to_string()),
                    _ => None,
                })
                .collect()
        },
    )
}
