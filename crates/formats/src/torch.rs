//! PyTorch checkpoints: zip archives (`torch.save`, torch ≥ 1.6) and legacy pickle streams.
//!
//! The pickle is run by the restricted machine in [`crate::pickle`] with the weights-only
//! allowlist; its symbolic tree is then read here: tensor rebuild calls become [`TensorView`]s
//! pointing into the storage records (zero-copy for STORED members), nested containers are
//! flattened into dotted names, and every other value is kept as an [`OtherValue`].

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::io::{Cursor, Read};

use weighhouse_tensor::{DType, Limits};

use crate::error::FormatError;
use crate::parsed::{Base, DataSource, Format, Layout, OtherValue, Parsed, TensorView};
use crate::pickle::{self, Globals, MAX_WALK_DEPTH, Node, NodeId, Pickle};

const FORMAT: &str = "pytorch";

/// The legacy magic number 0x1950a86a20f9469cfc6c, in decimal as the pickle machine renders it.
const LEGACY_MAGIC: &str = "119547037146038801333356";
/// The only legacy protocol version torch ever wrote.
const LEGACY_PROTOCOL: i64 = 1001;

fn malformed(msg: impl Into<String>) -> FormatError {
    FormatError::malformed(FORMAT, msg)
}

fn unsupported(what: impl Into<String>) -> FormatError {
    FormatError::unsupported(FORMAT, what)
}

/// The bytes of one storage record.
#[derive(Debug, Clone)]
struct Storage {
    base: Base,
    /// Byte offset of the record in `base`.
    start: u64,
    /// Record length in bytes.
    len: u64,
}

/// What a storage class says about the elements of its storage.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum StorageClass {
    /// `torch.<X>Storage`: elements of one dtype.
    Typed(DType),
    /// `torch.UntypedStorage`: bytes; the tensor names its dtype (`_rebuild_tensor_v3`).
    Untyped,
}

impl StorageClass {
    fn element_size(self) -> u64 {
        match self {
            StorageClass::Typed(d) => d.size_bytes().unwrap_or(1) as u64,
            StorageClass::Untyped => 1,
        }
    }
}

/// A decoded persistent id `('storage', class, key, location, numel[, view_metadata])`.
#[derive(Debug, Clone)]
struct StorageRef {
    key: String,
    class: StorageClass,
    /// Storage size in elements of `class`.
    numel: u64,
    /// Legacy views: `(offset, size)` in elements of `class` into the root storage `key`.
    view: Option<(u64, u64)>,
}

fn storage_class(module: &str, name: &str) -> Result<StorageClass, FormatError> {
    if !matches!(module, "torch" | "torch.cuda" | "torch.storage") {
        return Err(malformed(format!("{module}.{name} is not a storage class")));
    }
    let dtype = match name {
        "DoubleStorage" => DType::F64,
        "FloatStorage" => DType::F32,
        "HalfStorage" => DType::F16,
        "BFloat16Storage" => DType::BF16,
        "LongStorage" => DType::I64,
        "IntStorage" => DType::I32,
        "ShortStorage" => DType::I16,
        "CharStorage" => DType::I8,
        "ByteStorage" => DType::U8,
        "BoolStorage" => DType::Bool,
        "ComplexFloatStorage" => DType::C64,
        "ComplexDoubleStorage" => DType::C128,
        "UntypedStorage" => return Ok(StorageClass::Untyped),
        "QInt8Storage" | "QUInt8Storage" | "QInt32Storage" | "QUInt4x2Storage"
        | "QUInt2x4Storage" => {
            return Err(unsupported(format!("quantized storage {module}.{name}")));
        }
        _ => {
            return Err(malformed(format!("{module}.{name} is not a storage class")));
        }
    };
    Ok(StorageClass::Typed(dtype))
}

/// A torch dtype name → our dtype, and whether it packs two elements per byte
/// (`float4_e2m1fn_x2`, whose torch shape counts bytes).
fn torch_dtype(name: &str) -> Result<(DType, bool), FormatError> {
    let d = match name {
        "float64" | "double" => DType::F64,
        "float32" | "float" => DType::F32,
        "float16" | "half" => DType::F16,
        "bfloat16" => DType::BF16,
        "int64" | "long" => DType::I64,
        "int32" | "int" => DType::I32,
        "int16" | "short" => DType::I16,
        "int8" => DType::I8,
        "uint8" => DType::U8,
        "uint16" => DType::U16,
        "uint32" => DType::U32,
        "uint64" => DType::U64,
        "bool" => DType::Bool,
        "complex64" | "cfloat" => DType::C64,
        "complex128" | "cdouble" => DType::C128,
        "float8_e5m2" => DType::F8E5M2,
        "float8_e4m3fn" => DType::F8E4M3,
        "float8_e5m2fnuz" => DType::F8E5M2Fnuz,
        "float8_e4m3fnuz" => DType::F8E4M3Fnuz,
        "float8_e8m0fnu" => DType::F8E8M0,
        "float4_e2m1fn_x2" => return Ok((DType::F4, true)),
        other => return Err(unsupported(format!("tensors of dtype torch.{other}"))),
    };
    Ok((d, false))
}

/// A value of the pickled object, with tensors recognised.
#[derive(Debug)]
enum Val {
    Tensor(Box<Tensor>),
    /// Items in order; the flag says whether any tensor lies below.
    Dict(Vec<(String, Val)>, bool),
    List(Vec<Val>, bool),
    Json(serde_json::Value),
}

impl Val {
    fn has_tensor(&self) -> bool {
        match self {
            Val::Tensor(_) => true,
            Val::Dict(_, t) | Val::List(_, t) => *t,
            Val::Json(_) => false,
        }
    }

    /// JSON rendering of a value holding no tensor.
    fn into_json(self) -> serde_json::Value {
        match self {
            Val::Tensor(_) => serde_json::Value::Null,
            Val::Dict(items, _) => serde_json::Value::Object(
                items.into_iter().map(|(k, v)| (k, v.into_json())).collect(),
            ),
            Val::List(items, _) => {
                serde_json::Value::Array(items.into_iter().map(Val::into_json).collect())
            }
            Val::Json(j) => j,
        }
    }
}

#[derive(Debug)]
struct Tensor {
    dtype: DType,
    shape: Vec<u64>,
    source: DataSource,
}

fn json_float(f: f64) -> serde_json::Value {
    serde_json::Number::from_f64(f)
        .map(serde_json::Value::Number)
        .unwrap_or_else(|| {
            serde_json::Value::String(
                if f.is_nan() {
                    "nan"
                } else if f > 0.0 {
                    "inf"
                } else {
                    "-inf"
                }
                .to_owned(),
            )
        })
}

/// Bytes as JSON: their length, and their hex when short.
fn json_bytes(b: &[u8]) -> serde_json::Value {
    let mut m = serde_json::Map::new();
    m.insert("bytes".into(), b.len().into());
    if b.len() <= 64 {
        let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
        m.insert("hex".into(), hex.into());
    }
    serde_json::Value::Object(m)
}

/// Reads a pickle's tree against the storages of its checkpoint.
struct Reader<'a> {
    pickle: &'a Pickle,
    storages: &'a HashMap<String, Storage>,
    limits: &'a Limits,
    big_endian: bool,
    /// Nodes on the path from the root: a node met again below itself is a cycle.
    on_path: HashSet<NodeId>,
    /// Node visits left; shared sub-trees are expanded at every use, so this bounds the work a
    /// pickle of repeated memo references can cause.
    budget: u64,
    max_depth: usize,
}

impl<'a> Reader<'a> {
    fn new(
        pickle: &'a Pickle,
        storages: &'a HashMap<String, Storage>,
        limits: &'a Limits,
        big_endian: bool,
    ) -> Self {
        Self {
            pickle,
            storages,
            limits,
            big_endian,
            on_path: HashSet::new(),
            budget: limits.max_pickle_items,
            max_depth: limits.max_depth.min(MAX_WALK_DEPTH),
        }
    }

    fn enter(&mut self, id: NodeId, depth: usize) -> Result<(), FormatError> {
        if depth > self.max_depth {
            return Err(FormatError::limit(
                "pickle object nesting",
                self.max_depth as u64,
            ));
        }
        if self.budget == 0 {
            return Err(FormatError::limit(
                "pickle objects visited",
                self.limits.max_pickle_items,
            ));
        }
        self.budget -= 1;
        if !self.on_path.insert(id) {
            return Err(malformed("the pickled object contains itself"));
        }
        Ok(())
    }

    fn resolve(&mut self, id: NodeId, path: &str, depth: usize) -> Result<Val, FormatError> {
        self.enter(id, depth)?;
        let r = self.resolve_node(id, path, depth);
        self.on_path.remove(&id);
        r
    }

    fn resolve_node(&mut self, id: NodeId, path: &str, depth: usize) -> Result<Val, FormatError> {
        use serde_json::Value as J;
        let p = self.pickle;
        Ok(match p.node(id) {
            Node::None => Val::Json(J::Null),
            Node::Bool(b) => Val::Json(J::Bool(*b)),
            Node::Int(i) => Val::Json(J::from(*i)),
            Node::BigInt(s) => Val::Json(J::String(s.clone())),
            Node::Float(f) => Val::Json(json_float(*f)),
            Node::Str(s) => Val::Json(J::String(s.clone())),
            Node::Bytes(b) | Node::ByteArray(b) => Val::Json(json_bytes(b)),
            Node::Tuple(items) | Node::List(items) | Node::Set(items) | Node::FrozenSet(items) => {
                self.list(items, path, depth)?
            }
            Node::Dict(items) => self.dict(items.iter().copied(), path, depth)?,
            Node::Global { module, name } => Val::Json(J::String(format!("{module}.{name}"))),
            Node::PersistentId(_) => {
                return Err(unsupported(format!(
                    "{}: a storage saved on its own, outside a tensor",
                    display_path(path)
                )));
            }
            Node::Object {
                callable,
                args,
                items,
                ..
            } => self.call(*callable, *args, items, path, depth)?,
        })
    }

    fn list(&mut self, items: &[NodeId], path: &str, depth: usize) -> Result<Val, FormatError> {
        let mut out = Vec::with_capacity(items.len().min(1024));
        let mut any = false;
        for (i, &item) in items.iter().enumerate() {
            let v = self.resolve(item, &join(path, &i.to_string()), depth + 1)?;
            any |= v.has_tensor();
            out.push(v);
        }
        Ok(Val::List(out, any))
    }

    fn dict(
        &mut self,
        items: impl Iterator<Item = (NodeId, NodeId)>,
        path: &str,
        depth: usize,
    ) -> Result<Val, FormatError> {
        let mut out = Vec::new();
        let mut any = false;
        for (k, v) in items {
            let key = self.key(k, path, depth)?;
            let v = self.resolve(v, &join(path, &key), depth + 1)?;
            any |= v.has_tensor();
            out.push((key, v));
        }
        Ok(Val::Dict(out, any))
    }

    /// A dict key as it appears in a tensor name (Python's `str()` for the usual key types).
    fn key(&mut self, k: NodeId, path: &str, depth: usize) -> Result<String, FormatError> {
        Ok(match self.pickle.node(k) {
            Node::Str(s) => s.clone(),
            Node::Int(i) => i.to_string(),
            Node::BigInt(s) => s.clone(),
            Node::Bool(true) => "True".into(),
            Node::Bool(false) => "False".into(),
            Node::None => "None".into(),
            Node::Float(f) => f.to_string(),
            _ => match self.resolve(k, path, depth + 1)? {
                Val::Json(serde_json::Value::String(s)) => s,
                v if !v.has_tensor() => v.into_json().to_string(),
                _ => return Err(unsupported("a tensor used as a dict key")),
            },
        })
    }

    fn args(&self, args: NodeId) -> Result<&'a [NodeId], FormatError> {
        self.pickle
            .as_seq(args)
            .ok_or_else(|| malformed("call arguments are not a tuple"))
    }

    fn call(
        &mut self,
        callable: NodeId,
        args: NodeId,
        items: &[(NodeId, NodeId)],
        path: &str,
        depth: usize,
    ) -> Result<Val, FormatError> {
        use serde_json::Value as J;
        let p = self.pickle;
        let Some((module, name)) = p.as_global(callable) else {
            return Err(unsupported(format!(
                "{}: calling something that is not a global",
                display_path(path)
            )));
        };
        let a = self.args(args)?;
        match (module, name) {
            ("collections", "OrderedDict" | "Counter") => {
                let mut pairs = Vec::new();
                if let Some(&init) = a.first() {
                    match p.node(init) {
                        Node::Dict(kv) => pairs.extend(kv.iter().copied()),
                        Node::List(seq) | Node::Tuple(seq) => {
                            for &pair in seq {
                                match p.as_seq(pair) {
                                    Some(&[k, v]) => pairs.push((k, v)),
                                    _ => return Err(malformed("OrderedDict item is not a pair")),
                                }
                            }
                        }
                        _ => return Err(unsupported("OrderedDict built from this argument")),
                    }
                }
                pairs.extend(items.iter().copied());
                // The `_metadata` attribute a state_dict gets through BUILD is module version
                // bookkeeping, not part of the mapping.
                self.dict(pairs.into_iter(), path, depth)
            }
            ("torch._utils", "_rebuild_tensor" | "_rebuild_tensor_v2" | "_rebuild_tensor_v3") => {
                let t = self.rebuild_tensor(name, a, path)?;
                Ok(Val::Tensor(Box::new(t)))
            }
            ("torch._utils", "_rebuild_parameter" | "_rebuild_parameter_with_state")
            | ("torch.nn.parameter", "Parameter") => {
                let data = *a
                    .first()
                    .ok_or_else(|| malformed(format!("{name} without data")))?;
                match self.resolve(data, path, depth + 1)? {
                    t @ Val::Tensor(_) => Ok(t),
                    _ => Err(malformed(format!(
                        "{}: {name} of something that is not a tensor",
                        display_path(path)
                    ))),
                }
            }
            ("torch._tensor", "_rebuild_from_type_v2") => {
                // (func, new_type, args, state): a tensor subclass rebuilt by func(*args).
                let (Some(&func), Some(&inner)) = (a.first(), a.get(2)) else {
                    return Err(malformed("_rebuild_from_type_v2 with too few arguments"));
                };
                self.enter(inner, depth + 1)?;
                let r = self.call(func, inner, &[], path, depth + 1);
                self.on_path.remove(&inner);
                r
            }
            ("torch", "Size") => {
                let dims = match a.first() {
                    Some(&s) => self.ints(s)?,
                    None => Vec::new(),
                };
                Ok(Val::Json(J::from(dims)))
            }
            ("torch", "device") => {
                let kind = a
                    .first()
                    .and_then(|&d| p.as_str(d))
                    .ok_or_else(|| malformed("torch.device without a name"))?;
                let s = match a.get(1).and_then(|&i| p.as_int(i)) {
                    Some(i) => format!("{kind}:{i}"),
                    None => kind.to_owned(),
                };
                Ok(Val::Json(J::String(s)))
            }
            ("torch.serialization", "_get_layout") => {
                let s = a.first().and_then(|&d| p.as_str(d)).unwrap_or("");
                Ok(Val::Json(J::String(s.to_owned())))
            }
            ("_codecs", "encode") | ("builtins", "bytearray") => {
                let bytes = match a.first().map(|&x| p.node(x)) {
                    None => Vec::new(),
                    Some(Node::Bytes(b) | Node::ByteArray(b)) => b.clone(),
                    Some(Node::Str(s)) => {
                        let enc = a.get(1).and_then(|&e| p.as_str(e)).unwrap_or("utf-8");
                        encode_str(s, enc)?
                    }
                    Some(_) => return Err(unsupported(format!("{module}.{name} of this value"))),
                };
                Ok(Val::Json(json_bytes(&bytes)))
            }
            ("builtins", "set" | "frozenset") => match a.first() {
                None => Ok(Val::List(Vec::new(), false)),
                Some(&seq) => {
                    let items = p
                        .as_seq(seq)
                        .ok_or_else(|| unsupported(format!("builtins.{name} of this value")))?;
                    self.list(items, path, depth)
                }
            },
            ("builtins", "complex") => {
                let part = |i: usize| match a.get(i).map(|&x| p.node(x)) {
                    Some(Node::Float(f)) => Ok(*f),
                    Some(Node::Int(v)) => Ok(*v as f64),
                    None => Ok(0.0),
                    Some(_) => Err(unsupported("complex() of this value")),
                };
                let mut m = serde_json::Map::new();
                m.insert("real".into(), json_float(part(0)?));
                m.insert("imag".into(), json_float(part(1)?));
                Ok(Val::Json(J::Object(m)))
            }
            _ if pickle::weights_only_allows(module, name) => Err(unsupported(format!(
                "{}: {module}.{name}",
                display_path(path)
            ))),
            _ => Err(FormatError::ForbiddenGlobal {
                module: module.to_owned(),
                name: name.to_owned(),
            }),
        }
    }

    /// A tuple or list of integers, or a `torch.Size` of one.
    fn ints(&self, id: NodeId) -> Result<Vec<i64>, FormatError> {
        let p = self.pickle;
        if let Node::Object { callable, args, .. } = p.node(id)
            && p.as_global(*callable) == Some(("torch", "Size"))
            && let Some(&[inner]) = p.as_seq(*args)
        {
            return self.ints(inner);
        }
        let seq = p
            .as_seq(id)
            .ok_or_else(|| malformed("tensor size or stride is not a tuple"))?;
        if seq.len() > self.limits.max_dims {
            return Err(FormatError::limit(
                format!("tensor dimensions ({})", seq.len()),
                self.limits.max_dims as u64,
            ));
        }
        seq.iter()
            .map(|&x| {
                p.as_int(x)
                    .ok_or_else(|| malformed("tensor size or stride is not an integer"))
            })
            .collect()
    }

    fn storage_ref(&self, pid: NodeId) -> Result<StorageRef, FormatError> {
        decode_pid(self.pickle, pid)
    }

    fn rebuild_tensor(&self, func: &str, a: &[NodeId], path: &str) -> Result<Tensor, FormatError> {
        let p = self.pickle;
        let need = match func {
            "_rebuild_tensor" => 4,
            "_rebuild_tensor_v2" => 6,
            _ => 7,
        };
        if a.len() < need {
            return Err(malformed(format!(
                "{}: {func} with {} arguments",
                display_path(path),
                a.len()
            )));
        }
        let Node::PersistentId(pid) = p.node(a[0]) else {
            return Err(malformed(format!(
                "{}: tensor storage is not a persistent id",
                display_path(path)
            )));
        };
        let sref = self.storage_ref(*pid)?;
        let nonneg = |v: i64, what: &str| {
            u64::try_from(v)
                .map_err(|_| malformed(format!("{}: negative {what}", display_path(path))))
        };
        let storage_offset = nonneg(
            p.as_int(a[1])
                .ok_or_else(|| malformed("storage offset is not an integer"))?,
            "storage offset",
        )?;
        let size = self
            .ints(a[2])?
            .into_iter()
            .map(|v| nonneg(v, "size"))
            .collect::<Result<Vec<u64>, _>>()?;
        let stride = self
            .ints(a[3])?
            .into_iter()
            .map(|v| nonneg(v, "stride"))
            .collect::<Result<Vec<u64>, _>>()?;
        if size.len() != stride.len() {
            return Err(malformed(format!(
                "{}: {} sizes but {} strides",
                display_path(path),
                size.len(),
                stride.len()
            )));
        }
        let (dtype, packed) = if func == "_rebuild_tensor_v3" {
            match p.as_global(a[6]) {
                Some(("torch", name)) => torch_dtype(name)?,
                _ => return Err(malformed("_rebuild_tensor_v3 dtype is not a torch dtype")),
            }
        } else {
            match sref.class {
                StorageClass::Typed(d) => (d, false),
                StorageClass::Untyped => {
                    return Err(malformed(format!(
                        "{}: untyped storage without a dtype",
                        display_path(path)
                    )));
                }
            }
        };
        let storage = self.storages.get(&sref.key).ok_or_else(|| {
            malformed(format!(
                "{}: storage {:?} is missing",
                display_path(path),
                sref.key
            ))
        })?;
        let class_size = sref.class.element_size();
        let declared = sref
            .numel
            .checked_mul(class_size)
            .ok_or_else(|| malformed("storage size overflows"))?;
        if declared > storage.len {
            return Err(malformed(format!(
                "storage {:?} holds {} bytes, its pickle declares {declared}",
                sref.key, storage.len
            )));
        }
        let (mut start, mut extent) = (storage.start, declared);
        if let Some((off, len)) = sref.view {
            let off = off.checked_mul(class_size);
            let len = len.checked_mul(class_size);
            match (off, len) {
                (Some(o), Some(l)) if o.checked_add(l).is_some_and(|e| e <= extent) => {
                    start += o;
                    extent = l;
                }
                _ => {
                    return Err(malformed(format!(
                        "storage view of {:?} out of range",
                        sref.key
                    )));
                }
            }
        }
        // Bytes per torch element: float4_e2m1fn_x2 elements are whole bytes.
        let esize = if packed {
            1
        } else {
            dtype
                .size_bytes()
                .ok_or_else(|| unsupported(format!("tensors of dtype {dtype}")))? as u64
        };
        let oob = |end: u64| FormatError::OutOfBounds {
            tensor: display_path(path).to_owned(),
            start: storage_offset.saturating_mul(esize),
            end,
            available: extent,
        };
        let numel = size
            .iter()
            .try_fold(1u64, |n, &d| n.checked_mul(d))
            .ok_or_else(|| oob(u64::MAX))?;
        let mut layout = Layout::Dense;
        let mut offset = start;
        if numel > 0 {
            // Highest element reached: offset + Σ (size_k − 1)·stride_k; it must lie inside the
            // storage (the generic extent check only knows the whole file).
            let mut last = storage_offset;
            for (&d, &s) in size.iter().zip(&stride) {
                last = (d - 1)
                    .checked_mul(s)
                    .and_then(|x| x.checked_add(last))
                    .ok_or_else(|| oob(u64::MAX))?;
            }
            let end = last
                .checked_add(1)
                .and_then(|n| n.checked_mul(esize))
                .ok_or_else(|| oob(u64::MAX))?;
            if end > extent {
                return Err(oob(end));
            }
            offset = start + storage_offset * esize;
            if !is_contiguous(&size, &stride) {
                if packed {
                    return Err(unsupported("non-contiguous float4_e2m1fn_x2 views"));
                }
                layout = Layout::Strided(stride);
            }
        }
        let mut shape = size;
        if packed {
            match shape.last_mut() {
                Some(last) => {
                    *last = last
                        .checked_mul(2)
                        .ok_or_else(|| malformed("tensor size overflows"))?
                }
                None => shape.push(2),
            }
        }
        Ok(Tensor {
            dtype,
            shape,
            source: DataSource {
                base: storage.base.clone(),
                offset,
                layout,
                big_endian: self.big_endian,
            },
        })
    }
}

/// True when strides are those of a row-major contiguous array (dimensions of size 1 may carry
/// any stride, as torch allows).
fn is_contiguous(size: &[u64], stride: &[u64]) -> bool {
    let mut expected = 1u64;
    for (&d, &s) in size.iter().zip(stride).rev() {
        if d != 1 && s != expected {
            return false;
        }
        expected = expected.saturating_mul(d);
    }
    true
}

fn encode_str(s: &str, encoding: &str) -> Result<Vec<u8>, FormatError> {
    match encoding.to_ascii_lowercase().replace('_', "-").as_str() {
        "latin1" | "latin-1" | "iso-8859-1" | "iso8859-1" => s
            .chars()
            .map(|c| u8::try_from(u32::from(c)).map_err(|_| malformed("latin-1 text out of range")))
            .collect(),
        "utf-8" | "utf8" | "ascii" => Ok(s.as_bytes().to_vec()),
        other => Err(unsupported(format!("text encoding {other:?}"))),
    }
}

fn join(prefix: &str, key: &str) -> String {
    if prefix.is_empty() {
        key.to_owned()
    } else {
        format!("{prefix}.{key}")
    }
}

fn display_path(path: &str) -> &str {
    if path.is_empty() { "(root)" } else { path }
}

/// Decode the persistent id held by node `pid`.
fn decode_pid(p: &Pickle, pid: NodeId) -> Result<StorageRef, FormatError> {
    let items = p
        .as_seq(pid)
        .ok_or_else(|| malformed("persistent id is not a tuple"))?;
    match items.first().and_then(|&t| p.as_str(t)) {
        Some("storage") => {}
        Some("module") => {
            return Err(unsupported(
                "pickled nn.Module source (legacy 'module' record); save a state_dict instead",
            ));
        }
        _ => return Err(malformed("persistent id is not a storage record")),
    }
    if !(5..=6).contains(&items.len()) {
        return Err(malformed(format!(
            "storage record with {} fields",
            items.len()
        )));
    }
    let (module, name) = p
        .as_global(items[1])
        .ok_or_else(|| malformed("storage type is not a class"))?;
    let class = storage_class(module, name)?;
    let key = match p.node(items[2]) {
        Node::Str(s) => s.clone(),
        Node::Int(i) => i.to_string(),
        _ => return Err(malformed("storage key is not a string")),
    };
    let numel = p
        .as_int(items[4])
        .and_then(|n| u64::try_from(n).ok())
        .ok_or_else(|| malformed("storage size is not a non-negative integer"))?;
    let view = match items.get(5).map(|&v| (v, p.node(v))) {
        None | Some((_, Node::None)) => None,
        Some((v, _)) => {
            let t = p
                .as_seq(v)
                .filter(|t| t.len() == 3)
                .ok_or_else(|| malformed("storage view metadata is not a 3-tuple"))?;
            let n = |i: usize| {
                p.as_int(t[i])
                    .and_then(|x| u64::try_from(x).ok())
                    .ok_or_else(|| malformed("storage view bounds are not integers"))
            };
            Some((n(1)?, n(2)?))
        }
    };
    Ok(StorageRef {
        key,
        class,
        numel,
        view,
    })
}

/// Every storage record the pickle refers to, whether or not a tensor uses it.
fn storage_refs(p: &Pickle) -> Result<Vec<StorageRef>, FormatError> {
    p.nodes
        .iter()
        .filter_map(|n| match n {
            Node::PersistentId(pid) => Some(decode_pid(p, *pid)),
            _ => None,
        })
        .collect()
}

/// Resolve the pickle's root and flatten it into `parsed`.
fn read_object(
    pickle: &Pickle,
    storages: &HashMap<String, Storage>,
    limits: &Limits,
    big_endian: bool,
    parsed: &mut Parsed,
) -> Result<(), FormatError> {
    let mut reader = Reader::new(pickle, storages, limits, big_endian);
    let root = reader.resolve(pickle.root, "", 0)?;
    emit(root, "", parsed, limits)
}

/// Flatten `val` into tensors and other values. A container without tensors becomes one JSON
/// value (an optimizer's `param_groups`, a config dict) rather than one entry per leaf.
fn emit(val: Val, name: &str, parsed: &mut Parsed, limits: &Limits) -> Result<(), FormatError> {
    match val {
        Val::Tensor(t) => {
            if parsed.tensors.len() as u64 >= limits.max_tensors {
                return Err(FormatError::limit("tensors", limits.max_tensors));
            }
            parsed.tensors.push(TensorView {
                // `torch.save(tensor)`: the file holds one unnamed tensor.
                name: if name.is_empty() {
                    "tensor".into()
                } else {
                    name.into()
                },
                dtype: t.dtype,
                shape: t.shape,
                file: 0,
                source: t.source,
            });
        }
        Val::Dict(items, true) => {
            for (k, v) in items {
                emit(v, &join(name, &k), parsed, limits)?;
            }
        }
        Val::List(items, true) => {
            for (i, v) in items.into_iter().enumerate() {
                emit(v, &join(name, &i.to_string()), parsed, limits)?;
            }
        }
        Val::Dict(items, false) if name.is_empty() => {
            for (k, v) in items {
                emit(v, &k, parsed, limits)?;
            }
        }
        other => {
            if parsed.other.len() as u64 >= limits.max_metadata_entries {
                return Err(FormatError::limit(
                    "non-tensor values",
                    limits.max_metadata_entries,
                ));
            }
            parsed.other.push(OtherValue {
                name: if name.is_empty() {
                    "value".into()
                } else {
                    name.into()
                },
                value: other.into_json(),
            });
        }
    }
    Ok(())
}

/// One member of the zip archive.
#[derive(Debug, Clone)]
struct Entry {
    method: zip::CompressionMethod,
    encrypted: bool,
    /// Offset of the member's (possibly compressed) data in the archive.
    start: u64,
    stored_len: u64,
    len: u64,
}

struct Archive<'a> {
    bytes: &'a [u8],
    zip: zip::ZipArchive<Cursor<&'a [u8]>>,
    /// Member name → central directory index.
    names: HashMap<String, usize>,
    /// Bytes inflated so far, against `max_inflated_bytes`.
    inflated: u64,
}

impl<'a> Archive<'a> {
    fn open(bytes: &'a [u8], limits: &Limits) -> Result<Self, FormatError> {
        let zip = zip::ZipArchive::new(Cursor::new(bytes))
            .map_err(|e| malformed(format!("zip archive: {e}")))?;
        if zip.len() as u64 > limits.max_zip_entries {
            return Err(FormatError::limit(
                format!("zip entries ({})", zip.len()),
                limits.max_zip_entries,
            ));
        }
        // Readers disagree on which of two same-named members wins; refuse to guess.
        if zip.has_duplicate_names() {
            return Err(malformed("the zip archive names a member twice"));
        }
        let names = zip
            .file_names()
            .enumerate()
            .filter_map(|(i, n)| n.ok().map(|n| (n.into_owned(), i)))
            .collect();
        Ok(Self {
            bytes,
            zip,
            names,
            inflated: 0,
        })
    }

    /// Where member `name`'s data lies. Local headers are read only for the members used, so a
    /// damaged member nothing refers to does not stop the archive from loading.
    fn entry(&mut self, name: &str) -> Result<Option<Entry>, FormatError> {
        let Some(&i) = self.names.get(name) else {
            return Ok(None);
        };
        let f = self
            .zip
            .by_index_raw(i)
            .map_err(|e| malformed(format!("zip member {name:?}: {e}")))?;
        let start = f
            .data_start()
            .ok_or_else(|| malformed(format!("zip member {name:?}: no data offset")))?;
        let entry = Entry {
            method: f.compression(),
            encrypted: f.encrypted(),
            start,
            stored_len: f.compressed_size(),
            len: f.size(),
        };
        if start
            .checked_add(entry.stored_len)
            .is_none_or(|end| end > self.bytes.len() as u64)
        {
            return Err(malformed(format!(
                "zip member {name:?} runs past the end of the file"
            )));
        }
        Ok(Some(entry))
    }

    fn raw(&self, e: &Entry) -> &'a [u8] {
        // In range: checked in `entry`.
        &self.bytes[e.start as usize..(e.start + e.stored_len) as usize]
    }

    /// A member's bytes: borrowed when STORED, inflated (at most `cap` bytes, and within the
    /// archive's inflation budget) when DEFLATED.
    fn read(
        &mut self,
        name: &str,
        e: &Entry,
        cap: u64,
        limits: &Limits,
    ) -> Result<Cow<'a, [u8]>, FormatError> {
        if e.encrypted {
            return Err(unsupported(format!("encrypted zip member {name:?}")));
        }
        match e.method {
            zip::CompressionMethod::Stored => {
                if e.stored_len != e.len {
                    return Err(malformed(format!(
                        "stored zip member {name:?} has two different sizes"
                    )));
                }
                Ok(Cow::Borrowed(self.raw(e)))
            }
            zip::CompressionMethod::Deflated => {
                let budget = limits.max_inflated_bytes.saturating_sub(self.inflated);
                let allowed = budget.min(cap);
                // Limit by the bytes actually produced, never by the declared size.
                let mut out = Vec::new();
                flate2::read::DeflateDecoder::new(self.raw(e))
                    .take(allowed.saturating_add(1))
                    .read_to_end(&mut out)
                    .map_err(|err| malformed(format!("zip member {name:?}: {err}")))?;
                let n = out.len() as u64;
                if n > allowed {
                    return Err(if allowed == cap && cap < budget {
                        FormatError::limit(format!("zip member {name:?}"), cap)
                    } else {
                        FormatError::limit("inflated zip data", limits.max_inflated_bytes)
                    });
                }
                if n != e.len {
                    return Err(malformed(format!(
                        "zip member {name:?} inflates to {n} bytes, not the declared {}",
                        e.len
                    )));
                }
                self.inflated += n;
                Ok(Cow::Owned(out))
            }
            other => Err(unsupported(format!(
                "zip member {name:?} compressed with {other}"
            ))),
        }
    }

    /// A small text record (`byteorder`, `version`), if present.
    fn text(&mut self, name: &str, limits: &Limits) -> Result<Option<String>, FormatError> {
        let Some(e) = self.entry(name)? else {
            return Ok(None);
        };
        let b = self.read(name, &e, 4096, limits)?;
        Ok(Some(String::from_utf8_lossy(&b).trim().to_owned()))
    }
}

/// Parse a PyTorch zip archive held in `bytes`.
pub fn parse_zip(bytes: &[u8], limits: &Limits) -> Result<Parsed, FormatError> {
    let mut ar = Archive::open(bytes, limits)?;
    // The record folder is named after the file torch wrote; find it from `data.pkl`. Names are
    // matched without regard to case, as torch's zip reader does.
    let mut found: Vec<&String> = ar
        .names
        .keys()
        .filter(|n| {
            let l = n.to_ascii_lowercase();
            l == "data.pkl" || (l.ends_with("/data.pkl") && l.matches('/').count() == 1)
        })
        .collect();
    found.sort();
    let pkl_name = match found.as_slice() {
        [one] => (*one).clone(),
        [] => return Err(malformed("no data.pkl record in the archive")),
        _ => {
            return Err(malformed(format!(
                "several data.pkl records ({}); ambiguous",
                found.len()
            )));
        }
    };
    let prefix = pkl_name[..pkl_name.len() - "data.pkl".len()].to_owned();
    let code = format!("{prefix}code/");
    if ar.names.contains_key(&format!("{prefix}constants.pkl"))
        || ar.names.keys().any(|n| n.starts_with(&code))
    {
        return Err(unsupported(
            "TorchScript archives (torch.jit.save); save a state_dict with torch.save instead",
        ));
    }

    // The pickle first: a forbidden global is the most useful thing to report.
    let pkl_entry = ar
        .entry(&pkl_name)?
        .ok_or_else(|| malformed("data.pkl record vanished"))?;
    if pkl_entry.len > limits.max_pickle_bytes {
        return Err(FormatError::limit(
            format!("pickle size ({} bytes)", pkl_entry.len),
            limits.max_pickle_bytes,
        ));
    }
    let pkl = ar.read(&pkl_name, &pkl_entry, limits.max_pickle_bytes, limits)?;
    let pickle = pickle::parse(&pkl, limits, Globals::WeightsOnly)?;

    let mut parsed = Parsed::new(Format::PytorchZip);
    let meta = &mut parsed.metadata;
    meta.insert(
        "archive_name".into(),
        prefix.trim_end_matches('/').to_owned().into(),
    );
    meta.insert("pickle_protocol".into(), pickle.protocol.into());
    let big_endian = match ar.text(&format!("{prefix}byteorder"), limits)?.as_deref() {
        None | Some("little") => false,
        Some("big") => true,
        Some(other) => return Err(malformed(format!("byteorder record says {other:?}"))),
    };
    meta.insert(
        "byteorder".into(),
        if big_endian { "big" } else { "little" }.into(),
    );
    for (record, key) in [
        (".format_version", "format_version"),
        (".storage_alignment", "storage_alignment"),
        ("version", "version"),
        (".data/version", "version"),
    ] {
        if let Some(v) = ar.text(&format!("{prefix}{record}"), limits)? {
            meta.insert(key.into(), v.into());
        }
    }

    let mut storages = HashMap::new();
    for r in storage_refs(&pickle)? {
        if storages.contains_key(&r.key) {
            continue;
        }
        let name = format!("{prefix}data/{}", r.key);
        let e = ar
            .entry(&name)?
            .ok_or_else(|| malformed(format!("storage record {name:?} is missing")))?;
        // STORED records stay in the file (zero-copy); deflated ones are inflated once, however
        // many tensors share them.
        let storage = match ar.read(&name, &e, u64::MAX, limits)? {
            Cow::Borrowed(_) => Storage {
                base: Base::File(0),
                start: e.start,
                len: e.len,
            },
            Cow::Owned(v) => Storage {
                base: Base::Owned(v.into()),
                start: 0,
                len: e.len,
            },
        };
        storages.insert(r.key, storage);
    }
    read_object(&pickle, &storages, limits, big_endian, &mut parsed)?;
    Ok(parsed)
}

/// Parse a legacy PyTorch file held in `bytes`.
pub fn parse_legacy(bytes: &[u8], limits: &Limits) -> Result<Parsed, FormatError> {
    let mut pos = 0usize;
    let mut next = |what: &str| -> Result<Pickle, FormatError> {
        let rest = bytes
            .get(pos..)
            .ok_or_else(|| malformed(format!("missing the {what} pickle")))?;
        let p = pickle::parse(rest, limits, Globals::WeightsOnly).map_err(|e| match e {
            FormatError::Malformed { msg, .. } => malformed(format!("{what} pickle: {msg}")),
            other => other,
        })?;
        pos += p.end;
        Ok(p)
    };
    let magic = next("magic number")?;
    if !matches!(magic.node(magic.root), Node::BigInt(s) if s == LEGACY_MAGIC) {
        return Err(malformed("not a legacy torch file: wrong magic number"));
    }
    let proto = next("protocol version")?;
    match proto.as_int(proto.root) {
        Some(LEGACY_PROTOCOL) => {}
        Some(v) => return Err(unsupported(format!("legacy protocol version {v}"))),
        None => return Err(malformed("protocol version is not an integer")),
    }
    let sys_info = next("sys_info")?;
    let object = next("object")?;
    let keys = next("storage keys")?;

    let mut parsed = Parsed::new(Format::PytorchLegacy);
    let no_storages = HashMap::new();
    let info = Reader::new(&sys_info, &no_storages, limits, false)
        .resolve(sys_info.root, "", 0)?
        .into_json();
    parsed
        .metadata
        .insert("protocol_version".into(), LEGACY_PROTOCOL.into());
    parsed.metadata.insert("sys_info".into(), info);
    parsed
        .metadata
        .insert("pickle_protocol".into(), object.protocol.into());

    // Element sizes per storage key, from the records that refer to them.
    let mut element_size: HashMap<String, u64> = HashMap::new();
    for r in storage_refs(&object)? {
        let size = r.class.element_size();
        if let Some(old) = element_size.insert(r.key.clone(), size)
            && old != size
        {
            return Err(malformed(format!(
                "storage {:?} is used with two element sizes",
                r.key
            )));
        }
    }
    let key_list = keys
        .as_seq(keys.root)
        .ok_or_else(|| malformed("storage key list is not a list"))?;
    // Raw storages follow the pickles in key-list order: i64 element count, then the data.
    let mut storages = HashMap::with_capacity(key_list.len().min(element_size.len()));
    let mut at = pos as u64;
    let total = bytes.len() as u64;
    for &k in key_list {
        let key = match keys.node(k) {
            Node::Str(s) => s.clone(),
            Node::Int(i) => i.to_string(),
            _ => return Err(malformed("storage key is not a string")),
        };
        let esize = *element_size
            .get(&key)
            .ok_or_else(|| malformed(format!("storage {key:?} is listed but never used")))?;
        let head = bytes
            .get(at as usize..(at as usize).saturating_add(8))
            .filter(|h| h.len() == 8)
            .ok_or_else(|| malformed(format!("storage {key:?}: truncated size")))?;
        let numel = i64::from_le_bytes(head.try_into().unwrap_or([0; 8]));
        let len = u64::try_from(numel)
            .ok()
            .and_then(|n| n.checked_mul(esize))
            .ok_or_else(|| malformed(format!("storage {key:?}: bad size {numel}")))?;
        let start = at + 8;
        let end = start
            .checked_add(len)
            .filter(|&e| e <= total)
            .ok_or_else(|| FormatError::OutOfBounds {
                tensor: format!("storage {key}"),
                start,
                end: start.saturating_add(len),
                available: total,
            })?;
        if storages
            .insert(
                key.clone(),
                Storage {
                    base: Base::File(0),
                    start,
                    len,
                },
            )
            .is_some()
        {
            return Err(malformed(format!("storage {key:?} is listed twice")));
        }
        at = end;
    }
    read_object(&object, &storages, limits, false, &mut parsed)?;
    Ok(parsed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    /// A zip archive of `(name, bytes)` members, all STORED.
    fn zip_of(members: &[(&str, &[u8])]) -> Vec<u8> {
        let mut w = zip::ZipWriter::new(Cursor::new(Vec::new()));
        let opts = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Stored);
        for (name, data) in members {
            w.start_file(*name, opts).expect("start");
            w.write_all(data).expect("write");
        }
        w.finish().expect("finish").into_inner()
    }

    /// `pickle protocol 2` helpers for hand-built streams.
    fn unicode(s: &str) -> Vec<u8> {
        let mut v = vec![b'X'];
        v.extend_from_slice(&(s.len() as u32).to_le_bytes());
        v.extend_from_slice(s.as_bytes());
        v
    }

    fn int(i: u8) -> Vec<u8> {
        vec![b'K', i]
    }

    /// `_rebuild_tensor_v2(('storage', FloatStorage, key, 'cpu', numel), off, size, stride,
    /// False, OrderedDict())`.
    fn tensor(key: &str, numel: u8, off: u8, size: &[u8], stride: &[u8]) -> Vec<u8> {
        let mut v = b"ctorch._utils\n_rebuild_tensor_v2\n((".to_vec();
        v.extend(unicode("storage"));
        v.extend_from_slice(b"ctorch\nFloatStorage\n");
        v.extend(unicode(key));
        v.extend(unicode("cpu"));
        v.extend(int(numel));
        v.extend_from_slice(b"tQ");
        v.extend(int(off));
        v.push(b'(');
        for &s in size {
            v.extend(int(s));
        }
        v.extend_from_slice(b"t(");
        for &s in stride {
            v.extend(int(s));
        }
        v.extend_from_slice(b"t\x89ccollections\nOrderedDict\n)RtR");
        v
    }

    fn dict_pickle(items: &[(&str, Vec<u8>)]) -> Vec<u8> {
        let mut v = vec![0x80, 2, b'}', b'('];
        for (k, val) in items {
            v.extend(unicode(k));
            v.extend_from_slice(val);
        }
        v.extend_from_slice(b"u.");
        v
    }

    fn f32s(vals: impl IntoIterator<Item = f32>) -> Vec<u8> {
        vals.into_iter().flat_map(|x| x.to_le_bytes()).collect()
    }

    fn open(bytes: Vec<u8>) -> Result<crate::Checkpoint, crate::Error> {
        crate::Checkpoint::from_bytes_with("t.pt", bytes, &Limits::strict(), parse_zip)
    }

    #[test]
    fn transposed_view_reads_row_major_and_storage_is_shared() {
        // Storage 0..6 as a 2x3 matrix `m`, its transpose `t` (3x2, strides (1, 3)), and a
        // slice `row1` of it at offset 3.
        let pkl = dict_pickle(&[
            ("m", tensor("0", 6, 0, &[2, 3], &[3, 1])),
            ("t", tensor("0", 6, 0, &[3, 2], &[1, 3])),
            ("row1", tensor("0", 6, 3, &[3], &[1])),
            ("epoch", int(7)),
        ]);
        let data = f32s((0..6).map(|i| i as f32));
        let z = zip_of(&[("ck/data.pkl", &pkl), ("ck/data/0", &data)]);
        let ck = open(z).expect("open");
        assert_eq!(ck.metadata["archive_name"], "ck");
        let m = ck.get("m").expect("m");
        assert!(m.source.is_plain());
        assert!(matches!(m.source.base, Base::File(0)));
        let t = ck.get("t").expect("t");
        assert_eq!(t.shape, vec![3, 2]);
        assert_eq!(t.source.layout, Layout::Strided(vec![1, 3]));
        assert_eq!(
            ck.tensor_bytes(t).expect("bytes").as_ref(),
            f32s([0.0, 3.0, 1.0, 4.0, 2.0, 5.0])
        );
        let row1 = ck.get("row1").expect("row1");
        assert_eq!(row1.source.offset, m.source.offset + 12);
        assert_eq!(
            ck.tensor_bytes(row1).expect("bytes").as_ref(),
            f32s([3.0, 4.0, 5.0])
        );
        assert_eq!(
            ck.other,
            vec![OtherValue {
                name: "epoch".into(),
                value: 7.into()
            }]
        );
    }

    #[test]
    fn view_past_the_storage_end_is_refused() {
        // 2x3 at offset 1 needs 7 elements; the storage has 6 (and the file has more bytes after
        // it, so only the per-storage check can catch this).
        let pkl = dict_pickle(&[("w", tensor("0", 6, 1, &[2, 3], &[3, 1]))]);
        let data = f32s((0..6).map(|i| i as f32));
        let z = zip_of(&[
            ("a/data.pkl", &pkl),
            ("a/data/0", &data),
            ("a/zzz", &[0; 64]),
        ]);
        match parse_zip(&z, &Limits::strict()) {
            Err(FormatError::OutOfBounds { tensor, .. }) => assert_eq!(tensor, "w"),
            other => panic!("expected OutOfBounds, got {other:?}"),
        }
        // A storage record shorter than its declared size.
        let pkl = dict_pickle(&[("w", tensor("0", 6, 0, &[6], &[1]))]);
        let z = zip_of(&[("a/data.pkl", &pkl), ("a/data/0", &data[..20])]);
        assert!(matches!(
            parse_zip(&z, &Limits::strict()),
            Err(FormatError::Malformed { .. })
        ));
        // A missing storage record.
        let z = zip_of(&[("a/data.pkl", &pkl)]);
        assert!(matches!(
            parse_zip(&z, &Limits::strict()),
            Err(FormatError::Malformed { .. })
        ));
    }

    #[test]
    fn forbidden_globals_in_an_archive_are_named() {
        let mut pkl = vec![0x80, 2, b'}', b'('];
        pkl.extend(unicode("x"));
        pkl.extend_from_slice(b"cposix\nsystem\n");
        pkl.extend(unicode("id"));
        pkl.extend_from_slice(b"\x85Ru.");
        let z = zip_of(&[("a/data.pkl", &pkl)]);
        match parse_zip(&z, &Limits::strict()) {
            Err(FormatError::ForbiddenGlobal { module, name }) => {
                assert_eq!((module.as_str(), name.as_str()), ("posix", "system"));
            }
            other => panic!("expected ForbiddenGlobal, got {other:?}"),
        }
        // An allowed global used in an unsupported way is reported as unsupported.
        let pkl = b"\x80\x02ctorch._utils\n_rebuild_qtensor\n)R.";
        let z = zip_of(&[("a/data.pkl", pkl)]);
        assert!(matches!(
            parse_zip(&z, &Limits::strict()),
            Err(FormatError::Unsupported { .. })
        ));
    }

    #[test]
    fn cycles_and_deep_nesting_are_errors() {
        // d = {}; d['self'] = d
        let pkl = b"\x80\x02}q\x00X\x04\x00\x00\x00selfh\x00s.";
        let z = zip_of(&[("a/data.pkl", pkl)]);
        assert!(matches!(
            parse_zip(&z, &Limits::strict()),
            Err(FormatError::Malformed { .. })
        ));
        // A list appended to itself through the memo.
        let pkl = b"\x80\x02]q\x00h\x00a.";
        let z = zip_of(&[("data.pkl", pkl)]);
        assert!(parse_zip(&z, &Limits::strict()).is_err());
        // [[[[...]]]] 5000 deep, built without MARKs.
        let mut pkl = vec![0x80, 2];
        pkl.extend(std::iter::repeat_n(b']', 5000));
        pkl.extend(std::iter::repeat_n(b'a', 4999));
        pkl.push(b'.');
        let z = zip_of(&[("data.pkl", &pkl)]);
        assert!(matches!(
            parse_zip(&z, &Limits::default()),
            Err(FormatError::Limit { .. })
        ));
        // Shared references doubling at every level: 2^40 leaves if expanded naively.
        let mut pkl = vec![0x80, 2, b'N'];
        for _ in 0..40 {
            pkl.extend_from_slice(b"2\x86");
        }
        pkl.push(b'.');
        let z = zip_of(&[("data.pkl", &pkl)]);
        assert!(matches!(
            parse_zip(&z, &Limits::strict()),
            Err(FormatError::Limit { .. })
        ));
    }

    #[test]
    fn names_flatten_nested_containers() {
        let layers = {
            let mut v = vec![b']', b'('];
            v.extend(tensor("0", 2, 0, &[2], &[1]));
            v.extend(tensor("0", 2, 1, &[1], &[1]));
            v.push(b'e');
            v
        };
        let cfg = {
            let mut v = vec![b'}', b'('];
            v.extend(unicode("lr"));
            v.extend_from_slice(b"G\x3f\xb9\x99\x99\x99\x99\x99\x9a");
            v.extend(unicode("name"));
            v.extend(unicode("adam"));
            v.extend_from_slice(b"u");
            v
        };
        let pkl = dict_pickle(&[("layers", layers), ("cfg", cfg), ("none", vec![b'N'])]);
        let z = zip_of(&[("data.pkl", &pkl), ("data/0", &f32s([1.0, 2.0]))]);
        let ck = open(z).expect("open");
        let names: Vec<&str> = ck.tensors.iter().map(|t| t.name.as_str()).collect();
        assert_eq!(names, ["layers.0", "layers.1"]);
        assert_eq!(ck.metadata["archive_name"], "");
        assert_eq!(ck.other.len(), 2);
        assert_eq!(ck.other[0].name, "cfg");
        assert_eq!(
            ck.other[0].value,
            serde_json::json!({"lr": 0.1, "name": "adam"})
        );
        assert_eq!(ck.other[1].value, serde_json::Value::Null);
    }

    #[test]
    fn deflated_members_are_inflated_within_budget() {
        let pkl = dict_pickle(&[("w", tensor("0", 4, 0, &[4], &[1]))]);
        let data = f32s([1.0, 2.0, 3.0, 4.0]);
        let mut w = zip::ZipWriter::new(Cursor::new(Vec::new()));
        let opts = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated);
        for (name, d) in [("a/data.pkl", &pkl), ("a/data/0", &data)] {
            w.start_file(name, opts).expect("start");
            w.write_all(d).expect("write");
        }
        let z = w.finish().expect("finish").into_inner();
        let ck = open(z.clone()).expect("open");
        let t = ck.get("w").expect("w");
        assert!(matches!(t.source.base, Base::Owned(_)));
        assert_eq!(ck.tensor_bytes(t).expect("bytes").as_ref(), data);
        let mut tight = Limits::strict();
        tight.max_inflated_bytes = 100;
        assert!(matches!(
            parse_zip(&z, &tight),
            Err(FormatError::Limit { .. })
        ));
    }

    #[test]
    fn contiguity() {
        assert!(is_contiguous(&[2, 3], &[3, 1]));
        assert!(is_contiguous(&[1, 3], &[99, 1]));
        assert!(!is_contiguous(&[3, 2], &[1, 3]));
        assert!(is_contiguous(&[], &[]));
    }
}
