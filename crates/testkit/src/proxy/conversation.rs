//! Which replies a PostgreSQL client still waits for, read off the bytes of its connection.
//!
//! Every simple query (`Q`), `Sync` (`S`) and function call (`F`) a client sends is answered
//! with exactly one `ReadyForQuery` (`Z`), and so is its startup message; other messages are
//! framed by a type byte and a length that counts itself. Before its startup message a client
//! may ask for encryption (answered by one unframed byte; `N` keeps the connection plaintext).
//! That is all it takes to know when the server has answered a given message in full, even
//! with replies to earlier messages still on their way (tokio-postgres sends the `Close` of a
//! dropped statement without waiting for its answer, for one).

/// The code of an `SSLRequest`, in place of a protocol version.
const SSL_REQUEST: u32 = 80_877_103;
/// The code of a `GSSENCRequest`.
const GSSENC_REQUEST: u32 = 80_877_104;
/// The code of a `CancelRequest`: the connection carries nothing else.
const CANCEL_REQUEST: u32 = 80_877_102;

/// Replies asked for and completed on one connection.
#[derive(Debug, Default)]
pub(super) struct Conversation {
    client: Framing,
    server: Framing,
    /// The client has sent its startup message; its messages are typed from then on.
    started: bool,
    /// One-byte answers to encryption requests the server owes.
    owed: u32,
    /// Encryption was accepted: the bytes can no longer be read.
    opaque: bool,
    asked: u64,
    answered: u64,
}

impl Conversation {
    /// Follows what the client sent.
    pub(super) fn client_sent(&mut self, mut bytes: &[u8]) {
        while !bytes.is_empty() && !self.opaque {
            if self.started {
                if let Some(header) = self.client.next(&mut bytes, 5) {
                    self.client
                        .skip((word(&header[1..5]) as usize).saturating_sub(4));
                    if matches!(header[0], b'Q' | b'S' | b'F') {
                        self.asked += 1;
                    }
                }
            } else if let Some(header) = self.client.next(&mut bytes, 8) {
                self.client
                    .skip((word(&header[0..4]) as usize).saturating_sub(8));
                match word(&header[4..8]) {
                    SSL_REQUEST | GSSENC_REQUEST => self.owed += 1,
                    CANCEL_REQUEST => {}
                    _ => {
                        self.started = true;
                        self.asked += 1;
                    }
                }
            }
        }
    }

    /// Follows what the server sent.
    pub(super) fn server_sent(&mut self, mut bytes: &[u8]) {
        while !bytes.is_empty() && !self.opaque {
            if self.owed > 0 {
                self.opaque = bytes[0] != b'N';
                self.owed -= 1;
                bytes = &bytes[1..];
            } else if let Some(header) = self.server.next(&mut bytes, 5) {
                self.server
                    .skip((word(&header[1..5]) as usize).saturating_sub(4));
                if header[0] == b'Z' {
                    self.answered += 1;
                }
            }
        }
    }

    /// How many replies the client has asked for, its startup included.
    pub(super) fn asked(&self) -> u64 {
        self.asked
    }

    /// Whether the server has completed the first `replies` replies. `None` once the
    /// connection is encrypted and cannot tell.
    pub(super) fn answered(&self, replies: u64) -> Option<bool> {
        (!self.opaque).then_some(self.answered >= replies)
    }
}

/// Splits a stream into messages across the chunks it arrives in.
#[derive(Debug, Default)]
struct Framing {
    header: [u8; 8],
    header_len: usize,
    body_left: usize,
}

impl Framing {
    /// Takes from `bytes` what belongs to the message under way, and returns its header once
    /// the `header_len` bytes of it are complete (the caller then says how long the body is).
    fn next(&mut self, bytes: &mut &[u8], header_len: usize) -> Option<[u8; 8]> {
        if self.body_left > 0 {
            let skipped = self.body_left.min(bytes.len());
            self.body_left -= skipped;
            *bytes = &bytes[skipped..];
            return None;
        }
        let taken = (header_len - self.header_len).min(bytes.len());
        self.header[self.header_len..self.header_len + taken].copy_from_slice(&bytes[..taken]);
        self.header_len += taken;
        *bytes = &bytes[taken..];
        (self.header_len == header_len).then(|| {
            self.header_len = 0;
            self.header
        })
    }

    /// Skips the body of the message whose header was just returned.
    fn skip(&mut self, body: usize) {
        self.body_left = body;
    }
}

/// A big-endian 32-bit word: a length or a code.
fn word(bytes: &[u8]) -> u32 {
    let mut word = [0_u8; 4];
    word.copy_from_slice(&bytes[..4]);
    u32::from_be_bytes(word)
}

#[cfg(test)]
mod tests;
