//! A restricted pickle machine that only builds tensors and plain containers.
//!
//! [`parse`] runs a pickle's opcodes and records what they would build as a symbolic tree of
//! [`Node`]s; nothing named in the pickle is ever imported or called. Under [`Globals::WeightsOnly`]
//! any global outside the `torch.load(weights_only=True)` allowlist stops the machine with
//! [`FormatError::ForbiddenGlobal`].
//!
//! Written by hand on purpose: `serde-pickle` refuses persistent ids (`BINPERSID`), which every
//! PyTorch checkpoint uses for its storages, and no crate offers a machine that records globals
//! symbolically under resource limits instead of resolving them.

use std::collections::HashMap;

use weighhouse_tensor::Limits;

use crate::error::FormatError;

pub mod op;

const FORMAT: &str = "pickle";

/// Hard bound on how deep the tree is walked recursively, whatever [`Limits::max_depth`] says, so
/// that walking never overflows the thread's stack.
pub const MAX_WALK_DEPTH: usize = 1000;

/// Index of a [`Node`] in [`Pickle::nodes`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NodeId(pub u32);

/// One value built by a pickle. Containers refer to their items by [`NodeId`], so shared and even
/// self-referential structures (which a memo can create) are represented without copying.
#[derive(Debug, Clone, PartialEq)]
pub enum Node {
    /// `None`.
    None,
    /// `True` / `False`.
    Bool(bool),
    /// An integer that fits 64 bits.
    Int(i64),
    /// A larger integer, in decimal.
    BigInt(String),
    /// A float.
    Float(f64),
    /// A text string.
    Str(String),
    /// A byte string (`bytes`, or a protocol-0/1 `str` that is not UTF-8).
    Bytes(Vec<u8>),
    /// A `bytearray` (`BYTEARRAY8`).
    ByteArray(Vec<u8>),
    /// A tuple.
    Tuple(Vec<NodeId>),
    /// A list.
    List(Vec<NodeId>),
    /// A dict, in insertion order.
    Dict(Vec<(NodeId, NodeId)>),
    /// A set.
    Set(Vec<NodeId>),
    /// A frozenset.
    FrozenSet(Vec<NodeId>),
    /// A reference to `module.name`, never resolved.
    Global {
        /// Module path (Python 2 names mapped to Python 3 ones).
        module: String,
        /// Attribute name.
        name: String,
    },
    /// The result of calling `callable(*args, **kwargs)` (`REDUCE`, `NEWOBJ`, `NEWOBJ_EX`, `INST`,
    /// `OBJ`), with whatever `BUILD` and `SETITEM(S)` later did to it.
    Object {
        /// What would be called.
        callable: NodeId,
        /// Its positional arguments (a [`Node::Tuple`] in a well-formed pickle).
        args: NodeId,
        /// Keyword arguments (`NEWOBJ_EX`).
        kwargs: Option<NodeId>,
        /// The state passed to `BUILD` (the last one, if several).
        state: Option<NodeId>,
        /// Items stored into the object with `SETITEM(S)` (an `OrderedDict`'s contents).
        items: Vec<(NodeId, NodeId)>,
    },
    /// A persistent id (`BINPERSID` / `PERSID`): a reference to data outside the pickle.
    PersistentId(NodeId),
}

/// Which globals a pickle may name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Globals {
    /// Record any global (for inspection; nothing is resolved either way).
    Any,
    /// Only what `torch.load(weights_only=True)` accepts; see [`weights_only_allows`].
    WeightsOnly,
}

/// A parsed pickle.
#[derive(Debug, Clone)]
pub struct Pickle {
    /// Every value the pickle built.
    pub nodes: Vec<Node>,
    /// The value `STOP` returned.
    pub root: NodeId,
    /// The protocol named by `PROTO` (0 when absent).
    pub protocol: u8,
    /// Bytes consumed, up to and including `STOP` (where the next pickle of a stream starts).
    pub end: usize,
}

impl Pickle {
    /// The node `id` (a `None` node for an id that does not exist).
    pub fn node(&self, id: NodeId) -> &Node {
        self.nodes.get(id.0 as usize).unwrap_or(&Node::None)
    }

    /// The string held by `id`, if it is one.
    pub fn as_str(&self, id: NodeId) -> Option<&str> {
        match self.node(id) {
            Node::Str(s) => Some(s),
            _ => None,
        }
    }

    /// The integer held by `id`, if it is one (booleans count, as in Python).
    pub fn as_int(&self, id: NodeId) -> Option<i64> {
        match self.node(id) {
            Node::Int(i) => Some(*i),
            Node::Bool(b) => Some(i64::from(*b)),
            _ => None,
        }
    }

    /// The items of a tuple or list.
    pub fn as_seq(&self, id: NodeId) -> Option<&[NodeId]> {
        match self.node(id) {
            Node::Tuple(v) | Node::List(v) => Some(v),
            _ => None,
        }
    }

    /// `(module, name)` when `id` is a global.
    pub fn as_global(&self, id: NodeId) -> Option<(&str, &str)> {
        match self.node(id) {
            Node::Global { module, name } => Some((module, name)),
            _ => None,
        }
    }
}

/// The torch dtype names (`torch.float32`, `torch.float8_e4m3fn`, ...) a weights-only pickle may name.
const TORCH_DTYPES: &[&str] = &[
    "float32",
    "float",
    "float64",
    "double",
    "float16",
    "half",
    "bfloat16",
    "int64",
    "long",
    "int32",
    "int",
    "int16",
    "short",
    "int8",
    "uint8",
    "uint16",
    "uint32",
    "uint64",
    "bool",
    "complex32",
    "chalf",
    "complex64",
    "cfloat",
    "complex128",
    "cdouble",
    "float8_e5m2",
    "float8_e4m3fn",
    "float8_e5m2fnuz",
    "float8_e4m3fnuz",
    "float8_e8m0fnu",
    "float4_e2m1fn_x2",
    "bits8",
    "bits16",
    "bits1x8",
    "bits2x4",
    "bits4x2",
    "quint8",
    "qint8",
    "qint32",
    "quint4x2",
    "quint2x4",
    "int1",
    "int2",
    "int3",
    "int4",
    "int5",
    "int6",
    "int7",
    "uint1",
    "uint2",
    "uint3",
    "uint4",
    "uint5",
    "uint6",
    "uint7",
];

/// Storage classes (`torch.FloatStorage`, ...).
const TORCH_STORAGES: &[&str] = &[
    "DoubleStorage",
    "FloatStorage",
    "HalfStorage",
    "BFloat16Storage",
    "LongStorage",
    "IntStorage",
    "ShortStorage",
    "CharStorage",
    "ByteStorage",
    "BoolStorage",
    "ComplexFloatStorage",
    "ComplexDoubleStorage",
    "QInt8Storage",
    "QUInt8Storage",
    "QInt32Storage",
    "QUInt4x2Storage",
    "QUInt2x4Storage",
    "UntypedStorage",
    "TypedStorage",
];

/// Tensor-rebuilding functions in `torch._utils`. Only some are understood by the torch reader;
/// the others are admitted here so that they are reported as unsupported rather than forbidden.
const TORCH_REBUILDERS: &[&str] = &[
    "_rebuild_tensor",
    "_rebuild_tensor_v2",
    "_rebuild_tensor_v3",
    "_rebuild_parameter",
    "_rebuild_parameter_with_state",
    "_rebuild_qtensor",
    "_rebuild_sparse_tensor",
    "_rebuild_meta_tensor_no_storage",
    "_rebuild_wrapper_subclass",
    "_rebuild_device_tensor_from_numpy",
    "_rebuild_device_tensor_from_cpu_tensor",
    "_rebuild_nested_tensor",
];

/// Quantisation schemes (`torch.per_tensor_affine`, ...), which quantized tensors name.
const TORCH_QSCHEMES: &[&str] = &[
    "per_tensor_affine",
    "per_channel_affine",
    "per_tensor_symmetric",
    "per_channel_symmetric",
    "per_channel_affine_float_qparams",
];

/// Tensor classes.
const TORCH_TENSORS: &[&str] = &[
    "Tensor",
    "FloatTensor",
    "DoubleTensor",
    "HalfTensor",
    "BFloat16Tensor",
    "LongTensor",
    "IntTensor",
    "ShortTensor",
    "CharTensor",
    "ByteTensor",
    "BoolTensor",
];

/// True when `module.name` is on the `torch.load(weights_only=True)` allowlist. The modules
/// `sys`, `os`, `posix` and `nt` are refused whatever else is said.
pub fn weights_only_allows(module: &str, name: &str) -> bool {
    if matches!(module, "sys" | "os" | "posix" | "nt") {
        return false;
    }
    match module {
        "collections" => matches!(name, "OrderedDict" | "Counter"),
        "builtins" => matches!(name, "set" | "frozenset" | "bytearray" | "complex"),
        "_codecs" => name == "encode",
        "torch._utils" => TORCH_REBUILDERS.contains(&name),
        "torch._tensor" => name == "_rebuild_from_type_v2",
        "torch.nn.parameter" => name == "Parameter",
        "torch.serialization" => name == "_get_layout",
        "torch.storage" => matches!(name, "UntypedStorage" | "TypedStorage"),
        "torch.cuda" => TORCH_STORAGES.contains(&name),
        "torch" => {
            matches!(name, "Size" | "device" | "strided")
                || TORCH_DTYPES.contains(&name)
                || TORCH_STORAGES.contains(&name)
                || TORCH_QSCHEMES.contains(&name)
                || TORCH_TENSORS.contains(&name)
        }
        _ => false,
    }
}

/// Python 2 module names that Python 3 pickles still write at protocols 0–2 (`fix_imports`).
fn py3_module(module: &str) -> &str {
    match module {
        "__builtin__" => "builtins",
        "copy_reg" => "copyreg",
        _ => module,
    }
}

/// Run the pickle at the start of `bytes` (trailing bytes after `STOP` are left alone; see
/// [`Pickle::end`]) under `limits`, admitting the globals `globals` allows.
pub fn parse(bytes: &[u8], limits: &Limits, globals: Globals) -> Result<Pickle, FormatError> {
    Machine::new(bytes, limits, globals).run()
}

/// Largest `LONG1`/`LONG4` integer accepted, in bytes (far beyond any real checkpoint's needs;
/// bounds the quadratic decimal conversion).
const MAX_LONG_BYTES: usize = 256;

struct Machine<'a> {
    bytes: &'a [u8],
    pos: usize,
    limits: &'a Limits,
    globals: Globals,
    nodes: Vec<Node>,
    stack: Vec<NodeId>,
    /// Stack lengths at each open `MARK`.
    marks: Vec<usize>,
    memo: HashMap<u64, NodeId>,
    protocol: u8,
}

impl<'a> Machine<'a> {
    fn new(bytes: &'a [u8], limits: &'a Limits, globals: Globals) -> Self {
        Self {
            bytes,
            pos: 0,
            limits,
            globals,
            nodes: Vec::new(),
            stack: Vec::new(),
            marks: Vec::new(),
            memo: HashMap::new(),
            protocol: 0,
        }
    }

    fn err(&self, msg: impl std::fmt::Display) -> FormatError {
        FormatError::malformed(FORMAT, format!("at byte {}: {msg}", self.pos))
    }

    fn items_limit(&self) -> Result<(), FormatError> {
        let max = self.limits.max_pickle_items;
        if self.nodes.len() as u64 > max {
            return Err(FormatError::limit(
                format!("pickle objects ({})", self.nodes.len()),
                max,
            ));
        }
        if self.stack.len() as u64 > max {
            return Err(FormatError::limit(
                format!("pickle stack ({})", self.stack.len()),
                max,
            ));
        }
        if self.memo.len() as u64 > max {
            return Err(FormatError::limit(
                format!("pickle memo ({})", self.memo.len()),
                max,
            ));
        }
        Ok(())
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], FormatError> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|&e| e <= self.bytes.len())
            .ok_or_else(|| self.err(format!("truncated: {n} more bytes needed")))?;
        if end as u64 > self.limits.max_pickle_bytes {
            return Err(FormatError::limit(
                format!("pickle size ({end} bytes or more)"),
                self.limits.max_pickle_bytes,
            ));
        }
        let s = &self.bytes[self.pos..end];
        self.pos = end;
        Ok(s)
    }

    fn u8(&mut self) -> Result<u8, FormatError> {
        Ok(self.take(1)?[0])
    }

    fn le<const N: usize>(&mut self) -> Result<[u8; N], FormatError> {
        let mut a = [0u8; N];
        a.copy_from_slice(self.take(N)?);
        Ok(a)
    }

    /// A length read from the stream, checked against what remains and the string limit before
    /// anything is allocated for it.
    fn len(&mut self, n: u64) -> Result<usize, FormatError> {
        if n > self.limits.max_string_bytes {
            return Err(FormatError::limit(
                format!("pickle string of {n} bytes"),
                self.limits.max_string_bytes,
            ));
        }
        let remaining = (self.bytes.len() - self.pos) as u64;
        if n > remaining {
            return Err(self.err(format!(
                "truncated: {n}-byte string, {remaining} bytes left"
            )));
        }
        Ok(n as usize)
    }

    /// A protocol-0 argument: the bytes up to the next newline.
    fn line(&mut self) -> Result<&'a [u8], FormatError> {
        let rest = &self.bytes[self.pos..];
        let max = usize::try_from(self.limits.max_string_bytes).unwrap_or(usize::MAX);
        let n = rest
            .iter()
            .take(max.saturating_add(1))
            .position(|&b| b == b'\n')
            .ok_or_else(|| {
                if rest.len() > max {
                    FormatError::limit("pickle text argument", max as u64)
                } else {
                    self.err("truncated: unterminated line")
                }
            })?;
        let s = self.take(n + 1)?;
        Ok(&s[..n])
    }

    fn line_str(&mut self) -> Result<&'a str, FormatError> {
        let l = self.line()?;
        std::str::from_utf8(l).map_err(|_| self.err("text argument is not UTF-8"))
    }

    fn push_node(&mut self, node: Node) -> Result<NodeId, FormatError> {
        let id = u32::try_from(self.nodes.len())
            .map(NodeId)
            .map_err(|_| FormatError::limit("pickle objects", u64::from(u32::MAX)))?;
        self.nodes.push(node);
        self.stack.push(id);
        self.items_limit()?;
        Ok(id)
    }

    fn push_id(&mut self, id: NodeId) -> Result<(), FormatError> {
        self.stack.push(id);
        self.items_limit()
    }

    /// Pop one item; items below the innermost open `MARK` are out of reach.
    fn pop(&mut self) -> Result<NodeId, FormatError> {
        let floor = self.marks.last().copied().unwrap_or(0);
        if self.stack.len() <= floor {
            return Err(self.err("stack underflow"));
        }
        self.stack.pop().ok_or_else(|| self.err("stack underflow"))
    }

    fn top(&self) -> Result<NodeId, FormatError> {
        let floor = self.marks.last().copied().unwrap_or(0);
        if self.stack.len() <= floor {
            return Err(self.err("empty stack"));
        }
        self.stack
            .last()
            .copied()
            .ok_or_else(|| self.err("empty stack"))
    }

    /// Pop everything above the innermost `MARK`, and the mark.
    fn pop_mark(&mut self) -> Result<Vec<NodeId>, FormatError> {
        let at = self
            .marks
            .pop()
            .ok_or_else(|| self.err("no MARK to pop to"))?;
        if at > self.stack.len() {
            return Err(self.err("MARK above the stack"));
        }
        Ok(self.stack.split_off(at))
    }

    fn node_mut(&mut self, id: NodeId) -> Result<&mut Node, FormatError> {
        let pos = self.pos;
        self.nodes.get_mut(id.0 as usize).ok_or_else(|| {
            FormatError::malformed(FORMAT, format!("at byte {pos}: dangling reference"))
        })
    }

    fn kind(&self, id: NodeId) -> &'static str {
        match self.nodes.get(id.0 as usize) {
            Some(Node::None) => "None",
            Some(Node::Bool(_)) => "bool",
            Some(Node::Int(_) | Node::BigInt(_)) => "int",
            Some(Node::Float(_)) => "float",
            Some(Node::Str(_)) => "str",
            Some(Node::Bytes(_)) => "bytes",
            Some(Node::ByteArray(_)) => "bytearray",
            Some(Node::Tuple(_)) => "tuple",
            Some(Node::List(_)) => "list",
            Some(Node::Dict(_)) => "dict",
            Some(Node::Set(_)) => "set",
            Some(Node::FrozenSet(_)) => "frozenset",
            Some(Node::Global { .. }) => "global",
            Some(Node::Object { .. }) => "object",
            Some(Node::PersistentId(_)) => "persistent id",
            None => "nothing",
        }
    }

    fn global(&mut self, module: &str, name: &str) -> Result<(), FormatError> {
        let module = py3_module(module);
        if self.globals == Globals::WeightsOnly && !weights_only_allows(module, name) {
            return Err(FormatError::ForbiddenGlobal {
                module: module.to_owned(),
                name: name.to_owned(),
            });
        }
        self.push_node(Node::Global {
            module: module.to_owned(),
            name: name.to_owned(),
        })?;
        Ok(())
    }

    fn object(
        &mut self,
        callable: NodeId,
        args: NodeId,
        kwargs: Option<NodeId>,
    ) -> Result<(), FormatError> {
        self.push_node(Node::Object {
            callable,
            args,
            kwargs,
            state: None,
            items: Vec::new(),
        })?;
        Ok(())
    }

    fn memo_put(&mut self, key: u64) -> Result<(), FormatError> {
        let top = self.top()?;
        self.memo.insert(key, top);
        self.items_limit()
    }

    fn memo_get(&mut self, key: u64) -> Result<(), FormatError> {
        let id = *self
            .memo
            .get(&key)
            .ok_or_else(|| self.err(format!("memo key {key} was never stored")))?;
        self.push_id(id)
    }

    fn text_key(&mut self) -> Result<u64, FormatError> {
        let l = self.line_str()?;
        l.trim()
            .parse::<u64>()
            .map_err(|_| self.err(format!("bad memo key {l:?}")))
    }

    fn str_or_bytes(&mut self, bytes: &[u8]) -> Result<(), FormatError> {
        let node = match std::str::from_utf8(bytes) {
            Ok(s) => Node::Str(s.to_owned()),
            Err(_) => Node::Bytes(bytes.to_vec()),
        };
        self.push_node(node)?;
        Ok(())
    }

    fn unicode(&mut self, bytes: &[u8]) -> Result<(), FormatError> {
        let s = std::str::from_utf8(bytes).map_err(|_| self.err("string is not UTF-8"))?;
        self.push_node(Node::Str(s.to_owned()))?;
        Ok(())
    }

    fn add_items(&mut self, target: NodeId, pairs: Vec<NodeId>) -> Result<(), FormatError> {
        if !pairs.len().is_multiple_of(2) {
            return Err(self.err("SETITEMS with an odd number of items"));
        }
        let kind = self.kind(target);
        let pairs = pairs.chunks_exact(2).map(|c| (c[0], c[1]));
        match self.node_mut(target)? {
            Node::Dict(items) | Node::Object { items, .. } => items.extend(pairs),
            _ => return Err(self.err(format!("SETITEM on a {kind}"))),
        }
        Ok(())
    }

    fn run(mut self) -> Result<Pickle, FormatError> {
        loop {
            let opcode = self.u8()?;
            match opcode {
                op::PROTO => {
                    let v = self.u8()?;
                    if v > 5 {
                        return Err(self.err(format!("unsupported protocol {v}")));
                    }
                    self.protocol = v;
                }
                op::FRAME => {
                    // Frames only group opcodes for buffered reading; like CPython's C unpickler,
                    // check that the frame is present and read on through it.
                    let n = u64::from_le_bytes(self.le::<8>()?);
                    let remaining = (self.bytes.len() - self.pos) as u64;
                    if n > remaining {
                        return Err(
                            self.err(format!("truncated: {n}-byte frame, {remaining} bytes left"))
                        );
                    }
                }
                op::STOP => {
                    let root = self.top()?;
                    return Ok(Pickle {
                        nodes: self.nodes,
                        root,
                        protocol: self.protocol,
                        end: self.pos,
                    });
                }
                op::MARK => {
                    if self.marks.len() >= self.limits.max_depth {
                        return Err(FormatError::limit(
                            "pickle MARK nesting",
                            self.limits.max_depth as u64,
                        ));
                    }
                    self.marks.push(self.stack.len());
                }
                op::POP => {
                    if self.marks.last() == Some(&self.stack.len()) {
                        self.marks.pop();
                    } else {
                        self.pop()?;
                    }
                }
                op::POP_MARK => {
                    self.pop_mark()?;
                }
                op::DUP => {
                    let top = self.top()?;
                    self.push_id(top)?;
                }
                op::NONE => {
                    self.push_node(Node::None)?;
                }
                op::NEWTRUE => {
                    self.push_node(Node::Bool(true))?;
                }
                op::NEWFALSE => {
                    self.push_node(Node::Bool(false))?;
                }
                op::BININT => {
                    let v = i32::from_le_bytes(self.le::<4>()?);
                    self.push_node(Node::Int(i64::from(v)))?;
                }
                op::BININT1 => {
                    let v = self.u8()?;
                    self.push_node(Node::Int(i64::from(v)))?;
                }
                op::BININT2 => {
                    let v = u16::from_le_bytes(self.le::<2>()?);
                    self.push_node(Node::Int(i64::from(v)))?;
                }
                op::INT => {
                    let l = self.line_str()?.trim();
                    let node = match l {
                        "00" => Node::Bool(false),
                        "01" => Node::Bool(true),
                        _ => decimal_int(l).ok_or_else(|| self.err(format!("bad INT {l:?}")))?,
                    };
                    self.push_node(node)?;
                }
                op::LONG => {
                    let l = self.line_str()?.trim();
                    let digits = l.strip_suffix('L').unwrap_or(l);
                    let node =
                        decimal_int(digits).ok_or_else(|| self.err(format!("bad LONG {l:?}")))?;
                    self.push_node(node)?;
                }
                op::LONG1 => {
                    let n = usize::from(self.u8()?);
                    let b = self.take(n)?;
                    self.push_node(int_from_le(b))?;
                }
                op::LONG4 => {
                    let n = i32::from_le_bytes(self.le::<4>()?);
                    let n = usize::try_from(n).map_err(|_| self.err("negative LONG4 length"))?;
                    if n > MAX_LONG_BYTES {
                        return Err(FormatError::limit(
                            format!("pickle integer of {n} bytes"),
                            MAX_LONG_BYTES as u64,
                        ));
                    }
                    let b = self.take(n)?;
                    self.push_node(int_from_le(b))?;
                }
                op::BINFLOAT => {
                    let v = f64::from_be_bytes(self.le::<8>()?);
                    self.push_node(Node::Float(v))?;
                }
                op::FLOAT => {
                    let l = self.line_str()?.trim();
                    let v = l
                        .parse::<f64>()
                        .map_err(|_| self.err(format!("bad FLOAT {l:?}")))?;
                    self.push_node(Node::Float(v))?;
                }
                op::STRING => {
                    let l = self.line()?;
                    let b = unquote_py2(l).ok_or_else(|| self.err("bad STRING literal"))?;
                    self.str_or_bytes(&b)?;
                }
                op::BINSTRING => {
                    let n = i32::from_le_bytes(self.le::<4>()?);
                    let n = u64::try_from(n).map_err(|_| self.err("negative BINSTRING length"))?;
                    let n = self.len(n)?;
                    let b = self.take(n)?;
                    self.str_or_bytes(b)?;
                }
                op::SHORT_BINSTRING => {
                    let n = usize::from(self.u8()?);
                    let b = self.take(n)?;
                    self.str_or_bytes(b)?;
                }
                op::UNICODE => {
                    let l = self.line()?;
                    let s = raw_unicode_escape(l).ok_or_else(|| self.err("bad UNICODE literal"))?;
                    self.push_node(Node::Str(s))?;
                }
                op::BINUNICODE => {
                    let n = u32::from_le_bytes(self.le::<4>()?);
                    let n = self.len(u64::from(n))?;
                    let b = self.take(n)?;
                    self.unicode(b)?;
                }
                op::SHORT_BINUNICODE => {
                    let n = usize::from(self.u8()?);
                    let b = self.take(n)?;
                    self.unicode(b)?;
                }
                op::BINUNICODE8 => {
                    let n = u64::from_le_bytes(self.le::<8>()?);
                    let n = self.len(n)?;
                    let b = self.take(n)?;
                    self.unicode(b)?;
                }
                op::BINBYTES | op::SHORT_BINBYTES | op::BINBYTES8 | op::BYTEARRAY8 => {
                    let n = match opcode {
                        op::SHORT_BINBYTES => u64::from(self.u8()?),
                        op::BINBYTES => u64::from(u32::from_le_bytes(self.le::<4>()?)),
                        _ => u64::from_le_bytes(self.le::<8>()?),
                    };
                    let n = self.len(n)?;
                    let b = self.take(n)?.to_vec();
                    let node = if opcode == op::BYTEARRAY8 {
                        Node::ByteArray(b)
                    } else {
                        Node::Bytes(b)
                    };
                    self.push_node(node)?;
                }
                op::EMPTY_TUPLE => {
                    self.push_node(Node::Tuple(Vec::new()))?;
                }
                op::TUPLE1 | op::TUPLE2 | op::TUPLE3 => {
                    let n = usize::from(opcode - op::TUPLE1 + 1);
                    let mut items = vec![NodeId(0); n];
                    for slot in items.iter_mut().rev() {
                        *slot = self.pop()?;
                    }
                    self.push_node(Node::Tuple(items))?;
                }
                op::TUPLE => {
                    let items = self.pop_mark()?;
                    self.push_node(Node::Tuple(items))?;
                }
                op::EMPTY_LIST => {
                    self.push_node(Node::List(Vec::new()))?;
                }
                op::LIST => {
                    let items = self.pop_mark()?;
                    self.push_node(Node::List(items))?;
                }
                op::EMPTY_DICT => {
                    self.push_node(Node::Dict(Vec::new()))?;
                }
                op::DICT => {
                    let items = self.pop_mark()?;
                    if !items.len().is_multiple_of(2) {
                        return Err(self.err("DICT with an odd number of items"));
                    }
                    let pairs = items.chunks_exact(2).map(|c| (c[0], c[1])).collect();
                    self.push_node(Node::Dict(pairs))?;
                }
                op::EMPTY_SET => {
                    self.push_node(Node::Set(Vec::new()))?;
                }
                op::FROZENSET => {
                    let items = self.pop_mark()?;
                    self.push_node(Node::FrozenSet(items))?;
                }
                op::APPEND => {
                    let v = self.pop()?;
                    let target = self.top()?;
                    let kind = self.kind(target);
                    match self.node_mut(target)? {
                        Node::List(items) => items.push(v),
                        _ => return Err(self.err(format!("APPEND to a {kind}"))),
                    }
                }
                op::APPENDS => {
                    let vs = self.pop_mark()?;
                    let target = self.top()?;
                    let kind = self.kind(target);
                    match self.node_mut(target)? {
                        Node::List(items) => items.extend(vs),
                        _ => return Err(self.err(format!("APPENDS to a {kind}"))),
                    }
                }
                op::ADDITEMS => {
                    let vs = self.pop_mark()?;
                    let target = self.top()?;
                    let kind = self.kind(target);
                    match self.node_mut(target)? {
                        Node::Set(items) => items.extend(vs),
                        _ => return Err(self.err(format!("ADDITEMS to a {kind}"))),
                    }
                }
                op::SETITEM => {
                    let v = self.pop()?;
                    let k = self.pop()?;
                    let target = self.top()?;
                    self.add_items(target, vec![k, v])?;
                }
                op::SETITEMS => {
                    let kvs = self.pop_mark()?;
                    let target = self.top()?;
                    self.add_items(target, kvs)?;
                }
                op::GLOBAL => {
                    let module = self.line_str()?;
                    let name = self.line_str()?;
                    self.global(module, name)?;
                }
                op::STACK_GLOBAL => {
                    let name = self.pop()?;
                    let module = self.pop()?;
                    let (Some(Node::Str(m)), Some(Node::Str(n))) = (
                        self.nodes.get(module.0 as usize),
                        self.nodes.get(name.0 as usize),
                    ) else {
                        return Err(self.err("STACK_GLOBAL operands are not strings"));
                    };
                    let (m, n) = (m.clone(), n.clone());
                    self.global(&m, &n)?;
                }
                op::INST => {
                    let module = self.line_str()?;
                    let name = self.line_str()?;
                    self.global(module, name)?;
                    let class = self
                        .stack
                        .pop()
                        .ok_or_else(|| self.err("stack underflow"))?;
                    let args = self.pop_mark()?;
                    self.push_node(Node::Tuple(args))?;
                    let args = self
                        .stack
                        .pop()
                        .ok_or_else(|| self.err("stack underflow"))?;
                    self.object(class, args, None)?;
                }
                op::OBJ => {
                    let mut items = self.pop_mark()?;
                    if items.is_empty() {
                        return Err(self.err("OBJ without a class"));
                    }
                    let class = items.remove(0);
                    self.push_node(Node::Tuple(items))?;
                    let args = self
                        .stack
                        .pop()
                        .ok_or_else(|| self.err("stack underflow"))?;
                    self.object(class, args, None)?;
                }
                op::REDUCE | op::NEWOBJ => {
                    let args = self.pop()?;
                    let callable = self.pop()?;
                    self.object(callable, args, None)?;
                }
                op::NEWOBJ_EX => {
                    let kwargs = self.pop()?;
                    let args = self.pop()?;
                    let class = self.pop()?;
                    self.object(class, args, Some(kwargs))?;
                }
                op::BUILD => {
                    let state = self.pop()?;
                    let target = self.top()?;
                    let kind = self.kind(target);
                    match self.node_mut(target)? {
                        Node::Object { state: s, .. } => *s = Some(state),
                        _ => return Err(self.err(format!("BUILD on a {kind}"))),
                    }
                }
                op::BINPERSID => {
                    let pid = self.pop()?;
                    self.push_node(Node::PersistentId(pid))?;
                }
                op::PERSID => {
                    let l = self.line()?;
                    self.str_or_bytes(l)?;
                    let pid = self
                        .stack
                        .pop()
                        .ok_or_else(|| self.err("stack underflow"))?;
                    self.push_node(Node::PersistentId(pid))?;
                }
                op::GET => {
                    let key = self.text_key()?;
                    self.memo_get(key)?;
                }
                op::BINGET => {
                    let key = self.u8()?;
                    self.memo_get(u64::from(key))?;
                }
                op::LONG_BINGET => {
                    let key = u32::from_le_bytes(self.le::<4>()?);
                    self.memo_get(u64::from(key))?;
                }
                op::PUT => {
                    let key = self.text_key()?;
                    self.memo_put(key)?;
                }
                op::BINPUT => {
                    let key = self.u8()?;
                    self.memo_put(u64::from(key))?;
                }
                op::LONG_BINPUT => {
                    let key = u32::from_le_bytes(self.le::<4>()?);
                    self.memo_put(u64::from(key))?;
                }
                op::MEMOIZE => {
                    let key = self.memo.len() as u64;
                    self.memo_put(key)?;
                }
                op::EXT1 | op::EXT2 | op::EXT4 => {
                    return Err(FormatError::unsupported(
                        FORMAT,
                        "the copyreg extension registry (EXT opcodes)",
                    ));
                }
                op::NEXT_BUFFER | op::READONLY_BUFFER => {
                    return Err(FormatError::unsupported(FORMAT, "out-of-band buffers"));
                }
                other => {
                    self.pos -= 1;
                    return Err(self.err(format!("unknown opcode 0x{other:02x}")));
                }
            }
        }
    }
}

/// A protocol-0 decimal integer: an [`Node::Int`] when it fits, else a [`Node::BigInt`].
fn decimal_int(s: &str) -> Option<Node> {
    if let Ok(v) = s.parse::<i64>() {
        return Some(Node::Int(v));
    }
    let digits = s.strip_prefix(['-', '+']).unwrap_or(s);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(Node::BigInt(s.trim_start_matches('+').to_owned()))
}

/// A little-endian two's-complement integer (`LONG1` / `LONG4`).
fn int_from_le(b: &[u8]) -> Node {
    if b.is_empty() {
        return Node::Int(0);
    }
    if b.len() <= 8 {
        let fill = if b[b.len() - 1] & 0x80 != 0 { 0xff } else { 0 };
        let mut a = [fill; 8];
        a[..b.len()].copy_from_slice(b);
        return Node::Int(i64::from_le_bytes(a));
    }
    let negative = b[b.len() - 1] & 0x80 != 0;
    let mut mag: Vec<u8> = b.to_vec();
    if negative {
        // Two's complement: invert and add one to get the magnitude.
        let mut carry = true;
        for byte in &mut mag {
            *byte = !*byte;
            if carry {
                let (v, c) = byte.overflowing_add(1);
                *byte = v;
                carry = c;
            }
        }
    }
    let digits = le_magnitude_to_decimal(&mag);
    Node::BigInt(if negative {
        format!("-{digits}")
    } else {
        digits
    })
}

/// Decimal digits of an unsigned little-endian magnitude.
fn le_magnitude_to_decimal(le: &[u8]) -> String {
    // Base-2^32 limbs, most significant first, divided repeatedly by 10^9.
    let mut limbs: Vec<u32> = le
        .chunks(4)
        .rev()
        .map(|c| {
            let mut a = [0u8; 4];
            a[..c.len()].copy_from_slice(c);
            u32::from_le_bytes(a)
        })
        .collect();
    let mut groups = Vec::new();
    while limbs.iter().any(|&l| l != 0) {
        let mut rem = 0u64;
        for l in &mut limbs {
            let cur = (rem << 32) | u64::from(*l);
            *l = (cur / 1_000_000_000) as u32;
            rem = cur % 1_000_000_000;
        }
        groups.push(rem as u32);
    }
    match groups.split_last() {
        None => "0".to_owned(),
        Some((first, rest)) => {
            let mut s = first.to_string();
            for g in rest.iter().rev() {
                s.push_str(&format!("{g:09}"));
            }
            s
        }
    }
}

/// Decode a Python 2 `repr` of a byte string (`'abc'`, `"a'b"`, with `\x..`, `\n` ... escapes).
fn unquote_py2(l: &[u8]) -> Option<Vec<u8>> {
    let l = l.trim_ascii_end();
    let q = *l.first()?;
    if !(q == b'\'' || q == b'"') || l.len() < 2 || *l.last()? != q {
        return None;
    }
    let body = &l[1..l.len() - 1];
    let mut out = Vec::with_capacity(body.len());
    let mut i = 0;
    while i < body.len() {
        let c = body[i];
        i += 1;
        if c != b'\\' {
            out.push(c);
            continue;
        }
        let e = *body.get(i)?;
        i += 1;
        match e {
            b'n' => out.push(b'\n'),
            b'r' => out.push(b'\r'),
            b't' => out.push(b'\t'),
            b'a' => out.push(7),
            b'b' => out.push(8),
            b'f' => out.push(12),
            b'v' => out.push(11),
            b'\\' | b'\'' | b'"' => out.push(e),
            b'\n' => {}
            b'x' => {
                let h = std::str::from_utf8(body.get(i..i + 2)?).ok()?;
                out.push(u8::from_str_radix(h, 16).ok()?);
                i += 2;
            }
            b'0'..=b'7' => {
                let mut v = u32::from(e - b'0');
                let mut n = 1;
                while n < 3 {
                    match body.get(i) {
                        Some(&d @ b'0'..=b'7') => {
                            v = v * 8 + u32::from(d - b'0');
                            i += 1;
                            n += 1;
                        }
                        _ => break,
                    }
                }
                out.push((v & 0xff) as u8);
            }
            _ => {
                out.push(b'\\');
                out.push(e);
            }
        }
    }
    Some(out)
}

/// Decode Python's `raw-unicode-escape`: `\uXXXX` and `\UXXXXXXXX` escapes, other bytes Latin-1.
fn raw_unicode_escape(l: &[u8]) -> Option<String> {
    let mut out = String::with_capacity(l.len());
    let mut i = 0;
    while i < l.len() {
        let c = l[i];
        if c == b'\\' && matches!(l.get(i + 1), Some(b'u' | b'U')) {
            let n = if l[i + 1] == b'u' { 4 } else { 8 };
            let h = std::str::from_utf8(l.get(i + 2..i + 2 + n)?).ok()?;
            out.push(char::from_u32(u32::from_str_radix(h, 16).ok()?)?);
            i += 2 + n;
        } else {
            out.push(char::from(c));
            i += 1;
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(bytes: &[u8]) -> Result<Pickle, FormatError> {
        parse(bytes, &Limits::strict(), Globals::WeightsOnly)
    }

    #[test]
    fn forbidden_global_is_named_for_global_and_stack_global() {
        // protocol 0: cos\nsystem\n(S'echo'\ntR.
        let p0 = b"cos\nsystem\n(S'echo hi'\ntR.";
        match run(p0) {
            Err(FormatError::ForbiddenGlobal { module, name }) => {
                assert_eq!((module.as_str(), name.as_str()), ("os", "system"));
            }
            other => panic!("expected ForbiddenGlobal, got {other:?}"),
        }
        // protocol 4: STACK_GLOBAL from two SHORT_BINUNICODE strings.
        let mut p4 = vec![0x80, 4, 0x95];
        let body = b"\x8c\x05posix\x94\x8c\x06system\x94\x93\x94\x8c\x02id\x94\x85\x94R\x94.";
        p4.extend_from_slice(&(body.len() as u64).to_le_bytes());
        p4.extend_from_slice(body);
        match run(&p4) {
            Err(FormatError::ForbiddenGlobal { module, name }) => {
                assert_eq!((module.as_str(), name.as_str()), ("posix", "system"));
            }
            other => panic!("expected ForbiddenGlobal, got {other:?}"),
        }
        // Python 2 spellings are mapped before the check.
        match run(b"c__builtin__\neval\n(S'1'\ntR.") {
            Err(FormatError::ForbiddenGlobal { module, name }) => {
                assert_eq!((module.as_str(), name.as_str()), ("builtins", "eval"));
            }
            other => panic!("expected ForbiddenGlobal, got {other:?}"),
        }
        // INST names its class inline.
        assert!(matches!(
            run(b"(S'ls'\nisubprocess\ncheck_output\n."),
            Err(FormatError::ForbiddenGlobal { .. })
        ));
        // Recording mode keeps the global symbolically without calling anything.
        let p = parse(p0, &Limits::strict(), Globals::Any).expect("parse");
        let Node::Object { callable, .. } = p.node(p.root) else {
            panic!("expected an object")
        };
        assert_eq!(p.as_global(*callable), Some(("os", "system")));
    }

    #[test]
    fn builds_protocol_2_containers() {
        // {'a': [1, -2, 3.5, None, True], 'b': (b'xy', 'é')} with memo puts and gets.
        let mut b = vec![0x80, 2, b'}', b'q', 0, b'('];
        b.extend_from_slice(b"X\x01\x00\x00\x00a");
        b.extend_from_slice(
            b"]q\x01(K\x01J\xfe\xff\xff\xffG\x40\x0c\x00\x00\x00\x00\x00\x00N\x88e",
        );
        b.extend_from_slice(b"X\x01\x00\x00\x00b");
        b.extend_from_slice(b"c_codecs\nencode\nX\x02\x00\x00\x00xyX\x06\x00\x00\x00latin1\x86R");
        b.extend_from_slice(b"X\x02\x00\x00\x00\xc3\xa9\x86u.");
        let p = run(&b).expect("parse");
        let Node::Dict(items) = p.node(p.root) else {
            panic!("root is not a dict")
        };
        assert_eq!(items.len(), 2);
        assert_eq!(p.as_str(items[0].0), Some("a"));
        let list = p.as_seq(items[0].1).expect("list");
        let vals: Vec<&Node> = list.iter().map(|&i| p.node(i)).collect();
        assert_eq!(
            vals,
            vec![
                &Node::Int(1),
                &Node::Int(-2),
                &Node::Float(3.5),
                &Node::None,
                &Node::Bool(true)
            ]
        );
        let tuple = p.as_seq(items[1].1).expect("tuple");
        assert_eq!(p.as_str(tuple[1]), Some("é"));
        assert_eq!(p.end, b.len());
    }

    #[test]
    fn protocol_4_and_5_frames_short_strings_and_memoize() {
        // PROTO 5, FRAME, SHORT_BINUNICODE + MEMOIZE, SHORT_BINBYTES, BYTEARRAY8, BINGET,
        // EMPTY_LIST + APPENDS, LONG1 big integer.
        let mut body = Vec::new();
        body.extend_from_slice(b"]\x94(\x8c\x03abc\x94C\x02hi\x94");
        body.extend_from_slice(b"\x96\x01\x00\x00\x00\x00\x00\x00\x00z\x94h\x01");
        body.extend_from_slice(b"\x8a\x0a\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19e.");
        let mut b = vec![0x80, 5, 0x95];
        b.extend_from_slice(&(body.len() as u64).to_le_bytes());
        b.extend_from_slice(&body);
        let p = run(&b).expect("parse");
        assert_eq!(p.protocol, 5);
        let items = p.as_seq(p.root).expect("list");
        let vals: Vec<&Node> = items.iter().map(|&i| p.node(i)).collect();
        assert_eq!(
            vals,
            vec![
                &Node::Str("abc".into()),
                &Node::Bytes(b"hi".to_vec()),
                &Node::ByteArray(b"z".to_vec()),
                &Node::Str("abc".into()),
                &Node::BigInt("119547037146038801333356".into()),
            ]
        );
        // A frame longer than the data is refused.
        let mut bad = vec![0x80, 4, 0x95];
        bad.extend_from_slice(&1000u64.to_le_bytes());
        bad.extend_from_slice(b"N.");
        assert!(matches!(run(&bad), Err(FormatError::Malformed { .. })));
    }

    #[test]
    fn protocol_0_text_opcodes() {
        let b = b"(dp0\nS'k'\np1\n(lp2\nI42\naI01\naL123456789012345678901234567890L\naF1.5\naVcaf\\u00e9\np3\nag3\nasS'x\\n'\nNs.";
        let p = run(b).expect("parse");
        let Node::Dict(items) = p.node(p.root) else {
            panic!("not a dict")
        };
        let list = p.as_seq(items[0].1).expect("list");
        let vals: Vec<&Node> = list.iter().map(|&i| p.node(i)).collect();
        assert_eq!(
            vals,
            vec![
                &Node::Int(42),
                &Node::Bool(true),
                &Node::BigInt("123456789012345678901234567890".into()),
                &Node::Float(1.5),
                &Node::Str("café".into()),
                &Node::Str("café".into()),
            ]
        );
        assert_eq!(p.as_str(items[1].0), Some("x\n"));
    }

    #[test]
    fn negative_and_small_longs() {
        assert_eq!(int_from_le(&[0xff]), Node::Int(-1));
        assert_eq!(int_from_le(&[0x00, 0x80]), Node::Int(-32768));
        assert_eq!(int_from_le(&[]), Node::Int(0));
        let mut nine = vec![0u8; 8];
        nine.push(1); // 2^64
        assert_eq!(
            int_from_le(&nine),
            Node::BigInt("18446744073709551616".into())
        );
        let mut neg = vec![0u8; 8];
        neg.push(0xff); // -2^64
        assert_eq!(
            int_from_le(&neg),
            Node::BigInt("-18446744073709551616".into())
        );
    }

    #[test]
    fn memo_cycles_are_represented_without_looping() {
        // l = []; l.append(l); BUILD-free self reference through the memo.
        let b = b"\x80\x02]q\x00h\x00a.";
        let p = run(b).expect("parse");
        assert_eq!(p.as_seq(p.root), Some(&[p.root][..]));
    }

    #[test]
    fn truncated_and_malformed_input_is_an_error() {
        let good = b"\x80\x02}q\x00X\x01\x00\x00\x00aK\x01s.";
        assert!(run(good).is_ok());
        for n in 0..good.len() {
            assert!(run(&good[..n]).is_err(), "prefix of {n} bytes");
        }
        // Absurd lengths fail before allocating.
        assert!(run(b"\x80\x04\x8d\xff\xff\xff\xff\xff\xff\xff\x7f").is_err());
        assert!(run(b"X\xff\xff\xff\xff").is_err());
        assert!(run(b"\x8b\xff\xff\xff\x7f").is_err());
        // Stack underflow, unknown memo keys, unknown opcodes, APPEND to a non-list.
        assert!(run(b"R.").is_err());
        assert!(run(b"h\x05.").is_err());
        assert!(run(b"\xff").is_err());
        assert!(run(b"K\x01K\x02a.").is_err());
        assert!(run(b"(K\x01K\x02K\x03u.").is_err());
        assert!(run(b"K\x01N\x86Q.").is_ok());
        assert!(run(b"K\x01K\x02b.").is_err());
        // Popping across a MARK is refused.
        assert!(run(b"K\x01(\x85.").is_err());
    }

    #[test]
    fn nesting_and_size_limits() {
        let mut limits = Limits::strict();
        limits.max_depth = 10;
        let deep: Vec<u8> = std::iter::repeat_n(b'(', 11).chain(*b"N.").collect();
        assert!(matches!(
            parse(&deep, &limits, Globals::Any),
            Err(FormatError::Limit { .. })
        ));
        limits.max_pickle_items = 100;
        let many: Vec<u8> = std::iter::repeat_n(b'N', 200).chain(*b".").collect();
        assert!(matches!(
            parse(&many, &limits, Globals::Any),
            Err(FormatError::Limit { .. })
        ));
        limits.max_pickle_bytes = 10;
        assert!(matches!(
            parse(b"X\x10\x00\x00\x000123456789abcdef.", &limits, Globals::Any),
            Err(FormatError::Limit { .. })
        ));
    }

    #[test]
    fn allowlist() {
        assert!(weights_only_allows("torch._utils", "_rebuild_tensor_v2"));
        assert!(weights_only_allows("torch", "float8_e4m3fn"));
        assert!(weights_only_allows("collections", "OrderedDict"));
        assert!(!weights_only_allows("torch", "load"));
        assert!(!weights_only_allows("builtins", "eval"));
        assert!(!weights_only_allows("os", "system"));
        assert!(!weights_only_allows(
            "numpy.core.multiarray",
            "_reconstruct"
        ));
    }
}
