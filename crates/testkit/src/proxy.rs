//! A TCP proxy on loopback in front of PostgreSQL that a test can cut and restore, to take the
//! database away from a store without touching the server other tests use.

use std::net::SocketAddr;
use std::str::FromStr;
use std::sync::{Arc, Mutex};

use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::task::JoinHandle;

/// A proxy to the database of a URL.
#[derive(Debug)]
pub struct Proxy {
    listen: SocketAddr,
    upstream: SocketAddr,
    tasks: Arc<Mutex<Vec<JoinHandle<()>>>>,
    url: String,
}

impl Proxy {
    /// A proxy for `url`'s server on a free loopback port, and the URL that goes through it.
    pub async fn start(url: &str) -> Self {
        let config = tokio_postgres::Config::from_str(url).expect("valid URL");
        let port = config.get_ports().first().copied().unwrap_or(5432);
        let upstream: SocketAddr = format!("127.0.0.1:{port}").parse().expect("address");
        let listener = bind("127.0.0.1:0".parse().expect("address"));
        let listen = listener.local_addr().expect("bound");
        let user = config.get_user().unwrap_or("postgres");
        let dbname = config.get_dbname().unwrap_or("postgres");
        let proxy = Self {
            listen,
            upstream,
            tasks: Arc::default(),
            url: format!("postgres://{user}@127.0.0.1:{}/{dbname}", listen.port()),
        };
        proxy.serve(listener);
        proxy
    }

    /// The URL that reaches the database through the proxy.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Drops every proxied connection and refuses new ones.
    pub fn cut(&self) {
        for task in self.tasks.lock().expect("tasks").drain(..) {
            task.abort();
        }
    }

    /// Accepts connections again, on the same port.
    pub fn restore(&self) {
        self.serve(bind(self.listen));
    }

    fn serve(&self, listener: TcpListener) {
        let tasks = Arc::clone(&self.tasks);
        let upstream = self.upstream;
        let accept = tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                let pipe = tokio::spawn(async move {
                    if let Ok(mut server) = TcpStream::connect(upstream).await {
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                    }
                });
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
