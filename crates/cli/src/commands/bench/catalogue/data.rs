//! The catalogue workload's products and queries, the same on every run: product `i` is made
//! from `i` alone (by a fixed mix of its bits), so every run, and the plain loop beside it,
//! indexes the same documents.

use chrono::{DateTime, TimeZone, Utc};
use projector_products::events::{ProductCreated, ProductEvent};
use projector_products::projections::ProductDocument;
use projector_products::{Price, ProductId};

/// The categories, one in twenty products each.
pub(crate) const CATEGORIES: [&str; 20] = [
    "audio",
    "computing",
    "home",
    "garden",
    "kitchen",
    "toys",
    "books",
    "sports",
    "outdoor",
    "lighting",
    "office",
    "beauty",
    "health",
    "pets",
    "tools",
    "automotive",
    "music",
    "games",
    "baby",
    "fashion",
];

const ADJECTIVES: [&str; 24] = [
    "wireless",
    "portable",
    "compact",
    "heavy",
    "classic",
    "modern",
    "vintage",
    "smart",
    "electric",
    "foldable",
    "waterproof",
    "quiet",
    "rugged",
    "premium",
    "organic",
    "handmade",
    "adjustable",
    "rechargeable",
    "durable",
    "lightweight",
    "ergonomic",
    "stainless",
    "digital",
    "ceramic",
];

const NOUNS: [&str; 32] = [
    "headphones",
    "speaker",
    "keyboard",
    "lamp",
    "kettle",
    "blender",
    "backpack",
    "jacket",
    "camera",
    "charger",
    "drill",
    "blanket",
    "chair",
    "desk",
    "bottle",
    "watch",
    "tent",
    "bicycle",
    "guitar",
    "puzzle",
    "notebook",
    "brush",
    "leash",
    "stroller",
    "helmet",
    "mixer",
    "router",
    "monitor",
    "scissors",
    "pillow",
    "umbrella",
    "sneakers",
];

const WORDS: [&str; 48] = [
    "built",
    "for",
    "everyday",
    "use",
    "with",
    "a",
    "long",
    "lasting",
    "battery",
    "and",
    "soft",
    "grip",
    "designed",
    "travelling",
    "light",
    "strong",
    "frame",
    "easy",
    "cleaning",
    "includes",
    "cable",
    "case",
    "warranty",
    "colours",
    "available",
    "perfect",
    "gift",
    "fits",
    "most",
    "hands",
    "tested",
    "outdoors",
    "made",
    "from",
    "recycled",
    "materials",
    "the",
    "best",
    "selling",
    "model",
    "our",
    "range",
    "quick",
    "setup",
    "no",
    "tools",
    "needed",
    "season",
];

const TAGS: [&str; 16] = [
    "bestseller",
    "new",
    "sale",
    "eco",
    "gift",
    "premium",
    "limited",
    "bundle",
    "refurbished",
    "kids",
    "pro",
    "travel",
    "home-office",
    "outdoor",
    "classic",
    "clearance",
];

/// A fixed mix of `i`'s bits (splitmix64), for choices that look independent.
fn mix(i: u64, salt: u64) -> u64 {
    let mut z = i
        .wrapping_add(salt.wrapping_mul(0x9e37_79b9_7f4a_7c15))
        .wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

fn pick<'a>(list: &[&'a str], i: u64, salt: u64) -> &'a str {
    list[(mix(i, salt) % list.len() as u64) as usize]
}

fn created_at() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0)
        .single()
        .unwrap_or_default()
}

/// Product `i`'s id.
pub(crate) fn id(i: u64) -> String {
    format!("product-{i}")
}

/// Product `i`: a name of two adjectives and a noun, a description of 16 words, a category,
/// two tags and a price from 1.00 to 1000.00.
pub(crate) fn product(i: u64) -> ProductCreated {
    let name = format!(
        "{} {} {}",
        capitalised(pick(&ADJECTIVES, i, 1)),
        pick(&ADJECTIVES, i, 2),
        pick(&NOUNS, i, 3)
    );
    let description: Vec<&str> = (0..16).map(|w| pick(&WORDS, i, 10 + w)).collect();
    let mut tags = vec![pick(&TAGS, i, 4).to_owned()];
    let second = pick(&TAGS, i, 5);
    if second != tags[0] {
        tags.push(second.to_owned());
    }
    ProductCreated {
        product_id: id(i),
        name,
        description: format!("{}.", description.join(" ")),
        category: CATEGORIES[(i % CATEGORIES.len() as u64) as usize].to_owned(),
        price_cents: Price::from_cents(100 + (mix(i, 6) % 99_901) as i64).unwrap_or(Price::MAX),
        tags,
        created_at: created_at(),
    }
}

/// Product `i`'s event and stream.
pub(crate) fn event(i: u64) -> anyhow::Result<(projector_core::StreamId, ProductEvent)> {
    let stream = projector_products::product_stream(&ProductId::parse(&id(i))?);
    Ok((stream, ProductEvent::Created(product(i))))
}

/// Product `i` as the index keeps it.
pub(crate) fn document(i: u64) -> ProductDocument {
    let created = product(i);
    ProductDocument {
        product_id: created.product_id,
        name: created.name,
        description: created.description,
        category: created.category,
        price_cents: created.price_cents.cents(),
        tags: created.tags,
        created_at: created.created_at,
        updated_at: created.created_at,
    }
}

/// Query `n` of the latency phase: two words (an adjective and a noun) and a category.
pub(crate) fn query(n: u64) -> (String, &'static str) {
    (
        format!("{} {}", pick(&ADJECTIVES, n, 7), pick(&NOUNS, n, 8)),
        pick(&CATEGORIES, n, 9),
    )
}

fn capitalised(word: &str) -> String {
    let mut chars = word.chars();
    chars
        .next()
        .map(|first| first.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}
