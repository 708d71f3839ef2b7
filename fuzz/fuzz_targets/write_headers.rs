//! The headers every write reads (`If-Match`, `Idempotency-Key`, `X-User-Id`): the input is
//! lines of `name: value`. Nothing may panic; an accepted `If-Match` names its version.
#![no_main]

use libfuzzer_sys::fuzz_target;
use projector_server::fuzzing::write_headers;

fuzz_target!(|data: &[u8]| {
    let pairs: Vec<(&str, &[u8])> = data
        .split(|&b| b == b'\n')
        .filter_map(|line| {
            let colon = line.iter().position(|&b| b == b':')?;
            let name = std::str::from_utf8(&line[..colon]).ok()?;
            let value = line[colon + 1..]
                .strip_prefix(b" ")
                .unwrap_or(&line[colon + 1..]);
            Some((name, value))
        })
        .collect();
    let _ = write_headers(&pairs);
});
