//! The one view every reader produces: a list of tensors, each with its dtype, shape and where its
//! bytes are, plus format metadata and any non-tensor values found in the file.

use std::borrow::Cow;
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use weighhouse_tensor::{DType, Limits, byte_len, num_elements};

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
    /// In file `n` of the checkpoint (see [`Checkpoint::files`]), addressed by byte offset.
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
    /// The checkpoint file this tensor comes from (index into [`Checkpoint::files`]).
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
/// metadata is kept in [`Checkpoint::metadata`] instead).
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
    entries: Vec<Arc<OpenFile>>,
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

/// A checkpoint: one file, a sharded set or a model folder, read as one list of tensors.
#[derive(Debug)]
pub struct Checkpoint {
    /// The path it was opened from.
    pub path: PathBuf,
    /// Its format.
    pub format: Format,
    /// Its tensors, in file order (shards in index order).
    pub tensors: Vec<TensorView>,
    /// Format metadata.
    pub metadata: serde_json::Map<String, serde_json::Value>,
    /// Non-tensor values.
    pub other: Vec<OtherValue>,
    files: Vec<Arc<OpenFile>>,
}

impl Checkpoint {
    /// Open the checkpoint at `path` (a file, a folder, a sharded index or a TensorFlow prefix),
    /// with default limits.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, Error> {
        Self::open_with(path.as_ref(), &Limits::default())
    }

    /// Open the checkpoint at `path` under `limits`.
    pub fn open_with(path: &Path, limits: &Limits) -> Result<Self, Error> {
        let mut files = Files::default();
        let parsed = crate::sniff::open_any(&mut files, path, limits)?;
        Self::assemble(path, files, parsed)
    }

    /// Read a single-file checkpoint held in memory (for tests and fuzzing): recognise its
    /// format, parse it, and check every tensor's extent, exactly as for a file on disk.
    pub fn from_bytes(name: &str, bytes: Vec<u8>, limits: &Limits) -> Result<Self, Error> {
        let mut files = Files::default();
        let path = Path::new(name);
        let id = files.add_memory(path, bytes);
        let parsed = crate::sniff::open_file(&mut files, id, limits)?;
        Self::assemble(path, files, parsed)
    }

    /// Like [`Checkpoint::from_bytes`], but parse with the given single-file reader instead of
    /// recognising the format (each fuzz target drives one reader this way).
    pub fn from_bytes_with(
        name: &str,
        bytes: Vec<u8>,
        limits: &Limits,
        parse: fn(&[u8], &Limits) -> Result<Parsed, FormatError>,
    ) -> Result<Self, Error> {
        let mut files = Files::default();
        let path = Path::new(name);
        let id = files.add_memory(path, bytes);
        let mut parsed = parse(files.bytes(id), limits).at(path)?;
        parsed.remap_files(|_| id);
        Self::assemble(path, files, parsed)
    }

    /// Validate a reader's result against the files and build the checkpoint.
    pub(crate) fn assemble(path: &Path, files: Files, parsed: Parsed) -> Result<Self, Error> {
        let mut seen = std::collections::HashSet::with_capacity(parsed.tensors.len());
        for t in &parsed.tensors {
            let at = files
                .entries
                .get(t.file)
                .map(|f| f.path.clone())
                .unwrap_or_else(|| path.to_owned());
            if !seen.insert(t.name.as_str()) {
                return Err(Error::new(at, FormatError::DuplicateTensor(t.name.clone())));
            }
            let available = match &t.source.base {
                Base::File(i) => files.bytes(*i).len() as u64,
                Base::Owned(b) => b.len() as u64,
            };
            check_extent(t, available).at(&at)?;
        }
        Ok(Self {
            path: path.to_owned(),
            format: parsed.format,
            tensors: parsed.tensors,
            metadata: parsed.metadata,
            other: parsed.other,
            files: files.entries,
        })
    }

    /// The paths of the files this checkpoint was read from.
    pub fn files(&self) -> impl Iterator<Item = &Path> {
        self.files.iter().map(|f| f.path.as_path())
    }

    /// The path of the file `t` comes from.
    pub fn file_of(&self, t: &TensorView) -> &Path {
        self.files
            .get(t.file)
            .map(|f| f.path.as_path())
            .unwrap_or(self.path.as_path())
    }

    /// Total number of elements over all tensors.
    pub fn parameters(&self) -> u64 {
        self.tensors.iter().map(|t| t.num_elements()).sum()
    }

    /// The tensor called `name`.
    pub fn get(&self, name: &str) -> Option<&TensorView> {
        self.tensors.iter().find(|t| t.name == name)
    }

    fn buffer<'a>(&'a self, base: &'a Base) -> &'a [u8] {
        match base {
            Base::File(i) => self.files.get(*i).map(|f| f.bytes()).unwrap_or(&[]),
            Base::Owned(b) => b,
        }
    }

    /// The tensor's bytes in row-major, contiguous, little-endian order: borrowed from the file
    /// map when stored that way, gathered into memory otherwise.
    pub fn tensor_bytes<'a>(&'a self, t: &'a TensorView) -> Result<Cow<'a, [u8]>, Error> {
        let buf = self.buffer(&t.source.base);
        let len = t.byte_len();
        if t.source.is_plain() {
            let start = usize::try_from(t.source.offset).unwrap_or(usize::MAX);
            let end = start.saturating_add(usize::try_from(len).unwrap_or(usize::MAX));
            return buf.get(start..end).map(Cow::Borrowed).ok_or_else(|| {
                Error::new(
                    self.file_of(t),
                    FormatError::OutOfBounds {
                        tensor: t.name.clone(),
                        start: start as u64,
                        end: end as u64,
                        available: buf.len() as u64,
                    },
                )
            });
        }
        let mut out = Vec::with_capacity(usize::try_from(len).unwrap_or(0));
        gather(t, buf, &mut out).at(self.file_of(t))?;
        Ok(Cow::Owned(out))
    }

    /// Write the tensor's row-major little-endian bytes to `out`, streaming: dense tensors are
    /// copied from the file with bounded memory (not through the map), others gathered.
    pub fn copy_tensor_to<W: Write>(&self, t: &TensorView, out: &mut W) -> Result<u64, Error> {
        let len = t.byte_len();
        if let (true, Base::File(i)) = (t.source.is_plain(), &t.source.base) {
            let f = self.files.get(*i).ok_or_else(|| {
                Error::new(
                    &self.path,
                    FormatError::malformed("checkpoint", "bad file index"),
                )
            })?;
            let mut src = match &f.backing {
                Backing::Mapped { file, .. } => file,
                Backing::Memory(v) => {
                    let bytes = self.tensor_bytes(t)?;
                    debug_assert!(v.len() as u64 >= len);
                    out.write_all(&bytes).at(&f.path)?;
                    return Ok(len);
                }
            };
            src.seek(SeekFrom::Start(t.source.offset)).at(&f.path)?;
            let n = io::copy(&mut src.take(len), out).at(&f.path)?;
            if n != len {
                return Err(Error::new(
                    &f.path,
                    FormatError::malformed(
                        "checkpoint",
                        format!("tensor {:?} is truncated", t.name),
                    ),
                ));
            }
            return Ok(n);
        }
        let bytes = self.tensor_bytes(t)?;
        out.write_all(&bytes).at(self.file_of(t))?;
        Ok(bytes.len() as u64)
    }
}

/// Check that every byte `t` addresses lies within `available` bytes.
fn check_extent(t: &TensorView, available: u64) -> Result<(), FormatError> {
    let len = byte_len(t.dtype, &t.shape).map_err(|source| FormatError::Shape {
        tensor: t.name.clone(),
        source,
    })?;
    let oob = |end: u64| FormatError::OutOfBounds {
        tensor: t.name.clone(),
        start: t.source.offset,
        end,
        available,
    };
    let span = match &t.source.layout {
        Layout::Dense => len,
        Layout::Strided(strides) => {
            let esize = t.dtype.size_bytes().ok_or_else(|| {
                FormatError::unsupported("checkpoint", format!("strided {} tensor", t.dtype))
            })? as u64;
            if strides.len() != t.shape.len() {
                return Err(FormatError::malformed(
                    "checkpoint",
                    format!(
                        "tensor {:?}: {} strides for {} dimensions",
                        t.name,
                        strides.len(),
                        t.shape.len()
                    ),
                ));
            }
            if len == 0 {
                0
            } else {
                // Highest element index reached: Σ (size_k − 1)·stride_k.
                let mut last = 0u64;
                for (&d, &s) in t.shape.iter().zip(strides) {
                    last = (d - 1)
                        .checked_mul(s)
                        .and_then(|x| x.checked_add(last))
                        .ok_or_else(|| oob(u64::MAX))?;
                }
                last.checked_add(1)
                    .and_then(|n| n.checked_mul(esize))
                    .ok_or_else(|| oob(u64::MAX))?
            }
        }
    };
    let end = t
        .source
        .offset
        .checked_add(span)
        .ok_or_else(|| oob(u64::MAX))?;
    if end > available {
        return Err(oob(end));
    }
    Ok(())
}

/// Gather a strided and/or big-endian tensor from `buf` into `out` as row-major little-endian.
fn gather(t: &TensorView, buf: &[u8], out: &mut Vec<u8>) -> Result<(), FormatError> {
    let esize = t.dtype.size_bytes().ok_or_else(|| {
        FormatError::unsupported("checkpoint", format!("re-laying out a {} tensor", t.dtype))
    })?;
    let n = num_elements(&t.shape).map_err(|source| FormatError::Shape {
        tensor: t.name.clone(),
        source,
    })?;
    let base = usize::try_from(t.source.offset)
        .map_err(|_| FormatError::limit("offset", usize::MAX as u64))?;
    let take = |elem: u64| -> Result<&[u8], FormatError> {
        let start = usize::try_from(elem)
            .ok()
            .and_then(|e| e.checked_mul(esize))
            .and_then(|b| b.checked_add(base))
            .ok_or_else(|| FormatError::limit("element offset", usize::MAX as u64))?;
        buf.get(start..start + esize)
            .ok_or(FormatError::OutOfBounds {
                tensor: t.name.clone(),
                start: start as u64,
                end: (start + esize) as u64,
                available: buf.len() as u64,
            })
    };
    match &t.source.layout {
        Layout::Dense => {
            let len = usize::try_from(n).ok().and_then(|n| n.checked_mul(esize));
            let bytes = len
                .and_then(|l| buf.get(base..base.checked_add(l)?))
                .ok_or_else(|| FormatError::OutOfBounds {
                    tensor: t.name.clone(),
                    start: base as u64,
                    end: u64::MAX,
                    available: buf.len() as u64,
                })?;
            out.extend_from_slice(bytes);
        }
        Layout::Strided(strides) => {
            if n > 0 {
                let dims = &t.shape;
                let mut idx = vec![0u64; dims.len()];
                let mut elem = 0u64;
                for _ in 0..n {
                    out.extend_from_slice(take(elem)?);
                    // Advance the multi-index, innermost dimension first.
                    for k in (0..dims.len()).rev() {
                        idx[k] += 1;
                        elem = elem.wrapping_add(strides[k]);
                        if idx[k] < dims[k] {
                            break;
                        }
                        elem = elem.wrapping_sub(strides[k].wrapping_mul(dims[k]));
                        idx[k] = 0;
                    }
                }
            }
        }
    }
    if t.source.big_endian {
        let w = t.dtype.swap_width();
        if w > 1 {
            for chunk in out.chunks_exact_mut(w) {
                chunk.reverse();
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn view(shape: Vec<u64>, layout: Layout, big_endian: bool, bytes: Vec<u8>) -> TensorView {
        TensorView {
            name: "t".into(),
            dtype: DType::I16,
            shape,
            file: 0,
            source: DataSource {
                base: Base::Owned(bytes.into()),
                offset: 0,
                layout,
                big_endian,
            },
        }
    }

    #[test]
    fn gathers_transposed_views_and_swaps_bytes() {
        // A 2x3 i16 matrix stored column-major: elements (r, c) at r + 2c.
        let stored: Vec<u8> = [0i16, 3, 1, 4, 2, 5]
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect();
        let t = view(vec![2, 3], Layout::Strided(vec![1, 2]), false, stored);
        let mut out = Vec::new();
        gather(
            &t,
            match &t.source.base {
                Base::Owned(b) => b,
                _ => unreachable!(),
            },
            &mut out,
        )
        .expect("gather");
        let want: Vec<u8> = (0i16..6).flat_map(|v| v.to_le_bytes()).collect();
        assert_eq!(out, want);

        let be: Vec<u8> = (0i16..6).flat_map(|v| v.to_be_bytes()).collect();
        let t = view(vec![6], Layout::Dense, true, be);
        let mut out = Vec::new();
        gather(
            &t,
            match &t.source.base {
                Base::Owned(b) => b,
                _ => unreachable!(),
            },
            &mut out,
        )
        .expect("gather");
        assert_eq!(out, want);
    }

    #[test]
    fn extent_checks_catch_views_past_the_end() {
        let t = view(vec![2, 3], Layout::Strided(vec![3, 1]), false, vec![0; 12]);
        assert!(check_extent(&t, 12).is_ok());
        assert!(matches!(
            check_extent(&t, 11),
            Err(FormatError::OutOfBounds { .. })
        ));
        let t = view(
            vec![u64::MAX, 2],
            Layout::Strided(vec![u64::MAX, 1]),
            false,
            vec![],
        );
        assert!(check_extent(&t, 12).is_err());
    }
}
