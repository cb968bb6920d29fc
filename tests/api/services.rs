//! Throwaway PostgreSQL and Redis servers for the tests, started once per test process.
//!
//! Unless `GATEHOUSE_TEST_POSTGRES_URL` / `GATEHOUSE_TEST_REDIS_URL` name servers to use, each is
//! started from the Debian packages' binaries on a free port in a temporary folder, under a
//! small shell watchdog that stops it and deletes the folder when this process ends (however
//! it ends: its end of the watchdog's stdin pipe closes). PostgreSQL refuses to run as root, so
//! as root it runs as the `postgres` user the Debian package creates. Missing binaries fail the
//! test with the command that installs them; nothing is skipped.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

const INSTALL: &str = "install the servers with `apt-get install postgresql redis-server` \
     (Debian/Ubuntu), or point GATEHOUSE_TEST_POSTGRES_URL and GATEHOUSE_TEST_REDIS_URL at \
     running ones";

/// Watchdogs, kept open until the process exits.
static WATCHDOGS: Mutex<Vec<ChildStdin>> = Mutex::new(Vec::new());

/// A port nobody listens on right now.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

/// Runs `script` under `sh` with `args`, as a watchdog that ends with this process.
fn watchdog(script: &str, args: &[&str]) -> Child {
    let mut child = Command::new("sh")
        .arg("-c")
        .arg(script)
        .arg("watchdog")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .expect("sh starts");
    WATCHDOGS
        .lock()
        .unwrap()
        .push(child.stdin.take().expect("piped stdin"));
    child
}

/// Waits until `ready` holds, failing with `what` if the watchdog gives up or time runs out.
fn wait_until(what: &str, child: &mut Child, ready: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !ready() {
        if let Ok(Some(status)) = child.try_wait() {
            panic!("{what} did not start ({status}); see the messages above. {INSTALL}");
        }
        assert!(Instant::now() < deadline, "{what} did not start in 60 s");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn answers_tcp(port: u16) -> bool {
    std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
}

/// The newest `/usr/lib/postgresql/*/bin` with `initdb`, or `initdb` on the PATH.
fn postgres_bin_dir() -> PathBuf {
    let mut found: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let version = entry.file_name().to_str()?.parse::<u32>().ok()?;
            let bin = entry.path().join("bin");
            bin.join("initdb").exists().then_some((version, bin))
        })
        .collect();
    found.sort();
    if let Some((_, bin)) = found.pop() {
        return bin;
    }
    std::env::var_os("PATH")
        .into_iter()
        .flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .find(|dir| dir.join("initdb").exists() && dir.join("postgres").exists())
        .unwrap_or_else(|| {
            panic!("PostgreSQL server binaries (initdb, postgres) not found in /usr/lib/postgresql/*/bin or on the PATH: {INSTALL}")
        })
}

const POSTGRES_SCRIPT: &str = r#"
set -e
bin="$1"; port="$2"
dir=$(mktemp -d "${TMPDIR:-/tmp}/gatehouse-test-pg.XXXXXX")
as=""
if [ "$(id -u)" = 0 ]; then
  chown postgres: "$dir"
  as="setpriv --reuid=postgres --regid=postgres --init-groups"
fi
if ! $as "$bin/initdb" -D "$dir/data" -U postgres -A trust -E UTF8 --locale=C --no-sync >"$dir/log" 2>&1; then
  cat "$dir/log" >&2; rm -rf "$dir"; exit 1
fi
$as "$bin/postgres" -D "$dir/data" -p "$port" -k "$dir" -c listen_addresses=127.0.0.1 \
  -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=300 \
  >>"$dir/log" 2>&1 &
pid=$!
read -r _ || true
kill -INT "$pid" 2>/dev/null || true
wait "$pid" || true
rm -rf "$dir"
"#;

/// `postgres://…` of the server (its `postgres` database).
fn postgres_server() -> &'static str {
    static URL: OnceLock<String> = OnceLock::new();
    URL.get_or_init(|| {
        if let Ok(url) = std::env::var("GATEHOUSE_TEST_POSTGRES_URL") {
            return url;
        }
        let bin = postgres_bin_dir();
        let port = free_port();
        let mut child = watchdog(POSTGRES_SCRIPT, &[bin.to_str().unwrap(), &port.to_string()]);
        let url = format!("postgres://postgres@127.0.0.1:{port}/postgres");
        wait_until("PostgreSQL", &mut child, || {
            answers_tcp(port) && postgres_accepts(&url)
        });
        url
    })
}

fn postgres_accepts(url: &str) -> bool {
    let url = url.to_owned();
    // A private runtime: this may run inside a test's runtime, which must not be blocked on.
    std::thread::spawn(move || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(async {
                use sqlx::Connection;
                sqlx::PgConnection::connect(&url).await.is_ok()
            })
    })
    .join()
    .unwrap_or(false)
}

/// A new, empty database on the test PostgreSQL server; its URL.
pub async fn postgres_database() -> String {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let server = postgres_server();
    let name = format!(
        "gatehouse_test_{}_{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    );
    use sqlx::Connection;
    let mut conn = sqlx::PgConnection::connect(server)
        .await
        .expect("the test PostgreSQL server answers");
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&mut conn)
        .await
        .expect("a test database is created");
    let base = server.rsplit_once('/').expect("a database in the URL").0;
    format!("{base}/{name}")
}

/// A Redis server started by hand, for tests that stop and restart it. Its data is kept in an
/// append-only file, so a restart on the same port brings the data back.
pub struct Redis {
    pub port: u16,
    dir: tempfile::TempDir,
    child: Option<Child>,
}

impl Redis {
    pub fn start() -> Self {
        let mut redis = Self {
            port: free_port(),
            dir: tempfile::tempdir().expect("temp dir"),
            child: None,
        };
        redis.restart();
        redis
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/0", self.port)
    }

    /// Starts the server (again) on its port with its data.
    pub fn restart(&mut self) {
        let mut child = spawn_redis(self.port, self.dir.path(), true);
        let port = self.port;
        wait_until("redis-server", &mut child, || answers_tcp(port));
        self.child = Some(child);
    }

    /// Kills the server at once, as a crash would.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        self.kill();
    }
}

fn spawn_redis(port: u16, dir: &Path, persistent: bool) -> Child {
    let mut command = Command::new("redis-server");
    command
        .args([
            "--port",
            &port.to_string(),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
        ])
        .arg("--dir")
        .arg(dir)
        .args(["--appendonly", if persistent { "yes" } else { "no" }])
        .args(["--appendfsync", "always"])
        .stdout(Stdio::null())
        .stdin(Stdio::null());
    command.spawn().unwrap_or_else(|e| {
        panic!("redis-server cannot be started ({e}): {INSTALL}");
    })
}

const REDIS_SCRIPT: &str = r#"
dir=$(mktemp -d "${TMPDIR:-/tmp}/gatehouse-test-redis.XXXXXX") || exit 1
redis-server --port "$1" --bind 127.0.0.1 --save "" --appendonly no --dir "$dir" >"$dir/log" 2>&1 &
pid=$!
read -r _ || true
kill "$pid" 2>/dev/null
wait "$pid"
rm -rf "$dir"
"#;

/// `redis://…` of the shared test Redis server.
fn redis_server() -> &'static str {
    static URL: OnceLock<String> = OnceLock::new();
    URL.get_or_init(|| {
        if let Ok(url) = std::env::var("GATEHOUSE_TEST_REDIS_URL") {
            return url;
        }
        let found = std::env::var_os("PATH")
            .into_iter()
            .flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
            .any(|dir| dir.join("redis-server").exists());
        assert!(found, "redis-server not found on the PATH: {INSTALL}");
        let port = free_port();
        let mut child = watchdog(REDIS_SCRIPT, &[&port.to_string()]);
        wait_until("redis-server", &mut child, || answers_tcp(port));
        format!("redis://127.0.0.1:{port}/0")
    })
}

/// The shared test Redis and a key prefix no other test uses.
pub fn redis() -> (String, String) {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let prefix = format!(
        "gatehouse-test:{}:{}:",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    );
    (redis_server().to_owned(), prefix)
}
