//! ONNX models: the initializers of a `ModelProto` and of its subgraphs, plus `Constant` node
//! values, with inline data (`raw_data` or the typed repeated fields) or external data files.
//!
//! The protobuf is walked by hand instead of being decoded with prost: `raw_data` of a
//! multi-gigabyte model must be addressed in place in the mapped file, and prost copies `bytes`
//! fields out of a borrowed buffer. Only the handful of messages below are read; every other
//! field is skipped without being decoded.

use std::collections::{HashMap, VecDeque};
use std::path::{Component, Path, PathBuf};

use serde_json::{Map, Value, json};
use weighhouse_tensor::{DType, Limits, byte_len};

use crate::error::{Error, FormatError, ResultExt};
use crate::parsed::{DataSource, Files, Format, OtherValue, Parsed, TensorView};
use crate::proto::{self, Fields, Wire, WireError};

const FORMAT: &str = "onnx";

/// Strings up to this many bytes in total are shown in [`Parsed::other`]; longer ones by size.
const MAX_SHOWN_STRING_BYTES: usize = 1024;

fn malformed(msg: impl Into<String>) -> FormatError {
    FormatError::malformed(FORMAT, msg)
}

// ---------------------------------------------------------------------------------------------
// Protobuf wire format, through the crate's one decoder ([`crate::proto`]).

/// A wire-format error as an ONNX [`FormatError`].
fn wire_error(e: WireError) -> FormatError {
    match e {
        WireError::UnsupportedWireType { number, wire } => malformed(format!(
            "field {number} has wire type {wire}, which ONNX does not use"
        )),
        e => malformed(e.to_string()),
    }
}

/// The next field of `fields`, with ONNX errors.
fn next_field<'a>(fields: &mut Fields<'a>) -> Result<Option<(u32, Wire<'a>)>, FormatError> {
    fields.next_field().map_err(wire_error)
}

fn read_varint(buf: &[u8], pos: &mut usize) -> Result<u64, FormatError> {
    proto::varint(buf, pos, proto::MAX_VARINT_BYTES).map_err(wire_error)
}

fn wrong_wire(msg: &str, number: u32, w: Wire<'_>) -> FormatError {
    malformed(format!("{msg} field {number} is a {} value", w.kind()))
}

fn bytes_field<'a>(msg: &str, number: u32, w: Wire<'a>) -> Result<&'a [u8], FormatError> {
    match w {
        Wire::Len(s) => Ok(s),
        _ => Err(wrong_wire(msg, number, w)),
    }
}

fn string_field<'a>(
    msg: &str,
    number: u32,
    w: Wire<'a>,
    limits: &Limits,
) -> Result<&'a str, FormatError> {
    let s = bytes_field(msg, number, w)?;
    if s.len() as u64 > limits.max_string_bytes {
        return Err(FormatError::limit(
            format!("{msg} field {number} ({} bytes)", s.len()),
            limits.max_string_bytes,
        ));
    }
    std::str::from_utf8(s).map_err(|_| malformed(format!("{msg} field {number} is not UTF-8")))
}

/// A `StringStringEntryProto { key = 1; value = 2 }` (external-data and metadata entries).
fn string_entry<'a>(buf: &'a [u8], limits: &Limits) -> Result<(&'a str, &'a str), FormatError> {
    const ENTRY: &str = "StringStringEntryProto";
    let (mut key, mut value) = ("", "");
    let mut fields = Fields::new(buf);
    while let Some((k, v)) = next_field(&mut fields)? {
        match k {
            1 => key = string_field(ENTRY, k, v, limits)?,
            2 => value = string_field(ENTRY, k, v, limits)?,
            _ => {}
        }
    }
    Ok((key, value))
}

fn varint_field(msg: &str, number: u32, w: Wire<'_>) -> Result<u64, FormatError> {
    match w {
        Wire::Varint(v) => Ok(v),
        _ => Err(wrong_wire(msg, number, w)),
    }
}

/// Call `f` for each value of a repeated varint field, packed or not.
fn each_varint(
    w: Wire<'_>,
    msg: &str,
    number: u32,
    mut f: impl FnMut(u64) -> Result<(), FormatError>,
) -> Result<(), FormatError> {
    match w {
        Wire::Varint(v) => f(v),
        Wire::Len(s) => {
            let mut pos = 0;
            while pos < s.len() {
                f(read_varint(s, &mut pos)?)?;
            }
            Ok(())
        }
        _ => Err(wrong_wire(msg, number, w)),
    }
}

// ---------------------------------------------------------------------------------------------
// ONNX types.

/// What an ONNX `TensorProto.DataType` code stands for here.
#[derive(Debug, Clone, Copy)]
enum OnnxType {
    Plain(DType),
    String,
    /// Sub-byte integer types with no counterpart in [`DType`].
    Opaque(&'static str),
}

fn onnx_type(code: u64) -> Option<OnnxType> {
    Some(match code {
        1 => OnnxType::Plain(DType::F32),
        2 => OnnxType::Plain(DType::U8),
        3 => OnnxType::Plain(DType::I8),
        4 => OnnxType::Plain(DType::U16),
        5 => OnnxType::Plain(DType::I16),
        6 => OnnxType::Plain(DType::I32),
        7 => OnnxType::Plain(DType::I64),
        8 => OnnxType::String,
        9 => OnnxType::Plain(DType::Bool),
        10 => OnnxType::Plain(DType::F16),
        11 => OnnxType::Plain(DType::F64),
        12 => OnnxType::Plain(DType::U32),
        13 => OnnxType::Plain(DType::U64),
        14 => OnnxType::Plain(DType::C64),
        15 => OnnxType::Plain(DType::C128),
        16 => OnnxType::Plain(DType::BF16),
        17 => OnnxType::Plain(DType::F8E4M3),
        18 => OnnxType::Plain(DType::F8E4M3Fnuz),
        19 => OnnxType::Plain(DType::F8E5M2),
        20 => OnnxType::Plain(DType::F8E5M2Fnuz),
        21 => OnnxType::Opaque("uint4"),
        22 => OnnxType::Opaque("int4"),
        23 => OnnxType::Plain(DType::F4),
        24 => OnnxType::Plain(DType::F8E8M0),
        25 => OnnxType::Opaque("uint2"),
        26 => OnnxType::Opaque("int2"),
        _ => return None,
    })
}

/// The typed repeated field that holds a dtype's values when `raw_data` is absent, and how many
/// little-endian bytes each value contributes.
fn typed_field(dtype: DType) -> Option<(u32, usize)> {
    Some(match dtype {
        DType::F32 | DType::C64 => (4, 4),
        DType::F64 | DType::C128 => (10, 8),
        DType::I64 => (7, 8),
        DType::U32 => (11, 4),
        DType::U64 => (11, 8),
        DType::I32 => (5, 4),
        DType::I16 | DType::U16 | DType::F16 | DType::BF16 => (5, 2),
        // Sub-byte F4 is packed two to an int32_data value, so each value is one byte.
        DType::I8
        | DType::U8
        | DType::Bool
        | DType::F8E4M3
        | DType::F8E4M3Fnuz
        | DType::F8E5M2
        | DType::F8E5M2Fnuz
        | DType::F8E8M0
        | DType::F4 => (5, 1),
        _ => return None,
    })
}

fn typed_field_name(number: u32) -> &'static str {
    match number {
        4 => "float_data",
        5 => "int32_data",
        7 => "int64_data",
        10 => "double_data",
        11 => "uint64_data",
        _ => "typed data",
    }
}

// ---------------------------------------------------------------------------------------------
// Decoding.

/// A tensor whose bytes live in an external file, to be resolved by [`open`].
#[derive(Debug)]
struct External {
    tensor: usize,
    location: String,
    offset: u64,
    length: Option<u64>,
    need: u64,
}

struct Ctx<'a> {
    root: &'a [u8],
    /// Subgraphs still to walk, with their nesting depth. Walking them from a queue rather than
    /// by recursion keeps deep nesting from exhausting the stack.
    pending: VecDeque<(&'a [u8], usize)>,
    limits: &'a Limits,
    parsed: Parsed,
    external: Vec<External>,
    /// Bytes decoded from typed fields so far.
    inflated: u64,
}

/// The parts of a `TensorProto` read in a first pass.
#[derive(Default)]
struct TensorHead<'a> {
    name: &'a str,
    dims: Vec<u64>,
    data_type: u64,
    raw: Option<&'a [u8]>,
    external: bool,
    entries: Vec<(&'a str, &'a str)>,
    typed_bytes: usize,
    strings: Vec<&'a [u8]>,
}

fn tensor_head<'a>(buf: &'a [u8], limits: &Limits) -> Result<TensorHead<'a>, FormatError> {
    const MSG: &str = "TensorProto";
    let mut h = TensorHead::default();
    let mut negative = false;
    let mut fields = Fields::new(buf);
    while let Some((n, w)) = next_field(&mut fields)? {
        match n {
            1 => each_varint(w, MSG, n, |d| {
                if h.dims.len() >= limits.max_dims {
                    return Err(FormatError::limit(
                        "tensor dimensions",
                        limits.max_dims as u64,
                    ));
                }
                negative |= (d as i64) < 0;
                h.dims.push(d);
                Ok(())
            })?,
            2 => h.data_type = varint_field(MSG, n, w)?,
            3 => {
                return Err(FormatError::unsupported(
                    FORMAT,
                    "tensors split into segments",
                ));
            }
            4 | 5 | 7 | 10 | 11 => {
                h.typed_bytes = h.typed_bytes.saturating_add(match w {
                    Wire::Len(s) => s.len(),
                    _ => 8,
                })
            }
            6 => h.strings.push(bytes_field(MSG, n, w)?),
            8 => h.name = string_field(MSG, n, w, limits)?,
            9 => h.raw = Some(bytes_field(MSG, n, w)?),
            13 => {
                h.entries
                    .push(string_entry(bytes_field(MSG, n, w)?, limits)?);
            }
            14 => h.external = varint_field(MSG, n, w)? == 1,
            _ => {}
        }
    }
    if negative {
        return Err(malformed(format!(
            "tensor {:?} has a negative dimension",
            h.name
        )));
    }
    Ok(h)
}

/// Decode the typed repeated field of a tensor into little-endian bytes.
fn decode_typed(
    buf: &[u8],
    name: &str,
    dtype: DType,
    need: u64,
    typed_bytes: usize,
) -> Result<Vec<u8>, FormatError> {
    let (field, width) = typed_field(dtype).ok_or_else(|| {
        FormatError::unsupported(FORMAT, format!("tensor {name:?}: {dtype} without raw_data"))
    })?;
    // Every value takes at least one input byte and at most 8 output bytes, so this bounds the
    // allocation by the input even when the shape is absurd.
    let cap = need.min(typed_bytes as u64 * 8);
    let mut out = Vec::with_capacity(usize::try_from(cap).unwrap_or(0));
    let too_many = || {
        malformed(format!(
            "tensor {name:?}: more values than its shape holds ({need} bytes)"
        ))
    };
    let mut push = |v: u64| -> Result<(), FormatError> {
        if out.len() as u64 + width as u64 > need {
            return Err(too_many());
        }
        out.extend_from_slice(&v.to_le_bytes()[..width]);
        Ok(())
    };
    let mut fields = Fields::new(buf);
    while let Some((n, w)) = next_field(&mut fields)? {
        if !matches!(n, 4 | 5 | 7 | 10 | 11) {
            continue;
        }
        if n != field {
            return Err(malformed(format!(
                "tensor {name:?} of type {dtype} has {}",
                typed_field_name(n)
            )));
        }
        match (n, w) {
            (4, Wire::Fixed32(v)) => push(u64::from(v))?,
            (10, Wire::Fixed64(v)) => push(v)?,
            (4 | 10, Wire::Len(s)) => {
                let step = if n == 4 { 4 } else { 8 };
                if s.len() % step != 0 {
                    return Err(malformed(format!(
                        "tensor {name:?}: packed {} of {} bytes",
                        typed_field_name(n),
                        s.len()
                    )));
                }
                for c in s.chunks_exact(step) {
                    let mut b = [0u8; 8];
                    b[..step].copy_from_slice(c);
                    push(u64::from_le_bytes(b))?;
                }
            }
            (5 | 7 | 11, w) => each_varint(w, "TensorProto", n, &mut push)?,
            (_, w) => return Err(wrong_wire("TensorProto", n, w)),
        }
    }
    if out.len() as u64 != need {
        return Err(malformed(format!(
            "tensor {name:?}: {} bytes of values, its shape needs {need}",
            out.len()
        )));
    }
    Ok(out)
}

/// Render string tensor values for [`Parsed::other`]: shown when short and printable.
fn strings_value(strings: &[&[u8]], shape: &[u64]) -> Value {
    let total: usize = strings.iter().map(|s| s.len()).sum();
    let shown: Option<Vec<&str>> = (total <= MAX_SHOWN_STRING_BYTES)
        .then(|| {
            strings
                .iter()
                .map(|s| {
                    std::str::from_utf8(s).ok().filter(|s| {
                        !s.chars()
                            .any(|c| c.is_control() && !matches!(c, '\n' | '\t' | '\r'))
                    })
                })
                .collect()
        })
        .flatten();
    match shown {
        Some(v) if shape.is_empty() && v.len() == 1 => {
            json!({"dtype": "string", "shape": shape, "value": v[0]})
        }
        Some(v) => json!({"dtype": "string", "shape": shape, "value": v}),
        None => json!({"dtype": "string", "shape": shape, "bytes": total}),
    }
}

impl<'a> Ctx<'a> {
    fn count_one(&self) -> Result<(), FormatError> {
        if (self.parsed.tensors.len() + self.parsed.other.len()) as u64 >= self.limits.max_tensors {
            return Err(FormatError::limit(
                "number of ONNX tensors",
                self.limits.max_tensors,
            ));
        }
        Ok(())
    }

    /// Byte offset of `s` (a subslice of the model) in the model.
    fn offset_of(&self, s: &[u8]) -> u64 {
        (s.as_ptr() as usize).wrapping_sub(self.root.as_ptr() as usize) as u64
    }

    /// Add the tensor in `buf`, named `name` (or its own name when `None`).
    fn tensor(&mut self, buf: &'a [u8], name: Option<&str>) -> Result<(), FormatError> {
        self.count_one()?;
        let h = tensor_head(buf, self.limits)?;
        let name = name.unwrap_or(h.name);
        if name.is_empty() {
            return Err(malformed("a tensor has no name"));
        }
        let ty = onnx_type(h.data_type).ok_or_else(|| {
            FormatError::unsupported(
                FORMAT,
                format!("tensor {name:?} has data type {}", h.data_type),
            )
        })?;
        let dtype = match ty {
            OnnxType::Plain(d) => d,
            OnnxType::String => {
                if h.strings.len() as u64 > self.limits.max_metadata_entries {
                    return Err(FormatError::limit(
                        format!("strings in {name:?}"),
                        self.limits.max_metadata_entries,
                    ));
                }
                self.parsed.other.push(OtherValue {
                    name: name.to_owned(),
                    value: strings_value(&h.strings, &h.dims),
                });
                return Ok(());
            }
            OnnxType::Opaque(what) => {
                self.parsed.other.push(OtherValue {
                    name: name.to_owned(),
                    value: json!({"dtype": what, "shape": h.dims}),
                });
                return Ok(());
            }
        };
        let need = byte_len(dtype, &h.dims).map_err(|source| FormatError::Shape {
            tensor: name.to_owned(),
            source,
        })?;
        let source = if h.external {
            let mut location = None;
            let mut offset = 0;
            let mut length = None;
            for &(k, v) in &h.entries {
                let number = || {
                    (!v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()))
                        .then(|| v.parse::<u64>().ok())
                        .flatten()
                        .ok_or_else(|| {
                            malformed(format!("tensor {name:?}: external data {k} {v:?}"))
                        })
                };
                match k {
                    "location" => location = Some(v.to_owned()),
                    "offset" => offset = number()?,
                    "length" => length = Some(number()?),
                    // `checksum` (SHA-1 of the file) and `basepath` are not needed to read it.
                    _ => {}
                }
            }
            let location = location.ok_or_else(|| {
                malformed(format!("tensor {name:?}: external data without a location"))
            })?;
            self.external.push(External {
                tensor: self.parsed.tensors.len(),
                location,
                offset,
                length,
                need,
            });
            // Re-pointed at the external file by `open`.
            DataSource::file(0, 0)
        } else if let Some(raw) = h.raw {
            if raw.len() as u64 != need {
                return Err(malformed(format!(
                    "tensor {name:?}: raw_data has {} bytes, {dtype} {:?} needs {need}",
                    raw.len(),
                    h.dims
                )));
            }
            DataSource::file(0, self.offset_of(raw))
        } else {
            let budget = self.limits.max_inflated_bytes.saturating_sub(self.inflated);
            if need > budget {
                return Err(FormatError::limit(
                    format!("decoded typed tensor data ({name:?}: {need} bytes)"),
                    self.limits.max_inflated_bytes,
                ));
            }
            let bytes = decode_typed(buf, name, dtype, need, h.typed_bytes)?;
            self.inflated += need;
            DataSource::owned(bytes)
        };
        self.parsed.tensors.push(TensorView {
            name: name.to_owned(),
            dtype,
            shape: h.dims,
            file: 0,
            source,
        });
        Ok(())
    }

    /// Queue a graph found at nesting `depth` (0 for the model's own graphs).
    fn push_graph(&mut self, buf: &'a [u8], depth: usize) -> Result<(), FormatError> {
        if depth > self.limits.max_depth {
            return Err(FormatError::limit(
                "nesting of ONNX subgraphs",
                self.limits.max_depth as u64,
            ));
        }
        self.pending.push_back((buf, depth));
        Ok(())
    }

    /// Walk every queued graph, breadth first: the main graph's tensors come before those of
    /// its subgraphs.
    fn walk(&mut self) -> Result<(), FormatError> {
        while let Some((buf, depth)) = self.pending.pop_front() {
            self.graph(buf, depth)?;
        }
        Ok(())
    }

    fn graph(&mut self, buf: &'a [u8], depth: usize) -> Result<(), FormatError> {
        let mut fields = Fields::new(buf);
        while let Some((n, w)) = next_field(&mut fields)? {
            match n {
                1 => self.node(bytes_field("GraphProto", n, w)?, depth)?,
                5 => self.tensor(bytes_field("GraphProto", n, w)?, None)?,
                15 => self.sparse(bytes_field("GraphProto", n, w)?, None)?,
                _ => {}
            }
        }
        Ok(())
    }

    /// Record a sparse tensor (not read as a tensor: there is no dense form in the file).
    fn sparse(&mut self, buf: &'a [u8], name: Option<&str>) -> Result<(), FormatError> {
        self.count_one()?;
        let mut values = None;
        let mut dims = Vec::new();
        let mut fields = Fields::new(buf);
        while let Some((n, w)) = next_field(&mut fields)? {
            match n {
                1 => {
                    values = Some(tensor_head(
                        bytes_field("SparseTensorProto", n, w)?,
                        self.limits,
                    )?)
                }
                3 => each_varint(w, "SparseTensorProto", n, |d| {
                    if dims.len() >= self.limits.max_dims {
                        return Err(FormatError::limit(
                            "tensor dimensions",
                            self.limits.max_dims as u64,
                        ));
                    }
                    dims.push(d as i64);
                    Ok(())
                })?,
                _ => {}
            }
        }
        let values = values.unwrap_or_default();
        let name = name.unwrap_or(values.name);
        let dtype = match onnx_type(values.data_type) {
            Some(OnnxType::Plain(d)) => d.name().to_owned(),
            Some(OnnxType::String) => "string".to_owned(),
            Some(OnnxType::Opaque(s)) => s.to_owned(),
            None => values.data_type.to_string(),
        };
        self.parsed.other.push(OtherValue {
            name: name.to_owned(),
            value: json!({"sparse": true, "dtype": dtype, "shape": dims, "values_shape": values.dims}),
        });
        Ok(())
    }

    fn node(&mut self, buf: &'a [u8], depth: usize) -> Result<(), FormatError> {
        const MSG: &str = "NodeProto";
        let mut output = None;
        let mut node_name = "";
        let mut op_type = "";
        let mut domain = "";
        let mut attributes = Vec::new();
        let mut fields = Fields::new(buf);
        while let Some((n, w)) = next_field(&mut fields)? {
            match n {
                2 if output.is_none() => output = Some(string_field(MSG, n, w, self.limits)?),
                3 => node_name = string_field(MSG, n, w, self.limits)?,
                4 => op_type = string_field(MSG, n, w, self.limits)?,
                5 => attributes.push(bytes_field(MSG, n, w)?),
                7 => domain = string_field(MSG, n, w, self.limits)?,
                _ => {}
            }
        }
        let constant = op_type == "Constant" && (domain.is_empty() || domain == "ai.onnx");
        let label = output.filter(|o| !o.is_empty()).unwrap_or(node_name);
        for attr in attributes {
            self.attribute(attr, depth, constant, label)?;
        }
        Ok(())
    }

    /// Walk one attribute: subgraphs are descended into; a `Constant` node's value becomes a
    /// tensor named after the node's output; other tensors and constants are recorded as values.
    fn attribute(
        &mut self,
        buf: &'a [u8],
        depth: usize,
        constant: bool,
        label: &str,
    ) -> Result<(), FormatError> {
        const MSG: &str = "AttributeProto";
        let mut name = "";
        let mut tensors = Vec::new();
        let mut sparse = Vec::new();
        let mut scalar: Option<Value> = None;
        let mut list: Vec<Value> = Vec::new();
        let mut fields = Fields::new(buf);
        while let Some((n, w)) = next_field(&mut fields)? {
            match n {
                1 => name = string_field(MSG, n, w, self.limits)?,
                2 => {
                    if let Wire::Fixed32(v) = w {
                        scalar = Some(json!(f32::from_bits(v)));
                    }
                }
                3 => scalar = Some(json!(varint_field(MSG, n, w)? as i64)),
                4 => {
                    let s = bytes_field(MSG, n, w)?;
                    scalar = Some(match std::str::from_utf8(s) {
                        Ok(s) if s.len() <= MAX_SHOWN_STRING_BYTES => json!(s),
                        _ => json!({"bytes": s.len()}),
                    });
                }
                5 | 10 => tensors.push(bytes_field(MSG, n, w)?),
                6 | 11 => self.push_graph(bytes_field(MSG, n, w)?, depth + 1)?,
                7 if constant => match w {
                    Wire::Fixed32(v) => list.push(json!(f32::from_bits(v))),
                    Wire::Len(s) => {
                        for c in s.chunks_exact(4) {
                            list.push(json!(f32::from_bits(u32::from_le_bytes(
                                c.try_into().unwrap_or([0; 4])
                            ))));
                        }
                    }
                    _ => return Err(wrong_wire(MSG, n, w)),
                },
                8 if constant => each_varint(w, MSG, n, |v| {
                    list.push(json!(v as i64));
                    Ok(())
                })?,
                9 if constant => {
                    let s = bytes_field(MSG, n, w)?;
                    list.push(json!(String::from_utf8_lossy(s)));
                }
                22 | 23 => sparse.push(bytes_field(MSG, n, w)?),
                _ => {}
            }
            if list.len() as u64 > self.limits.max_metadata_entries {
                return Err(FormatError::limit(
                    "values of a Constant attribute",
                    self.limits.max_metadata_entries,
                ));
            }
        }
        if constant {
            match name {
                "value" => {
                    for t in tensors {
                        // Named after the output that refers to it; the tensor's own name (often
                        // empty) only when the node has no usable name.
                        self.tensor(t, (!label.is_empty()).then_some(label))?;
                    }
                }
                "sparse_value" => {
                    for s in sparse {
                        self.sparse(s, (!label.is_empty()).then_some(label))?;
                    }
                }
                _ => {
                    self.count_one()?;
                    let value = scalar.unwrap_or(Value::Array(list));
                    self.parsed.other.push(OtherValue {
                        name: label.to_owned(),
                        value: json!({"op": "Constant", "attribute": name, "value": value}),
                    });
                }
            }
            return Ok(());
        }
        // A tensor-valued attribute of another operator (ConstantOfShape's fill value...).
        for t in tensors {
            self.count_one()?;
            let h = tensor_head(t, self.limits)?;
            let dtype = match onnx_type(h.data_type) {
                Some(OnnxType::Plain(d)) => d.name().to_owned(),
                Some(OnnxType::String) => "string".to_owned(),
                Some(OnnxType::Opaque(s)) => s.to_owned(),
                None => h.data_type.to_string(),
            };
            self.parsed.other.push(OtherValue {
                name: format!("{label}.{name}"),
                value: json!({"attribute": name, "dtype": dtype, "shape": h.dims}),
            });
        }
        Ok(())
    }
}

/// Decode a model: its tensors and metadata, plus the tensors whose data is external.
fn decode(bytes: &[u8], limits: &Limits) -> Result<(Parsed, Vec<External>), FormatError> {
    const MSG: &str = "ModelProto";
    let mut ctx = Ctx {
        root: bytes,
        pending: VecDeque::new(),
        limits,
        parsed: Parsed::new(Format::Onnx),
        external: Vec::new(),
        inflated: 0,
    };
    let mut graphs = Vec::new();
    let mut training = Vec::new();
    let mut opsets = Vec::new();
    let mut props = Map::new();
    let mut meta = Map::new();
    let mut fields = Fields::new(bytes);
    while let Some((n, w)) = next_field(&mut fields)? {
        match n {
            1 => {
                meta.insert("ir_version".into(), json!(varint_field(MSG, n, w)?));
            }
            2 => {
                meta.insert(
                    "producer_name".into(),
                    json!(string_field(MSG, n, w, limits)?),
                );
            }
            3 => {
                meta.insert(
                    "producer_version".into(),
                    json!(string_field(MSG, n, w, limits)?),
                );
            }
            4 => {
                meta.insert("domain".into(), json!(string_field(MSG, n, w, limits)?));
            }
            5 => {
                meta.insert(
                    "model_version".into(),
                    json!(varint_field(MSG, n, w)? as i64),
                );
            }
            7 => graphs.push(bytes_field(MSG, n, w)?),
            8 => {
                let mut domain = "";
                let mut version = 0i64;
                let mut f = Fields::new(bytes_field(MSG, n, w)?);
                while let Some((k, v)) = next_field(&mut f)? {
                    match k {
                        1 => domain = string_field("OperatorSetIdProto", k, v, limits)?,
                        2 => version = varint_field("OperatorSetIdProto", k, v)? as i64,
                        _ => {}
                    }
                }
                opsets.push(json!({"domain": domain, "version": version}));
            }
            14 => {
                let (key, value) = string_entry(bytes_field(MSG, n, w)?, limits)?;
                props.insert(key.to_owned(), json!(value));
            }
            20 => training.push(bytes_field(MSG, n, w)?),
            _ => {}
        }
        if (opsets.len() + props.len()) as u64 > limits.max_metadata_entries {
            return Err(FormatError::limit(
                "ONNX metadata entries",
                limits.max_metadata_entries,
            ));
        }
    }
    if graphs.is_empty() {
        return Err(malformed("the model has no graph"));
    }
    for g in graphs {
        ctx.push_graph(g, 0)?;
    }
    // TrainingInfoProto: `initialization` (1) and `algorithm` (2) graphs.
    for t in training {
        let mut f = Fields::new(t);
        while let Some((k, v)) = next_field(&mut f)? {
            if k == 1 || k == 2 {
                ctx.push_graph(bytes_field("TrainingInfoProto", k, v)?, 0)?;
            }
        }
    }
    ctx.walk()?;
    meta.insert("opset_import".into(), Value::Array(opsets));
    if !props.is_empty() {
        meta.insert("metadata_props".into(), Value::Object(props));
    }
    ctx.parsed.metadata = meta;
    Ok((ctx.parsed, ctx.external))
}

/// True when `bytes` decode as an ONNX `ModelProto` with a graph.
///
/// Protobuf has no magic number, so this checks structure: every top-level field is well formed
/// and of the right wire type for `ModelProto`, the fields end exactly at the end of the input, an
/// `ir_version` and a `graph` are present, and the graph's own top-level fields are well formed.
/// Only top-level fields are visited, so this is fast even for a large model.
pub fn looks_like_onnx(bytes: &[u8], _limits: &Limits) -> bool {
    let mut fields = Fields::new(bytes);
    let mut first = true;
    let mut ir_version = false;
    let mut graph = None;
    loop {
        let (n, w) = match fields.next_field() {
            Ok(Some(f)) => f,
            Ok(None) => break,
            Err(_) => return false,
        };
        let ok = match (n, w) {
            (1 | 5, Wire::Varint(_)) => true,
            (2 | 3 | 4 | 6 | 7 | 8 | 14 | 20 | 25 | 26, Wire::Len(_)) => true,
            (1..=8 | 14 | 20 | 25 | 26, _) => false,
            // Unknown (newer) fields are allowed, but not as the very first one.
            _ => !first,
        };
        if !ok {
            return false;
        }
        first = false;
        match (n, w) {
            (1, _) => ir_version = true,
            (7, Wire::Len(g)) => graph = Some(g),
            _ => {}
        }
    }
    let Some(graph) = graph else {
        return false;
    };
    if !ir_version {
        return false;
    }
    let mut fields = Fields::new(graph);
    loop {
        match fields.next_field() {
            Ok(Some((1 | 2 | 5 | 10..=16, Wire::Len(_)))) => {}
            Ok(Some((1 | 2 | 5 | 10..=16, _))) | Err(_) => return false,
            Ok(Some(_)) => {}
            Ok(None) => return true,
        }
    }
}

/// Parse an ONNX model held in `bytes`, with inline data only (external data is refused).
pub fn parse(bytes: &[u8], limits: &Limits) -> Result<Parsed, FormatError> {
    let (parsed, external) = decode(bytes, limits)?;
    if let Some(e) = external.first() {
        let name = parsed
            .tensors
            .get(e.tensor)
            .map(|t| t.name.as_str())
            .unwrap_or("");
        return Err(FormatError::unsupported(
            FORMAT,
            format!(
                "tensor {name:?} keeps its data in the external file {:?}; open the model file itself",
                e.location
            ),
        ));
    }
    Ok(parsed)
}

/// Resolve an external data `location` against the model's folder, refusing anything that could
/// name a file outside it: absolute paths, `..`, drive prefixes, and symlinks that lead out.
fn resolve_location(model: &Path, location: &str) -> Result<PathBuf, FormatError> {
    let escape = || {
        malformed(format!(
            "external data location {location:?} lies outside the model's folder"
        ))
    };
    if location.is_empty() || location.contains('\0') {
        return Err(malformed(format!("external data location {location:?}")));
    }
    // Windows separators and drive letters too, so a file made for Windows cannot escape there.
    let windows_like = location.starts_with('\\')
        || location.split(['/', '\\']).any(|c| c == "..")
        || location.as_bytes().get(1) == Some(&b':');
    let rel = Path::new(location);
    if windows_like
        || !rel
            .components()
            .all(|c| matches!(c, Component::Normal(_) | Component::CurDir))
    {
        return Err(escape());
    }
    let dir = match model.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_owned(),
        _ => PathBuf::from("."),
    };
    let dir = dir.canonicalize()?;
    let target = dir.join(rel).canonicalize().map_err(|e| {
        FormatError::Io(std::io::Error::new(
            e.kind(),
            format!("external data file {location:?}: {e}"),
        ))
    })?;
    if !target.starts_with(&dir) {
        return Err(escape());
    }
    Ok(target)
}

/// Open the ONNX model `files[id]`, opening external data files beside it.
pub(crate) fn open(files: &mut Files, id: usize, limits: &Limits) -> Result<Parsed, Error> {
    let path = files.path(id).to_owned();
    let (mut parsed, external) = decode(files.bytes(id), limits).at(&path)?;
    parsed.remap_files(|_| id);
    let mut opened: HashMap<String, usize> = HashMap::new();
    for e in external {
        let file = match opened.get(&e.location) {
            Some(&f) => f,
            None => {
                let target = resolve_location(&path, &e.location).at(&path)?;
                let f = files.open(&target)?;
                opened.insert(e.location.clone(), f);
                f
            }
        };
        let Some(t) = parsed.tensors.get_mut(e.tensor) else {
            continue;
        };
        if let Some(len) = e.length
            && len != e.need
        {
            return Err(Error::new(
                &path,
                malformed(format!(
                    "tensor {:?}: external data length {len}, {} {:?} needs {}",
                    t.name, t.dtype, t.shape, e.need
                )),
            ));
        }
        t.file = file;
        t.source = DataSource::file(file, e.offset);
    }
    Ok(parsed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Base;
    use crate::proto::put_varint as varint;

    fn fv(n: u32, v: u64) -> Vec<u8> {
        let mut out = Vec::new();
        varint(&mut out, u64::from(n) << 3);
        varint(&mut out, v);
        out
    }

    fn fl(n: u32, body: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        varint(&mut out, (u64::from(n) << 3) | 2);
        varint(&mut out, body.len() as u64);
        out.extend_from_slice(body);
        out
    }

    fn tensor(name: &str, dtype: u64, dims: &[u64], rest: &[u8]) -> Vec<u8> {
        let mut t = Vec::new();
        for &d in dims {
            t.extend(fv(1, d));
        }
        t.extend(fv(2, dtype));
        t.extend(fl(8, name.as_bytes()));
        t.extend_from_slice(rest);
        t
    }

    fn model(graph: &[u8]) -> Vec<u8> {
        let mut m = fv(1, 8);
        m.extend(fl(2, b"test"));
        m.extend(fl(7, graph));
        let mut opset = fl(1, b"");
        opset.extend(fv(2, 17));
        m.extend(fl(8, &opset));
        m
    }

    fn f32_bytes(v: &[f32]) -> Vec<u8> {
        v.iter().flat_map(|x| x.to_le_bytes()).collect()
    }

    #[test]
    fn raw_data_is_addressed_in_place() {
        let raw = f32_bytes(&[1.0, 2.0, 3.0, 4.0]);
        let g = fl(5, &tensor("w", 1, &[2, 2], &fl(9, &raw)));
        let m = model(&g);
        assert!(looks_like_onnx(&m, &Limits::strict()));
        let p = parse(&m, &Limits::strict()).expect("parse");
        let t = &p.tensors[0];
        assert_eq!(
            (t.name.as_str(), t.dtype, t.shape.as_slice()),
            ("w", DType::F32, &[2u64, 2][..])
        );
        assert!(matches!(t.source.base, Base::File(0)));
        let at = t.source.offset as usize;
        assert_eq!(&m[at..at + 16], raw.as_slice());
        assert_eq!(p.metadata["ir_version"], 8);
        assert_eq!(p.metadata["producer_name"], "test");
        assert_eq!(p.metadata["opset_import"][0]["version"], 17);
    }

    #[test]
    fn typed_fields_are_decoded() {
        let mut g = Vec::new();
        // float_data, packed.
        g.extend(fl(
            5,
            &tensor("f", 1, &[2], &fl(4, &f32_bytes(&[1.5, -2.0]))),
        ));
        // int64_data, unpacked, with a negative value.
        let mut i64s = fv(7, 5);
        i64s.extend(fv(7, (-3i64) as u64));
        g.extend(fl(5, &tensor("i", 7, &[2], &i64s)));
        // FLOAT16 bit patterns in int32_data.
        let mut packed = Vec::new();
        varint(&mut packed, 0x3c00);
        varint(&mut packed, 0xc000);
        g.extend(fl(5, &tensor("h", 10, &[2], &fl(5, &packed))));
        // INT8 in int32_data (sign-extended varint).
        g.extend(fl(5, &tensor("b", 3, &[1], &fv(5, (-2i64) as u64))));
        // A scalar double.
        let mut d = vec![(10 << 3) | 1];
        d.extend_from_slice(&2.5f64.to_le_bytes());
        g.extend(fl(5, &tensor("d", 11, &[], &d)));
        let p = parse(&model(&g), &Limits::strict()).expect("parse");
        let owned = |i: usize| match &p.tensors[i].source.base {
            Base::Owned(b) => b.to_vec(),
            Base::File(_) => panic!("not decoded"),
        };
        assert_eq!(owned(0), f32_bytes(&[1.5, -2.0]));
        let want: Vec<u8> = [5i64, -3].iter().flat_map(|v| v.to_le_bytes()).collect();
        assert_eq!(owned(1), want);
        assert_eq!(owned(2), vec![0x00, 0x3c, 0x00, 0xc0]);
        assert_eq!(owned(3), vec![0xfe]);
        assert_eq!(owned(4), 2.5f64.to_le_bytes().to_vec());
    }

    #[test]
    fn value_counts_must_match_the_shape() {
        let g = fl(5, &tensor("f", 1, &[3], &fl(4, &f32_bytes(&[1.0, 2.0]))));
        assert!(parse(&model(&g), &Limits::strict()).is_err());
        let g = fl(5, &tensor("f", 1, &[1], &fl(4, &f32_bytes(&[1.0, 2.0]))));
        assert!(parse(&model(&g), &Limits::strict()).is_err());
        // An absurd shape with little data is refused without allocating for the shape.
        let g = fl(5, &tensor("f", 1, &[1 << 40], &fl(4, &f32_bytes(&[1.0]))));
        assert!(parse(&model(&g), &Limits::default()).is_err());
        // raw_data of the wrong size.
        let g = fl(5, &tensor("f", 1, &[2], &fl(9, &[0; 7])));
        assert!(parse(&model(&g), &Limits::strict()).is_err());
        // The wrong typed field.
        let g = fl(5, &tensor("f", 1, &[1], &fv(7, 1)));
        assert!(parse(&model(&g), &Limits::strict()).is_err());
        // A negative dimension.
        let g = fl(5, &tensor("f", 1, &[u64::MAX], &[]));
        assert!(parse(&model(&g), &Limits::strict()).is_err());
    }

    #[test]
    fn constant_nodes_and_subgraphs_are_read() {
        let value = tensor("", 1, &[1], &fl(9, &f32_bytes(&[7.0])));
        let mut attr = fl(1, b"value");
        attr.extend(fl(5, &value));
        let mut node = fl(2, b"c_out");
        node.extend(fl(4, b"Constant"));
        node.extend(fl(5, &attr));
        // An If node whose branch holds an initializer.
        let branch = fl(5, &tensor("inner", 6, &[1], &fl(9, &3i32.to_le_bytes())));
        let mut attr = fl(1, b"then_branch");
        attr.extend(fl(6, &branch));
        let mut if_node = fl(2, b"if_out");
        if_node.extend(fl(4, b"If"));
        if_node.extend(fl(5, &attr));
        // A Constant holding a list of ints.
        let mut attr = fl(1, b"value_ints");
        let mut ints = Vec::new();
        varint(&mut ints, 4);
        varint(&mut ints, 5);
        attr.extend(fl(8, &ints));
        let mut ints_node = fl(2, b"shape_const");
        ints_node.extend(fl(4, b"Constant"));
        ints_node.extend(fl(5, &attr));
        let mut g = fl(1, &node);
        g.extend(fl(1, &if_node));
        g.extend(fl(1, &ints_node));
        g.extend(fl(
            5,
            &tensor("s", 8, &[2], &[fl(6, b"ab"), fl(6, b"c")].concat()),
        ));
        let p = parse(&model(&g), &Limits::strict()).expect("parse");
        let names: Vec<_> = p.tensors.iter().map(|t| t.name.as_str()).collect();
        assert_eq!(names, ["c_out", "inner"]);
        assert_eq!(p.other[0].name, "shape_const");
        assert_eq!(p.other[0].value["value"], json!([4, 5]));
        assert_eq!(p.other[1].name, "s");
        assert_eq!(p.other[1].value["value"], json!(["ab", "c"]));
    }

    #[test]
    fn external_data_needs_the_file() {
        let mut ext = fl(13, &[fl(1, b"location"), fl(2, b"w.bin")].concat());
        ext.extend(fv(14, 1));
        let g = fl(5, &tensor("w", 1, &[2], &ext));
        let e = parse(&model(&g), &Limits::strict()).unwrap_err();
        assert!(matches!(e, FormatError::Unsupported { .. }), "{e}");
    }

    #[test]
    fn locations_outside_the_folder_are_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let model = dir.path().join("m.onnx");
        std::fs::write(dir.path().join("w.bin"), [0u8; 8]).expect("write");
        assert!(resolve_location(&model, "w.bin").is_ok());
        assert!(resolve_location(&model, "./w.bin").is_ok());
        for bad in [
            "../w.bin",
            "/etc/passwd",
            "a/../../w.bin",
            "..\\w.bin",
            "\\\\server\\share",
            "C:\\w.bin",
            "",
        ] {
            assert!(resolve_location(&model, bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn malformed_protobuf_is_an_error() {
        let good = model(&fl(5, &tensor("w", 1, &[1], &fl(9, &[0; 4]))));
        // Truncated varint (a key with the continuation bit set, then nothing).
        assert!(parse(&[0x08, 0x80], &Limits::strict()).is_err());
        // A length running past the end.
        assert!(parse(&[0x3a, 0x10, 0x00], &Limits::strict()).is_err());
        // A varint of eleven bytes.
        assert!(
            parse(
                &[
                    0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01
                ],
                &Limits::strict()
            )
            .is_err()
        );
        // Group wire types.
        assert!(parse(&[0x0b], &Limits::strict()).is_err());
        // No graph.
        assert!(parse(&fv(1, 8), &Limits::strict()).is_err());
        for cut in 0..good.len() {
            let _ = parse(&good[..cut], &Limits::strict());
            let mut flipped = good.clone();
            flipped[cut] ^= 0x5a;
            let _ = parse(&flipped, &Limits::strict());
        }
    }

    fn nested(levels: usize) -> Vec<u8> {
        let mut g = fl(5, &tensor("leaf", 1, &[1], &fl(9, &[0; 4])));
        for _ in 0..levels {
            let mut attr = fl(1, b"body");
            attr.extend(fl(6, &g));
            let mut node = fl(4, b"Loop");
            node.extend(fl(5, &attr));
            g = fl(1, &node);
        }
        model(&g)
    }

    #[test]
    fn deep_subgraph_nesting_is_bounded() {
        let l = Limits::strict();
        assert!(parse(&nested(l.max_depth), &l).is_ok());
        let e = parse(&nested(l.max_depth + 1), &l).unwrap_err();
        assert!(matches!(e, FormatError::Limit { .. }), "{e}");
        let e = parse(&nested(5000), &Limits::default()).unwrap_err();
        assert!(matches!(e, FormatError::Limit { .. }), "{e}");
    }

    #[test]
    fn sniffing_does_not_misfire() {
        let l = Limits::strict();
        assert!(!looks_like_onnx(b"", &l));
        assert!(!looks_like_onnx(b"hello world", &l));
        assert!(!looks_like_onnx(b"{\"weight_map\": {}}", &l));
        assert!(!looks_like_onnx(&fv(1, 8), &l));
        // A graph that is not a message.
        let mut m = fv(1, 8);
        m.extend(fl(7, &[0x0b, 0x00]));
        assert!(!looks_like_onnx(&m, &l));
        // Pseudo-random bytes never look like a model.
        let mut x = 0x2545_f491_4f6c_dd1du64;
        for len in 1..2000 {
            let bytes: Vec<u8> = (0..len)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    x as u8
                })
                .collect();
            assert!(!looks_like_onnx(&bytes, &l), "{bytes:?}");
        }
    }
}
