//! One module per command: `run(args, printer) -> Result<ExitCode>`.

pub mod admin;
pub mod convert;
pub mod inspect;
pub mod serve;
