//! What the formats' fuzz targets run on their input (feature `fuzzing`): a reader under strict
//! limits, then every tensor of an accepted checkpoint read back. Any input must give a checkpoint
//! or an error, never a panic.

use weighhouse_tensor::Limits;

use crate::Checkpoint;
use crate::error::FormatError;
use crate::parsed::Parsed;

/// One reader's parse function.
pub type Parse = fn(&[u8], &Limits) -> Result<Parsed, FormatError>;

/// Read `data` with `parse` (or by content, with `None`) under [`Limits::strict`], and every
/// tensor of what it accepts.
pub fn read_all(data: &[u8], parse: Option<Parse>) {
    let limits = Limits::strict();
    let ck = match parse {
        Some(parse) => Checkpoint::from_bytes_with("fuzz", data.to_vec(), &limits, parse),
        None => Checkpoint::from_bytes("fuzz", data.to_vec(), &limits),
    };
    if let Ok(ck) = ck {
        for t in &ck.tensors {
            let _ = ck.tensor_bytes(t);
        }
    }
}
