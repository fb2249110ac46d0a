//! Users, organisations, roles and access tokens.
//!
//! A token is shown once and stored only as its SHA-256. What a request may do is the smaller of
//! the token's role and the user's role on the repository's namespace (admin on their own
//! namespace, their membership role in an organisation, admin everywhere for site admins).

use std::fmt;
use std::str::FromStr;

use rand::Rng;
use sha2::{Digest, Sha256};
use sqlx::Row;

use crate::db::{self, Db, Tx};

/// A role, ordered by what it allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Read private repositories.
    Read,
    /// Create repositories and push to them.
    Write,
    /// Manage members and settings.
    Admin,
}

impl Role {
    /// The role's name.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Read => "read",
            Role::Write => "write",
            Role::Admin => "admin",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "read" => Ok(Role::Read),
            "write" => Ok(Role::Write),
            "admin" => Ok(Role::Admin),
            other => Err(format!(
                "unknown role {other:?} (expected read, write or admin)"
            )),
        }
    }
}

/// The authenticated user behind a request.
#[derive(Debug, Clone)]
pub struct Caller {
    /// User id.
    pub user_id: i64,
    /// User name.
    pub name: String,
    /// Full name.
    pub fullname: String,
    /// E-mail, if known.
    pub email: Option<String>,
    /// Site administrator.
    pub is_admin: bool,
    /// The token used.
    pub token_id: i64,
    /// Its display name.
    pub token_name: String,
    /// Its role.
    pub token_role: Role,
}

/// A new random token: `wh_` and 40 characters from a 62-letter alphabet (238 bits).
pub fn new_token() -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut rng = rand::rng();
    let body: String = (0..40)
        .map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char)
        .collect();
    format!("wh_{body}")
}

/// How a token is stored.
pub fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// Look a bearer token up. `None` if unknown or revoked.
pub async fn caller_for_token(db: &Db, token: &str) -> sqlx::Result<Option<Caller>> {
    let row = sqlx::query(
        "SELECT u.id, u.name, u.fullname, u.email, u.is_admin, t.id, t.name, t.role
         FROM tokens t JOIN users u ON u.id = t.user_id WHERE t.hash = ? AND t.revoked = 0",
    )
    .bind(token_hash(token))
    .fetch_optional(db)
    .await?;
    Ok(row.map(|r| Caller {
        user_id: r.get(0),
        name: r.get(1),
        fullname: r.get(2),
        email: r.get(3),
        is_admin: r.get::<i64, _>(4) != 0,
        token_id: r.get(5),
        token_name: r.get(6),
        token_role: r.get::<String, _>(7).parse().unwrap_or(Role::Read),
    }))
}

/// What kind of account owns a namespace.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Namespace {
    /// A user.
    User,
    /// An organisation.
    Org,
}

/// Whether `name` is a user or an organisation, with its canonical spelling.
pub async fn namespace(db: &Db, name: &str) -> sqlx::Result<Option<(Namespace, String)>> {
    if let Some(n) = sqlx::query_scalar::<_, String>("SELECT name FROM users WHERE name = ?")
        .bind(name)
        .fetch_optional(db)
        .await?
    {
        return Ok(Some((Namespace::User, n)));
    }
    Ok(
        sqlx::query_scalar::<_, String>("SELECT name FROM orgs WHERE name = ?")
            .bind(name)
            .fetch_optional(db)
            .await?
            .map(|n| (Namespace::Org, n)),
    )
}

/// The caller's effective role on a namespace, capped by the token's role.
pub async fn role_on(db: &Db, caller: Option<&Caller>, ns: &str) -> sqlx::Result<Option<Role>> {
    let Some(c) = caller else { return Ok(None) };
    let account_role = if c.is_admin || c.name.eq_ignore_ascii_case(ns) {
        Some(Role::Admin)
    } else {
        sqlx::query_scalar::<_, String>(
            "SELECT m.role FROM members m JOIN orgs o ON o.id = m.org_id WHERE o.name = ? AND m.user_id = ?",
        )
        .bind(ns)
        .bind(c.user_id)
        .fetch_optional(db)
        .await?
        .and_then(|r| r.parse().ok())
    };
    Ok(account_role.map(|r| r.min(c.token_role)))
}

/// The organisations a user belongs to, with their role.
pub async fn orgs_of(db: &Db, user_id: i64) -> sqlx::Result<Vec<(String, String, Role)>> {
    let rows = sqlx::query("SELECT o.name, o.fullname, m.role FROM members m JOIN orgs o ON o.id = m.org_id WHERE m.user_id = ? ORDER BY o.name")
        .bind(user_id)
        .fetch_all(db)
        .await?;
    Ok(rows
        .into_iter()
        .map(|r| {
            (
                r.get(0),
                r.get(1),
                r.get::<String, _>(2).parse().unwrap_or(Role::Read),
            )
        })
        .collect())
}

/// Account names follow the repository name rules.
pub fn check_account_name(name: &str) -> Result<(), String> {
    crate::names::check_name(name).map_err(|e| e.replace("repository name", "account name"))
}

/// Create a user; returns its id.
pub async fn create_user(tx: &mut Tx, name: &str, admin: bool) -> anyhow::Result<i64> {
    check_account_name(name).map_err(anyhow::Error::msg)?;
    let taken: Option<i64> = sqlx::query_scalar(
        "SELECT 1 FROM users WHERE name = ? UNION SELECT 1 FROM orgs WHERE name = ?",
    )
    .bind(name)
    .bind(name)
    .fetch_optional(&mut **tx)
    .await?;
    if taken.is_some() {
        anyhow::bail!("the name {name:?} is already taken by a user or an organisation");
    }
    let id = sqlx::query("INSERT INTO users (name, is_admin, created_at) VALUES (?, ?, ?)")
        .bind(name)
        .bind(admin as i64)
        .bind(db::now_ms())
        .execute(&mut **tx)
        .await?
        .last_insert_rowid();
    Ok(id)
}

/// Create a token for a user; returns `(token id, token)`. Only the hash is stored.
pub async fn create_token(
    tx: &mut Tx,
    user_id: i64,
    name: &str,
    role: Role,
) -> anyhow::Result<(i64, String)> {
    let token = new_token();
    let id = sqlx::query(
        "INSERT INTO tokens (user_id, name, role, hash, created_at) VALUES (?, ?, ?, ?, ?)",
    )
    .bind(user_id)
    .bind(name)
    .bind(role.as_str())
    .bind(token_hash(&token))
    .bind(db::now_ms())
    .execute(&mut **tx)
    .await?
    .last_insert_rowid();
    Ok((id, token))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_random_and_hashed() {
        let a = new_token();
        let b = new_token();
        assert_ne!(a, b);
        assert_eq!(a.len(), 43);
        assert_eq!(token_hash(&a).len(), 64);
        assert_ne!(token_hash(&a), token_hash(&b));
    }

    #[test]
    fn roles_order() {
        assert!(Role::Read < Role::Write && Role::Write < Role::Admin);
        assert_eq!("write".parse::<Role>().unwrap(), Role::Write);
        assert!("owner".parse::<Role>().is_err());
    }
}
