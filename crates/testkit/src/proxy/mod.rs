//! A TCP proxy on loopback in front of PostgreSQL (or Redis), to put network faults between a
//! store and its server without touching the server other tests use.
//!
//! The faults:
//! - [`Proxy::cut`] / [`Proxy::restore`]: the database goes away (every connection is closed,
//!   new ones are refused) and comes back.
//! - [`Proxy::pause`] / [`Proxy::resume`]: a hung network. Nothing is forwarded and nothing is
//!   closed, so neither end gets an error until its own timeouts fire.
//! - [`Proxy::lose_reply_to`] (and [`Proxy::lose_reply_after`]): a statement reaches the
//!   server and is carried out, but its reply never reaches the client, whose connection is
//!   then closed: the client cannot tell whether it happened.
//!
//! Only plaintext connections can be proxied this way (the proxy looks at the bytes).

mod conversation;
mod pipe;

use std::net::SocketAddr;
use std::str::FromStr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use tokio::net::{TcpListener, TcpSocket};
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// A proxy to the database of a URL.
#[derive(Debug)]
pub struct Proxy {
    listen: SocketAddr,
    upstream: SocketAddr,
    tasks: Arc<Mutex<Vec<JoinHandle<()>>>>,
    faults: Arc<Faults>,
    url: String,
}

/// The faults every proxied connection obeys.
#[derive(Debug)]
struct Faults {
    /// `true` while the network hangs.
    paused: watch::Sender<bool>,
    /// The statement whose reply is to be lost, while armed.
    lose_reply_to: Mutex<Option<LostReply>>,
    /// How many replies were lost.
    lost: AtomicUsize,
    /// How many times the database went away. A connection accepted before the latest cut
    /// forwards nothing more: aborting its task takes effect only at its next poll, and on a
    /// busy machine a statement sent after [`Proxy::cut`] returned could otherwise still reach
    /// the server (and commit) before the task is dropped.
    cuts: AtomicU64,
}

impl Faults {
    /// Whether a connection accepted in `generation` has since been cut.
    fn is_cut(&self, generation: u64) -> bool {
        self.cuts.load(Ordering::SeqCst) != generation
    }
}

/// Which reply to lose: the one to the next chunk carrying `trigger`, on a connection that
/// has sent `after` (if set) since the fault was armed.
#[derive(Debug)]
struct LostReply {
    after: Option<Vec<u8>>,
    trigger: Vec<u8>,
    /// When the fault was armed: a connection's earlier `after` does not count.
    armed: u64,
}

/// Counts the times a fault was armed, so connections can tell an `after` they sent for an
/// earlier arming from one for this.
static ARMINGS: AtomicU64 = AtomicU64::new(0);

fn contains(chunk: &[u8], bytes: &[u8]) -> bool {
    chunk.windows(bytes.len()).any(|w| w == bytes)
}

impl Faults {
    /// Whether the reply to `chunk` (sent by a client) is the one to lose; disarms if so.
    /// `primed` is the connection's: the arming whose `after` it has sent, if any.
    fn loses_reply_to(&self, chunk: &[u8], primed: &mut Option<u64>) -> bool {
        let mut armed = self.lose_reply_to.lock().expect("armed trigger");
        let Some(fault) = armed.as_ref() else {
            return false;
        };
        if let Some(after) = &fault.after
            && *primed != Some(fault.armed)
        {
            if contains(chunk, after) {
                *primed = Some(fault.armed);
            }
            return false;
        }
        let hit = contains(chunk, &fault.trigger);
        if hit {
            *armed = None;
            self.lost.fetch_add(1, Ordering::SeqCst);
        }
        hit
    }
}

impl Proxy {
    /// A proxy for `url`'s server on a free loopback port, and the URL that goes through it.
    pub async fn start(url: &str) -> Self {
        let config = tokio_postgres::Config::from_str(url).expect("valid URL");
        let port = config.get_ports().first().copied().unwrap_or(5432);
        let user = config.get_user().unwrap_or("postgres");
        let dbname = config.get_dbname().unwrap_or("postgres");
        Self::with_url(port, |listen| {
            format!("postgres://{user}@127.0.0.1:{}/{dbname}", listen.port())
        })
    }

    /// A proxy for the Redis server of `url` (`redis://127.0.0.1:6379/...`), and the URL that
    /// goes through it. Only [`Proxy::cut`]/[`Proxy::restore`] and [`Proxy::pause`]/
    /// [`Proxy::resume`] apply: losing a reply follows PostgreSQL's protocol.
    pub async fn start_redis(url: &str) -> Self {
        let rest = url.strip_prefix("redis://").expect("a redis:// URL");
        let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
        let host_port = authority.rsplit('@').next().unwrap_or(authority);
        let port = host_port
            .rsplit_once(':')
            .and_then(|(_, p)| p.parse().ok())
            .unwrap_or(6379);
        Self::with_url(port, |listen| {
            format!("redis://127.0.0.1:{}/{path}", listen.port())
        })
    }

    fn with_url(port: u16, url: impl FnOnce(SocketAddr) -> String) -> Self {
        let upstream: SocketAddr = format!("127.0.0.1:{port}").parse().expect("address");
        let listener = bind("127.0.0.1:0".parse().expect("address"));
        let listen = listener.local_addr().expect("bound");
        let proxy = Self {
            listen,
            upstream,
            tasks: Arc::default(),
            faults: Arc::new(Faults {
                paused: watch::Sender::new(false),
                lose_reply_to: Mutex::new(None),
                lost: AtomicUsize::new(0),
                cuts: AtomicU64::new(0),
            }),
            url: url(listen),
        };
        proxy.serve(listener);
        proxy
    }

    /// The URL that reaches the server through the proxy.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Drops every proxied connection and refuses new ones. Nothing a client sends once this
    /// has returned reaches the server.
    pub fn cut(&self) {
        self.faults.cuts.fetch_add(1, Ordering::SeqCst);
        for task in self.tasks.lock().expect("tasks").drain(..) {
            task.abort();
        }
    }

    /// Accepts connections again, on the same port.
    pub fn restore(&self) {
        self.serve(bind(self.listen));
    }

    /// Hangs the network: stops forwarding bytes both ways on every connection, new ones
    /// included, without closing any socket (no FIN, no RST), until [`Proxy::resume`].
    ///
    /// Even a connection one end closes stays open at the other end while paused. A chunk
    /// already being forwarded when this is called may still arrive.
    pub fn pause(&self) {
        self.faults.paused.send_replace(true);
    }

    /// Forwards again what [`Proxy::pause`] held back, and everything after it.
    pub fn resume(&self) {
        self.faults.paused.send_replace(false);
    }

    /// Loses the reply to the next statement a client sends whose bytes contain `trigger`
    /// (e.g. `b"COMMIT"`), once.
    ///
    /// The chunk with `trigger` is forwarded and the server carries the statement out, but
    /// what it answers is swallowed; once it has answered in full (its `ReadyForQuery`), the
    /// client's connection is closed, and nothing else that client sent is forwarded. The
    /// client sees its connection fail, so a COMMIT has committed although the client never
    /// heard so.
    ///
    /// `trigger` must arrive in one read, and the statement must go as a simple query (as
    /// `batch_execute` and a transaction's `commit` send it): tokio-postgres prepares other
    /// statements first, and the reply lost would be the prepare's.
    pub fn lose_reply_to(&self, trigger: &[u8]) {
        self.arm(None, trigger);
    }

    /// As [`Proxy::lose_reply_to`], on the first connection that sends a chunk containing
    /// `after` and then one containing `trigger`: e.g. the `COMMIT` of the transaction that
    /// ran a given statement.
    pub fn lose_reply_after(&self, after: &[u8], trigger: &[u8]) {
        self.arm(Some(after), trigger);
    }

    /// How many replies have been lost so far.
    pub fn lost_replies(&self) -> usize {
        self.faults.lost.load(Ordering::SeqCst)
    }

    fn arm(&self, after: Option<&[u8]>, trigger: &[u8]) {
        *self.faults.lose_reply_to.lock().expect("armed trigger") = Some(LostReply {
            after: after.map(<[u8]>::to_vec),
            trigger: trigger.to_vec(),
            armed: ARMINGS.fetch_add(1, Ordering::SeqCst),
        });
    }

    fn serve(&self, listener: TcpListener) {
        let tasks = Arc::clone(&self.tasks);
        let faults = Arc::clone(&self.faults);
        let upstream = self.upstream;
        let generation = faults.cuts.load(Ordering::SeqCst);
        let accept = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                if faults.is_cut(generation) {
                    // Cut while this listener waited to be dropped: refuse, as a closed port.
                    return;
                }
                let pipe =
                    tokio::spawn(pipe::run(client, upstream, Arc::clone(&faults), generation));
                tasks.lock().expect("tasks").push(pipe);
            }
        });
        self.tasks.lock().expect("tasks").push(accept);
    }
}

fn bind(address: SocketAddr) -> TcpListener {
    let socket = TcpSocket::new_v4().expect("socket");
    socket.set_reuseaddr(true).expect("reuse address");
    socket.bind(address).expect("bind");
    socket.listen(64).expect("listen")
}
