//! Repositories, their refs and their history.
//!
//! A commit row holds the git commit fields and the commit's full file list (the snapshot); trees
//! are derived from the file list. Snapshots are immutable, so they are cached by commit id.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use serde_json::json;
use sqlx::Row;

use crate::audit::{self, Actor};
use crate::db::{self, Db, Tx};
use crate::git::{self, CommitObject, FileEntry, Oid, Trees};

/// The kind of repository.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RepoKind {
    /// A model.
    Model,
    /// A dataset.
    Dataset,
    /// A space.
    Space,
}

impl RepoKind {
    /// From the `/api/{models|datasets|spaces}` path segment.
    pub fn from_plural(s: &str) -> Option<Self> {
        match s {
            "models" => Some(Self::Model),
            "datasets" => Some(Self::Dataset),
            "spaces" => Some(Self::Space),
            _ => None,
        }
    }

    /// From the JSON `type` field (`model`, `dataset`, `space`).
    pub fn from_singular(s: &str) -> Option<Self> {
        match s {
            "model" => Some(Self::Model),
            "dataset" => Some(Self::Dataset),
            "space" => Some(Self::Space),
            _ => None,
        }
    }

    /// `model`, `dataset`, `space`.
    pub fn singular(self) -> &'static str {
        match self {
            Self::Model => "model",
            Self::Dataset => "dataset",
            Self::Space => "space",
        }
    }

    /// `models`, `datasets`, `spaces`.
    pub fn plural(self) -> &'static str {
        match self {
            Self::Model => "models",
            Self::Dataset => "datasets",
            Self::Space => "spaces",
        }
    }

    /// The URL prefix of the repository's pages: `""`, `datasets/`, `spaces/`.
    pub fn url_prefix(self) -> &'static str {
        match self {
            Self::Model => "",
            Self::Dataset => "datasets/",
            Self::Space => "spaces/",
        }
    }
}

/// A repository row.
#[derive(Debug, Clone)]
pub struct Repo {
    /// Row id.
    pub id: i64,
    /// Kind.
    pub kind: RepoKind,
    /// Owner (user or organisation).
    pub namespace: String,
    /// Name inside the namespace.
    pub name: String,
    /// Private repositories are visible to members only.
    pub private: bool,
    /// `false`, `auto` or `manual`.
    pub gated: String,
    /// Creation time (ms).
    pub created_at: i64,
}

impl Repo {
    /// `namespace/name`.
    pub fn full_name(&self) -> String {
        format!("{}/{}", self.namespace, self.name)
    }

    /// `models/namespace/name`: how the audit log names it.
    pub fn audit_name(&self) -> String {
        format!("{}/{}/{}", self.kind.plural(), self.namespace, self.name)
    }
}

pub use crate::names::{check_name, check_ref_name};

fn repo_from_row(r: &sqlx::sqlite::SqliteRow) -> Repo {
    Repo {
        id: r.get(0),
        kind: RepoKind::from_singular(r.get::<&str, _>(1)).unwrap_or(RepoKind::Model),
        namespace: r.get(2),
        name: r.get(3),
        private: r.get::<i64, _>(4) != 0,
        gated: r.get(5),
        created_at: r.get(6),
    }
}

/// Insert the row of a new repository (not gated, created now); returns its id.
async fn insert_repo(
    tx: &mut Tx,
    kind: RepoKind,
    namespace: &str,
    name: &str,
    private: bool,
) -> sqlx::Result<i64> {
    let now = db::now_ms();
    Ok(sqlx::query("INSERT INTO repos (kind, namespace, name, private, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?)")
        .bind(kind.singular())
        .bind(namespace)
        .bind(name)
        .bind(private as i64)
        .bind(now)
        .bind(now)
        .execute(&mut **tx)
        .await?
        .last_insert_rowid())
}

/// Every repository of a namespace, most recently updated first, with its last update (ms).
pub async fn in_namespace(db: &Db, namespace: &str) -> sqlx::Result<Vec<(Repo, i64)>> {
    let rows = sqlx::query(
        "SELECT id, kind, namespace, name, private, gated, created_at, updated_at FROM repos
         WHERE namespace = ? ORDER BY updated_at DESC, id DESC",
    )
    .bind(namespace)
    .fetch_all(db)
    .await?;
    Ok(rows.iter().map(|r| (repo_from_row(r), r.get(7))).collect())
}

/// Find a repository (names compare without case), through any executor.
async fn find_with<'e, E: sqlx::SqliteExecutor<'e>>(
    ex: E,
    kind: RepoKind,
    namespace: &str,
    name: &str,
) -> sqlx::Result<Option<Repo>> {
    let row = sqlx::query(
        "SELECT id, kind, namespace, name, private, gated, created_at FROM repos WHERE kind = ? AND namespace = ? AND name = ?",
    )
    .bind(kind.singular())
    .bind(namespace)
    .bind(name)
    .fetch_optional(ex)
    .await?;
    Ok(row.as_ref().map(repo_from_row))
}

/// Find a repository (names compare without case).
pub async fn find(
    db: &Db,
    kind: RepoKind,
    namespace: &str,
    name: &str,
) -> sqlx::Result<Option<Repo>> {
    find_with(db, kind, namespace, name).await
}

/// Find a repository inside a transaction.
pub async fn find_tx(
    tx: &mut Tx,
    kind: RepoKind,
    namespace: &str,
    name: &str,
) -> sqlx::Result<Option<Repo>> {
    find_with(&mut **tx, kind, namespace, name).await
}

/// A commit's metadata.
#[derive(Debug, Clone)]
pub struct Commit {
    /// Commit id.
    pub oid: Oid,
    /// Root tree id.
    pub tree: Oid,
    /// Parent ids.
    pub parents: Vec<Oid>,
    /// Author name.
    pub author: String,
    /// Author e-mail.
    pub email: String,
    /// Seconds since the epoch.
    pub time: i64,
    /// First line of the message.
    pub title: String,
    /// The rest of the message.
    pub message: String,
}

/// The files of one commit, sorted by path, and its trees.
#[derive(Debug)]
pub struct Snapshot {
    /// Files by path order.
    pub files: Vec<FileEntry>,
    /// Derived git trees.
    pub trees: Trees,
}

impl Snapshot {
    fn new(mut files: Vec<FileEntry>) -> Self {
        files.sort_by(|a, b| a.path.cmp(&b.path));
        let trees = git::build_trees(&files);
        Self { files, trees }
    }

    /// The file at `path`.
    pub fn file(&self, path: &str) -> Option<&FileEntry> {
        self.files
            .binary_search_by(|f| f.path.as_str().cmp(path))
            .ok()
            .map(|i| &self.files[i])
    }

    /// The tree id of folder `path` (`""` is the root).
    pub fn folder(&self, path: &str) -> Option<&Oid> {
        if path.is_empty() {
            Some(&self.trees.root)
        } else {
            self.trees.folders.get(path)
        }
    }

    /// Files under folder `path` (all depths).
    pub fn files_under<'a>(&'a self, path: &'a str) -> impl Iterator<Item = &'a FileEntry> + 'a {
        let prefix = if path.is_empty() {
            String::new()
        } else {
            format!("{path}/")
        };
        let start = self
            .files
            .partition_point(|f| f.path.as_str() < prefix.as_str());
        self.files[start..]
            .iter()
            .take_while(move |f| f.path.starts_with(&prefix))
    }

    /// Total size of all files.
    pub fn total_size(&self) -> u64 {
        self.files.iter().map(|f| f.size).sum()
    }
}

/// Cache of parsed snapshots by commit id (immutable, so never stale).
#[derive(Debug, Default)]
pub struct SnapshotCache {
    map: Mutex<HashMap<Oid, Arc<Snapshot>>>,
}

const CACHE_ENTRIES: usize = 512;

impl SnapshotCache {
    fn get(&self, oid: &str) -> Option<Arc<Snapshot>> {
        self.map.lock().expect("cache lock").get(oid).cloned()
    }

    fn put(&self, oid: Oid, snap: Arc<Snapshot>) {
        let mut map = self.map.lock().expect("cache lock");
        if map.len() >= CACHE_ENTRIES {
            map.clear();
        }
        map.insert(oid, snap);
    }
}

fn commit_from_row(r: &sqlx::sqlite::SqliteRow) -> Commit {
    let parents: String = r.get(2);
    Commit {
        oid: r.get(0),
        tree: r.get(1),
        parents: parents.split_whitespace().map(str::to_string).collect(),
        author: r.get(3),
        email: r.get(4),
        time: r.get(5),
        title: r.get(6),
        message: r.get(7),
    }
}

const COMMIT_COLUMNS: &str = "oid, tree, parents, author, email, time, title, message";

/// A commit of a repository.
pub async fn commit(db: &Db, repo_id: i64, oid: &str) -> sqlx::Result<Option<Commit>> {
    let row = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {COMMIT_COLUMNS} FROM commits WHERE repo_id = ? AND oid = ?"
    )))
    .bind(repo_id)
    .bind(oid)
    .fetch_optional(db)
    .await?;
    Ok(row.as_ref().map(commit_from_row))
}

async fn load_snapshot<'e, E: sqlx::SqliteExecutor<'e>>(
    ex: E,
    cache: &SnapshotCache,
    repo_id: i64,
    oid: &str,
) -> sqlx::Result<Option<Arc<Snapshot>>> {
    if let Some(s) = cache.get(oid) {
        return Ok(Some(s));
    }
    let files: Option<String> =
        sqlx::query_scalar("SELECT files FROM commits WHERE repo_id = ? AND oid = ?")
            .bind(repo_id)
            .bind(oid)
            .fetch_optional(ex)
            .await?;
    let Some(files) = files else { return Ok(None) };
    let files: Vec<FileEntry> =
        serde_json::from_str(&files).map_err(|e| sqlx::Error::Decode(Box::new(e)))?;
    let snap = Arc::new(Snapshot::new(files));
    cache.put(oid.to_string(), Arc::clone(&snap));
    Ok(Some(snap))
}

/// The files of a commit.
pub async fn snapshot(
    db: &Db,
    cache: &SnapshotCache,
    repo_id: i64,
    oid: &str,
) -> sqlx::Result<Option<Arc<Snapshot>>> {
    load_snapshot(db, cache, repo_id, oid).await
}

/// Resolve a revision (branch, tag, `refs/...`, or full commit id) to a commit id.
pub async fn resolve(db: &Db, repo_id: i64, rev: &str) -> sqlx::Result<Option<Oid>> {
    if rev.len() == 40 && rev.bytes().all(|b| b.is_ascii_hexdigit()) {
        let rev = rev.to_ascii_lowercase();
        let found: Option<String> =
            sqlx::query_scalar("SELECT oid FROM commits WHERE repo_id = ? AND oid = ?")
                .bind(repo_id)
                .bind(&rev)
                .fetch_optional(db)
                .await?;
        if found.is_some() {
            return Ok(found);
        }
    }
    let candidates: Vec<String> = if rev.starts_with("refs/") {
        vec![rev.to_string()]
    } else {
        vec![format!("refs/heads/{rev}"), format!("refs/tags/{rev}")]
    };
    for name in candidates {
        let target: Option<String> =
            sqlx::query_scalar("SELECT target FROM refs WHERE repo_id = ? AND name = ?")
                .bind(repo_id)
                .bind(&name)
                .fetch_optional(db)
                .await?;
        if target.is_some() {
            return Ok(target);
        }
    }
    Ok(None)
}

/// A ref row.
#[derive(Debug, Clone)]
pub struct RefRow {
    /// Full name (`refs/heads/main`).
    pub name: String,
    /// Commit id.
    pub target: Oid,
    /// Tag message.
    pub message: Option<String>,
}

/// All refs of a repository.
pub async fn refs(db: &Db, repo_id: i64) -> sqlx::Result<Vec<RefRow>> {
    let rows =
        sqlx::query("SELECT name, target, message FROM refs WHERE repo_id = ? ORDER BY name")
            .bind(repo_id)
            .fetch_all(db)
            .await?;
    Ok(rows
        .into_iter()
        .map(|r| RefRow {
            name: r.get(0),
            target: r.get(1),
            message: r.get(2),
        })
        .collect())
}

/// First-parent history from `head`, newest first: `skip` commits skipped, at most `limit`.
pub async fn history(
    db: &Db,
    repo_id: i64,
    head: &str,
    skip: usize,
    limit: usize,
) -> sqlx::Result<(Vec<Commit>, bool)> {
    let mut out = Vec::new();
    let mut next = Some(head.to_string());
    let mut index = 0usize;
    while let Some(oid) = next {
        let Some(c) = commit(db, repo_id, &oid).await? else {
            break;
        };
        next = c.parents.first().cloned();
        if index >= skip {
            if out.len() == limit {
                return Ok((out, true));
            }
            out.push(c);
        }
        index += 1;
    }
    Ok((out, false))
}

/// A change to apply in a commit.
#[derive(Debug, Clone)]
pub enum Change {
    /// Add or replace a file.
    Put(FileEntry),
    /// Delete a file.
    Delete(String),
    /// Delete every file under a folder.
    DeleteFolder(String),
}

/// Why a commit was refused.
#[derive(Debug, thiserror::Error)]
pub enum CommitError {
    /// The branch does not exist.
    #[error("branch {0:?} not found")]
    NoBranch(String),
    /// The parent given by the client is not the branch head.
    #[error("the branch head is {head}, not the expected parent commit {expected}")]
    ParentMismatch {
        /// Expected.
        expected: String,
        /// Actual head.
        head: String,
    },
    /// A file or folder to delete is missing.
    #[error("{0}")]
    Missing(String),
    /// The change leaves a path that is both a file and a folder.
    #[error("{0}")]
    Conflict(String),
    /// Database failure.
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

/// Who commits, and the message.
#[derive(Debug, Clone)]
pub struct CommitInfo {
    /// Author name.
    pub author: String,
    /// Author e-mail.
    pub email: String,
    /// Title.
    pub title: String,
    /// Description.
    pub description: String,
    /// Parent the client expects (a full or abbreviated commit id).
    pub parent: Option<String>,
}

fn apply(base: &Snapshot, changes: &[Change]) -> Result<Vec<FileEntry>, CommitError> {
    let mut files: BTreeMap<String, FileEntry> = base
        .files
        .iter()
        .map(|f| (f.path.clone(), f.clone()))
        .collect();
    for change in changes {
        match change {
            Change::Put(f) => {
                files.insert(f.path.clone(), f.clone());
            }
            Change::Delete(path) => {
                if files.remove(path).is_none() {
                    return Err(CommitError::Missing(format!(
                        "A file with this name doesn't exist: {path}"
                    )));
                }
            }
            Change::DeleteFolder(path) => {
                let prefix = format!("{}/", path.trim_end_matches('/'));
                let doomed: Vec<String> = files
                    .range(prefix.clone()..)
                    .take_while(|(p, _)| p.starts_with(&prefix))
                    .map(|(p, _)| p.clone())
                    .collect();
                if doomed.is_empty() {
                    return Err(CommitError::Missing(format!(
                        "A folder with this name doesn't exist: {path}"
                    )));
                }
                for p in doomed {
                    files.remove(&p);
                }
            }
        }
    }
    // A path may not be both a file and a folder.
    for path in files.keys() {
        let mut end = 0;
        while let Some(i) = path[end..].find('/') {
            end += i;
            if files.contains_key(&path[..end]) {
                return Err(CommitError::Conflict(format!(
                    "{:?} is a file, so {path:?} cannot be created under it",
                    &path[..end]
                )));
            }
            end += 1;
        }
    }
    Ok(files.into_values().collect())
}

/// Write a commit object and its file list; `INSERT OR IGNORE` since ids are content hashes.
async fn insert_commit(
    tx: &mut Tx,
    repo_id: i64,
    c: &Commit,
    files: &[FileEntry],
) -> sqlx::Result<()> {
    sqlx::query("INSERT OR IGNORE INTO commits (repo_id, oid, tree, parents, author, email, time, title, message, files) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
        .bind(repo_id)
        .bind(&c.oid)
        .bind(&c.tree)
        .bind(c.parents.join(" "))
        .bind(&c.author)
        .bind(&c.email)
        .bind(c.time)
        .bind(&c.title)
        .bind(&c.message)
        .bind(serde_json::to_string(files).expect("file entries serialise"))
        .execute(&mut **tx)
        .await?;
    Ok(())
}

fn make_commit(files: &[FileEntry], parents: Vec<Oid>, info: &CommitInfo, time: i64) -> Commit {
    let trees = git::build_trees(files);
    let title = info.title.trim().lines().next().unwrap_or("").to_string();
    let message = git::commit_message(&info.title, &info.description);
    let obj = CommitObject {
        tree: &trees.root,
        parents: &parents,
        author: &info.author,
        email: &info.email,
        time,
        message: &message,
    };
    Commit {
        oid: obj.id(),
        tree: trees.root.clone(),
        parents,
        author: info.author.clone(),
        email: info.email.clone(),
        time,
        title,
        message: info.description.trim().to_string(),
    }
}

/// The `.gitattributes` a new repository starts with: common weight and archive files in LFS.
pub const DEFAULT_GITATTRIBUTES: &str = "\
*.7z filter=lfs diff=lfs merge=lfs -text
*.arrow filter=lfs diff=lfs merge=lfs -text
*.bin filter=lfs diff=lfs merge=lfs -text
*.bz2 filter=lfs diff=lfs merge=lfs -text
*.ckpt filter=lfs diff=lfs merge=lfs -text
*.ftz filter=lfs diff=lfs merge=lfs -text
*.gguf filter=lfs diff=lfs merge=lfs -text
*.gz filter=lfs diff=lfs merge=lfs -text
*.h5 filter=lfs diff=lfs merge=lfs -text
*.joblib filter=lfs diff=lfs merge=lfs -text
*.keras filter=lfs diff=lfs merge=lfs -text
*.lfs.* filter=lfs diff=lfs merge=lfs -text
*.mlmodel filter=lfs diff=lfs merge=lfs -text
*.model filter=lfs diff=lfs merge=lfs -text
*.msgpack filter=lfs diff=lfs merge=lfs -text
*.npy filter=lfs diff=lfs merge=lfs -text
*.npz filter=lfs diff=lfs merge=lfs -text
*.onnx filter=lfs diff=lfs merge=lfs -text
*.ot filter=lfs diff=lfs merge=lfs -text
*.parquet filter=lfs diff=lfs merge=lfs -text
*.pb filter=lfs diff=lfs merge=lfs -text
*.pickle filter=lfs diff=lfs merge=lfs -text
*.pkl filter=lfs diff=lfs merge=lfs -text
*.pt filter=lfs diff=lfs merge=lfs -text
*.pth filter=lfs diff=lfs merge=lfs -text
*.rar filter=lfs diff=lfs merge=lfs -text
*.safetensors filter=lfs diff=lfs merge=lfs -text
saved_model/**/* filter=lfs diff=lfs merge=lfs -text
*.tar.* filter=lfs diff=lfs merge=lfs -text
*.tar filter=lfs diff=lfs merge=lfs -text
*.tflite filter=lfs diff=lfs merge=lfs -text
*.tgz filter=lfs diff=lfs merge=lfs -text
*.wasm filter=lfs diff=lfs merge=lfs -text
*.xz filter=lfs diff=lfs merge=lfs -text
*.zip filter=lfs diff=lfs merge=lfs -text
*.zst filter=lfs diff=lfs merge=lfs -text
*tfevents* filter=lfs diff=lfs merge=lfs -text
";

/// Create a repository with its initial commit (`.gitattributes`) on `main`, inside `tx`.
/// `gitattributes_sha` is where the blob store keeps the `.gitattributes` content.
pub async fn create(
    tx: &mut Tx,
    kind: RepoKind,
    namespace: &str,
    name: &str,
    private: bool,
    gitattributes_sha: &weighhouse_store::Sha256,
) -> sqlx::Result<(i64, Oid)> {
    let now = db::now_ms();
    let id = insert_repo(tx, kind, namespace, name, private).await?;
    let files = vec![FileEntry::regular(
        ".gitattributes".into(),
        DEFAULT_GITATTRIBUTES.as_bytes(),
        gitattributes_sha,
    )];
    let info = CommitInfo {
        author: "system".into(),
        email: "system@weighhouse.invalid".into(),
        title: "initial commit".into(),
        description: String::new(),
        parent: None,
    };
    let c = make_commit(&files, Vec::new(), &info, now / 1000);
    insert_commit(tx, id, &c, &files).await?;
    sqlx::query("INSERT INTO refs (repo_id, name, target) VALUES (?, 'refs/heads/main', ?)")
        .bind(id)
        .bind(&c.oid)
        .execute(&mut **tx)
        .await?;
    Ok((id, c.oid))
}

/// Commit `changes` on top of `branch`, atomically: the head is read and moved in one write
/// transaction, with a compare-and-swap on the ref, so concurrent commits queue and none is lost.
#[expect(
    clippy::too_many_arguments,
    reason = "the repository, the branch, the changes, who and why: all needed inside one transaction"
)]
pub async fn commit_changes(
    db: &Db,
    cache: &SnapshotCache,
    repo: &Repo,
    branch: &str,
    changes: &[Change],
    info: &CommitInfo,
    actor: &Actor,
    detail: serde_json::Value,
) -> Result<Commit, CommitError> {
    let change = BranchChange {
        event: "commit",
        head_key: "parent",
        detail,
    };
    advance_branch(
        db,
        cache,
        repo,
        branch,
        info,
        actor,
        change,
        |head, base| {
            if let Some(expected) = &info.parent {
                let expected = expected.to_ascii_lowercase();
                if expected.len() < 4 || !head.starts_with(&expected) {
                    return Err(CommitError::ParentMismatch {
                        expected,
                        head: head.to_string(),
                    });
                }
            }
            Ok((apply(base, changes)?, vec![head.to_string()]))
        },
    )
    .await
}

/// How a branch move is recorded in the audit log: the event, the key naming the previous head,
/// and the event's own details (the branch and the new commit are added).
struct BranchChange {
    event: &'static str,
    head_key: &'static str,
    detail: serde_json::Value,
}

/// In one write transaction: read the head of `branch`, make the next commit from it (`next`
/// gives its files and parents, from the head and the head's snapshot), store it, move the branch
/// with a compare-and-swap, and record the change in the audit log.
#[expect(
    clippy::too_many_arguments,
    reason = "the repository, the branch, the message, who, the record and the change: one transaction"
)]
async fn advance_branch(
    db: &Db,
    cache: &SnapshotCache,
    repo: &Repo,
    branch: &str,
    info: &CommitInfo,
    actor: &Actor,
    change: BranchChange,
    next: impl FnOnce(&str, &Snapshot) -> Result<(Vec<FileEntry>, Vec<Oid>), CommitError>,
) -> Result<Commit, CommitError> {
    let ref_name = format!("refs/heads/{branch}");
    let mut tx = db::write(db).await?;
    let head: Option<String> =
        sqlx::query_scalar("SELECT target FROM refs WHERE repo_id = ? AND name = ?")
            .bind(repo.id)
            .bind(&ref_name)
            .fetch_optional(&mut *tx)
            .await?;
    let Some(head) = head else {
        return Err(CommitError::NoBranch(branch.to_string()));
    };
    let base = load_snapshot(&mut *tx, cache, repo.id, &head)
        .await?
        .ok_or(sqlx::Error::RowNotFound)?;
    let (files, parents) = next(&head, &base)?;
    let c = make_commit(&files, parents, info, db::now_ms() / 1000);
    insert_commit(&mut tx, repo.id, &c, &files).await?;
    let moved =
        sqlx::query("UPDATE refs SET target = ? WHERE repo_id = ? AND name = ? AND target = ?")
            .bind(&c.oid)
            .bind(repo.id)
            .bind(&ref_name)
            .bind(&head)
            .execute(&mut *tx)
            .await?
            .rows_affected();
    if moved != 1 {
        // Cannot happen while the transaction holds the write lock; refuse rather than lose work.
        return Err(CommitError::ParentMismatch {
            expected: head,
            head: "a newer commit".into(),
        });
    }
    sqlx::query("UPDATE repos SET updated_at = ? WHERE id = ?")
        .bind(db::now_ms())
        .bind(repo.id)
        .execute(&mut *tx)
        .await?;
    let mut detail = change.detail;
    if let Some(obj) = detail.as_object_mut() {
        obj.insert("branch".into(), json!(branch));
        obj.insert("commit".into(), json!(c.oid));
        obj.insert(change.head_key.into(), json!(head));
    }
    audit::record(
        &mut tx,
        actor,
        change.event,
        Some(&repo.audit_name()),
        detail,
    )
    .await?;
    tx.commit().await?;
    Ok(c)
}

/// Every LFS object a repository's history references, once each (by SHA-256), with the first
/// path it had and the time (seconds) of the oldest commit holding it.
pub async fn lfs_objects(
    db: &Db,
    cache: &SnapshotCache,
    repo_id: i64,
) -> sqlx::Result<Vec<(FileEntry, i64)>> {
    let commits: Vec<(String, i64)> =
        // In the order they were made (rowid): a parent always before its children.
        sqlx::query_as("SELECT oid, time FROM commits WHERE repo_id = ? ORDER BY rowid")
            .bind(repo_id)
            .fetch_all(db)
            .await?;
    let mut seen: HashMap<String, usize> = HashMap::new();
    let mut out: Vec<(FileEntry, i64)> = Vec::new();
    for (oid, time) in commits {
        let Some(snap) = load_snapshot(db, cache, repo_id, &oid).await? else {
            continue;
        };
        for f in snap.files.iter().filter(|f| f.lfs) {
            if !seen.contains_key(&f.sha256) {
                seen.insert(f.sha256.clone(), out.len());
                out.push((f.clone(), time));
            }
        }
    }
    Ok(out)
}

/// Replace the history of `branch` by one commit with its current files and no parent (the Hub's
/// "super-squash"): the files stay as they are, every earlier commit leaves the branch. Other
/// branches and tags keep their history.
pub async fn squash_branch(
    db: &Db,
    cache: &SnapshotCache,
    repo: &Repo,
    branch: &str,
    info: &CommitInfo,
    actor: &Actor,
) -> Result<Commit, CommitError> {
    let change = BranchChange {
        event: "branch.squash",
        head_key: "previous",
        detail: json!({}),
    };
    advance_branch(db, cache, repo, branch, info, actor, change, |_, base| {
        Ok((base.files.clone(), Vec::new()))
    })
    .await
}

/// Create `namespace/name` as a copy of `src` inside `tx`: every commit, branch and tag, so the
/// copy has the same history and commit ids. File contents are shared (the blob store is
/// content-addressed), so nothing is copied but metadata. Returns the new repository's id.
pub async fn duplicate(
    tx: &mut Tx,
    src: &Repo,
    namespace: &str,
    name: &str,
    private: bool,
) -> sqlx::Result<i64> {
    let id = insert_repo(tx, src.kind, namespace, name, private).await?;
    sqlx::query(
        "INSERT INTO commits (repo_id, oid, tree, parents, author, email, time, title, message, files)
         SELECT ?, oid, tree, parents, author, email, time, title, message, files FROM commits WHERE repo_id = ?
         ORDER BY rowid",
    )
    .bind(id)
    .bind(src.id)
    .execute(&mut **tx)
    .await?;
    sqlx::query(
        "INSERT INTO refs (repo_id, name, target, message)
         SELECT ?, name, target, message FROM refs WHERE repo_id = ? AND name NOT LIKE 'refs/pr/%'",
    )
    .bind(id)
    .bind(src.id)
    .execute(&mut **tx)
    .await?;
    Ok(id)
}
