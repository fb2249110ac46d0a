//! The Weighhouse hub: a self-hosted open-weights hub that Hugging Face clients talk to.
//!
//! [`serve`] runs the HTTP server over a data folder holding the SQLite database (`hub.db`) and
//! the blob store (`blobs/`, `staging/`); [`admin`] manages accounts from the command line, on
//! the same folder, while the hub runs or not.

pub mod admin;
pub mod api;
pub mod audit;
pub mod auth;
pub mod db;
pub mod git;
pub mod names;
pub mod repo;
pub mod stats;

use std::future::Future;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use rand::RngCore;
use weighhouse_store::BlobStore;

/// Settings of a hub process.
#[derive(Debug, Clone)]
pub struct Config {
    /// Data folder.
    pub data: PathBuf,
    /// Address to listen on.
    pub listen: SocketAddr,
    /// The URL clients use (for absolute URLs in answers); by default taken from each request's
    /// `Host` (or `X-Forwarded-Host`/`X-Forwarded-Proto`) header.
    pub public_url: Option<String>,
    /// Entries per page of tree listings (commit listings use at most 50).
    pub page_size: usize,
    /// Part size offered for multipart LFS uploads; larger files use multipart when the client
    /// offers it.
    pub lfs_part_size: u64,
    /// Sync blobs to disk before acknowledging an upload.
    pub durable: bool,
}

impl Config {
    /// Defaults for a data folder.
    pub fn new(data: PathBuf, listen: SocketAddr) -> Self {
        Self {
            data,
            listen,
            public_url: None,
            page_size: 1000,
            lfs_part_size: 16 << 20,
            durable: true,
        }
    }
}

/// The database file inside a data folder.
pub fn db_path(data: &Path) -> PathBuf {
    data.join("hub.db")
}

/// Create the data folder if it is missing, readable by its owner only: it holds the database
/// (with the URL-signing key) and every file of every private repository.
pub fn create_data_dir(data: &Path) -> anyhow::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    if data.is_dir() {
        return Ok(());
    }
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(data)
        .with_context(|| format!("creating the data folder {}", data.display()))
}

/// Open (creating if needed) the database at `path`: its tables, and the audit log's older
/// records rewritten in the current form. The database files are made readable by their owner
/// only.
pub async fn open_db(path: &Path) -> anyhow::Result<db::Db> {
    let db = db::connect(path).await?;
    {
        use std::os::unix::fs::PermissionsExt;
        for suffix in ["", "-wal", "-shm"] {
            let mut p = path.as_os_str().to_owned();
            p.push(suffix);
            let p = PathBuf::from(p);
            if p.exists() {
                std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600))
                    .with_context(|| format!("making {} private to its owner", p.display()))?;
            }
        }
    }
    let mut tx = db::write(&db).await?;
    audit::migrate(&mut tx).await?;
    tx.commit().await?;
    Ok(db)
}

/// Open the state of a data folder (creating it) for serving.
pub async fn open(config: Config) -> anyhow::Result<Arc<api::App>> {
    create_data_dir(&config.data)?;
    let db = open_db(&db_path(&config.data))
        .await
        .with_context(|| format!("opening the database in {}", config.data.display()))?;
    let store = BlobStore::open_local(&config.data, config.durable)
        .with_context(|| "opening the blob store")?;
    let secret = db::setting(&db, "url_signing_key", || {
        let mut key = [0u8; 32];
        rand::rng().fill_bytes(&mut key);
        hex::encode(key)
    })
    .await?;
    let secret = hex::decode(secret).context("the stored URL signing key is not hex")?;
    let downloads = audit::Batcher::start(db.clone());
    Ok(Arc::new(api::App {
        downloads,
        download_counts: stats::Downloads::default(),
        db,
        store,
        cache: repo::SnapshotCache::default(),
        agreements: api::AgreementCache::default(),
        secret,
        config,
    }))
}

/// The router of a hub.
pub fn router(app: Arc<api::App>) -> axum::Router {
    axum::Router::new().fallback(api::dispatch).with_state(app)
}

/// What a hub that has just started knows about itself.
#[derive(Debug, Clone, Copy)]
pub struct Started {
    /// The bound address.
    pub addr: SocketAddr,
    /// How many user accounts the hub has (none on a new data folder).
    pub users: i64,
}

/// Serve until `shutdown` completes; requests in flight are finished first. `ready` is called
/// once the hub accepts connections.
pub async fn serve(
    config: Config,
    ready: impl FnOnce(Started),
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    use hyper_util::rt::{TokioExecutor, TokioIo};
    use hyper_util::server::graceful::GracefulShutdown;
    use hyper_util::service::TowerToHyperService;

    let listen = config.listen;
    let data = config.data.clone();
    let app = open(config).await?;
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("listening on {listen}"))?;
    let users: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM users")
        .fetch_one(&app.db)
        .await
        .context("counting users")?;
    ready(Started {
        addr: listener.local_addr()?,
        users,
    });
    let router = router(Arc::clone(&app));
    let anchor = tokio::spawn(keep_audit_anchor(Arc::clone(&app), data.clone()));
    let counting = tokio::spawn(keep_download_counts(Arc::clone(&app)));
    let mut builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
    // Large reads keep uploads cheap: the default buffer caps each read of a body at ~400 KiB.
    builder.http1().max_buf_size(4 << 20);
    let graceful = GracefulShutdown::new();
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let (stream, peer) = match accepted {
                    Ok(a) => a,
                    Err(e) => {
                        // Out of file descriptors and the like: wait and keep serving.
                        tracing::warn!("accepting a connection failed: {e}");
                        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let _ = stream.set_nodelay(true);
                // Handlers see the peer's address (for the audit log's personal data).
                let service = TowerToHyperService::new(
                    router
                        .clone()
                        .layer(axum::Extension(axum::extract::ConnectInfo(peer))),
                );
                let conn = builder.serve_connection_with_upgrades(TokioIo::new(stream), service).into_owned();
                let conn = graceful.watch(conn);
                tokio::spawn(async move {
                    if let Err(e) = conn.await {
                        tracing::debug!("connection ended: {e}");
                    }
                });
            }
            () = &mut shutdown => break,
        }
    }
    drop(listener);
    graceful.shutdown().await;
    anchor.abort();
    counting.abort();
    if let Err(e) = app.download_counts.flush(&app.db).await {
        tracing::warn!("writing the download counts failed: {e}");
    }
    if let Err(e) = audit::write_anchor(&app.db, &data).await {
        tracing::warn!("writing the audit anchor failed: {e:#}");
    }
    app.db.close().await;
    Ok(())
}

/// Write the download counts every [`stats::FLUSH_INTERVAL`].
async fn keep_download_counts(app: Arc<api::App>) {
    let mut tick = tokio::time::interval(stats::FLUSH_INTERVAL);
    loop {
        tick.tick().await;
        if let Err(e) = app.download_counts.flush(&app.db).await {
            tracing::warn!("writing the download counts failed: {e}");
        }
    }
}

/// How often the hub writes the audit log's last entry to `audit.head`.
const ANCHOR_INTERVAL: std::time::Duration = std::time::Duration::from_secs(2);

/// Keep the data folder's audit anchor at the log's last entry, so that entries cut off the end
/// of the log are noticed by `wh admin audit verify`.
async fn keep_audit_anchor(app: Arc<api::App>, data: PathBuf) {
    let mut written: Option<audit::Head> = None;
    let mut tick = tokio::time::interval(ANCHOR_INTERVAL);
    loop {
        tick.tick().await;
        match audit::head(&app.db).await {
            Ok(h) if h.is_some() && h != written => {
                if let Err(e) = audit::write_anchor(&app.db, &data).await {
                    tracing::warn!("writing the audit anchor failed: {e:#}");
                }
                // Tried for this head: warn once, not every tick.
                written = h;
            }
            Ok(_) => {}
            Err(e) => tracing::warn!("reading the audit log failed: {e}"),
        }
    }
}
