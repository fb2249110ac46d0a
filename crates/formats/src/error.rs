//! Errors of the format readers: [`FormatError`] says what is wrong with some bytes, [`Error`] adds
//! the file it was found in.

use std::path::PathBuf;

use weighhouse_tensor::ShapeError;

/// What is wrong with a checkpoint's bytes.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FormatError {
    /// The bytes do not follow the format.
    #[error("malformed {format}: {msg}")]
    Malformed {
        /// The format being read.
        format: &'static str,
        /// What is wrong, and where.
        msg: String,
    },
    /// The input asks for more than a [`weighhouse_tensor::Limits`] bound allows.
    #[error("{what} exceeds the limit of {limit}")]
    Limit {
        /// The quantity that is too large (with its value where known).
        what: String,
        /// The bound.
        limit: u64,
    },
    /// A valid file that uses a feature this reader does not support.
    #[error("unsupported {format}: {what}")]
    Unsupported {
        /// The format being read.
        format: &'static str,
        /// The feature.
        what: String,
    },
    /// A pickle refers to a global outside the weights-only allowlist. Nothing was imported or called.
    #[error("pickle refers to the global {module}.{name}, which is not allowed in a weights file")]
    ForbiddenGlobal {
        /// The module path.
        module: String,
        /// The attribute name.
        name: String,
    },
    /// Two tensors share one name.
    #[error("duplicate tensor name {0:?}")]
    DuplicateTensor(String),
    /// A tensor's shape cannot be stored.
    #[error("tensor {tensor:?}: {source}")]
    Shape {
        /// The tensor.
        tensor: String,
        /// Why.
        #[source]
        source: ShapeError,
    },
    /// A tensor's data lies (partly) outside its file or buffer.
    #[error("tensor {tensor:?}: data {start}..{end} lies outside the {available} bytes available")]
    OutOfBounds {
        /// The tensor.
        tensor: String,
        /// First byte.
        start: u64,
        /// One past the last byte.
        end: u64,
        /// Bytes available.
        available: u64,
    },
    /// The bytes are not a checkpoint in any format this library reads.
    #[error("not a recognised checkpoint format")]
    UnknownFormat,
    /// Reading a file failed.
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

impl FormatError {
    /// A [`FormatError::Malformed`] for `format`.
    pub fn malformed(format: &'static str, msg: impl Into<String>) -> Self {
        FormatError::Malformed {
            format,
            msg: msg.into(),
        }
    }

    /// A [`FormatError::Unsupported`] for `format`.
    pub fn unsupported(format: &'static str, what: impl Into<String>) -> Self {
        FormatError::Unsupported {
            format,
            what: what.into(),
        }
    }

    /// A [`FormatError::Limit`].
    pub fn limit(what: impl Into<String>, limit: u64) -> Self {
        FormatError::Limit {
            what: what.into(),
            limit,
        }
    }
}

/// A [`FormatError`] together with the file it concerns.
#[derive(Debug, thiserror::Error)]
#[error("{}: {source}", path.display())]
pub struct Error {
    /// The file (or folder) being read.
    pub path: PathBuf,
    /// What went wrong.
    #[source]
    pub source: FormatError,
}

impl Error {
    /// Attach `path` to `source`.
    pub fn new(path: impl Into<PathBuf>, source: impl Into<FormatError>) -> Self {
        Self {
            path: path.into(),
            source: source.into(),
        }
    }

    /// True when the error lies in the input (bad or unsupported file), not in the machine (I/O).
    pub fn is_input_error(&self) -> bool {
        match &self.source {
            // A path that does not exist or cannot be read, or a file cut short while being
            // read, is the user's input; a failing disk is not.
            FormatError::Io(e) => matches!(
                e.kind(),
                std::io::ErrorKind::NotFound
                    | std::io::ErrorKind::PermissionDenied
                    | std::io::ErrorKind::IsADirectory
                    | std::io::ErrorKind::InvalidInput
                    | std::io::ErrorKind::InvalidData
                    | std::io::ErrorKind::UnexpectedEof
            ),
            _ => true,
        }
    }
}

/// Extension to attach a path to a `Result<_, FormatError>`.
pub trait ResultExt<T> {
    /// Attach `path` to the error.
    fn at(self, path: &std::path::Path) -> Result<T, Error>;
}

impl<T, E: Into<FormatError>> ResultExt<T> for Result<T, E> {
    fn at(self, path: &std::path::Path) -> Result<T, Error> {
        self.map_err(|e| Error::new(path, e))
    }
}
