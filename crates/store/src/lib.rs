//! Content-addressed blob storage for the hub.
//!
//! Every file body is stored once, under the SHA-256 of its bytes, as `sha256/ab/cd/<hex>` in an
//! [`object_store`] backend: a local folder by default, memory in tests, any object store later.
//!
//! Bytes never become visible before they are checked: an upload is written to a private staging
//! file while it is hashed (on another thread, so hashing keeps pace with the network), and only
//! when its size and digest match what the client announced is it published under its digest
//! (a rename on local disk, an upload to an object store otherwise). A mismatch deletes the staging
//! file; a crash leaves only staging files, which [`BlobStore::open_local`] removes at start.

mod digest;
mod local;
mod staging;

use std::ops::Range;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;

use bytes::Bytes;
use futures_util::{Stream, StreamExt, TryStreamExt};
use object_store::path::Path as ObjectPath;
use object_store::{GetOptions, GetRange, ObjectStore, ObjectStoreExt, PutPayload};

pub use digest::Sha256;
pub use staging::{MultipartStaging, Staging};

/// What can go wrong in the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The uploaded bytes are not what the client announced; nothing was kept.
    #[error(
        "uploaded content does not match: expected {expected_size} bytes with SHA-256 {expected}, got {actual_size} bytes with SHA-256 {actual}"
    )]
    Mismatch {
        /// Announced digest.
        expected: Sha256,
        /// Announced size.
        expected_size: u64,
        /// Digest of what arrived.
        actual: Sha256,
        /// Size of what arrived.
        actual_size: u64,
    },
    /// A write went past the announced size.
    #[error("upload is larger than the announced {0} bytes")]
    TooLarge(u64),
    /// The blob does not exist.
    #[error("blob {0} not found")]
    NotFound(Sha256),
    /// A local file system error.
    #[error(transparent)]
    Io(#[from] std::io::Error),
    /// An object store error.
    #[error(transparent)]
    Object(#[from] object_store::Error),
}

/// A result with [`StoreError`].
pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// A stream of body chunks.
pub type ByteStream = Pin<Box<dyn Stream<Item = std::io::Result<Bytes>> + Send>>;

/// The blob store: where bytes live, plus a local staging folder for uploads in progress.
#[derive(Debug, Clone)]
pub struct BlobStore {
    backend: Backend,
    staging: PathBuf,
    durable: bool,
}

#[derive(Debug, Clone)]
enum Backend {
    /// Files under a local folder, served straight from disk.
    Local(Arc<local::LocalBlobs>),
    /// Any object store (memory in tests; S3 and others).
    Object(Arc<dyn ObjectStore>),
}

/// A readable blob: its size and a way to stream any byte range of it.
#[derive(Debug)]
pub struct Blob {
    size: u64,
    source: BlobSource,
}

#[derive(Debug)]
enum BlobSource {
    Local(local::LocalBlob),
    Object(Arc<dyn ObjectStore>, ObjectPath),
}

impl BlobStore {
    /// A store keeping blobs under `dir/blobs` and uploads in progress under `dir/staging`.
    /// Leftover staging files (from a crash) are removed. With `durable`, each blob is synced to
    /// disk before it is published, so an acknowledged upload survives a power loss.
    pub fn open_local(dir: &Path, durable: bool) -> Result<Self> {
        let staging = dir.join("staging");
        clear_staging(&staging)?;
        let blobs = local::LocalBlobs::new(&dir.join("blobs"))?;
        Ok(Self {
            backend: Backend::Local(Arc::new(blobs)),
            staging,
            durable,
        })
    }

    /// A store over any [`ObjectStore`]; uploads are staged in `staging` first.
    pub fn with_object_store(store: Arc<dyn ObjectStore>, staging: &Path) -> Result<Self> {
        clear_staging(staging)?;
        Ok(Self {
            backend: Backend::Object(store),
            staging: staging.to_path_buf(),
            durable: false,
        })
    }

    /// The size of a stored blob, if it exists.
    pub async fn size(&self, sha: &Sha256) -> Result<Option<u64>> {
        match &self.backend {
            Backend::Local(local) => Ok(local.size(sha)?),
            Backend::Object(store) => match store.head(&object_key(sha)).await {
                Ok(meta) => Ok(Some(meta.size)),
                Err(object_store::Error::NotFound { .. }) => Ok(None),
                Err(e) => Err(e.into()),
            },
        }
    }

    /// Start an upload of `expected_size` bytes that should hash to `expected` (when known).
    pub fn stage(&self, expected: Option<Sha256>, expected_size: Option<u64>) -> Result<Staging> {
        Staging::create(&self.staging, expected, expected_size)
    }

    /// Start (or continue) a multipart upload: parts are written at their offsets into one
    /// staging file named after `upload_id`.
    pub fn stage_multipart(&self, upload_id: &str, size: u64) -> Result<MultipartStaging> {
        MultipartStaging::open(&self.staging, upload_id, size)
    }

    /// Store small bytes held in memory (regular files of a commit) and return their digest.
    pub async fn put_bytes(&self, data: Bytes) -> Result<Sha256> {
        let sha = Sha256::of(&data);
        if self.size(&sha).await?.is_some() {
            return Ok(sha);
        }
        let mut staging = self.stage(Some(sha), Some(data.len() as u64))?;
        staging.write(data).await?;
        let staged = staging.finish().await?;
        self.publish(staged).await?;
        Ok(sha)
    }

    /// Make a verified staging file visible under its digest.
    pub async fn publish(&self, staged: staging::Verified) -> Result<Sha256> {
        let sha = staged.sha256;
        match &self.backend {
            Backend::Local(local) => {
                let local = Arc::clone(local);
                let durable = self.durable;
                tokio::task::spawn_blocking(move || local.publish(staged, durable))
                    .await
                    .map_err(std::io::Error::other)??;
            }
            Backend::Object(store) => {
                let key = object_key(&sha);
                let path = staged.path().to_path_buf();
                let data = tokio::fs::read(&path).await?;
                store.put(&key, PutPayload::from(data)).await?;
                drop(staged);
            }
        }
        Ok(sha)
    }

    /// Open a blob for reading.
    pub async fn open(&self, sha: &Sha256) -> Result<Blob> {
        match &self.backend {
            Backend::Local(local) => {
                let local = Arc::clone(local);
                let sha = *sha;
                let blob = tokio::task::spawn_blocking(move || local.open(&sha))
                    .await
                    .map_err(std::io::Error::other)??;
                Ok(Blob {
                    size: blob.len(),
                    source: BlobSource::Local(blob),
                })
            }
            Backend::Object(store) => {
                let key = object_key(sha);
                let meta = match store.head(&key).await {
                    Ok(meta) => meta,
                    Err(object_store::Error::NotFound { .. }) => {
                        return Err(StoreError::NotFound(*sha));
                    }
                    Err(e) => return Err(e.into()),
                };
                Ok(Blob {
                    size: meta.size,
                    source: BlobSource::Object(Arc::clone(store), key),
                })
            }
        }
    }

    /// Read a whole (small) blob into memory.
    pub async fn read_all(&self, sha: &Sha256, limit: u64) -> Result<Bytes> {
        let blob = self.open(sha).await?;
        if blob.size() > limit {
            return Err(StoreError::TooLarge(limit));
        }
        let mut out = Vec::with_capacity(blob.size() as usize);
        let size = blob.size();
        let mut stream = blob.stream(0..size);
        while let Some(chunk) = stream.next().await {
            out.extend_from_slice(&chunk?);
        }
        Ok(Bytes::from(out))
    }

    /// Delete a blob (garbage collection; never called on a path reachable from a commit).
    pub async fn delete(&self, sha: &Sha256) -> Result<()> {
        match &self.backend {
            Backend::Local(local) => Ok(local.delete(sha)?),
            Backend::Object(store) => match store.delete(&object_key(sha)).await {
                Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
                Err(e) => Err(e.into()),
            },
        }
    }
}

impl Blob {
    /// Size in bytes.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Stream `range` (already clamped to the blob) as chunks.
    pub fn stream(self, range: Range<u64>) -> ByteStream {
        if range.is_empty() {
            return Box::pin(futures_util::stream::empty());
        }
        match self.source {
            BlobSource::Local(blob) => Box::pin(blob.stream(range)),
            BlobSource::Object(store, key) => {
                let stream = async move {
                    let options = GetOptions {
                        range: Some(GetRange::Bounded(range)),
                        ..GetOptions::default()
                    };
                    let result = store
                        .get_opts(&key, options)
                        .await
                        .map_err(std::io::Error::other)?;
                    Ok::<_, std::io::Error>(result.into_stream().map_err(std::io::Error::other))
                };
                Box::pin(futures_util::stream::once(stream).try_flatten())
            }
        }
    }
}

/// `sha256/ab/cd/<hex>`: two levels of fan-out keep folders small on local disk.
fn object_key(sha: &Sha256) -> ObjectPath {
    ObjectPath::from(relative_key(sha))
}

fn relative_key(sha: &Sha256) -> String {
    let hex = sha.to_string();
    format!("sha256/{}/{}/{}", &hex[..2], &hex[2..4], hex)
}

fn clear_staging(dir: &Path) -> Result<()> {
    match std::fs::remove_dir_all(dir) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e.into()),
    }
    std::fs::create_dir_all(dir)?;
    Ok(())
}

#[cfg(test)]
mod tests;
