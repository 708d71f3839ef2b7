//! The service phase C drives: `projector serve` started as its own process on fresh storage
//! (a temporary data directory, or a fresh PostgreSQL database), with a read node beside it
//! when a broker is given. Each step of a capacity search starts a fresh one, so no step
//! inherits another's data or backlog.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use anyhow::Context;

use super::super::postgres::BenchDatabase;
use super::cpu;
use crate::opts::BenchArgs;

/// A server process, killed if the bench stops early.
struct ServerProcess(Child);

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A running service: where to write, where to read, and what to clean up after.
pub(super) struct Service {
    /// The writer's base URL.
    pub(super) base: String,
    /// Where reads go: the writer, or the read node with a broker.
    pub(super) read_base: String,
    servers: Vec<ServerProcess>,
    database: Option<BenchDatabase>,
    nats: Option<(String, String)>,
    _dir: tempfile::TempDir,
}

impl Service {
    /// Starts the service `args` describe, on fresh storage.
    pub(super) async fn start(args: &BenchArgs) -> anyhow::Result<Self> {
        let dir = match &args.dir {
            Some(parent) => tempfile::tempdir_in(parent),
            None => tempfile::tempdir(),
        }
        .context("creating a temporary directory")?;
        let executable = match &args.server_exe {
            Some(path) => path.clone(),
            None => std::env::current_exe().context("finding the projector executable")?,
        };
        let database = match &args.database_url {
            Some(url) => Some(BenchDatabase::create(url).await?),
            None => None,
        };
        // With a broker: the writer publishes its feed, and the reads go to a read node.
        let broker: Vec<String> = match &args.nats_url {
            Some(_) => {
                let id = uuid::Uuid::now_v7().simple();
                vec![
                    "--nats-stream".into(),
                    format!("BENCH_HTTP_{id}"),
                    "--nats-prefix".into(),
                    format!("bench.http.{id}"),
                ]
            }
            None => Vec::new(),
        };
        // On PostgreSQL the server still keeps its search indexes in a data directory: a fresh
        // one too, so no step finds another's.
        let mut writer_args = vec![
            "--data".to_owned(),
            dir.path().join("data").display().to_string(),
        ];
        if let Some(database) = &database {
            writer_args.extend(["--database-url".to_owned(), database.url.clone()]);
        }
        writer_args.extend(args.serve_arg.iter().cloned());
        if let Some(url) = &args.nats_url {
            writer_args.extend(["--publish".to_owned(), url.clone()]);
            writer_args.extend(broker.iter().cloned());
        }
        let (server, base) = start_server(&executable, &writer_args).await?;
        let mut servers = vec![server];
        let read_base = match &args.nats_url {
            Some(url) => {
                let mut node_args = vec![
                    "--data".to_owned(),
                    dir.path().join("node").display().to_string(),
                    "--from".to_owned(),
                    url.clone(),
                ];
                node_args.extend(broker.iter().cloned());
                let (node, node_base) = start_server(&executable, &node_args).await?;
                servers.push(node);
                node_base
            }
            None => base.clone(),
        };
        Ok(Self {
            base,
            read_base,
            servers,
            database,
            nats: args.nats_url.clone().zip(broker.get(1).cloned()),
            _dir: dir,
        })
    }

    /// Stops the servers, then drops what the run made: its database and broker stream.
    pub(super) async fn stop(mut self) {
        self.servers.clear();
        if let Some(database) = self.database.take() {
            database.drop().await;
        }
        if let Some((url, stream)) = self.nats.take()
            && let Ok(client) = async_nats::connect(url.as_str()).await
        {
            let _ = async_nats::jetstream::new(client)
                .delete_stream(&stream)
                .await;
        }
    }

    /// The CPU time the service's server processes have used so far, where the operating
    /// system says.
    pub(super) fn cpu_time(&self) -> Option<Duration> {
        self.servers
            .iter()
            .map(|server| cpu::process_cpu(server.0.id()))
            .sum()
    }

    /// Which event store the service runs on.
    pub(super) fn backend(args: &BenchArgs) -> &'static str {
        if args.database_url.is_some() {
            "postgres"
        } else {
            "sqlite"
        }
    }
}

/// Starts `projector serve` on a free port with `args`; the process, killed when dropped, and
/// its base URL.
async fn start_server(
    executable: &Path,
    args: &[String],
) -> anyhow::Result<(ServerProcess, String)> {
    let mut child = Command::new(executable)
        .args(["serve", "--addr", "127.0.0.1:0", "--log-level", "warn"])
        .args(args)
        // The storage is the one given on the command line, whatever the environment says.
        .env_remove("PROJECTOR_DATABASE_URL")
        .env_remove("PROJECTOR_DATA")
        .stdout(Stdio::piped())
        .spawn()
        .context("starting the server")?;
    let stdout = child.stdout.take().context("the server's output")?;
    let server = ServerProcess(child);
    let base = tokio::task::spawn_blocking(move || {
        BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
            .find_map(|line| {
                line.strip_prefix("projector listening on ")
                    .map(str::to_owned)
            })
    })
    .await?
    .context("the server did not say where it listens")?;
    Ok((server, base))
}
