//! HDF5 storage over a borrowed byte slice. The HDF5 reader only accepts storage it can own
//! (`'static`), while readers here get the caller's mapped bytes for the length of one call, so a
//! scoped thread serves byte ranges of the slice over a channel instead of copying the file.

use std::sync::{Arc, Mutex, PoisonError, mpsc};

use hdf5_reader::error::Error as H5Error;
use hdf5_reader::storage::{BlockCacheStorage, BytesStorage, DynStorage, RangeRequestStorage};

/// Block size and count of the cache in front of the serving thread (at most 16 MiB held).
const BLOCK_BYTES: usize = 16 << 10;
const CACHED_BLOCKS: usize = 1024;

/// One range read, answered on `reply`.
struct Request {
    offset: u64,
    len: usize,
    reply: mpsc::SyncSender<Result<Vec<u8>, H5Error>>,
}

type SharedSender = Arc<Mutex<Option<mpsc::Sender<Request>>>>;

/// Drops the last sender when the caller's work ends (normally or by unwinding), so the serving
/// thread always stops even if the HDF5 reader kept a handle on the storage.
struct CloseOnDrop(SharedSender);

impl Drop for CloseOnDrop {
    fn drop(&mut self) {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).take();
    }
}

fn closed() -> H5Error {
    H5Error::Other("the byte range server has stopped".into())
}

/// Bytes `offset..offset + len` of `bytes`, copied (metadata blocks and compressed chunks are
/// small; contiguous tensor data is never read through this path).
fn serve(bytes: &[u8], offset: u64, len: usize) -> Result<Vec<u8>, H5Error> {
    let eof = || H5Error::UnexpectedEof {
        offset,
        needed: len as u64,
        available: (bytes.len() as u64).saturating_sub(offset),
    };
    let start = usize::try_from(offset).map_err(|_| eof())?;
    let end = start.checked_add(len).ok_or_else(eof)?;
    bytes.get(start..end).map(<[u8]>::to_vec).ok_or_else(eof)
}

/// Run `f` with HDF5 storage whose reads are served from `bytes`, without copying the slice
/// (unless no thread can be started: then from a copy).
pub(super) fn with_borrowed<R>(bytes: &[u8], f: impl FnOnce(DynStorage) -> R) -> R {
    std::thread::scope(|scope| {
        let (tx, rx) = mpsc::channel::<Request>();
        let server = std::thread::Builder::new()
            .name("hdf5-ranges".into())
            .spawn_scoped(scope, move || {
                for req in rx {
                    // The requester may have given up; nothing to do then.
                    let _ = req.reply.send(serve(bytes, req.offset, req.len));
                }
            });
        if server.is_err() {
            return f(Arc::new(BytesStorage::new(bytes.to_vec())));
        }
        let shared: SharedSender = Arc::new(Mutex::new(Some(tx)));
        let _close = CloseOnDrop(Arc::clone(&shared));
        let storage = RangeRequestStorage::new(bytes.len() as u64, move |offset, len| {
            let sender = shared
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .clone()
                .ok_or_else(closed)?;
            let (reply, answer) = mpsc::sync_channel(1);
            sender
                .send(Request { offset, len, reply })
                .map_err(|_| closed())?;
            drop(sender);
            answer.recv().map_err(|_| closed())?
        });
        // HDF5 metadata is read in many small pieces that cluster: fetching whole blocks saves
        // most of the round trips to the serving thread.
        f(Arc::new(BlockCacheStorage::new(
            Arc::new(storage),
            BLOCK_BYTES,
            CACHED_BLOCKS,
        )))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serves_ranges_and_refuses_reads_past_the_end() {
        let bytes: Vec<u8> = (0u8..32).collect();
        with_borrowed(&bytes, |s| {
            assert_eq!(s.len(), 32);
            assert_eq!(&*s.read_range(4, 3).expect("range"), &[4, 5, 6]);
            assert!(s.read_range(30, 3).is_err());
            assert!(s.read_range(u64::MAX, 1).is_err());
        });
    }

    #[test]
    fn a_storage_kept_after_the_call_fails_instead_of_hanging() {
        let bytes = vec![1u8; 8];
        let kept = with_borrowed(&bytes, |s| s);
        assert!(kept.read_range(0, 1).is_err());
    }
}
