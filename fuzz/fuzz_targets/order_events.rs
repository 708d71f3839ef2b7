//! Stored order events of any type, schema version and payload: decoding never panics, a
//! decoded event survives encode and decode unchanged, and folding any sequence of them (the
//! decider's state, the read models' view) never panics.
#![no_main]

use libfuzzer_sys::fuzz_target;
use projector_fuzz::{recorded_events, round_trip};
use projector_orders::events::types::ALL;
use projector_orders::{Order, OrderEvent, OrderView};

fuzz_target!(|data: &[u8]| {
    let stored = recorded_events(&ALL, data);
    let events: Vec<(OrderEvent, _)> = stored
        .iter()
        .filter_map(|e| Some((round_trip::<OrderEvent>(e)?, e.recorded_at)))
        .collect();
    let order = events
        .iter()
        .fold(Order::default(), |order, (event, _)| order.evolve(event));
    let _ = (order.total(), order.refundable(), order.item_count());
    let _ = OrderView::fold(events.iter().map(|(event, at)| (event, *at)));
});
