//! Read-only maps of files being hashed: the one place this crate uses `unsafe`.
#![expect(
    unsafe_code,
    reason = "memory-mapping a file is unsafe: another process could change it; the maps are read-only and only hashed"
)]

use std::fs::File;

/// Map `file` (of `size` bytes) read-only for sequential reading; `None` if it cannot be mapped
/// (the caller then reads it instead).
pub(crate) fn map(file: &File, size: u64) -> Option<memmap2::Mmap> {
    if size == 0 {
        return None;
    }
    // SAFETY: the map is read-only and private to this process, and the bytes are only hashed.
    // If another process truncates the file while it is hashed, reading past the new end raises
    // SIGBUS and ends the process; a file rewritten in place yields a digest of mixed contents,
    // exactly as reading it with read() would. Model files are not expected to change while they
    // are being hashed or signed.
    let map = unsafe {
        memmap2::MmapOptions::new()
            .len(usize::try_from(size).ok()?)
            .map(file)
    }
    .ok()?;
    let _ = map.advise(memmap2::Advice::Sequential);
    Some(map)
}
