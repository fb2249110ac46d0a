//! One module per command: `run(args, printer) -> Result<ExitCode>`.

pub mod admin;
pub mod convert;
pub mod fingerprint;
pub mod inspect;
pub mod scan;
pub mod serve;
pub mod sign;
