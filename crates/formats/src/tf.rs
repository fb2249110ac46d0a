//! TensorFlow TensorBundle checkpoints (`<prefix>.index` + `<prefix>.data-NNNNN-of-MMMMM`).

use weighhouse_tensor::Limits;

use crate::checkpoint::{Files, Parsed};
use crate::error::{Error, FormatError};

/// Open the bundle whose `.index` file is `files[id]`, opening its data shards beside it.
pub(crate) fn open(files: &mut Files, id: usize, _limits: &Limits) -> Result<Parsed, Error> {
    Err(Error::new(
        files.path(id),
        FormatError::unsupported("tensorflow", "not implemented yet"),
    ))
}

/// Parse a bundle `.index` table held in `bytes`. Tensor data refers to [`crate::Base::File`]
/// `shard_id` (the data shards are not opened).
pub fn parse_index(_bytes: &[u8], _limits: &Limits) -> Result<Parsed, FormatError> {
    Err(FormatError::unsupported(
        "tensorflow",
        "not implemented yet",
    ))
}
