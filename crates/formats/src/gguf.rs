//! GGUF v2/v3 reader: the header, key-values and tensor infos, checked the way ggml's own reader
//! (`gguf.cpp`) checks them, with every tensor described zero-copy in the file.
//!
//! Hand-written rather than taken from a crate: the GGUF crates on crates.io lag the ggml type
//! table (none knows NVFP4, Q1_0 or Q2_0; one has wrong ids) and do not bound what they allocate.
//!
//! # Metadata
//!
//! Every key-value lands in [`Parsed::metadata`] under its own key, as JSON:
//!
//! * integers as JSON numbers, bools as JSON bools, strings as JSON strings, kept whole (so
//!   `tokenizer.chat_template` can be scanned); invalid UTF-8 in a string value is replaced by
//!   U+FFFD. Floats as JSON numbers (an F32 by its shortest decimal form); NaN and the infinities,
//!   which JSON cannot hold, as the strings `"NaN"`, `"Infinity"` and `"-Infinity"`.
//! * an array of at most [`ARRAY_KEEP`] elements as a plain JSON array;
//! * a longer array (`tokenizer.ggml.tokens` has 100 000+ strings) as an object
//!   `{"type": "array", "elem_type": "string", "len": N, "items": [the first ARRAY_KEEP elements]}`.
//!
//! The reader adds `gguf.version` (2 or 3), `gguf.alignment` (the alignment in effect) and, for a
//! big-endian file only, `gguf.endianness: "big"`; these replace any key-value of the same name.

use std::collections::HashSet;

use serde_json::{Map, Value};
use weighhouse_tensor::{DType, GgmlBlock, Limits};

use crate::error::FormatError;
use crate::parsed::{Base, DataSource, Format, Layout, Parsed, TensorView};

const FORMAT: &str = "gguf";

/// Arrays longer than this keep only their first `ARRAY_KEEP` elements in the metadata.
pub const ARRAY_KEEP: usize = 64;

/// ggml's `GGML_MAX_NAME`: tensor names must be shorter than this many bytes.
const MAX_NAME: usize = 64;
/// ggml's `GGML_MAX_DIMS`.
const MAX_DIMS: u32 = 4;
/// Alignment when `general.alignment` is absent.
const DEFAULT_ALIGNMENT: u64 = 32;

/// Value type ids of GGUF key-values, and what each takes in the file.
pub mod value_type {
    /// `uint8`.
    pub const U8: u32 = 0;
    /// `int8`.
    pub const I8: u32 = 1;
    /// `uint16`.
    pub const U16: u32 = 2;
    /// `int16`.
    pub const I16: u32 = 3;
    /// `uint32`.
    pub const U32: u32 = 4;
    /// `int32`.
    pub const I32: u32 = 5;
    /// `float32`.
    pub const F32: u32 = 6;
    /// `bool`: one byte, 0 or 1.
    pub const BOOL: u32 = 7;
    /// `gguf_string`: a length, then UTF-8 bytes.
    pub const STRING: u32 = 8;
    /// An array: element type, count, elements.
    pub const ARRAY: u32 = 9;
    /// `uint64`.
    pub const U64: u32 = 10;
    /// `int64`.
    pub const I64: u32 = 11;
    /// `float64`.
    pub const F64: u32 = 12;

    /// The name of type `t`.
    pub fn name(t: u32) -> &'static str {
        match t {
            U8 => "u8",
            I8 => "i8",
            U16 => "u16",
            I16 => "i16",
            U32 => "u32",
            I32 => "i32",
            F32 => "f32",
            BOOL => "bool",
            STRING => "string",
            ARRAY => "array",
            U64 => "u64",
            I64 => "i64",
            F64 => "f64",
            _ => "unknown",
        }
    }

    /// Bytes one value of a fixed-size type takes (`None` for strings, arrays and unknown types).
    pub fn fixed_size(t: u32) -> Option<u64> {
        Some(match t {
            U8 | I8 | BOOL => 1,
            U16 | I16 => 2,
            U32 | I32 | F32 => 4,
            U64 | I64 | F64 => 8,
            _ => return None,
        })
    }
}

use value_type as vt;

/// Smallest encoded size of one value of type `t` in a GGUF v2/v3 file (for checking counts
/// before allocating).
fn min_size(t: u32) -> Option<u64> {
    Some(match t {
        vt::STRING => 8,
        // elem_type + count
        vt::ARRAY => 12,
        t => vt::fixed_size(t)?,
    })
}

/// The dtype of ggml type `id`: plain types map to ordinary dtypes, quantised ones to blocks.
pub fn dtype_of(id: u32) -> Option<DType> {
    Some(match id {
        0 => DType::F32,
        1 => DType::F16,
        24 => DType::I8,
        25 => DType::I16,
        26 => DType::I32,
        27 => DType::I64,
        28 => DType::F64,
        30 => DType::BF16,
        other => DType::Ggml(GgmlBlock::from_id(other)?),
    })
}

fn bad(msg: impl Into<String>) -> FormatError {
    FormatError::malformed(FORMAT, msg)
}

/// A value that is not an array, as stored.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Scalar<'a> {
    /// `uint8`.
    U8(u8),
    /// `int8`.
    I8(i8),
    /// `uint16`.
    U16(u16),
    /// `int16`.
    I16(i16),
    /// `uint32`.
    U32(u32),
    /// `int32`.
    I32(i32),
    /// `float32`.
    F32(f32),
    /// `bool`, as the byte stored (anything but 0 and 1 is malformed; the caller decides).
    Bool(u8),
    /// A string's bytes (UTF-8 by the spec; not checked here).
    String(&'a [u8]),
    /// `uint64`.
    U64(u64),
    /// `int64`.
    I64(i64),
    /// `float64`.
    F64(f64),
}

/// A cursor over a GGUF file (or over its first bytes: `bytes` may be a prefix of a file of
/// `file_len` bytes) that reads the header, the key-values and the tensor infos in the file's byte
/// order and with its version's widths.
///
/// The one GGUF reader of the workspace: [`parse`] and [`parse_prefix`] add ggml's checks on top
/// (version 2 or 3, unique keys, bools that are 0 or 1, no nested arrays, the [`Limits`]), and the
/// scanner walks every key-value with it, including in files those checks refuse. Every read is
/// bounded by the file.
#[derive(Debug)]
pub struct Reader<'a> {
    bytes: &'a [u8],
    /// The file's length: at least `bytes.len()`.
    len: u64,
    pos: usize,
    big_endian: bool,
    /// GGUF v1: counts and lengths are 32-bit.
    v1: bool,
    /// A read went past `bytes` but not past `len`: the header goes on beyond the prefix.
    short: bool,
}

impl<'a> Reader<'a> {
    /// A cursor at the start of `bytes`, the first bytes of a file of `file_len` bytes.
    pub fn new(bytes: &'a [u8], file_len: u64) -> Self {
        Self {
            bytes,
            len: file_len.max(bytes.len() as u64),
            pos: 0,
            big_endian: false,
            v1: false,
            short: false,
        }
    }

    /// Offset of the next read.
    pub fn position(&self) -> usize {
        self.pos
    }

    /// Bytes of the file after the cursor.
    pub fn remaining(&self) -> u64 {
        self.len - self.pos as u64
    }

    /// Whether the file is big-endian (known once [`Reader::version`] has been read).
    pub fn big_endian(&self) -> bool {
        self.big_endian
    }

    /// The next `n` bytes; `what` names them in the error.
    pub fn take(&mut self, n: u64, what: &str) -> Result<&'a [u8], FormatError> {
        let end = (self.pos as u64).checked_add(n);
        match end {
            Some(e) if e <= self.bytes.len() as u64 => {
                let e = e as usize;
                let s = &self.bytes[self.pos..e];
                self.pos = e;
                Ok(s)
            }
            Some(e) if e <= self.len => {
                self.short = true;
                Err(bad(format!(
                    "{what} at offset {} lies past the {} bytes read",
                    self.pos,
                    self.bytes.len()
                )))
            }
            _ => Err(bad(format!(
                "truncated: {what} needs {n} bytes at offset {}, {} remain",
                self.pos,
                self.remaining()
            ))),
        }
    }

    fn array<const N: usize>(&mut self, what: &str) -> Result<[u8; N], FormatError> {
        let s = self.take(N as u64, what)?;
        let mut a: [u8; N] = s.try_into().map_err(|_| bad("short read"))?;
        if self.big_endian {
            a.reverse();
        }
        Ok(a)
    }

    /// A `uint8`.
    pub fn u8(&mut self, what: &str) -> Result<u8, FormatError> {
        Ok(self.array::<1>(what)?[0])
    }
    /// A `uint16` in the file's byte order.
    pub fn u16(&mut self, what: &str) -> Result<u16, FormatError> {
        Ok(u16::from_le_bytes(self.array(what)?))
    }
    /// A `uint32` in the file's byte order.
    pub fn u32(&mut self, what: &str) -> Result<u32, FormatError> {
        Ok(u32::from_le_bytes(self.array(what)?))
    }
    /// A `uint64` in the file's byte order.
    pub fn u64(&mut self, what: &str) -> Result<u64, FormatError> {
        Ok(u64::from_le_bytes(self.array(what)?))
    }

    /// The magic and the version, at the start of the file. A version whose low half is zero
    /// read little-endian was written big-endian (ggml's rule), and then so is the rest of the
    /// file; version 1 has 32-bit counts and lengths. Versions other than 1, 2 and 3 are refused;
    /// whether version 1 is read is the caller's choice.
    pub fn version(&mut self) -> Result<u32, FormatError> {
        if self.take(4, "magic")? != crate::sniff::GGUF_MAGIC {
            return Err(bad("missing GGUF magic"));
        }
        let mut version = self.u32("version")?;
        if version & 0xFFFF == 0 {
            self.big_endian = true;
            version = version.swap_bytes();
        }
        match version {
            1 => self.v1 = true,
            2 | 3 => {}
            v => return Err(bad(format!("unknown GGUF version {v}"))),
        }
        Ok(version)
    }

    /// A count or a length: a `uint64`, a `uint32` in version 1.
    pub fn count(&mut self, what: &str) -> Result<u64, FormatError> {
        if self.v1 {
            self.u32(what).map(u64::from)
        } else {
            self.u64(what)
        }
    }

    /// A `gguf_string`'s bytes: a length, then the bytes. A length over `max_len` is a
    /// [`FormatError::Limit`].
    pub fn string(&mut self, max_len: u64, what: &str) -> Result<&'a [u8], FormatError> {
        let len = self.count(what)?;
        if len > max_len {
            return Err(FormatError::limit(
                format!("{what} of {len} bytes"),
                max_len,
            ));
        }
        self.take(len, what)
    }

    /// The header of an array value: its element type and element count.
    pub fn array_header(&mut self, what: &str) -> Result<(u32, u64), FormatError> {
        let elem_type = self.u32(what)?;
        Ok((elem_type, self.count(what)?))
    }

    /// A value of type `t` that is not an array (a string longer than `max_string` is a
    /// [`FormatError::Limit`]); `Ok(None)`, reading nothing, for an array or an unknown type.
    pub fn scalar(
        &mut self,
        t: u32,
        max_string: u64,
        what: &str,
    ) -> Result<Option<Scalar<'a>>, FormatError> {
        Ok(Some(match t {
            vt::U8 => Scalar::U8(self.u8(what)?),
            vt::I8 => Scalar::I8(self.u8(what)? as i8),
            vt::U16 => Scalar::U16(self.u16(what)?),
            vt::I16 => Scalar::I16(self.u16(what)? as i16),
            vt::U32 => Scalar::U32(self.u32(what)?),
            vt::I32 => Scalar::I32(self.u32(what)? as i32),
            vt::F32 => Scalar::F32(f32::from_bits(self.u32(what)?)),
            vt::BOOL => Scalar::Bool(self.u8(what)?),
            vt::STRING => Scalar::String(self.string(max_string, what)?),
            vt::U64 => Scalar::U64(self.u64(what)?),
            vt::I64 => Scalar::I64(self.u64(what)? as i64),
            vt::F64 => Scalar::F64(f64::from_bits(self.u64(what)?)),
            _ => return Ok(None),
        }))
    }

    /// A string that must be valid UTF-8 (keys and tensor names).
    fn strict_string(&mut self, limits: &Limits, what: &str) -> Result<String, FormatError> {
        let at = self.pos;
        let b = self.string(limits.max_string_bytes, what)?;
        String::from_utf8(b.to_vec())
            .map_err(|_| bad(format!("{what} at offset {at} is not valid UTF-8")))
    }

    /// Check that `count` values of at least `each` bytes can fit in what remains, before
    /// anything is allocated for them.
    fn check_count(&self, count: u64, each: u64, what: &str) -> Result<(), FormatError> {
        match count.checked_mul(each) {
            Some(need) if need <= self.remaining() => Ok(()),
            _ => Err(bad(format!(
                "{what} count {count} cannot fit in the {} bytes that remain",
                self.remaining()
            ))),
        }
    }
}

/// JSON for a float, with the non-finite values JSON lacks spelled as strings.
fn float_json(x: f64) -> Value {
    match serde_json::Number::from_f64(x) {
        Some(n) => Value::Number(n),
        None if x.is_nan() => Value::String("NaN".into()),
        None if x > 0.0 => Value::String("Infinity".into()),
        None => Value::String("-Infinity".into()),
    }
}

fn f32_json(x: f32) -> Value {
    // The shortest decimal form of the f32 read as f64 keeps 1e-5 as 1e-5 rather than
    // 9.999999747378752e-6.
    if x.is_finite() {
        format!("{x}")
            .parse::<f64>()
            .map(float_json)
            .unwrap_or_else(|_| float_json(f64::from(x)))
    } else {
        float_json(f64::from(x))
    }
}

/// Read one scalar value of type `t` (not an array).
fn scalar(r: &mut Reader<'_>, t: u32, limits: &Limits, key: &str) -> Result<Value, FormatError> {
    let Some(v) = r.scalar(t, limits.max_string_bytes, key)? else {
        return Err(bad(format!("key {key:?}: unknown value type {t}")));
    };
    Ok(match v {
        Scalar::U8(x) => Value::from(x),
        Scalar::I8(x) => Value::from(x),
        Scalar::U16(x) => Value::from(x),
        Scalar::I16(x) => Value::from(x),
        Scalar::U32(x) => Value::from(x),
        Scalar::I32(x) => Value::from(x),
        Scalar::F32(x) => f32_json(x),
        Scalar::U64(x) => Value::from(x),
        Scalar::I64(x) => Value::from(x),
        Scalar::F64(x) => float_json(x),
        Scalar::Bool(0) => Value::Bool(false),
        Scalar::Bool(1) => Value::Bool(true),
        Scalar::Bool(v) => {
            return Err(bad(format!(
                "key {key:?}: bool value {v} is neither 0 nor 1"
            )));
        }
        Scalar::String(b) => Value::String(String::from_utf8_lossy(b).into_owned()),
    })
}

/// Read a key's value of type `t`; `budget` counts the array elements kept so far against
/// `limits.max_metadata_entries`.
fn value(
    r: &mut Reader<'_>,
    t: u32,
    limits: &Limits,
    key: &str,
    budget: &mut u64,
) -> Result<Value, FormatError> {
    if t != vt::ARRAY {
        return scalar(r, t, limits, key);
    }
    let et = r.u32(key)?;
    if et == vt::ARRAY {
        // The spec allows nested arrays; ggml refuses them, and so do we.
        return Err(bad(format!("key {key:?}: nested arrays are not supported")));
    }
    let each =
        min_size(et).ok_or_else(|| bad(format!("key {key:?}: unknown array element type {et}")))?;
    let len = r.count(key)?;
    r.check_count(len, each, &format!("key {key:?}: array"))?;
    let keep = usize::try_from(len).unwrap_or(usize::MAX).min(ARRAY_KEEP);
    *budget = budget.saturating_add(keep as u64);
    if *budget > limits.max_metadata_entries {
        return Err(FormatError::limit(
            "metadata entries (keys and kept array elements)",
            limits.max_metadata_entries,
        ));
    }
    let mut items = Vec::with_capacity(keep);
    for i in 0..len {
        if (i as usize) < keep {
            items.push(scalar(r, et, limits, key)?);
        } else if et == vt::STRING {
            // Skip, but still check each string's length against the limit and the file.
            r.string(limits.max_string_bytes, key)?;
        } else {
            // Fixed-size elements: skip them all at once (the count was checked against the
            // remaining bytes above, so this cannot overflow).
            let rest = r.take((len - i) * each, key)?;
            if et == vt::BOOL {
                // Bools still have to be 0 or 1, however much of the array is kept.
                if let Some(b) = rest.iter().find(|&&b| b > 1) {
                    return Err(bad(format!(
                        "key {key:?}: bool value {b} is neither 0 nor 1"
                    )));
                }
            }
            break;
        }
    }
    if len <= ARRAY_KEEP as u64 {
        Ok(Value::Array(items))
    } else {
        let mut o = Map::new();
        o.insert("type".into(), "array".into());
        o.insert("elem_type".into(), vt::name(et).into());
        o.insert("len".into(), len.into());
        o.insert("items".into(), Value::Array(items));
        Ok(Value::Object(o))
    }
}

/// Parse a GGUF file held in `bytes`.
pub fn parse(bytes: &[u8], limits: &Limits) -> Result<Parsed, FormatError> {
    parse_from(&mut Reader::new(bytes, bytes.len() as u64), limits)
}

/// Parse the header of a GGUF file of `file_len` bytes from its first bytes `prefix`, checking
/// every tensor against `file_len`; `Ok(None)` when the header goes on past `prefix` (read more
/// and try again).
pub fn parse_prefix(
    prefix: &[u8],
    file_len: u64,
    limits: &Limits,
) -> Result<Option<Parsed>, FormatError> {
    let mut r = Reader::new(prefix, file_len);
    match parse_from(&mut r, limits) {
        Ok(p) => Ok(Some(p)),
        Err(_) if r.short => Ok(None),
        Err(e) => Err(e),
    }
}

/// For the fuzz target and its corpus replay: [`parse_prefix`] agrees with [`parse`] on the whole
/// input, and on a prefix of an accepted input (cut where the first byte says) it either reads
/// the same tensors or asks for more, never refuses.
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub fn check_prefix_consistency(data: &[u8]) {
    let limits = Limits::strict();
    let len = data.len() as u64;
    let full = parse(data, &limits);
    let whole = parse_prefix(data, len, &limits);
    assert_eq!(full.is_ok(), matches!(whole, Ok(Some(_))));
    if let (Ok(p), Some(&b)) = (&full, data.first()) {
        let cut = data.len() * usize::from(b) / 256;
        match parse_prefix(&data[..cut], len, &limits) {
            Ok(Some(q)) => assert_eq!(q.tensors.len(), p.tensors.len()),
            Ok(None) => {}
            Err(e) => panic!("a {cut}-byte prefix of an accepted file was refused: {e}"),
        }
    }
}

fn parse_from(r: &mut Reader<'_>, limits: &Limits) -> Result<Parsed, FormatError> {
    let version = r.version()?;
    if version == 1 {
        return Err(FormatError::unsupported(
            FORMAT,
            "GGUF version 1 (32-bit counts); convert it with a current llama.cpp",
        ));
    }
    let n_tensors = r.count("tensor count")?;
    let n_kv = r.count("key-value count")?;
    if n_tensors > limits.max_tensors {
        return Err(FormatError::limit(
            format!("tensor count {n_tensors}"),
            limits.max_tensors,
        ));
    }
    if n_kv > limits.max_metadata_entries {
        return Err(FormatError::limit(
            format!("key-value count {n_kv}"),
            limits.max_metadata_entries,
        ));
    }
    // key (8) + type (4) + smallest value (1)
    r.check_count(n_kv, 13, "key-value")?;

    let mut parsed = Parsed::new(Format::Gguf);
    let mut budget = n_kv;
    let mut alignment = DEFAULT_ALIGNMENT;
    for _ in 0..n_kv {
        let at = r.pos;
        let key = r.strict_string(limits, "key")?;
        if key.is_empty() {
            return Err(bad(format!("empty key at offset {at}")));
        }
        if parsed.metadata.contains_key(&key) {
            return Err(bad(format!("duplicate key {key:?}")));
        }
        let t = r.u32(&key)?;
        if key == "general.alignment" {
            if t != vt::U32 {
                return Err(bad(format!(
                    "general.alignment has type {}, not u32",
                    vt::name(t)
                )));
            }
            let a = r.u32(&key)?;
            if a == 0 || !a.is_power_of_two() {
                return Err(bad(format!("general.alignment {a} is not a power of two")));
            }
            alignment = u64::from(a);
            parsed.metadata.insert(key, Value::from(a));
            continue;
        }
        let v = value(r, t, limits, &key, &mut budget)?;
        parsed.metadata.insert(key, v);
    }

    // name (8) + n_dims (4) + type (4) + offset (8)
    r.check_count(n_tensors, 24, "tensor info")?;
    let mut names = HashSet::with_capacity(n_tensors as usize);
    let mut expected_offset = 0u64;
    let mut infos = Vec::with_capacity(n_tensors as usize);
    for _ in 0..n_tensors {
        let name = r.strict_string(limits, "tensor name")?;
        if name.len() >= MAX_NAME {
            return Err(bad(format!(
                "tensor name {name:?} is {} bytes; ggml allows at most {}",
                name.len(),
                MAX_NAME - 1
            )));
        }
        if !names.insert(name.clone()) {
            return Err(FormatError::DuplicateTensor(name));
        }
        let n_dims = r.u32(&name)?;
        if n_dims > MAX_DIMS || n_dims as usize > limits.max_dims {
            return Err(bad(format!(
                "tensor {name:?} has {n_dims} dimensions; ggml allows at most {MAX_DIMS}"
            )));
        }
        let mut ne = Vec::with_capacity(n_dims as usize);
        for _ in 0..n_dims {
            let d = r.u64(&name)?;
            if d > i64::MAX as u64 {
                return Err(bad(format!(
                    "tensor {name:?} has a negative dimension {}",
                    d as i64
                )));
            }
            ne.push(d);
        }
        // ggml keeps the element count in an int64_t.
        ne.iter()
            .try_fold(1u64, |acc, &d| acc.checked_mul(d))
            .filter(|&n| n <= i64::MAX as u64)
            .ok_or_else(|| bad(format!("tensor {name:?}: element count {ne:?} overflows")))?;
        let type_id = r.u32(&name)?;
        let dtype = dtype_of(type_id)
            .ok_or_else(|| bad(format!("tensor {name:?} has unknown ggml type {type_id}")))?;
        let inner = ne.first().copied().unwrap_or(1);
        if let DType::Ggml(b) = dtype
            && inner % b.block_elements() != 0
        {
            return Err(bad(format!(
                "tensor {name:?}: ne[0] = {inner} is not a multiple of the {} block size {}",
                b.name(),
                b.block_elements()
            )));
        }
        let shape: Vec<u64> = ne.iter().rev().copied().collect();
        let size =
            weighhouse_tensor::byte_len(dtype, &shape).map_err(|source| FormatError::Shape {
                tensor: name.clone(),
                source,
            })?;
        let offset = r.u64(&name)?;
        if offset != expected_offset {
            return Err(bad(format!(
                "tensor {name:?} has offset {offset}, expected {expected_offset} \
                 (tensor data must be consecutive, each padded to {alignment} bytes)"
            )));
        }
        expected_offset = pad(size, alignment)
            .and_then(|p| p.checked_add(offset))
            .ok_or_else(|| bad(format!("tensor {name:?}: data offsets overflow")))?;
        infos.push((name, dtype, shape, offset, size));
    }

    let data_start = pad(r.pos as u64, alignment).ok_or_else(|| bad("data start overflows"))?;
    let file_len = r.len;
    for (name, dtype, shape, offset, size) in infos {
        let start = data_start
            .checked_add(offset)
            .ok_or_else(|| bad(format!("tensor {name:?}: offset overflows")))?;
        let end =
            start
                .checked_add(size)
                .filter(|&e| e <= file_len)
                .ok_or(FormatError::OutOfBounds {
                    tensor: name.clone(),
                    start,
                    end: start.saturating_add(size),
                    available: file_len,
                })?;
        debug_assert!(end <= file_len);
        parsed.tensors.push(TensorView {
            name,
            dtype,
            shape,
            file: 0,
            source: DataSource {
                base: Base::File(0),
                offset: start,
                layout: Layout::Dense,
                // Plain elements can be swapped to little-endian; quantised blocks are handed
                // out as stored (the file says so through `gguf.endianness`).
                big_endian: r.big_endian && !dtype.is_quantized(),
            },
        });
    }

    parsed
        .metadata
        .insert("gguf.version".into(), Value::from(version));
    parsed
        .metadata
        .insert("gguf.alignment".into(), Value::from(alignment));
    if r.big_endian {
        parsed
            .metadata
            .insert("gguf.endianness".into(), Value::from("big"));
    }
    Ok(parsed)
}

/// `x` rounded up to a multiple of `align` (a power of two).
fn pad(x: u64, align: u64) -> Option<u64> {
    x.checked_add(align - 1).map(|v| v & !(align - 1))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Builds GGUF files byte by byte, so each test can break exactly one thing.
    struct Builder {
        be: bool,
        version: u32,
        kvs: Vec<u8>,
        n_kv: u64,
        infos: Vec<u8>,
        n_tensors: u64,
        data: Vec<u8>,
        alignment: u64,
    }

    impl Builder {
        fn new() -> Self {
            Self {
                be: false,
                version: 3,
                kvs: Vec::new(),
                n_kv: 0,
                infos: Vec::new(),
                n_tensors: 0,
                data: Vec::new(),
                alignment: 32,
            }
        }

        fn u32(&self, out: &mut Vec<u8>, v: u32) {
            out.extend(if self.be {
                v.to_be_bytes()
            } else {
                v.to_le_bytes()
            });
        }

        fn u64(&self, out: &mut Vec<u8>, v: u64) {
            out.extend(if self.be {
                v.to_be_bytes()
            } else {
                v.to_le_bytes()
            });
        }

        fn str(&self, out: &mut Vec<u8>, s: &str) {
            self.u64(out, s.len() as u64);
            out.extend(s.as_bytes());
        }

        /// A key with a raw, already-encoded value.
        fn kv_raw(mut self, key: &str, vtype: u32, value: &[u8]) -> Self {
            let mut b = Vec::new();
            self.str(&mut b, key);
            self.u32(&mut b, vtype);
            b.extend(value);
            self.kvs.extend(b);
            self.n_kv += 1;
            self
        }

        fn kv_u32(self, key: &str, v: u32) -> Self {
            let mut b = Vec::new();
            self.u32(&mut b, v);
            self.kv_raw(key, vt::U32, &b)
        }

        fn kv_str(self, key: &str, v: &str) -> Self {
            let mut b = Vec::new();
            self.str(&mut b, v);
            self.kv_raw(key, vt::STRING, &b)
        }

        /// A tensor info with an explicit offset; `data` bytes are appended to the data section.
        fn tensor_at(mut self, name: &str, ne: &[u64], ty: u32, offset: u64, data: &[u8]) -> Self {
            let mut b = Vec::new();
            self.str(&mut b, name);
            self.u32(&mut b, ne.len() as u32);
            for &d in ne {
                self.u64(&mut b, d);
            }
            self.u32(&mut b, ty);
            self.u64(&mut b, offset);
            self.infos.extend(b);
            self.n_tensors += 1;
            self.data.extend(data);
            self
        }

        /// A tensor placed right after the previous ones, padded to the alignment.
        fn tensor(self, name: &str, ne: &[u64], ty: u32, data: &[u8]) -> Self {
            let offset = self.data.len() as u64;
            let mut s = self.tensor_at(name, ne, ty, offset, data);
            while !(s.data.len() as u64).is_multiple_of(s.alignment) {
                s.data.push(0);
            }
            s
        }

        fn build(&self) -> Vec<u8> {
            let mut out = b"GGUF".to_vec();
            self.u32(&mut out, self.version);
            self.u64(&mut out, self.n_tensors);
            self.u64(&mut out, self.n_kv);
            out.extend(&self.kvs);
            out.extend(&self.infos);
            while !(out.len() as u64).is_multiple_of(self.alignment) {
                out.push(0);
            }
            out.extend(&self.data);
            out
        }
    }

    fn f32s(v: &[f32]) -> Vec<u8> {
        v.iter().flat_map(|x| x.to_le_bytes()).collect()
    }

    fn parse_strict(b: &[u8]) -> Result<Parsed, FormatError> {
        parse(b, &Limits::strict())
    }

    fn err_text(b: &[u8]) -> String {
        match parse_strict(b) {
            Ok(_) => panic!("accepted"),
            Err(e) => e.to_string(),
        }
    }

    fn good() -> Builder {
        Builder::new()
            .kv_str("general.architecture", "llama")
            .tensor("a", &[3, 2], 0, &f32s(&[1., 2., 3., 4., 5., 6.]))
            .tensor("b", &[4], 1, &[0; 8])
    }

    #[test]
    fn a_prefix_reads_the_header_or_asks_for_more() {
        let b = good().build();
        let whole = parse_strict(&b).expect("parse");
        let data_start = whole.tensors[0].source.offset as usize;
        let limits = Limits::strict();
        for cut in 0..b.len() {
            match parse_prefix(&b[..cut], b.len() as u64, &limits) {
                Ok(None) => assert!(cut < data_start, "{cut}: asked for more"),
                Ok(Some(p)) => {
                    assert_eq!(p.tensors.len(), whole.tensors.len(), "{cut}");
                    assert_eq!(p.metadata, whole.metadata);
                }
                Err(e) => panic!("{cut}: {e}"),
            }
        }
        // The header alone is enough: tensor extents are checked against the file's length.
        let header_end = b.len() - 64;
        assert!(
            parse_prefix(&b[..header_end], b.len() as u64, &limits)
                .unwrap()
                .is_some()
        );
        // Tensor b ends 40 bytes into the data (a is padded to 32); the rest is padding.
        let short = parse_prefix(&b[..header_end], header_end as u64 + 39, &limits);
        assert!(
            short.is_err(),
            "a tensor past the end of the file is an error"
        );
        // A file that really ends early is an error, not a request for more.
        assert!(parse_prefix(&b[..20], 20, &limits).is_err());
    }

    #[test]
    fn reads_a_small_file() {
        let b = good().build();
        let p = parse_strict(&b).expect("parse");
        assert_eq!(p.tensors.len(), 2);
        let a = &p.tensors[0];
        assert_eq!((a.dtype, a.shape.as_slice()), (DType::F32, &[2u64, 3][..]));
        assert_eq!(a.source.offset % 32, 0);
        assert!(a.source.is_plain());
        let start = a.source.offset as usize;
        assert_eq!(&b[start..start + 24], f32s(&[1., 2., 3., 4., 5., 6.]));
        assert_eq!(p.tensors[1].source.offset, a.source.offset + 32);
        assert_eq!(p.metadata["general.architecture"], "llama");
        assert_eq!(p.metadata["gguf.version"], 3);
        assert_eq!(p.metadata["gguf.alignment"], 32);
    }

    #[test]
    fn every_truncation_is_an_error() {
        let b = good().build();
        for n in 0..b.len() - 24 {
            // The last 24 bytes are tensor b's padding, which need not be present.
            assert!(parse_strict(&b[..n]).is_err(), "prefix {n} accepted");
        }
    }

    #[test]
    fn versions_other_than_2_and_3_are_refused() {
        let mut g = good();
        g.version = 2;
        assert!(parse_strict(&g.build()).is_ok());
        for v in [0, 1, 4, 0x0100_0000] {
            g.version = v;
            assert!(parse_strict(&g.build()).is_err(), "version {v}");
        }
        g.version = 1;
        assert!(matches!(
            parse_strict(&g.build()),
            Err(FormatError::Unsupported { .. })
        ));
        assert!(parse_strict(b"GGML\x03\0\0\0").is_err());
    }

    #[test]
    fn big_endian_files_are_detected() {
        let mut g = Builder::new();
        g.be = true;
        g.alignment = 16;
        let data: Vec<u8> = [1.5f32, -2.0]
            .iter()
            .flat_map(|x| x.to_be_bytes())
            .collect();
        let g = g
            .kv_u32("general.alignment", 16)
            .tensor("w", &[2], 0, &data)
            .tensor("q", &[32], 8, &[7; 34]);
        let p = parse_strict(&g.build()).expect("parse");
        assert_eq!(p.metadata["gguf.endianness"], "big");
        assert_eq!(p.metadata["general.alignment"], 16);
        assert!(p.tensors[0].source.big_endian);
        assert!(!p.tensors[1].source.big_endian);
        assert_eq!(p.tensors[1].dtype.name(), "Q8_0");
    }

    #[test]
    fn huge_counts_are_refused_before_allocating() {
        let mut g = good();
        g.n_tensors = u64::MAX;
        assert!(parse_strict(&g.build()).is_err());
        let mut g = good();
        g.n_kv = 1 << 40;
        assert!(parse(&g.build(), &Limits::default()).is_err());
        let mut g = good();
        g.n_tensors = 5_000; // within the limit, but cannot fit in the bytes left
        assert!(err_text(&g.build()).contains("cannot fit"));
        // An array claiming 2^60 elements.
        let mut v = Vec::new();
        v.extend(vt::U32.to_le_bytes());
        v.extend((1u64 << 60).to_le_bytes());
        assert!(err_text(&good().kv_raw("x", vt::ARRAY, &v).build()).contains("cannot fit"));
        // A string claiming more than the limit, and more than the file.
        let big = good()
            .kv_raw("x", vt::STRING, &u64::MAX.to_le_bytes())
            .build();
        assert!(matches!(parse_strict(&big), Err(FormatError::Limit { .. })));
        let big = good()
            .kv_raw("x", vt::STRING, &1000u64.to_le_bytes())
            .build();
        assert!(err_text(&big).contains("truncated"));
    }

    #[test]
    fn alignment_must_be_a_u32_power_of_two() {
        for a in [0u32, 3, 48] {
            let b = Builder::new().kv_u32("general.alignment", a).build();
            assert!(err_text(&b).contains("power of two"), "{a}");
        }
        let b = Builder::new()
            .kv_raw("general.alignment", vt::U64, &64u64.to_le_bytes())
            .build();
        assert!(err_text(&b).contains("not u32"));
        let mut g = Builder::new().kv_u32("general.alignment", 64);
        g.alignment = 64;
        let g = g
            .tensor("a", &[3], 0, &f32s(&[1., 2., 3.]))
            .tensor("b", &[1], 0, &f32s(&[4.]));
        let p = parse_strict(&g.build()).expect("parse");
        assert_eq!(p.metadata["gguf.alignment"], 64);
        assert_eq!(p.tensors[0].source.offset % 64, 0);
        assert_eq!(p.tensors[1].source.offset - p.tensors[0].source.offset, 64);
    }

    #[test]
    fn offsets_must_be_exactly_consecutive() {
        let d = f32s(&[1., 2.]);
        // A gap.
        let b = Builder::new()
            .tensor_at("a", &[2], 0, 0, &[d.clone(), vec![0; 62]].concat())
            .tensor_at("b", &[2], 0, 64, &d)
            .build();
        assert!(err_text(&b).contains("expected 32"));
        // Reordered.
        let b = Builder::new()
            .tensor_at("a", &[2], 0, 32, &[d.clone(), vec![0; 24]].concat())
            .tensor_at("b", &[2], 0, 0, &d)
            .build();
        assert!(err_text(&b).contains("offset 32, expected 0"));
        // Overlapping.
        let b = Builder::new()
            .tensor_at("a", &[2], 0, 0, &d)
            .tensor_at("b", &[2], 0, 0, &d)
            .build();
        assert!(err_text(&b).contains("expected 32"));
        // Data past the end of the file.
        let b = Builder::new().tensor_at("a", &[1000], 0, 0, &d).build();
        assert!(matches!(
            parse_strict(&b),
            Err(FormatError::OutOfBounds { .. })
        ));
    }

    #[test]
    fn duplicate_names_and_keys_are_refused() {
        let b = good().kv_str("general.architecture", "gpt2").build();
        assert!(err_text(&b).contains("duplicate key"));
        let b = good().tensor("a", &[1], 0, &f32s(&[1.])).build();
        assert!(matches!(
            parse_strict(&b),
            Err(FormatError::DuplicateTensor(n)) if n == "a"
        ));
        let b = Builder::new().kv_str("", "x").build();
        assert!(err_text(&b).contains("empty key"));
    }

    #[test]
    fn nested_arrays_are_refused() {
        let mut v = Vec::new();
        v.extend(vt::ARRAY.to_le_bytes());
        v.extend(1u64.to_le_bytes());
        v.extend(vt::U8.to_le_bytes());
        v.extend(1u64.to_le_bytes());
        v.push(5);
        assert!(err_text(&Builder::new().kv_raw("x", vt::ARRAY, &v).build()).contains("nested"));
    }

    #[test]
    fn bad_value_types_and_bools_are_refused() {
        assert!(
            err_text(&Builder::new().kv_raw("x", 13, &[0; 8]).build())
                .contains("unknown value type")
        );
        assert!(err_text(&Builder::new().kv_raw("x", vt::BOOL, &[2]).build()).contains("bool"));
        let mut v = Vec::new();
        v.extend(vt::BOOL.to_le_bytes());
        v.extend(100u64.to_le_bytes());
        v.extend([1u8; 99]);
        v.push(7);
        assert!(err_text(&Builder::new().kv_raw("x", vt::ARRAY, &v).build()).contains("bool"));
    }

    #[test]
    fn arrays_are_kept_whole_or_summarised() {
        let mut small = Vec::new();
        small.extend(vt::I16.to_le_bytes());
        small.extend(3u64.to_le_bytes());
        for x in [1i16, -2, 3] {
            small.extend(x.to_le_bytes());
        }
        let mut long = Vec::new();
        long.extend(vt::STRING.to_le_bytes());
        long.extend(1000u64.to_le_bytes());
        for i in 0..1000 {
            let s = format!("t{i}");
            long.extend((s.len() as u64).to_le_bytes());
            long.extend(s.as_bytes());
        }
        let b = Builder::new()
            .kv_raw("small", vt::ARRAY, &small)
            .kv_raw("tokenizer.ggml.tokens", vt::ARRAY, &long)
            .kv_raw("f", vt::F32, &f32::NAN.to_le_bytes())
            .kv_raw("g", vt::F64, &f64::NEG_INFINITY.to_le_bytes())
            .build();
        let p = parse_strict(&b).expect("parse");
        assert_eq!(p.metadata["small"], serde_json::json!([1, -2, 3]));
        let t = &p.metadata["tokenizer.ggml.tokens"];
        assert_eq!(t["len"], 1000);
        assert_eq!(t["elem_type"], "string");
        assert_eq!(t["items"].as_array().map(Vec::len), Some(ARRAY_KEEP));
        assert_eq!(t["items"][63], "t63");
        assert_eq!(p.metadata["f"], "NaN");
        assert_eq!(p.metadata["g"], "-Infinity");
        // Kept array elements count against the metadata budget.
        let tight = Limits {
            max_metadata_entries: 10,
            ..Limits::strict()
        };
        assert!(matches!(parse(&b, &tight), Err(FormatError::Limit { .. })));
    }

    #[test]
    fn the_chat_template_is_kept_whole() {
        let template = "{% for m in messages %}".repeat(500);
        let b = good().kv_str("tokenizer.chat_template", &template).build();
        let p = parse_strict(&b).expect("parse");
        assert_eq!(p.metadata["tokenizer.chat_template"], template.as_str());
        let tight = Limits {
            max_string_bytes: 100,
            ..Limits::strict()
        };
        assert!(matches!(parse(&b, &tight), Err(FormatError::Limit { .. })));
    }

    #[test]
    fn unknown_and_removed_type_ids_are_refused() {
        for ty in [4u32, 5, 31, 36, 43, 1000] {
            let b = Builder::new().tensor("a", &[32], ty, &[0; 64]).build();
            assert!(err_text(&b).contains("unknown ggml type"), "{ty}");
        }
        // The newest types are known: NVFP4, Q1_0, Q2_0.
        for (ty, block, bytes) in [(40u32, 64u64, 36usize), (41, 128, 18), (42, 64, 18)] {
            let b = Builder::new()
                .tensor("a", &[block], ty, &vec![0; bytes])
                .build();
            let p = parse_strict(&b).expect("parse");
            assert_eq!(p.tensors[0].byte_len(), bytes as u64);
        }
    }

    #[test]
    fn dimensions_are_checked() {
        let b = Builder::new()
            .tensor("a", &[1, 1, 1, 1, 1], 0, &[0; 4])
            .build();
        assert!(err_text(&b).contains("5 dimensions"));
        let b = Builder::new().tensor("a", &[u64::MAX], 0, &[]).build();
        assert!(err_text(&b).contains("negative"));
        let b = Builder::new()
            .tensor("a", &[1 << 32, 1 << 32], 0, &[])
            .build();
        assert!(err_text(&b).contains("overflows"));
        let b = Builder::new()
            .tensor("a", &[1 << 31, 1 << 31, 4], 0, &[])
            .build();
        assert!(err_text(&b).contains("overflows"));
        // ne[0] must be whole blocks.
        let b = Builder::new().tensor("a", &[48, 2], 8, &[0; 96]).build();
        assert!(err_text(&b).contains("multiple"));
        // A 0-dimensional tensor is a scalar; a zero-sized one is fine.
        let b = Builder::new()
            .tensor("s", &[], 0, &f32s(&[2.]))
            .tensor("z", &[0, 3], 0, &[])
            .build();
        let p = parse_strict(&b).expect("parse");
        assert_eq!(p.tensors[0].shape, Vec::<u64>::new());
        assert_eq!(p.tensors[1].shape, vec![3, 0]);
    }

    #[test]
    fn long_and_invalid_names_are_refused() {
        let long = "x".repeat(64);
        let b = Builder::new().tensor(&long, &[1], 0, &[0; 4]).build();
        assert!(err_text(&b).contains("at most 63"));
        let ok = "x".repeat(63);
        assert!(parse_strict(&Builder::new().tensor(&ok, &[1], 0, &[0; 4]).build()).is_ok());
        let mut b = Builder::new().tensor("ab", &[1], 0, &[0; 4]);
        // Make the name invalid UTF-8 in place.
        let at = b.infos.iter().position(|&c| c == b'a').expect("name");
        b.infos[at] = 0xff;
        assert!(err_text(&b.build()).contains("UTF-8"));
    }
}
