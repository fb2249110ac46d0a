//! The audit log: one row per change, in the same transaction as the change, each row carrying
//! the SHA-256 of the previous row's hash and its own content so that edits break the chain.

use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use sqlx::Row;

use crate::db::{self, Db, Tx};

/// The hash before the first entry.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// Who did something.
#[derive(Debug, Clone, Default)]
pub struct Actor {
    /// User name (`None` for the command line on the server itself).
    pub user: Option<String>,
    /// Token id used.
    pub token_id: Option<i64>,
}

impl Actor {
    /// The caller of an API request.
    pub fn of(caller: &crate::auth::Caller) -> Self {
        Self {
            user: Some(caller.name.clone()),
            token_id: Some(caller.token_id),
        }
    }
}

fn entry_json(at: i64, actor: &Actor, action: &str, repo: Option<&str>, detail: &Value) -> Value {
    json!({
        "at": db::iso_ms(at),
        "user": actor.user,
        "token": actor.token_id,
        "action": action,
        "repo": repo,
        "detail": detail,
    })
}

fn chain(prev: &str, entry: &Value) -> String {
    let mut h = Sha256::new();
    h.update(prev.as_bytes());
    h.update(b"\n");
    h.update(entry.to_string().as_bytes());
    hex::encode(h.finalize())
}

/// Append an entry inside `tx`.
pub async fn record(
    tx: &mut Tx,
    actor: &Actor,
    action: &str,
    repo: Option<&str>,
    detail: Value,
) -> sqlx::Result<()> {
    let at = db::now_ms();
    let prev: String = sqlx::query_scalar("SELECT hash FROM audit ORDER BY id DESC LIMIT 1")
        .fetch_optional(&mut **tx)
        .await?
        .unwrap_or_else(|| GENESIS.to_string());
    let hash = chain(&prev, &entry_json(at, actor, action, repo, &detail));
    sqlx::query("INSERT INTO audit (at, user_name, token_id, action, repo, detail, prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?)")
        .bind(at)
        .bind(&actor.user)
        .bind(actor.token_id)
        .bind(action)
        .bind(repo)
        .bind(detail.to_string())
        .bind(prev)
        .bind(hash)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// Entries, oldest first, as JSON objects.
pub async fn list(db: &Db, since_id: i64, limit: i64) -> sqlx::Result<Vec<Value>> {
    let rows = sqlx::query(
        "SELECT id, at, user_name, token_id, action, repo, detail, hash FROM audit WHERE id > ? ORDER BY id LIMIT ?",
    )
    .bind(since_id)
    .bind(limit)
    .fetch_all(db)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| {
            let detail: String = r.get(6);
            json!({
                "id": r.get::<i64, _>(0),
                "at": db::iso_ms(r.get(1)),
                "user": r.get::<Option<String>, _>(2),
                "token": r.get::<Option<i64>, _>(3),
                "action": r.get::<String, _>(4),
                "repo": r.get::<Option<String>, _>(5),
                "detail": serde_json::from_str::<Value>(&detail).unwrap_or(Value::Null),
                "hash": r.get::<String, _>(7),
            })
        })
        .collect())
}

/// Check the chain; returns the number of entries, or the id of the first broken one.
pub async fn verify(db: &Db) -> sqlx::Result<Result<u64, i64>> {
    let rows = sqlx::query("SELECT id, at, user_name, token_id, action, repo, detail, prev_hash, hash FROM audit ORDER BY id")
        .fetch_all(db)
        .await?;
    let mut prev = GENESIS.to_string();
    let mut n = 0u64;
    for r in rows {
        let id: i64 = r.get(0);
        let actor = Actor {
            user: r.get(2),
            token_id: r.get(3),
        };
        let action: String = r.get(4);
        let repo: Option<String> = r.get(5);
        let detail: Value = serde_json::from_str(&r.get::<String, _>(6)).unwrap_or(Value::Null);
        let stored_prev: String = r.get(7);
        let hash: String = r.get(8);
        let expected = chain(
            &prev,
            &entry_json(r.get(1), &actor, &action, repo.as_deref(), &detail),
        );
        if stored_prev != prev || hash != expected {
            return Ok(Err(id));
        }
        prev = hash;
        n += 1;
    }
    Ok(Ok(n))
}
