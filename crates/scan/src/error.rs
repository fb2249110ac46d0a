//! Why part of a file could not be read: one error type per reader of the scanner.
//!
//! None of these stops a scan. The reader that meets one returns it, the caller records its text
//! as the reason the file is incomplete (`Report::incomplete`), and every finding made before it
//! stays in the report. The texts are the ones reports show.

use weighhouse_formats::FormatError;
use weighhouse_formats::proto::WireError;

/// Why the symbolic pickle machine stopped before `STOP`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PickleError {
    /// The stream ends before an opcode's argument does.
    #[error("truncated pickle")]
    Truncated,
    /// A line argument without its newline.
    #[error("truncated line")]
    TruncatedLine,
    /// The stream ends without `STOP`.
    #[error("the pickle ends without STOP")]
    NoStop,
    /// A byte that is no opcode.
    #[error("unknown opcode {} at {offset}", op_name(*.opcode))]
    UnknownOpcode {
        /// The byte.
        opcode: u8,
        /// Where it is.
        offset: usize,
    },
    /// More opcodes than the budget allows.
    #[error("more than {0} opcodes")]
    TooManyOpcodes(u64),
    /// More live values than the budget allows.
    #[error("more than {0} values")]
    TooManyValues(usize),
    /// More memo entries than the budget allows.
    #[error("memo too large")]
    MemoTooLarge,
    /// More open marks than the machine keeps.
    #[error("too many MARKs")]
    TooManyMarks,
    /// An opcode pops below the last mark.
    #[error("stack underflow")]
    StackUnderflow,
    /// An opcode needs a mark and there is none.
    #[error("no MARK on the stack")]
    NoMark,
    /// A `FRAME` length that overflows.
    #[error("frame length overflows")]
    FrameOverflow,
    /// A `FRAME` longer than the data.
    #[error("frame runs past the end of the data")]
    FramePastEnd,
    /// An 8-byte length that does not fit in memory.
    #[error("length overflows")]
    LengthOverflow,
    /// A `STRING` argument without quotes.
    #[error("STRING argument is not quoted")]
    UnquotedString,
    /// `DICT` or `SETITEMS` with an odd number of items (the opcode's name).
    #[error("{0} with an odd number of items")]
    OddItems(&'static str),
    /// A `GET` or `PUT` line that is not a number (the opcode's name).
    #[error("bad {0} index")]
    BadMemoIndex(&'static str),
    /// A memo read of an index never written.
    #[error("memo value not found at index {0}")]
    MemoMissing(u64),
    /// `STACK_GLOBAL` on operands that are not strings.
    #[error("STACK_GLOBAL requires str")]
    StackGlobalOperands,
    /// `OBJ` with nothing after its mark.
    #[error("OBJ without a class")]
    ObjWithoutClass,
    /// A joblib array whose shape or dtype could not be read.
    #[error("unreadable joblib array")]
    UnreadableJoblibArray,
    /// A joblib array whose byte size overflows.
    #[error("joblib array size overflows")]
    JoblibArrayOverflow,
    /// A joblib array larger than memory.
    #[error("joblib array too large")]
    JoblibArrayTooLarge,
    /// An inline joblib object array that is not a complete pickle.
    #[error("unreadable joblib object array")]
    UnreadableJoblibObjectArray,
    /// Not an error: a joblib object array (a pickle of its own) starts at `at`. The machine
    /// scans it and goes on.
    #[error("joblib object array at {at}")]
    JoblibObjectArray {
        /// Where the inner pickle starts.
        at: usize,
    },
}

/// An opcode byte as reports show it: the character when printable, else hex.
fn op_name(op: u8) -> String {
    if op.is_ascii_graphic() {
        format!("'{}'", op as char)
    } else {
        format!("0x{op:02x}")
    }
}

/// Why the storages after a torch legacy pickle could not be skipped.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LegacyStorageError {
    /// A storage key that no persistent id typed.
    #[error("storage {0:?} has no type")]
    Untyped(String),
    /// A storage type whose element size is unknown.
    #[error("unknown storage type {0}")]
    UnknownType(String),
    /// The data ends inside a storage.
    #[error("truncated storage")]
    Truncated,
    /// A storage's byte size overflows.
    #[error("storage size overflows")]
    SizeOverflow,
    /// A storage larger than memory.
    #[error("storage too large")]
    TooLarge,
}

/// Why a zip member could not be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ZipError {
    /// A member whose size does not fit in memory.
    #[error("member too large")]
    TooLarge,
    /// A member whose data runs past the archive.
    #[error("member runs past the end of the archive")]
    PastEnd,
    /// Deflate data that does not inflate.
    #[error("bad deflate data: {0}")]
    Deflate(std::io::Error),
    /// A member that inflates beyond the limit.
    #[error("member inflates beyond the limit")]
    InflateLimit,
    /// A compression method other than stored and deflate.
    #[error("unsupported compression method {0}")]
    Method(u16),
}

/// Why the root attributes of an HDF5 file could not be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Hdf5Error {
    /// The file, its root group or its attribute list.
    #[error("{0}")]
    File(#[from] hdf5_reader::error::Error),
    /// One attribute's value.
    #[error("attribute {name:?}: {source}")]
    Attribute {
        /// The attribute.
        name: String,
        /// Why.
        source: hdf5_reader::error::Error,
    },
    /// An attribute string longer than the scanner decodes.
    #[error("attribute {name:?} is longer than {max} bytes")]
    TooLong {
        /// The attribute.
        name: String,
        /// The bound.
        max: usize,
    },
}

/// Why a GGUF file's key-values or tensor infos could not be walked.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum GgufError {
    /// What the shared GGUF reader refused (truncation, magic, version).
    #[error("{}", reader_message(.0))]
    Read(#[from] FormatError),
    /// More key-values than the limit or than the file can hold.
    #[error("key-value count {0} is too large for the file")]
    KvCount(u64),
    /// More tensors than the limit.
    #[error("tensor count {0} is over the limit")]
    TensorLimit(u64),
    /// More tensor infos than the rest of the file can hold.
    #[error("tensor count {0} is too large for the file")]
    TensorCount(u64),
    /// A key-value (its key as read and its offset).
    #[error("key {key:?} at offset {offset}: {source}")]
    Key {
        /// The key.
        key: String,
        /// Where the key-value starts.
        offset: usize,
        /// Why.
        source: Box<GgufError>,
    },
    /// A tensor info's name (its index).
    #[error("tensor {index}: {source}")]
    Tensor {
        /// The tensor's index.
        index: u64,
        /// Why.
        source: Box<GgufError>,
    },
    /// A tensor with more dimensions than any ggml tensor has.
    #[error("tensor {name:?} has {n_dims} dimensions")]
    TooManyDims {
        /// The tensor.
        name: String,
        /// Its dimension count.
        n_dims: u32,
    },
    /// Arrays of arrays beyond the depth followed.
    #[error("arrays nested too deeply")]
    ArraysTooDeep,
    /// An array of fixed-size elements whose byte size overflows.
    #[error("array size overflows")]
    ArraySizeOverflow,
    /// An array with more elements than the rest of the file can hold.
    #[error("array of {0} elements runs past the end")]
    ArrayTooLong(u64),
    /// A value type id GGUF does not define.
    #[error("unknown value type {0}")]
    UnknownValueType(u32),
}

/// The shared reader's message without its `malformed gguf:` prefix (the report already says
/// GGUF).
fn reader_message(e: &FormatError) -> String {
    match e {
        FormatError::Malformed { msg, .. } => msg.clone(),
        e => e.to_string(),
    }
}

/// Why an ONNX model could not be walked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum OnnxError {
    /// Malformed protobuf.
    #[error("{0}")]
    Wire(#[from] WireError),
    /// Subgraphs nested deeper than the scanner follows.
    #[error("graphs nested deeper than {0}")]
    GraphsTooDeep(usize),
}

/// Why a SavedModel, GraphDef or Keras metadata protobuf could not be walked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SavedModelError {
    /// Malformed protobuf.
    #[error("{0}")]
    Wire(#[from] WireError),
    /// A field that must be length-delimited is not (the field's name).
    #[error("{0} has the wrong wire type")]
    WrongWireType(&'static str),
    /// Attribute values nested deeper than the scanner follows.
    #[error("attribute values nested deeper than {0}")]
    AttrsTooDeep(usize),
    /// A top-level field that a SavedModel does not have.
    #[error("unexpected field {0} in a SavedModel")]
    UnexpectedField(u32),
    /// No SavedModel field at all.
    #[error("no SavedModel fields")]
    Empty,
}
