//! `wh card`.

use std::process::ExitCode;

use anyhow::Result;

use crate::printer::Printer;

/// Run `wh card`.
pub fn run(_cmd: impl std::fmt::Debug, _printer: &Printer) -> Result<ExitCode> {
    anyhow::bail!("not available yet")
}
