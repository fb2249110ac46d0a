//! NumPy `.npy` and `.npz` readers. The `.npy` header is a Python dict literal; it is read by a
//! small strict parser (never evaluated), and the array data is described in place: `.npy` data
//! and STORED `.npz` members zero-copy in the file, DEFLATED members inflated under a byte budget.
//!
//! Object arrays (`|O`, and structured dtypes with an object field) hold pickled Python objects and
//! are refused; nothing in them is ever unpickled.

use std::io::{Cursor, Read};
use std::sync::Arc;

use weighhouse_tensor::{DType, Limits, byte_len};

use crate::error::FormatError;
use crate::parsed::{Base, DataSource, Format, Layout, Parsed, TensorView};

const MAGIC: &[u8] = b"\x93NUMPY";

/// The name [`parse_npy`] gives the single array of a `.npy` file (the format has no names).
pub const NPY_TENSOR_NAME: &str = "array";

/// Deepest nesting accepted in a header literal (a structured dtype nests a few levels at most).
const MAX_LITERAL_DEPTH: usize = 32;

/// A parsed `.npy` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NpyHeader {
    /// Format version `(major, minor)`.
    pub version: (u8, u8),
    /// Element type.
    pub dtype: DType,
    /// True when the elements are stored big-endian (`>` in the descr).
    pub big_endian: bool,
    /// True when the data is column-major.
    pub fortran_order: bool,
    /// Shape, outermost first.
    pub shape: Vec<u64>,
    /// Offset of the first data byte from the start of the `.npy` bytes.
    pub data_offset: usize,
}

/// Parse a `.npy` file held in `bytes`. Its array is named [`NPY_TENSOR_NAME`].
pub fn parse_npy(bytes: &[u8], limits: &Limits) -> Result<Parsed, FormatError> {
    const F: &str = "npy";
    let h = parse_header(bytes, limits, F)?;
    check_data_len(&h, (bytes.len() - h.data_offset) as u64, F)?;
    let mut parsed = Parsed::new(Format::Npy);
    parsed.metadata.insert(
        "npy.version".into(),
        format!("{}.{}", h.version.0, h.version.1).into(),
    );
    parsed.tensors.push(view(
        NPY_TENSOR_NAME.to_owned(),
        &h,
        Base::File(0),
        h.data_offset as u64,
    ));
    Ok(parsed)
}

/// Parse a `.npz` archive held in `bytes`. Each `<key>.npy` member becomes a tensor named `<key>`.
/// STORED members are described in place in the file; DEFLATED members are inflated into memory,
/// all of them together at most `limits.max_inflated_bytes`.
pub fn parse_npz(bytes: &[u8], limits: &Limits) -> Result<Parsed, FormatError> {
    const F: &str = "npz";
    let zip_err = |e: zip::result::ZipError| FormatError::malformed(F, format!("zip: {e}"));
    let mut archive = zip::ZipArchive::new(Cursor::new(bytes)).map_err(zip_err)?;
    if archive.len() as u64 > limits.max_zip_entries {
        return Err(FormatError::limit(
            format!("{} zip entries", archive.len()),
            limits.max_zip_entries,
        ));
    }
    if archive.len() as u64 > limits.max_tensors {
        return Err(FormatError::limit(
            format!("{} arrays", archive.len()),
            limits.max_tensors,
        ));
    }
    let mut parsed = Parsed::new(Format::Npz);
    let mut inflated = 0u64;
    for i in 0..archive.len() {
        let mut f = archive.by_index(i).map_err(zip_err)?;
        if f.is_dir() {
            continue;
        }
        let member = f.name().map_err(zip_err)?.into_owned();
        let in_member = |e: FormatError| match e {
            FormatError::Malformed { format, msg } => FormatError::Malformed {
                format,
                msg: format!("member {member:?}: {msg}"),
            },
            FormatError::Unsupported { format, what } => FormatError::Unsupported {
                format,
                what: format!("member {member:?}: {what}"),
            },
            other => other,
        };
        let Some(key) = member.strip_suffix(".npy") else {
            return Err(FormatError::unsupported(
                F,
                format!("member {member:?} is not a .npy array"),
            ));
        };
        if f.encrypted() {
            return Err(in_member(FormatError::unsupported(F, "encrypted member")));
        }
        match f.compression() {
            zip::CompressionMethod::Stored => {
                let start = f
                    .data_start()
                    .ok_or_else(|| in_member(FormatError::malformed(F, "no data offset")))?;
                if f.compressed_size() != f.size() {
                    return Err(in_member(FormatError::malformed(
                        F,
                        "stored member whose sizes differ",
                    )));
                }
                let body = usize::try_from(start)
                    .ok()
                    .zip(usize::try_from(f.size()).ok())
                    .and_then(|(s, n)| bytes.get(s..s.checked_add(n)?))
                    .ok_or_else(|| {
                        in_member(FormatError::malformed(F, "data lies outside the archive"))
                    })?;
                let h = parse_header(body, limits, F).map_err(in_member)?;
                check_data_len(&h, (body.len() - h.data_offset) as u64, F).map_err(in_member)?;
                parsed.tensors.push(view(
                    key.to_owned(),
                    &h,
                    Base::File(0),
                    start + h.data_offset as u64,
                ));
            }
            zip::CompressionMethod::Deflated => {
                let budget = limits.max_inflated_bytes - inflated;
                if f.size() > budget {
                    return Err(FormatError::limit(
                        format!("inflating member {member:?} ({} bytes)", f.size()),
                        limits.max_inflated_bytes,
                    ));
                }
                // The declared size may lie: count what actually comes out, one byte past the
                // budget at most.
                let mut buf = Vec::new();
                (&mut f)
                    .take(budget.saturating_add(1))
                    .read_to_end(&mut buf)
                    .map_err(|e| in_member(FormatError::malformed(F, format!("inflate: {e}"))))?;
                if buf.len() as u64 > budget {
                    return Err(FormatError::limit(
                        format!("inflating member {member:?}"),
                        limits.max_inflated_bytes,
                    ));
                }
                inflated += buf.len() as u64;
                let h = parse_header(&buf, limits, F).map_err(in_member)?;
                check_data_len(&h, (buf.len() - h.data_offset) as u64, F).map_err(in_member)?;
                let offset = h.data_offset as u64;
                let owned: Arc<[u8]> = buf.into();
                parsed
                    .tensors
                    .push(view(key.to_owned(), &h, Base::Owned(owned), offset));
            }
            other => {
                return Err(in_member(FormatError::unsupported(
                    F,
                    format!("compression method {other}"),
                )));
            }
        }
    }
    Ok(parsed)
}

fn view(name: String, h: &NpyHeader, base: Base, offset: u64) -> TensorView {
    let layout = if h.fortran_order && h.shape.len() > 1 {
        // Column-major: the first index varies fastest. The product of the dimensions fits
        // (the data length was checked), so the running product does too.
        let mut strides = Vec::with_capacity(h.shape.len());
        let mut s = 1u64;
        for &d in &h.shape {
            strides.push(s);
            s = s.saturating_mul(d);
        }
        Layout::Strided(strides)
    } else {
        Layout::Dense
    };
    TensorView {
        name,
        dtype: h.dtype,
        shape: h.shape.clone(),
        file: 0,
        source: DataSource {
            base,
            offset,
            layout,
            big_endian: h.big_endian,
        },
    }
}

fn check_data_len(h: &NpyHeader, have: u64, format: &'static str) -> Result<(), FormatError> {
    let want = byte_len(h.dtype, &h.shape).map_err(|source| FormatError::Shape {
        tensor: NPY_TENSOR_NAME.into(),
        source,
    })?;
    if have != want {
        return Err(FormatError::malformed(
            format,
            format!(
                "{} {:?} needs {want} data bytes, found {have}",
                h.dtype, h.shape
            ),
        ));
    }
    Ok(())
}

/// Parse the magic, version and header dict at the start of `bytes` (a `.npy` file or member).
pub fn parse_header(
    bytes: &[u8],
    limits: &Limits,
    format: &'static str,
) -> Result<NpyHeader, FormatError> {
    let bad = |msg: String| FormatError::malformed(format, msg);
    if !bytes.starts_with(MAGIC) {
        return Err(bad("missing \\x93NUMPY magic".into()));
    }
    let (major, minor) = match bytes.get(6..8) {
        Some(&[a, b]) => (a, b),
        _ => return Err(bad("truncated version".into())),
    };
    let (len, start) = match (major, minor) {
        (1, 0) => (
            bytes
                .get(8..10)
                .map(|b| u64::from(u16::from_le_bytes([b[0], b[1]]))),
            10usize,
        ),
        (2, 0) | (3, 0) => (
            bytes
                .get(8..12)
                .map(|b| u64::from(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))),
            12,
        ),
        _ => {
            return Err(FormatError::unsupported(
                format,
                format!("format version {major}.{minor}"),
            ));
        }
    };
    let len = len.ok_or_else(|| bad("truncated header length".into()))?;
    if len > limits.max_header_bytes {
        return Err(FormatError::limit(
            format!("header of {len} bytes"),
            limits.max_header_bytes,
        ));
    }
    let end = usize::try_from(len)
        .ok()
        .and_then(|l| l.checked_add(start))
        .unwrap_or(usize::MAX);
    let text = bytes
        .get(start..end)
        .ok_or_else(|| bad(format!("header of {len} bytes runs past the end")))?;
    let lit = Parser {
        s: text,
        pos: 0,
        max_depth: MAX_LITERAL_DEPTH.min(limits.max_depth),
    }
    .parse_all()
    .map_err(|m| bad(format!("header: {m}")))?;
    let (dtype, big_endian, fortran_order, shape) = interpret(&lit, limits, format)?;
    Ok(NpyHeader {
        version: (major, minor),
        dtype,
        big_endian,
        fortran_order,
        shape,
        data_offset: end,
    })
}

/// Check the header dict has exactly the three keys numpy writes, and read them.
fn interpret(
    lit: &Lit,
    limits: &Limits,
    format: &'static str,
) -> Result<(DType, bool, bool, Vec<u64>), FormatError> {
    let bad = |msg: &str| FormatError::malformed(format, msg.to_owned());
    let Lit::Dict(items) = lit else {
        return Err(bad("header is not a dict"));
    };
    let (mut descr, mut fortran, mut shape) = (None, None, None);
    for (k, v) in items {
        let slot = match k {
            Lit::Str(k) if k == "descr" => &mut descr,
            Lit::Str(k) if k == "fortran_order" => &mut fortran,
            Lit::Str(k) if k == "shape" => &mut shape,
            other => {
                return Err(FormatError::malformed(
                    format,
                    format!("unexpected header key {other:?}"),
                ));
            }
        };
        if slot.replace(v).is_some() {
            return Err(FormatError::malformed(
                format,
                format!("duplicate header key {k:?}"),
            ));
        }
    }
    let (Some(descr), Some(fortran), Some(shape)) = (descr, fortran, shape) else {
        return Err(bad(
            "header needs exactly the keys 'descr', 'fortran_order' and 'shape'",
        ));
    };
    // Refuse pickled content before anything else, however the header is otherwise shaped.
    if has_object(descr) {
        return Err(FormatError::unsupported(
            format,
            "object array: its elements are pickled Python objects, which are never loaded",
        ));
    }
    let Lit::Bool(fortran) = *fortran else {
        return Err(bad("'fortran_order' is not a bool"));
    };
    let Lit::Tuple(dims) = shape else {
        return Err(bad("'shape' is not a tuple"));
    };
    if dims.len() > limits.max_dims {
        return Err(FormatError::limit(
            format!("{} dimensions", dims.len()),
            limits.max_dims as u64,
        ));
    }
    let shape = dims
        .iter()
        .map(|d| match d {
            Lit::Int(n) if *n < 0 => Err(bad("negative dimension in 'shape'")),
            Lit::Int(n) => u64::try_from(*n).map_err(|_| bad("dimension in 'shape' out of range")),
            _ => Err(bad("'shape' holds something other than integers")),
        })
        .collect::<Result<Vec<u64>, _>>()?;
    let (dtype, big_endian) = match descr {
        Lit::Str(s) => descr_dtype(s, format)?,
        Lit::List(_) => {
            return Err(FormatError::unsupported(
                format,
                "structured dtype (a record array with named fields)",
            ));
        }
        _ => return Err(bad("'descr' is neither a string nor a field list")),
    };
    Ok((dtype, big_endian, fortran, shape))
}

/// True when a descr (a type string, a structured field list or a subarray tuple) contains an
/// object type. Only type positions are looked at: a field may well be named `'O'`.
fn has_object(lit: &Lit) -> bool {
    match lit {
        Lit::Str(s) => s.trim_start_matches(['<', '>', '|', '=']).starts_with('O'),
        // [(name, type), (name, type, shape), ...]
        Lit::List(fields) => fields.iter().any(|f| match f {
            Lit::Tuple(parts) => parts.get(1).is_some_and(has_object),
            _ => false,
        }),
        // (type, shape)
        Lit::Tuple(parts) => parts.first().is_some_and(has_object),
        _ => false,
    }
}

/// Map a numpy type string such as `<f4` to a dtype and whether it is big-endian.
fn descr_dtype(s: &str, format: &'static str) -> Result<(DType, bool), FormatError> {
    let mut chars = s.chars();
    let order = chars.next();
    let code = chars.as_str();
    let big_endian = match order {
        Some('<') => false,
        Some('>') => true,
        Some('|') => false,
        _ => {
            return Err(FormatError::malformed(
                format,
                format!("descr {s:?} has no byte-order mark"),
            ));
        }
    };
    let dtype = match code {
        "f2" => DType::F16,
        "f4" => DType::F32,
        "f8" => DType::F64,
        "i1" => DType::I8,
        "i2" => DType::I16,
        "i4" => DType::I32,
        "i8" => DType::I64,
        "u1" => DType::U8,
        "u2" => DType::U16,
        "u4" => DType::U32,
        "u8" => DType::U64,
        "b1" => DType::Bool,
        "c8" => DType::C64,
        "c16" => DType::C128,
        c if c.starts_with('V') => {
            return Err(FormatError::unsupported(
                format,
                format!(
                    "opaque void dtype {s:?} (how ml_dtypes bfloat16 and float8 arrays are \
                     saved: the element type is lost, so it cannot be read as numbers)"
                ),
            ));
        }
        _ => {
            return Err(FormatError::unsupported(
                format,
                format!("numpy dtype {s:?}"),
            ));
        }
    };
    if order == Some('|') && dtype.size_bytes() != Some(1) {
        return Err(FormatError::malformed(
            format,
            format!("descr {s:?} gives no byte order for a multi-byte type"),
        ));
    }
    // Single bytes have no order to swap.
    Ok((dtype, big_endian && dtype.swap_width() > 1))
}

/// A Python literal as it can appear in a `.npy` header.
#[derive(Debug, Clone, PartialEq)]
enum Lit {
    Str(String),
    Int(i128),
    Bool(bool),
    None,
    Tuple(Vec<Lit>),
    List(Vec<Lit>),
    Dict(Vec<(Lit, Lit)>),
}

/// A strict recursive-descent parser for the literals numpy's `repr` writes: strings, integers
/// (with Python 2's `L` suffix), `True`/`False`/`None`, tuples, lists and dicts.
struct Parser<'a> {
    s: &'a [u8],
    pos: usize,
    max_depth: usize,
}

impl Parser<'_> {
    fn parse_all(mut self) -> Result<Lit, String> {
        let v = self.value(0)?;
        self.ws();
        if self.pos != self.s.len() {
            return Err(format!(
                "unexpected {:?} at {}",
                self.s[self.pos] as char, self.pos
            ));
        }
        Ok(v)
    }

    fn ws(&mut self) {
        while matches!(self.s.get(self.pos), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.pos += 1;
        }
    }

    fn peek(&mut self) -> Option<u8> {
        self.ws();
        self.s.get(self.pos).copied()
    }

    fn value(&mut self, depth: usize) -> Result<Lit, String> {
        if depth > self.max_depth {
            return Err("nested too deeply".into());
        }
        match self.peek() {
            None => Err("unexpected end".into()),
            Some(q @ (b'\'' | b'"')) => self.string(q),
            Some(b'(') => {
                self.pos += 1;
                let (items, trailing_comma) = self.seq(b')', depth)?;
                // `(x)` is just x in Python; only `(x,)` is a one-element tuple.
                if items.len() == 1 && !trailing_comma {
                    return Ok(items.into_iter().next().unwrap_or(Lit::None));
                }
                Ok(Lit::Tuple(items))
            }
            Some(b'[') => {
                self.pos += 1;
                Ok(Lit::List(self.seq(b']', depth)?.0))
            }
            Some(b'{') => {
                self.pos += 1;
                self.dict(depth)
            }
            Some(c) if c == b'-' || c.is_ascii_digit() => self.int(),
            Some(c) if c.is_ascii_alphabetic() => {
                let start = self.pos;
                while self
                    .s
                    .get(self.pos)
                    .is_some_and(|c| c.is_ascii_alphanumeric())
                {
                    self.pos += 1;
                }
                match &self.s[start..self.pos] {
                    b"True" => Ok(Lit::Bool(true)),
                    b"False" => Ok(Lit::Bool(false)),
                    b"None" => Ok(Lit::None),
                    w => Err(format!("unexpected word {:?}", String::from_utf8_lossy(w))),
                }
            }
            Some(c) => Err(format!("unexpected {:?} at {}", c as char, self.pos)),
        }
    }

    /// Items up to `close`; also says whether the last item was followed by a comma.
    fn seq(&mut self, close: u8, depth: usize) -> Result<(Vec<Lit>, bool), String> {
        let mut items = Vec::new();
        let mut comma = false;
        loop {
            if self.peek() == Some(close) {
                self.pos += 1;
                return Ok((items, comma));
            }
            if !items.is_empty() && !comma {
                return Err(format!(
                    "expected ',' or {:?} at {}",
                    close as char, self.pos
                ));
            }
            items.push(self.value(depth + 1)?);
            comma = self.peek() == Some(b',');
            if comma {
                self.pos += 1;
            }
        }
    }

    fn dict(&mut self, depth: usize) -> Result<Lit, String> {
        let mut items = Vec::new();
        let mut comma = false;
        loop {
            if self.peek() == Some(b'}') {
                self.pos += 1;
                return Ok(Lit::Dict(items));
            }
            if !items.is_empty() && !comma {
                return Err(format!("expected ',' or '}}' at {}", self.pos));
            }
            let k = self.value(depth + 1)?;
            if self.peek() != Some(b':') {
                return Err(format!("expected ':' at {}", self.pos));
            }
            self.pos += 1;
            let v = self.value(depth + 1)?;
            items.push((k, v));
            comma = self.peek() == Some(b',');
            if comma {
                self.pos += 1;
            }
        }
    }

    fn string(&mut self, quote: u8) -> Result<Lit, String> {
        self.pos += 1;
        let mut out = Vec::new();
        loop {
            match self.s.get(self.pos) {
                None | Some(b'\n') => return Err("unterminated string".into()),
                Some(&c) if c == quote => {
                    self.pos += 1;
                    break;
                }
                Some(b'\\') => {
                    let e = self.s.get(self.pos + 1).copied();
                    match e {
                        Some(c @ (b'\\' | b'\'' | b'"')) => out.push(c),
                        _ => return Err(format!("unsupported escape at {}", self.pos)),
                    }
                    self.pos += 2;
                }
                Some(&c) => {
                    out.push(c);
                    self.pos += 1;
                }
            }
        }
        // Version 1 and 2 headers are latin-1, version 3 UTF-8; numpy only ever writes ASCII
        // there, so anything else is kept lossily for the error message.
        Ok(Lit::Str(String::from_utf8_lossy(&out).into_owned()))
    }

    fn int(&mut self) -> Result<Lit, String> {
        let start = self.pos;
        if self.s.get(self.pos) == Some(&b'-') {
            self.pos += 1;
        }
        let digits = self.pos;
        while self.s.get(self.pos).is_some_and(u8::is_ascii_digit) {
            self.pos += 1;
        }
        if self.pos == digits {
            return Err(format!("expected digits at {}", self.pos));
        }
        let text = std::str::from_utf8(&self.s[start..self.pos]).map_err(|e| e.to_string())?;
        let n = text
            .parse::<i128>()
            .map_err(|_| format!("integer {text} out of range"))?;
        // Python 2 wrote long integers as `3L`.
        if matches!(self.s.get(self.pos), Some(b'L' | b'l')) {
            self.pos += 1;
        }
        Ok(Lit::Int(n))
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    /// A `.npy` file with the given header text (padded as numpy pads it) and data.
    fn npy_bytes(header: &str, data: &[u8]) -> Vec<u8> {
        let mut h = header.to_owned();
        while !(10 + h.len() + 1).is_multiple_of(64) {
            h.push(' ');
        }
        h.push('\n');
        let mut out = MAGIC.to_vec();
        out.extend([1, 0]);
        out.extend((h.len() as u16).to_le_bytes());
        out.extend(h.as_bytes());
        out.extend(data);
        out
    }

    fn header(text: &str, data_len: usize) -> Result<NpyHeader, FormatError> {
        let b = npy_bytes(text, &vec![0; data_len]);
        let h = parse_header(&b, &Limits::strict(), "npy")?;
        check_data_len(&h, (b.len() - h.data_offset) as u64, "npy")?;
        Ok(h)
    }

    fn err(text: &str, data_len: usize) -> String {
        match header(text, data_len) {
            Ok(h) => panic!("accepted {text}: {h:?}"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn reads_headers_as_numpy_writes_them() {
        let h = header(
            "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }",
            24,
        )
        .expect("header");
        assert_eq!(h.dtype, DType::F32);
        assert_eq!(h.shape, vec![2, 3]);
        assert_eq!(h.data_offset % 64, 0);
        assert!(!h.fortran_order && !h.big_endian);
        // Key order, quotes, no trailing comma, Python 2 longs, a scalar and a 1-tuple.
        let h = header(
            "{\"shape\": (3L, 2L), \"fortran_order\": True, \"descr\": '>i2'}",
            12,
        )
        .expect("header");
        assert_eq!(
            (h.dtype, h.shape, h.fortran_order, h.big_endian),
            (DType::I16, vec![3, 2], true, true)
        );
        assert!(
            header("{'descr': '|b1', 'fortran_order': False, 'shape': ()}", 1)
                .expect("scalar")
                .shape
                .is_empty()
        );
        assert_eq!(
            header(
                "{'descr': '<c16', 'fortran_order': False, 'shape': (1,)}",
                16
            )
            .expect("c16")
            .dtype,
            DType::C128
        );
        assert_eq!(
            header(
                "{'descr': '<f8', 'fortran_order': False, 'shape': (0, 5)}",
                0
            )
            .expect("empty")
            .shape,
            vec![0, 5]
        );
    }

    #[test]
    fn the_header_dict_is_checked_strictly() {
        for (text, why) in [
            ("{'descr': '<f4', 'shape': (2,)}", "exactly the keys"),
            (
                "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), 'x': 1}",
                "unexpected header key",
            ),
            (
                "{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (2,)}",
                "duplicate header key",
            ),
            (
                "{'descr': '<f4', 'fortran_order': False, 'shape': [2]}",
                "not a tuple",
            ),
            (
                "{'descr': '<f4', 'fortran_order': False, 'shape': (2)}",
                "not a tuple",
            ),
            (
                "{'descr': '<f4', 'fortran_order': False, 'shape': (-2,)}",
                "negative",
            ),
            (
                "{'descr': '<f4', 'fortran_order': 0, 'shape': (2,)}",
                "not a bool",
            ),
            (
                "{'descr': '<f4', 'fortran_order': False, 'shape': (2.0,)}",
                "expected ','",
            ),
            ("['descr', '<f4']", "not a dict"),
            (
                "{'descr': '<f4', 'fortran_order': False, 'shape': (2,)} x",
                "unexpected",
            ),
            ("{'descr': '<f4, 'fortran_order': False}", "header"),
            (
                "{'descr': 'f4', 'fortran_order': False, 'shape': (2,)}",
                "byte-order",
            ),
            (
                "{'descr': '|f4', 'fortran_order': False, 'shape': (2,)}",
                "byte order",
            ),
            (
                "{'descr': __import__('os'), 'fortran_order': False}",
                "unexpected",
            ),
            (
                "{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999999999999999999999999,)}",
                "out of range",
            ),
        ] {
            let e = err(text, 8);
            assert!(e.contains(why), "{text}: {e}");
        }
    }

    #[test]
    fn deep_nesting_is_refused() {
        let text = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
        assert!(err(&text, 0).contains("nested too deeply"));
    }

    #[test]
    fn unreadable_dtypes_are_refused_with_reasons() {
        let h = |d: &str| format!("{{'descr': {d}, 'fortran_order': False, 'shape': (2,)}}");
        assert!(err(&h("'|O'"), 16).contains("pickled"));
        assert!(err(&h("'|O8'"), 16).contains("pickled"));
        assert!(err(&h("[('w', '<f4'), ('o', '|O')]"), 24).contains("pickled"));
        assert!(err(&h("[('w', '<f4'), ('v', '<i2')]"), 12).contains("structured"));
        assert!(err(&h("[('O', '<f4'), ('Obj', '<i2', (2,))]"), 20).contains("structured"));
        assert!(
            err(
                &h("[(('title', 'n'), '<f4', (2,)), ('x', [('y', '|O')])]"),
                32
            )
            .contains("pickled")
        );
        assert!(err(&h("('|O', (2,))"), 32).contains("pickled"));
        assert!(err(&h("'<V2'"), 4).contains("void"));
        assert!(err(&h("'<U3'"), 24).contains("<U3"));
        assert!(err(&h("'<M8[ns]'"), 16).contains("numpy dtype"));
    }

    #[test]
    fn data_length_must_match_exactly() {
        let text = "{'descr': '<i4', 'fortran_order': False, 'shape': (2, 2)}";
        assert!(header(text, 16).is_ok());
        assert!(err(text, 15).contains("needs 16 data bytes, found 15"));
        assert!(err(text, 17).contains("found 17"));
        let text = "{'descr': '<i8', 'fortran_order': False, 'shape': (4294967296, 4294967296)}";
        assert!(header(text, 0).is_err());
    }

    #[test]
    fn framing_is_checked() {
        let good = npy_bytes(
            "{'descr': '<f4', 'fortran_order': False, 'shape': (1,)}",
            &[0; 4],
        );
        for n in 0..good.len() {
            assert!(
                parse_npy(&good[..n], &Limits::strict()).is_err(),
                "prefix {n}"
            );
        }
        let mut v4 = good.clone();
        v4[6] = 4;
        assert!(matches!(
            parse_npy(&v4, &Limits::strict()),
            Err(FormatError::Unsupported { .. })
        ));
        let mut long = good.clone();
        long[8..10].copy_from_slice(&u16::MAX.to_le_bytes());
        assert!(parse_npy(&long, &Limits::strict()).is_err());
        let tight = Limits {
            max_header_bytes: 10,
            ..Limits::strict()
        };
        assert!(matches!(
            parse_npy(&good, &tight),
            Err(FormatError::Limit { .. })
        ));
        // Version 2: a 32-bit header length.
        let mut v2 = MAGIC.to_vec();
        v2.extend([2, 0]);
        v2.extend(u32::MAX.to_le_bytes());
        assert!(parse_npy(&v2, &Limits::default()).is_err());
    }

    #[test]
    fn fortran_order_gives_column_major_strides() {
        let b = npy_bytes(
            "{'descr': '<i2', 'fortran_order': True, 'shape': (2, 3, 4)}",
            &[0; 48],
        );
        let p = parse_npy(&b, &Limits::strict()).expect("parse");
        let t = &p.tensors[0];
        assert_eq!(t.name, NPY_TENSOR_NAME);
        assert_eq!(t.source.layout, Layout::Strided(vec![1, 2, 6]));
        assert_eq!(t.source.offset, b.len() as u64 - 48);
        assert_eq!(t.source.offset % 64, 0);
        // One dimension: Fortran and C order are the same bytes.
        let b = npy_bytes(
            "{'descr': '<i2', 'fortran_order': True, 'shape': (3,)}",
            &[0; 6],
        );
        let p = parse_npy(&b, &Limits::strict()).expect("parse");
        assert_eq!(p.tensors[0].source.layout, Layout::Dense);
    }

    fn zip_of(members: &[(&str, &[u8], zip::CompressionMethod)]) -> Vec<u8> {
        let mut w = zip::ZipWriter::new(Cursor::new(Vec::new()));
        for (name, data, method) in members {
            let opts = zip::write::SimpleFileOptions::default().compression_method(*method);
            w.start_file(*name, opts).expect("start");
            w.write_all(data).expect("write");
        }
        w.finish().expect("finish").into_inner()
    }

    #[test]
    fn npz_members_are_placed_or_inflated() {
        let data: Vec<u8> = (0..6u8).collect();
        let a = npy_bytes(
            "{'descr': '|u1', 'fortran_order': False, 'shape': (2, 3)}",
            &data,
        );
        let z = zip_of(&[
            ("x.npy", &a, zip::CompressionMethod::Stored),
            ("dir/y.npy", &a, zip::CompressionMethod::Deflated),
        ]);
        let p = parse_npz(&z, &Limits::strict()).expect("parse");
        assert_eq!(p.tensors[0].name, "x");
        assert_eq!(p.tensors[1].name, "dir/y");
        let x = &p.tensors[0].source;
        assert!(matches!(x.base, Base::File(0)));
        let at = x.offset as usize;
        assert_eq!(&z[at..at + 6], &data[..]);
        match &p.tensors[1].source.base {
            Base::Owned(b) => {
                let at = p.tensors[1].source.offset as usize;
                assert_eq!(&b[at..at + 6], &data[..]);
            }
            Base::File(_) => panic!("deflated member must be inflated"),
        }
    }

    #[test]
    fn npz_refuses_strangers_and_bombs() {
        let a = npy_bytes(
            "{'descr': '<f4', 'fortran_order': False, 'shape': (1,)}",
            &[0; 4],
        );
        let z = zip_of(&[("notes.txt", b"hi", zip::CompressionMethod::Stored)]);
        assert!(parse_npz(&z, &Limits::strict()).is_err());
        let z = zip_of(&[("bad.npy", b"not numpy", zip::CompressionMethod::Stored)]);
        let e = parse_npz(&z, &Limits::strict()).expect_err("bad member");
        assert!(e.to_string().contains("\"bad.npy\""), "{e}");
        let many: Vec<(String, &[u8], zip::CompressionMethod)> = (0..5)
            .map(|i| (format!("a{i}.npy"), &a[..], zip::CompressionMethod::Stored))
            .collect();
        let refs: Vec<_> = many.iter().map(|(n, d, m)| (n.as_str(), *d, *m)).collect();
        let z = zip_of(&refs);
        let tight = Limits {
            max_zip_entries: 4,
            ..Limits::strict()
        };
        assert!(matches!(
            parse_npz(&z, &tight),
            Err(FormatError::Limit { .. })
        ));
        // 32 MiB of zeros deflate to a few tens of KiB.
        let big = npy_bytes(
            "{'descr': '<f4', 'fortran_order': False, 'shape': (8388608,)}",
            &vec![0; 32 << 20],
        );
        let z = zip_of(&[("bomb.npy", &big, zip::CompressionMethod::Deflated)]);
        assert!(z.len() < 200_000);
        assert!(matches!(
            parse_npz(&z, &Limits::strict()),
            Err(FormatError::Limit { .. })
        ));
        // The same bomb with its declared sizes rewritten to look small must still be refused.
        let mut lying = z.clone();
        let declared = (big.len() as u32).to_le_bytes();
        let mut patched = 0;
        for i in 0..lying.len() - 4 {
            if lying[i..i + 4] == declared {
                lying[i..i + 4].copy_from_slice(&1000u32.to_le_bytes());
                patched += 1;
            }
        }
        assert!(patched >= 1);
        // (The zip crate notices the lie itself; the byte count is a second line of defence.)
        parse_npz(&lying, &Limits::strict()).expect_err("lying bomb");
    }
}
