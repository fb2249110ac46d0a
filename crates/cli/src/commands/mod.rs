//! One module per command: `run(args, printer) -> Result<ExitCode>`.

pub mod convert;
pub mod inspect;
