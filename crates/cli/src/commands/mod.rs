//! One module per command: `run(args, printer) -> Result<ExitCode>`.

pub mod access;
pub mod admin;
pub mod card;
pub mod card_new;
pub mod convert;
pub mod fingerprint;
pub mod inspect;
pub mod license;
pub mod openness;
pub mod scan;
pub mod serve;
pub mod sign;
