//! Stored product events of any type and payload: decoding never panics, a decoded event
//! survives encode and decode unchanged, and folding any sequence of them into the decider's
//! state never panics.
#![no_main]

use libfuzzer_sys::fuzz_target;
use projector_core::EventSet;
use projector_fuzz::{recorded_events, round_trip};
use projector_products::{Product, ProductEvent};

fuzz_target!(|data: &[u8]| {
    let types: Vec<&str> = ProductEvent::TYPES.iter().map(|t| t.name).collect();
    let events: Vec<ProductEvent> = recorded_events(&types, data)
        .iter()
        .filter_map(round_trip::<ProductEvent>)
        .collect();
    let _ = events
        .iter()
        .fold(Product::default(), |product, event| product.evolve(event));
});
