//! Uploads in progress: private files under the staging folder that become blobs only once their
//! size and digest are checked.

use std::fs::File;
use std::io::{Read, Write};
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use bytes::Bytes;
use sha2::Digest;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::{Result, Sha256, StoreError};

/// Chunks in flight between the network and the staging thread.
const PIPELINE_DEPTH: usize = 32;

/// A streaming upload. The body is hashed and written on a thread of its own while the caller
/// keeps receiving, so receiving, hashing and the disk's writes overlap. Dropping it (an aborted
/// upload) deletes the file.
#[derive(Debug)]
pub struct Staging {
    path: PathBuf,
    expected: Option<Sha256>,
    expected_size: Option<u64>,
    received: u64,
    to_worker: Option<mpsc::Sender<Bytes>>,
    worker: Option<JoinHandle<std::io::Result<Sha256>>>,
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

/// Uploads at least this large are written with direct I/O.
const DIRECT_MIN: u64 = 8 << 20;
/// Direct I/O block: offsets, lengths and buffer addresses are multiples of this.
const ALIGN: usize = 4096;
/// Bytes gathered before each direct write.
const DIRECT_BLOCK: usize = 4 << 20;

/// A buffer whose usable part starts at an address aligned for direct I/O.
struct Aligned {
    raw: Vec<u8>,
    start: usize,
}

impl Aligned {
    fn new() -> Self {
        let raw = vec![0u8; DIRECT_BLOCK + ALIGN];
        let start = raw.as_ptr().align_offset(ALIGN);
        Self { raw, start }
    }

    fn block(&mut self) -> &mut [u8] {
        &mut self.raw[self.start..self.start + DIRECT_BLOCK]
    }
}

/// Hash the chunks from `rx` and write them with direct I/O in aligned blocks. This thread hashes
/// and gathers chunks into blocks while two others write full blocks at their offsets, so hashing
/// and the device's writes overlap. The last partial block, which direct I/O cannot write, goes through
/// `buffered` (another handle on the same file).
fn write_direct(
    rx: &mut mpsc::Receiver<Bytes>,
    hasher: &mut sha2::Sha256,
    direct: &File,
    buffered: &File,
) -> std::io::Result<()> {
    const WRITERS: usize = 2;
    let (job_tx, job_rx) = std::sync::mpsc::sync_channel::<(Aligned, u64)>(WRITERS);
    let job_rx = std::sync::Mutex::new(job_rx);
    let (free_tx, free_rx) = std::sync::mpsc::channel::<Aligned>();
    for _ in 0..WRITERS + 2 {
        free_tx.send(Aligned::new()).expect("receiver alive");
    }
    let failure: std::sync::Mutex<Option<std::io::Error>> = std::sync::Mutex::new(None);
    std::thread::scope(|scope| -> std::io::Result<()> {
        for _ in 0..WRITERS {
            let free_tx = free_tx.clone();
            let (job_rx, failure) = (&job_rx, &failure);
            scope.spawn(move || {
                loop {
                    let job = job_rx.lock().expect("job lock").recv();
                    let Ok((mut buf, pos)) = job else { break };
                    if let Err(e) = direct.write_all_at(buf.block(), pos) {
                        failure.lock().expect("failure lock").get_or_insert(e);
                    }
                    if free_tx.send(buf).is_err() {
                        break;
                    }
                }
            });
        }
        drop(free_tx);
        let mut current = free_rx.recv().map_err(std::io::Error::other)?;
        let mut fill = 0usize;
        let mut pos = 0u64;
        while let Some(chunk) = rx.blocking_recv() {
            // Hash, then copy while the chunk is still in the cache.
            hasher.update(&chunk);
            let mut data = &chunk[..];
            while !data.is_empty() {
                let n = (DIRECT_BLOCK - fill).min(data.len());
                current.block()[fill..fill + n].copy_from_slice(&data[..n]);
                fill += n;
                data = &data[n..];
                if fill == DIRECT_BLOCK {
                    let next = free_rx.recv().map_err(std::io::Error::other)?;
                    job_tx
                        .send((std::mem::replace(&mut current, next), pos))
                        .map_err(std::io::Error::other)?;
                    pos += DIRECT_BLOCK as u64;
                    fill = 0;
                }
            }
            if failure.lock().expect("failure lock").is_some() {
                break;
            }
        }
        drop(job_tx);
        let aligned = fill / ALIGN * ALIGN;
        if aligned > 0 {
            direct.write_all_at(&current.block()[..aligned], pos)?;
            pos += aligned as u64;
        }
        if fill > aligned {
            buffered.write_all_at(&current.block()[aligned..fill], pos)?;
        }
        Ok(())
    })?;
    match failure.into_inner().expect("failure lock") {
        Some(e) => Err(e),
        None => Ok(()),
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
        let (to_worker, mut rx) = mpsc::channel::<Bytes>(PIPELINE_DEPTH);
        // Large uploads bypass the page cache: copying into it (and waiting for the kernel to
        // write dirty pages back) costs more CPU than the hashing. Falls back to ordinary writes
        // where the file system has no direct I/O.
        let direct = expected_size.filter(|&n| n >= DIRECT_MIN).and_then(|_| {
            File::options()
                .write(true)
                .custom_flags(libc::O_DIRECT)
                .open(&path)
                .ok()
        });
        let worker = tokio::task::spawn_blocking(move || {
            let mut hasher = sha2::Sha256::new();
            match direct {
                Some(direct) => write_direct(&mut rx, &mut hasher, &direct, &file)?,
                None => {
                    while let Some(chunk) = rx.blocking_recv() {
                        hasher.update(&chunk);
                        file.write_all(&chunk)?;
                    }
                    file.flush()?;
                }
            }
            Ok(Sha256(hasher.finalize().into()))
        });
        Ok(Self {
            path,
            expected,
            expected_size,
            received: 0,
            to_worker: Some(to_worker),
            worker: Some(worker),
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
        let Some(to_worker) = &self.to_worker else {
            return Err(std::io::Error::other("staging file already finished").into());
        };
        // A closed channel means the thread stopped early; its result says why.
        if to_worker.send(chunk).await.is_err() {
            return Err(self
                .stop()
                .await
                .err()
                .unwrap_or_else(|| std::io::Error::other("staging writer stopped").into()));
        }
        Ok(())
    }

    async fn stop(&mut self) -> Result<Sha256> {
        self.to_worker.take();
        let Some(worker) = self.worker.take() else {
            return Err(std::io::Error::other("staging file already finished").into());
        };
        Ok(worker.await.map_err(std::io::Error::other)??)
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
