//! What every reader produces: the tensors of one file or folder (name, dtype, shape, where the
//! bytes are), its format, metadata and non-tensor values, and the files they are read from.
//! [`crate::Checkpoint`] checks and serves them.

use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use weighhouse_tensor::{DType, byte_len, num_elements};

use crate::error::{Error, FormatError, ResultExt};
use crate::mmap::Mapped;

/// The format a checkpoint (or one file of it) was read as.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Format {
    /// safetensors, one file or a sharded set.
    Safetensors,
    /// PyTorch zip archive (`torch.save`, torch ≥ 1.6).
    PytorchZip,
    /// PyTorch legacy (pre-1.6) pickle stream.
    PytorchLegacy,
    /// GGUF v2/v3.
    Gguf,
    /// NumPy `.npy`.
    Npy,
    /// NumPy `.npz`.
    Npz,
    /// TensorFlow TensorBundle checkpoint (`.index` + `.data-*`).
    TensorFlow,
    /// Legacy Keras HDF5 (`model.save("x.h5")` or `save_weights("x.h5")`).
    KerasH5,
    /// Keras 3 `.weights.h5`.
    KerasWeightsH5,
    /// Keras 3 `.keras` archive.
    Keras,
    /// ONNX model initializers.
    Onnx,
    /// A folder whose weight files are of more than one format.
    Mixed,
}

impl Format {
    /// The short name used in `--json` output.
    pub fn name(self) -> &'static str {
        match self {
            Format::Safetensors => "safetensors",
            Format::PytorchZip => "pytorch-zip",
            Format::PytorchLegacy => "pytorch-legacy",
            Format::Gguf => "gguf",
            Format::Npy => "npy",
            Format::Npz => "npz",
            Format::TensorFlow => "tensorflow",
            Format::KerasH5 => "keras-h5",
            Format::KerasWeightsH5 => "keras-weights-h5",
            Format::Keras => "keras",
            Format::Onnx => "onnx",
            Format::Mixed => "mixed",
        }
    }
}

impl std::fmt::Display for Format {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Where a tensor's bytes live.
#[derive(Debug, Clone)]
pub enum Base {
    /// In file `n` of the checkpoint (see [`crate::Checkpoint::files`]), addressed by byte offset.
    File(usize),
    /// In memory: bytes decoded when the checkpoint was opened (a deflated archive member, a
    /// protobuf typed field, a chunked HDF5 dataset).
    Owned(Arc<[u8]>),
}

/// How a tensor's elements are laid out from [`DataSource::offset`].
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Layout {
    /// Row-major and contiguous: exactly `byte_len(dtype, shape)` bytes.
    Dense,
    /// Element `i` (a multi-index) is at `offset + Σ iₖ·strides[k]` elements. Used for PyTorch
    /// views and Fortran-ordered arrays. Only for byte-sized dtypes.
    Strided(Vec<u64>),
}

/// Where and how a tensor's bytes are stored.
#[derive(Debug, Clone)]
pub struct DataSource {
    /// The buffer holding the bytes.
    pub base: Base,
    /// Byte offset of element 0 in the buffer.
    pub offset: u64,
    /// Element layout.
    pub layout: Layout,
    /// True when the stored bytes are big-endian and must be swapped to little-endian.
    pub big_endian: bool,
}

impl DataSource {
    /// Dense little-endian bytes at `offset` of file `file`.
    pub fn file(file: usize, offset: u64) -> Self {
        Self {
            base: Base::File(file),
            offset,
            layout: Layout::Dense,
            big_endian: false,
        }
    }

    /// Dense little-endian bytes held in memory.
    pub fn owned(bytes: impl Into<Arc<[u8]>>) -> Self {
        Self {
            base: Base::Owned(bytes.into()),
            offset: 0,
            layout: Layout::Dense,
            big_endian: false,
        }
    }

    /// True when the stored bytes are already row-major little-endian.
    pub fn is_plain(&self) -> bool {
        self.layout == Layout::Dense && !self.big_endian
    }
}

/// One tensor of a checkpoint.
#[derive(Debug, Clone)]
pub struct TensorView {
    /// The name, as the file spells it (nested containers joined with `.`).
    pub name: String,
    /// Element type.
    pub dtype: DType,
    /// Shape, row-major, outermost first.
    pub shape: Vec<u64>,
    /// The checkpoint file this tensor comes from (index into [`crate::Checkpoint::files`]).
    pub file: usize,
    /// Where its bytes are.
    pub source: DataSource,
}

impl TensorView {
    /// Dense size in bytes.
    pub fn byte_len(&self) -> u64 {
        byte_len(self.dtype, &self.shape).unwrap_or(0)
    }

    /// Number of elements.
    pub fn num_elements(&self) -> u64 {
        num_elements(&self.shape).unwrap_or(0)
    }

    /// What identifies the data this view reads: two views with the same key read the very same
    /// stored bytes the same way, as a tied weight does (one PyTorch storage saved under two
    /// names). Equal contents in two places are not tied.
    pub fn data_key(&self) -> DataKey {
        let base = match &self.source.base {
            Base::File(n) => (0, *n),
            // The address of the shared buffer: views of one decoded storage share it.
            Base::Owned(bytes) => (1, bytes.as_ptr() as usize),
        };
        DataKey {
            base,
            offset: self.source.offset,
            layout: self.source.layout.clone(),
            big_endian: self.source.big_endian,
            dtype: self.dtype,
            shape: self.shape.clone(),
        }
    }
}

/// See [`TensorView::data_key`].
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct DataKey {
    base: (u8, usize),
    offset: u64,
    layout: Layout,
    big_endian: bool,
    dtype: DType,
    shape: Vec<u64>,
}

/// A value found in a checkpoint that is not a tensor (an epoch number, a config string, GGUF
/// metadata is kept in [`crate::Checkpoint::metadata`] instead).
#[derive(Debug, Clone, PartialEq)]
pub struct OtherValue {
    /// Its name, joined like tensor names.
    pub name: String,
    /// Its value, rendered as JSON.
    pub value: serde_json::Value,
}

/// What a reader returns for one file: tensors whose [`Base::File`] indices refer to the files
/// opened through [`Files`] (index 0 for single-file readers working on bytes).
#[derive(Debug, Clone)]
pub struct Parsed {
    /// The format read.
    pub format: Format,
    /// Tensors, in file order.
    pub tensors: Vec<TensorView>,
    /// Format metadata (safetensors `__metadata__`, GGUF key-values, ...).
    pub metadata: serde_json::Map<String, serde_json::Value>,
    /// Non-tensor values.
    pub other: Vec<OtherValue>,
}

impl Parsed {
    /// An empty result for `format`.
    pub fn new(format: Format) -> Self {
        Self {
            format,
            tensors: Vec::new(),
            metadata: serde_json::Map::new(),
            other: Vec::new(),
        }
    }

    /// Re-point every [`Base::File`] index `i` (and [`TensorView::file`]) at `map(i)`.
    pub fn remap_files(&mut self, map: impl Fn(usize) -> usize) {
        for t in &mut self.tensors {
            t.file = map(t.file);
            if let Base::File(f) = &mut t.source.base {
                *f = map(*f);
            }
        }
    }
}

/// One opened file of a checkpoint.
#[derive(Debug)]
pub struct OpenFile {
    path: PathBuf,
    backing: Backing,
}

#[derive(Debug)]
enum Backing {
    Mapped { file: File, map: Mapped },
    Memory(Vec<u8>),
}

impl OpenFile {
    /// The open file, when its bytes are mapped from it (`None` when they are held in memory).
    pub(crate) fn mapped_file(&self) -> Option<&File> {
        match &self.backing {
            Backing::Mapped { file, .. } => Some(file),
            Backing::Memory(_) => None,
        }
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The file's bytes (memory-mapped).
    pub fn bytes(&self) -> &[u8] {
        match &self.backing {
            Backing::Mapped { map, .. } => map.bytes(),
            Backing::Memory(v) => v,
        }
    }
}

/// The files a checkpoint is made of, opened and mapped once each.
#[derive(Debug, Default)]
pub struct Files {
    pub(crate) entries: Vec<Arc<OpenFile>>,
}

impl Files {
    /// Open and map `path` (once; a second call returns the same index).
    pub fn open(&mut self, path: &Path) -> Result<usize, Error> {
        if let Some(i) = self.entries.iter().position(|f| f.path == path) {
            return Ok(i);
        }
        let file = File::open(path).at(path)?;
        if file.metadata().at(path)?.is_dir() {
            return Err(Error::new(
                path,
                FormatError::Io(io::Error::other("is a directory")),
            ));
        }
        let map = Mapped::new(&file).at(path)?;
        self.entries.push(Arc::new(OpenFile {
            path: path.to_owned(),
            backing: Backing::Mapped { file, map },
        }));
        Ok(self.entries.len() - 1)
    }

    /// Add an in-memory file (for tests and fuzzing).
    pub fn add_memory(&mut self, path: &Path, bytes: Vec<u8>) -> usize {
        self.entries.push(Arc::new(OpenFile {
            path: path.to_owned(),
            backing: Backing::Memory(bytes),
        }));
        self.entries.len() - 1
    }

    /// The bytes of file `id`.
    pub fn bytes(&self, id: usize) -> &[u8] {
        self.entries.get(id).map(|f| f.bytes()).unwrap_or(&[])
    }

    /// The path of file `id`.
    pub fn path(&self, id: usize) -> &Path {
        self.entries
            .get(id)
            .map(|f| f.path.as_path())
            .unwrap_or(Path::new(""))
    }

    /// Number of files opened.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when no file is open.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}
