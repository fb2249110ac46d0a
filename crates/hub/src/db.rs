//! The metadata database: SQLite in WAL mode under the data folder.
//!
//! Queries are plain SQL through `sqlx` so that PostgreSQL can be added behind the same code.
//! Every write that changes state is one transaction started with `BEGIN IMMEDIATE`, so writers
//! queue on the database lock instead of failing half-way, and several processes (the hub and
//! `wh admin`) can share the file.

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Sqlite, SqlitePool, Transaction};

/// The database handle.
pub type Db = SqlitePool;
/// A write transaction.
pub type Tx = Transaction<'static, Sqlite>;

const SCHEMA: &[&str] = &[
    "CREATE TABLE IF NOT EXISTS settings (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS users (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL UNIQUE COLLATE NOCASE,
        fullname TEXT NOT NULL DEFAULT '',
        email TEXT,
        is_admin INTEGER NOT NULL DEFAULT 0,
        created_at INTEGER NOT NULL)",
    "CREATE TABLE IF NOT EXISTS orgs (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL UNIQUE COLLATE NOCASE,
        fullname TEXT NOT NULL DEFAULT '',
        created_at INTEGER NOT NULL)",
    "CREATE TABLE IF NOT EXISTS members (
        org_id INTEGER NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
        user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
        role TEXT NOT NULL,
        PRIMARY KEY (org_id, user_id))",
    "CREATE TABLE IF NOT EXISTS tokens (
        id INTEGER PRIMARY KEY,
        user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
        name TEXT NOT NULL,
        role TEXT NOT NULL,
        hash TEXT NOT NULL UNIQUE,
        created_at INTEGER NOT NULL,
        revoked INTEGER NOT NULL DEFAULT 0)",
    "CREATE TABLE IF NOT EXISTS repos (
        id INTEGER PRIMARY KEY,
        kind TEXT NOT NULL,
        namespace TEXT NOT NULL COLLATE NOCASE,
        name TEXT NOT NULL COLLATE NOCASE,
        private INTEGER NOT NULL DEFAULT 0,
        gated TEXT NOT NULL DEFAULT 'false',
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL,
        UNIQUE (kind, namespace, name))",
    "CREATE TABLE IF NOT EXISTS commits (
        repo_id INTEGER NOT NULL REFERENCES repos(id) ON DELETE CASCADE,
        oid TEXT NOT NULL,
        tree TEXT NOT NULL,
        parents TEXT NOT NULL,
        author TEXT NOT NULL,
        email TEXT NOT NULL,
        time INTEGER NOT NULL,
        title TEXT NOT NULL,
        message TEXT NOT NULL,
        files TEXT NOT NULL,
        PRIMARY KEY (repo_id, oid))",
    "CREATE TABLE IF NOT EXISTS refs (
        repo_id INTEGER NOT NULL REFERENCES repos(id) ON DELETE CASCADE,
        name TEXT NOT NULL,
        target TEXT NOT NULL,
        message TEXT,
        PRIMARY KEY (repo_id, name))",
    "CREATE TABLE IF NOT EXISTS blobs (
        sha256 TEXT PRIMARY KEY,
        size INTEGER NOT NULL,
        created_at INTEGER NOT NULL)",
    "CREATE TABLE IF NOT EXISTS audit (
        id INTEGER PRIMARY KEY,
        at INTEGER NOT NULL,
        user_name TEXT,
        token_id INTEGER,
        action TEXT NOT NULL,
        repo TEXT,
        detail TEXT NOT NULL,
        prev_hash TEXT NOT NULL,
        hash TEXT NOT NULL,
        record TEXT,
        personal TEXT)",
    "CREATE TABLE IF NOT EXISTS access_requests (
        id INTEGER PRIMARY KEY,
        repo_id INTEGER NOT NULL REFERENCES repos(id) ON DELETE CASCADE,
        user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
        status TEXT NOT NULL,
        agreement_sha256 TEXT,
        fields TEXT,
        requested_at INTEGER NOT NULL,
        reviewed_at INTEGER,
        reviewer TEXT,
        rejection_reason TEXT,
        UNIQUE (repo_id, user_id))",
    "CREATE INDEX IF NOT EXISTS access_requests_by_status ON access_requests (repo_id, status)",
    "CREATE TABLE IF NOT EXISTS likes (
        repo_id INTEGER NOT NULL REFERENCES repos(id) ON DELETE CASCADE,
        user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
        created_at INTEGER NOT NULL,
        PRIMARY KEY (repo_id, user_id))",
    "CREATE INDEX IF NOT EXISTS likes_by_user ON likes (user_id, created_at)",
    // Downloads per repository and UTC day (days since the epoch), counted as the Hub counts them.
    "CREATE TABLE IF NOT EXISTS downloads (
        repo_id INTEGER NOT NULL REFERENCES repos(id) ON DELETE CASCADE,
        day INTEGER NOT NULL,
        count INTEGER NOT NULL,
        PRIMARY KEY (repo_id, day))",
];

/// Connect to (creating if needed) the database at `path` and create its tables. The hub opens
/// it with [`crate::open_db`], which also brings older records up to date.
pub async fn connect(path: &Path) -> anyhow::Result<Db> {
    let options = SqliteConnectOptions::from_str(&format!("sqlite://{}", path.display()))?
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        // In WAL mode, NORMAL keeps the database consistent and loses nothing when the process is
        // killed; FULL adds a sync per commit so that acknowledged commits also survive power loss.
        .synchronous(SqliteSynchronous::Full)
        .foreign_keys(true)
        .busy_timeout(Duration::from_secs(30));
    let pool = SqlitePoolOptions::new()
        .max_connections(8)
        .connect_with(options)
        .await?;
    let mut tx = pool.begin_with("BEGIN IMMEDIATE").await?;
    for statement in SCHEMA {
        sqlx::query(*statement).execute(&mut *tx).await?;
    }
    tx.commit().await?;
    Ok(pool)
}

/// Start a write transaction.
pub async fn write(db: &Db) -> sqlx::Result<Tx> {
    db.begin_with("BEGIN IMMEDIATE").await
}

/// Milliseconds since the epoch.
pub fn now_ms() -> i64 {
    let now = time::OffsetDateTime::now_utc();
    (now.unix_timestamp_nanos() / 1_000_000) as i64
}

/// `2026-01-01T12:00:00.000Z` for milliseconds since the epoch.
pub fn iso_ms(ms: i64) -> String {
    let t = time::OffsetDateTime::from_unix_timestamp_nanos(ms as i128 * 1_000_000)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
        t.year(),
        t.month() as u8,
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        t.millisecond()
    )
}

/// A stored setting, created with `init` on first use.
pub async fn setting(db: &Db, key: &str, init: impl FnOnce() -> String) -> sqlx::Result<String> {
    if let Some(v) = sqlx::query_scalar::<_, String>("SELECT value FROM settings WHERE key = ?")
        .bind(key)
        .fetch_optional(db)
        .await?
    {
        return Ok(v);
    }
    let mut tx = write(db).await?;
    sqlx::query("INSERT OR IGNORE INTO settings (key, value) VALUES (?, ?)")
        .bind(key)
        .bind(init())
        .execute(&mut *tx)
        .await?;
    let v = sqlx::query_scalar::<_, String>("SELECT value FROM settings WHERE key = ?")
        .bind(key)
        .fetch_one(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(v)
}

#[cfg(test)]
mod tests {
    #[test]
    fn iso_dates_end_in_z() {
        assert_eq!(super::iso_ms(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(super::iso_ms(1_796_000_000_123), "2026-11-30T00:53:20.123Z");
    }
}
