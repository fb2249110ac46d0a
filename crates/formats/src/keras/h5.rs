//! Walking a Keras HDF5 file: string attributes (fixed-length, variable-length, chunked into
//! `name0`, `name1`, ...), the dtype of each dataset, and where its bytes are. Contiguous datasets
//! are described in place; chunked or compact ones are decoded into memory under the limits.

use std::collections::HashSet;
use std::sync::Arc;

use hdf5_reader::error::Error as H5Error;
use hdf5_reader::group::Group;
use hdf5_reader::io::Cursor as H5Cursor;
use hdf5_reader::messages::HdfMessage;
use hdf5_reader::messages::attribute::AttributeMessage;
use hdf5_reader::messages::layout::DataLayout;
use hdf5_reader::storage::DynStorage;
use hdf5_reader::{
    ByteOrder, Dataset, Datatype, Hdf5File, OpenOptions, RawAttribute, StringPadding, StringSize,
    VarLenKind,
};
use weighhouse_tensor::{DType, Limits, byte_len};

use crate::error::FormatError;
use crate::parsed::{Base, DataSource, Layout, OtherValue, TensorView};

pub(super) const FORMAT: &str = "keras";

/// Turn an HDF5 reader error into ours, keeping its message. `limit` is the bound of ours that
/// the reader's resource limit came from, should it be one.
pub(super) fn h5err(e: H5Error, limit: u64) -> FormatError {
    let mut inner = &e;
    while let H5Error::Context { source, .. } = inner {
        inner = source;
    }
    match inner {
        H5Error::ResourceLimit(_) => FormatError::limit(format!("HDF5 {e}"), limit),
        H5Error::UnsupportedFilter(_)
        | H5Error::UnsupportedEncoding(_)
        | H5Error::UnsupportedDatatypeClass(_)
        | H5Error::UnsupportedLayoutClass(_)
        | H5Error::UnsupportedChunkIndexType(_) => FormatError::unsupported(FORMAT, e.to_string()),
        _ => FormatError::malformed(FORMAT, format!("HDF5: {e}")),
    }
}

/// Where the HDF5 bytes live, so tensors can point at them.
#[derive(Debug, Clone)]
pub(super) enum Placement {
    /// In file 0, with HDF5 byte 0 at this offset (non-zero inside a `.keras` archive).
    File(u64),
    /// In this buffer (an inflated archive member).
    Owned(Arc<[u8]>),
}

/// An HDF5 file being read into tensors.
pub(super) struct H5 {
    pub(super) file: Hdf5File,
    limits: Limits,
    placement: Placement,
    /// Bytes decoded into memory so far (chunked and compact datasets).
    inflated: u64,
    /// Bytes of attribute strings decoded so far.
    strings: u64,
    seen_datasets: HashSet<u64>,
    seen_groups: HashSet<u64>,
    pub(super) tensors: Vec<TensorView>,
    pub(super) other: Vec<OtherValue>,
}

impl std::fmt::Debug for H5 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("H5")
            .field("placement", &self.placement)
            .field("tensors", &self.tensors.len())
            .finish_non_exhaustive()
    }
}

/// One member of a group: a sub-group or a dataset.
enum Member {
    Group(Group),
    Dataset(Box<Dataset>),
}

/// Sort key putting `vars/2` before `vars/10`: numbers by value, before other names.
fn natural_key(name: &str) -> (u8, u64, &str) {
    match name.parse::<u64>() {
        Ok(n) if !name.starts_with('+') => (0, n, name),
        _ => (1, 0, name),
    }
}

/// Join HDF5 path parts, dropping empty ones (`a//b`, a leading `/`).
pub(super) fn join(parent: &str, child: &str) -> String {
    parent
        .split('/')
        .chain(child.split('/'))
        .filter(|p| !p.is_empty())
        .collect::<Vec<_>>()
        .join("/")
}

impl H5 {
    /// Open HDF5 `storage` under `limits`.
    pub(super) fn open(
        storage: DynStorage,
        placement: Placement,
        limits: &Limits,
    ) -> Result<Self, FormatError> {
        let cap = usize::try_from(limits.max_inflated_bytes).unwrap_or(usize::MAX);
        let options = OpenOptions::default()
            // Each dataset is decoded once: a chunk cache would only hold memory.
            .with_chunk_cache_bytes(0)
            .with_max_chunk_bytes(cap.min(hdf5_reader::DEFAULT_MAX_CHUNK_BYTES))
            .with_max_read_bytes(cap)
            .with_max_object_header_bytes(
                usize::try_from(limits.max_header_bytes)
                    .unwrap_or(usize::MAX)
                    .min(hdf5_reader::DEFAULT_MAX_OBJECT_HEADER_BYTES),
            );
        let file = Hdf5File::from_storage_with_options(storage, options)
            .map_err(|e| h5err(e, limits.max_header_bytes))?;
        Ok(Self {
            file,
            limits: limits.clone(),
            placement,
            inflated: 0,
            strings: 0,
            seen_datasets: HashSet::new(),
            seen_groups: HashSet::new(),
            tensors: Vec::new(),
            other: Vec::new(),
        })
    }

    /// An HDF5 error met while reading metadata, as ours.
    pub(super) fn err(&self, e: H5Error) -> FormatError {
        h5err(e, self.limits.max_header_bytes)
    }

    /// The limits this file is read under.
    pub(super) fn limits(&self) -> &Limits {
        &self.limits
    }

    /// The attributes of `group`, undecoded (decoding every attribute eagerly could expand a
    /// small file into a great deal of memory through shared variable-length strings).
    pub(super) fn raw_attributes(&self, group: &Group) -> Result<Vec<RawAttribute>, FormatError> {
        group.raw_attributes().map_err(|e| self.err(e))
    }

    /// Decode a string or list-of-strings attribute. `None` when it holds something else (an
    /// empty attribute of any type is an empty list: Keras 3 writes `weight_names` as an empty
    /// float64 array).
    pub(super) fn strings(
        &mut self,
        group: &Group,
        msg: &AttributeMessage,
    ) -> Result<Option<Vec<String>>, FormatError> {
        let count = msg
            .dataspace
            .num_elements()
            .map_err(|e| self.err(e.into()))?;
        if count == 0 {
            return Ok(Some(Vec::new()));
        }
        let bad = |what: String| {
            FormatError::malformed(FORMAT, format!("attribute {:?}: {what}", msg.name))
        };
        match &msg.datatype {
            Datatype::String {
                size: StringSize::Fixed(width),
                padding,
                ..
            } => {
                if u64::from(*width) > self.limits.max_string_bytes {
                    return Err(FormatError::limit(
                        format!("attribute {:?} string of {width} bytes", msg.name),
                        self.limits.max_string_bytes,
                    ));
                }
                let width = *width as usize;
                let total = usize::try_from(count)
                    .ok()
                    .and_then(|n| n.checked_mul(width))
                    .filter(|&t| width > 0 && t <= msg.raw_data.len())
                    .ok_or_else(|| bad(format!("{count} strings do not fit its data")))?;
                self.charge_strings(total as u64)?;
                Ok(Some(
                    msg.raw_data[..total]
                        .chunks_exact(width)
                        .map(|s| decode(s, *padding))
                        .collect(),
                ))
            }
            Datatype::VarLen {
                kind: VarLenKind::String,
                padding,
                ..
            } => {
                let refsize = 8 + usize::from(self.file.superblock().offset_size);
                let total = usize::try_from(count)
                    .ok()
                    .and_then(|n| n.checked_mul(refsize))
                    .filter(|&t| t <= msg.raw_data.len())
                    .ok_or_else(|| bad(format!("{count} string references do not fit its data")))?;
                let mut out = Vec::new();
                for r in msg.raw_data[..total].chunks_exact(refsize) {
                    // The first word of a reference is the string's length: charge it before
                    // anything is resolved, so shared heap objects cannot multiply memory.
                    let len = u32::from_le_bytes([r[0], r[1], r[2], r[3]]);
                    self.charge_strings(u64::from(len))?;
                    if u64::from(len) > self.limits.max_string_bytes {
                        return Err(FormatError::limit(
                            format!("attribute {:?} string of {len} bytes", msg.name),
                            self.limits.max_string_bytes,
                        ));
                    }
                    let bytes = group
                        .resolve_vlen_reference_bytes(r, 1)
                        .map_err(|e| self.err(e))?;
                    out.push(decode(&bytes, *padding));
                }
                Ok(Some(out))
            }
            _ => Ok(None),
        }
    }

    fn charge_strings(&mut self, n: u64) -> Result<(), FormatError> {
        self.strings = self.strings.saturating_add(n);
        if self.strings > self.limits.max_header_bytes {
            return Err(FormatError::limit(
                "total size of HDF5 string attributes",
                self.limits.max_header_bytes,
            ));
        }
        Ok(())
    }

    /// A list-of-names attribute as Keras writes it: `name` itself, or, when it was too large for
    /// one HDF5 attribute, the concatenation of `name0`, `name1`, ... `None` when absent.
    pub(super) fn name_list(
        &mut self,
        group: &Group,
        attrs: &[RawAttribute],
        name: &str,
    ) -> Result<Option<Vec<String>>, FormatError> {
        let find = |n: &str| attrs.iter().find(|a| a.name() == n).map(|a| a.message());
        let not_strings = || {
            FormatError::malformed(
                FORMAT,
                format!(
                    "attribute {name:?} of {:?} is not a list of strings",
                    group.name()
                ),
            )
        };
        if let Some(msg) = find(name) {
            return self.strings(group, msg)?.ok_or_else(not_strings).map(Some);
        }
        let mut out: Option<Vec<String>> = None;
        // At most one chunk per attribute present, so this ends.
        for i in 0..attrs.len() {
            let Some(msg) = find(&format!("{name}{i}")) else {
                break;
            };
            let part = self.strings(group, msg)?.ok_or_else(not_strings)?;
            out.get_or_insert_with(Vec::new).extend(part);
        }
        Ok(out)
    }

    /// Every dataset under `group` (at `path`), in name order with numbers by value, depth first.
    /// Datasets already read (through another link, or listed by `weight_names`) are skipped.
    /// With `names`, the `name` attributes of the groups (Keras 3) are collected into it.
    pub(super) fn walk(
        &mut self,
        group: &Group,
        path: &str,
        depth: usize,
        mut names: Option<&mut serde_json::Map<String, serde_json::Value>>,
    ) -> Result<(), FormatError> {
        if depth > self.limits.max_depth {
            return Err(FormatError::limit(
                "HDF5 group nesting",
                self.limits.max_depth as u64,
            ));
        }
        if !self.seen_groups.insert(group.address()) {
            return Ok(());
        }
        if let Some(names) = names.as_deref_mut() {
            self.note_object_name(group, path, names)?;
        }
        let (groups, datasets) = group.members().map_err(|e| self.err(e))?;
        let mut members: Vec<(String, Member)> = groups
            .into_iter()
            .map(|g| (g.name().to_owned(), Member::Group(g)))
            .chain(
                datasets
                    .into_iter()
                    .map(|d| (d.name().to_owned(), Member::Dataset(Box::new(d)))),
            )
            .collect();
        members.sort_by(|a, b| natural_key(&a.0).cmp(&natural_key(&b.0)));
        for (name, member) in members {
            let child = join(path, &name);
            match member {
                Member::Group(g) => self.walk(&g, &child, depth + 1, names.as_deref_mut())?,
                Member::Dataset(d) => self.add_dataset(&d, child)?,
            }
        }
        Ok(())
    }

    /// Keras 3 keeps the user's layer name in a `name` attribute of each `vars` group; record it
    /// so a tensor such as `layers/dense/vars/0` can be traced back to the layer `head`.
    fn note_object_name(
        &mut self,
        group: &Group,
        path: &str,
        names: &mut serde_json::Map<String, serde_json::Value>,
    ) -> Result<(), FormatError> {
        if path.is_empty() || names.len() as u64 >= self.limits.max_metadata_entries {
            return Ok(());
        }
        let attrs = self.raw_attributes(group)?;
        let Some(msg) = attrs
            .iter()
            .find(|a| a.name() == "name")
            .map(|a| a.message())
        else {
            return Ok(());
        };
        if let Some(mut v) = self.strings(group, msg)?
            && v.len() == 1
        {
            names.insert(path.to_owned(), v.remove(0).into());
        }
        Ok(())
    }

    /// Read the dataset at `path` (relative to the root) as a tensor.
    pub(super) fn add_path(&mut self, path: &str) -> Result<(), FormatError> {
        let ds = self.file.dataset(path).map_err(|e| {
            FormatError::malformed(
                FORMAT,
                format!("weight {path:?} is listed but missing: {e}"),
            )
        })?;
        self.add_dataset(&ds, join("", path))
    }

    fn add_dataset(&mut self, ds: &Dataset, path: String) -> Result<(), FormatError> {
        if !self.seen_datasets.insert(ds.address()) {
            return Ok(());
        }
        if (self.tensors.len() + self.other.len()) as u64 >= self.limits.max_tensors {
            return Err(FormatError::limit(
                "number of datasets",
                self.limits.max_tensors,
            ));
        }
        match self.tensor(ds, &path)? {
            Ok(t) => self.tensors.push(t),
            Err(why) => self.other.push(OtherValue {
                name: path,
                value: serde_json::json!({ "hdf5_dataset": why, "shape": ds.shape() }),
            }),
        }
        Ok(())
    }

    /// The dataset as a tensor, or why it is not one (a string dataset, an unknown type).
    fn tensor(
        &mut self,
        ds: &Dataset,
        path: &str,
    ) -> Result<Result<TensorView, String>, FormatError> {
        let shape = ds.shape().to_vec();
        if shape.len() > self.limits.max_dims {
            return Err(FormatError::limit(
                format!("dataset {path:?} with {} dimensions", shape.len()),
                self.limits.max_dims as u64,
            ));
        }
        let (dtype, big_endian) = match self.dtype(ds)? {
            Ok(d) => d,
            Err(why) => return Ok(Err(why)),
        };
        let cap = self.limits.max_inflated_bytes;
        let at = |e: H5Error| h5err(e.with_context(path), cap);
        let len = byte_len(dtype, &shape).map_err(|source| FormatError::Shape {
            tensor: path.to_owned(),
            source,
        })?;
        let elements = ds.num_elements().map_err(at)?;
        if shape.iter().try_fold(1u64, |a, &d| a.checked_mul(d)) != Some(elements) {
            return Ok(Err("empty (null) dataspace".into()));
        }
        let header = self.file.get_or_parse_header(ds.address()).map_err(at)?;
        if header
            .messages
            .iter()
            .any(|m| matches!(m, HdfMessage::ExternalFiles(_)))
        {
            return Err(FormatError::unsupported(
                FORMAT,
                format!("dataset {path:?} keeps its data in external files"),
            ));
        }
        let layout = header.messages.iter().find_map(|m| match m {
            HdfMessage::DataLayout(l) => Some(&l.layout),
            _ => None,
        });
        let offset_size = self.file.superblock().offset_size;
        let source = match layout {
            Some(DataLayout::Contiguous { address, size })
                if !H5Cursor::is_undefined_offset(*address, offset_size) && len > 0 =>
            {
                if *size < len {
                    return Err(FormatError::malformed(
                        FORMAT,
                        format!("dataset {path:?} stores {size} bytes for {len}"),
                    ));
                }
                let offset = address
                    .checked_add(self.file.superblock().base_address)
                    .ok_or_else(|| {
                        FormatError::malformed(FORMAT, format!("dataset {path:?}: bad address"))
                    })?;
                match &self.placement {
                    Placement::File(base) => DataSource {
                        base: Base::File(0),
                        offset: base.checked_add(offset).ok_or_else(|| {
                            FormatError::malformed(FORMAT, format!("dataset {path:?}: bad address"))
                        })?,
                        layout: Layout::Dense,
                        big_endian,
                    },
                    Placement::Owned(buf) => DataSource {
                        base: Base::Owned(Arc::clone(buf)),
                        offset,
                        layout: Layout::Dense,
                        big_endian,
                    },
                }
            }
            None => {
                return Err(FormatError::malformed(
                    FORMAT,
                    format!("dataset {path:?} has no data layout"),
                ));
            }
            // Chunked (possibly compressed), compact, or never written (all fill value).
            Some(_) => {
                let total = self.inflated.saturating_add(len);
                if total > self.limits.max_inflated_bytes {
                    return Err(FormatError::limit(
                        format!("decoding HDF5 dataset {path:?} ({len} bytes)"),
                        self.limits.max_inflated_bytes,
                    ));
                }
                let bytes = ds.read_raw_bytes().map_err(at)?;
                if bytes.len() as u64 != len {
                    return Err(FormatError::malformed(
                        FORMAT,
                        format!(
                            "dataset {path:?} decoded to {} bytes, not {len}",
                            bytes.len()
                        ),
                    ));
                }
                self.inflated = total;
                DataSource {
                    big_endian,
                    ..DataSource::owned(bytes)
                }
            }
        };
        Ok(Ok(TensorView {
            name: path.to_owned(),
            dtype,
            shape,
            file: 0,
            source,
        }))
    }

    /// The tensor dtype of a dataset and whether it is stored big-endian, or why it has none.
    fn dtype(&mut self, ds: &Dataset) -> Result<Result<(DType, bool), String>, FormatError> {
        let dt = ds.dtype();
        let be = |o: &ByteOrder| *o == ByteOrder::BigEndian;
        // Keras 3 stores bfloat16 variables as 2-byte elements tagged `dtype="bfloat16"`.
        if element_size(dt) == Some(2) && self.tagged_bfloat16(ds)? {
            let big = match dt {
                Datatype::FloatingPoint { byte_order, .. }
                | Datatype::FixedPoint { byte_order, .. } => be(byte_order),
                _ => false,
            };
            return Ok(Ok((DType::BF16, big)));
        }
        Ok(match dt {
            Datatype::FloatingPoint { size, byte_order } => match (size, float_layout(ds)) {
                (8, _) => Ok((DType::F64, be(byte_order))),
                (4, _) => Ok((DType::F32, be(byte_order))),
                (2, Some((5, 10))) => Ok((DType::F16, be(byte_order))),
                (2, Some((8, 7))) => Ok((DType::BF16, be(byte_order))),
                (1, Some((4, 3))) => Ok((DType::F8E4M3, false)),
                (1, Some((5, 2))) => Ok((DType::F8E5M2, false)),
                (s, l) => Err(format!(
                    "{s}-byte float with (exponent, mantissa) bits {l:?}"
                )),
            },
            Datatype::FixedPoint {
                size,
                signed,
                byte_order,
            } => match (size, signed) {
                (1, true) => Ok((DType::I8, false)),
                (1, false) => Ok((DType::U8, false)),
                (2, true) => Ok((DType::I16, be(byte_order))),
                (2, false) => Ok((DType::U16, be(byte_order))),
                (4, true) => Ok((DType::I32, be(byte_order))),
                (4, false) => Ok((DType::U32, be(byte_order))),
                (8, true) => Ok((DType::I64, be(byte_order))),
                (8, false) => Ok((DType::U64, be(byte_order))),
                (s, _) => Err(format!("{s}-byte integer")),
            },
            // numpy booleans, as h5py writes them: an enum FALSE = 0, TRUE = 1 over one byte.
            Datatype::Enum { base, members }
                if matches!(**base, Datatype::FixedPoint { size: 1, .. })
                    && members.len() == 2
                    && members.iter().any(|m| m.name == "FALSE" && m.value == [0])
                    && members.iter().any(|m| m.name == "TRUE" && m.value == [1]) =>
            {
                Ok((DType::Bool, false))
            }
            // numpy complex, as h5py writes it: a compound of two floats `r` and `i`.
            Datatype::Compound { size, fields } if fields.len() == 2 => {
                let half = size / 2;
                let part = |i: usize, name: &str, off: u32| {
                    fields.get(i).and_then(|f| match &f.datatype {
                        Datatype::FloatingPoint {
                            size: s,
                            byte_order,
                        } if f.name == name && f.byte_offset == off && u32::from(*s) == half => {
                            Some(be(byte_order))
                        }
                        _ => None,
                    })
                };
                match (size, part(0, "r", 0), part(1, "i", half)) {
                    (8, Some(a), Some(b)) if a == b => Ok((DType::C64, a)),
                    (16, Some(a), Some(b)) if a == b => Ok((DType::C128, a)),
                    _ => Err(format!("compound type {dt:?}")),
                }
            }
            other => Err(format!("datatype {other:?}")),
        })
    }

    /// True when the dataset carries the attribute `dtype = "bfloat16"`.
    fn tagged_bfloat16(&mut self, ds: &Dataset) -> Result<bool, FormatError> {
        let attrs = ds.raw_attributes().map_err(|e| self.err(e))?;
        let Some(msg) = attrs
            .iter()
            .find(|a| a.name() == "dtype")
            .map(|a| a.message())
        else {
            return Ok(false);
        };
        if !matches!(
            msg.datatype,
            Datatype::String { .. }
                | Datatype::VarLen {
                    kind: VarLenKind::String,
                    ..
                }
        ) {
            return Ok(false);
        }
        // Variable-length references are file-global: any group of the file resolves them.
        let root = self.file.root_group().map_err(|e| self.err(e))?;
        Ok(self.strings(&root, msg)?.is_some_and(|v| v == ["bfloat16"]))
    }
}

/// Bytes per element of a datatype with a fixed byte size.
fn element_size(dt: &Datatype) -> Option<u32> {
    match dt {
        Datatype::FixedPoint { size, .. }
        | Datatype::FloatingPoint { size, .. }
        | Datatype::Bitfield { size, .. } => Some(u32::from(*size)),
        Datatype::Opaque { size, .. } | Datatype::Compound { size, .. } => Some(*size),
        _ => None,
    }
}

/// The (exponent, mantissa) bit counts of a floating-point dataset, read from its stored datatype
/// message (the parsed type does not keep them): 2-byte floats are IEEE half or bfloat16, 1-byte
/// ones E4M3 or E5M2. `None` when the float is not a plain one (bit offset, VAX order).
fn float_layout(ds: &Dataset) -> Option<(u8, u8)> {
    if !matches!(ds.dtype(), Datatype::FloatingPoint { size: 1 | 2, .. }) {
        return None;
    }
    let raw = ds.raw_datatype().ok()?;
    float_bits(&raw)
}

/// Parse the floating-point properties of an HDF5 datatype message (class 1): byte 0 class and
/// version, bytes 1-3 flags, 4-7 size, then bit offset (u16), precision (u16), exponent location,
/// exponent size, mantissa location, mantissa size (u8 each).
pub(super) fn float_bits(raw: &[u8]) -> Option<(u8, u8)> {
    let header = raw.get(..16)?;
    if header[0] & 0x0f != 1 || header[1] & 0x40 != 0 {
        return None;
    }
    let size = u32::from_le_bytes([header[4], header[5], header[6], header[7]]);
    let offset = u16::from_le_bytes([header[8], header[9]]);
    let precision = u16::from_le_bytes([header[10], header[11]]);
    let (exp_size, mant_loc, mant_size) = (header[13], header[14], header[15]);
    if offset != 0 || u32::from(precision) != size * 8 || mant_loc != 0 {
        return None;
    }
    Some((exp_size, mant_size))
}

/// Decode one stored string: NUL-terminated or padded, as UTF-8 (lossy: names are for display
/// and lookup; a broken byte must not hide the tensor).
fn decode(bytes: &[u8], padding: StringPadding) -> String {
    let s = match padding {
        StringPadding::SpacePad => {
            let end = bytes.iter().rposition(|&b| b != b' ').map_or(0, |i| i + 1);
            &bytes[..end]
        }
        StringPadding::NullTerminate | StringPadding::NullPad => {
            let end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
            &bytes[..end]
        }
    };
    String::from_utf8_lossy(s).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_sort_by_value_before_names() {
        let mut v = vec!["10", "b", "2", "a", "0"];
        v.sort_by_key(|s| natural_key(s));
        assert_eq!(v, ["0", "2", "10", "a", "b"]);
    }

    #[test]
    fn joins_paths_without_empty_parts() {
        assert_eq!(join("", "/a//b/"), "a/b");
        assert_eq!(
            join("model_weights/d1", "sequential/d1/kernel"),
            "model_weights/d1/sequential/d1/kernel"
        );
    }

    #[test]
    fn float_properties_tell_half_from_bfloat16() {
        // class 1 version 1, little-endian, size 2, offset 0, precision 16, exponent at 10 (5 bits),
        // mantissa at 0 (10 bits), bias 15.
        let half = [
            0x11, 0x20, 0x0f, 0, 2, 0, 0, 0, 0, 0, 16, 0, 10, 5, 0, 10, 15, 0, 0, 0,
        ];
        assert_eq!(float_bits(&half), Some((5, 10)));
        let mut bf16 = half;
        bf16[12] = 7;
        bf16[13] = 8;
        bf16[15] = 7;
        assert_eq!(float_bits(&bf16), Some((8, 7)));
        let mut shifted = half;
        shifted[8] = 1;
        assert_eq!(float_bits(&shifted), None);
        assert_eq!(float_bits(&half[..10]), None);
    }

    #[test]
    fn strings_lose_their_padding() {
        assert_eq!(decode(b"dense\0\0", StringPadding::NullPad), "dense");
        assert_eq!(decode(b"ab\0cd", StringPadding::NullTerminate), "ab");
        assert_eq!(decode(b"ab  ", StringPadding::SpacePad), "ab");
    }
}
