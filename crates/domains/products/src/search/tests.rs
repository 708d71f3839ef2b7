//! The `product_search` projection and its queries over a real index in a temporary directory,
//! on a fixed catalogue: stemming, typos, phrases, filters, facets, ordering, snippets,
//! cursors, deletions and price changes.

use std::sync::Arc;

use chrono::{DateTime, Duration, TimeZone, Utc};
use projector_core::{
    Checkpoint, DomainEvent, EventMetadata, EventSet, GlobalPosition, ProjectionTarget,
    RecordedEvent, StreamVersion,
};
use projector_search::{SearchStore, SearchTarget};

use super::{CategoryCount, Cursor, ProductResults, ProductSearch, ProductSort, search_products};
use crate::events::{
    ProductCreated, ProductDeleted, ProductEvent, ProductPriceChanged, ProductUpdated,
};
use crate::price::Price;
use crate::projections::{PRODUCT_SEARCH, ProductSearchProjection};

fn at(minute: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 1, 9, 0, 0)
        .single()
        .expect("time")
        + Duration::minutes(minute)
}

fn price(cents: i64) -> Price {
    Price::from_cents(cents).expect("price")
}

/// `event` as the store records it at `position`.
fn recorded(position: u64, event: &ProductEvent) -> RecordedEvent {
    let new = event
        .to_new_event(&EventMetadata::default())
        .expect("encode");
    RecordedEvent {
        event_id: new.event_id,
        position: GlobalPosition::new(position),
        stream_id: ProductEvent::stream(event.product_id()).expect("stream"),
        stream_version: StreamVersion::new(position),
        event_type: new.event_type,
        schema_version: new.schema_version,
        data: new.data,
        metadata: new.metadata,
        recorded_at: at(position as i64),
    }
}

fn created(
    id: &str,
    name: &str,
    description: &str,
    category: &str,
    cents: i64,
    tags: &[&str],
) -> ProductEvent {
    ProductEvent::Created(ProductCreated {
        product_id: id.into(),
        name: name.into(),
        description: description.into(),
        category: category.into(),
        price_cents: price(cents),
        tags: tags.iter().map(|t| (*t).to_owned()).collect(),
        created_at: at(0),
    })
}

/// The catalogue: six products, then the headphones made cheaper (199.00 to 179.00), the lamp
/// renamed and moved to `lighting`, and the earbuds deleted.
struct Catalogue {
    _dir: tempfile::TempDir,
    store: SearchStore,
}

impl Catalogue {
    async fn new() -> Self {
        let dir = projector_testkit::temp_dir();
        let store = SearchStore::open(dir.path().join("search")).expect("store");
        let target = SearchTarget::typed(store.clone(), ProductSearchProjection);
        let generation = target.create_generation().await.expect("generation");
        target.activate(generation, None).await.expect("activate");
        let history = [
            created(
                "p1",
                "Wireless Headphones",
                "Over-ear headphones with active noise cancelling and a 30 hour battery.",
                "audio",
                19_900,
                &["bluetooth", "noise-cancelling"],
            ),
            created(
                "p2",
                "Studio Monitor Speakers",
                "A pair of powered speakers for mixing and listening.",
                "audio",
                34_900,
                &["studio"],
            ),
            created(
                "p3",
                "Mechanical Keyboard",
                "Tactile switches, backlit keys and a detachable cable.",
                "computing",
                12_900,
                &["backlit"],
            ),
            created(
                "p4",
                "Ergonomic Mouse",
                "A wireless mouse shaped for the hand, with a quiet click.",
                "computing",
                4_900,
                &["ergonomic"],
            ),
            created(
                "p5",
                "Desk Lamp",
                "An adjustable lamp with warm light for reading.",
                "home",
                3_900,
                &["reading"],
            ),
            created(
                "p6",
                "Bluetooth Earbuds",
                "Small wireless earbuds with a charging case.",
                "audio",
                7_900,
                &["bluetooth"],
            ),
            ProductEvent::PriceChanged(ProductPriceChanged {
                product_id: "p1".into(),
                from_cents: price(19_900),
                to_cents: price(17_900),
                changed_at: at(7),
            }),
            ProductEvent::Updated(ProductUpdated {
                product_id: "p5".into(),
                name: Some("Reading Lamp".into()),
                description: None,
                category: Some("lighting".into()),
                tags: None,
                updated_at: at(8),
            }),
            ProductEvent::Deleted(ProductDeleted {
                product_id: "p6".into(),
                deleted_at: at(9),
            }),
        ];
        let events: Vec<RecordedEvent> = history
            .iter()
            .zip(1..)
            .map(|(event, position)| recorded(position, event))
            .collect();
        // In two batches: the second changes documents the first committed.
        let (first, second) = events.split_at(6);
        for (from, batch) in [(0, first), (6, second)] {
            let to = Checkpoint::after(batch.last().expect("events"));
            target
                .apply(
                    generation,
                    Arc::from(batch.to_vec()),
                    GlobalPosition::new(from),
                    to,
                )
                .await
                .expect("batch");
        }
        Self { _dir: dir, store }
    }

    fn search(&self, search: &ProductSearch) -> ProductResults {
        let read = self.store.read(&PRODUCT_SEARCH).expect("read");
        search_products(&read, search).expect("search")
    }

    /// The ids `text` finds (with `adjust` applied to the search), in the order found.
    fn find(&self, text: &str, adjust: impl FnOnce(&mut ProductSearch)) -> Vec<String> {
        let mut search = ProductSearch {
            text: Some(text.to_owned()),
            ..ProductSearch::default()
        };
        adjust(&mut search);
        ids(&self.search(&search))
    }
}

fn ids(results: &ProductResults) -> Vec<String> {
    results
        .hits
        .iter()
        .map(|h| h.product.product_id.clone())
        .collect()
}

fn none(_: &mut ProductSearch) {}

#[tokio::test]
async fn words_are_found_by_their_stem() {
    let catalogue = Catalogue::new().await;
    assert_eq!(
        catalogue.find("headphone", none),
        ["p1"],
        "singular finds plural"
    );
    assert_eq!(catalogue.find("HEADPHONES", none), ["p1"], "any case");
    assert_eq!(
        catalogue.find("listened", none),
        ["p2"],
        "another form of the verb"
    );
    assert_eq!(catalogue.find("lamps", none), ["p5"]);
    assert_eq!(
        catalogue.find("noise cancelling", none),
        ["p1"],
        "tags and description"
    );
    assert_eq!(
        catalogue.find("wireless lamp", none),
        Vec::<String>::new(),
        "every word must match"
    );
}

#[tokio::test]
async fn longer_words_forgive_typos_and_short_ones_do_not() {
    let catalogue = Catalogue::new().await;
    assert_eq!(
        catalogue.find("headphnes", none),
        ["p1"],
        "a letter missing"
    );
    assert_eq!(
        catalogue.find("keybaord", none),
        ["p3"],
        "two letters swapped"
    );
    assert_eq!(catalogue.find("speekers", none), ["p2"], "a letter wrong");
    assert_eq!(
        catalogue.find("mose", none),
        Vec::<String>::new(),
        "four letters: exact only"
    );
    assert_eq!(catalogue.find("keyboard", none), ["p3"]);
}

#[tokio::test]
async fn an_exact_word_ranks_above_a_typo_and_the_name_above_the_description() {
    let catalogue = Catalogue::new().await;
    // "wireless": the headphones' name, the mouse's description and tags.
    let found = catalogue.find("wireless", none);
    assert_eq!(found, ["p1", "p4"], "the name weighs most");
    let scores: Vec<f32> = catalogue
        .search(&ProductSearch {
            text: Some("wireless".into()),
            ..ProductSearch::default()
        })
        .hits
        .iter()
        .map(|h| h.score.expect("scored"))
        .collect();
    assert!(scores[0] > scores[1], "{scores:?}");
}

#[tokio::test]
async fn quoted_words_match_as_a_phrase() {
    let catalogue = Catalogue::new().await;
    assert_eq!(catalogue.find("\"active noise\"", none), ["p1"]);
    assert_eq!(
        catalogue.find("\"noise active\"", none),
        Vec::<String>::new()
    );
    assert_eq!(
        catalogue.find("\"warm light", none),
        ["p5"],
        "a quote left open runs to the end"
    );
}

#[tokio::test]
async fn filters_narrow_by_category_and_price() {
    let catalogue = Catalogue::new().await;
    let audio = |s: &mut ProductSearch| s.category = Some("audio".into());
    assert_eq!(catalogue.find("wireless", audio), ["p1"]);
    assert_eq!(
        catalogue.find("wireless", |s| s.max_price_cents = Some(10_000)),
        ["p4"]
    );
    assert_eq!(
        catalogue.find("wireless", |s| s.min_price_cents = Some(10_000)),
        ["p1"]
    );
    assert_eq!(
        catalogue.find("wireless", |s| {
            s.min_price_cents = Some(4_900);
            s.max_price_cents = Some(4_900);
        }),
        ["p4"],
        "both bounds are inclusive"
    );
    let everything = catalogue.search(&ProductSearch {
        category: Some("computing".into()),
        sort: ProductSort::PriceAscending,
        ..ProductSearch::default()
    });
    assert_eq!(ids(&everything), ["p4", "p3"], "filters without text");
    assert_eq!(
        catalogue.find("lamp", |s| s.category = Some("Home".into())),
        Vec::<String>::new(),
        "a category whole, as written"
    );
}

#[tokio::test]
async fn hits_sort_by_price_either_way() {
    let catalogue = Catalogue::new().await;
    let by = |sort| {
        ids(&catalogue.search(&ProductSearch {
            sort,
            ..ProductSearch::default()
        }))
    };
    assert_eq!(
        by(ProductSort::PriceAscending),
        ["p5", "p4", "p3", "p1", "p2"]
    );
    assert_eq!(
        by(ProductSort::PriceDescending),
        ["p2", "p1", "p3", "p4", "p5"]
    );
}

#[tokio::test]
async fn every_category_of_the_matching_set_is_counted() {
    let catalogue = Catalogue::new().await;
    let count = |category: &str, count| CategoryCount {
        category: category.into(),
        count,
    };
    let all = catalogue.search(&ProductSearch::default());
    assert_eq!(all.total, 5);
    assert_eq!(
        all.categories,
        [
            count("audio", 2),
            count("computing", 2),
            count("lighting", 1)
        ]
    );
    let wireless = catalogue.search(&ProductSearch {
        text: Some("wireless".into()),
        limit: 1,
        ..ProductSearch::default()
    });
    assert_eq!(wireless.total, 2, "the total counts past the page");
    assert_eq!(
        wireless.categories,
        [count("audio", 1), count("computing", 1)]
    );
}

#[tokio::test]
async fn deletions_vanish_and_changes_show() {
    let catalogue = Catalogue::new().await;
    assert_eq!(
        catalogue.find("earbuds", none),
        Vec::<String>::new(),
        "deleted"
    );
    let headphones = catalogue.search(&ProductSearch {
        text: Some("headphones".into()),
        ..ProductSearch::default()
    });
    assert_eq!(
        headphones.hits[0].product.price_cents, 17_900,
        "the new price"
    );
    assert_eq!(
        catalogue.find("headphones", |s| s.min_price_cents = Some(18_000)),
        Vec::<String>::new(),
        "filtered on the new price, not the old"
    );
    assert_eq!(catalogue.find("reading lamp", none), ["p5"], "the new name");
    assert_eq!(
        catalogue.find("desk", none),
        Vec::<String>::new(),
        "not the old one"
    );
    assert_eq!(
        catalogue.find("lamp", |s| s.category = Some("lighting".into())),
        ["p5"]
    );
    assert_eq!(
        catalogue.find("lamp", |s| s.category = Some("home".into())),
        Vec::<String>::new()
    );
}

#[tokio::test]
async fn each_hit_carries_a_snippet_with_the_matches_marked() {
    let catalogue = Catalogue::new().await;
    let snippet = |text: &str| {
        let results = catalogue.search(&ProductSearch {
            text: Some(text.into()),
            ..ProductSearch::default()
        });
        results.hits[0].snippet.clone().expect("a snippet")
    };
    let exact = snippet("headphone");
    assert_eq!(exact.field, "description");
    assert!(
        exact.html.contains("<mark>headphones</mark>"),
        "{}",
        exact.html
    );
    let typo = snippet("headphnes");
    assert!(
        typo.html.contains("<mark>headphones</mark>"),
        "typos are marked too: {}",
        typo.html
    );
    let name_only = snippet("ergonomic");
    assert_eq!(
        name_only.field, "name",
        "the name when the description has no match"
    );
    assert_eq!(name_only.html, "<mark>Ergonomic</mark> Mouse");
    let without_text = catalogue.search(&ProductSearch::default());
    assert!(without_text.hits.iter().all(|h| h.snippet.is_none()));
}

#[tokio::test]
async fn cursors_page_through_every_hit_once() {
    let catalogue = Catalogue::new().await;
    let mut search = ProductSearch {
        sort: ProductSort::PriceAscending,
        limit: 2,
        ..ProductSearch::default()
    };
    let mut pages = Vec::new();
    loop {
        let results = catalogue.search(&search);
        pages.push(ids(&results));
        match results.next {
            Some(next) => {
                let text = next.encode();
                search.cursor = Some(Cursor::decode(&text, &search).expect("its own cursor"));
            }
            None => break,
        }
    }
    assert_eq!(pages, [vec!["p5", "p4"], vec!["p3", "p1"], vec!["p2"]]);
}

#[tokio::test]
async fn text_with_no_words_searches_everything_and_nothing_panics() {
    let catalogue = Catalogue::new().await;
    for text in ["", "\"", "(((", "name:", "AND OR -", "* ? ~", "\u{0}", "ü"] {
        let search = ProductSearch {
            text: Some(text.to_owned()),
            ..ProductSearch::default()
        };
        let read = catalogue.store.read(&PRODUCT_SEARCH).expect("read");
        let results = search_products(&read, &search).expect(text);
        assert!(
            results.total == 5 || results.total == 0,
            "{text:?}: {}",
            results.total
        );
    }
    assert_eq!(
        catalogue.find("AND", none),
        catalogue.find("and", none),
        "operators are plain words"
    );
    assert_eq!(
        catalogue.find("-wireless", none),
        catalogue.find("wireless", none)
    );
}
