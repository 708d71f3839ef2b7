//! One proxied connection: bytes forwarded both ways, held back while the proxy is paused,
//! and a reply swallowed when the client's statement is the one whose reply is to be lost.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};

use super::Faults;
use super::conversation::Conversation;

/// The longest a server may take to answer a statement whose reply is lost before the proxy
/// stops waiting for the answer and closes the connection anyway.
const REPLY_PATIENCE: Duration = Duration::from_secs(30);

/// The end a copy reads from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Side {
    Client,
    Server,
}

/// How a copy ended.
#[derive(Debug, PartialEq, Eq)]
enum Ended {
    /// One end closed or failed.
    Closed,
    /// The client's statement went through; the reply that completes the client's `n`th
    /// request is to be lost.
    ReplyLost(u64),
}

/// Proxies `client` to the server at `upstream` until either end closes or the proxy is cut
/// after `generation`.
pub(super) async fn run(
    client: TcpStream,
    upstream: SocketAddr,
    faults: Arc<Faults>,
    generation: u64,
) {
    // On a hung network the server does not even hear of the connection.
    let _ = faults.paused.subscribe().wait_for(|paused| !paused).await;
    let Ok(server) = TcpStream::connect(upstream).await else {
        return;
    };
    if faults.is_cut(generation) {
        return;
    }
    let _ = (client.set_nodelay(true), server.set_nodelay(true));
    let (mut client_read, mut client_write) = client.into_split();
    let (mut server_read, mut server_write) = server.into_split();
    let talk = Mutex::new(Talk::default());
    let ended = tokio::select! {
        ended = copy(Side::Client, &mut client_read, &mut server_write, &faults, &talk, generation) => ended,
        ended = copy(Side::Server, &mut server_read, &mut client_write, &faults, &talk, generation) => ended,
    };
    if let Ended::ReplyLost(request) = ended {
        swallow_reply(&mut server_read, &talk, request).await;
    }
    // Dropping the halves closes both connections: the client's only now, after the server
    // has answered, so the statement is done before the client learns it failed.
}

/// What one connection has said: the conversation, and the arming of a lost reply whose
/// `after` the client has sent.
#[derive(Debug, Default)]
struct Talk {
    conversation: Conversation,
    primed: Option<u64>,
}

/// Copies `from` to `to` chunk by chunk, holding each chunk (and the end of the stream) while
/// the proxy is paused. From the client, a chunk with the armed trigger ends the copy once
/// forwarded.
async fn copy(
    side: Side,
    from: &mut OwnedReadHalf,
    to: &mut OwnedWriteHalf,
    faults: &Faults,
    talk: &Mutex<Talk>,
    generation: u64,
) -> Ended {
    let mut paused = faults.paused.subscribe();
    let mut buffer = vec![0_u8; 16 * 1024];
    loop {
        let read = from.read(&mut buffer).await;
        let chunk = match &read {
            Ok(n) => &buffer[..*n],
            Err(_) => &[],
        };
        let lost = follow(side, chunk, faults, talk);
        // A hung network delivers nothing, not even the end of a connection.
        let _ = paused.wait_for(|paused| !paused).await;
        if chunk.is_empty() || faults.is_cut(generation) || to.write_all(chunk).await.is_err() {
            return Ended::Closed;
        }
        if let Some(lost) = lost {
            return lost;
        }
    }
}

/// Notes what `side` sent in `chunk`; from the client, whether it carries the armed trigger
/// (and which request's reply is then to be lost).
fn follow(side: Side, chunk: &[u8], faults: &Faults, talk: &Mutex<Talk>) -> Option<Ended> {
    let mut talk = talk.lock().expect("conversation");
    let Talk {
        conversation,
        primed,
    } = &mut *talk;
    match side {
        Side::Client => {
            conversation.client_sent(chunk);
            faults
                .loses_reply_to(chunk, primed)
                .then(|| Ended::ReplyLost(conversation.asked()))
        }
        Side::Server => {
            conversation.server_sent(chunk);
            None
        }
    }
}

/// Reads and discards what the server answers until it has completed the client's
/// `request`th request, it closes the connection, or [`REPLY_PATIENCE`] passes.
async fn swallow_reply(server: &mut OwnedReadHalf, talk: &Mutex<Talk>, request: u64) {
    let mut buffer = vec![0_u8; 16 * 1024];
    let _ = tokio::time::timeout(REPLY_PATIENCE, async {
        loop {
            if talk
                .lock()
                .expect("conversation")
                .conversation
                .answered(request)
                == Some(true)
            {
                return;
            }
            match server.read(&mut buffer).await {
                Ok(0) | Err(_) => return,
                Ok(n) => talk
                    .lock()
                    .expect("conversation")
                    .conversation
                    .server_sent(&buffer[..n]),
            }
        }
    })
    .await;
}
