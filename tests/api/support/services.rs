//! Throwaway PostgreSQL and Redis servers for the tests, started once per test process.
//!
//! Unless `GATEHOUSE_TEST_POSTGRES_URL` / `GATEHOUSE_TEST_REDIS_URL` name servers to use, each is
//! started from the Debian packages' binaries on a free port in a temporary folder, with a
//! small shell watchdog that stops it and deletes the folder when this process ends (however
//! it ends: its end of the watchdog's stdin pipe closes). Outage tests start private servers
//! ([`Postgres`], [`Redis`]) they can stop and restart. PostgreSQL refuses to run as root, so as
//! root it runs as the `postgres` user the Debian package creates. Missing binaries fail the
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

/// Watchdogs' stdin, kept open until the process exits.
static WATCHDOGS: Mutex<Vec<ChildStdin>> = Mutex::new(Vec::new());

/// Servers and watchdogs that run until the process exits.
static RUNNING: Mutex<Vec<Child>> = Mutex::new(Vec::new());

/// A port nobody listens on right now.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

/// Runs `script` under `sh` with `args`, as a watchdog whose stdin closes when this process
/// ends.
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

/// A PostgreSQL cluster in a temporary folder. As root, its programs run as `postgres`.
pub struct Postgres {
    pub port: u16,
    dir: PathBuf,
    bin: PathBuf,
    child: Option<Child>,
}

impl Postgres {
    /// Creates a cluster and starts its server on a free port.
    pub fn start() -> Self {
        let dir = tempfile::Builder::new()
            .prefix("gatehouse-test-pg")
            .tempdir()
            .expect("temp dir")
            .keep();
        let mut postgres = Self {
            port: free_port(),
            dir,
            bin: postgres_bin_dir(),
            child: None,
        };
        if is_root() {
            let chown = Command::new("chown")
                .arg("postgres:")
                .arg(&postgres.dir)
                .status();
            assert!(
                chown.is_ok_and(|s| s.success()),
                "cannot hand {} to the postgres user (PostgreSQL refuses to run as root): {INSTALL}",
                postgres.dir.display()
            );
        }
        let initdb = postgres
            .command("initdb")
            .arg("-D")
            .arg(postgres.dir.join("data"))
            .args([
                "-U",
                "postgres",
                "-A",
                "trust",
                "-E",
                "UTF8",
                "--locale=C",
                "--no-sync",
            ])
            .output()
            .unwrap_or_else(|e| panic!("initdb cannot be started ({e}): {INSTALL}"));
        assert!(
            initdb.status.success(),
            "initdb failed: {}{}",
            String::from_utf8_lossy(&initdb.stdout),
            String::from_utf8_lossy(&initdb.stderr)
        );
        postgres.restart();
        postgres
    }

    fn command(&self, program: &str) -> Command {
        let program = self.bin.join(program);
        if is_root() {
            let mut command = Command::new("setpriv");
            command
                .args(["--reuid=postgres", "--regid=postgres", "--init-groups"])
                .arg(program);
            command
        } else {
            Command::new(program)
        }
    }

    /// `postgres://…` of database `name` on this server.
    pub fn url(&self, name: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{name}", self.port)
    }

    /// Starts the server (again) on its port with its data.
    pub fn restart(&mut self) {
        let log = std::fs::File::create(self.dir.join("log")).expect("a log file");
        let mut child = self
            .command("postgres")
            .arg("-D")
            .arg(self.dir.join("data"))
            .args(["-p", &self.port.to_string(), "-k"])
            .arg(&self.dir)
            .args(["-c", "listen_addresses=127.0.0.1", "-c", "fsync=off"])
            .args(["-c", "synchronous_commit=off", "-c", "full_page_writes=off"])
            .args(["-c", "max_connections=300"])
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("postgres cannot be started ({e}): {INSTALL}"));
        let (port, url) = (self.port, self.url("postgres"));
        wait_until("PostgreSQL", &mut child, || {
            answers_tcp(port) && postgres_accepts(&url)
        });
        self.child = Some(child);
    }

    /// Stops the server (a fast shutdown: sessions are disconnected at once).
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = Command::new("kill")
                .args(["-INT", &child.id().to_string()])
                .status();
            let _ = child.wait();
        }
    }

    /// Hands the server to a watchdog that stops it, and deletes its folder, when this test
    /// process ends; for the server every test shares.
    fn stop_at_exit(mut self) {
        let server = self.child.take().expect("a running server");
        let watchdog = watchdog(
            r#"read -r _; kill -INT "$1"; while kill -0 "$1" 2>/dev/null; do sleep 0.1; done; rm -rf "$2""#,
            &[&server.id().to_string(), self.dir.to_str().unwrap()],
        );
        // Neither is waited for: both outlive this process on purpose.
        RUNNING.lock().unwrap().extend([server, watchdog]);
        self.dir = PathBuf::new();
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        self.stop();
        if !self.dir.as_os_str().is_empty() {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.trim_ascii() == b"0")
}

/// `postgres://…` of the shared server (its `postgres` database).
fn postgres_server() -> &'static str {
    static URL: OnceLock<String> = OnceLock::new();
    URL.get_or_init(|| {
        if let Ok(url) = std::env::var("GATEHOUSE_TEST_POSTGRES_URL") {
            return url;
        }
        let postgres = Postgres::start();
        let url = postgres.url("postgres");
        postgres.stop_at_exit();
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

/// A new, empty database on the shared test PostgreSQL server; its URL.
pub async fn postgres_database() -> String {
    create_database(postgres_server()).await
}

/// A new, empty database on the server of `server` (a URL); its URL.
pub async fn create_database(server: &str) -> String {
    static NEXT: AtomicU32 = AtomicU32::new(0);
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
    let (url, query) = server.split_once('?').unwrap_or((server, ""));
    let base = url.rsplit_once('/').expect("a database in the URL").0;
    let query = if query.is_empty() {
        String::new()
    } else {
        format!("?{query}")
    };
    format!("{base}/{name}{query}")
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
        RUNNING.lock().unwrap().push(child);
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
