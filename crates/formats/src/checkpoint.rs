//! The checkpoint: what a reader produced ([`crate::parsed`]), with every extent checked against
//! its file, opened by content through [`crate::sniff`], and each tensor's row-major
//! little-endian bytes served from it.

use std::borrow::Cow;
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use weighhouse_tensor::{Limits, byte_len, num_elements};

use crate::error::{Error, FormatError, ResultExt};
pub use crate::parsed::{
    Base, DataKey, DataSource, Files, Format, Layout, OpenFile, OtherValue, Parsed, TensorView,
};

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
        let parsed = crate::open::open_any(&mut files, path, limits)?;
        Self::assemble(path, files, parsed)
    }

    /// Read a single-file checkpoint held in memory (for tests and fuzzing): recognise its
    /// format, parse it, and check every tensor's extent, exactly as for a file on disk.
    pub fn from_bytes(name: &str, bytes: Vec<u8>, limits: &Limits) -> Result<Self, Error> {
        let mut files = Files::default();
        let path = Path::new(name);
        let id = files.add_memory(path, bytes);
        let parsed = crate::open::open_file(&mut files, id, limits)?;
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
                .map(|f| f.path().to_path_buf())
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
        self.files.iter().map(|f| f.path())
    }

    /// The path of the file `t` comes from.
    pub fn file_of(&self, t: &TensorView) -> &Path {
        self.files
            .get(t.file)
            .map(|f| f.path())
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
            let Some(mut src) = f.mapped_file() else {
                let bytes = self.tensor_bytes(t)?;
                out.write_all(&bytes).at(f.path())?;
                return Ok(len);
            };
            src.seek(SeekFrom::Start(t.source.offset)).at(f.path())?;
            let n = io::copy(&mut src.take(len), out).at(f.path())?;
            if n != len {
                return Err(Error::new(
                    f.path(),
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
    use weighhouse_tensor::DType;

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
