//! Uploads in progress: private files under the staging folder that become blobs only once their
//! size and digest are checked.

use std::fs::File;
use std::io::{Read, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use bytes::Bytes;
use sha2::Digest;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::{Result, Sha256, StoreError};

/// Chunks in flight between the network and the hashing and writing threads.
const PIPELINE_DEPTH: usize = 16;

/// A streaming upload. The body is hashed on one thread and written on another while the caller
/// keeps receiving, so the three overlap. Dropping it (an aborted upload) deletes the file.
#[derive(Debug)]
pub struct Staging {
    path: PathBuf,
    expected: Option<Sha256>,
    expected_size: Option<u64>,
    received: u64,
    to_hasher: Option<mpsc::Sender<Bytes>>,
    to_writer: Option<mpsc::Sender<Bytes>>,
    hasher: Option<JoinHandle<Sha256>>,
    writer: Option<JoinHandle<std::io::Result<()>>>,
}

/// A staging file whose size and digest are known to be right. Dropping it deletes the file;
/// [`crate::BlobStore::publish`] moves it into the store instead.
#[derive(Debug)]
pub struct Verified {
    path: PathBuf,
    /// Digest of the content.
    pub sha256: Sha256,
    /// Size of the content.
    pub size: u64,
    pub(crate) kept: bool,
}

impl Verified {
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for Verified {
    fn drop(&mut self) {
        if !self.kept {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

impl Staging {
    pub(crate) fn create(
        dir: &Path,
        expected: Option<Sha256>,
        expected_size: Option<u64>,
    ) -> Result<Self> {
        let path = dir.join(format!("{}.part", uuid::Uuid::new_v4()));
        let mut file = File::options().write(true).create_new(true).open(&path)?;
        let (to_hasher, mut hash_rx) = mpsc::channel::<Bytes>(PIPELINE_DEPTH);
        let (to_writer, mut write_rx) = mpsc::channel::<Bytes>(PIPELINE_DEPTH);
        let hasher = tokio::task::spawn_blocking(move || {
            let mut hasher = sha2::Sha256::new();
            while let Some(chunk) = hash_rx.blocking_recv() {
                hasher.update(&chunk);
            }
            Sha256(hasher.finalize().into())
        });
        let writer = tokio::task::spawn_blocking(move || {
            while let Some(chunk) = write_rx.blocking_recv() {
                file.write_all(&chunk)?;
            }
            file.flush()
        });
        Ok(Self {
            path,
            expected,
            expected_size,
            received: 0,
            to_hasher: Some(to_hasher),
            to_writer: Some(to_writer),
            hasher: Some(hasher),
            writer: Some(writer),
        })
    }

    /// Bytes received so far.
    pub fn received(&self) -> u64 {
        self.received
    }

    /// Append a chunk.
    pub async fn write(&mut self, chunk: Bytes) -> Result<()> {
        self.received += chunk.len() as u64;
        if let Some(limit) = self.expected_size
            && self.received > limit
        {
            return Err(StoreError::TooLarge(limit));
        }
        let (Some(h), Some(w)) = (&self.to_hasher, &self.to_writer) else {
            return Err(std::io::Error::other("staging file already finished").into());
        };
        // A closed channel means the thread stopped early: the writer reports why in `finish`.
        if h.send(chunk.clone()).await.is_err() || w.send(chunk).await.is_err() {
            return Err(self
                .stop()
                .await
                .err()
                .unwrap_or_else(|| std::io::Error::other("staging writer stopped").into()));
        }
        Ok(())
    }

    async fn stop(&mut self) -> Result<Sha256> {
        self.to_hasher.take();
        self.to_writer.take();
        let join = |e: tokio::task::JoinError| StoreError::Io(std::io::Error::other(e));
        let written = match self.writer.take() {
            Some(w) => w.await.map_err(join)?,
            None => Ok(()),
        };
        let sha = match self.hasher.take() {
            Some(h) => h.await.map_err(join)?,
            None => return Err(std::io::Error::other("staging file already finished").into()),
        };
        written?;
        Ok(sha)
    }

    /// Finish the upload and check it against what was announced.
    pub async fn finish(mut self) -> Result<Verified> {
        let sha = self.stop().await?;
        let size = self.received;
        if self.expected.is_some_and(|e| e != sha) || self.expected_size.is_some_and(|s| s != size)
        {
            return Err(StoreError::Mismatch {
                expected: self.expected.unwrap_or(sha),
                expected_size: self.expected_size.unwrap_or(size),
                actual: sha,
                actual_size: size,
            });
        }
        let path = std::mem::take(&mut self.path);
        Ok(Verified {
            path,
            sha256: sha,
            size,
            kept: false,
        })
    }
}

impl Drop for Staging {
    fn drop(&mut self) {
        if !self.path.as_os_str().is_empty() {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

/// A multipart upload: each part is written at its offset into one file, and the whole file is
/// hashed when the client says it is complete.
#[derive(Debug)]
pub struct MultipartStaging {
    path: PathBuf,
    size: u64,
}

impl MultipartStaging {
    pub(crate) fn open(dir: &Path, upload_id: &str, size: u64) -> Result<Self> {
        if upload_id.is_empty()
            || upload_id.len() > 64
            || !upload_id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        {
            return Err(
                std::io::Error::new(std::io::ErrorKind::InvalidInput, "bad upload id").into(),
            );
        }
        let path = dir.join(format!("mp-{upload_id}.part"));
        let file = File::options()
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)?;
        if file.metadata()?.len() != size {
            file.set_len(size)?;
        }
        Ok(Self { path, size })
    }

    /// Write one part (held in memory; parts are bounded by the chunk size the hub hands out).
    pub async fn write_part(&self, offset: u64, data: Bytes) -> Result<()> {
        let end = offset
            .checked_add(data.len() as u64)
            .ok_or(StoreError::TooLarge(self.size))?;
        if end > self.size {
            return Err(StoreError::TooLarge(self.size));
        }
        let path = self.path.clone();
        tokio::task::spawn_blocking(move || {
            let file = File::options().write(true).open(path)?;
            file.write_all_at(&data, offset)
        })
        .await
        .map_err(std::io::Error::other)??;
        Ok(())
    }

    /// Hash the assembled file and check it. On a mismatch the parts are discarded.
    pub async fn complete(self, expected: Sha256) -> Result<Verified> {
        let path = self.path.clone();
        let size = self.size;
        let sha = tokio::task::spawn_blocking(move || -> std::io::Result<Sha256> {
            let mut file = File::open(&path)?;
            let mut hasher = sha2::Sha256::new();
            let mut buf = vec![0u8; 1 << 20];
            loop {
                let n = file.read(&mut buf)?;
                if n == 0 {
                    break;
                }
                hasher.update(&buf[..n]);
            }
            Ok(Sha256(hasher.finalize().into()))
        })
        .await
        .map_err(std::io::Error::other)??;
        let verified = Verified {
            path: self.path,
            sha256: sha,
            size,
            kept: false,
        };
        if sha != expected {
            return Err(StoreError::Mismatch {
                expected,
                expected_size: size,
                actual: sha,
                actual_size: size,
            });
        }
        Ok(verified)
    }

    /// Throw the parts away.
    pub fn abort(self) {
        let _ = std::fs::remove_file(&self.path);
    }
}
