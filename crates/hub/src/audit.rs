//! The audit log: one record per change, written in the same transaction as the change.
//!
//! A record is the canonical JSON ([`canonical_json`]) of
//! `{seq, ts, actor, event, target, data, prev_hash}` and its hash is the SHA-256 of that text,
//! so that editing, removing or reordering entries breaks the chain. Personal data (the client's
//! address, gate form answers, e-mail addresses) is kept beside each record, outside the hash, so
//! that it can be erased without breaking the chain. The latest `(seq, hash)` is also written to
//! `audit.head` in the data folder ([`write_anchor`]), so that cutting entries off the end of the
//! log is noticed as well.

use std::path::{Path, PathBuf};

use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};
use sqlx::Row;

use crate::db::{self, Db, Tx};

/// The `prev_hash` of the first entry.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// The anchor file in the data folder.
pub const ANCHOR_FILE: &str = "audit.head";

/// Who did something.
#[derive(Debug, Clone, Default)]
pub struct Actor {
    /// User name (`None` for the command line on the server itself, or anonymous callers).
    pub user: Option<String>,
    /// Token id used.
    pub token_id: Option<i64>,
    /// The client's address, kept as personal data (outside the hash).
    pub ip: Option<String>,
}

impl Actor {
    /// The caller of an API request (without its address).
    pub fn of(caller: &crate::auth::Caller) -> Self {
        Self {
            user: Some(caller.name.clone()),
            token_id: Some(caller.token_id),
            ip: None,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// canonical JSON

/// JSON with object keys sorted (by UTF-16 code units) at every level and no whitespace, as
/// RFC 8785 writes it for the values the audit log holds (strings, integers, booleans, null,
/// arrays and objects). Non-integer numbers are written as `serde_json` prints them.
pub fn canonical_json(v: &Value) -> String {
    let mut out = String::new();
    write_canonical(&mut out, v);
    out
}

fn write_canonical(out: &mut String, v: &Value) {
    match v {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                out.push_str(&i.to_string());
            } else if let Some(u) = n.as_u64() {
                out.push_str(&u.to_string());
            } else {
                match n.as_f64() {
                    // ECMAScript prints integral doubles below 1e21 without a fraction.
                    Some(f) if f.is_finite() && f.fract() == 0.0 && f.abs() < 1e21 => {
                        out.push_str(&format!("{f:.0}"));
                    }
                    _ => out.push_str(&n.to_string()),
                }
            }
        }
        Value::String(s) => write_string(out, s),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(out, item);
            }
            out.push(']');
        }
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort_by(|a, b| a.encode_utf16().cmp(b.encode_utf16()));
            out.push('{');
            for (i, k) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_string(out, k);
                out.push(':');
                write_canonical(out, &map[k]);
            }
            out.push('}');
        }
    }
}

/// A JSON string with the short escapes and `\u00xx` (lower case) for other control characters;
/// everything else, `/` and non-ASCII included, as is.
fn write_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}

/// SHA-256 (hex) of a text.
pub fn sha256_hex(text: &str) -> String {
    hex::encode(Sha256::digest(text.as_bytes()))
}

// ---------------------------------------------------------------------------------------------
// writing

fn record_value(
    seq: i64,
    at: i64,
    (actor_user, token_id): (Option<&str>, Option<i64>),
    event: &str,
    target: &Value,
    data: &Value,
    prev_hash: &str,
) -> Value {
    json!({
        "seq": seq,
        "ts": db::iso_ms(at),
        "actor": {"user": actor_user, "token_id": token_id},
        "event": event,
        "target": target,
        "data": data,
        "prev_hash": prev_hash,
    })
}

/// Append an entry about `repo` (an audit name such as `models/acme/x`) inside `tx`; the actor's
/// address goes to the personal data.
pub async fn record(
    tx: &mut Tx,
    actor: &Actor,
    event: &str,
    repo: Option<&str>,
    data: Value,
) -> sqlx::Result<i64> {
    let target = match repo {
        Some(r) => json!({ "repo": r }),
        None => json!({}),
    };
    record_with(tx, actor, event, target, data, Map::new()).await
}

/// Append an entry inside `tx`: `target` names what it is about (`repo`, `revision`), `personal`
/// holds personal data kept outside the hash (the actor's address is added to it). Returns the
/// entry's sequence number.
pub async fn record_with(
    tx: &mut Tx,
    actor: &Actor,
    event: &str,
    target: Value,
    data: Value,
    mut personal: Map<String, Value>,
) -> sqlx::Result<i64> {
    let at = db::now_ms();
    let last = sqlx::query("SELECT id, hash FROM audit ORDER BY id DESC LIMIT 1")
        .fetch_optional(&mut **tx)
        .await?;
    let (seq, prev) = match last {
        Some(r) => (r.get::<i64, _>(0) + 1, r.get::<String, _>(1)),
        None => (1, GENESIS.to_string()),
    };
    let record = record_value(
        seq,
        at,
        (actor.user.as_deref(), actor.token_id),
        event,
        &target,
        &data,
        &prev,
    );
    let text = canonical_json(&record);
    let hash = sha256_hex(&text);
    if let Some(ip) = &actor.ip {
        personal.insert("ip".into(), json!(ip));
    }
    let personal = (!personal.is_empty()).then(|| canonical_json(&Value::Object(personal)));
    sqlx::query(
        "INSERT INTO audit (id, at, user_name, token_id, action, repo, detail, prev_hash, hash, record, personal)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(seq)
    .bind(at)
    .bind(&actor.user)
    .bind(actor.token_id)
    .bind(event)
    .bind(target.get("repo").and_then(Value::as_str))
    .bind(canonical_json(&data))
    .bind(&prev)
    .bind(&hash)
    .bind(&text)
    .bind(personal)
    .execute(&mut **tx)
    .await?;
    Ok(seq)
}

/// Bring an audit table written by an older version up to date: add the `record` and
/// `personal` columns, and chain the entries that have no record yet in the current format.
pub(crate) async fn migrate(tx: &mut Tx) -> sqlx::Result<()> {
    let columns: Vec<String> = sqlx::query("PRAGMA table_info(audit)")
        .fetch_all(&mut **tx)
        .await?
        .iter()
        .map(|r| r.get::<String, _>("name"))
        .collect();
    for (name, ty) in [("record", "TEXT"), ("personal", "TEXT")] {
        if !columns.iter().any(|c| c == name) {
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "ALTER TABLE audit ADD COLUMN {name} {ty}"
            )))
            .execute(&mut **tx)
            .await?;
        }
    }
    let old: i64 = sqlx::query_scalar("SELECT count(*) FROM audit WHERE record IS NULL")
        .fetch_one(&mut **tx)
        .await?;
    if old == 0 {
        return Ok(());
    }
    let rows = sqlx::query(
        "SELECT id, at, user_name, token_id, action, repo, detail, hash, record FROM audit ORDER BY id",
    )
    .fetch_all(&mut **tx)
    .await?;
    let mut prev = GENESIS.to_string();
    for r in rows {
        let id: i64 = r.get(0);
        if r.get::<Option<String>, _>(8).is_some() {
            prev = r.get(7);
            continue;
        }
        let repo: Option<String> = r.get(5);
        let target = repo.map_or(json!({}), |r| json!({ "repo": r }));
        let data: Value = serde_json::from_str(&r.get::<String, _>(6)).unwrap_or(Value::Null);
        let user: Option<String> = r.get(2);
        let action: String = r.get(4);
        let record = record_value(
            id,
            r.get(1),
            (user.as_deref(), r.get(3)),
            &action,
            &target,
            &data,
            &prev,
        );
        let text = canonical_json(&record);
        let hash = sha256_hex(&text);
        sqlx::query(
            "UPDATE audit SET record = ?, prev_hash = ?, hash = ?, detail = ? WHERE id = ?",
        )
        .bind(&text)
        .bind(&prev)
        .bind(&hash)
        .bind(canonical_json(&data))
        .bind(id)
        .execute(&mut **tx)
        .await?;
        prev = hash;
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// reading

/// Which entries to read.
#[derive(Debug, Clone, Default)]
pub struct Query {
    /// Only entries after this sequence number.
    pub since: i64,
    /// At most this many.
    pub limit: i64,
    /// Only events named this or starting with it and a dot (`access` matches `access.grant`).
    pub event: Option<String>,
    /// Include the personal data (`personal`, `null` once erased).
    pub personal: bool,
}

/// Entries, oldest first: each record with its `hash` (and `personal` when asked for).
pub async fn export(db: &Db, q: &Query) -> sqlx::Result<Vec<Value>> {
    let prefix = q.event.clone().unwrap_or_default();
    let rows = sqlx::query(
        "SELECT record, hash, personal FROM audit
         WHERE id > ? AND (? = '' OR action = ? OR substr(action, 1, length(?) + 1) = ? || '.')
         ORDER BY id LIMIT ?",
    )
    .bind(q.since)
    .bind(&prefix)
    .bind(&prefix)
    .bind(&prefix)
    .bind(&prefix)
    .bind(q.limit.max(0))
    .fetch_all(db)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| {
            let text: Option<String> = r.get(0);
            let mut v = text
                .and_then(|t| serde_json::from_str::<Value>(&t).ok())
                .filter(Value::is_object)
                .unwrap_or_else(|| json!({}));
            v["hash"] = json!(r.get::<String, _>(1));
            if q.personal {
                v["personal"] = r
                    .get::<Option<String>, _>(2)
                    .and_then(|p| serde_json::from_str(&p).ok())
                    .unwrap_or(Value::Null);
            }
            v
        })
        .collect())
}

/// Entries, oldest first, for `wh admin audit list`: the record, its hash, and the short names
/// `id`, `at`, `user`, `token`, `action`, `repo` and `detail`.
pub async fn list(db: &Db, since: i64, limit: i64) -> sqlx::Result<Vec<Value>> {
    let q = Query {
        since,
        limit,
        event: None,
        personal: false,
    };
    let mut entries = export(db, &q).await?;
    for e in &mut entries {
        let short = json!({
            "id": e["seq"],
            "at": e["ts"],
            "user": e["actor"]["user"],
            "token": e["actor"]["token_id"],
            "action": e["event"],
            "repo": e["target"]["repo"],
            "detail": e["data"],
        });
        if let (Some(obj), Value::Object(extra)) = (e.as_object_mut(), short) {
            obj.extend(extra);
        }
    }
    Ok(entries)
}

/// Erase the personal data of the entries a user did or that are about them (`data.user`);
/// returns how many entries held some. The hashes do not cover it, so the chain stays valid.
pub async fn erase_user(tx: &mut Tx, user: &str) -> sqlx::Result<u64> {
    Ok(sqlx::query(
        "UPDATE audit SET personal = NULL WHERE personal IS NOT NULL AND (
            lower(user_name) = lower(?1)
            OR (json_valid(detail) AND lower(json_extract(detail, '$.user')) = lower(?1)))",
    )
    .bind(user)
    .execute(&mut **tx)
    .await?
    .rows_affected())
}

// ---------------------------------------------------------------------------------------------
// the anchor

/// An entry of the chain named by its sequence number and hash.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Head {
    /// Sequence number.
    pub seq: i64,
    /// Its hash.
    pub hash: String,
}

/// The last entry of the log.
pub async fn head(db: &Db) -> sqlx::Result<Option<Head>> {
    Ok(
        sqlx::query("SELECT id, hash FROM audit ORDER BY id DESC LIMIT 1")
            .fetch_optional(db)
            .await?
            .map(|r| Head {
                seq: r.get(0),
                hash: r.get(1),
            }),
    )
}

/// The anchor file of a data folder.
pub fn anchor_path(data: &Path) -> PathBuf {
    data.join(ANCHOR_FILE)
}

/// Write the last entry to the anchor file (temporary file, then rename). Returns it, or
/// `None` when the log is empty (nothing is written then).
///
/// An anchor the log no longer reaches (an entry it names is gone or differs) is left in place
/// as evidence, and an error says so.
pub async fn write_anchor(db: &Db, data: &Path) -> anyhow::Result<Option<Head>> {
    // The old anchor first: the log read after it must reach it.
    let old = read_anchor(data).map_err(anyhow::Error::msg)?;
    let Some(h) = head(db).await? else {
        if let Some(a) = old {
            anyhow::bail!(
                "the audit log is empty but {ANCHOR_FILE} names entry {}",
                a.seq
            );
        }
        return Ok(None);
    };
    if let Some(a) = &old {
        if old.as_ref() == Some(&h) {
            return Ok(Some(h));
        }
        let at: Option<String> = sqlx::query_scalar("SELECT hash FROM audit WHERE id = ?")
            .bind(a.seq)
            .fetch_optional(db)
            .await?;
        if a.seq > h.seq || at.as_deref() != Some(a.hash.as_str()) {
            anyhow::bail!(
                "the audit log no longer holds entry {} as {ANCHOR_FILE} names it (the log ends at entry {}); run `wh admin audit verify`",
                a.seq,
                h.seq
            );
        }
    }
    let path = anchor_path(data);
    let tmp = data.join(format!(
        ".{ANCHOR_FILE}.{}.{}.tmp",
        std::process::id(),
        rand::random::<u32>()
    ));
    let text = format!("{}\n", serde_json::to_string(&h)?);
    let written = tokio::task::spawn_blocking(move || -> std::io::Result<()> {
        use std::io::Write;
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&tmp)?;
        f.write_all(text.as_bytes())?;
        f.sync_all()?;
        drop(f);
        if let Err(e) = std::fs::rename(&tmp, &path) {
            let _ = std::fs::remove_file(&tmp);
            return Err(e);
        }
        // The rename itself is durable once the folder is synced.
        if let Some(dir) = path.parent() {
            std::fs::File::open(dir)?.sync_all()?;
        }
        Ok(())
    })
    .await?;
    written?;
    Ok(Some(h))
}

/// The anchor of a data folder: `Ok(None)` when there is none, `Err` when it cannot be read.
pub fn read_anchor(data: &Path) -> Result<Option<Head>, String> {
    let path = anchor_path(data);
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(format!("cannot read {}: {e}", path.display())),
    };
    serde_json::from_str(text.trim())
        .map(Some)
        .map_err(|e| format!("{} is not an audit anchor: {e}", path.display()))
}

// ---------------------------------------------------------------------------------------------
// verifying

/// What is wrong with a chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Problem {
    /// An entry's content no longer matches its hash, or the next entry's `prev_hash`.
    Altered,
    /// Entries are missing from the sequence.
    Removed,
    /// An entry stands where another belongs.
    Reordered,
    /// The log ends before the entry the anchor names.
    Truncated,
    /// The anchor names an entry whose hash differs, or cannot be read.
    Anchor,
}

/// A chain that does not verify: the first entry found wrong.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Broken {
    /// Sequence number of the entry.
    pub seq: i64,
    /// What is wrong.
    pub problem: Problem,
    /// For people.
    pub message: String,
}

/// A chain that verifies.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Intact {
    /// Number of entries.
    pub count: u64,
    /// The last entry.
    pub head: Option<Head>,
    /// The anchor it was checked against.
    pub anchor: Option<Head>,
}

fn altered(seq: i64, why: &str) -> Broken {
    Broken {
        seq,
        problem: Problem::Altered,
        message: format!("entry {seq} was altered: {why}"),
    }
}

/// Check one row against itself: the record hashes to `hash`, is canonical, and agrees with the
/// row's other columns. Returns the parsed record.
/// One stored row of the audit table, as the chain check reads it.
#[derive(Debug, serde::Deserialize)]
struct StoredRow(
    i64,
    i64,
    Option<String>,
    Option<i64>,
    String,
    Option<String>,
    String,
    String,
    String,
    Option<String>,
);

fn check_row(r: &StoredRow) -> Result<Value, Broken> {
    let StoredRow(id, at, user_name, token_id, action, repo, detail, prev_hash, hash, record) = r;
    let id = *id;
    let Some(text) = record else {
        return Err(altered(id, "its record is missing"));
    };
    if &sha256_hex(text) != hash {
        return Err(altered(id, "its content does not match its hash"));
    }
    let rec: Value =
        serde_json::from_str(text).map_err(|_| altered(id, "its record is not JSON"))?;
    if &canonical_json(&rec) != text {
        return Err(altered(id, "its record is not in canonical form"));
    }
    let same = rec["ts"].as_str() == Some(db::iso_ms(*at).as_str())
        && rec["actor"]["user"].as_str() == user_name.as_deref()
        && rec["actor"]["token_id"].as_i64() == *token_id
        && rec["event"].as_str() == Some(action.as_str())
        && rec["target"]["repo"].as_str() == repo.as_deref()
        && serde_json::from_str::<Value>(detail).ok().as_ref() == Some(&rec["data"])
        && rec["prev_hash"].as_str() == Some(prev_hash.as_str());
    if !same {
        return Err(altered(id, "its columns disagree with its hashed record"));
    }
    if rec["seq"].as_i64().is_none() {
        return Err(altered(id, "its record has no sequence number"));
    }
    Ok(rec)
}

/// Rows read per query by [`verify`]. Each chunk comes back as one JSON array, so that the
/// driver hands over one value per chunk instead of one per row.
const VERIFY_CHUNK: i64 = 8192;

async fn stored_rows(db: &Db, after: i64) -> sqlx::Result<Vec<StoredRow>> {
    let text: Option<String> = sqlx::query_scalar(
        "SELECT json_group_array(json_array(id, at, user_name, token_id, action, repo, detail, prev_hash, hash, record))
         FROM (SELECT * FROM audit WHERE id > ? ORDER BY id LIMIT ?)",
    )
    .bind(after)
    .bind(VERIFY_CHUNK)
    .fetch_one(db)
    .await?;
    let mut rows: Vec<StoredRow> = match text {
        Some(t) => serde_json::from_str(&t).map_err(|e| sqlx::Error::Decode(Box::new(e)))?,
        None => Vec::new(),
    };
    rows.sort_by_key(|r| r.0);
    Ok(rows)
}

async fn seq_exists(db: &Db, seq: i64) -> sqlx::Result<bool> {
    Ok(sqlx::query_scalar::<_, i64>(
        "SELECT 1 FROM audit WHERE json_valid(record) AND json_extract(record, '$.seq') = ? LIMIT 1",
    )
    .bind(seq)
    .fetch_optional(db)
    .await?
    .is_some())
}

/// Walk the chain from the first entry and check it against `anchor` (read before the walk, so
/// that entries appended meanwhile cannot make it look truncated).
pub async fn verify(db: &Db, anchor: Option<&Head>) -> sqlx::Result<Result<Intact, Broken>> {
    let mut prev = Head {
        seq: 0,
        hash: GENESIS.to_string(),
    };
    let mut count = 0u64;
    let mut anchored: Option<String> = None;
    let mut after = i64::MIN;
    loop {
        let rows = stored_rows(db, after).await?;
        let Some(last) = rows.last() else { break };
        after = last.0;
        for r in &rows {
            let rec = match check_row(r) {
                Ok(rec) => rec,
                Err(b) => return Ok(Err(b)),
            };
            let id = r.0;
            let seq = rec["seq"].as_i64().unwrap_or_default();
            let expected = prev.seq + 1;
            if seq != expected {
                return Ok(Err(if seq > expected && !seq_exists(db, expected).await? {
                    let last_missing = seq - 1;
                    let which = if last_missing == expected {
                        format!("entry {expected} is missing")
                    } else {
                        format!("entries {expected} to {last_missing} are missing")
                    };
                    Broken {
                        seq: expected,
                        problem: Problem::Removed,
                        message: format!(
                            "{which}: the log goes from entry {} to entry {seq}",
                            prev.seq
                        ),
                    }
                } else {
                    Broken {
                        seq: expected,
                        problem: Problem::Reordered,
                        message: format!(
                            "entries were reordered: entry {seq} stands where entry {expected} belongs"
                        ),
                    }
                }));
            }
            if id != seq {
                return Ok(Err(altered(seq, &format!("it is stored as row {id}"))));
            }
            if rec["prev_hash"].as_str() != Some(prev.hash.as_str()) {
                return Ok(Err(if prev.seq == 0 {
                    altered(seq, "the first entry does not start from the genesis hash")
                } else {
                    altered(
                        prev.seq,
                        &format!(
                            "its hash no longer matches the prev_hash entry {seq} recorded for it"
                        ),
                    )
                }));
            }
            let hash = r.8.clone();
            if anchor.is_some_and(|a| a.seq == seq) {
                anchored = Some(hash.clone());
            }
            prev = Head { seq, hash };
            count += 1;
        }
    }
    if let Some(a) = anchor {
        if a.seq > prev.seq {
            return Ok(Err(Broken {
                seq: a.seq,
                problem: Problem::Truncated,
                message: format!(
                    "the log was truncated: the anchor names entry {} but the log ends at entry {}",
                    a.seq, prev.seq
                ),
            }));
        }
        if anchored.as_deref() != Some(a.hash.as_str()) {
            return Ok(Err(Broken {
                seq: a.seq,
                problem: Problem::Anchor,
                message: format!(
                    "entry {} differs from the anchored hash {}: the log was rewritten from there on",
                    a.seq, a.hash
                ),
            }));
        }
    }
    Ok(Ok(Intact {
        count,
        head: (prev.seq > 0).then_some(prev),
        anchor: anchor.cloned(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_form_sorts_keys_and_drops_whitespace() {
        let v: Value = serde_json::from_str(
            r#"{"b": [1, {"z": null, "a": true}], "a": "x\"\n\u0001/é", "€": 1, "c": -5}"#,
        )
        .unwrap();
        assert_eq!(
            canonical_json(&v),
            "{\"a\":\"x\\\"\\n\\u0001/é\",\"b\":[1,{\"a\":true,\"z\":null}],\"c\":-5,\"€\":1}"
        );
        assert_eq!(canonical_json(&json!(2.0)), "2");
        assert_eq!(canonical_json(&json!(u64::MAX)), u64::MAX.to_string());
    }

    #[test]
    fn keys_sort_by_utf16_code_units() {
        // U+1F600 sorts after U+FF61 in UTF-8 byte order but before it in UTF-16.
        let v = json!({"\u{1F600}": 1, "\u{FF61}": 2});
        assert_eq!(canonical_json(&v), "{\"\u{1F600}\":1,\"\u{FF61}\":2}");
    }
}

/// One record waiting for [`Batcher`].
#[derive(Debug)]
pub struct Pending {
    /// Who.
    pub actor: Actor,
    /// The event name.
    pub event: &'static str,
    /// What it is about.
    pub target: Value,
    /// Details.
    pub data: Value,
}

type Waiting = (Pending, tokio::sync::oneshot::Sender<Result<i64, String>>);

/// Group commit for records that are not part of another change (downloads of gated files):
/// callers wait until their record is durable, and records that arrive while a transaction is
/// being written go together into the next one, so that concurrent downloads share a sync
/// instead of queueing one transaction each.
#[derive(Debug, Clone)]
pub struct Batcher {
    queue: tokio::sync::mpsc::UnboundedSender<Waiting>,
}

/// Most records in one transaction.
const BATCH: usize = 1024;

impl Batcher {
    /// Start the writer task (on the current Tokio runtime).
    pub fn start(db: Db) -> Self {
        let (queue, mut rx) = tokio::sync::mpsc::unbounded_channel::<Waiting>();
        tokio::spawn(async move {
            while let Some(first) = rx.recv().await {
                let mut batch = vec![first];
                while batch.len() < BATCH {
                    match rx.try_recv() {
                        Ok(w) => batch.push(w),
                        Err(_) => break,
                    }
                }
                let result = write_batch(&db, &batch).await;
                for (i, (_, done)) in batch.into_iter().enumerate() {
                    let r = match &result {
                        Ok(seqs) => Ok(seqs[i]),
                        Err(e) => Err(e.to_string()),
                    };
                    let _ = done.send(r);
                }
            }
        });
        Self { queue }
    }

    /// Append `p` and wait until it is committed; returns its sequence number.
    pub async fn record(&self, p: Pending) -> anyhow::Result<i64> {
        let (done, wait) = tokio::sync::oneshot::channel();
        self.queue
            .send((p, done))
            .map_err(|_| anyhow::anyhow!("the audit writer has stopped"))?;
        wait.await
            .map_err(|_| anyhow::anyhow!("the audit writer has stopped"))?
            .map_err(|e| anyhow::anyhow!("writing the audit log: {e}"))
    }
}

async fn write_batch(db: &Db, batch: &[Waiting]) -> sqlx::Result<Vec<i64>> {
    let mut tx = db::write(db).await?;
    let mut seqs = Vec::with_capacity(batch.len());
    for (p, _) in batch {
        seqs.push(
            record_with(
                &mut tx,
                &p.actor,
                p.event,
                p.target.clone(),
                p.data.clone(),
                Map::new(),
            )
            .await?,
        );
    }
    tx.commit().await?;
    Ok(seqs)
}
