use super::{Conversation, SSL_REQUEST};

fn message(kind: u8, body: &[u8]) -> Vec<u8> {
    let length = u32::try_from(body.len() + 4).expect("small");
    let mut bytes = vec![kind];
    bytes.extend_from_slice(&length.to_be_bytes());
    bytes.extend_from_slice(body);
    bytes
}

fn untyped(code: u32, body: &[u8]) -> Vec<u8> {
    let length = u32::try_from(body.len() + 8).expect("small");
    let mut bytes = length.to_be_bytes().to_vec();
    bytes.extend_from_slice(&code.to_be_bytes());
    bytes.extend_from_slice(body);
    bytes
}

/// Feeds `bytes` in chunks of `size`.
fn feed(size: usize, bytes: &[u8], mut sent: impl FnMut(&[u8])) {
    for chunk in bytes.chunks(size) {
        sent(chunk);
    }
}

#[test]
fn the_reply_to_a_commit_is_told_apart_from_earlier_ones_still_on_their_way() {
    for size in 1..=24 {
        let mut talk = Conversation::default();
        // Startup (protocol 3.0), answered by authentication, parameters and ReadyForQuery.
        feed(size, &untyped(196_608, b"user\0postgres\0\0"), |c| {
            talk.client_sent(c)
        });
        assert_eq!(talk.asked(), 1);
        let mut startup = message(b'R', &[0, 0, 0, 0]);
        startup.extend(message(b'S', b"TimeZone\0UTC\0"));
        startup.extend(message(b'Z', b"I"));
        feed(size, &startup, |c| talk.server_sent(c));
        assert_eq!(talk.answered(1), Some(true), "chunks of {size}");

        // A statement closed without waiting (Close, Sync), then COMMIT right after.
        let mut close = message(b'C', b"S\0");
        close.extend(message(b'S', b""));
        feed(size, &close, |c| talk.client_sent(c));
        feed(size, &message(b'Q', b"COMMIT\0"), |c| talk.client_sent(c));
        let commit = talk.asked();
        assert_eq!(commit, 3);

        // The Close's answer (with a `Z` inside a body, which is no message) does not end
        // the COMMIT's reply; the COMMIT's own ReadyForQuery does.
        let mut closed = message(b'3', b"");
        closed.extend(message(b'N', b"ZZZZZZZZZZ"));
        closed.extend(message(b'Z', b"T"));
        feed(size, &closed, |c| talk.server_sent(c));
        assert_eq!(talk.answered(commit), Some(false), "chunks of {size}");
        let mut committed = message(b'C', b"COMMIT\0");
        committed.extend(message(b'Z', b"I"));
        let (body, end) = committed.split_at(committed.len() - 2);
        feed(size, body, |c| talk.server_sent(c));
        assert_eq!(talk.answered(commit), Some(false), "chunks of {size}");
        talk.server_sent(end);
        assert_eq!(talk.answered(commit), Some(true), "chunks of {size}");
    }
}

#[test]
fn a_refused_encryption_request_keeps_the_connection_readable_and_an_accepted_one_does_not() {
    let mut plain = Conversation::default();
    plain.client_sent(&untyped(SSL_REQUEST, b""));
    plain.server_sent(b"N");
    plain.client_sent(&untyped(196_608, b"user\0postgres\0\0"));
    plain.server_sent(&message(b'Z', b"I"));
    assert_eq!(plain.asked(), 1);
    assert_eq!(plain.answered(1), Some(true));

    let mut encrypted = Conversation::default();
    encrypted.client_sent(&untyped(SSL_REQUEST, b""));
    encrypted.server_sent(b"S");
    encrypted.server_sent(&message(b'Z', b"I"));
    assert_eq!(encrypted.answered(0), None);
}
