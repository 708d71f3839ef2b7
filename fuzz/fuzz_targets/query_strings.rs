//! Every read's query string, read as its route does: the first byte picks the route, the
//! rest is the raw query. Nothing may panic; what is accepted keeps the documented bounds,
//! and a cursor that is accepted reads back the same.
#![no_main]

use libfuzzer_sys::fuzz_target;
use projector_server::fuzzing::{QueryRoute, query};

fuzz_target!(|data: &[u8]| {
    let Some((&pick, raw)) = data.split_first() else {
        return;
    };
    let Ok(raw) = std::str::from_utf8(raw) else {
        return;
    };
    let route = QueryRoute::ALL[usize::from(pick) % QueryRoute::ALL.len()];
    let _ = query(route, Some(raw));
});
