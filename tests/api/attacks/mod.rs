//! Attack tests: what an attacker would try against each rule of the security model, one
//! module per area, each attack checked for its answer and for changing nothing.
//! `docs/security.md` maps the OWASP ASVS requirements to these tests.

mod accounts;
mod cookies;
mod cors;
mod csrf;
mod http;

use std::net::SocketAddr;
use std::time::Duration;

use sqlx::Connection;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::support::TestApp;

/// Every row of the tables that hold state a forged request could change (accounts, sessions,
/// the directory), as text. Audit events and throttle counters are left out: refusals are
/// meant to be recorded there.
pub async fn snapshot(app: &TestApp) -> String {
    let mut conn = sqlx::SqliteConnection::connect(&app.db_url).await.unwrap();
    let mut out = String::new();
    for table in ["users", "sessions", "employees"] {
        let columns: Vec<String> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "SELECT name FROM pragma_table_info('{table}')"
        )))
        .fetch_all(&mut conn)
        .await
        .unwrap();
        let row = columns
            .iter()
            .map(|c| format!("quote(\"{c}\")"))
            .collect::<Vec<_>>()
            .join("||'|'||");
        let rows: Option<String> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "SELECT group_concat(r, char(10)) FROM (SELECT {row} AS r FROM {table} ORDER BY rowid)"
        )))
        .fetch_one(&mut conn)
        .await
        .unwrap();
        out.push_str(&format!("{table}:\n{}\n", rows.unwrap_or_default()));
    }
    out
}

/// Sends raw bytes on a fresh TCP connection and returns everything the server answers until
/// it closes the connection or stays quiet for a second.
pub async fn raw_http(addr: SocketAddr, request: &[u8]) -> String {
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    // The server may answer and close before it has read everything; that is fine.
    let _ = stream.write_all(request).await;
    let mut answer = Vec::new();
    let mut buf = [0u8; 8192];
    loop {
        match tokio::time::timeout(Duration::from_secs(1), stream.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) | Err(_) => break,
            Ok(Ok(n)) => answer.extend_from_slice(&buf[..n]),
        }
    }
    String::from_utf8_lossy(&answer).into_owned()
}

/// The status codes of every response in a raw answer, in order.
pub fn statuses(answer: &str) -> Vec<u16> {
    answer
        .split("HTTP/1.1 ")
        .skip(1)
        .filter_map(|rest| rest.get(..3)?.parse().ok())
        .collect()
}
