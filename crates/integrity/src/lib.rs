//! Integrity and authenticity of model files.
//!
//! * [`manifest`]: the per-file SHA-256 manifest of a model and its root digest, computed as
//!   OpenSSF Model Signing (`model_signing` 1.1.1) does.
//! * [`oms`]: OMS signature bundles (Sigstore bundle v0.3 with a DSSE envelope around an in-toto
//!   statement), signed with an EC key or a certificate, and their verification.
//! * [`fingerprint`]: a digest of the weights themselves, independent of file format, sharding
//!   and metadata.

pub mod fingerprint;
pub mod keys;
pub mod manifest;
mod mapped;
pub mod oms;
mod par;

#[cfg(feature = "fuzzing")]
mod fuzz;
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub use fuzz::exercise;

use std::path::{Path, PathBuf};

/// What can go wrong.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Reading a file failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// A symlink where symlinks are not allowed.
    #[error("{0} is a symbolic link; pass --allow-symlinks to hash the files links point to")]
    Symlink(PathBuf),
    /// A fifo, socket or device.
    #[error("{0} is not a regular file or folder")]
    Special(PathBuf),
    /// A file name that is not UTF-8.
    #[error("{0:?}: file names must be UTF-8")]
    NotUtf8(PathBuf),
    /// A key that cannot be used.
    #[error("key: {0}")]
    Key(String),
    /// A certificate that cannot be used.
    #[error("certificate: {0}")]
    Certificate(String),
    /// A malformed signature bundle.
    #[error("malformed signature bundle: {0}")]
    Bundle(String),
}

impl Error {
    pub(crate) fn io(path: &Path, source: std::io::Error) -> Self {
        Self::Io {
            path: path.to_path_buf(),
            source,
        }
    }
}
