//! Read-only memory maps of checkpoint files: the one place this crate uses `unsafe`.

#![expect(
    unsafe_code,
    reason = "memory-mapping a file is unsafe by contract; audited here"
)]

use std::fs::File;
use std::io;

/// A file mapped read-only into memory, or its bytes when the file is empty.
#[derive(Debug)]
pub(crate) struct Mapped {
    map: Option<memmap2::Mmap>,
}

impl Mapped {
    /// Map `file` read-only.
    pub(crate) fn new(file: &File) -> io::Result<Self> {
        if file.metadata()?.len() == 0 {
            // An empty file cannot be mapped on every platform.
            return Ok(Self { map: None });
        }
        // SAFETY: the map is read-only and private to this process. Another process truncating or
        // rewriting the file while it is mapped could change or remove the bytes we read (a SIGBUS on
        // truncation); every reader treats the bytes as untrusted input and bounds-checks each access,
        // so changed contents can only produce a parse error, never undefined behaviour in our code.
        // Checkpoint files are not expected to be modified while they are being read.
        let map = unsafe { memmap2::MmapOptions::new().map(file)? };
        Ok(Self { map: Some(map) })
    }

    /// The mapped bytes.
    pub(crate) fn bytes(&self) -> &[u8] {
        self.map.as_deref().unwrap_or(&[])
    }
}
