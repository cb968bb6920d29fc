//! A real SMTP server for the mail tests: Debian's `python3-aiosmtpd`, one per test on a free
//! port, delivering into a Maildir the test reads. Killed when dropped. Missing, it fails the
//! test with the command that installs it.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::services::free_port;

/// Debian's interpreter, which sees Debian's packages (a `python3` earlier on the PATH may not).
const PYTHON: &str = "/usr/bin/python3";
const INSTALL: &str = "install the SMTP server with `apt-get install python3-aiosmtpd`";

pub struct SmtpServer {
    pub port: u16,
    dir: tempfile::TempDir,
    child: Option<Child>,
}

/// One delivered message, transfer encoding undone.
#[derive(Debug, Clone)]
pub struct Mail {
    pub raw: String,
}

impl Mail {
    /// A header's value (first occurrence).
    pub fn header(&self, name: &str) -> Option<String> {
        let prefix = format!("{}:", name.to_ascii_lowercase());
        self.raw
            .lines()
            .take_while(|l| !l.is_empty())
            .find(|l| l.to_ascii_lowercase().starts_with(&prefix))
            .map(|l| l[prefix.len()..].trim().to_owned())
    }

    /// The token of the first link whose fragment starts with `#{route}/`.
    pub fn token(&self, route: &str) -> Option<String> {
        let marker = format!("#{route}/");
        let start = self.raw.find(&marker)? + marker.len();
        let token: String = self.raw[start..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
            .collect();
        (!token.is_empty()).then_some(token)
    }
}

impl SmtpServer {
    /// A server on a free port.
    pub fn start() -> Self {
        Self::start_on(free_port())
    }

    /// A server on `port` (a port a test configured while nothing listened there).
    pub fn start_on(port: u16) -> Self {
        Self::spawn(port, None)
    }

    /// A server that answers the first `refusals` messages with 451 (try again later).
    pub fn start_refusing(refusals: u32) -> Self {
        Self::spawn(free_port(), Some(refusals))
    }

    fn spawn(port: u16, refusals: Option<u32>) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut command = Command::new(PYTHON);
        command
            .args(["-m", "aiosmtpd", "-n", "-l"])
            .arg(format!("127.0.0.1:{port}"));
        match refusals {
            None => command.args(["-c", "aiosmtpd.handlers.Mailbox"]),
            Some(_) => command
                .env(
                    "PYTHONPATH",
                    concat!(env!("CARGO_MANIFEST_DIR"), "/tests/api/support"),
                )
                .args(["-c", "refusing_smtp.Refusing"]),
        };
        command.arg(dir.path().join("maildir"));
        if let Some(n) = refusals {
            command.arg(n.to_string());
        }
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("{PYTHON} cannot be started ({e}): {INSTALL}"));
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            if let Ok(Some(status)) = child.try_wait() {
                panic!("aiosmtpd exited ({status}) before it listened: {INSTALL}");
            }
            assert!(Instant::now() < deadline, "aiosmtpd did not listen in 20 s");
            std::thread::sleep(Duration::from_millis(50));
        }
        Self {
            port,
            dir,
            child: Some(child),
        }
    }

    pub fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    /// Every message delivered so far, oldest first.
    pub fn mails(&self) -> Vec<Mail> {
        let new: PathBuf = self.dir.path().join("maildir").join("new");
        let mut files: Vec<_> = std::fs::read_dir(&new)
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|e| Some((e.metadata().ok()?.modified().ok()?, e.path())))
            .collect();
        files.sort();
        files
            .into_iter()
            .filter_map(|(_, path)| std::fs::read_to_string(path).ok())
            .map(|text| Mail {
                raw: unfold_quoted_printable(&text),
            })
            .collect()
    }

    /// Waits (up to 15 s) until at least `count` messages arrived; all of them.
    pub async fn wait_for(&self, count: usize) -> Vec<Mail> {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let mails = self.mails();
            if mails.len() >= count {
                return mails;
            }
            assert!(
                Instant::now() < deadline,
                "expected {count} mail(s), got {}",
                mails.len()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Joins quoted-printable soft line breaks and decodes `=3D`, enough to read links and
/// headers.
fn unfold_quoted_printable(text: &str) -> String {
    text.replace("=\r\n", "")
        .replace("=\n", "")
        .replace("=3D", "=")
}
