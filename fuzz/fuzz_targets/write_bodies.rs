//! Every write body, read and validated as its route does: the first byte picks the route,
//! the rest is the body. Nothing may panic; what is accepted keeps the documented limits.
#![no_main]

use libfuzzer_sys::fuzz_target;
use projector_server::fuzzing::{WriteBody, write_body};

fuzz_target!(|data: &[u8]| {
    let Some((&pick, body)) = data.split_first() else {
        return;
    };
    let kind = WriteBody::ALL[usize::from(pick) % WriteBody::ALL.len()];
    let _ = write_body(kind, body);
});
