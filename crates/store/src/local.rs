//! Blobs as files under a local folder.
//!
//! Reads map the file and hand out slices of the mapping as body chunks, so a download is copied
//! once, from the page cache into the socket, as with `sendfile`.
#![expect(
    unsafe_code,
    reason = "downloads are served from memory maps of immutable, content-addressed blob files"
)]

use std::fs::File;
use std::io::Read as _;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use bytes::Bytes;
use futures_util::Stream;
use memmap2::{Advice, Mmap};

use crate::staging::Verified;
use crate::{Sha256, StoreError, relative_key};

/// Body chunk size: large chunks keep the per-chunk overhead of the server small.
const CHUNK: u64 = 4 << 20;
/// Blobs up to this size are read, not mapped.
const SMALL: u64 = 256 << 10;

#[derive(Debug)]
pub(crate) struct LocalBlobs {
    root: PathBuf,
}

impl LocalBlobs {
    pub(crate) fn new(root: &Path) -> std::io::Result<Self> {
        std::fs::create_dir_all(root)?;
        Ok(Self {
            root: root.to_path_buf(),
        })
    }

    fn path(&self, sha: &Sha256) -> PathBuf {
        self.root.join(relative_key(sha))
    }

    pub(crate) fn size(&self, sha: &Sha256) -> std::io::Result<Option<u64>> {
        match std::fs::metadata(self.path(sha)) {
            Ok(meta) => Ok(Some(meta.len())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Move a verified staging file into place. The rename is atomic, so the blob appears whole
    /// or not at all; with `durable` the bytes and the folder entry reach the disk first.
    pub(crate) fn publish(&self, mut staged: Verified, durable: bool) -> std::io::Result<()> {
        let target = self.path(&staged.sha256);
        let dir = target.parent().expect("blob paths have a parent");
        std::fs::create_dir_all(dir)?;
        if durable {
            File::open(staged.path())?.sync_all()?;
        }
        // Same digest, same bytes: an existing blob is simply kept.
        std::fs::rename(staged.path(), &target)?;
        staged.kept = true;
        if durable {
            File::open(dir)?.sync_all()?;
        }
        Ok(())
    }

    pub(crate) fn open(&self, sha: &Sha256) -> Result<LocalBlob, StoreError> {
        let file = match File::open(self.path(sha)) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(StoreError::NotFound(*sha));
            }
            Err(e) => return Err(e.into()),
        };
        let len = file.metadata()?.len();
        if len <= SMALL {
            // Small files: one read is cheaper than setting up and tearing down a mapping.
            let mut data = Vec::with_capacity(len as usize);
            std::io::Read::read_to_end(&mut (&file).take(len), &mut data)?;
            if data.len() as u64 != len {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::UnexpectedEof,
                    "blob shorter than its size",
                )
                .into());
            }
            return Ok(LocalBlob {
                map: None,
                small: Bytes::from(data),
                len,
            });
        }
        // SAFETY: blobs are immutable once published: they are written only through a staging
        // file that is renamed into place, never opened for writing again, and removed only by
        // unlinking (which keeps an existing mapping valid). Nothing in this program truncates
        // them; a person truncating files inside the data folder by hand is outside the contract.
        let map = unsafe { Mmap::map(&file)? };
        let _ = map.advise(Advice::Sequential);
        Ok(LocalBlob {
            map: Some(Arc::new(map)),
            small: Bytes::new(),
            len,
        })
    }

    pub(crate) fn delete(&self, sha: &Sha256) -> std::io::Result<()> {
        match std::fs::remove_file(self.path(sha)) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(e),
        }
    }
}

/// An open local blob.
#[derive(Debug)]
pub(crate) struct LocalBlob {
    map: Option<Arc<Mmap>>,
    small: Bytes,
    len: u64,
}

/// A slice of a mapping that owns a reference to it, so a chunk outlives the reader.
struct MapSlice {
    map: Arc<Mmap>,
    range: Range<usize>,
}

impl AsRef<[u8]> for MapSlice {
    fn as_ref(&self) -> &[u8] {
        &self.map[self.range.clone()]
    }
}

impl LocalBlob {
    pub(crate) fn len(&self) -> u64 {
        self.len
    }

    pub(crate) fn stream(
        self,
        range: Range<u64>,
    ) -> impl Stream<Item = std::io::Result<Bytes>> + Send {
        let end = range.end.min(self.len);
        let map = self.map;
        let small = self.small;
        futures_util::stream::unfold(range.start, move |pos| {
            let map = map.clone();
            let small = small.clone();
            async move {
                if pos >= end {
                    return None;
                }
                let next = (pos + CHUNK).min(end);
                let Some(map) = map else {
                    return Some((Ok(small.slice(pos as usize..next as usize)), next));
                };
                let slice = MapSlice {
                    map,
                    range: pos as usize..next as usize,
                };
                Some((Ok(Bytes::from_owner(slice)), next))
            }
        })
    }
}
