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
    to_worker: Option<mpsc::Sender<Msg>>,
    worker: Option<JoinHandle<std::io::Result<Sha256>>>,
    filling: Option<Filling>,
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
/// Blocks of one direct-I/O upload (being filled, queued, hashed and written).
const BLOCKS: usize = 6;

/// A buffer whose usable part starts at an address aligned for direct I/O.
#[derive(Debug)]
struct Aligned {
    raw: memmap2::MmapMut,
    start: usize,
}

/// Huge-page size: blocks start on such a boundary so the kernel can back them with huge pages,
/// which makes pinning them for each direct write cheaper.
const HUGE: usize = 2 << 20;

impl Aligned {
    fn new() -> std::io::Result<Self> {
        let raw = memmap2::MmapOptions::new()
            .len(DIRECT_BLOCK + HUGE)
            .map_anon()?;
        let start = raw.as_ptr().align_offset(HUGE);
        let _ = raw.advise_range(memmap2::Advice::HugePage, start, DIRECT_BLOCK);
        Ok(Self { raw, start })
    }

    fn block(&mut self) -> &mut [u8] {
        &mut self.raw[self.start..self.start + DIRECT_BLOCK]
    }
}

/// What the receiving side hands the staging thread.
enum Msg {
    /// Bytes for an ordinary (buffered) file.
    Chunk(Bytes),
    /// A block for direct I/O with its length: full blocks, then one last partial block.
    Block(Aligned, usize),
}

/// Hash blocks from `rx` and have two writer threads write them with direct I/O at their
/// offsets, so that hashing and the device's writes overlap. Blocks go back to `free` once
/// written. A block's unaligned tail (only the last one has one), which direct I/O cannot write,
/// goes through `buffered` (another handle on the same file).
fn hash_and_write_direct(
    rx: &mut mpsc::Receiver<Msg>,
    hasher: &mut sha2::Sha256,
    direct: &File,
    buffered: &File,
    free: &mpsc::UnboundedSender<Aligned>,
) -> std::io::Result<()> {
    const WRITERS: usize = 2;
    let (job_tx, job_rx) = std::sync::mpsc::sync_channel::<(Aligned, u64, usize)>(WRITERS);
    let job_rx = std::sync::Mutex::new(job_rx);
    let failure: std::sync::Mutex<Option<std::io::Error>> = std::sync::Mutex::new(None);
    std::thread::scope(|scope| {
        for _ in 0..WRITERS {
            let (job_rx, failure) = (&job_rx, &failure);
            scope.spawn(move || {
                loop {
                    let job = job_rx.lock().expect("job lock").recv();
                    let Ok((mut buf, pos, len)) = job else { break };
                    let aligned = len / ALIGN * ALIGN;
                    let block = buf.block();
                    let mut result = direct.write_all_at(&block[..aligned], pos);
                    if result.is_ok() && len > aligned {
                        result = buffered.write_all_at(&block[aligned..len], pos + aligned as u64);
                    }
                    if let Err(e) = result {
                        failure.lock().expect("failure lock").get_or_insert(e);
                    }
                    // The receiving side may be gone (upload aborted): then the block is dropped.
                    let _ = free.send(buf);
                }
            });
        }
        let mut pos = 0u64;
        while let Some(msg) = rx.blocking_recv() {
            let Msg::Block(mut buf, len) = msg else {
                failure
                    .lock()
                    .expect("failure lock")
                    .get_or_insert(std::io::Error::other("unexpected chunk"));
                break;
            };
            hasher.update(&buf.block()[..len]);
            if job_tx.send((buf, pos, len)).is_err() {
                break;
            }
            pos += len as u64;
            if failure.lock().expect("failure lock").is_some() {
                break;
            }
        }
        drop(job_tx);
    });
    match failure.into_inner().expect("failure lock") {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

/// The receiving side of a direct-I/O upload: the block being filled and the free blocks.
#[derive(Debug)]
struct Filling {
    current: Option<Aligned>,
    fill: usize,
    free: mpsc::UnboundedReceiver<Aligned>,
}

impl Staging {
    pub(crate) fn create(
        dir: &Path,
        expected: Option<Sha256>,
        expected_size: Option<u64>,
    ) -> Result<Self> {
        let path = dir.join(format!("{}.part", uuid::Uuid::new_v4()));
        let mut file = File::options().write(true).create_new(true).open(&path)?;
        let (to_worker, mut rx) = mpsc::channel::<Msg>(PIPELINE_DEPTH);
        // Large uploads bypass the page cache: copying into it (and waiting for the kernel to
        // write dirty pages back) costs more CPU than the hashing. The receiving side copies the
        // body into aligned blocks, this thread hashes them, two more write them. Falls back to
        // ordinary writes where the file system has no direct I/O.
        let direct = expected_size.filter(|&n| n >= DIRECT_MIN).and_then(|_| {
            File::options()
                .write(true)
                .custom_flags(libc::O_DIRECT)
                .open(&path)
                .ok()
        });
        let mut filling = None;
        let mut free_tx = None;
        if direct.is_some() {
            let (tx, mut free) = mpsc::unbounded_channel();
            for _ in 0..BLOCKS {
                tx.send(Aligned::new()?).expect("receiver alive");
            }
            let current = free.try_recv().ok();
            filling = Some(Filling {
                current,
                fill: 0,
                free,
            });
            free_tx = Some(tx);
        }
        let worker = tokio::task::spawn_blocking(move || {
            let mut hasher = sha2::Sha256::new();
            match (direct, free_tx) {
                (Some(direct), Some(free)) => {
                    hash_and_write_direct(&mut rx, &mut hasher, &direct, &file, &free)?
                }
                _ => {
                    while let Some(msg) = rx.blocking_recv() {
                        let Msg::Chunk(chunk) = msg else {
                            return Err(std::io::Error::other("unexpected block"));
                        };
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
            filling,
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
        if self.filling.is_some() {
            return self.fill(&chunk).await;
        }
        self.send(Msg::Chunk(chunk)).await
    }

    /// Copy a chunk into aligned blocks, handing each full block to the staging thread.
    async fn fill(&mut self, mut data: &[u8]) -> Result<()> {
        while !data.is_empty() {
            let f = self.filling.as_mut().expect("direct upload");
            let Some(current) = f.current.as_mut() else {
                return Err(self.failed().await);
            };
            let n = (DIRECT_BLOCK - f.fill).min(data.len());
            current.block()[f.fill..f.fill + n].copy_from_slice(&data[..n]);
            f.fill += n;
            data = &data[n..];
            if f.fill == DIRECT_BLOCK {
                let full = f.current.take().expect("current block");
                f.fill = 0;
                // A free block comes back as soon as a writer is done with one.
                f.current = f.free.recv().await;
                self.send(Msg::Block(full, DIRECT_BLOCK)).await?;
            }
        }
        Ok(())
    }

    async fn send(&mut self, msg: Msg) -> Result<()> {
        let Some(to_worker) = &self.to_worker else {
            return Err(std::io::Error::other("staging file already finished").into());
        };
        // A closed channel means the thread stopped early; its result says why.
        if to_worker.send(msg).await.is_err() {
            return Err(self.failed().await);
        }
        Ok(())
    }

    /// The error that stopped the staging thread.
    async fn failed(&mut self) -> StoreError {
        self.stop()
            .await
            .err()
            .unwrap_or_else(|| std::io::Error::other("staging writer stopped").into())
    }

    async fn stop(&mut self) -> Result<Sha256> {
        if let Some(mut f) = self.filling.take()
            && f.fill > 0
            && let (Some(block), Some(to_worker)) = (f.current.take(), &self.to_worker)
        {
            // On failure the thread has stopped; its result below says why.
            let _ = to_worker.send(Msg::Block(block, f.fill)).await;
        }
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
