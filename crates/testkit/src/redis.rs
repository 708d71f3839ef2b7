//! [`TestRedis`]: a fresh key namespace per test on the loopback Redis (from
//! [`redis_url`](crate::services::redis_url)), its keys removed when the test ends; or a
//! logical database of the test's own, for a test that flushes it.
//!
//! Namespaces are `projector_test_<pid>_<random>`, so the first one a test process makes can
//! remove the keys of test processes that died before cleaning up. A database of its own is
//! claimed with a key in database 0 naming the process (it expires after an hour, and a claim
//! of a dead process is taken over), and flushed when it is given back.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use ::redis::AsyncCommands;

use crate::postgres::process_alive;
use crate::services::{redis_url, unavailable};

/// Whether this process has removed the leftovers of dead test processes already.
static SWEPT: AtomicBool = AtomicBool::new(false);

/// The logical databases a test may claim for its own (0 is shared).
const DATABASES: std::ops::RangeInclusive<u8> = 1..=15;
/// The key in a claimed database that says a test of this crate uses it.
const MARKER: &str = "projector_test:claimed";
/// How long a claim lasts if its process dies without giving it back.
const CLAIM_SECONDS: u64 = 3600;

/// A namespace (and maybe a database) that exists for one test.
#[derive(Debug)]
pub struct TestRedis {
    url: String,
    namespace: String,
    database: Option<u8>,
}

impl TestRedis {
    /// A fresh namespace in the database of the configured URL, shared with other tests.
    ///
    /// Returns `None` when Redis cannot be reached outside CI (the test should skip).
    ///
    /// # Panics
    /// In CI when Redis cannot be reached.
    pub async fn create() -> Option<Self> {
        let url = redis_url();
        let mut conn = connect(&url).await?;
        if !SWEPT.swap(true, Ordering::SeqCst) {
            sweep_dead_namespaces(&mut conn).await;
        }
        Some(Self {
            url,
            namespace: fresh_namespace(),
            database: None,
        })
    }

    /// A fresh namespace in a logical database this test has to itself, so it may flush it.
    ///
    /// Returns `None` when Redis cannot be reached outside CI.
    ///
    /// # Panics
    /// In CI when Redis cannot be reached, and when every database is claimed or in use.
    pub async fn exclusive() -> Option<Self> {
        let base = redis_url();
        let mut shared = connect(&base).await?;
        for database in DATABASES {
            if !claim(&mut shared, database).await {
                continue;
            }
            let url = with_database(&base, database);
            let mut own = connect(&url).await?;
            let size: u64 = ::redis::cmd("DBSIZE")
                .query_async(&mut own)
                .await
                .expect("DBSIZE");
            let ours: bool = own.exists(MARKER).await.expect("EXISTS");
            if size > 0 && !ours {
                // Someone else's data: leave it alone.
                let _: () = shared.del(claim_key(database)).await.expect("DEL");
                continue;
            }
            let _: () = ::redis::cmd("FLUSHDB")
                .query_async(&mut own)
                .await
                .expect("FLUSHDB");
            let _: () = own.set(MARKER, std::process::id()).await.expect("SET");
            return Some(Self {
                url,
                namespace: fresh_namespace(),
                database: Some(database),
            });
        }
        panic!("every Redis database from 1 to 15 is claimed by another test or holds data");
    }

    /// The URL to connect to (with this test's database, if it has one).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The test's key namespace.
    pub fn namespace(&self) -> &str {
        &self.namespace
    }

    /// A connection of the test's own, for commands the code under test would not send.
    pub async fn connection(&self) -> ::redis::aio::MultiplexedConnection {
        ::redis::Client::open(self.url.as_str())
            .expect("Redis URL")
            .get_multiplexed_async_connection()
            .await
            .expect("connecting to Redis")
    }

    /// `FLUSHDB`: every key of this test's database is gone, as after a restart of a Redis that
    /// keeps nothing on disk.
    ///
    /// # Panics
    /// Unless the test has a database of its own ([`TestRedis::exclusive`]).
    pub async fn flush(&self) {
        assert!(
            self.database.is_some(),
            "only a test with a database of its own may flush it"
        );
        let mut conn = self.connection().await;
        let _: () = ::redis::cmd("FLUSHDB")
            .query_async(&mut conn)
            .await
            .expect("FLUSHDB");
        let _: () = conn.set(MARKER, std::process::id()).await.expect("SET");
    }

    /// Every key of the namespace, sorted.
    pub async fn keys(&self) -> Vec<String> {
        let mut conn = self.connection().await;
        let mut keys = scan(&mut conn, &format!("{{{}:*", self.namespace)).await;
        keys.sort();
        keys
    }

    /// Removes every key of the namespace, as a flush would for this test alone.
    pub async fn remove_keys(&self) {
        let mut conn = self.connection().await;
        for keys in self.keys().await.chunks(500) {
            let _: () = conn.unlink(keys).await.expect("UNLINK");
        }
    }
}

impl Drop for TestRedis {
    fn drop(&mut self) {
        let cleanup = || -> ::redis::RedisResult<()> {
            let client = ::redis::Client::open(self.url.as_str())?;
            let mut conn = client.get_connection_with_timeout(Duration::from_secs(2))?;
            match self.database {
                Some(database) => {
                    ::redis::cmd("FLUSHDB").query::<()>(&mut conn)?;
                    let shared = ::redis::Client::open(redis_url().as_str())?;
                    let mut shared = shared.get_connection_with_timeout(Duration::from_secs(2))?;
                    ::redis::cmd("DEL")
                        .arg(claim_key(database))
                        .query::<()>(&mut shared)?;
                }
                None => unlink_matching(&mut conn, &format!("{{{}:*", self.namespace))?,
            }
            Ok(())
        };
        if let Err(error) = cleanup() {
            eprintln!(
                "could not remove the keys of test namespace {}: {error}",
                self.namespace
            );
        }
    }
}

async fn connect(url: &str) -> Option<::redis::aio::MultiplexedConnection> {
    let attempt = async {
        let client = ::redis::Client::open(url)?;
        let mut conn = client.get_multiplexed_async_connection().await?;
        ::redis::cmd("PING").query_async::<()>(&mut conn).await?;
        Ok::<_, ::redis::RedisError>(conn)
    };
    match tokio::time::timeout(Duration::from_secs(2), attempt).await {
        Ok(Ok(conn)) => Some(conn),
        Ok(Err(error)) => {
            unavailable("Redis", &error);
            None
        }
        Err(_) => {
            unavailable("Redis", &"no answer within 2 s");
            None
        }
    }
}

fn fresh_namespace() -> String {
    let random = uuid::Uuid::now_v7().simple().to_string();
    format!("projector_test_{}_{}", std::process::id(), &random[20..])
}

fn claim_key(database: u8) -> String {
    format!("projector_test:database:{database}")
}

/// Claims `database` for this process: free, expired, or claimed by a process that is gone.
async fn claim(shared: &mut ::redis::aio::MultiplexedConnection, database: u8) -> bool {
    let key = claim_key(database);
    for _ in 0..2 {
        let taken: Option<String> = ::redis::cmd("SET")
            .arg(&key)
            .arg(std::process::id())
            .arg("NX")
            .arg("EX")
            .arg(CLAIM_SECONDS)
            .query_async(shared)
            .await
            .expect("SET NX");
        if taken.is_some() {
            return true;
        }
        let holder: Option<i32> = shared.get(&key).await.unwrap_or(None);
        match holder {
            Some(pid) if !process_alive(pid) => {
                let _: () = shared.del(&key).await.expect("DEL");
            }
            _ => return false,
        }
    }
    false
}

/// Removes the keys of namespaces whose test process is gone.
async fn sweep_dead_namespaces(conn: &mut ::redis::aio::MultiplexedConnection) {
    let mut dead = Vec::new();
    for key in scan(conn, "{projector_test_*").await {
        let pid = key
            .strip_prefix("{projector_test_")
            .and_then(|rest| rest.split('_').next())
            .and_then(|pid| pid.parse::<i32>().ok());
        if pid.is_some_and(|pid| !process_alive(pid)) {
            dead.push(key);
        }
    }
    for keys in dead.chunks(500) {
        let _: Result<(), _> = conn.unlink(keys).await;
    }
}

async fn scan(conn: &mut ::redis::aio::MultiplexedConnection, pattern: &str) -> Vec<String> {
    let mut keys = Vec::new();
    let mut cursor: u64 = 0;
    loop {
        let (next, found): (u64, Vec<String>) = ::redis::cmd("SCAN")
            .arg(cursor)
            .arg("MATCH")
            .arg(pattern)
            .arg("COUNT")
            .arg(1000)
            .query_async(conn)
            .await
            .expect("SCAN");
        keys.extend(found);
        if next == 0 {
            return keys;
        }
        cursor = next;
    }
}

fn unlink_matching(conn: &mut ::redis::Connection, pattern: &str) -> ::redis::RedisResult<()> {
    let mut cursor: u64 = 0;
    loop {
        let (next, found): (u64, Vec<String>) = ::redis::cmd("SCAN")
            .arg(cursor)
            .arg("MATCH")
            .arg(pattern)
            .arg("COUNT")
            .arg(1000)
            .query(conn)?;
        if !found.is_empty() {
            ::redis::cmd("UNLINK").arg(found).query::<()>(conn)?;
        }
        if next == 0 {
            return Ok(());
        }
        cursor = next;
    }
}

/// `url` with its logical database replaced by `database`.
fn with_database(url: &str, database: u8) -> String {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (url, None),
    };
    let authority_start = base.find("://").map_or(0, |i| i + 3);
    let host_end = base[authority_start..]
        .find('/')
        .map_or(base.len(), |i| authority_start + i);
    let mut out = format!("{}/{database}", &base[..host_end]);
    if let Some(query) = query {
        out.push('?');
        out.push_str(query);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::with_database;

    #[test]
    fn urls_get_the_database() {
        assert_eq!(
            with_database("redis://127.0.0.1:6379", 3),
            "redis://127.0.0.1:6379/3"
        );
        assert_eq!(
            with_database("redis://:pw@h:1/0?protocol=resp3", 7),
            "redis://:pw@h:1/7?protocol=resp3"
        );
    }
}
